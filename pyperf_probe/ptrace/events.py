"""ptrace events as a perf.data describes them: the attr perf 6.1 writes for a uprobe event, a tracepoint
id, the ``format`` text the kernel would show for the uprobe, and the TRACING_DATA that carries it.

The attrs are those of ``perf record -e GROUP:EVENT`` (perf-formats.md §1.2: type TRACEPOINT, period 1,
IP|TID|TIME|CPU|PERIOD|RAW, CALLCHAIN with -g, the DWARF bits with --call-graph dwarf, ID with several
events, the tracking flags on the first), with ``exclude_kernel``/``exclude_hv`` set: the backend sees
user space only (perf sets them too for a user whose perf_event_paranoid forbids kernel samples), which
also keeps perf report from warning about kernel maps a user cannot read. There is no tracefs id: each
event gets one above the range the kernel hands out to dynamic events in practice, used only inside the
file. header_page and header_event are read from tracefs when this user can, else are the texts of
x86-64 kernels since 5.x (below), which perf only needs to be well formed.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

from pyperf_probe.errors import ProbeError
from pyperf_probe.perfdata.format import AttrFlag, AttrType, EventAttr, ReadFormat, SampleType
from pyperf_probe.probe.tracedef import UprobeDef
from pyperf_probe.ptrace import fetch

FIRST_ID = 60000
DWARF_REGS = 0xFF0FFF  # AX..R15 without the segment registers (perf_regs.h PERF_REGS_MASK)
TRACKING = (AttrFlag.MMAP | AttrFlag.COMM | AttrFlag.TASK | AttrFlag.MMAP2 | AttrFlag.COMM_EXEC
            | AttrFlag.KSYMBOL | AttrFlag.BPF_EVENT)

HEADER_PAGE = (b"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
               b"\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
               b"\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
               b"\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n")
HEADER_EVENT = (b"# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n"
                b"\tarray       :   32 bits\n\n\tpadding     : type == 29\n\ttime_extend : type == 30\n"
                b"\ttime_stamp : type == 31\n\tdata max type_len  == 28\n")


@dataclasses.dataclass
class PtraceEvent:
    """One -e event: GROUP:EVENT, its probe points (several for a multi-probe event), its id and layout."""

    name: str
    defs: List[UprobeDef]
    id: int
    layout: fetch.Layout
    format: str

    @property
    def group(self) -> str:
        return self.name.partition(":")[0]

    @property
    def event(self) -> str:
        return self.name.partition(":")[2]


def make_events(selected: Sequence[Tuple[str, List[UprobeDef]]]) -> List[PtraceEvent]:
    from pyperf_probe.ptrace.store import check_files
    check_files([d for _, defs in selected for d in defs])
    out = []
    for i, (name, defs) in enumerate(selected):
        first = defs[0]
        if any(d.retprobe != first.retprobe for d in defs):
            raise ProbeError(f"{name}: entry and return probes under one name")
        args = fetch.parse_args(first.args, first.retprobe)
        event_id = FIRST_ID + i
        out.append(PtraceEvent(name, list(defs), event_id, fetch.Layout(event_id, first.retprobe, args),
                               fetch.format_text(first.event, event_id, first.retprobe, args)))
    return out


def sample_type(call_graph, nr_events: int) -> int:
    st = (SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU | SampleType.PERIOD
          | SampleType.RAW)
    if call_graph is not None:
        st |= SampleType.CALLCHAIN
        if call_graph.mode == "dwarf":
            st |= SampleType.ADDR | SampleType.REGS_USER | SampleType.STACK_USER | SampleType.DATA_SRC
    if nr_events > 1:
        st |= SampleType.ID
    return int(st)


def attrs(events: Sequence[PtraceEvent], call_graph, *, workload: bool, inherit: bool, period: int) -> List[EventAttr]:
    st = sample_type(call_graph, len(events))
    dwarf = call_graph is not None and call_graph.mode == "dwarf"
    common = (AttrFlag.DISABLED | AttrFlag.SAMPLE_ID_ALL | AttrFlag.EXCLUDE_GUEST | AttrFlag.EXCLUDE_KERNEL
              | AttrFlag.EXCLUDE_HV)
    if inherit:
        common |= AttrFlag.INHERIT
    if workload:
        common |= AttrFlag.ENABLE_ON_EXEC
    if dwarf:
        common |= AttrFlag.EXCLUDE_CALLCHAIN_USER
    out = []
    for i, ev in enumerate(events):
        flags = common | ((TRACKING | (AttrFlag.MMAP_DATA if dwarf else 0)) if i == 0 else 0)
        out.append(EventAttr(type=AttrType.TRACEPOINT, config=ev.id, sample_period=period, sample_type=st,
                             read_format=ReadFormat.ID | ReadFormat.LOST, flags=int(flags),
                             sample_regs_user=DWARF_REGS if dwarf else 0,
                             sample_stack_user=call_graph.stack_size if dwarf else 0))
    return out


def _tracefs_text(name: str) -> Optional[bytes]:
    import os
    for base in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        try:
            with open(os.path.join(base, "events", name), "rb") as f:
                return f.read()
        except OSError:
            continue
    return None


def tracing_data(events: Sequence[PtraceEvent], page_size: int) -> bytes:
    """TRACING_DATA with each event's format under its group, as perf writes it for tracefs events."""
    from pyperf_probe.perfdata import tracing_data as td
    systems: dict = {}
    for ev in events:
        systems.setdefault(ev.group, []).append(ev.format.encode())
    return td.encode(header_page=_tracefs_text("header_page") or HEADER_PAGE,
                     header_event=_tracefs_text("header_event") or HEADER_EVENT,
                     systems=list(systems.items()), page_size=page_size)
