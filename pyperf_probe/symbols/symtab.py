"""Symbol tables as perf loads them (tools/perf/util/symbol-elf.c ``dso__load_sym``, symbol.c ``dso__load``).

Which table: perf 6.1 takes the file that has a ``.symtab`` first in debuginfo.py's order ("syms_ss"), or
else the first with a ``.dynsym`` ("runtime_ss"), and loads that file's ``.symtab`` and then its ``.dynsym``
(a name in both is there twice, as ``perf probe -F`` shows). A separate debug file's ``.dynsym`` is
SHT_NOBITS and does not count, so for glibc only the debug file's versioned ``.symtab`` names
(``aio_cancel@@GLIBC_2.34``) are listed. It
keeps FUNC, GNU_IFUNC and OBJECT symbols with a name and a section, plus NOTYPE labels of default or
protected visibility in text and data sections (not annobin's hidden ``.annobin_*`` markers), and adds one
``NAME@plt`` symbol per ``.rela.plt`` entry (``dso__synthesize_plt_symbols``).

Then ``symbols__fixup_end``: a zero-size symbol extends to the next start (the last one to the next page),
and, unless aliases are allowed (``perf probe`` allows them), ``symbols__fixup_duplicate`` keeps one
symbol per address by ``choose_best_symbol``.

Symbols are read in bulk, a column at a time (Elf64_Sym / Elf32_Sym; see "reading" below), and cached per
build-id.
"""
from __future__ import annotations

import sys
from itertools import accumulate, compress, repeat
from struct import error as _StructError, pack as _pack

try:            # the C half of the operator module: a builtin, so free to import (operator.py is not)
    from _operator import add, eq, itemgetter, ne
except ImportError:         # another Python implementation
    from operator import add, eq, itemgetter, ne

from pyperf_probe.errors import SymbolError
from pyperf_probe.perfdata.speedups import large_blocks_unmapped
from pyperf_probe.records import Record, field
from pyperf_probe.symbols.elf import SHF_ALLOC, SHT_DYNSYM, SHT_NOBITS, SHT_SYMTAB, ElfImage, MappedSection, open_elf

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: importing collections.abc costs start-up time
    from collections.abc import Iterator

STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_GNU_IFUNC = 0, 1, 2, 10
STV_INTERNAL, STV_HIDDEN = 1, 2          # ELF64_ST_VISIBILITY(st_other) = st_other & 3
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
SHN_LORESERVE, SHN_ABS = 0xFF00, 0xFFF1
PAGE_SIZE = 4096

# Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64
ELF64_SYM = "IBBHQQ"
# Elf32_Sym: st_name u32, st_value u32, st_size u32, st_info u8, st_other u8, st_shndx u16
ELF32_SYM = "IIIBBH"
# (offset, width) of the fields read in bulk, per ELF class (True: 64-bit): gABI "Symbol Table"
SYM_LAYOUT = {
    True: {"entsize": 24, "st_name": (0, 4), "st_info": (4, 1), "st_other": (5, 1), "st_shndx": (6, 2),
           "st_value": (8, 8), "st_size": (16, 8)},
    False: {"entsize": 16, "st_name": (0, 4), "st_value": (4, 4), "st_size": (8, 4), "st_info": (12, 1),
            "st_other": (13, 1), "st_shndx": (14, 2)},
}


class Symbol(Record):
    """One symbol as perf keeps it. ``end`` is after ``symbols__fixup_end`` (``svma + size``, or the next
    symbol's start for a zero-size symbol).

    A light immutable record (records.py) rather than a frozen dataclass: report builds one per symbol of
    every dso it meets, and ``pyperf probe -F`` cannot pay for dataclasses' or typing's import at start-up
    (measured, bench/probe_funcs). Fields read through C accessors, as a namedtuple's."""

    __slots__ = ()
    _fields = ("name", "svma", "size", "type", "binding", "end")

    def __new__(cls, name: str, svma: int, size: int, type: int, binding: int, end: int = 0):
        return tuple.__new__(cls, (name, svma, size, type, binding, end))

    name = field(0, "the name, demangled as perf shows it")
    svma = field(1, "st_value")
    size = field(2, "st_size")
    type = field(3, "STT_* (st_info & 0xf)")
    binding = field(4, "STB_* (st_info >> 4)")
    end = field(5, "the end svma after symbols__fixup_end")

    @property
    def is_function(self) -> bool:
        return self[3] in (STT_FUNC, STT_GNU_IFUNC)

    @property
    def is_ifunc(self) -> bool:
        return self[3] == STT_GNU_IFUNC


# ---------------------------------------------------------------------------------------------- reading
#
# A symbol table is read column by column: each field of every entry at once, as a strided slice of the
# section's bytes (one byte of a field) or a strided memoryview cast (a whole integer field), and perf's
# filter is computed on whole columns with bytes.translate and big-integer AND/OR, one byte per symbol
# (0 or 1), except for its rare cases (NOTYPE labels, unnamed entries), read where they occur. Only the
# kept entries are then turned into Python objects. libc's debug .symtab (10,000 entries) is read this way
# in about a tenth of the time a per-entry struct loop takes.


def _table(pred) -> bytes:
    """A bytes.translate table: byte value b -> 1 if pred(b) else 0 (``pred`` returns a bool)."""
    return bytes(map(pred, range(256)))


# Tables over st_info bytes are a 16-byte pattern (the type, low nibble) repeated 16 times (the binding).
_KEEP_TYPE = bytes(t in (STT_FUNC, STT_GNU_IFUNC, STT_OBJECT) for t in range(16)) * 16
_NOTYPE = bytes(t == STT_NOTYPE for t in range(16)) * 16
_TYPE_OF = bytes(range(16)) * 16
_BINDING_OF = b"".join(bytes([binding]) * 16 for binding in range(16))
_NATIVE = "<" if sys.byteorder == "little" else ">"
_CAST = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _bits(column: bytes, table: bytes) -> int:
    """A column of bytes as a vector of 0/1 bytes (one per symbol) held in one integer."""
    return int.from_bytes(column.translate(table), "little")


