"""The record-side types of an event selection: ``Event`` (a name and the attr to open), ``CallGraph``
(-g / --call-graph), ``Target`` (what is recorded), and the event syntax error of SDT markers.

The -e values themselves are read by perf's grammar in ``pyperf_probe.events`` and turned into attrs there
(``events.config``); ``record.selection`` makes the ``Event`` list the recorder opens.
"""
from __future__ import annotations

import dataclasses

from pyperf_probe.errors import UsageError
from pyperf_probe.perfdata.format import EventAttr

DEFAULT_DWARF_STACK = 8192
MAX_DWARF_STACK = 65528  # perf: round_down(USHRT_MAX, 8)


@dataclasses.dataclass(frozen=True)
class Event:
    """One selected event: its name as perf shows it and its attr."""

    name: str
    attr: EventAttr
    group: str = ""
    event: str = ""


@dataclasses.dataclass(frozen=True)
class CallGraph:
    """``-g`` / ``--call-graph fp|dwarf[,SIZE]``."""

    mode: str  # "fp" or "dwarf"
    stack_size: int = DEFAULT_DWARF_STACK


@dataclasses.dataclass(frozen=True)
class Target:
    """What is recorded: a workload record starts, threads (-p/-t) or CPUs (-a/-C)."""

    workload: bool = False
    threads: bool = False  # -p / -t
    inherit: bool = True  # False: -t (only the threads named) or -i/--no-inherit (child tasks not counted)
    system_wide: bool = False  # -a or -C


def parse_call_graph(text: str) -> CallGraph:
    """``fp``, ``dwarf`` or ``dwarf,SIZE`` (perf: SIZE rounded up to 8, at most 65528)."""
    mode, _, size = text.partition(",")
    if mode == "fp" and not size:
        return CallGraph("fp")
    if mode == "dwarf":
        if not size:
            return CallGraph("dwarf")
        try:
            value = int(size, 0)
        except ValueError:
            value = -1
        if value <= 0 or value > MAX_DWARF_STACK:
            raise UsageError(f"callchain: Incorrect stack dump size (max {MAX_DWARF_STACK}): {size}")
        return CallGraph("dwarf", (value + 7) & ~7)
    raise UsageError(f"callchain: Unknown --call-graph option value: {text}")


def syntax_error(spec: str, what: str, detail: str) -> UsageError:
    """perf's parse-events error: the spec, a caret under it, then the reason (exit 129)."""
    return UsageError(f"event syntax error: '{spec}'\n                     \\___ {what}\n\n{detail}\n\n"
                      "Run 'pyperf list' for a list of valid events", usage=" Usage: pyperf record [<options>] "
                      "[<command>]\n    or: pyperf record [<options>] -- <command> [<options>]\n\n"
                      "    -e, --event <event>   event selector. use 'pyperf list' to list available events")
