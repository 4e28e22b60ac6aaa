"""Inline frames at an address, as perf report gets them from ``addr2line -a -i -f`` (srcline.c).

Debian's perf 6.1 has no libbfd: it runs binutils' addr2line, one process per DSO, and turns each reported
function into a frame (``new_inline_sym``). pyperf gives the same names without a subprocess, following
binutils 2.40 dwarf2.c:

* the innermost DWARF function holding the address (an inlined copy or the real function), then its
  callers up to the real function;
* names: DW_AT_linkage_name when present, else DW_AT_name, through abstract origins and specifications;
  perf demangles them (without parameters);
* for the innermost one only, a name that is not a "linkage" name (a C++ unit's ``main`` or an
  ``extern "C"`` inline such as ``atoi``; C units' names count as linkage names, bfd's ``non_mangled``) is
  replaced by the ELF symbol holding the address - and bfd then remembers that name as found, so the next
  lookups in the same addr2line process use the DWARF name (or the symbol's, when the symbol starts where
  the function does). :class:`InlineIndex` keeps that state, like perf's long-lived addr2line.

Per unit, the subprograms' ranges are indexed once (sorted, bisect); per function, its inlined-subroutine
tree is flattened once into intervals. Lookups are cached per address by the caller.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable

from pyperf_probe.symbols.dwarf import dies as D
from pyperf_probe.symbols.dwarf.scan import TAG_INLINED_SUBROUTINE, TAG_SUBPROGRAM, FuncDie

# binutils dwarf2.c non_mangled(): languages whose DW_AT_name is the symbol name
_NON_MANGLED_LANGS = frozenset((0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x09, 0x0C, 0x0D, 0x0F, 0x12, 0x1D, 0x8001))
SymbolAt = Callable[[int], tuple[str, int] | None]


class _Record:
    """bfd's ``struct funcinfo`` for one DIE: its name, whether it counts as a linkage name, first range."""
    __slots__ = ("name", "is_linkage", "low", "parent")

    def __init__(self, name: str | None, is_linkage: bool, low: int, parent: int):
        self.name, self.is_linkage, self.low, self.parent = name, is_linkage, low, parent


class _FuncTree:
    """One real function: record 0 is the function, the others its inlined copies, with their intervals."""

    def __init__(self):
        self.records: list[_Record] = []
        self.spans: list[tuple[int, int, int]] = []

    def innermost(self, svma: int) -> int:
        best = 0
        for low, high, index in self.spans:
            if low <= svma < high:
                best = index  # later spans in DIE order are nested deeper
        return best


class _UnitFuncs:
    """The functions of one unit (from dwarf.scan, or pyelftools when the scanner cannot read the unit):
    sorted spans of the real functions, and their trees built on first use."""

    def __init__(self, lang: int, funcs: list[FuncDie], resolve_far):
        self.c_unit = lang in _NON_MANGLED_LANGS
        self.funcs = funcs
        self._by_offset = {f.offset: f for f in funcs}
        self._resolve_far = resolve_far
        self._children: dict[int, list[int]] = {}
        spans = []
        for i, func in enumerate(funcs):
            if func.tag == TAG_INLINED_SUBROUTINE:
                self._children.setdefault(func.parent, []).append(i)
            elif func.ranges and (func.parent < 0 or funcs[func.parent].tag != TAG_INLINED_SUBROUTINE):
                spans.extend((low, high, i) for low, high in func.ranges)
        spans.sort()
        self.lows = [s[0] for s in spans]
        self.spans = spans
        self.trees: dict[int, _FuncTree] = {}

    def tree_at(self, svma: int) -> _FuncTree | None:
        i = bisect.bisect_right(self.lows, svma) - 1
        # the nearest span starting at or before svma holds it, unless ranges overlap: look a little further
        for j in range(i, max(i - 8, -1), -1):
            low, high, index = self.spans[j]
            if low <= svma < high:
                tree = self.trees.get(index)
                if tree is None:
                    tree = self.trees[index] = self._tree(index)
                return tree
        return None

    def _tree(self, root: int) -> _FuncTree:
        tree = _FuncTree()
        todo = [(root, -1)]
        while todo:
            index, parent = todo.pop(0)
            func = self.funcs[index]
            name, linkage = self._name(func)
            me = len(tree.records)
            tree.records.append(_Record(name, linkage, func.ranges[0][0] if func.ranges else 0, parent))
            if index != root:
                tree.spans.extend((low, high, me) for low, high in func.ranges)
            todo[0:0] = [(child, me) for child in self._children.get(index, [])]
        return tree

    def _name(self, func: FuncDie) -> tuple[str | None, bool]:
        """binutils: DW_AT_linkage_name wins, else DW_AT_name (a linkage name in C units), through origins."""
        name = None
        for _ in range(16):
            if func.linkage:
                return func.linkage, True
            name = name or func.name
            if func.origin is None:
                break
            nxt = self._by_offset.get(func.origin) or self._resolve_far(func.origin)
            if nxt is None:
                break
            func = nxt
        return name, name is not None and self.c_unit