def _in_set(raw: bytes, offset: int, endian: str, entsize: int, allowed) -> int:
    """1 for each entry whose 16-bit field at ``offset`` (st_shndx) is in ``allowed``: per high byte, the
    entries with that high byte AND those whose low byte is allowed with it."""
    lo_at, hi_at = (offset, offset + 1) if endian == "<" else (offset + 1, offset)
    lo, hi = raw[lo_at::entsize], raw[hi_at::entsize]
    vec = 0
    for high in sorted({a >> 8 for a in allowed}):
        lows = {a & 0xFF for a in allowed if a >> 8 == high}
        vec |= _bits(hi, _table(high.__eq__)) & _bits(lo, _table(lows.__contains__))
    return vec


def _int_column(raw: bytes, offset: int, width: int, entsize: int, endian: str) -> list[int]:
    """Field ``offset`` of every entry as a list of integers (in the host's byte order, a strided memoryview
    cast and its ``tolist``: a quarter of the time iterating the view takes)."""
    if endian == _NATIVE:
        return memoryview(raw).cast(_CAST[width])[offset // width::entsize // width].tolist()
    order = "little" if endian == "<" else "big"
    return [int.from_bytes(raw[i:i + width], order) for i in range(offset, len(raw), entsize)]


def _kept(image: ElfImage, raw: bytes, layout) -> tuple[bytes, list[int]]:
    """perf's ``elf_sym__filter`` and ``elf_sym__is_label`` on every entry: a name and a defined section;
    FUNC, GNU_IFUNC and OBJECT in a real section (perf's ``elf_getscn`` fails for SHN_ABS & co) whatever
    their visibility, and NOTYPE labels of any size in a text or data section (``elf_sec__filter``: the
    section's name contains "text" or "data") unless their visibility is STV_HIDDEN or STV_INTERNAL
    (``elf_sym__is_label``: annobin's ``.annobin_*`` markers are hidden NOTYPE symbols in .text); the
    section must be SHF_ALLOC (``dso__load_sym`` skips symbols of sections that are not loaded, such as
    glibc's ``.gnu.warning.*``). Returns one byte per entry (1 to keep) and the st_name of the kept
    entries, in table order.

    The type and section tests run on whole columns; the rarer cases are read entry by entry where they
    occur: NOTYPE entries (10 of libc's 10,015) for the label rule, and kept entries without a name (none
    in libc)."""
    entsize, endian = layout["entsize"], image.endian
    info = raw[layout["st_info"][0]::entsize]
    count = len(info)
    shndx_at = layout["st_shndx"][0]
    loaded = {s.index for s in image.sections if s.flags & SHF_ALLOC} - {0}
    typed = _bits(info, _KEEP_TYPE) & _in_set(raw, shndx_at, endian, entsize, loaded)
    keep = bytearray(typed.to_bytes(count, "little"))
    notype = info.translate(_NOTYPE)
    if 1 in notype:
        texts = {s.index for s in image.sections if "text" in s.name or "data" in s.name} & loaded
        other_at = layout["st_other"][0]
        order = "little" if endian == "<" else "big"
        i = notype.find(1)
        while i >= 0:
            at = i * entsize
            if (raw[at + other_at] & 3 not in (STV_HIDDEN, STV_INTERNAL)
                    and int.from_bytes(raw[at + shndx_at:at + shndx_at + 2], order) in texts):
                keep[i] = 1
            i = notype.find(1, i + 1)
    st_name = _int_column(raw, *layout["st_name"], entsize, endian)
    names = list(compress(st_name, keep))
    if 0 in names:
        for i in compress(range(count), keep):
            if not st_name[i]:
                keep[i] = 0
        names = list(filter(None, names))
    return bytes(keep), names


def _names_at(strtab: bytes, offsets) -> list[str]:
    """The NUL-terminated strings at ``offsets`` (a name running past the table ends with it)."""
    if strtab.isascii():
        text = strtab.decode("ascii")
        index = text.index
        try:
            return [text[o:index("\0", o)] for o in offsets]
        except ValueError:          # no NUL after some offset: the careful way below
            pass
    find, out = strtab.find, []
    for o in offsets:
        end = find(b"\0", o)
        out.append(strtab[o:end if end >= 0 else len(strtab)].decode("utf-8", "replace"))
    return out


# The initials SymbolNames.some judges names by: ASCII characters (a name starting with another byte, or
# empty, is always made).
_ASCII_INITIALS = tuple(map(chr, range(1, 0x80)))


def _mentions_mangled(strtab: bytes) -> bool:
    """``b"_Z" in strtab``, searched from the "Z"s (rare in C string tables: memchr skips to them) rather
    than from the "_"s (a third of libc's characters: 2 us instead of 125 us on its .strtab). After 64
    "Z"s not preceded by "_", the plain search takes over for the rest."""
    at = strtab.find(b"Z", 1)
    for _ in range(64):
        if at < 0:
            return False
        if strtab[at - 1] == 0x5F:          # "_"
            return True
        at = strtab.find(b"Z", at + 1)
    return at >= 0 and strtab.find(b"_Z", at - 1) >= 0


def _empty_rest() -> tuple[list, list, list, list]:
    return [], [], [], []


class SymbolNames:
    """The names of the kept entries of one symbol table (or a ready list of names), made when first asked
    for: all of them (:meth:`all`), or only those a filter may accept (:meth:`some`)."""

    def __init__(self, strtab: bytes, offsets: list[int], demangle: bool):
        self._strtab, self._offsets, self._demangle = strtab, offsets, demangle
        self._all: list[str] | None = None
        self._raw: list[str] | None = None  # ready names still to demangle (``ready(names, True)``)
        self._mangled: bool | None = None

    @classmethod
    def ready(cls, names: list[str], demangle: bool = False) -> SymbolNames:
        """Names already made; with ``demangle``, those of them that are mangled are demangled when first
        asked for (``demangled_names``: the PLT's ``NAME@plt`` of a C++ program, which a report whose
        addresses hit none of them never needs, nor the demangler: ~10 ms for cc1's)."""
        made = cls(b"", [], False)
        if demangle and any(name.startswith("_Z") for name in names):
            made._raw, made._demangle, made._mangled = names, True, True
        else:
            made._all = names
        return made

    def __len__(self) -> int:
        if self._all is not None:
            return len(self._all)
        return len(self._raw) if self._raw is not None else len(self._offsets)

    def all(self) -> list[str]:
        if self._all is None:
            self._all = demangled_names(self._raw) if self._raw is not None else self._made(self._offsets)
        return self._all

    def _table(self) -> bytes:
        """The string table as bytes (copied once from an ``elf.MappedSection``): for the paths that make
        many names (``all``, ``some``); ``name`` reads a mapped one in place."""
        if type(self._strtab) is MappedSection:
            self._strtab = self._strtab.tobytes()
        return self._strtab

    def _made(self, offsets) -> list[str]:
        names = _names_at(self._table(), offsets)
        return demangled_names(names) if self._may_be_mangled() else names

    def name(self, index: int) -> str:
        """``all()[index]``, made alone (report's lookups ask for the names of a few symbols of a table)."""
        if self._all is not None:
            return self._all[index]
        if self._raw is not None:
            name = self._raw[index]
            return demangled_names([name])[0] if name.startswith("_Z") else name
        strtab, at = self._strtab, self._offsets[index]
        end = strtab.find(b"\0", at)
        name = strtab[at:end if end >= 0 else len(strtab)].decode("utf-8", "replace")
        if name.startswith("_Z") and self._may_be_mangled():
            name = demangled_names([name])[0]
        return name

    def all_ascii(self, names: list[str]) -> bool:
        """Whether ``names`` (made by this object) are all ASCII: one test of the string table when they
        are its substrings (not demangled), else a test of each."""
        if self._all is None and not self._may_be_mangled():
            return self._table().isascii() or all(map(str.isascii, names))
        return all(map(str.isascii, names))

    def _may_be_mangled(self) -> bool:
        """False when no name needs demangling: not asked to, or no "_Z" anywhere in the string table
        (one search of the table, made once)."""
        if self._mangled is None:
            self._mangled = self._demangle and _mentions_mangled(self._strtab)
        return self._mangled

    def some(self, flt) -> list[str]:
        """The names, less (when that is cheaper) those that ``flt`` rejects by their first character alone
        (``flt.rejected_initials``): ``-F``'s default filter rejects every name starting with '_', half of
        libc's, which are then never made. Mangled C++ names ("_Z...") are not judged by their first
        character: they are shown demangled."""
        if self._all is not None or len(self._offsets) < 2:
            return self.all()
        rejected = {ord(c) for c in flt.rejected_initials(_ASCII_INITIALS)}
        if self._may_be_mangled():
            rejected.discard(ord("_"))
        if not rejected:
            return self.all()
        try:        # the first byte of every name, in one C call
            firsts = bytes(itemgetter(*self._offsets)(self._table()))
        except IndexError:              # a name offset past the table: no shortcut
            return self.all()
        keep = firsts.translate(_table(lambda c: c not in rejected))
        return self._made(list(compress(self._offsets, keep)))


def symbol_names(image: ElfImage, section_name: str, demangle: bool = False,
                 memo: dict | None = None) -> tuple[SymbolNames, object]:
    """(names, rest): the names of the symbols of ``section_name`` (``.symtab``/``.dynsym``) that perf
    keeps, in table order (demangled with ``demangle``; made on demand, :class:`SymbolNames`), and a
    function that returns their other fields when called: (svmas, sizes, types, bindings), one list per
    field (``-F`` never asks for them)."""
    shdr = image.section(section_name)
    if shdr is None or shdr.sh_type == SHT_NOBITS:
        return SymbolNames.ready([]), _empty_rest
    strtab_hdr = image.section_by_index(shdr.link)
    if strtab_hdr is None:
        raise SymbolError(f"{image.path}: {section_name} has no string table")
    layout = SYM_LAYOUT[image.is_64]
    entsize, endian = layout["entsize"], image.endian
    keep_in_c = _c_speedup("symtab_keep")
    if keep_in_c is not None:
        # _kept and the kept entries' columns in one C pass (cc1's 28.9K symbols: the first cold report's
        # ~4 ms of big-integer filters, strided views and int lists -> ~0.3 ms); the code below is its twin.
        # The sections mapped rather than read when large (elf.MappedSection: no fresh page per 4 KiB)
        raw = _buffer(_section_bytes(image, shdr, memo, mapped=True))
        raw = raw[:len(raw) - len(raw) % entsize]
        strtab = _section_bytes(image, strtab_hdr, memo, mapped=True)
        loaded, texts = _section_flags(image)
        _keep, offsets_raw, svmas_raw, sizes_raw, info = keep_in_c(raw, image.is_64, endian == "<", loaded, texts)
        offsets = memoryview(offsets_raw).cast("I")

        def fast_rest():  # (types and bindings as bytes: what the C sort takes)
            return _from_bytes(svmas_raw), _from_bytes(sizes_raw), info.translate(_TYPE_OF), info.translate(_BINDING_OF)
        return SymbolNames(strtab, offsets, demangle), fast_rest
    raw = _section_bytes(image, shdr, memo)
    raw = raw[:len(raw) - len(raw) % entsize]
    strtab = _section_bytes(image, strtab_hdr, memo)
    keep, name_offsets = _kept(image, raw, layout)

    def column(name):
        return list(compress(_int_column(raw, *layout[name], entsize, endian), keep))

    def rest():
        info = bytes(compress(raw[layout["st_info"][0]::entsize], keep))
        return (column("st_value"), column("st_size"), list(info.translate(_TYPE_OF)),
                list(info.translate(_BINDING_OF)))
    # (the kept entries' st_name, u32 values: an array holds cc1's 28.9K in 116 KiB instead of 1 MiB)
    from array import array
    return SymbolNames(strtab, array("I", name_offsets), demangle), rest


def _section_flags(image: ElfImage) -> tuple[bytes, bytes]:
    """(loaded, texts): a byte per section index, 1 for the sections ``_kept`` keeps symbols of (SHF_ALLOC,
    not index 0) and for those of them whose name has "text" or "data" (where NOTYPE labels are kept)."""
    loaded, texts = bytearray(len(image.sections)), bytearray(len(image.sections))
    for i, sec in enumerate(image.sections):
        if i and sec.flags & SHF_ALLOC:
            loaded[i] = 1
            if "text" in sec.name or "data" in sec.name:
                texts[i] = 1
    return bytes(loaded), bytes(texts)


def symbol_columns(image: ElfImage, section_name: str) -> tuple[list, list, list, list, list]:
    """(names, svmas, sizes, types, bindings): the symbols of ``section_name`` (``.symtab``/``.dynsym``)
    that perf keeps, in table order, one list per field (names as in the table: not demangled)."""
    names, rest = symbol_names(image, section_name)
    return (names.all(),) + rest()


def read_elf_symbols(image: ElfImage, section_name: str) -> list[tuple[str, int, int, int, int]]:
    """(name, svma, size, type, binding) of the symbols of ``section_name`` (``.symtab``/``.dynsym``) that
    perf keeps (``elf_sym__filter`` and ``elf_sym__is_label``), in table order."""
    return list(zip(*symbol_columns(image, section_name)))


def _section_bytes(image: ElfImage, shdr, memo: dict | None, mapped: bool = False):
    """``image.section_bytes(shdr)``, read once per ``memo`` (``_load``'s: a binary without .symtab has
    its .dynsym and .dynstr read for its symbols and for its PLT's names, cc1's 2 MB). With ``mapped``,
    ``image.section_buffer(shdr)``: a large section as an ``elf.MappedSection`` (the C accelerator's paths,
    which take its ``view``: ``_buffer``); a memo keeps what was asked first."""
    if memo is None:
        return image.section_buffer(shdr) if mapped else image.section_bytes(shdr)
    key = (image.path, shdr.file_offset, shdr.size)
    got = memo.get(key)
    if got is None:
        got = memo[key] = image.section_buffer(shdr) if mapped else image.section_bytes(shdr)
    return got


def _buffer(section):
    """A section's bytes for the C accelerator (bytes, or a MappedSection's view)."""
    return section.view if type(section) is MappedSection else section


def plt_symbols(image: ElfImage, memo: dict | None = None) -> list[tuple[str, int, int, int, int]]:
    """``NAME@plt`` per ``.rela.plt``/``.rel.plt`` entry, in relocation order, at the PLT entry's svma
    (perf's ``dso__synthesize_plt_symbols``: entries follow the PLT header in ``.plt``, or start at
    ``.plt.sec`` when the binary has one; an entry whose symbol index is 0 is named ``@plt``)."""
    rel = image.section(".rela.plt") or image.section(".rel.plt")
    plt = image.section(".plt")
    dynsym = image.section(".dynsym")
    if rel is None or plt is None or dynsym is None or rel.link != dynsym.index:
        return []
    # Elf64_Rela: r_offset u64, r_info u64, r_addend s64; Elf64_Rel: no addend; Elf32: u32 fields.
    # r_info holds the symbol index (ELF64_R_SYM: >> 32, ELF32_R_SYM: >> 8).
    width = 8 if image.is_64 else 4
    rel_size = width * (3 if rel.name == ".rela.plt" else 2)
    raw = image.section_bytes(rel)
    raw = raw[:len(raw) - len(raw) % rel_size]
    names_in_c = _c_speedup("plt_names")
    strtab = _section_bytes(image, image.section_by_index(dynsym.link), memo, mapped=names_in_c is not None)
    symraw = _section_bytes(image, dynsym, memo, mapped=names_in_c is not None)
    plt_sec = image.section(".plt.sec")
    entry_size = 16 if image.machine in (62, 3) else (plt.entsize or 16)
    if plt_sec is not None:
        svma = plt_sec.svma
    else:
        svma = plt.svma + entry_size          # skip the PLT0 header
    if names_in_c is not None:  # (cc1's 490 entries: ~1 ms of the first cold report in Python)
        names = names_in_c(raw, rel_size, image.is_64, image.endian == "<", _buffer(symraw), _buffer(strtab))
    else:
        names = _py_plt_names(raw, rel_size, image, symraw, strtab)
    return [(name, svma + i * entry_size, entry_size, STT_FUNC, STB_GLOBAL) for i, name in enumerate(names)]


def _py_plt_names(raw: bytes, rel_size: int, image: ElfImage, symraw: bytes, strtab: bytes) -> list[str]:
    """``NAME@plt`` of each relocation entry of ``raw`` (its symbol's .dynsym name; "@plt" for index 0 or
    one past the table; a name without NUL ends with the table): _speedups_session.c plt_names' twin."""
    width = 8 if image.is_64 else 4
    r_infos = _int_column(raw, width, width, rel_size, image.endian)
    sym_size = SYM_LAYOUT[image.is_64]["entsize"]
    order = "little" if image.endian == "<" else "big"
    out = []
    for r_info in r_infos:
        sym_index = r_info >> (32 if image.is_64 else 8)
        name = ""
        if sym_index and (sym_index + 1) * sym_size <= len(symraw):
            st_name = int.from_bytes(symraw[sym_index * sym_size:sym_index * sym_size + 4], order)
            end = strtab.find(b"\0", st_name)
            name = strtab[st_name:end if end >= 0 else len(strtab)].decode("utf-8", "replace")
        out.append(name + "@plt")
    return out


# ------------------------------------------------------------------------------------------ perf's rules


def _underscores(name: str) -> int:
    return len(name) - len(name.lstrip("_"))


def choose_best_symbol(a: Symbol, b: Symbol) -> Symbol:
    """perf's ``choose_best_symbol`` (symbol.c): nonzero length, then non-WEAK, then GLOBAL, then fewer
    leading underscores, then the longer name; a tie keeps the first (``a``). ``a`` and ``b`` may also be
    plain tuples in Symbol's field order (name, svma, size, type, binding, end)."""
    la, lb = a[5] - a[1], b[5] - b[1]
    if lb == 0 and la > 0:
        return a
    if la == 0 and lb > 0:
        return b
    wa, wb = a[4] == STB_WEAK, b[4] == STB_WEAK
    if wb and not wa:
        return a
    if wa and not wb:
        return b
    ga, gb = a[4] == STB_GLOBAL, b[4] == STB_GLOBAL
    if ga and not gb:
        return a
    if gb and not ga:
        return b
    ua, ub = _underscores(a[0]), _underscores(b[0])
    if ub > ua:
        return a
    if ua > ub:
        return b
    return b if len(b[0]) > len(a[0]) else a


def fixup_end(rows: list[tuple[str, int, int, int, int]]) -> list[Symbol]:
    """Sort by start (stable: table order among equal starts, as perf's rb-tree insert) and give zero-size
    symbols the next start as their end (``symbols__fixup_end``)."""
    if not rows:
        return []
    names, svmas, sizes, types, bindings = map(list, zip(*sorted(rows, key=_svma_of)))
    return _symbols_of(names, svmas, sizes, types, bindings, _ends(svmas, sizes))


def _sorted_columns(names, svmas: list[int], sizes: list[int], types: list[int],
                    bindings: list[int]) -> tuple[list, list, list, list, list, list]:
    """The five columns of a table's rows (in table order) put in svma order, as :func:`fixup_end` sorts
    the rows (a stable sort of the indexes, no rows made), and a sixth: the ends. ``names`` is a list, or
    :class:`LazyNames` (reordered, not made). The C accelerator's ``symtab_sort`` sorts and makes the
    columns when it is built (cc1's 28.9K symbols: ~15 ms of a cold report, ~2 ms in C); the Python
    twin (``_py_sorted_columns``) gives the same columns."""
    sort = _c_speedup("symtab_sort")
    if sort is not None and len(svmas) > 1 and _sortable(svmas) and _sortable(sizes):
        got = sort(svmas, sizes, bytes(types), bytes(bindings), PAGE_SIZE)
        if got is not None:
            order_raw, svmas_raw, sizes_raw, types, bindings, ends_raw = got
            if order_raw is not None:  # (u32 indexes: 4 bytes each, not an int object)
                order = memoryview(order_raw).cast("I")
                names = names.reordered(order) if isinstance(names, LazyNames) else list(itemgetter(*order)(names))
            return names, _from_bytes(svmas_raw), _from_bytes(sizes_raw), types, bindings, _from_bytes(ends_raw)
    return _py_sorted_columns(names, svmas, sizes, types, bindings)


def _sortable(column) -> bool:
    """What symtab_sort reads: a list of int or a u64 column (_from_bytes's view, or an array.array, which only
    the Python twin's path makes, and then the array module is imported)."""
    kind = type(column)
    if kind is list or kind is memoryview:
        return True
    arrays = sys.modules.get("array")
    return arrays is not None and kind is arrays.array


def _c_speedup(name: str):
    """The C accelerator's ``name`` (symtab_sort, symtab_keep), None when it is not built."""
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, name, None)


