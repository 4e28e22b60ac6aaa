"""Symbol tables as perf loads them (tools/perf/util/symbol-elf.c ``dso__load_sym``, symbol.c ``dso__load``).

Which table: perf 6.1 takes the file that has a ``.symtab`` first in debuginfo.py's order ("syms_ss"), or
else the first with a ``.dynsym`` ("runtime_ss"), and loads that file's ``.symtab`` and then its ``.dynsym``
(a name in both is there twice, as ``perf probe -F`` shows). A separate debug file's ``.dynsym`` is
SHT_NOBITS and does not count, so for glibc only the debug file's versioned ``.symtab`` names
(``aio_cancel@@GLIBC_2.34``) are listed. It
keeps FUNC, GNU_IFUNC and OBJECT symbols with a name and a section, plus zero-size NOTYPE labels in text
sections, and adds one ``NAME@plt`` symbol per ``.rela.plt`` entry (``dso__synthesize_plt_symbols``).

Then ``symbols__fixup_end``: a zero-size symbol extends to the next start (the last one to the next page),
and, unless aliases are allowed (``perf probe`` allows them), ``symbols__fixup_duplicate`` keeps one
symbol per address by ``choose_best_symbol``.

Symbols are read in bulk with ``struct.iter_unpack`` (Elf64_Sym / Elf32_Sym) and cached per build-id.
"""
from __future__ import annotations

import bisect
import struct
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

from pyperf_probe.errors import SymbolError
from pyperf_probe.symbols.elf import SHN_UNDEF, SHT_DYNSYM, SHT_NOBITS, SHT_SYMTAB, ElfImage, open_elf

STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_GNU_IFUNC = 0, 1, 2, 10
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
SHN_LORESERVE, SHN_ABS = 0xFF00, 0xFFF1
PAGE_SIZE = 4096

# Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64
ELF64_SYM = "IBBHQQ"
# Elf32_Sym: st_name u32, st_value u32, st_size u32, st_info u8, st_other u8, st_shndx u16
ELF32_SYM = "IIIBBH"


class Symbol(NamedTuple):
    """One symbol as perf keeps it. ``end`` is after ``symbols__fixup_end`` (``svma + size``, or the next
    symbol's start for a zero-size symbol).

    Immutable, and a NamedTuple rather than a frozen dataclass: report builds one per symbol of every dso
    it meets, and a tuple is several times cheaper to create than a frozen dataclass instance."""

    name: str
    svma: int
    size: int
    type: int
    binding: int
    end: int = 0

    @property
    def is_function(self) -> bool:
        return self.type in (STT_FUNC, STT_GNU_IFUNC)

    @property
    def is_ifunc(self) -> bool:
        return self.type == STT_GNU_IFUNC


# ---------------------------------------------------------------------------------------------- reading


def _section_names_with(image: ElfImage, word: str) -> frozenset:
    return frozenset(s.index for s in image.sections if word in s.name)


def read_elf_symbols(image: ElfImage, section_name: str) -> List[Tuple[str, int, int, int, int]]:
    """(name, svma, size, type, binding) of the symbols of ``section_name`` (``.symtab``/``.dynsym``) that
    perf keeps (``elf_sym__filter`` and ``elf_sym__is_label``), in table order."""
    shdr = image.section(section_name)
    if shdr is None or shdr.sh_type == SHT_NOBITS:
        return []
    strtab_hdr = image.section_by_index(shdr.link)
    if strtab_hdr is None:
        raise SymbolError(f"{image.path}: {section_name} has no string table")
    strtab = image.section_bytes(strtab_hdr)
    raw = image.section_bytes(shdr)
    fmt = image.endian + (ELF64_SYM if image.is_64 else ELF32_SYM)
    entsize = struct.calcsize(fmt)
    raw = raw[:len(raw) - len(raw) % entsize]
    text_sections = _section_names_with(image, "text") | _section_names_with(image, "data")
    nsections = len(image.sections)
    out = []
    find = strtab.find
    rows = struct.iter_unpack(fmt, raw)
    if not image.is_64:
        rows = ((n, info, other, shndx, value, size) for n, value, size, info, other, shndx in rows)
    for st_name, info, _other, shndx, value, size in rows:
        stype = info & 0xF
        if not st_name or shndx == SHN_UNDEF:
            continue
        if stype in (STT_FUNC, STT_GNU_IFUNC, STT_OBJECT):
            if shndx >= nsections:     # SHN_ABS & co: perf's elf_getscn fails for these
                continue
        elif stype == STT_NOTYPE:       # a label: only zero-size ones in a text section
            if size or shndx not in text_sections:
                continue
        else:
            continue
        end = find(b"\0", st_name)
        out.append((strtab[st_name:end].decode("utf-8", "replace"), value, size, stype, info >> 4))
    return out


