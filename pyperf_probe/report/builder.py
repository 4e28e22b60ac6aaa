"""Session samples -> one ``Hists`` per event (builtin-report.c ``process_sample_event`` and the
``hist_entry_iter`` it drives).

The session counts the samples per (thread, location, chain, raw) group (``Session.sample_groups``); here
frames are converted once per distinct session ``Frame``, chains once per distinct chain tuple, trace
outputs once per distinct RAW payload; ``Hists.add`` then only aggregates. Trace outputs are perf's
``get_trace_output``: the event's print fmt applied to the RAW record by :mod:`pyperf_probe.traceevent`
(libtraceevent or its Python port, as ``pyperf script`` prints them), or with ``--raw-trace`` every field
raw (``tep_print_fields``); ``N/A`` for an event that is not a tracepoint. Samples that fail
``--comms/--dsos/--symbols`` still count in the totals (perf's percentages and ``# Samples`` include them)
and in entries other samples made; only the entries they make are hidden.
"""
from __future__ import annotations

import gc
import sys
from itertools import compress, repeat
from struct import error as _StructError, pack as _pack
try:            # (operator's C half, as symbols.symtab imports it: operator.py costs ~0.25 ms of start-up)
    from _operator import is_, itemgetter
except ImportError:         # another Python implementation
    from operator import is_, itemgetter

from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.report.frames import FrameTable
from pyperf_probe.report.hist import Hists
from pyperf_probe.report.trace_adds import spec_of as trace_spec, trace_adds

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Sequence


class Filters(Frozen):
    """``--comms``, ``--dsos``, ``--symbols`` lists (None: no filter)."""

    __slots__ = ()
    _fields = ("comms", "dsos", "symbols")

    def __new__(cls, comms: frozenset | None = None, dsos: frozenset | None = None,
                symbols: frozenset | None = None):
        return tuple.__new__(cls, (comms, dsos, symbols))

    def any(self) -> bool:
        return self.comms is not None or self.dsos is not None or self.symbols is not None

    def rejects(self, comm: str, frame, loc) -> bool:
        """``machine__resolve``'s al->filtered, on the sample's own location."""
        if self.comms is not None and comm not in self.comms:
            return True
        if self.dsos is not None:
            dso = getattr(frame, "dso_obj", None)
            if dso is None or not (loc.dso_name in self.dsos or getattr(dso, "long_name", None) in self.dsos):
                return True
        if self.symbols is not None and (not loc.has_sym or loc.name not in self.symbols):
            return True
        return False


class Built:
    """The per-event hists, in file order, with the event names."""

    __slots__ = ("hists", "names")

    def __init__(self, hists: list[Hists], names: list[str]):
        self.hists, self.names = hists, names


