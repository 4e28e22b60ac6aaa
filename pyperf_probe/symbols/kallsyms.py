"""Kernel symbols from a kallsyms file, as perf 6.1 loads them for ``[kernel.kallsyms]`` and its modules.

perf's steps (tools/perf/util/symbol.c ``__dso__load_kallsyms``; tools/lib/symbol/kallsyms.c):

1. ``kallsyms__parse``: lines ``ADDR TYPE NAME`` (a module's symbols: ``NAME\\t[module]``, the module part
   being part of the name until the split); ``map__process_kallsym_symbol`` keeps the types T, W, D, B in
   either case (``symbol_type__filter``) and drops names starting with ``$`` (ARM mapping symbols).
2. ``kallsyms__delta``: when the recording named a relocation symbol (the ``[kernel.kallsyms]_text`` MMAP
   gives ``_text`` and its address as pgoff), the file's address of that symbol minus the recorded one;
   a file without it cannot be used at all.
3. ``symbols__fixup_end(is_kallsyms)``: every symbol ends where the next one (by address) starts, except
   between a kernel symbol and a module one (either way), where it ends at the next page boundary after
   start + 4096; the last ends one page after its start's page. ``symbols__fixup_duplicate``: of the
   symbols at one address, ``choose_best_symbol`` first prefers a non-zero size, and only the last of them
   (in file order: the rbtree keeps equal keys in insertion order) has one, so the last one stays.
4. ``maps__split_kallsyms``: module symbols move to their module's dso (map-relative addresses), when the
   module has a map; the others are dropped (``/proc/{kallsyms,modules} inconsistency``). x86_64's
   ``__entry_SYSCALL_64_trampoline`` is dropped. Kernel symbols are moved back by the delta, and those that
   follow a module's symbols go to ``[kernel].N`` maps nothing looks up.

Symbols are found with a bisect over the starts (``lookup``); names are decoded only for the symbols found.
Parsing is done column-wise (``bytes.fromhex`` over every address at once) for a well-formed file, and line
by line, with kallsyms__parse's exact quirks, for anything else.
"""
from __future__ import annotations

import os
import sys
from array import array
from bisect import bisect_right
from itertools import compress, count, islice

from pyperf_probe.symbols.symtab import STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_OBJECT, Symbol

KSYM_NAME_LEN = 512                 # tools/include/linux/kallsyms.h (perf 6.1)
ENTRY_TRAMPOLINE_NAME = "__entry_SYSCALL_64_trampoline"
PAGE_SIZE = 4096
U64 = (1 << 64) - 1
_KEEP = bytes(1 if c in b"TWDBtwdb" else 0 for c in range(256))  # symbol_type__filter