def plt_symbols(image: ElfImage) -> List[Tuple[str, int, int, int, int]]:
    """``NAME@plt`` per ``.rela.plt``/``.rel.plt`` entry, in relocation order, at the PLT entry's svma
    (perf's ``dso__synthesize_plt_symbols``: entries follow the PLT header in ``.plt``, or start at
    ``.plt.sec`` when the binary has one; an entry whose symbol index is 0 is named ``@plt``)."""
    rel = image.section(".rela.plt") or image.section(".rel.plt")
    plt = image.section(".plt")
    dynsym = image.section(".dynsym")
    if rel is None or plt is None or dynsym is None or rel.link != dynsym.index:
        return []
    is_rela = rel.name == ".rela.plt"
    fmt = image.endian + ({True: "QQq", False: "II"}[is_rela] if image.is_64 else {True: "IIi", False: "II"}[is_rela])
    entsize = struct.calcsize(fmt)
    raw = image.section_bytes(rel)
    relocs = list(struct.iter_unpack(fmt, raw[:len(raw) - len(raw) % entsize]))
    strtab = image.section_bytes(image.section_by_index(dynsym.link))
    symraw = image.section_bytes(dynsym)
    sym_fmt = struct.Struct(image.endian + (ELF64_SYM if image.is_64 else ELF32_SYM))
    plt_sec = image.section(".plt.sec")
    entry_size = 16 if image.machine in (62, 3) else (plt.entsize or 16)
    if plt_sec is not None:
        svma = plt_sec.svma
    else:
        svma = plt.svma + entry_size          # skip the PLT0 header
    out = []
    for r in relocs:
        r_info = r[1]
        sym_index = r_info >> 32 if image.is_64 else r_info >> 8
        name = ""
        if sym_index and (sym_index + 1) * sym_fmt.size <= len(symraw):
            st_name = sym_fmt.unpack_from(symraw, sym_index * sym_fmt.size)[0]
            name = strtab[st_name:strtab.find(b"\0", st_name)].decode("utf-8", "replace")
        out.append((name + "@plt", svma, entry_size, STT_FUNC, STB_GLOBAL))
        svma += entry_size
    return out


# ------------------------------------------------------------------------------------------ perf's rules


def _underscores(name: str) -> int:
    return len(name) - len(name.lstrip("_"))


def choose_best_symbol(a: Symbol, b: Symbol) -> Symbol:
    """perf's ``choose_best_symbol`` (symbol.c): nonzero length, then non-WEAK, then GLOBAL, then fewer
    leading underscores, then the longer name; a tie keeps the first (``a``)."""
    la, lb = a.end - a.svma, b.end - b.svma
    if lb == 0 and la > 0:
        return a
    if la == 0 and lb > 0:
        return b
    wa, wb = a.binding == STB_WEAK, b.binding == STB_WEAK
    if wb and not wa:
        return a
    if wa and not wb:
        return b
    ga, gb = a.binding == STB_GLOBAL, b.binding == STB_GLOBAL
    if ga and not gb:
        return a
    if gb and not ga:
        return b
    ua, ub = _underscores(a.name), _underscores(b.name)
    if ub > ua:
        return a
    if ua > ub:
        return b
    return b if len(b.name) > len(a.name) else a


