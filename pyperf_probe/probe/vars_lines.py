"""``-V`` (variables at a probe point) and ``-L`` (source lines), both from DWARF
(probe-event.c ``show_available_vars`` and ``show_line_range``)."""
from __future__ import annotations

import errno as errno_mod
from typing import Callable, List, Optional, Sequence, Tuple

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.dwarfpath import alternative_point, no_debuginfo_message, open_dwarf
from pyperf_probe.probe.spec import ProbeSpec
from pyperf_probe.probe.strfilter import StrFilter

Warn = Callable[[str], None]


def vars_text(events: Sequence[Tuple[ProbeSpec, Optional[str]]], flt: StrFilter, *, externs: bool, warn: Warn,
              no_inlines: bool, max_probes: int, ranges: bool = False) -> str:
    out = []
    for spec, target in events:
        if not target:
            raise ProbeError("pyperf probes user-space programs only: give the program or library with -x.",
                             errno=errno_mod.EINVAL)
        dinfo = open_dwarf(target)
        if dinfo is None:
            warn(no_debuginfo_message(target))
            raise ProbeError("", errno=errno_mod.ENOENT)
        out.append(_vars_at(dinfo, spec, target, flt, externs, warn, no_inlines, ranges))
    return "".join(out)


def _sites(dinfo, spec: ProbeSpec, no_inlines: bool, warn: Optional[Warn] = None):
    p = spec.point
    if p.line or p.lazy_line or not p.function:
        return dinfo.line_sites(function=p.function, file=p.file, line=p.line, lazy=p.lazy_line)
    # for_vars: perf -V lists a site whose probe point it cannot name as @<(null)+0> (after a warning)
    return dinfo.function_sites(p.function, file=p.file, no_inlines=no_inlines, warn=warn, for_vars=True)


def _vars_at(dinfo, spec: ProbeSpec, target: str, flt: StrFilter, externs: bool, warn: Warn,
             no_inlines: bool, ranges: bool = False) -> str:
    not_found = f"Failed to find the address of {spec.point.text()}"
    try:
        sites = _sites(dinfo, spec, no_inlines, warn)
    except ProbeError as err:   # perf: -ENOENT from the search is "Failed to find the address of"
        if err.errno != errno_mod.ENOENT:
            raise
        if err.message:
            warn(err.message.rstrip("\n") + "\n")
        raise ProbeError(not_found, errno=errno_mod.ENOENT) from None
    if not sites and (spec.point.file or not spec.point.function):
        # perf's alternative search refuses points with a file (-ENOTSUP): "Debuginfo analysis failed."
        raise ProbeError("Debuginfo analysis failed.", errno=errno_mod.ENOTSUP)
    if not sites:
        alt = alternative_point(dinfo, spec, target, warn)
        if alt is not None:
            sites = _sites(dinfo, spec.with_point(alt), no_inlines, warn)
    if not sites:
        raise ProbeError(not_found, errno=errno_mod.ENOENT)
    lines = [f"Available variables at {spec.point.text()}\n"]
    for site in sites:
        found = dinfo.variables_at(site, externs=externs, svma=site.entry_svma + spec.point.offset,
                                   ranges=ranges)
        lines.append(f"\t@<{found.symbol}+{found.offset}>\n")
        shown = [v for v in found.variables if flt.compare(v.split("\t", 1)[-1])]
        lines.extend(f"\t\t{v}\n" for v in shown)
        if not shown:
            lines.append("\t\t(No matched variables)\n")
    return "".join(lines)


def lines_text(target: str, desc: str, *, warn: Warn) -> str:
    dinfo = open_dwarf(target)
    if dinfo is None:
        warn(no_debuginfo_message(target))
        raise ProbeError("", errno=errno_mod.ENOENT)
    from types import SimpleNamespace

    from pyperf_probe.probe.show import lines_text as show_lines
    from pyperf_probe.probe.spec import ProbePoint

    def alternative(function: str, line: int):
        """perf's get_alternative_line_range, through the symbol-table retry of the probe search."""
        alt = alternative_point(dinfo, SimpleNamespace(point=ProbePoint(function=function, line=line)),
                                target, warn)
        return (alt.function, alt.file, alt.line) if alt is not None else None
    return show_lines(dinfo, desc, alternative)
