"""The debug-info half of perf's conversion (probe-event.c ``try_to_find_probe_trace_events`` and
probe-finder.c ``debuginfo__find_trace_events``), on top of symbols/dwarf.py.

* Return probes never come here (perf's gcc #98776 workaround: they always use the symbol table).
* No debug info: None (use symbols), unless the definition needs DWARF: "The X file has no debug information."
* Each site of ``FUNC[@SRC]`` (concrete functions and inlined instances) gives one probe at its entry,
  ``+OFF`` after it, or past the prologue when C variables are fetched in an unoptimized unit.
* Nothing found: retry with the address of the ELF symbol of that name (glibc's ``malloc`` is
  ``__libc_malloc`` in DWARF; an IFUNC gets perf's warning), keeping the user's point for the name.
* A DWARF error is printed and, unless DWARF is needed, the symbol table is tried (None).
"""
from __future__ import annotations

import errno as errno_mod
from typing import Callable, List, Optional, Tuple

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.args import TraceArg, is_c_varname
from pyperf_probe.probe.spec import ProbePoint, ProbeSpec
from pyperf_probe.probe.tracedef import UprobeDef

Warn = Callable[[str], None]
SKIP_PROLOGUE = ("Target program is compiled without optimization. Skipping prologue.\n"
                 "Probe on address 0x{:x} to force probing at the function entry.\n\n")


def no_debuginfo_message(target: str) -> str:
    return (f"The {target} file has no debug information.\n"
            "Rebuild with -g, or install an appropriate debuginfo package.\n")


def open_dwarf(target: str, symfs: Optional[str] = None):
    """symbols/dwarf.py's DwarfInfo for the target, or None (no DWARF, or not an ELF file with DWARF)."""
    from pyperf_probe.symbols.dwarf.info import DwarfInfo
    try:
        return DwarfInfo.open(target, symfs)
    except ProbeError:
        return None
    except Exception as exc:   # a broken debug file: perf's debuginfo__new fails the same way
        if type(exc).__name__.endswith(("ParseError", "ELFError", "DWARFError")):
            return None
        raise


def try_dwarf(spec: ProbeSpec, target: str, *, warn: Warn, max_probes: int, no_inlines: bool = False,
              symfs: Optional[str] = None) -> Optional[List[UprobeDef]]:
    """perf's ``try_to_find_probe_trace_events``: the probes, or None to use the symbol table."""
    dinfo = open_dwarf(target, symfs)
    if dinfo is None:
        if spec.need_dwarf:
            warn(no_debuginfo_message(target))
            raise ProbeError("", errno=errno_mod.ENOENT)
        return None
    try:
        defs = find_trace_events(dinfo, spec, target, warn=warn, max_probes=max_probes, no_inlines=no_inlines)
        if not defs:
            alt = alternative_point(dinfo, spec, target, warn, symfs)
            if alt is not None:
                defs = find_trace_events(dinfo, spec.with_point(alt), target, warn=warn,
                                         max_probes=max_probes, no_inlines=no_inlines)
    except ProbeError as err:
        if err.message:
            warn(err.message.rstrip("\n") + "\n")
        if spec.need_dwarf:
            raise ProbeError("", errno=err.errno or errno_mod.ENOENT) from err
        return None
    if not defs:
        from pyperf_probe.probe.convert import suggestion
        from pyperf_probe.symbols.symtab import load_symtab
        raise ProbeError(f"Probe point '{spec.point.text()}' not found."
                         + suggestion(load_symtab(target, symfs), spec.point.function), errno=errno_mod.ENOENT)
    return defs


def alternative_point(dinfo, spec: ProbeSpec, target: str, warn: Warn,
                      symfs: Optional[str] = None) -> Optional[ProbePoint]:
    """perf's ``find_alternative_probe_point``: the ELF symbol's address, turned back into a DWARF point."""
    point = spec.point
    if not point.function or point.file:
        return None
    from pyperf_probe.probe.convert import first_symbol_named, ifunc_warning, is_ifunc
    from pyperf_probe.symbols.elf import open_elf
    from pyperf_probe.symbols.symtab import load_symtab
    table = load_symtab(target, symfs)
    sym = first_symbol_named(table, point.function) or _default_version(table, point.function)
    if sym is None:
        return None
    if is_ifunc(sym):
        warn(ifunc_warning(point.function))
    image = open_elf(target)
    address = image.svma_to_file_offset(sym.svma)      # perf uses sym->start, a file offset
    found = dinfo.probe_point_at(sym.svma if address is None else address)
    if found is None or not found.function:
        return None
    return ProbePoint(function=found.function, file=found.file, line=found.line + point.line,
                      offset=found.offset + point.offset, retprobe=point.retprobe)


def _default_version(table, name: str):
    """``symbol__match_symbol_name`` with SYMBOL_TAG_INCLUDE__DEFAULT_ONLY: ``name@@VERSION`` matches."""
    for sym in table.symbols:
        if sym.name.startswith(name + "@@"):
            return sym
    return None