def fixup_end(rows: List[Tuple[str, int, int, int, int]]) -> List[Symbol]:
    """Sort by start (stable: table order among equal starts, as perf's rb-tree insert) and give zero-size
    symbols the next start as their end (``symbols__fixup_end``)."""
    rows = sorted(rows, key=_svma_of)
    syms = []
    n = len(rows)
    make = Symbol
    for i, (name, svma, size, stype, bind) in enumerate(rows):
        end = svma + size
        if size == 0:
            end = rows[i + 1][1] if i + 1 < n else (svma + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE + PAGE_SIZE
        syms.append(make(name, svma, size, stype, bind, end))
    return syms


def _svma_of(row) -> int:
    return row[1]


def fixup_duplicate(syms: List[Symbol]) -> List[Symbol]:
    """One symbol per start address, chosen by :func:`choose_best_symbol` (``symbols__fixup_duplicate``)."""
    out: List[Symbol] = []
    for sym in syms:
        if out and out[-1].svma == sym.svma:
            out[-1] = choose_best_symbol(out[-1], sym)
        else:
            out.append(sym)
    return out


# ------------------------------------------------------------------------------------------- the table


class SymbolTable:
    """The symbols of one ELF image: lookup by svma (report) and by name (probe).

    ``symbols`` keeps every alias (as ``perf probe`` does, ``symbol_conf.allow_aliases``); ``lookup`` uses the
    de-duplicated list that ``perf report`` resolves addresses with. Symbol objects are made on first use:
    ``-F`` needs only the names."""

    def __init__(self, path: str, rows: List[Tuple[str, int, int, int, int]], source: str, has_symtab: bool):
        self.path = path
        self.source = source            # the file the symbols came from (the image or its debug file)
        self.has_symtab = has_symtab    # False: only .dynsym (a stripped binary)
        self._rows = rows
        self._symbols: Optional[List[Symbol]] = None
        self._unique: Optional[List[Symbol]] = None
        self._starts: Optional[List[int]] = None
        self._names: Optional[Dict[str, List[Symbol]]] = None

    @property
    def symbols(self) -> List[Symbol]:
        """Sorted by svma (table order among equal addresses), aliases kept, ends fixed up."""
        if self._symbols is None:
            self._symbols = fixup_end(self._rows)
        return self._symbols

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self.symbols)

    def functions(self) -> Iterator[Symbol]:
        return (s for s in self.symbols if s.is_function)

    def names(self) -> List[str]:
        """Every name, aliases included, sorted as perf's ``dso__sort_by_name`` (strcmp order)."""
        names = [r[0] for r in self._rows]
        if all(n.isascii() for n in names):
            names.sort()
        else:
            names.sort(key=_strcmp_key)
        return names

    def by_name(self, name: str) -> List[Symbol]:
        """Every symbol called ``name``, in address order."""
        if self._names is None:
            names: Dict[str, List[Symbol]] = {}
            for sym in self.symbols:
                names.setdefault(sym.name, []).append(sym)
            self._names = names
        return list(self._names.get(name, ()))

    def unique(self) -> List[Symbol]:
        if self._unique is None:
            self._unique = fixup_duplicate(self.symbols)
            self._starts = [s.svma for s in self._unique]
        return self._unique

    def lookup(self, svma: int) -> Optional[Symbol]:
        """The symbol holding ``svma`` (start <= svma < end, or svma == start), as perf's ``symbols__find``."""
        syms = self.unique()
        i = bisect.bisect_right(self._starts, svma) - 1
        if i < 0:
            return None
        sym = syms[i]
        if svma < sym.end or svma == sym.svma:
            return sym
        return None


def _strcmp_key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _has_table(image: ElfImage, name: str, sh_type: int) -> bool:
    shdr = image.section(name)
    return shdr is not None and shdr.sh_type == sh_type


def select_sources(image: ElfImage, symfs: Optional[str] = None) -> Tuple[ElfImage, ElfImage]:
    """(syms_ss, runtime_ss) as perf's ``dso__load`` picks them: the first candidate with ``.symtab``, the
    first with ``.dynsym``; each falls back to the other, and both to the image itself."""
    from pyperf_probe.symbols.debuginfo import matching_images
    syms = runtime = None
    for cand in matching_images(image, symfs):
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


_CACHE: Dict[object, SymbolTable] = {}


def load_symtab(path: str, symfs: Optional[str] = None) -> SymbolTable:
    """The symbol table of ``path`` (see the module docstring), cached per build-id (per path without one)."""
    image = open_elf(path)
    key = (image.build_id or ("path", image.path), symfs)
    table = _CACHE.get(key)
    if table is None:
        table = _load(image, symfs)
        _CACHE[key] = table
    return table


def _load(image: ElfImage, symfs: Optional[str]) -> SymbolTable:
    syms_ss, runtime_ss = select_sources(image, symfs)
    has_symtab = _has_table(syms_ss, ".symtab", SHT_SYMTAB)
    rows = read_elf_symbols(syms_ss, ".symtab") if has_symtab else []
    if _has_table(syms_ss, ".dynsym", SHT_DYNSYM):
        # dso__load_sym: the .dynsym of the symbol source is loaded as well (again, for names in both)
        rows += read_elf_symbols(syms_ss, ".dynsym")
    if rows:
        rows += plt_symbols(runtime_ss)
    return SymbolTable(image.path, demangled(rows), syms_ss.path, has_symtab)


def demangled(rows: List[Tuple[str, int, int, int, int]]) -> List[Tuple[str, int, int, int, int]]:
    """C++ names as perf keeps them (``demangle_sym`` in ``dso__load_sym`` and the PLT synthesis: the
    mangled part of ``NAME@plt`` is demangled). The demangler is loaded only when a name needs it."""
    if not any(r[0].startswith("_Z") for r in rows):
        return rows
    from pyperf_probe.symbols.demangle import demangle
    out = []
    for row in rows:
        name = row[0]
        if name.startswith("_Z"):
            if name.endswith("@plt"):
                name = demangle(name[:-4]) + "@plt"
            else:
                name = demangle(name)
            row = (name,) + row[1:]
        out.append(row)
    return out