def _from_bytes(raw: bytes) -> memoryview:
    """A u64 column (the C accelerator's bytes, native order) as a read-only view: indexes, iterates, slices and
    compares (to an array.array('Q') too) as the array it stands for. A view rather than an array: the array
    module imports collections (collections.abc, to register as a MutableSequence), ~1.4 ms of every report's
    start-up (callgrind: 8.4M instructions), which the C path needs nothing of."""
    return memoryview(raw).cast("Q")


def _py_sorted_columns(names, svmas: list[int], sizes: list[int], types: list[int],
                       bindings: list[int]) -> tuple[list, list, list, list, list, list]:
    """``_sorted_columns`` in Python."""
    if len(svmas) > 1:
        order = sorted(range(len(svmas)), key=svmas.__getitem__)
        if any(map(ne, order, range(len(order)))):
            take = itemgetter(*order)
            svmas, sizes, types, bindings = (list(take(column)) for column in (svmas, sizes, types, bindings))
            names = names.reordered(order) if isinstance(names, LazyNames) else list(take(names))
    ends = _ends(svmas, sizes)
    return names, _compact(svmas), _compact(sizes), bytes(types), bytes(bindings), _compact(ends)


def _compact(column: list[int]):
    """A column of u64 as _from_bytes's view (8 bytes an entry instead of an int object and a pointer: a cold
    report keeps cc1's 27K-symbol table), or the list itself if a value does not fit."""
    try:
        return _from_bytes(_pack(f"{len(column)}Q", *column))
    except _StructError:
        return column


