"""Address -> probe point, perf's ``debuginfo__find_probe_point`` (probe-finder.c).

The real function holding the address gives the name (its linkage name when it has one, as perf 6.1's
"Firstly try to get distinct linkage name") and the declaration line; the line row starting at
the address (if any) gives the line. At an inline function's entry, the call site's line is used; inside
an inlined body, the inlined function becomes the reference. The line becomes relative to the function's
declaration; without a usable line, perf falls back to an offset from the real function's entry.
"""
from __future__ import annotations

from typing import Optional, Tuple

from pyperf_probe.symbols.dwarf import dies as D


def _top_inline(die, svma: int):
    """perf's ``die_find_top_inlinefunc``: the first inlined subroutine (depth first) holding svma."""
    for child in D.walk(die):
        if child.tag == "DW_TAG_inlined_subroutine" and D.haspc(child, svma):
            return child
    return None


def find_probe_point(unit, svma: int) -> Optional[Tuple[Optional[str], Optional[str], int, int]]:
    """(function, file, relative line, offset) or None, exactly as perf fills ``perf_probe_point``."""
    found = unit.lineinfo(svma)
    fname, lineno = found if found else (None, 0)
    func = basefunc = None
    baseline = baseaddr = 0
    sp_die = unit.realfunc(svma)
    if sp_die is not None:
        # perf >= 5.15 prefers the linkage name (glibc: __GI___libc_malloc for __libc_malloc)
        func = basefunc = D.linkage_name(sp_die) or D.diename(sp_die)
        baseaddr = D.die_entrypc(sp_die)
        decl = unit.decl_line(sp_die)
        if not func or baseaddr is None or decl is None:
            lineno = 0
        else:
            baseline = decl
            fname = unit.decl_file(sp_die)
            if svma == baseaddr:
                lineno = baseline
            else:
                func, fname, lineno, baseline = _track_inlines(unit, sp_die, svma, func, fname, lineno, baseline)
    if lineno:
        line, offset = lineno - baseline, 0
    else:
        line, offset = 0, (svma - baseaddr if basefunc else 0)
        if basefunc:
            func = basefunc
    if not (fname or func):
        return None
    return func, fname, line, offset


def _track_inlines(unit, sp_die, svma, func, fname, lineno, baseline):
    while True:
        inline = _top_inline(sp_die, svma)
        if inline is None:
            break
        if D.die_entrypc(inline) == svma:
            call_line = inline.attributes.get("DW_AT_call_line")
            lineno = call_line.value if call_line is not None else 0
            fname = unit.call_file(inline)
            break
        name, decl = D.diename(inline), unit.decl_line(inline)
        if not name or decl is None:
            break
        func, baseline, sp_die = name, decl, inline
    if unit.decl_file(sp_die) != fname:
        lineno = 0
    return func, fname, lineno, baseline
