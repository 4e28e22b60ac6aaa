"""Inline frames at an address, as perf report gets them from ``addr2line -i -f`` (srcline.c).

For each unit, the subprograms' ranges are indexed once (sorted intervals, bisect); for each function, the
tree of its ``DW_TAG_inlined_subroutine`` DIEs is flattened once into intervals with parent links. A lookup
is then: unit by .debug_aranges, function by bisect, innermost inlined interval holding the address, and the
chain of its parents. Names follow binutils' dwarf2.c: DW_AT_linkage_name when present (demangled as perf
does, without parameters), else DW_AT_name, through DW_AT_abstract_origin / DW_AT_specification.
"""
from __future__ import annotations

import bisect
from typing import Dict, List, Optional, Tuple

from pyperf_probe.symbols import dwarf_dies as D
from pyperf_probe.symbols.demangle import demangle


def frame_name(die) -> str:
    raw = D.linkage_name(die) or D.diename(die)
    if raw is None:
        return "??"
    return demangle(raw)


class _FuncTree:
    """The inlined subroutines of one function: (low, high, parent index, name) in DIE order."""

    def __init__(self, func):
        self.name = frame_name(func)
        self.nodes: List[Tuple[int, int, int, str]] = []
        self._add(func, -1)

    def _add(self, die, parent: int) -> None:
        for child in die.iter_children():
            index = parent
            if child.tag == "DW_TAG_inlined_subroutine":
                name = frame_name(child)
                index = len(self.nodes)
                for low, high in D.ranges(child):
                    self.nodes.append((low, high, parent, name))
                if not D.ranges(child):
                    self.nodes.append((0, 0, parent, name))
            if child.has_children:
                self._add(child, index)

    def chain(self, svma: int) -> List[str]:
        best = -1
        for i, (low, high, _parent, _name) in enumerate(self.nodes):
            if low <= svma < high:
                best = i  # later nodes in DIE order are nested deeper
        names = []
        while best >= 0:
            names.append(self.nodes[best][3])
            best = self._parent_node(best)
        names.append(self.name)
        return names

    def _parent_node(self, i: int) -> int:
        return self.nodes[i][2]


class _UnitFuncs:
    """Sorted subprogram ranges of one unit."""

    def __init__(self, unit):
        spans = []
        for func in D.getfuncs(unit.die):
            for low, high in D.ranges(func):
                spans.append((low, high, func))
        spans.sort(key=lambda s: s[0])
        self.lows = [s[0] for s in spans]
        self.spans = spans
        self.trees: Dict[int, _FuncTree] = {}

    def tree_at(self, svma: int) -> Optional[_FuncTree]:
        i = bisect.bisect_right(self.lows, svma) - 1
        # the nearest span starting at or before svma holds it, unless ranges overlap: look a little further
        for j in range(i, max(i - 8, -1), -1):
            low, high, func = self.spans[j]
            if low <= svma < high:
                tree = self.trees.get(func.offset)
                if tree is None:
                    tree = self.trees[func.offset] = _FuncTree(func)
                return tree
        return None


class InlineIndex:
    """Inline frames of one DWARF file, by svma."""

    def __init__(self, dwarf):
        self._dwarf = dwarf
        self._units: Dict[int, _UnitFuncs] = {}

    def frames(self, svma: int) -> List[str]:
        unit = self._dwarf.unit_at(svma)
        if unit is None:
            return []
        funcs = self._units.get(unit.offset)
        if funcs is None:
            funcs = self._units[unit.offset] = _UnitFuncs(unit)
        tree = funcs.tree_at(svma)
        return tree.chain(svma) if tree is not None else []