class LazyNames:
    """The names of the parts (:class:`SymbolNames`) of a table, joined in table order, or in ``order`` (a
    list of table-order indexes), each made when first asked for (``names[i]``): a report looks up the
    symbols of a few hundred addresses of a table of tens of thousands, whose names are then not all
    made, nor demangled. Iterating makes them all."""

    __slots__ = ("_parts", "_bases", "_order", "_made")

    def __init__(self, parts: list[SymbolNames], order: list[int] | None = None):
        self._parts = parts
        self._bases = list(accumulate((len(part) for part in parts[:-1]), initial=0))
        self._order = order
        self._made: dict[int, str] = {}

    def reordered(self, order: list[int]) -> LazyNames:
        return LazyNames(self._parts, order)

    def __len__(self) -> int:
        return sum(map(len, self._parts))

    def __getitem__(self, i: int) -> str:
        k = self._order[i] if self._order is not None else i
        name = self._made.get(k)
        if name is None:
            j = _bisect_right(self._bases, k) - 1  # (imported by unique() or _lookup_sorted, the callers)
            name = self._made[k] = self._parts[j].name(k - self._bases[j])
        return name

    def __iter__(self) -> Iterator[str]:
        names = _joined(part.all() for part in self._parts)
        if self._order is None:
            return iter(names)
        return map(names.__getitem__, self._order)