def _pyelftools_funcs(unit) -> tuple[int, list[FuncDie]]:
    """The same records as dwarf.scan, read through pyelftools (the slow path)."""
    lang = unit.die.attributes.get("DW_AT_language")
    funcs: list[FuncDie] = []

    def visit(die, parent: int) -> None:
        for child in die.iter_children():
            index = parent
            if child.tag in ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine"):
                index = len(funcs)
                funcs.append(_func_die(child, parent))
            if child.has_children:
                visit(child, index)
    visit(unit.die, -1)
    return (lang.value if lang is not None else 0), funcs


def _func_die(die, parent: int) -> FuncDie:
    tag = TAG_SUBPROGRAM if die.tag == "DW_TAG_subprogram" else TAG_INLINED_SUBROUTINE
    attrs = die.attributes

    def text(name):
        value = attrs.get(name)
        return value.value.decode("utf-8", "replace") if value is not None and isinstance(value.value, bytes) \
            else None
    origin = None
    for via in ("DW_AT_abstract_origin", "DW_AT_specification"):
        if via in attrs:
            value = attrs[via]
            origin = value.value + (0 if value.form == "DW_FORM_ref_addr" else die.cu.cu_offset)
            break
    return FuncDie(die.offset, tag, parent, text("DW_AT_name"),
                   text("DW_AT_linkage_name") or text("DW_AT_MIPS_linkage_name"), origin, D.ranges(die))


# What libiberty's cplus_demangle (auto style) may change: GNU v3 and legacy Rust (_Z), Rust v0 (_R), and
# the _GLOBAL_ constructor/destructor names; any other name comes back as it is.
_MANGLED_PREFIXES = ("_Z", "_R", "_GLOBAL_")


def _demangled(name: str) -> str:
    """perf's demangling of a DWARF name; the demangler (ctypes, libbfd: ~20 ms to import and load) is
    loaded only for a name it may change, so a C program's inline frames never load it."""
    if not name.startswith(_MANGLED_PREFIXES):
        return name
    from pyperf_probe.symbols.demangle import demangle
    return demangle(name)


class InlineIndex:
    """Inline frames of one DWARF file, by svma, with the state of one addr2line process."""

    def __init__(self, dwarf, symbol_at: SymbolAt | None = None):
        self._dwarf = dwarf
        self._symbol_at = symbol_at
        self._units: dict[int, _UnitFuncs] = {}

    def _unit_funcs(self, cu_offset: int) -> _UnitFuncs:
        funcs = self._units.get(cu_offset)
        if funcs is None:
            scanned = self._dwarf.scan_unit(cu_offset)
            lang, records = scanned if scanned is not None else _pyelftools_funcs(self._dwarf.unit(cu_offset))
            funcs = self._units[cu_offset] = _UnitFuncs(lang, records, self._far)
        return funcs

    def _far(self, offset: int) -> FuncDie | None:
        """A DIE of another unit (DW_FORM_ref_addr), through pyelftools."""
        try:
            die = self._dwarf.dwarfinfo.get_DIE_from_refaddr(offset)
        except Exception:  # a broken reference: bfd gives up on the name the same way
            return None
        return _func_die(die, -1)

    def frames(self, svma: int) -> list[str]:
        """Names innermost first, the real function last; [] when no DWARF function holds ``svma``."""
        cu_offset = self._dwarf.unit_offset_at(svma)
        if cu_offset is None:
            return []
        tree = self._unit_funcs(cu_offset).tree_at(svma)
        if tree is None:
            return []
        index = tree.innermost(svma)
        names = [self._innermost_name(tree.records[index], svma)]
        index = tree.records[index].parent
        while index >= 0:
            names.append(tree.records[index].name or "??")
            index = tree.records[index].parent
        return [_demangled(n) for n in names]

    def _innermost_name(self, record: _Record, svma: int) -> str:
        if record.is_linkage or self._symbol_at is None:
            return record.name or "??"
        found = self._symbol_at(svma)
        name = record.name
        if found is not None:
            name = found[0]
            if found[1] == record.low:
                record.name = found[0]
        record.is_linkage = True
        return name or "??"