class Kallsyms:
    """The parsed lines of one kallsyms file: per line its start, type letter and the bytes of its name
    (module suffix included), in file order; and whether any name has a ``$``, a tab (module symbols) or
    a ``[``, so that the common file needs no pass over its names for them.

    Names are found one of three ways: byte offsets into the file (``name_starts``/``name_ends``, from the
    C accelerator), the split lines and one name column (``name_at``), or a list of names (the line
    parser's, ``lines`` with ``name_at`` None). ``in_order``: the starts are known not to decrease."""

    __slots__ = ("starts", "types", "lines", "name_at", "data", "name_starts", "name_ends", "in_order", "dollar",
                 "tab", "bracket", "trampoline")

    def __init__(self, starts, types: bytes, lines: list | None, name_at: int | None, data: bytes,
                 name_starts=None, name_ends=None, in_order: bool | None = None, trampoline: bool | None = None):
        self.starts = starts        # array('Q')
        self.types = types          # one byte per line
        self.lines = lines
        self.name_at = name_at
        self.data = data
        self.name_starts, self.name_ends, self.in_order = name_starts, name_ends, in_order
        self.dollar, self.tab, self.bracket = b"$" in data, b"\t" in data, b"[" in data
        # (whether lines_with(_TRAMPOLINE) may find a line named so: the C parser knows without a search)
        self.trampoline = _TRAMPOLINE in data if trampoline is None else trampoline

    def __len__(self) -> int:
        return len(self.types)

    def name(self, i: int) -> bytes:
        if self.name_starts is not None:
            return self.data[self.name_starts[i]:self.name_ends[i]]
        return self.lines[i] if self.name_at is None else self.lines[i][self.name_at:]

    def kept(self, i: int) -> bool:
        """``map__process_kallsym_symbol`` keeps the line: types T, W, D, B (either case), no ``$`` name."""
        return bool(_KEEP[self.types[i]]) and not (self.dollar and self.name(i).startswith(b"$"))

    def lines_with(self, needle: bytes) -> list:
        """The indices of the lines whose name holds ``needle`` (found in the file's bytes, then placed by
        its offset: a bisect of the name offsets, or the newlines counted between hits)."""
        if self.name_starts is None and self.name_at is None:
            return [i for i, name in enumerate(self.lines) if needle in name]
        data, out, line, last = self.data, [], 0, 0
        pos = data.find(needle)
        while pos >= 0:
            if self.name_starts is not None:
                line = bisect_right(self.name_starts, pos) - 1
            else:
                line += data.count(b"\n", last, pos)
                last = pos
            if line >= 0 and (not out or out[-1] != line):
                out.append(line)
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            pos = data.find(needle, nl)
        return out

    def names(self, keep: bytes | None = None) -> list:
        """The names of the lines (of those ``keep`` flags), in order."""
        if self.name_starts is not None:
            indices = range(len(self)) if keep is None else compress(range(len(self)), keep)
            return [self.name(i) for i in indices]
        lines = self.lines if keep is None else list(compress(self.lines, keep))
        if self.name_at is None:
            return lines
        at = self.name_at
        return [ln[at:] for ln in lines]

    def function_start(self, name: str) -> int | None:
        """``kallsyms__get_function_start``: the address of the first line naming ``name`` with a function
        type (T, W, either case) or A, else None."""
        want = name.encode()
        if self.name_starts is None and self.name_at is None:
            for i, got in enumerate(self.lines):
                if got == want and self.types[i] in b"TtWwA":
                    return self.starts[i]
            return None
        for pos in self._name_hits(want):       # pos: where the name starts in the file
            i = self._line_at(pos)
            if i is not None and self.types[i] in b"TtWwA":
                return self.starts[i]
        return None

    def _name_hits(self, want: bytes):
        """Offsets in the file of ``want`` as a whole line's tail (after a space, before a newline or the
        end), in file order."""
        data = self.data
        needle = b" " + want + b"\n"
        pos = data.find(needle)
        while pos >= 0:
            yield pos + 1
            pos = data.find(needle, pos + 1)
        if data.endswith(needle[:-1]):
            yield len(data) - len(want)

    def _line_at(self, pos: int) -> int | None:
        """The line whose name starts at ``pos`` (and runs to its end), or None."""
        if self.name_starts is not None:
            i = bisect_right(self.name_starts, pos) - 1
            return i if i >= 0 and self.name_starts[i] == pos else None
        line_start = self.data.rfind(b"\n", 0, pos) + 1
        if pos - line_start != self.name_at:
            return None
        return self.data.count(b"\n", 0, line_start)


def read(path: str) -> Kallsyms:
    """Parse a kallsyms file (OSError when it cannot be read)."""
    with open(path, "rb") as f:
        data = f.read()
    return parse(data)


def parse(data: bytes) -> Kallsyms:
    """``kallsyms__parse`` of ``data``: the C accelerator's columns when it is built and the file is
    well-formed, else the column-wise Python parser, else the line parser."""
    return _parse_c(data) or _parse_columns(data) or _parse_lines(data)