def _ends(svmas: list[int], sizes: list[int]) -> list[int]:
    """``symbols__fixup_end`` on columns in svma order: svma + size, or for a zero-size symbol the next
    symbol's start (the last one: the page after its own). Only the zero sizes are visited one by one."""
    ends = list(map(add, svmas, sizes))
    last = len(svmas) - 1
    i = -1
    while True:
        try:
            i = sizes.index(0, i + 1)
        except ValueError:
            return ends
        svma = svmas[i]
        ends[i] = svmas[i + 1] if i < last else (svma + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE + PAGE_SIZE


def _symbols_of(*columns: list) -> list[Symbol]:
    """Symbols from their six columns, made in C (tuple.__new__ over the zipped columns)."""
    return list(map(tuple.__new__, repeat(Symbol), zip(*columns)))


def _unique_of(names: list[str], svmas: list[int], sizes: list[int], types: list[int], bindings: list[int],
               ends: list[int]) -> list[Symbol]:
    """``fixup_duplicate(_symbols_of(columns))`` making Symbols only for the symbols kept: those alone at
    their address (found in C), and the best of each run of aliases (choose_best_symbol on rows made for
    the runs alone). libc: 4,943 Symbols made instead of 8,166, 1,600 runs walked."""
    alias = list(map(eq, svmas[1:], svmas[:-1]))      # alias[i]: symbol i + 1 starts where symbol i does
    keep = bytearray(b"\1") * len(svmas)
    i = -1
    while True:
        try:
            i = alias.index(True, i + 1)                    # a run of aliases starts at i
        except ValueError:
            break
        j = i + 1
        while j < len(svmas) and svmas[j] == svmas[i]:
            j += 1
        keep[i:j] = bytes(j - i)
        keep[_best_of_run(names, svmas, sizes, types, bindings, ends, i, j)] = 1
        i = j - 1
    return list(map(tuple.__new__, repeat(Symbol),
                    compress(zip(names, svmas, sizes, types, bindings, ends), keep)))


def _best_of_run(names: list, svmas: list, sizes: list, types: list, bindings: list, ends: list, first: int,
                 stop: int) -> int:
    """The index of the symbol kept for the run of aliases ``first .. stop - 1`` (sorted columns, one
    start): choose_best_symbol folded over the run in order, as fixup_duplicate does."""
    best = (names[first], svmas[first], sizes[first], types[first], bindings[first], ends[first])
    at = first
    for j in range(first + 1, stop):
        other = (names[j], svmas[j], sizes[j], types[j], bindings[j], ends[j])
        if choose_best_symbol(best, other) is other:
            best, at = other, j
    return at


def _best_at(columns: tuple, last: int) -> Symbol:
    """The symbol ``_unique_of`` keeps for the start of symbol ``last`` (sorted columns), the last of its
    run of aliases."""
    names, svmas, sizes, types, bindings, ends = columns
    first = last
    while first and svmas[first - 1] == svmas[last]:
        first -= 1
    at = _best_of_run(*columns, first, last + 1) if first < last else last  # (no alias: the symbol itself)
    return tuple.__new__(Symbol, (names[at], svmas[at], sizes[at], types[at], bindings[at], ends[at]))


_svma_of = itemgetter(1)            # a row's (or a Symbol's) start


def fixup_duplicate(syms: list[Symbol]) -> list[Symbol]:
    """One symbol per start address, chosen by :func:`choose_best_symbol` (``symbols__fixup_duplicate``)."""
    out: list[Symbol] = []
    append = out.append
    last_svma = -1                  # no symbol starts there
    for sym in syms:
        if sym[1] == last_svma:
            out[-1] = choose_best_symbol(out[-1], sym)
        else:
            append(sym)
            last_svma = sym[1]
    return out


# ------------------------------------------------------------------------------------------- the table


class SymbolTable:
    """The symbols of one ELF image: lookup by svma (report) and by name (probe).

    ``symbols`` keeps every alias (as ``perf probe`` does, ``symbol_conf.allow_aliases``); ``lookup`` uses the
    de-duplicated list that ``perf report`` resolves addresses with. ``rows`` are (name, svma, size, type,
    binding) tuples in table order; a table may also be built from those five columns (``from_columns``),
    and then rows and Symbol objects are made on first use: ``-F`` needs only the names."""

    def __init__(self, path: str, rows: list[tuple[str, int, int, int, int]] | None, source: str,
                 has_symtab: bool):
        self.path = path
        self.source = source            # the file the symbols came from (the image or its debug file)
        self.has_symtab = has_symtab    # False: only .dynsym (a stripped binary)
        self._row_list = rows
        self._columns: tuple | None = None        # (names, rest) before rows are made
        self._symbols: list[Symbol] | None = None
        self._sorted_columns: tuple | None = None
        self._unique: list[Symbol] | None = None
        self._starts: list[int] | None = None
        self._names: dict[str, list[Symbol]] | None = None
        self._best: dict[int, Symbol] = {}      # lookup without unique(): start -> the symbol kept there
        self._reload = None     # from_columns' tables: makes the columns again after release()

    @classmethod
    def from_columns(cls, path: str, names: list[SymbolNames], rest, source: str,
                     has_symtab: bool, reload=None) -> SymbolTable:
        """A table from the names of its parts (:class:`SymbolNames`, in table order) and ``rest``, a
        function returning the other fields (svmas, sizes, types, bindings) of all parts, one list each:
        names are made when asked for, the rest when symbols are first asked for. ``reload`` returns the
        same table made again (``release``)."""
        table = cls(path, None, source, has_symtab)
        table._columns = (names, rest)
        table._reload = reload
        return table

    def release(self) -> None:
        """Let the columns and symbols go (a table that can ``reload`` them only): a report calls this once its
        samples are resolved, since Hists.finish and the output print the names resolved, not the tables.
        A cold report of make.data holds cc1's string table (1.3 MB) and sorted columns (~0.9 MB) through
        the build's peak otherwise. The symbols found so far are kept; anything else asked for later reads
        the table again."""
        if self._reload is not None and self._columns is not None:
            self._columns = self._sorted_columns = self._symbols = self._unique = self._starts = self._names = None

    def _restore(self) -> None:
        """The columns again after ``release``."""
        with large_blocks_unmapped:
            again = self._reload()
        self._columns, self._sorted_columns = again._columns, again._sorted_columns

    @property
    def symbols(self) -> list[Symbol]:
        """Sorted by svma (table order among equal addresses), aliases kept, ends fixed up."""
        if self._symbols is None:
            if self._row_list is not None:
                self._symbols = fixup_end(self._row_list)
            else:
                self._symbols = _symbols_of(*self._sorted())
        return self._symbols

    def _sorted(self) -> tuple[list, list, list, list, list, list]:
        """(names, svmas, sizes, types, bindings, ends) of every symbol in svma order, from the columns
        (_sorted_columns; made once)."""
        if self._sorted_columns is None:
            if self._columns is None:   # (released)
                self._restore()
                if self._sorted_columns is not None:
                    return self._sorted_columns
            parts, rest = self._columns
            with large_blocks_unmapped:
                self._sorted_columns = _sorted_columns(LazyNames(parts), *rest())
            self._columns = (parts, None)  # (rest holds the section's bytes: nothing asks for it again)
        return self._sorted_columns

    def __len__(self) -> int:
        if self._row_list is not None:
            return len(self._row_list)
        if self._columns is None:   # (released)
            self._restore()
        return sum(map(len, self._columns[0]))

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self.symbols)

    def functions(self) -> Iterator[Symbol]:
        return (s for s in self.symbols if s.is_function)

    def names(self, flt=None) -> list[str]:
        """Every name, aliases included, sorted as perf's ``dso__sort_by_name`` (strcmp order); with a
        filter ``flt`` (a StrFilter: ``select(names)``, ``rejected_initials(chars)``), only the names it accepts.
        Filtering before sorting sorts fewer, and names the filter rejects by their first character are
        not even made (SymbolNames.some). The filter runs on each part of the table (.symtab, .dynsym, PLT)
        on its own, where its globs' quick test more often proves that no name matches (no "*@plt" name
        in a .symtab: StrFilter.select)."""
        if self._row_list is not None:
            names = [r[0] for r in self._row_list]
            if flt is not None:
                names = flt.select(names)
            ascii = all(map(str.isascii, names))
        else:
            if self._columns is None:   # (released)
                self._restore()
            made = [(part, part.all() if flt is None else flt.select(part.some(flt))) for part in self._columns[0]]
            names = _joined(part_names for _, part_names in made)
            ascii = all(part.all_ascii(part_names) for part, part_names in made)
        if ascii:
            names.sort()
        else:
            names.sort(key=_strcmp_key)
        return names

    def by_name(self, name: str) -> list[Symbol]:
        """Every symbol called ``name``, in address order."""
        if self._names is None:
            names: dict[str, list[Symbol]] = {}
            for sym in self.symbols:
                names.setdefault(sym.name, []).append(sym)
            self._names = names
        return list(self._names.get(name, ()))

    def unique(self) -> list[Symbol]:
        if self._unique is None:
            global _bisect_right
            from bisect import bisect_right as _bisect_right    # for lookup; not on -F's path
            if self._symbols is None and self._row_list is None:      # report: no alias Symbol is made
                self._unique = _unique_of(*self._sorted())
            else:
                self._unique = fixup_duplicate(self.symbols)
            self._starts = list(map(_svma_of, self._unique))
        return self._unique

    def lookup(self, svma: int) -> Symbol | None:
        """The symbol holding ``svma`` (start <= svma < end, or svma == start), as perf's ``symbols__find``
        on the de-duplicated list (``unique``). A table built from columns whose symbols nobody asked for
        (report) answers without making that list: the run of aliases at the closest start at or below
        ``svma`` is judged alone (``_best_at``: what ``_unique_of`` keeps for that start), once per start."""
        if self._unique is None and self._symbols is None and self._row_list is None:
            return self._lookup_sorted(svma)
        syms = self.unique()
        i = _bisect_right(self._starts, svma) - 1
        if i < 0:
            return None
        sym = syms[i]
        if svma < sym.end or svma == sym.svma:
            return sym
        return None

    def _lookup_sorted(self, svma: int) -> Symbol | None:
        global _bisect_right
        if _bisect_right is None:
            from bisect import bisect_right as _bisect_right
        columns = self._sorted()
        svmas = columns[1]
        i = _bisect_right(svmas, svma) - 1
        if i < 0:
            return None
        start = svmas[i]
        best = self._best.get(start)
        if best is None:
            best = self._best[start] = _best_at(columns, i)
        if svma < best.end or svma == start:
            return best
        return None


