"""The probes that exist: ``-l`` (show them as perf does) and ``-d`` (delete them).

perf (probe-event.c ``__show_perf_probe_events``, builtin-probe.c ``perf_del_probe_events``,
probe-file.c ``probe_file__get_events``):

* a filter matches an event by its name or by ``GROUP:EVENT``;
* ``-l`` goes through the raw ``uprobe_events`` lines sorted as strings (so ``p:`` before ``r:``), and shows
  each probe's place from DWARF (``func[+off|:line]@file``), else from the symbol table (``func+off``),
  else its address; arguments by name only;
* ``-d`` prints ``Removed event: GROUP:EVENT`` once per event, sorted, then writes ``-:GROUP/EVENT``.
"""
from __future__ import annotations

import errno as errno_mod
from typing import Dict, List, Optional

from pyperf_probe.errors import KernelError, ProbeError
from pyperf_probe.kernel import tracefs
from pyperf_probe.probe.messages import event_line
from pyperf_probe.probe.spec import ProbePoint
from pyperf_probe.probe.strfilter import StrFilter
from pyperf_probe.probe.tracedef import UprobeDef, parse_uprobe_line


NO_PERMISSION = "No permission to write tracefs.\nPlease run this command again with sudo."
NO_UPROBE_EVENTS = "uprobe_events file does not exist - please rebuild kernel with CONFIG_UPROBE_EVENTS."


def kernel_error(exc: Exception) -> ProbeError:
    """perf's words for a tracefs that cannot be used (probe-file.c ``print_open_warning`` and the
    permission message of ``probe_file__open``), with the kernel's own reason otherwise."""
    err = getattr(exc, "errno", None)
    if isinstance(exc, PermissionError) or err in (errno_mod.EACCES, errno_mod.EPERM):
        return ProbeError(NO_PERMISSION, errno=errno_mod.EACCES)
    if err == errno_mod.ENOENT and "uprobe" in str(exc):
        return ProbeError(NO_UPROBE_EVENTS, errno=errno_mod.ENOENT)
    return ProbeError(getattr(exc, "message", None) or str(exc), errno=err or errno_mod.EIO)


def read_lines() -> List[str]:
    try:
        return tracefs.read_uprobe_events()
    except (KernelError, OSError) as exc:
        raise kernel_error(exc) from exc


def write_lines(lines: List[str]) -> None:
    try:
        tracefs.write_uprobe_events(lines)
    except PermissionError as exc:
        raise kernel_error(exc) from exc
    except KernelError as exc:
        if exc.errno in (errno_mod.EACCES, errno_mod.EPERM) or "uprobe events" in exc.message:
            raise kernel_error(exc) from exc
        raise


def current_defs() -> List[UprobeDef]:
    """Every uprobe, in perf's order (raw lines sorted as C strings, duplicates once)."""
    lines = sorted(set(read_lines()), key=lambda s: s.encode())
    return [d for d in (parse_uprobe_line(line) for line in lines) if d is not None]


def current_event_names() -> set:
    """perf's ``probe_file__get_namelist``: event names (without group) of all uprobes."""
    return {d.event for d in current_defs()}


def matches(flt: StrFilter, d: UprobeDef) -> bool:
    return flt.compare(d.event) or flt.compare(f"{d.group}:{d.event}")


class PointFinder:
    """``convert_to_perf_probe_point``: DWARF first, then symbols, then the bare address; one DWARF and
    symbol table per file."""

    def __init__(self):
        self._dwarf: Dict[str, object] = {}

    def point(self, d: UprobeDef) -> ProbePoint:
        found = self._from_dwarf(d) or self._from_symbols(d)
        if found is not None:
            return found
        return ProbePoint(function=f"0x{d.file_offset:x}", retprobe=d.retprobe)

    def _from_dwarf(self, d: UprobeDef) -> Optional[ProbePoint]:
        if d.path not in self._dwarf:
            from pyperf_probe.probe.dwarfpath import open_dwarf
            try:
                self._dwarf[d.path] = open_dwarf(d.path)
            except Exception:        # an unreadable file only loses the DWARF view of its probes
                self._dwarf[d.path] = None
        dinfo = self._dwarf[d.path]
        if dinfo is None:
            return None
        from pyperf_probe.probe.dwarfpath import text_delta
        try:
            found = dinfo.probe_point_at(d.file_offset + text_delta(d.path))
        except ProbeError:
            return None
        if found is None or not (found.function or found.file):
            return None
        return ProbePoint(function=found.function, file=found.file, line=found.line, offset=found.offset,
                          retprobe=d.retprobe)

    @staticmethod
    def _from_symbols(d: UprobeDef) -> Optional[ProbePoint]:
        from pyperf_probe.errors import SymbolError
        from pyperf_probe.symbols.elf import open_elf
        from pyperf_probe.symbols.symtab import load_symtab
        try:
            image = open_elf(d.path)
            svma = image.file_offset_to_svma(d.file_offset)
            sym = load_symtab(d.path).lookup(svma) if svma is not None else None
        except SymbolError:
            return None
        if sym is None:
            return None
        return ProbePoint(function=sym.name, offset=svma - sym.svma, retprobe=d.retprobe)


def list_text(flt: StrFilter) -> str:
    """What ``perf probe -l [FILTER]`` prints on stdout."""
    finder = PointFinder()
    out = []
    for d in current_defs():
        if not matches(flt, d):
            continue
        args = [a.name or a.text() for a in d.args]
        out.append(event_line(d.group, d.event, finder.point(d).text(), d.path, args) + "\n")
    return "".join(out)


def events_to_delete(flt: StrFilter) -> List[str]:
    """``GROUP:EVENT`` of the uprobes the filter hits, sorted, once each."""
    names = {f"{d.group}:{d.event}" for d in current_defs() if matches(flt, d)}
    return sorted(names, key=lambda s: s.encode())


def delete(names: List[str]) -> None:
    """Write ``-:GROUP/EVENT`` for each (validated first; an event in use fails with the kernel's reason)."""
    lines = []
    for name in names:
        group, _, event = name.partition(":")
        lines.append(f"-:{group}/{event}")
    try:
        write_lines(lines)
    except KernelError as exc:
        raise ProbeError(f"Failed to delete event: {exc.message}", errno=exc.errno or errno_mod.EIO) from exc