def _parse_c(data: bytes) -> Kallsyms | None:
    from pyperf_probe.perfdata.speedups import speedups
    columns = getattr(speedups, "kallsyms_columns", None)
    got = columns(data) if columns is not None else None
    if got is None:
        return None
    raw_starts, types, raw_name_starts, raw_name_ends, in_order, trampoline = got
    # (the columns read in place, as sequences of ints: no copy into arrays)
    starts = memoryview(raw_starts).cast("Q")
    name_starts, name_ends = memoryview(raw_name_starts).cast("I"), memoryview(raw_name_ends).cast("I")
    return Kallsyms(starts, types, None, None, data, name_starts, name_ends, in_order, trampoline)


def _parse_columns(data: bytes) -> Kallsyms | None:
    """Every line ``%0Nx T name`` with one address width N (16 or 8) and a name that fits: all addresses
    decoded at once. None for anything else (the line parser then does it)."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    if not lines:
        return None
    width = lines[0].find(b" ")
    if width not in (8, 16):
        return None
    step = width + 3
    heads = b"".join([ln[:step] for ln in lines])
    n = len(lines)
    if len(heads) != n * step or heads[width::step] != b" " * n or heads[width + 2::step] != b" " * n or \
            max(map(len, lines)) > step + KSYM_NAME_LEN + 1:
        return None
    types = heads[width + 1::step]
    column = bytearray(heads)
    column[width + 1::step] = b" " * n
    try:
        raw = bytes.fromhex(column.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    starts = array("Q" if width == 16 else "I")
    if starts.itemsize * 2 != width:
        return None
    starts.frombytes(raw)
    if sys.byteorder == "little":
        starts.byteswap()
    if width == 8:
        starts = array("Q", starts)
    return Kallsyms(starts, types, lines, step, data)


def _parse_lines(data: bytes) -> Kallsyms:
    """kallsyms__parse's loop over a buffered reader (tools/lib/api/io.h): ``io__get_hex`` reads the
    address up to the first non-hex character, which must be a space, else the rest of the line is skipped
    (an empty line's newline is taken by io__get_hex, so the line after it is skipped too); then the type,
    a space, and the name up to the newline (at most KSYM_NAME_LEN + 1 characters: the rest of a longer one
    is read as the next line)."""
    starts, types, names = [], bytearray(), []
    pos, end = 0, len(data)
    while pos < end:
        value, digits, ch = 0, 0, -1
        while pos < end:
            ch = data[pos]
            pos += 1
            digit = _HEX_VALUE[ch]
            if digit < 0:
                break
            value = ((value << 4) | digit) & U64
            digits += 1
            ch = -1
        if ch < 0:
            break               # EOF in or right after the address: no symbol
        if not digits or ch != 0x20:
            pos = _after_eol(data, pos)
            continue
        if pos >= end:
            break
        sym_type = data[pos]
        pos += 1
        if pos >= end:
            break
        if data[pos] != 0x20:
            pos = _after_eol(data, pos + 1)
            continue
        pos += 1
        nl = data.find(b"\n", pos)
        stop = end if nl < 0 else nl
        limit = pos + KSYM_NAME_LEN + 1
        if stop >= limit:
            names.append(data[pos:limit])
            pos = limit
        else:
            names.append(data[pos:stop])
            pos = stop + 1
        starts.append(value)
        types.append(sym_type)
    return Kallsyms(array("Q", starts), bytes(types), names, None, data)


_HEX_VALUE = [-1] * 256
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX_VALUE[_c] = 10 + _i


def _after_eol(data: bytes, pos: int) -> int:
    """``read_to_eol``: past the next newline."""
    nl = data.find(b"\n", pos)
    return len(data) if nl < 0 else nl + 1


# ------------------------------------------------------------------------------------------ the tables

class KernelSymbols:
    """A small table of kernel-space symbols, sorted, one per start, with their ends: what a module's dso
    gets from the split (map-relative addresses). ``lookup(addr)`` is perf's ``symbols__find``."""

    __slots__ = ("starts", "ends", "names", "kinds", "source", "path")

    def __init__(self, starts, ends, names: list, kinds: bytes, source: str = ""):
        self.starts, self.ends, self.names, self.kinds = starts, ends, names, kinds
        self.source = self.path = source

    def __len__(self) -> int:
        return len(self.starts)

    def lookup(self, addr: int) -> Symbol | None:
        i = bisect_right(self.starts, addr) - 1
        if i < 0:
            return None
        start, end = self.starts[i], self.ends[i]
        if addr >= end and addr != start:
            return None
        return _symbol(self.names[i], start, end, self.kinds[i])


def _symbol(name: bytes, start: int, end: int, kind: int) -> Symbol:
    """``symbol__new`` of a kallsyms line (``kallsyms2elf_binding``, ``kallsyms2elf_type``)."""
    if kind == 0x57:                    # 'W'
        binding = STB_WEAK
    else:
        binding = STB_GLOBAL if 0x41 <= kind <= 0x5A else STB_LOCAL
    return Symbol(name.decode("utf-8", "replace"), start, end - start,
                  STT_FUNC if kind in b"TtWw" else STT_OBJECT, binding, end)


class KallsymsSymbols:
    """The kernel dso's symbols: a view over the whole parsed file, sorted by start (``order`` maps sorted
    positions to lines when the file was not sorted already). ``lookup`` bisects, then steps over the lines
    perf did not keep, to the symbol perf's steps 1-4 leave there (module docstring); nothing is computed
    for the lines no address falls in. Addresses in the file are the recorded ones plus ``delta``."""

    __slots__ = ("parsed", "starts", "order", "excluded", "delta", "source", "path", "_found")

    def __init__(self, parsed: Kallsyms, starts, order, excluded: set, delta: int, source: str):
        self.parsed, self.starts, self.order, self.excluded, self.delta = parsed, starts, order, excluded, delta
        self.source = self.path = source
        self._found: dict = {}  # bisect position -> (start, end, Symbol) or False (see lookup)

    def __len__(self) -> int:
        return len(self.starts)

    def _line(self, pos: int) -> int:
        return pos if self.order is None else self.order[pos]

    def lookup(self, addr: int) -> Symbol | None:
        """The symbol at ``addr`` (see the class docstring). What follows the bisection depends only on the
        position it gives (the symbol before it and that symbol's end), so it is kept per position: the
        addresses of one function share their walk, end and Symbol (a system-wide -g file: ~3.8K
        kernel addresses, 2.4 us a look-up before)."""
        want = (addr + self.delta) & U64
        pos = bisect_right(self.starts, want) - 1
        got = self._found.get(pos)
        if got is None:
            got = self._found[pos] = self._found_at(pos)
        if got is False:
            return None
        start, end, sym = got
        if want >= end and want != start:
            return None
        return sym

    def _found_at(self, pos: int):
        """(start, end, Symbol) of the kept symbol at or before sorted position ``pos`` (addresses in the
        file's terms), or False when there is none for the kernel there."""
        delta = self.delta
        kept = self.parsed.kept
        while pos >= 0 and not kept(self._line(pos)):
            pos -= 1
        if pos < 0:
            return False
        line = self._line(pos)
        if line in self.excluded:       # a module's, or dropped: no kernel symbol here
            return False
        start = self.starts[pos]
        end = self.end_after(pos, line)
        return start, end, _symbol(self.parsed.name(line).partition(b"\t")[0], (start - delta) & U64,
                                   (end - delta) & U64, self.parsed.types[line])

    def _kernel_positions(self, positions):
        kept, excluded = self.parsed.kept, self.excluded
        for pos in positions:
            line = self._line(pos)
            if kept(line) and line not in excluded:
                yield pos, line

    def first_start(self) -> int | None:
        """The first symbol's start (``map__fixup_start``), None without symbols."""
        for pos, _line in self._kernel_positions(range(len(self.starts))):
            return (self.starts[pos] - self.delta) & U64
        return None

    def last_end(self) -> int | None:
        """The last symbol's end (``map__fixup_end``), None without symbols."""
        for pos, line in self._kernel_positions(range(len(self.starts) - 1, -1, -1)):
            return (self.end_after(pos, line) - self.delta) & U64
        return None

    def end_after(self, pos: int, line: int) -> int:
        """``symbols__fixup_end`` for the kept line at sorted position ``pos``: the next kept start, or
        across a kernel/module boundary ``roundup(start + 4096, 4096)``; for the last one
        ``roundup(start, 4096) + 4096``."""
        start, kept, n = self.starts[pos], self.parsed.kept, len(self.starts)
        nxt = pos + 1
        while nxt < n and not kept(self._line(nxt)):
            nxt += 1
        if nxt == n:
            return (_roundup(start) + PAGE_SIZE) & U64
        if self.parsed.bracket and (b"[" in self.parsed.name(line)) != (b"[" in self.parsed.name(self._line(nxt))):
            return _roundup(start + PAGE_SIZE) & U64
        return self.starts[nxt]


def _roundup(value: int) -> int:
    return (value + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE


class ModuleTarget:
    """What the split needs of a module's map: its start (the module's symbols become relative to it),
    whether its dso was loaded already (``curr_map->dso->loaded``: the run's first symbol is then dropped),
    and ``add(KernelSymbols)`` to give it the symbols moved to it."""

    def __init__(self, start: int, loaded: bool, add):
        self.start, self.loaded, self.add = start, loaded, add


def load(parsed: Kallsyms, ref_reloc: tuple[str, int] | None, find_module, x86_64: bool = True,
         source: str = "") -> KallsymsSymbols | None:
    """The kernel's symbols from a parsed kallsyms (steps 1-4 of the module docstring), or None when the
    relocation symbol is missing from it (perf then has no kernel symbols). ``find_module(name)`` returns
    the ``ModuleTarget`` of the module named ``[name]``, or None when no map has that name; the modules'
    symbols are handed to them here."""
    delta = 0
    if ref_reloc is not None:
        addr = parsed.function_start(ref_reloc[0])
        if addr is None:
            return None
        delta = (addr - ref_reloc[1]) & U64
    starts, order = (parsed.starts, None) if parsed.in_order else _sorted(parsed.starts)
    table = KallsymsSymbols(parsed, starts, order, set(), delta, source)
    if x86_64 and parsed.trampoline:
        table.excluded.update(i for i in parsed.lines_with(_TRAMPOLINE) if parsed.name(i) == _TRAMPOLINE)
    if parsed.tab:
        _split_modules(table, find_module)
    return table


_TRAMPOLINE = ENTRY_TRAMPOLINE_NAME.encode()


def _sorted(starts):
    """The starts in stable sorted order, and the permutation (None when they were sorted): a file sorted
    up to its modules' lines, as /proc/kallsyms is, sorts only its tail."""
    descents = compress(count(1), map(int.__gt__, starts, islice(starts, 1, None)))
    first = next(descents, None)
    if first is None:
        return starts, None
    head_max = max(islice(starts, 0, first))
    # (the permutation as u32, its sorted head never a list: 121K ints are 4.7 MiB, kept with the table)
    if min(islice(starts, first, None)) >= head_max:
        order = array("I", range(first))
        order.extend(sorted(range(first, len(starts)), key=starts.__getitem__))
    else:
        order = array("I", sorted(range(len(starts)), key=starts.__getitem__))
    return array("Q", map(starts.__getitem__, order)), order


def _split_modules(table: KallsymsSymbols, find_module) -> None:
    """``maps__split_kallsyms`` from the first module symbol (by address) on: module symbols go to their
    module (relative to its map) or are dropped, and kernel symbols after a module's go to ``[kernel].N``
    maps nothing looks up (unless no kernel symbol came before: "if (count == 0)"). All of these leave the
    kernel dso (``table.excluded``)."""
    parsed, kept = table.parsed, table.parsed.kept
    tabs = parsed.lines_with(b"\t")
    if not tabs:
        return
    first = min(tabs) if table.order is None else min(_positions(table.order, tabs))
    count_before = any(kept(table._line(p)) and table._line(p) not in table.excluded for p in range(first))
    current, target = None, None        # the module curr_map is, None while it is the kernel's map
    batches: dict = {}
    for pos in range(first, len(table.starts)):
        line = table._line(pos)
        if not kept(line) or line in table.excluded:
            continue
        name = parsed.name(line)
        tab = name.find(b"\t")
        if tab < 0:
            if current is None:
                count_before = True
            elif not count_before:
                current, target, count_before = None, None, True
            else:
                table.excluded.add(line)
            continue
        table.excluded.add(line)
        module = name[tab + 1:]
        if module != current:
            found = find_module(module.decode("utf-8", "replace"))
            if found is None:           # "/proc/{kallsyms,modules} inconsistency": dropped
                current, target = None, None
                continue
            current, target = module, found
            if found.loaded:            # only the run's first symbol is checked, as in perf
                continue
        batch = batches.get(id(target))
        if batch is None:
            batch = batches[id(target)] = (target, [], [], [], bytearray())
        start = table.starts[pos]
        batch[1].append((start - target.start) & U64)
        batch[2].append((table.end_after(pos, line) - target.start) & U64)
        batch[3].append(name[:tab])
        batch[4].append(parsed.types[line])
    for target, b_starts, b_ends, b_names, b_kinds in batches.values():
        target.add(KernelSymbols(array("Q", b_starts), array("Q", b_ends), b_names, bytes(b_kinds),
                                 table.source))


def _positions(order: list, lines: list) -> list:
    """The sorted positions of some lines (``order`` maps positions to lines)."""
    wanted = set(lines)
    return [pos for pos, line in enumerate(order) if line in wanted]


# ------------------------------------------------------------------- a copy standing for /proc/kallsyms

RELOC_LINES = (b" _text\n", b" _stext\n")   # machine.c's ref_reloc_sym_names, as whole names
HEAD_LIMIT = 1 << 16


def running_core(host: "Host", copies) -> Kallsyms | None:
    """The running kernel's own symbols (``/proc/kallsyms`` up to its first module line) parsed from a copy
    of that file which perf record (or pyperf record) kept in the build-id cache, when the copy is known to
    hold the same lines: None otherwise (the caller then reads ``/proc/kallsyms``, 5 MB of text the kernel
    formats at every read: ~36 ms of system time, the largest part of a system-wide report's kernel side).

    Reading /proc/kallsyms gives the kernel's own symbols, then the dynamic ones (every line with a tab:
    modules, ``[__builtin__ftrace]``, ``[bpf]``, ``[__builtin__kprobes]``). The first part is fixed for a
    boot but for the addresses' visibility; ``copies`` (paths, the first existing one taken) are the
    build-id cache's names for the running kernel's build-id. A copy stands for the file when:

    * it was written during this boot (its mtime not before ``Host.boot_time``): the kernel image is the
      same one (the build-id) and so is its relocation, whatever randomizes it at boot;
    * its first bytes equal /proc/kallsyms' first bytes through the relocation symbol's line (``_text`` or
      ``_stext``; one or two 4 KiB reads the kernel formats cheaply): the same addresses are shown the
      same way (kptr_restrict, credentials);
    * it has the shape /proc/kallsyms has: lines with a tab only after every line without one.

    The dynamic lines are left out, for the copy's are those of the recording's time: the caller uses this
    only where they cannot change what the load gives (``session.kernel``: x86_64, no module maps)."""
    copy = next((path for path in copies if os.path.isfile(path)), None)
    if copy is None:
        return None
    booted = host.boot_time()
    try:
        if booted is None or os.stat(copy).st_mtime < booted:
            return None
        head = _head(host.kallsyms)
        if head is None:
            return None
        with open(copy, "rb") as f:
            data = _kernel_part(f, head)
    except (OSError, ValueError):
        return None
    return parse(data) if data else None


def _kernel_part(f, head: bytes) -> bytes | None:
    """The lines of an open kallsyms copy up to its first line with a tab, when it starts with ``head``,
    ends with a newline and has no line without a tab after that one; else None. The file is mapped to
    find the cut and only the part kept is read (one copy of it in memory, not two: 5 MB of fresh pages
    cost ~1 ms of page faults)."""
    import mmap
    size = os.fstat(f.fileno()).st_size
    if size < len(head) or not size:
        return None
    with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as m:
        if m[:len(head)] != head or m[size - 1:] != b"\n":
            return None
        tab = m.find(b"\t")
        cut = size if tab < 0 else m.rfind(b"\n", 0, tab) + 1
        if not all(b"\t" in line for line in m[cut:].split(b"\n")[:-1]):
            return None
    f.seek(0)
    data = f.read(cut)
    return data if len(data) == cut else None


def _head(path: str) -> bytes | None:
    """The first bytes of a kallsyms file through its ``_text`` line (else its ``_stext`` line: perf's
    relocation symbols, in its order), at most HEAD_LIMIT bytes; None without either."""
    head = b""
    with open(path, "rb", buffering=0) as f:
        while len(head) < HEAD_LIMIT:
            got = f.read(4096)
            if not got:
                break
            head += got
            if RELOC_LINES[0] in head:
                break
    for line in RELOC_LINES:
        end = head.find(line)
        if end >= 0:
            return head[:end + len(line)]
    return None


# ------------------------------------------------------------------------------- the running system

class Host:
    """Where the running system's kernel files are: ``/proc/kallsyms``, ``/proc/modules``,
    ``/sys/kernel/notes``, ``/proc/sys/kernel/kptr_restrict`` and ``perf_event_paranoid``, under ``root``
    (``$PYPERF_HOST_ROOT``, else ``/``): tests point it at a made-up system, e.g. one whose kernel differs
    from the recorded one."""

    def __init__(self, root: str | None = None):
        if root is None:
            root = os.environ.get("PYPERF_HOST_ROOT") or "/"
        self.root = root

    def path(self, absolute: str) -> str:
        return absolute if self.root == "/" else os.path.join(self.root, absolute.lstrip("/"))

    @property
    def kallsyms(self) -> str:
        return self.path("/proc/kallsyms")

    @property
    def modules(self) -> str:
        return self.path("/proc/modules")

    @property
    def notes(self) -> str:
        return self.path("/sys/kernel/notes")

    def _read_int(self, absolute: str) -> int | None:
        try:
            with open(self.path(absolute)) as f:
                return int(f.readline().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def boot_time(self) -> float | None:
        """When the running kernel booted (seconds since the epoch): now less ``/proc/uptime``'s first
        number; None when it cannot be read."""
        import time
        try:
            with open(self.path("/proc/uptime"), "rb") as f:
                return time.time() - float(f.read(64).split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kernel_build_id(self) -> str | None:
        """``sysfs__read_build_id("/sys/kernel/notes")``."""
        from pyperf_probe.symbols import elf
        return elf.notes_build_id(self.notes)

    def kptr_restrict(self) -> bool:
        """``symbol__read_kptr_restrict``: kptr_restrict >= 2 (>= 1 without CAP_SYSLOG) hides kernel
        addresses, as does perf_event_paranoid > 1 without CAP_SYSLOG."""
        syslog = has_cap_syslog()
        value = self._read_int("/proc/sys/kernel/kptr_restrict")
        restricted = False
        if value is not None:
            restricted = value >= 2 if syslog else value != 0
        paranoid = self._read_int("/proc/sys/kernel/perf_event_paranoid")
        if paranoid is not None and paranoid > 1 and not syslog:
            restricted = True
        return restricted

    def restricted_filename(self, filename: str, restricted: str, kptr_restrict: bool) -> bool:
        """``symbol__restricted_filename``: under kptr_restrict, the running system's file itself."""
        if not kptr_restrict:
            return False
        try:
            return os.path.realpath(filename, strict=True) == os.path.realpath(self.path(restricted))
        except OSError:
            return False


CAP_SYSLOG = 34


def has_cap_syslog() -> bool:
    """``perf_cap__capable(CAP_SYSLOG)``: the effective capability set of this process."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYSLOG & 1)
    except (OSError, ValueError, IndexError):
        pass
    return os.geteuid() == 0
