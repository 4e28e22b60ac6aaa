"""What ``pyperf record`` records: the ``-e`` values through perf's event grammar (``pyperf_probe.events``),
or perf's default event, to the attrs perf 6.1 opens (builtin-record.c ``record__open``).

Without -e perf records ``cycles`` at the highest precision; where the PMU has no cycles (a VM) the open
fails and perf falls back to ``cpu-clock`` (``evsel__fallback``), saying so only with -v:
``Warning:\\nThe cycles event is not supported, trying to fall back to cpu-clock-ticks``. With -a/-C a
``dummy:HG`` event carries the tracking records.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from pyperf_probe.errors import KernelError, UsageError
from pyperf_probe.events import config, parser
from pyperf_probe.events.errors import EventSyntaxError, usage_error
from pyperf_probe.events.evsel import Evsel
from pyperf_probe.record.events import Event

RECORD_USAGE = "[<options>] [<command>]\n    or: pyperf record [<options>] -- <command> [<options>]"
FALLBACK_ERRNOS = (errno_mod.ENOENT, errno_mod.ENXIO, errno_mod.ENODEV, errno_mod.EOPNOTSUPP)
FALLBACK_WARNING = "Warning:\nThe cycles event is not supported, trying to fall back to cpu-clock-ticks\n"


@dataclasses.dataclass(frozen=True)
class SelectedEvent(Event):
    """An event to open, with the index of its group leader (-1: it leads, or is alone) and of the -e
    value that named it (-1: perf's default event, or the dummy of -a)."""

    leader: int = -1
    spec: int = -1
    group_name: Optional[str] = None  # a leader's NAME of NAME{a,b}


def parse_specs(specs: Sequence[str], command: str = "record", usage: str = RECORD_USAGE) -> List[Evsel]:
    """The events of the -e values; a syntax error becomes perf's text and exit 129."""
    def fail(spec: str, err: EventSyntaxError):
        raise usage_error(err, spec, command, usage) from None
    evsels = parser.parse_all(specs, on_error=fail)
    if not evsels:
        raise UsageError("WARNING: event parser found nothing\nRun 'pyperf list' for a list of valid events",
                         usage=f" Usage: pyperf {command} {usage}\n\n    -e, --event <event>   event selector. "
                               "use 'pyperf list' to list available events")
    return evsels


def supported(ev: Evsel) -> bool:
    """Whether the kernel opens this event for this process (the PMU has it)."""
    from pyperf_probe.kernel import perf_event
    from pyperf_probe.perfdata.format import AttrFlag, EventAttr
    attr = EventAttr(type=ev.type, config=ev.config, config1=ev.config1, config2=ev.config2,
                     flags=int(AttrFlag.DISABLED | AttrFlag.EXCLUDE_KERNEL | AttrFlag.EXCLUDE_HV))
    try:
        perf_event.close(perf_event.open_event(attr, 0, -1))
    except KernelError as exc:
        return exc.errno not in FALLBACK_ERRNOS
    return True


def fall_back(evsels: Sequence[Evsel], verbose: int = 0) -> None:
    """cycles -> cpu-clock where the PMU has no cycles, as perf does when the open fails."""
    for ev in evsels:
        if ev.type == 0 and ev.config == 0 and not supported(ev) and config.fall_back_to_cpu_clock(ev):
            if verbose:
                sys.stderr.write(FALLBACK_WARNING)


@dataclasses.dataclass(frozen=True)
class Selection:
    """The events to open with their attrs, in open order; the tracepoints among them (for TRACING_DATA);
    and for each event, the index of the -e value that named it (-1: perf's default or dummy event)."""

    events: List[SelectedEvent]
    tracepoints: List[Tuple[str, str]]
    spec_of: List[int]



def select(specs: Sequence[str], opts: config.RecordOptions, verbose: int = 0) -> Selection:
    evsels: List[Evsel] = []
    spec_of: List[int] = []
    for index, spec in enumerate(specs):
        new = parse_specs([spec])
        for ev in new:  # leaders are indices in the whole list
            if ev.leader >= 0:
                ev.leader += len(evsels)
        evsels += new
        spec_of += [index] * len(new)
    if not specs:
        evsels, spec_of = [config.default_evsel()], [-1]
    fall_back(evsels, verbose)
    if opts.system_wide:
        evsels.append(config.dummy_evsel())
        spec_of.append(-1)
    attrs = config.record_attrs(evsels, opts)
    events = [SelectedEvent(ev.display_name(), attr, ev.tp_group, ev.tp_event, leader=ev.leader, spec=spec,
                            group_name=ev.group_name)
              for ev, attr, spec in zip(evsels, attrs, spec_of)]
    pairs: List[Tuple[str, str]] = []
    for ev in evsels:
        if ev.is_tracepoint and (ev.tp_group, ev.tp_event) not in pairs:
            pairs.append((ev.tp_group, ev.tp_event))
    return Selection(events, pairs, spec_of)


def filters(events: Sequence[SelectedEvent], by_spec: Dict[int, str]) -> Dict[int, str]:
    """``--filter`` follows an -e and applies to the tracepoints it selected (event index -> filter)."""
    return {i: by_spec[ev.spec] for i, ev in enumerate(events) if ev.spec in by_spec and ev.attr.type == 2}


def record_options(plan, target) -> config.RecordOptions:
    """The attr-shaping options of a recorder Plan: -g/--call-graph, -F, -c, the target, -R,
    --kernel-callchains/--user-callchains."""
    cg = plan.call_graph
    return config.RecordOptions(
        call_graph=config.CallGraph(cg.mode, cg.stack_size) if cg is not None else None,
        freq=plan.freq if plan.freq is not None else config.DEFAULT_FREQ, user_freq=plan.freq,
        user_interval=plan.count, workload=target.workload, threads=target.threads,
        system_wide=target.system_wide, no_inherit=not target.inherit, raw_samples=plan.raw_samples,
        kernel_callchains=plan.kernel_callchains, user_callchains=plan.user_callchains)
