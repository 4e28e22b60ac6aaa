"""Event selection for ``pyperf record``: ``-e`` specs -> tracefs events -> ``perf_event_attr`` as perf 6.1
writes them (tools/perf/util/evsel.c ``evsel__config``; checked with ``perf evlist -v``, perf-formats.md §1.2).

A spec is ``GROUP:EVENT`` with globs (``probe_libc:*``), several joined by commas, ``-e`` repeated.
"""
from __future__ import annotations

import dataclasses
import os
from typing import List, Optional, Sequence, Tuple

from pyperf_probe.errors import KernelError, UsageError
from pyperf_probe.perfdata.format import AttrFlag, AttrType, EventAttr, ReadFormat, SampleType

DWARF_REGS_X86_64 = 0xFF0FFF  # AX..R15 without the segment registers (perf_regs.h PERF_REGS_MASK)
DEFAULT_DWARF_STACK = 8192
MAX_DWARF_STACK = 65528  # perf: round_down(USHRT_MAX, 8)
SW_DUMMY = 9  # PERF_COUNT_SW_DUMMY

BASE_SAMPLE = SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU | SampleType.PERIOD | SampleType.RAW
TRACKING = (AttrFlag.MMAP | AttrFlag.COMM | AttrFlag.TASK | AttrFlag.MMAP2 | AttrFlag.COMM_EXEC
            | AttrFlag.KSYMBOL | AttrFlag.BPF_EVENT)


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


def resolve(specs: Sequence[str]) -> List[Tuple[str, str]]:
    """(group, event) pairs for ``-e`` values, in the order given; globs expand in sorted order."""
    from pyperf_probe.kernel import tracefs
    found: List[Tuple[str, str]] = []
    for spec in specs:
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                raise syntax_error(spec, "parser error", "")
            group, sep, event = part.partition(":")
            if not sep or not group or not event:
                group, sep, event = part.partition("/")
                event = event.rstrip("/")
            if not sep or not group or not event:
                raise syntax_error(part, "parser error", f"Error:\tUnknown event '{part}': pyperf record takes "
                                   "tracefs events, GROUP:EVENT (probe events and kernel tracepoints).")
            _check_access(part, group, event)
            matches = tracefs.list_events(f"{group}:{event}")
            if not matches:
                if any(c in part for c in "*?["):
                    raise syntax_error(part, "unknown tracepoint", f"Error:\tNo tracepoint matches '{part}'.")
                raise syntax_error(part, "unknown tracepoint",
                                   f"Error:\tFile {tracefs.event_dir(group, event)} not found.\n"
                                   "Hint:\tPerhaps this kernel misses some CONFIG_ setting to enable this feature?.")
            found += [m for m in matches if m not in found]
    return found


def _check_access(part: str, group: str, event: str) -> None:
    """perf's error when tracefs exists but this user may not read it (parse-events.c, tracepoint errors)."""
    from pyperf_probe.kernel import tracefs
    base = tracefs.TRACEFS
    if os.path.isdir(base) and not os.access(base, os.R_OK | os.X_OK):
        raise syntax_error(part, "can't access trace events",
                           f"Error:\tNo permissions to read {base}/events/{group}/{event}\n"
                           f"Hint:\tTry 'sudo mount -o remount,mode=755 {base}/'")


def sample_type(call_graph: Optional[CallGraph], nr_events: int, system_wide: bool) -> int:
    st = BASE_SAMPLE
    if call_graph is not None:
        st |= SampleType.CALLCHAIN
        if call_graph.mode == "dwarf":
            st |= SampleType.ADDR | SampleType.REGS_USER | SampleType.STACK_USER | SampleType.DATA_SRC
    if system_wide:
        st |= SampleType.IDENTIFIER
    elif nr_events > 1:
        st |= SampleType.ID
    return int(st)


def build_attrs(pairs: Sequence[Tuple[str, str]], ids: Sequence[int], *, call_graph: Optional[CallGraph],
                target: Target, period: int = 1) -> List[Event]:
    """The attrs perf 6.1 opens for these tracepoints. With -a/-C perf adds a ``dummy:HG`` software event
    that carries the tracking records (mmap, comm, task), and the tracepoints carry IDENTIFIER."""
    st = sample_type(call_graph, len(pairs), target.system_wide)
    common = AttrFlag.DISABLED | AttrFlag.SAMPLE_ID_ALL | AttrFlag.EXCLUDE_GUEST
    if target.inherit:
        common |= AttrFlag.INHERIT
    if target.workload and not target.threads and not target.system_wide:
        common |= AttrFlag.ENABLE_ON_EXEC
    dwarf = call_graph is not None and call_graph.mode == "dwarf"
    regs = dict(sample_regs_user=DWARF_REGS_X86_64 if dwarf else 0,
                sample_stack_user=call_graph.stack_size if dwarf else 0)
    events = []
    for i, ((group, event), config) in enumerate(zip(pairs, ids)):
        flags = common
        tracking = i == 0 and not target.system_wide  # else the dummy event tracks
        if tracking:
            flags |= TRACKING | (AttrFlag.MMAP_DATA if dwarf else 0)
        if dwarf:
            flags |= AttrFlag.EXCLUDE_CALLCHAIN_USER
        attr = EventAttr(type=AttrType.TRACEPOINT, config=config, sample_period=period, sample_type=st,
                         read_format=ReadFormat.ID | ReadFormat.LOST, flags=int(flags), **regs)
        events.append(Event(f"{group}:{event}", attr, group, event))
    if target.system_wide:
        events.append(dummy_event(call_graph, **regs))
    return events


def dummy_event(call_graph: Optional[CallGraph], **regs) -> Event:
    """perf's system-wide tracking event ``dummy:HG``: a software dummy that carries the mmap, comm and task
    records, with the call-graph sample bits of the other events but no PERIOD/RAW."""
    st = SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU | SampleType.IDENTIFIER
    flags = AttrFlag.INHERIT | AttrFlag.SAMPLE_ID_ALL | TRACKING
    if call_graph is not None:
        st |= SampleType.CALLCHAIN
        if call_graph.mode == "dwarf":
            st |= SampleType.ADDR | SampleType.REGS_USER | SampleType.STACK_USER | SampleType.DATA_SRC
            flags |= AttrFlag.MMAP_DATA | AttrFlag.EXCLUDE_CALLCHAIN_USER
    return Event("dummy:HG", EventAttr(type=AttrType.SOFTWARE, config=SW_DUMMY, sample_period=1, sample_type=int(st),
                                       read_format=ReadFormat.ID | ReadFormat.LOST, flags=int(flags), **regs))


def tracepoint_ids(pairs: Sequence[Tuple[str, str]]) -> List[int]:
    from pyperf_probe.kernel import tracefs
    try:
        return [tracefs.event_id(g, e) for g, e in pairs]
    except KernelError as exc:
        raise syntax_error(":".join(pairs[0]), "unknown tracepoint", f"Error:\t{exc.message}") from exc