def text_delta(target: str) -> int:
    """perf's ``get_text_start_address``: .text's sh_addr - sh_offset, removed from DWARF addresses."""
    from pyperf_probe.symbols.elf import open_elf
    text = open_elf(target).section(".text")
    return text.svma - text.file_offset if text is not None else 0


def find_trace_events(dinfo, spec: ProbeSpec, target: str, *, warn: Warn, max_probes: int,
                      no_inlines: bool) -> List[UprobeDef]:
    """perf's ``debuginfo__find_trace_events`` for one definition: [] when nothing matches."""
    point = spec.point
    if point.line or point.lazy_line or not point.function:
        return _line_events(dinfo, spec, target, warn=warn, max_probes=max_probes)
    sites = dinfo.function_sites(point.function, file=point.file, no_inlines=no_inlines, warn=warn)
    if not sites and spec.args:
        # fill_empty_trace_arg() with no probe found is -ENOENT: an error, not "nothing found", so perf
        # goes to the symbol table (or fails, when DWARF is needed) instead of the alternative search
        raise ProbeError("", errno=errno_mod.ENOENT)
    if len(sites) > max_probes:
        raise ProbeError(f"Too many( > {max_probes}) probe point found.", errno=errno_mod.ERANGE)
    svmas = [_probe_svma(site, spec, warn) for site in sites]
    return _events(dinfo, spec, target, sites, svmas, warn=warn)


def _probe_svma(site, spec: ProbeSpec, warn: Warn) -> int:
    """The site's entry, moved past the prologue (perf's ``skip_prologue``) or by ``+OFF``."""
    point = spec.point
    svma = site.entry_svma
    if (not site.is_inline and site.prologue_end_svma is not None and spec.with_var and not point.offset
            and point.abs_address is None):
        warn(SKIP_PROLOGUE.format(svma))
        svma = site.prologue_end_svma
    return svma + point.offset


def _events(dinfo, spec: ProbeSpec, target: str, sites, svmas: List[int],
            warn: Optional[Warn] = None) -> List[UprobeDef]:
    delta = text_delta(target)
    args_per_site = _resolve_args(dinfo, spec, sites, svmas, warn)
    out = []
    for site, svma, args in zip(sites, svmas, args_per_site):
        symbol, offset = dinfo.trace_point(site, svma)
        out.append(UprobeDef(path=target, file_offset=svma - delta, retprobe=False, args=args,
                             realname=site.name or symbol, symbol=symbol, offset=offset))
    return out


def _arg_expr(arg) -> str:
    out = arg.var
    for f in arg.fields:
        out += f.name if f.name.startswith("[") else ("->" if f.ref else ".") + f.name
    return out


def _resolve_args(dinfo, spec: ProbeSpec, sites, svmas, warn: Optional[Warn] = None) -> List[Tuple[TraceArg, ...]]:
    """Each argument per site: raw fetch arguments as typed; C variables and ``$params`` through DWARF
    (perf's ``find_variable``: an unnamed variable is named after its text, ':' made '_')."""
    dwarf_args = [a for a in spec.args if is_c_varname(a.var) or a.var == "$params"]
    if not dwarf_args:
        raw = tuple(TraceArg(value=a.var, name=a.name, type=a.type) for a in spec.args)
        return [raw for _ in sites]
    resolved = dinfo.resolve_args(sites, [(_arg_expr(a), a.type) for a in dwarf_args], svmas, warn=warn)
    out = []
    for site, svma, row in zip(sites, svmas, resolved):
        nparams = len(dinfo.params_at(site, svma)) if any(a.var == "$params" for a in dwarf_args) else 0
        pos, args = 0, []
        for a in spec.args:
            if a.var == "$params":
                args.extend(TraceArg(value=r.fetcharg, name=r.expr, type=r.type) for r in row[pos:pos + nparams])
                pos += nparams
            elif is_c_varname(a.var):
                r = row[pos]
                pos += 1
                args.append(TraceArg(value=r.fetcharg, name=a.name or a.text().replace(":", "_", 1), type=r.type))
            else:
                args.append(TraceArg(value=a.var, name=a.name, type=a.type))
        out.append(tuple(args))
    return out


def _line_events(dinfo, spec: ProbeSpec, target: str, *, warn: Warn, max_probes: int) -> List[UprobeDef]:
    """``FUNC:RLN``, ``SRC:ALN``, ``FUNC;PTN``: through symbols/dwarf.py's line search."""
    point = spec.point
    sites = dinfo.line_sites(function=point.function, file=point.file, line=point.line, lazy=point.lazy_line)
    if not sites and spec.args:
        raise ProbeError("", errno=errno_mod.ENOENT)      # fill_empty_trace_arg(), as for functions
    if len(sites) > max_probes:
        raise ProbeError(f"Too many( > {max_probes}) probe point found.", errno=errno_mod.ERANGE)
    return _events(dinfo, spec, target, sites, [s.entry_svma for s in sites])
