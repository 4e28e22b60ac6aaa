"""The ``perf_event_attr`` of each parsed event, as perf 6.1 opens it: ``evsel__config`` and
``evlist__config`` for ``perf record`` (tools/perf/util/evsel.c, record.c; checked field by field with
``perf evlist -v``), and ``create_perf_stat_counter`` for ``perf stat`` (checked with ``perf stat -vv``).

Record, per event:
* sample_type IP|TID|TIME, plus what the event's kind brings (tracepoints and bpf-output: CPU|PERIOD|RAW);
* the period: an event without one of its own (all but tracepoints and bpf-output), or any event when -F or -c
  was given, samples at ``--freq`` (default 4000 Hz, PERIOD sampled) or every ``--count`` events;
* call chains (-g, --call-graph, or the event's call-graph/max-stack terms), CPU for -a/-C, RAW for -R;
  --kernel-callchains / --user-callchains set exclude_callchain_user / _kernel on the events that record
  call chains (``__evsel__config_callchain``), and only there;
* the tracking bits (mmap, comm, task, ...) on the first event, or on the dummy event -a/-C adds;
* disabled and (for a command perf starts) enable_on_exec on group leaders only;
* the terms last: period, freq, call-graph, stack-size, max-stack, inherit;
* leader sampling (``:S``): READ|ID, GROUP reads, no inherit; members do not sample and take the
  leader's sample_type;
* several events: ID in every sample_type, or IDENTIFIER when their sample_types differ.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence

from pyperf_probe.events import tables
from pyperf_probe.events.evsel import Evsel
from pyperf_probe.perfdata.format import AttrFlag, EventAttr, ReadFormat, SampleType

DWARF_REGS_X86_64 = 0xFF0FFF  # AX..R15 without the segment registers (perf_regs.h PERF_REGS_MASK)
DEFAULT_DWARF_STACK = 8192
DEFAULT_FREQ = 4000
TRACKING = (AttrFlag.MMAP | AttrFlag.COMM | AttrFlag.TASK | AttrFlag.MMAP2 | AttrFlag.COMM_EXEC
            | AttrFlag.KSYMBOL | AttrFlag.BPF_EVENT)
DWARF_SAMPLE = SampleType.ADDR | SampleType.REGS_USER | SampleType.STACK_USER | SampleType.DATA_SRC


@dataclasses.dataclass(frozen=True)
class CallGraph:
    """``-g`` / ``--call-graph fp|dwarf[,SIZE]`` (or an event's call-graph term)."""

    mode: str  # "fp" or "dwarf"
    stack_size: int = DEFAULT_DWARF_STACK
    max_stack: int = 0


@dataclasses.dataclass(frozen=True)
class RecordOptions:
    """The record options that shape the attrs (perf's ``struct record_opts``)."""

    call_graph: Optional[CallGraph] = None
    freq: int = DEFAULT_FREQ  # after -F and the max-rate check
    user_freq: Optional[int] = None  # -F given
    user_interval: Optional[int] = None  # -c given
    workload: bool = False  # a command perf starts (enable_on_exec)
    threads: bool = False  # -p / -t
    system_wide: bool = False  # -a / -C
    no_inherit: bool = False  # --no-inherit, or -t
    raw_samples: bool = False  # -R
    kernel_callchains: bool = False  # --kernel-callchains: the kernel's part of each chain only
    user_callchains: bool = False  # --user-callchains: the user part only


def dummy_evsel() -> Evsel:
    """The tracking event perf adds for -a/-C: ``dummy:HG``, enabled at once, period 1."""
    return Evsel(type=tables.SOFTWARE, config=tables.SW_DUMMY, sample_period=1, exclude_guest=False)


def default_evsel() -> Evsel:
    """``perf record`` without -e: cycles at the highest precision the PMU allows (``evsel__new_cycles``)."""
    return Evsel(type=tables.HARDWARE, config=tables.HW_CPU_CYCLES, name="cycles:P", exclude_guest=False,
                 precise_max=True)


def fall_back_to_cpu_clock(ev: Evsel) -> bool:
    """``evsel__fallback``: a cycles event the PMU lacks becomes cpu-clock, renamed from its bits."""
    if ev.type != tables.HARDWARE or ev.config != tables.HW_CPU_CYCLES:
        return False
    ev.type, ev.config, ev.name = tables.SOFTWARE, tables.SW_CPU_CLOCK, None
    if ev.precise_max:  # evsel__config had set precise_ip to 3 before the open failed
        ev.precise_ip = 3
    return True


def _callchain_of(ev: Evsel, opts: RecordOptions) -> Optional[CallGraph]:
    """The call graph an event records: the global one, replaced by its own call-graph/stack-size/max-stack
    terms (a max-stack term alone means frame pointers)."""
    t = ev.terms
    if t.call_graph is None and t.stack_size is None and t.max_stack is None:
        return opts.call_graph
    mode = t.call_graph if t.call_graph is not None else "fp"
    if mode == "no":
        return None
    if mode not in ("fp", "dwarf"):
        return opts.call_graph
    size = t.stack_size if t.stack_size else DEFAULT_DWARF_STACK
    return CallGraph(mode, (size + 7) & ~7, t.max_stack or 0)


def _record_attr(ev: Evsel, evsels: Sequence[Evsel], tracking: bool, opts: RecordOptions,
                 immediate: bool) -> EventAttr:
    leader = ev if ev.leader < 0 else evsels[ev.leader]
    st = SampleType.IP | SampleType.TID | SampleType.TIME | ev.base_sample_type
    rf = ReadFormat.ID | ReadFormat.LOST
    flags = AttrFlag.SAMPLE_ID_ALL
    inherit = not opts.no_inherit
    if ev.sample_read:
        st |= SampleType.READ | SampleType.ID
        if leader.nr_members > 1:
            rf |= ReadFormat.GROUP
            inherit = False
    period, freq = ev.sample_period, False
    if not period or opts.user_freq is not None or opts.user_interval is not None:
        if opts.user_interval is None and opts.freq:
            period, freq = opts.freq, True
        else:
            period = opts.user_interval or 1
    if freq:
        st |= SampleType.PERIOD
    if opts.system_wide:
        st |= SampleType.CPU
    if opts.raw_samples:
        st |= SampleType.RAW | SampleType.CPU
    if tracking:
        flags |= TRACKING
    if ev.leader < 0 and not immediate:
        flags |= AttrFlag.DISABLED
        if opts.workload and not opts.threads and not opts.system_wide:
            flags |= AttrFlag.ENABLE_ON_EXEC
    precise = 3 if ev.precise_max else ev.precise_ip
    t = ev.terms
    if t.period is not None:
        period, freq = t.period, False
        st &= ~SampleType.PERIOD
    if t.freq is not None:
        period, freq = t.freq, True
        st |= SampleType.PERIOD
    if t.inherit is not None:
        inherit = t.inherit
    if t.time is not None:
        st = st | SampleType.TIME if t.time else st & ~SampleType.TIME
    regs, stack, max_stack = 0, 0, 0
    cg = _callchain_of(ev, opts)
    if cg is not None:
        st |= SampleType.CALLCHAIN
        max_stack = cg.max_stack
        if opts.kernel_callchains:
            flags |= AttrFlag.EXCLUDE_CALLCHAIN_USER
        if opts.user_callchains:
            flags |= AttrFlag.EXCLUDE_CALLCHAIN_KERNEL
        if cg.mode == "dwarf":
            st |= DWARF_SAMPLE
            flags |= AttrFlag.EXCLUDE_CALLCHAIN_USER | (AttrFlag.MMAP_DATA if tracking else 0)
            regs, stack = DWARF_REGS_X86_64, cg.stack_size
    flags |= _bits(ev, inherit, freq, precise)
    return EventAttr(type=ev.type, config=ev.config, config1=ev.config1, config2=ev.config2,
                     sample_period=period, sample_type=int(st), read_format=int(rf), flags=int(flags),
                     sample_regs_user=regs, sample_stack_user=stack, sample_max_stack=max_stack)


def _bits(ev: Evsel, inherit: bool, freq: bool, precise: int) -> int:
    flags = 0
    for on, bit in ((inherit, AttrFlag.INHERIT), (freq, AttrFlag.FREQ),
                    (ev.pinned and ev.leader < 0, AttrFlag.PINNED), (ev.exclusive, AttrFlag.EXCLUSIVE),
                    (ev.exclude_user, AttrFlag.EXCLUDE_USER), (ev.exclude_kernel, AttrFlag.EXCLUDE_KERNEL),
                    (ev.exclude_hv, AttrFlag.EXCLUDE_HV), (ev.exclude_idle, AttrFlag.EXCLUDE_IDLE),
                    (ev.exclude_host, AttrFlag.EXCLUDE_HOST), (ev.exclude_guest, AttrFlag.EXCLUDE_GUEST)):
        if on:
            flags |= bit
    return flags | (precise & 3) * AttrFlag.PRECISE_IP_LO


def record_attrs(evsels: Sequence[Evsel], opts: RecordOptions) -> List[EventAttr]:
    """One attr per event (the dummy of -a/-C included, last), as ``perf record`` opens them."""
    n = len(evsels)
    dummy = n - 1 if opts.system_wide and n and _is_tracking_dummy(evsels[-1]) else -1
    tracking = dummy if dummy >= 0 else 0
    attrs = [_record_attr(ev, evsels, i == tracking, opts, immediate=(i == dummy)) for i, ev in enumerate(evsels)]
    attrs = _leader_sampling(evsels, attrs)
    if n > 1:
        differ = any(a.sample_type != attrs[0].sample_type for a in attrs)
        attrs = [_with_sample_id(a, identifier=differ) for a in attrs]
    return attrs


def _is_tracking_dummy(ev: Evsel) -> bool:
    return ev.type == tables.SOFTWARE and ev.config == tables.SW_DUMMY and ev.name is None


def _leader_sampling(evsels: Sequence[Evsel], attrs: List[EventAttr]) -> List[EventAttr]:
    """``evsel__config_leader_sampling``: members of a ``:S`` group do not sample (unless a period or freq
    term says so) and take the leader's sample_type."""
    out = list(attrs)
    for i, ev in enumerate(evsels):
        if ev.leader < 0 or not evsels[ev.leader].sample_read:
            continue
        a, lead = out[i], out[ev.leader]
        changes = dict(sample_type=lead.sample_type)
        if ev.terms.period is None and ev.terms.freq is None:
            changes.update(sample_period=0, flags=a.flags & ~AttrFlag.FREQ)
        out[i] = _replace(a, **changes)
    return out


def _replace(attr: EventAttr, **changes) -> EventAttr:
    fields = {name: getattr(attr, name) for name in EventAttr._fields}
    fields.update(changes)
    return EventAttr(**fields)


def _with_sample_id(attr: EventAttr, identifier: bool) -> EventAttr:
    """``evsel__set_sample_id``: IDENTIFIER (instead of ID) when the events' sample_types differ."""
    st = attr.sample_type
    st = (st & ~SampleType.ID) | SampleType.IDENTIFIER if identifier else st | SampleType.ID
    return _replace(attr, sample_type=int(st), read_format=attr.read_format | ReadFormat.ID)


def stat_attr(ev: Evsel, enable_on_exec: bool, no_inherit: bool = False, group: bool = False) -> EventAttr:
    """``create_perf_stat_counter``: a counter (no sampling) read with its enabled and running times; the
    events of a group of two or more (``group``) are read together through their leader (ID|GROUP)."""
    flags = _bits(ev, not no_inherit, False, 3 if ev.precise_max else ev.precise_ip)
    if ev.leader < 0:
        flags |= AttrFlag.DISABLED | (AttrFlag.ENABLE_ON_EXEC if enable_on_exec else 0)
    rf = ReadFormat.TOTAL_TIME_ENABLED | ReadFormat.TOTAL_TIME_RUNNING
    if group:
        rf |= ReadFormat.ID | ReadFormat.GROUP
    return EventAttr(type=ev.type, config=ev.config, config1=ev.config1, config2=ev.config2, sample_period=0,
                     sample_type=int(SampleType.IDENTIFIER), read_format=int(rf), flags=int(flags))
