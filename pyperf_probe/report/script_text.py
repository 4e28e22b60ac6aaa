"""``perf script``'s text for resolved samples (tools/perf/builtin-script.c of perf 6.1:
``perf_sample__fprintf_start``, ``process_event``; util/evsel_fprintf.c: ``sample__fprintf_callchain``,
``sample__fprintf_sym``).

One line per sample: the fields in perf's fixed order (comm, pid/tid, cpu, time, period, event, trace),
then either the ip/sym/dso of the sample on the same line, or, when the event has call chains, one line
per frame (``\\t%16x sym+0xOFF (dso)``) and a blank line. A user frame's address is map-relative
(``map__map_ip``: the file offset of the avma), a kernel frame's (kernel or module) and the sample ip
without a call chain are the address itself, as perf prints them. Which fields each event prints comes
from ``report.script_fields``.
"""
from __future__ import annotations

from pyperf_probe.perfdata.format import SampleType
from pyperf_probe.perfdata.frozen import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterable, Iterator, Sequence


class ScriptOptions(Frozen):
    """What to print: each event's field set (``report.script_fields``), --ns, whether call chains are
    printed (some event has them and -G was not given), and --show-kernel-path."""

    __slots__ = ()
    _fields = ("fields", "nanosecs", "callchains", "kernel_path")

    def __new__(cls, fields: Sequence[frozenset], nanosecs: bool = False, callchains: bool = True,
                kernel_path: bool = False):
        return tuple.__new__(cls, (tuple(fields), nanosecs, callchains, kernel_path))


def _time(ns: int, nanosecs: bool) -> str:
    secs, rest = divmod(ns, 1_000_000_000)
    if nanosecs:
        return f"{secs:5d}.{rest:09d}: "
    return f"{f'{secs}.{rest // 1000:06d}':>12}: "


def _symname(frame, address: int, symoff: bool) -> str:
    """``__symbol__fprintf_symname_offs``: the name, and with ``symoff`` ``+0x`` the offset of ``address``
    (map-relative: ``al->addr``) in the symbol."""
    if frame.sym is None:
        return "[unknown]"
    if not symoff or frame.sym_start is None:
        return frame.sym
    svma = frame.dso_obj.svma(address) if frame.dso_obj is not None else None
    return frame.sym if svma is None else f"{frame.sym}+{(svma - frame.sym_start) & 0xFFFFFFFFFFFFFFFF:#x}"


def _dso_name(frame, kernel_path: bool) -> str:
    """``map__fprintf_dsoname``: the dso's name (its long name with --show-kernel-path)."""
    dso = frame.dso_obj
    if dso is None:
        return "[unknown]"
    if kernel_path:
        return dso.long_name
    return getattr(dso, "script_name", dso.long_name)


def _chain_line(frame, f: frozenset, kernel_path: bool) -> str:
    """One node of ``sample__fprintf_callchain``: a user address map-relative, a kernel one as it is."""
    dso = frame.dso_obj
    addr = frame.file_offset if frame.file_offset is not None else 0
    out = "\t"
    if "ip" in f:
        shown = frame.avma if dso is None or getattr(dso, "is_kernel", False) else addr
        out += f"{shown:16x}"
    if "sym" in f:
        out += " " + _symname(frame, addr, "symoff" in f)
    if "dso" in f and not frame.inlined:
        out += f" ({_dso_name(frame, kernel_path)})"
    if frame.inlined:
        out += " (inlined)"
    return out + "\n"


def _sample_line(s, f: frozenset, kernel_path: bool) -> str:
    """``sample__fprintf_sym`` without a call chain: the sample's ip, its symbol and dso."""
    loc = s.location
    out = f"{s.sample.ip or 0:16x}" if "ip" in f else ""
    if "sym" in f:
        addr = loc.file_offset if loc.file_offset is not None else 0
        out += " " + _symname(loc, addr, "symoff" in f)
    if "dso" in f:
        out += f" ({_dso_name(loc, kernel_path)})"
    return out


class _Located:
    """A sample at a location, as _sample_line reads it (its ip: the location's avma)."""

    __slots__ = ("location",)

    def __init__(self, location):
        self.location = location

    @property
    def sample(self):
        return self

    @property
    def ip(self) -> int:
        return self.location.avma