def _strcmp_key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _has_table(image: ElfImage, name: str, sh_type: int) -> bool:
    shdr = image.section(name)
    return shdr is not None and shdr.sh_type == sh_type


def select_sources(image: ElfImage, symfs: str | None = None) -> tuple[ElfImage, ElfImage]:
    """(syms_ss, runtime_ss) as perf's ``dso__load`` picks them: the first candidate with ``.symtab``, the
    first with ``.dynsym``; each falls back to the other, and both to the image itself."""
    from pyperf_probe.symbols.debuginfo import iter_matching_images
    syms = runtime = None
    for cand in iter_matching_images(image, symfs):     # lazily: files after the two found are not opened
        # symsrc__init: a table counts only with its real type (a debug file's .dynsym is SHT_NOBITS)
        if syms is None and _has_table(cand, ".symtab", SHT_SYMTAB):
            syms = cand
        if runtime is None and _has_table(cand, ".dynsym", SHT_DYNSYM):
            runtime = cand
        if syms is not None and runtime is not None:
            break
    syms = syms or runtime or image
    runtime = runtime or syms
    return syms, runtime


_CACHE: dict[object, SymbolTable] = {}
_bisect_right = None        # bisect.bisect_right, imported by the first SymbolTable.unique()


def load_symtab(path: str, symfs: str | None = None) -> SymbolTable:
    """The symbol table of ``path`` (see the module docstring), cached per build-id (per path without one)."""
    image = open_elf(path)
    key = (image.build_id or ("path", image.path), symfs)
    table = _CACHE.get(key)
    if table is None:
        with large_blocks_unmapped:  # (its sections and columns leave no pages behind once released)
            table = _load(image, symfs)
        _CACHE[key] = table
    return table


