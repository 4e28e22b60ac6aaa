"""``perf script``'s text for resolved samples (tools/perf/builtin-script.c of perf 6.1:
``perf_sample__fprintf_start``, ``process_event``; util/evsel_fprintf.c: ``sample__fprintf_callchain``,
``sample__fprintf_sym``).

One line per sample: the fields in perf's fixed order (comm, pid/tid, cpu, time, event, trace), then either
the ip/sym/dso of the sample on the same line, or, when the sample has a call chain, one line per frame
(``\\t%16x sym+0xOFF (dso)``) and a blank line. Frame addresses are map-relative (``map__map_ip``: the file
offset of the avma), the sample ip without a call chain is the avma, as perf prints them.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from pyperf_probe.errors import UsageError
from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.report.tpformat import TracepointFormat

# Fields `perf script -F` knows that pyperf prints, in perf's output order.
FIELDS = ("comm", "pid", "tid", "cpu", "time", "event", "trace", "period", "ip", "sym", "symoff", "dso")
# perf's default for tracepoint events (output[PERF_TYPE_TRACEPOINT]); ip/sym/symoff/dso join when the
# events have call chains.
DEFAULT_FIELDS = ("comm", "tid", "cpu", "time", "event", "trace")
CALLCHAIN_FIELDS = ("ip", "sym", "symoff", "dso")


class ScriptOptions(Frozen):
    """What to print: the -F field set, --ns, and whether call chains are printed (-G turns them off)."""

    __slots__ = ()
    _fields = ("fields", "nanosecs", "callchains")

    def __new__(cls, fields: frozenset, nanosecs: bool = False, callchains: bool = True):
        return tuple.__new__(cls, (fields, nanosecs, callchains))


def parse_fields(spec: str | None, show_callchain: bool) -> frozenset:
    """``-F a,b,c`` (or perf's default). ``+x``/``-x`` add to or remove from the default, as perf's
    parse_output_fields does; a ``type:`` prefix is accepted for ``trace:`` only (pyperf reads tracepoints).
    Without -F, perf adds ip,sym,symoff,dso when call chains are shown (not with -G); with -F it does not."""
    default = set(DEFAULT_FIELDS)
    if not spec:
        return frozenset(default | (set(CALLCHAIN_FIELDS) if show_callchain else set()))
    if ":" in spec:
        kind, _, spec = spec.partition(":")
        if kind not in ("trace", "tracepoint"):
            raise UsageError(f"Invalid event type in field string: '{kind}'")
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if items and all(i[0] in "+-" for i in items):
        chosen = default
        for item in items:
            _check_field(item[1:])
            (chosen.add if item[0] == "+" else chosen.discard)(item[1:])
        return frozenset(chosen)
    for item in items:
        _check_field(item)
    return frozenset(items)


def _check_field(name: str) -> None:
    if name not in FIELDS:
        raise UsageError("Invalid field requested.", usage="\n Usage: pyperf script [<options>]")


def _time(ns: int, nanosecs: bool) -> str:
    secs, rest = divmod(ns, 1_000_000_000)
    if nanosecs:
        return f"{secs:5d}.{rest:09d}: "
    return f"{f'{secs}.{rest // 1000:06d}':>12}: "


def _symname(frame, symoff: bool) -> str:
    if frame.sym is None:
        return "[unknown]"
    if not symoff or frame.dso_obj is None or frame.file_offset is None or frame.sym_start is None:
        return frame.sym
    svma = frame.dso_obj.svma(frame.file_offset)
    return frame.sym if svma is None else f"{frame.sym}+{svma - frame.sym_start:#x}"


def _frame_text(frame, f: frozenset, address: int, lead: str) -> str:
    out = f"{lead}{address:16x}" if "ip" in f else lead.strip(" ")
    if "sym" in f:
        out += " " + _symname(frame, "symoff" in f)
    if "dso" in f and not frame.inlined:
        out += f" ({frame.dso_obj.long_name if frame.dso_obj is not None else '[unknown]'})"
    if "sym" in f and frame.inlined:
        out += " (inlined)"
    return out


class ScriptPrinter:
    """Formats a session's samples as ``perf script`` does (see the module docstring)."""

    def __init__(self, evsels: Sequence, options: ScriptOptions, trace_events=None):
        self.options = options
        # trace_events: a traceevent.TraceEvents of the file (perf's print of every tracepoint); without one,
        # the uprobe-only TracepointFormat of each event.
        self.trace_events = trace_events
        self.formats: tuple[TracepointFormat | None, ...] = () if trace_events is not None else tuple(
            TracepointFormat.parse(ev.tp_format.text) if ev.tp_format is not None else None for ev in evsels)
        self.tp_ids = tuple(ev.attr.config if ev.tp_format is not None else None for ev in evsels)
        self.names = tuple(ev.name or "[unknown]" for ev in evsels)
        self.name_width = max((len(n) for n in self.names), default=0)

    def lines(self, samples: Iterable) -> Iterator[str]:
        for s in samples:
            yield self.format(s)

    def format(self, s) -> str:
        f = self.options.fields
        with_chain = "ip" in f and self.options.callchains and bool(s.chain)
        out = [self._start(s, f, with_chain)]
        if "period" in f:
            out.append(f"{s.period:10d} ")
        if "event" in f:
            out.append(f"{self.names[s.evsel]:>{self.name_width}}: ")
        if "trace" in f and s.raw is not None:
            out.append(self._trace(s))
        if "ip" in f:
            if with_chain:
                out.append("\n")
                out.extend(_frame_text(fr, f, fr.file_offset if fr.file_offset is not None else fr.avma, "\t")
                           + "\n" for fr in s.chain)
            else:
                out.append(" " + _frame_text(s.location, f, s.sample.ip or 0, ""))
        out.append("\n")
        return "".join(out)

    def _trace(self, s) -> str:
        """builtin-script.c: ``event_format__fprintf`` (TEP_PRINT_INFO) of the sample's RAW data."""
        if self.trace_events is not None:
            event_id = self.tp_ids[s.evsel]
            return "" if event_id is None else self.trace_events.info(event_id, s.raw, s.sample.cpu or 0)
        fmt = self.formats[s.evsel]
        return "" if fmt is None else fmt.format(s.raw)

    def _start(self, s, f: frozenset, with_chain: bool) -> str:
        t, out = s.thread, []
        if "comm" in f:
            out.append(f"{t.comm} " if with_chain else f"{t.comm:>16} ")
        if "pid" in f and "tid" in f:
            out.append(f"{t.pid:5d}/{t.tid:<5d} ")
        elif "pid" in f:
            out.append(f"{t.pid:5d} ")
        elif "tid" in f:
            out.append(f"{t.tid:5d} ")
        if "cpu" in f:
            out.append(f"[{s.sample.cpu or 0:03d}] ")
        if "time" in f:
            out.append(_time(s.sample.time or 0, self.options.nanosecs))
        return "".join(out)
