"""Session samples -> one ``Hists`` per event (builtin-report.c ``process_sample_event`` and the
``hist_entry_iter`` it drives).

The session counts the samples per (thread, location, chain, raw) group (``Session.sample_groups``); here
frames are converted once per distinct session ``Frame``, chains once per distinct chain tuple, trace
outputs once per distinct RAW payload; ``Hists.add`` then only aggregates. Samples that fail
``--comms/--dsos/--symbols`` still count in the totals (perf's percentages and ``# Samples`` include them)
and in entries other samples made; only the entries they make are hidden.
"""
from __future__ import annotations

import gc
from collections.abc import Sequence

from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.report.frames import FrameTable
from pyperf_probe.report.hist import Hists


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
          filters: Filters) -> Built:
    """Walk every sample of ``session`` into per-event hists (finished: entries and trees built).

    The cyclic garbage collector is paused meanwhile: building creates hundreds of thousands of
    long-lived objects (frames, tree nodes with parent links) and no garbage cycles, and each full
    collection walks all of them again: half of ``Hists.finish`` on a make build's dwarf chains sorted
    by comm,dso,sym (0.75 -> 0.35 s), bench/unwind."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(session, keys, children, callchains, caller_order, filters)
    finally:
        if enabled:
            gc.enable()


def _build(session, keys: Sequence, children: bool, callchains: bool, caller_order: bool,
           filters: Filters) -> Built:
    evsels = session.evsels
    hists = [Hists(keys, children=children, callchains=callchains, caller_order=caller_order) for _ in evsels]
    need_trace = any(k.name == "trace" for k in keys)
    formats = _trace_formats(evsels) if need_trace else [None] * len(evsels)
    use_filters = filters.any()
    # The session counts the samples per (thread, location, chain, raw), all interned (raw only when the
    # trace key needs it), in first-sample order: identical samples are resolved once (session.counts).
    groups = session.sample_groups(with_chain=callchains, with_raw=need_trace)
    frames = FrameTable(_build_id_files(session))
    to_rframe = frames.get
    chains: dict[tuple, tuple] = {}
    traces: dict[tuple, str] = {}
    for index, bucket in enumerate(groups):
        h, fmt = hists[index], formats[index]
        for (thread, location, chain, raw), (period, count) in bucket.items():
            h.count(period, count)
            loc = to_rframe(location)
            filtered = use_filters and filters.rejects(thread.comm, location, loc)
            rchain = chains.get(chain)
            if rchain is None:
                rchain = chains[chain] = frames.chain(chain)
            trace = None
            if need_trace:
                trace = traces.get((index, raw))
                if trace is None:
                    trace = traces[(index, raw)] = fmt.format(raw or b"") if fmt is not None else "N/A"
            h.add(thread.comm, thread.tid, period, loc, rchain, chain, trace, count, filtered)
        bucket.clear()
    for h in hists:
        h.finish()
    return Built(hists, [ev.name or "" for ev in evsels])


def _trace_formats(evsels) -> list:
    """Each event's parsed tracepoint format (None for other events): only the trace key needs them."""
    from pyperf_probe.report.tpformat import TracepointFormat
    return [TracepointFormat.parse(ev.tp_format.text) if ev.tp_format is not None else None for ev in evsels]


def _build_id_files(session) -> list[str]:
    """The BUILD_ID feature's file names, in order (perf creates those dsos first)."""
    from pyperf_probe.perfdata.format import Feature
    from pyperf_probe.errors import PerfDataError
    try:
        entries = session.data.feature(Feature.BUILD_ID) or ()
    except PerfDataError:
        return []
    return [e.filename for e in entries]
