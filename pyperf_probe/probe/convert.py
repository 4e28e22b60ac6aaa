"""ProbeSpec + the target's symbols -> UprobeDefs: perf's ``convert_to_probe_trace_events`` pipeline
(tools/perf/util/probe-event.c), in perf's order:

1. ``0xADDR`` without C variables: one probe at that file offset, named ``abs_<hex>``;
2. except for return probes, the DWARF path (probe/dwarfpath.py) when the target has debug info; with
   no debug info a definition that needs it (a file, a line, a lazy pattern, a C variable) fails with
   "The X file has no debug information."; a DWARF search that errors falls back to symbols unless DWARF
   is needed, one that finds nothing is "Probe point 'X' not found.";
3. the symbol table (``find_probe_trace_events_from_map``): every STT_FUNC whose name (its ``@VERSION``
   cut off unless the user gave one) matches the function glob, once per address, in address order.

Then, beyond perf: a ``+OFF`` that falls inside an instruction is refused (symbols/disasm.py).
"""
from __future__ import annotations

import errno as errno_mod
from typing import Callable, List, Optional

from pyperf_probe.errors import ProbeError, SymbolError
from pyperf_probe.probe.args import TraceArg
from pyperf_probe.probe.spec import ProbeSpec
from pyperf_probe.probe.strfilter import compile_glob
from pyperf_probe.probe.tracedef import UprobeDef
from pyperf_probe.symbols.symtab import STT_FUNC, STT_GNU_IFUNC, SymbolTable, load_symtab

MAX_PROBES = 128
Warn = Callable[[str], None]


def trace_args(spec: ProbeSpec) -> tuple:
    """Raw arguments copied as typed (perf's ``copy_to_probe_trace_arg``)."""
    return tuple(TraceArg(value=a.var, name=a.name, type=a.type) for a in spec.args)


def convert(spec: ProbeSpec, target: str, *, warn: Warn, max_probes: int = MAX_PROBES,
            symfs: Optional[str] = None, no_inlines: bool = False) -> List[UprobeDef]:
    """The uprobes for one definition on ``target`` (an absolute path). Raises ProbeError with perf's message."""
    point = spec.point
    if point.abs_address is not None and not spec.need_dwarf:
        return [UprobeDef(path=target, file_offset=point.abs_address, retprobe=point.retprobe,
                          args=trace_args(spec), realname=f"abs_{point.abs_address:x}",
                          symbol=f"0x{point.abs_address:x}")]
    if not point.retprobe:
        from pyperf_probe.probe import dwarfpath
        found = dwarfpath.try_dwarf(spec, target, warn=warn, max_probes=max_probes, no_inlines=no_inlines,
                                    symfs=symfs)
        if found is not None:
            return found
    return from_symbols(spec, target, warn=warn, max_probes=max_probes, symfs=symfs)


def _matcher(pattern: str) -> Callable[[str], bool]:
    """perf's ``find_probe_functions`` name test: glob on the name, its ``@VERSION`` cut unless the
    pattern has an '@' itself."""
    match = compile_glob(pattern)
    if "@" in pattern:
        return match
    return lambda name: match(name.split("@", 1)[0])


def matching_symbols(table: SymbolTable, pattern: str):
    """Symbols matching ``pattern`` in address order (``map__for_each_symbol``)."""
    match = _matcher(pattern)
    if not any(c in pattern for c in "*?[\\@"):
        names = {pattern}
        return [s for s in table.symbols if s.name.split("@", 1)[0] in names]
    return [s for s in table.symbols if match(s.name)]


def from_symbols(spec: ProbeSpec, target: str, *, warn: Warn, max_probes: int = MAX_PROBES,
                 symfs: Optional[str] = None) -> List[UprobeDef]:
    """perf's ``find_probe_trace_events_from_map`` for a uprobe."""
    point = spec.point
    try:
        table = load_symtab(target, symfs)
    except SymbolError as exc:
        # perf says "Please ensure the file is not stripped." for any unreadable file; say what is wrong
        raise ProbeError(f"Failed to load symbols from {target}: {exc.message}", errno=errno_mod.ENOENT) from exc
    if not len(table):
        raise ProbeError(f"Failed to load symbols from {target}\nPlease ensure the file is not stripped.",
                         errno=errno_mod.ENOENT)
    syms = matching_symbols(table, point.function or "")
    if not syms:
        raise ProbeError(f"Failed to find symbol {point.function} in {target}" + suggestion(table, point.function),
                         errno=errno_mod.ENOENT)
    if len(syms) > max_probes:
        raise ProbeError(f"Too many functions matched in {target}", errno=errno_mod.E2BIG)
    from pyperf_probe.symbols.elf import open_elf
    image = open_elf(target)
    out, seen = [], set()
    for sym in syms:
        if sym.type != STT_FUNC or sym.svma in seen:
            continue
        seen.add(sym.svma)
        if point.offset > sym.end - sym.svma:
            warn(f"Offset {point.offset} is bigger than the size of {sym.name}\n")
            raise ProbeError("", errno=errno_mod.ENOENT)
        out.append(UprobeDef(path=target, file_offset=_file_offset(image, sym.svma) + point.offset,
                             retprobe=point.retprobe, args=trace_args(spec), realname=sym.name,
                             symbol=sym.name, offset=point.offset))
    if not out:
        # perf fails silently here (only STT_FUNC symbols are probed); pyperf says why
        raise ProbeError(_not_function_hint(point.function, syms), errno=errno_mod.ENOENT)
    return out


def _not_function_hint(name: Optional[str], syms) -> str:
    if any(s.type == STT_GNU_IFUNC for s in syms):
        return (f"  Hint: {name} is a GNU indirect function (its resolver picks the code at run time): "
                "probe the implementation it selects.")
    return f"  Hint: {name} is not a function (a data object): nothing to probe."


def suggestion(table: SymbolTable, name: Optional[str]) -> str:
    """A hint line naming up to three functions spelled like ``name`` (none: nothing is added)."""
    if not name or any(c in name for c in "*?["):
        return ""
    import difflib
    names = sorted({s.name for s in table.functions() if s.type == STT_FUNC})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.75)
    return f"\n  Hint: did you mean {', '.join(close)}?" if close else ""


def _file_offset(image, svma: int) -> int:
    """perf's symbol adjustment (``dso__load_sym``): through the PT_LOAD holding the address, else the
    address itself (a file whose segments do not cover it)."""
    off = image.svma_to_file_offset(svma)
    return svma if off is None else off


def ifunc_warning(function: str) -> str:
    """perf's words when the symbol found for a DWARF-less name is a GNU indirect function."""
    return (f"Warning: The probe function ({function}) is a GNU indirect function.\n"
            "Consider identifying the final function used at run time and set the probe directly on that.\n")


def first_symbol_named(table: SymbolTable, name: str):
    """``map__for_each_symbol_by_name(...) { ...; break; }``: the first symbol of that exact name in
    name-sorted order (address order among equal names)."""
    syms = table.by_name(name)
    return syms[0] if syms else None


def is_ifunc(sym) -> bool:
    return sym is not None and sym.type == STT_GNU_IFUNC
