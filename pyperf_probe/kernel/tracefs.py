"""tracefs: where it is (mounting it when absent), its events, and ``uprobe_events``.

Kernel documentation: Documentation/trace/uprobetracer.rst (the ``uprobe_events`` syntax) and
Documentation/trace/events.rst (``events/GROUP/EVENT/{id,format,enable,filter}``). perf-formats.md §4.1.
Everything written to ``uprobe_events`` is validated here first, so nothing half-formed reaches the kernel.
"""
from __future__ import annotations

import errno as errno_mod
import fnmatch
import functools
import os
import re
import subprocess
from typing import Iterable, List, Optional, Tuple

from pyperf_probe.errors import KernelError

TRACEFS = "/sys/kernel/tracing"
DEBUGFS_TRACING = "/sys/kernel/debug/tracing"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# p|r[:GRP/EVENT] PATH:0xOFF[(0xREF)] ARGS...  and  -:GRP/EVENT
_DEF_LINE = re.compile(r"(?:[pr]:(?P<grp>[^/\s]+)/(?P<ev>\S+) (?P<path>/[^\s:]*):0x[0-9a-fA-F]+(?:\(0x[0-9a-fA-F]+\))?"
                       r"(?: [^\n]*)?|-:(?P<dgrp>[^/\s]+)/(?P<dev>\S+))\Z")


def _is_tracefs(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "uprobe_events")) or os.path.isfile(os.path.join(path, "README"))


@functools.lru_cache(maxsize=None)
def root() -> str:
    """The tracefs mount point; mount it at /sys/kernel/tracing when no tracefs is reachable (needs root)."""
    for path in (TRACEFS, DEBUGFS_TRACING):
        if _is_tracefs(path):
            return path
    if os.geteuid() != 0:
        raise KernelError("tracefs is not mounted at /sys/kernel/tracing and mounting it needs root: "
                          "run as root, or 'mount -t tracefs nodev /sys/kernel/tracing'.", errno=errno_mod.EACCES)
    proc = subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], capture_output=True, text=True)
    if proc.returncode != 0 or not _is_tracefs(TRACEFS):
        msg = proc.stderr.strip() or "no tracefs after mounting"
        raise KernelError(f"Failed to mount tracefs at {TRACEFS}: {msg}", errno=errno_mod.ENOENT)
    return TRACEFS


def path(*parts: str) -> str:
    return os.path.join(root(), *parts)


def uprobe_events_path() -> str:
    """``uprobe_events``; a clear error if the kernel has no uprobe events (CONFIG_UPROBE_EVENTS=n)."""
    p = path("uprobe_events")
    if not os.path.exists(p):
        raise KernelError("This kernel has no uprobe events (CONFIG_UPROBE_EVENTS is not set): "
                          f"{p} does not exist.", errno=errno_mod.ENOENT)
    return p


def check_name(name: str, what: str = "event") -> str:
    """Event and group names as the kernel takes them (C identifiers; perf's is_c_func_name rule)."""
    if not _NAME.match(name):
        raise KernelError(f"Invalid {what} name: '{name}' (use letters, digits and '_', not starting with a digit)",
                          errno=errno_mod.EINVAL)
    return name


def check_definition(line: str) -> str:
    """Validate one ``uprobe_events`` line before it is written: one line, names that are identifiers, and an
    absolute path without spaces, newlines or colons (the kernel splits PATH:OFFSET at the last colon)."""
    if "\n" in line or "\0" in line:
        raise KernelError(f"Invalid probe definition (contains a newline): {line!r}", errno=errno_mod.EINVAL)
    m = _DEF_LINE.match(line)
    if not m:
        raise KernelError(f"Invalid probe definition: {line!r}", errno=errno_mod.EINVAL)
    check_name(m.group("grp") or m.group("dgrp"), "group")
    check_name(m.group("ev") or m.group("dev"), "event")
    return line


def read_uprobe_events() -> List[str]:
    """The current definitions, as the kernel lists them (``p:GRP/EV PATH:0x%016lx ARGS``)."""
    with open(uprobe_events_path()) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def write_uprobe_events(lines: Iterable[str]) -> None:
    """Append definitions (``p:``/``r:``) or deletions (``-:``), one write() per line as the kernel parses
    one command per write. All lines are validated before the first is written."""
    lines = [check_definition(line) for line in lines]
    fd = _open_uprobe_events()
    try:
        for line in lines:
            try:
                os.write(fd, (line + "\n").encode())
            except OSError as exc:
                raise KernelError(_write_error(line, exc), errno=exc.errno) from exc
    finally:
        os.close(fd)


def _open_uprobe_events() -> int:
    p = uprobe_events_path()
    try:
        return os.open(p, os.O_WRONLY | os.O_APPEND)
    except PermissionError as exc:
        raise KernelError(f"Failed to open {p}: Permission denied. Adding or removing uprobes needs root "
                          "(run pyperf as root, or with sudo).", errno=exc.errno) from exc


def _write_error(line: str, exc: OSError) -> str:
    detail = last_error_log() or os.strerror(exc.errno or 0)
    return f"Failed to write event: {os.strerror(exc.errno or 0)}\n  ({line})\n  {detail}".rstrip()


def last_error_log() -> Optional[str]:
    """The kernel's last explanation in ``error_log`` (e.g. 'Failed to find the given file'), if any."""
    try:
        with open(path("error_log")) as f:
            lines = [line.rstrip() for line in f if line.strip()]
    except OSError:
        return None
    for line in reversed(lines):
        if "]" in line and not line.lstrip().startswith(("Command:", "^")):
            return line.split("]", 1)[1].strip().split("error: ", 1)[-1]
    return None


def event_dir(group: str, event: str) -> str:
    return path("events", group, event)


def event_exists(group: str, event: str) -> bool:
    return os.path.isfile(os.path.join(event_dir(group, event), "id"))


def event_id(group: str, event: str) -> int:
    """``events/GROUP/EVENT/id``: the attr.config of a PERF_TYPE_TRACEPOINT event."""
    try:
        with open(os.path.join(event_dir(group, event), "id")) as f:
            return int(f.read())
    except FileNotFoundError:
        raise KernelError(f"File {event_dir(group, event)} not found.", errno=errno_mod.ENOENT) from None


def event_format(group: str, event: str) -> str:
    """``events/GROUP/EVENT/format``, verbatim (it goes into perf.data's TRACING_DATA)."""
    with open(os.path.join(event_dir(group, event), "format")) as f:
        return f.read()


def list_events(pattern: str = "*:*") -> List[Tuple[str, str]]:
    """(group, event) pairs of tracefs events matching ``GROUP:EVENT`` globs, sorted."""
    gpat, _, epat = pattern.partition(":")
    epat = epat or "*"
    base = path("events")
    found = []
    for group in sorted(os.listdir(base)):
        gdir = os.path.join(base, group)
        if not os.path.isdir(gdir) or not fnmatch.fnmatchcase(group, gpat):
            continue
        for event in sorted(os.listdir(gdir)):
            if fnmatch.fnmatchcase(event, epat) and os.path.isfile(os.path.join(gdir, event, "id")):
                found.append((group, event))
    return found