def release_tables() -> None:
    """``SymbolTable.release`` of every table loaded (report.builder, once the samples are resolved)."""
    for table in _CACHE.values():
        table.release()


def symbol_source(image: ElfImage, symfs: str | None = None) -> tuple[str, bool]:
    """(the path ``load_symtab(image.path, symfs)`` reads the symbols from, whether it has a .symtab):
    the table's ``source`` and ``has_symtab``, found without reading any symbol."""
    table = _CACHE.get((image.build_id or ("path", image.path), symfs))
    if table is not None:
        return table.source, table.has_symtab
    syms_ss = select_sources(image, symfs)[0]
    return syms_ss.path, _has_table(syms_ss, ".symtab", SHT_SYMTAB)


def _load(image: ElfImage, symfs: str | None) -> SymbolTable:
    syms_ss, runtime_ss = select_sources(image, symfs)
    has_symtab = _has_table(syms_ss, ".symtab", SHT_SYMTAB)
    memo: dict = {}  # (sections read once: see _section_bytes)
    parts = [symbol_names(syms_ss, ".symtab", demangle=True, memo=memo)] if has_symtab else []
    if _has_table(syms_ss, ".dynsym", SHT_DYNSYM):
        # dso__load_sym: the .dynsym of the symbol source is loaded as well (again, for names in both)
        parts.append(symbol_names(syms_ss, ".dynsym", demangle=True, memo=memo))
    if any(len(names) for names, _ in parts):
        plt = plt_symbols(runtime_ss, memo)
        if plt:
            columns = tuple(map(list, zip(*plt)))
            parts.append((SymbolNames.ready(columns[0], demangle=True), lambda: columns[1:]))

    def rest():
        fields = [part_rest() for _, part_rest in parts]
        return tuple(_joined(field) for field in zip(*fields)) if fields else _empty_rest()
    return SymbolTable.from_columns(image.path, [names for names, _ in parts], rest, syms_ss.path, has_symtab,
                                    lambda: _load(image, symfs))