def build(session, keys: Sequence, *, children: bool, callchains: bool, caller_order: bool,
          filters: Filters, layout=None, trace_events=None, raw_trace: bool = False, graphs: bool = True,
          graph_min_percent: float | None = None) -> Built:
    """Walk every sample of ``session`` into per-event hists (finished: entries and trees built).

    The cyclic garbage collector is paused meanwhile: building creates hundreds of thousands of
    long-lived objects (frames, tree nodes with parent links) and no garbage cycles, and each full
    collection walks all of them again: half of ``Hists.finish`` on a make build's dwarf chains sorted
    by comm,dso,sym (0.75 -> 0.35 s), bench/unwind.

    ``layout`` (report.layout) gives each event its keys and sort list (else ``keys`` and perf's default
    list); ``trace_events`` (traceevent.TraceEvents) renders the tracepoint records."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(session, keys, children, callchains, caller_order, filters, layout, trace_events, raw_trace,
                      graphs, graph_min_percent)
    finally:
        if enabled:
            gc.enable()


def _build(session, keys: Sequence, children: bool, callchains: bool, caller_order: bool,
           filters: Filters, layout, trace_events, raw_trace: bool, graphs: bool,
           graph_min_percent: float | None) -> Built:
    evsels = session.evsels
    if callchains and not children and not graphs:
        # -g none --no-children: nothing uses a chain, and perf resolves none (sample__resolve_callchain runs
        # for use_callchain or cumulate_callchain only): neither does the session
        callchains = False
        session.chained_evsels = tuple(False for _ in evsels)
    need_trace = any(k.name == "trace" for k in keys)
    need_raw = need_trace or any(k.kind == "dynamic" for k in keys)
    if trace_events is None and need_raw:
        from pyperf_probe.traceevent.events import for_session
        trace_events = for_session(session)
    # (the events' renderers only for keys that print a record: their formats parsed, their plans made and
    # traceevent imported for nothing otherwise, on every -g uprobe report)
    texts = [_trace_text(ev, trace_events, raw_trace) for ev in evsels] if need_raw else [None] * len(evsels)
    hists = []
    for index, text in enumerate(texts):
        ev_keys = layout.for_event(keys, index) if layout is not None else keys
        ev_sort = layout.for_event(layout.sort_list, index) if layout is not None else None
        h = Hists(ev_keys, children=children, callchains=callchains, caller_order=caller_order,
                  sort_list=ev_sort, trace_text=text, graphs=graphs)
        h.graph_min_percent = graph_min_percent
        h.final_comm = _final_comm(session)
        if layout is not None:
            h.columns = layout.for_event(layout.columns, index)
            h.last_column = layout.columns[-1] if layout.columns else None
        hists.append(h)
    use_filters = filters.any()
    # The session counts the samples per (thread, location, chain, raw), all interned (raw only when the
    # trace or a tracepoint-field key needs it), in first-sample order: identical samples are resolved once
    # (session.counts).
    # and their order (each sample's group: report.findnew's replay reads it where straddling addresses
    # make it decide the entries)
    # (not asked where nothing replays: no chain, no sym or tracepoint-field key: entry_order's sort alone)
    order: list | None = [] if callchains or any(k.kind != "sort" or k.name == "sym" for k in keys) else None
    groups = session.sample_groups(with_chain=callchains, with_raw=need_raw, order=order)
    frames = FrameTable(_build_id_files(session))
    to_rframe = frames.get
    known_frame = frames.known_get  # (a session frame converted already: one dict look-up)
    chains: dict[tuple, tuple] = {}
    traces: dict[tuple, str] = {}
    for index, bucket in enumerate(groups):
        h, text = hists[index], texts[index]
        gkeys: dict[tuple, int] = {}  # session group -> the hists' group number
        h.sequence = _Sequence(order, bucket, gkeys, len(groups) == 1) if order is not None else None
        # (the totals once per event: the sum of every group's period and count)
        h.count(sum(map(itemgetter(0), bucket.values())), sum(map(itemgetter(1), bucket.values())))
        plain = not need_trace and h.plain_adds()
        if plain or (not need_trace and h.whole_adds()):
            # the loop below with Hists.add's plain path, in C (perfdata/_speedups_report.c builder_adds) when built;
            # for other keys (no trace, no tracepoint field, no group kept apart per dso) each (thread, location)'s
            # whole identity is kept instead of each location's part (WHOLE: make.data's 5K groups have 13 pairs)
            adds = speedups.builder_adds if speedups is not None and hasattr(speedups, "builder_adds") else _py_adds
            # (a chain's frames converted there, each one as a location is: FrameTable.chain's answers)
            # (C: a session frame's RFrame made there, FrameTable's conversion without its Python calls: c_convert)
            if plain:
                inlined = adds(bucket, frames.known, to_rframe, chains, None, h._self_parts, h._self_part, h._comm_head,
                               h._groups, h._thread_comm, gkeys, frames.c_convert())
            else:
                inlined = adds(bucket, frames.known, to_rframe, chains, None, h._self_idents, h._self_ident,
                               WHOLE_DSO_APART if h._dso_apart else WHOLE, h._groups, h._thread_comm, gkeys,
                               frames.c_convert())
            if inlined:
                frames.inlined_seen = True
            if use_filters:
                _mark_filtered(gkeys, h._groups, known_frame, to_rframe, filters.rejects)
            bucket.clear()
            if need_raw and order is not None:
                h.sequence.compact()
            continue
        spec = trace_spec(h) if need_trace else None
        if spec is not None:  # (report.trace_adds: every key trace, comm or pid; the outputs once per payload)
            trace_adds(bucket, frames.known, to_rframe, chains, frames.chain, spec, text, {}, h._groups,
                       h._thread_comm, gkeys if order is not None else None, filters.rejects if use_filters else None)
            bucket.clear()
            if order is not None:
                h.sequence.compact()
            continue
        for group, (period, count) in bucket.items():
            thread, location, chain, raw = group
            loc = known_frame(location)
            if loc is None:
                loc = to_rframe(location)
            filtered = use_filters and filters.rejects(thread.comm, location, loc)
            rchain = chains.get(chain)
            if rchain is None:
                rchain = chains[chain] = frames.chain(chain)
            trace = None
            if need_trace:
                trace = traces.get((index, raw))
                if trace is None:
                    trace = traces[(index, raw)] = text(raw or b"") if text is not None else "N/A"
            gkeys[group] = h.add(thread.comm, thread.tid, period, loc, rchain, chain, trace, count, filtered, raw)
        bucket.clear()
        if need_raw and order is not None:  # (groups as many as the RAW payloads: see _Sequence.compact)
            h.sequence.compact()
    # What only the adds needed goes before Hists.finish's peak: the order's tuples (its samples as arrays
    # instead, which finish's replays read: _Sequence.compact), the groups' numbers (gkeys: a dict of every
    # group), the chains converted (the entries hold theirs), the payloads' texts (the entries keep theirs).
    # make.data's --no-children sets: ~1 MiB of peak RSS.
    if order is not None:
        for h in hists:
            if h.sequence is not None:
                h.sequence.compact()
        order.clear()
    gkeys = bucket = None
    chains.clear()
    traces.clear()
    symtab = sys.modules.get("pyperf_probe.symbols.symtab")  # (not imported: no table loaded, a warm report)
    if symtab is not None:  # every sample is resolved: the names are kept, the tables need not be, for that peak
        symtab.release_tables()
    for h in hists:
        h.inlined_seen = frames.inlined_seen
        h.finish()
    return Built(hists, [ev.name or "" for ev in evsels])


def _mark_filtered(gkeys: dict, hists_groups: dict, known_get, to_rframe, rejects) -> None:
    """``Hists.add``'s ``filtered`` after the plain adds (builder_adds, _py_adds), which know no filter: a hists
    group is hidden when the sample group that made it (the first one numbered with it, in the order the adds
    took the bucket: ``gkeys``' order) fails --comms/--dsos/--symbols (``Filters.rejects``), as ``add`` marks a
    group when it makes it; what other samples add to it does not change that (``hists__findnew_entry``)."""
    creators: dict[int, tuple] = {}
    for group, number in gkeys.items():
        if number not in creators:
            creators[number] = group
    rows = None
    for number, (thread, location, _chain, _raw) in creators.items():
        loc = known_get(location)
        if loc is None:
            loc = to_rframe(location)
        if rejects(thread.comm, location, loc):
            if rows is None:
                rows = list(hists_groups.values())
            rows[number][7] = True


# _py_adds' comm_head: make_part gives the whole identity, kept per (thread, location); and, with DSO_APART, the
# group of a location without a symbol told apart by its dso (Hists._dso_apart)
WHOLE, WHOLE_DSO_APART = 2, 3


def _py_adds(bucket: dict, known: dict, to_rframe, chains: dict, chain_of, self_parts: dict, make_part,
             comm_head: int, groups: dict, thread_comm: dict, gkeys: dict, convert=None) -> bool:
    """``_build``'s per-group loop and ``Hists.add`` on its plain path (no filter, no trace, the frame keys last
    after nothing or comm: ``Hists.plain_adds``), the twin of perfdata/_speedups_report.c builder_adds: each
    group's location and chain converted (``known``/``to_rframe``, ``chains``/``chain_of``; without chain_of,
    each frame as a location), its thread's comm
    noted, its identity made from the location's part (``self_parts``/``make_part``), its hists group made or
    added to, its number in ``gkeys``. ``comm_head`` ``WHOLE`` (``Hists.whole_adds``): ``make_part`` gives the
    whole identity, kept in ``self_parts[thread][loc]`` (the group's thread: one object per pid, tid and comm);
    ``WHOLE_DSO_APART``: the same, a location without a symbol's group kept apart by its dso (``Hists.add``).
    ``convert`` (``FrameTable.c_convert``: the C loop converts session frames itself, and answers whether one was
    inlined) is not used here: ``to_rframe`` converts them, and notes that; False."""
    for group, (period, count) in list(bucket.items()):
        thread, location, chain, raw = group
        loc = known.get(location)
        if loc is None:
            loc = to_rframe(location)
        rchain = chains.get(chain)
        if rchain is None:
            if chain_of is not None:
                rchain = chains[chain] = chain_of(chain)
            else:  # (each frame as the location)
                rchain = chains[chain] = tuple([rf if rf is not None else to_rframe(frame)
                                                for frame, rf in zip(chain, map(known.get, chain))])
        comm, tid = thread.comm, thread.tid
        thread_comm[tid] = comm
        parts = self_parts
        if comm_head >= WHOLE:
            parts = self_parts.get(thread)
            if parts is None:
                parts = self_parts[thread] = {}
        part = parts.get(loc)
        if part is None:
            part = parts[loc] = make_part(comm, tid, loc)
        gkey = ((comm,) + part if comm_head == 1 else part, chain)
        if comm_head == WHOLE_DSO_APART and not loc.has_sym:
            gkey += (loc.dso_name,)
        got = groups.get(gkey)
        if got is None:
            number = len(groups)
            groups[gkey] = [period, count, tid, comm, loc, rchain, None, False, raw, number]
        else:
            got[0] += period
            got[1] += count
            number = got[9]
        gkeys[group] = number
    return False


class _Sequence:
    """A hists' samples in order, as (group number, period): read from the session's order only if asked,
    or kept as arrays once ``compact`` made them."""

    __slots__ = ("order", "bucket", "gkeys", "alone", "numbers", "periods")

    def __init__(self, order: list, bucket: dict, gkeys: dict, alone: bool):
        self.order, self.bucket, self.gkeys = order, bucket, gkeys
        self.alone = alone  # the file's only event: every sample in the order is this hists'
        self.numbers = self.periods = None  # (compact's arrays)

    def compact(self) -> None:
        """Read this hists' samples now and keep them as arrays (group number: 'I', period: 'I' or 'Q'), letting go
        of the order and the groups: a system-wide tracepoint recording sorted by trace has a group per RAW
        payload (sys.data: 208K of 235K samples), which the order's (bucket, group, period) tuples and
        ``gkeys`` would keep, with their payloads, through Hists.finish and the output (~8 MiB)."""
        if self.numbers is not None:
            return
        numbers, periods = self.arrays()
        if type(numbers) is list:  # (records' lists: a number or period past the arrays' sizes)
            numbers, periods = _typed(numbers, periods)
        self.numbers = numbers
        self.periods = periods
        self.order = self.bucket = self.gkeys = None

    def __iter__(self):
        if self.numbers is not None:
            return zip(self.numbers, self.periods)
        bucket, gkeys = self.bucket, self.gkeys
        return ((gkeys[group], period) for b, group, period in self.order if b is bucket)

    def records(self) -> tuple[list, list]:
        """(group number per sample, period per sample), by C loops (perfdata/_speedups_report.c
        sequence_records when built: this is its twin)."""
        if self.numbers is not None:
            return list(self.numbers), list(self.periods)
        if speedups is not None and hasattr(speedups, "sequence_records") and type(self.order) is list:
            return speedups.sequence_records(self.order, None if self.alone else self.bucket, self.gkeys)
        return self.py_records()

    def arrays(self) -> tuple:
        """``records`` as arrays, group number 'I' and period 'I' or 'Q' (4 + 4 or 8 bytes a sample where the
        lists hold a slot and an int object each: make.data's 78K samples, ~3 MiB less at the report's peak), filled by C
        (perfdata/_speedups_report.c sequence_fill when built: ``py_arrays`` is its twin); ``records``' lists
        for a number or period past those sizes."""
        if self.numbers is not None:
            return self.numbers, self.periods
        if speedups is not None and hasattr(speedups, "sequence_fill") and type(self.order) is list:
            n = len(self.order)
            numbers = _zeros("I", n)
            for code in "IQ":  # (periods of 32 bits: 4 bytes a sample, as most recordings' are)
                periods = _zeros(code, n)
                try:
                    k = speedups.sequence_fill(self.order, None if self.alone else self.bucket, self.gkeys,
                                               numbers, periods)
                    break
                except OverflowError:
                    del periods
                    if code == "Q":
                        return self.records()
            if k < n:  # (another event's samples were in the order: the views' bytes kept are this hists' only)
                numbers, periods = _first(numbers, k), _first(periods, k)
            return numbers, periods
        return self.py_arrays()

    def py_arrays(self) -> tuple:
        """``arrays`` in Python."""
        return _typed(*self.py_records())

    def py_records(self) -> tuple[list, list]:
        """``records`` in Python."""
        if self.numbers is not None:
            return list(self.numbers), list(self.periods)
        order = self.order
        if not self.alone:  # this hists' samples: those of its bucket
            order = list(compress(order, map(is_, map(itemgetter(0), order), repeat(self.bucket))))
        return list(map(self.gkeys.__getitem__, map(itemgetter(1), order))), list(map(itemgetter(2), order))


def _zeros(code: str, n: int) -> memoryview:
    """``n`` zeros of format ``code`` ('I', 'Q'), writable, for sequence_fill: a view of a bytearray, as an
    array.array(code) would hold them. Not an array: the array module imports collections (to register as a
    MutableSequence), ~1.4 ms of every report's start-up (callgrind: 8.4M instructions) for nothing else."""
    return memoryview(bytearray(n * (4 if code == "I" else 8))).cast(code)


def _first(view: memoryview, k: int) -> memoryview:
    """The first ``k`` items of ``view`` (_zeros's), in a buffer of their own."""
    return memoryview(bytearray(view[:k])).cast(view.format)


def _typed(numbers: list, periods: list) -> tuple:
    """(numbers, periods) as _zeros's views would hold them ('I'; 'I' or 'Q'), or the lists themselves for a
    value past those sizes."""
    try:
        typed_numbers = _view("I", numbers)
        try:
            typed_periods = _view("I", periods)
        except _StructError:
            typed_periods = _view("Q", periods)
        return typed_numbers, typed_periods
    except _StructError:
        return numbers, periods


def _view(code: str, values: list) -> memoryview:
    return memoryview(_pack(f"{len(values)}{code}", *values)).cast(code)


def _final_comm(session):
    """tid -> the comm of the session's thread after the last record (perf's ``thread__comm_str`` of
    ``he->thread`` when it prints: the comm column's width, the pid column's text)."""
    threads = session.machine.threads

    def final(tid: int):
        thread = threads.get(tid)
        return None if thread is None else thread.comm
    return final


def _trace_text(evsel, trace_events, raw_trace: bool):
    """``get_trace_output`` of one event: raw -> text (None for an event that is not a tracepoint)."""
    if trace_events is None or evsel.tp_format is None:
        return None
    return trace_events.text_of(evsel.attr.config, raw_trace)


def _build_id_files(session) -> list[str]:
    """The BUILD_ID feature's file names, in order (perf creates those dsos first)."""
    from pyperf_probe.perfdata.format import Feature
    from pyperf_probe.errors import PerfDataError
    try:
        entries = session.data.feature(Feature.BUILD_ID) or ()
    except PerfDataError:
        return []
    return [e.filename for e in entries]
