"""Source lines for ``perf probe -L`` and for ``FUNC:RLN``, ``SRC:ALN``, ``FUNC;PTN`` probe points.

perf's ``die_walk_lines`` (dwarf-aux.c) yields (file, line, address) from the unit's line table - statement
rows only, filtered to a function's ranges and away from inlined code that is not a call site - and then
from the DIEs: function entries on their declaration line, inlined copies on their call line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from pyperf_probe.symbols.dwarf import dies as D
from pyperf_probe.symbols.dwarf.funcs import strtailcmp

Walked = Tuple[str, int, int]  # (file, line, svma)


def deepest_inline(die, svma: int):
    """perf's ``die_find_inlinefunc``: the innermost inlined subroutine under ``die`` holding ``svma``."""
    found = None
    cur = die
    while True:
        inner = next((d for d in D.walk(cur) if d.tag == "DW_TAG_inlined_subroutine" and D.haspc(d, svma)),
                     None)
        if inner is None:
            return found
        found = cur = inner


def walk_lines(unit, rt_die=None) -> Iterator[Walked]:
    """``die_walk_lines`` over a function (``rt_die``) or, with None, the whole unit."""
    for fname, line, svma, _path in walk_lines_paths(unit, rt_die):
        yield fname, line, svma


def walk_lines_paths(unit, rt_die=None):
    """:func:`walk_lines` with the call path of perf's callback for each line ("row", "decl", or
    ("call", depth)), which decides what perf's stale locals hold (see :class:`StaleLineinfo`)."""
    decl = decf = None
    if rt_die is not None:
        decl, decf = unit.decl_line(rt_die), unit.decl_file(rt_die)
    for row in unit.lines.rows:
        if row.end_sequence or not row.is_stmt:
            continue
        if rt_die is not None and not _keep_in_function(unit, rt_die, row, decl, decf):
            continue
        yield row.file, row.line, row.svma, "row"
    if rt_die is not None:
        yield from _func_lines(unit, rt_die, recursive=False)
    else:
        for func in D.getfuncs(unit.die):
            yield from _func_lines(unit, func, recursive=True)


def _keep_in_function(unit, rt_die, row, decl, decf) -> bool:
    if not D.haspc(rt_die, row.svma):
        return False
    inline = deepest_inline(rt_die, row.svma)
    if inline is None:
        return True
    call_line = inline.attributes.get("DW_AT_call_line")
    if unit.call_file(inline) == decf and call_line is not None and call_line.value == row.line:
        return True
    return unit.decl_line(inline) == decl and unit.decl_file(inline) == decf


def _func_lines(unit, func, recursive: bool) -> Iterator[Walked]:
    """``__die_walk_funclines``: the declaration line at the entry, then inlined call sites."""
    fname, line, entry = unit.decl_file(func), unit.decl_line(func), D.die_entrypc(func)
    if fname and line is not None and entry is not None:
        yield fname, line, entry, "decl"
    yield from _call_sites(unit, func, recursive, 1)


def _call_sites(unit, die, recursive: bool, depth: int):
    for child in die.iter_children():
        if child.tag == "DW_TAG_inlined_subroutine":
            fname = unit.call_file(child)
            call_line = child.attributes.get("DW_AT_call_line")
            entry = D.die_entrypc(child)
            if fname and call_line is not None and call_line.value > 0 and entry is not None:
                yield fname, call_line.value, entry, ("call", depth)
            if not recursive:
                continue
        if child.has_children:
            yield from _call_sites(unit, child, recursive, depth + 1)


class StaleLineinfo:
    """perf's ``cu_find_lineinfo`` as its callers see it: when it finds nothing it leaves the caller's
    uninitialized ``__fname``/``__lineno`` alone, and those stack slots hold what the previous call of the
    same callback stored. perf 6.1 thus drops a line whose address has no row of its own (an inlined
    destructor's call site in a cold block) when the line walked before it was found; pyperf replays that
    with one value per search. This is undefined behaviour in perf, so the replay is approximate: which
    stack slot a call reuses depends on its call path."""

    def __init__(self, unit):
        self.unit = unit
        self.last: Optional[Tuple[str, int]] = None

    def __call__(self, svma: int, path="row") -> Optional[Tuple[str, int]]:
        # ``path`` would select the stack slot; one shared value matched perf best on the workloads
        # (all but 2 of 168 C++ functions' -L listings; per-path values: 3)
        found = self.unit.lineinfo(svma)
        if found is not None:
            self.last = found
        return self.last


def reversible(lineinfo, fname: str, line: int, svma: int, path="row") -> bool:
    """``line_range_walk_cb``'s check: the line perf reads back for ``svma`` is the same line."""
    found = lineinfo(svma, path)
    return found is None or (found[1] == line and found[0] == fname)


@dataclass(frozen=True)
class LineRange:
    """perf's ``line_range`` after ``debuginfo__find_line_range``: absolute [start, end] (end None for
    "to the end"), the probe-able lines, the source path as DWARF names it, and the function's declaration
    line (``offset``, 0 for a file range)."""
    function: Optional[str]
    path: str
    start: int
    end: Optional[int]
    offset: int
    lines: Tuple[int, ...]
    comp_dir: Optional[str]


def probeable_lines(unit, rt_die, fname: str, start: int, end: Optional[int],
                    lineinfo: Optional[StaleLineinfo] = None) -> Tuple[List[int], Optional[str]]:
    """The lines of ``fname`` in [start, end] that have a reversible address in ``rt_die`` (or the unit),
    and the file name of the first one (perf's ``lr->path``). Pass one ``lineinfo`` for a whole search:
    perf's stale values outlive one instance's walk."""
    found, path = set(), None
    if lineinfo is None or lineinfo.unit is not unit:
        lineinfo = StaleLineinfo(unit)
    for wfile, line, svma, call_path in walk_lines_paths(unit, rt_die):
        if not strtailcmp(wfile, fname) or line < start or (end is not None and line > end):
            continue
        if reversible(lineinfo, wfile, line, svma, call_path):
            found.add(line)
            path = path or wfile
    return sorted(found), path
