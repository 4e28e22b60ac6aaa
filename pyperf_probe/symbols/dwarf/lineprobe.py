"""Probe sites from source lines: ``FUNC:RLN``, ``SRC:ALN`` and lazy patterns ``FUNC;PTN`` / ``SRC;PTN``.

probe-finder.c: ``find_probe_point_by_line`` walks the unit's lines for the wanted (file, line) and checks
each address with ``verify_representive_line``; ``find_probe_point_lazy`` matches the source text with
``strlazymatch`` (a glob that ignores white space) and walks the function's lines. Each address then gets
its scope from ``find_best_scope``: the named function among the functions and inlined copies at the
address, else the one declared nearest above the line.
"""
from __future__ import annotations

import errno as E
import fnmatch
import os
from typing import Iterable, List, Optional, Set

from pyperf_probe.errors import ProbeError
from pyperf_probe.symbols.dwarf import dies as D
from pyperf_probe.symbols.dwarf.funcs import match_name, name_matcher, strtailcmp
from pyperf_probe.symbols.dwarf.linewalk import walk_lines


def scope_chain(unit, svma: int) -> List:
    """perf's ``cu_walk_functions_at``: the real function at ``svma``, then each inlined copy inside it."""
    func = unit.realfunc(svma)
    chain = []
    while func is not None:
        chain.append(func)
        func = next((d for d in D.walk(func) if d.tag == "DW_TAG_inlined_subroutine" and D.haspc(d, svma)),
                    None)
    return chain


def best_scope(unit, svma: int, function: Optional[str], fname: Optional[str], line: int):
    """perf's ``find_best_scope``."""
    chain = scope_chain(unit, svma)
    matches = name_matcher(function) if function else None
    best, diff = None, None
    for die in chain:
        if fname is not None and unit.decl_file(die) != fname:
            continue
        if matches is not None:
            if match_name(die, matches):
                return die
            continue
        decl = unit.decl_line(die) or 0
        if decl < line and (diff is None or diff > line - decl):
            best, diff = die, line - decl
    if best is None and chain:
        return chain[0]
    return best


def realpath_in_unit(unit, file: str) -> Optional[str]:
    """perf's ``cu_find_realpath``: the unit's file name that ``file`` is a tail of (or the reverse)."""
    return next((f for f in unit.files if f and strtailcmp(f, file)), None)


def sites_by_line(unit, fname: str, line: int, function: Optional[str]):
    """(svma, scope DIE) for every address of ``fname:line`` in the unit (``find_probe_point_by_line``)."""
    out = []
    for wfile, wline, svma in walk_lines(unit, None):
        if wline != line or not strtailcmp(wfile, fname):
            continue
        _verify_representive(unit, wfile, wline, svma, function)
        scope = best_scope(unit, svma, function, fname, line)
        if scope is None:
            raise ProbeError("Failed to find scope of probe point.", errno=E.ENOENT)
        out.append((svma, scope))
    return out


def _verify_representive(unit, fname: str, line: int, svma: int, function: Optional[str]) -> None:
    found = unit.lineinfo(svma)
    if found is None or found[0] != fname or found[1] == line:
        return
    where, other = found[0], found[1]
    if function:
        scope = best_scope(unit, svma, function, fname, line)
        if scope is not None and match_name(scope, name_matcher(function)) and unit.decl_line(scope) is not None:
            where, other = D.diename(scope), other - unit.decl_line(scope)
    raise ProbeError("This line is sharing the address with other lines.\n"
                     f"Please try to probe at {where}:{other} instead.", errno=E.ENOENT)


def lazy_match(text: str, pattern: str) -> bool:
    """perf's ``strlazymatch``: a glob match in which white space is ignored on both sides."""
    squeeze = str.maketrans("", "", " \t\n\r\f\v")
    return fnmatch.fnmatchcase(text.translate(squeeze), pattern.translate(squeeze))


def source_path(raw: str, comp_dir: Optional[str]) -> str:
    """perf's ``find_source_path`` without --source: relative paths under the unit's DW_AT_comp_dir."""
    path = os.path.join(comp_dir, raw) if not raw.startswith("/") and comp_dir else raw
    if not os.access(path, os.R_OK):
        raise ProbeError("Failed to find source file path.", errno=E.ENOENT)
    return path


def lazy_lines(unit, fname: str, pattern: str) -> Set[int]:
    """Line numbers of ``fname`` whose text matches the lazy pattern (``find_lazy_match_lines``)."""
    path = source_path(fname, unit.comp_dir)
    try:
        with open(path, "rb") as src:
            lines = src.read().decode("utf-8", "replace").split("\n")
    except OSError as err:
        raise ProbeError(f"Failed to open {path}: {err.strerror}", errno=err.errno) from None
    return {i + 1 for i, text in enumerate(lines) if lazy_match(text, pattern)}


def sites_by_lazy(unit, rt_die, fname: str, wanted: Iterable[int], function: Optional[str]):
    """(svma, scope DIE) for the addresses of the matching lines (``probe_point_lazy_walker``)."""
    wanted = set(wanted)
    out = []
    for wfile, wline, svma in walk_lines(unit, rt_die):
        if wline not in wanted or not strtailcmp(wfile, fname):
            continue
        scope = best_scope(unit, svma, function, fname, wline)
        if scope is None:
            raise ProbeError("Failed to find scope of probe point.", errno=E.ENOENT)
        out.append((svma, scope))
    return out