def _joined(lists) -> list:
    """The parts' items in one list, or in one u64 column when a part is one (symtab_keep's svmas and sizes:
    the C sort reads them as they are), or in bytes when a part is bytes (its types and bindings)."""
    lists = list(lists)
    if any(type(items) is bytes for items in lists):
        return b"".join(map(bytes, lists))
    if any(type(items) is memoryview for items in lists):
        try:  # (a list part, the PLT's, packed as the views are: native u64)
            return _from_bytes(b"".join(items if type(items) is memoryview else _pack(f"{len(items)}Q", *items)
                                        for items in lists))
        except _StructError:  # (a value past u64: the Python twin's lists)
            pass
    if any(type(items) is not list for items in lists):
        from array import array
        column = array("Q")
        for items in lists:
            column.extend(items)
        return column
    out: list = []
    for items in lists:
        out += items
    return out


def demangled_names(names: list[str]) -> list[str]:
    """C++ names as perf keeps them (``demangle_sym`` in ``dso__load_sym`` and the PLT synthesis: the
    mangled part of ``NAME@plt`` is demangled). The demangler is loaded only when a name needs it."""
    if not any(name.startswith("_Z") for name in names):
        return names
    from pyperf_probe.symbols.demangle import demangle
    out = []
    for name in names:
        if name.startswith("_Z"):
            name = demangle(name[:-4]) + "@plt" if name.endswith("@plt") else demangle(name)
        out.append(name)
    return out