_LOCATION_FIELDS = frozenset(("ip", "sym", "dso", "symoff"))  # the fields that print a sample's location

# How many chains (and frames) the printer keeps the text of, per field set, before it starts again.
TEXT_MEMO_LIMIT = 1 << 14


class ScriptPrinter:
    """Formats a session's samples as ``perf script`` does (see the module docstring).

    ``format(s)`` is one sample's text; ``template(s)`` the same text with ``%``-conversions where the time
    goes, for samples that differ only by their time (``report.script_keys``). A chain's text is kept per
    chain (an interned tuple of interned frames: ``session``) and field set, a frame's line per frame."""

    def __init__(self, evsels: Sequence, options: ScriptOptions, trace_events=None):
        self.options = options
        # trace_events: a traceevent.TraceEvents of the file (perf's print of every tracepoint); None when no
        # event of the file is a tracepoint with a format
        self.trace_events = trace_events
        self.tp_ids = tuple(ev.attr.config if ev.tp_format is not None else None for ev in evsels)
        self.names = tuple(ev.name or "[unknown]" for ev in evsels)
        self.name_width = max((len(n) for n in self.names), default=0)
        # per event: does it print a call chain (the ip field, call chains on, PERF_SAMPLE_CALLCHAIN)
        self.chains = tuple(options.callchains and "ip" in f and bool(ev.attr.sample_type & SampleType.CALLCHAIN)
                            for f, ev in zip(options.fields, evsels))
        # what replaces the time in a template: %5d.%06d (%5d.%09d with --ns) of (seconds, the rest in
        # microseconds or nanoseconds); an event that prints no time takes the two numbers as nothing
        self.time_conversion = "%5d.%09d: " if options.nanosecs else "%5d.%06d: "
        self._chain_texts: dict[frozenset, dict] = {}
        self._around_plans: dict[int, object] = {}  # evsel -> templates_around_trace's plan (or None)
        self._line_texts: dict[frozenset, dict] = {}

    def lines(self, samples: Iterable) -> Iterator[str]:
        for s in samples:
            yield self.format(s)

    def format(self, s) -> str:
        """``process_event``: nothing for an event without fields."""
        f = self.options.fields[s.evsel]
        if not f:
            return ""
        head, mid, trace, tail = self._pieces(s, f)
        if "time" in f:
            head += _time(s.sample.time or 0, self.options.nanosecs)
        return head + mid + trace + tail

    def template(self, s) -> str:
        """``format(s)`` with ``time_conversion`` where the time goes (the rest's ``%`` doubled), to be
        completed by ``template % (seconds, microseconds)`` (nanoseconds with --ns); "" for an event without
        fields."""
        f = self.options.fields[s.evsel]
        if not f:
            return ""
        head, mid, trace, tail = self._pieces(s, f)
        time = self.time_conversion if "time" in f else "%.0s%.0s"
        return head.replace("%", "%%") + time + (mid + trace + tail).replace("%", "%%")

    def template_parts(self, s) -> tuple[str, str | None] | None:
        """``format(s)`` cut where the time goes, for samples that differ only by their time: (the text before
        it, the text after it), completed by ``before + time_conversion % (seconds, rest) + after`` (no ``%``
        doubled: a long chain's text is copied, not parsed by a ``%`` formatting); (the whole text, None) for
        an event that prints no time; None for an event without fields."""
        f = self.options.fields[s.evsel]
        if not f:
            return None
        head, mid, trace, tail = self._pieces(s, f)
        if "time" in f:
            return head, mid + trace + tail
        return head + mid + trace + tail, None

    def templates_around_trace(self, s) -> tuple[str, str, bool] | None:
        """``template(s)`` cut where the trace text goes, without making it: (before, after, whether the
        trace text goes there: ``trace_events.info`` of the event's ``tp_ids`` with its ``%`` doubled); None
        for an event without fields. For samples that differ by their RAW record only
        (``report.script_keys``)."""
        plan = self.around_plan(s.evsel)
        if plan is not None:
            return plan(s)
        f = self.options.fields[s.evsel]
        if not f:
            return None
        head, mid, _, tail = self._pieces(s, f, with_trace=False)
        time = self.time_conversion if "time" in f else "%.0s%.0s"
        traced = "trace" in f and s.raw is not None and self.trace_events is not None and \
            self.tp_ids[s.evsel] is not None
        return head.replace("%", "%%") + time + mid.replace("%", "%%"), tail.replace("%", "%%"), traced

    def around_plan(self, evsel: int):
        """The event's generated ``templates_around_trace`` (``_around_plan``, made once), or None: it reads
        only ``evsel``, ``thread.comm``, ``period``, ``raw``, ``location`` (with the ip field) and
        ``sample``'s pid, tid, cpu and ip (with the ip field)."""
        plan = self._around_plans.get(evsel, False)
        if plan is False:
            plan = self._around_plans[evsel] = self._around_plan(evsel)
        return plan

    def _around_plan(self, evsel: int):
        """``templates_around_trace`` for one event as a generated function (one ``%`` formatting of the
        line's head, and the sample's location line after the trace text when the fields print the ip),
        when its fields print no chain; None otherwise (or without fields)."""
        f = self.options.fields[evsel]
        if not f or self.chains[evsel]:
            return None
        parts, values = [], []
        if "comm" in f:
            parts.append("%16s ")  # _start's f"{comm:>16} "
            values.append("s.thread.comm")
        if "pid" in f and "tid" in f:
            parts.append("%5d/%-5d ")
            values += ["sample.pid", "sample.tid"]
        elif "pid" in f:
            parts.append("%5d ")
            values.append("sample.pid")
        elif "tid" in f:
            parts.append("%5d ")
            values.append("sample.tid")
        if "cpu" in f:
            parts.append("[%03d] ")
            values.append("(sample.cpu or 0)")
        time = self.time_conversion if "time" in f else "%.0s%.0s"
        event = f"{self.names[evsel]:>{self.name_width}}: ".replace("%", "%%") if "event" in f else ""
        mid = "('%10d ' % s.period) + EVENT" if "period" in f else "EVENT"
        traced = "trace" in f and self.trace_events is not None and self.tp_ids[evsel] is not None
        head = f"(HEAD % ({', '.join(values)},)).replace('%', '%%')" if values else "''"
        # _pieces' tail: the location line (sample__fprintf_sym) with the ip field, kept per location (an
        # interned frame: its address is the sample's ip), else the end of the line
        tail = "'\\n'"
        lines = ""
        if "ip" in f:
            tail = "tail"
            lines = ("    tail = TAILS.get(s.location)\n    if tail is None:\n"
                     "        if len(TAILS) >= TEXT_MEMO_LIMIT:\n            TAILS.clear()\n"
                     "        tail = TAILS[s.location] = ' ' + LINE(s, F, KERNEL_PATH).replace('%', '%%') + '\\n'\n")
        source = ("def around(s):\n    sample = s.sample\n" + lines +
                  f"    return {head} + TIME + {mid}, {tail}, {'s.raw is not None' if traced else 'False'}\n")
        # the tail of a location (its avma: the sample's ip), as around() makes it (around_spec's tail_of)
        source += ("def tail_of(location):\n    tail = TAILS.get(location)\n    if tail is None:\n"
                   "        if len(TAILS) >= TEXT_MEMO_LIMIT:\n            TAILS.clear()\n"
                   "        tail = TAILS[location] = ' ' + LINE(_Located(location), F, KERNEL_PATH).replace('%', '%%')"
                   " + '\\n'\n    return tail\n")
        namespace = {"HEAD": "".join(parts), "TIME": time, "EVENT": event, "LINE": _sample_line, "F": f,
                     "_Located": _Located,
                     "KERNEL_PATH": self.options.kernel_path, "TAILS": {}, "TEXT_MEMO_LIMIT": TEXT_MEMO_LIMIT}
        exec(compile(source, f"<script head {evsel}>", "exec"), namespace)
        return namespace["around"]

    def around_spec(self, evsel: int) -> tuple | None:
        """What ``around_plan(evsel)`` prints, for a C head maker (``_speedups.script_raw_run``'s make_head):
        (comm, pidtid, cpu, period, time, event, traced, tails, tail_of): whether the comm ("%16s "), the cpu
        ("[%03d] ") and the period ("%10d ") are printed, pidtid 0 (neither), 1 (pid: "%5d "), 2 (tid) or 3
        ("%5d/%-5d "), the time conversion and the event's text (their ``%`` doubled), whether a trace text
        goes after them, the around plan's tails (location -> the ip field's line; None without the ip
        field: the tail is "\\n") and its function making one (kept there); None where there is no around
        plan."""
        plan = self.around_plan(evsel)
        if plan is None:
            return None
        f = self.options.fields[evsel]
        pidtid = (1 if "pid" in f else 0) | (2 if "tid" in f else 0)
        time = self.time_conversion if "time" in f else "%.0s%.0s"
        event = f"{self.names[evsel]:>{self.name_width}}: ".replace("%", "%%") if "event" in f else ""
        traced = "trace" in f and self.trace_events is not None and self.tp_ids[evsel] is not None
        return ("comm" in f, pidtid, "cpu" in f, "period" in f, time, event, traced,
                plan.__globals__["TAILS"] if "ip" in f else None, plan.__globals__["tail_of"])

    def _pieces(self, s, f: frozenset, with_trace: bool = True) -> tuple[str, str, str, str]:
        """The sample's text before its time, from there to its trace text, the trace text ("" unless
        ``with_trace``), and the rest."""
        with_chain = self.chains[s.evsel]
        head = self._start(s, f, with_chain)
        mid = ""
        if "period" in f:
            mid += f"{s.period:10d} "
        if "event" in f:
            mid += f"{self.names[s.evsel]:>{self.name_width}}: "
        trace = self._trace(s) if with_trace and "trace" in f and s.raw is not None else ""
        tail = "\n"
        if "ip" in f:
            if with_chain:
                tail = "\n" + self._chain_text(s.chain, f) + "\n"
            else:
                tail = " " + _sample_line(s, f, self.options.kernel_path) + "\n"
        return head, mid, trace, tail

    def _chain_text(self, chain: tuple, f: frozenset) -> str:
        """The lines of a chain (``sample__fprintf_callchain``), kept per chain and field set."""
        texts = self._chain_texts.get(f)
        if texts is None:
            texts = self._chain_texts[f] = {}
            self._line_texts[f] = {}
        text = texts.get(chain)
        if text is None:
            lines = self._line_texts[f]
            if len(lines) >= TEXT_MEMO_LIMIT:
                lines.clear()
            kernel_path = self.options.kernel_path
            out = []
            for frame in chain:
                line = lines.get(frame)
                if line is None:
                    line = lines[frame] = _chain_line(frame, f, kernel_path)
                out.append(line)
            text = "".join(out)
            if len(texts) >= TEXT_MEMO_LIMIT:
                texts.clear()
            texts[chain] = text
        return text

    def _trace(self, s) -> str:
        """builtin-script.c: ``event_format__fprintf`` (TEP_PRINT_INFO) of the sample's RAW data."""
        event_id = self.tp_ids[s.evsel]
        if self.trace_events is None or event_id is None:
            return ""
        return self.trace_events.info(event_id, s.raw, s.sample.cpu or 0)

    def _start(self, s, f: frozenset, with_chain: bool) -> str:
        """``perf_sample__fprintf_start`` up to the time: the thread's comm, the sample's own pid and tid
        (the thread found by tid keeps the pid it was made with: a tid -1 names every dead task's samples)."""
        t, sample, out = s.thread, s.sample, []
        if "comm" in f:
            out.append(f"{t.comm} " if with_chain else f"{t.comm:>16} ")
        if "pid" in f and "tid" in f:
            out.append(f"{sample.pid:5d}/{sample.tid:<5d} ")
        elif "pid" in f:
            out.append(f"{sample.pid:5d} ")
        elif "tid" in f:
            out.append(f"{sample.tid:5d} ")
        if "cpu" in f:
            out.append(f"[{s.sample.cpu or 0:03d}] ")
        return "".join(out)
