"""perf's time ordering of records (tools/perf/util/ordered-events.c), on whole lists of records at a time.

perf report queues each record that has a timestamp and delivers it later in timestamp order:

* a record without a timestamp (no sample_id_all, no PERF_SAMPLE_TIME) or with timestamp 0 (the records
  perf synthesizes for processes that already ran) is delivered at once, in file order
  (``ordered_events__queue`` returns -ETIME);
* at a FINISHED_ROUND, the queued records with ``time <= next_flush`` are delivered, then ``next_flush``
  becomes the largest timestamp queued so far (OE_FLUSH__ROUND): a round is delivered at the end of the
  next one, because the per-CPU buffers of one round may hold records older than the previous round's end;
* at the end of the file everything left is delivered (OE_FLUSH__FINAL);
* records with equal timestamps keep their file order (``queue_event`` inserts after its equals).

So memory holds about two rounds, not the file. A file with no FINISHED_ROUND at all (some writers omit
it) would be queued whole; past ``max_queued`` records the queue delivers its older half, which is what perf
does when its queue outgrows ``report.queue-size`` (OE_FLUSH__HALF).

The queue works on lists, not records: ``push(times, items, out)`` queues a run of records given as two
parallel lists (one pass finds its extremes and whether it is in order), and a flush is one stable sort of
the queued timestamps gathering both lists, or no sort at all when they are in order already (one CPU, or
rounds that do not overlap: 73 of the 90 flushes of bench/report's large file). Both steps run in C: the
``_speedups`` module's ``run_extremes`` and ``time_order`` (a natural merge sort: the queued times are a
few sorted runs, one per CPU buffer) when it was built, else ``sorted`` and ``itemgetter`` gathers. Nothing
runs Python code per record, which matters for files of millions of samples (bench/report). The items are
opaque: the reader queues raw entries or sample keys (``perfdata.sample_keys``).
"""
from __future__ import annotations

from bisect import bisect_right
try:            # (operator's C half, as symbols.symtab imports it: operator.py costs ~0.25 ms of start-up)
    from _operator import itemgetter
except ImportError:         # another Python implementation
    from operator import itemgetter

from pyperf_probe.perfdata.speedups import speedups

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterable, Iterator

FINISHED_ROUND = 68  # PERF_RECORD_FINISHED_ROUND
DEFAULT_MAX_QUEUED = 1 << 20
NO_TIME = 0xFFFFFFFFFFFFFFFF  # (u64)-1: perf's "no timestamp"


def _py_extremes(times: list) -> tuple | None:
    """(smallest, largest, non-decreasing?) of a non-empty list of timestamps; None if one is None."""
    try:
        in_time_order = sorted(times)  # C-level: a sorted run (or a few, one per CPU) is merged in O(n)
    except TypeError:
        return None
    return in_time_order[0], in_time_order[-1], in_time_order == times


def _py_time_order(times: list, items: list) -> tuple[list, list]:
    """Both lists in the order of a stable sort of ``times`` (equal times keep arrival order)."""
    if len(times) < 2:
        return times[:], items[:]
    gather = itemgetter(*sorted(range(len(times)), key=times.__getitem__))  # C-level gathers: tuples
    return list(gather(times)), list(gather(items))


def _py_time_cut(times: list, items: list, limit) -> tuple[list, list, list, int | None]:
    """``_flush``'s sort and cut of an unsorted queue: the items up to ``bisect_right(sorted times,
    limit)`` (all with ``limit`` None), the times and items after, and the last delivered time (None if
    none is)."""
    times, items = _time_order(times, items)
    cut = len(times) if limit is None else bisect_right(times, limit)
    return items[:cut], times[cut:], items[cut:], times[cut - 1] if cut else None


def _c_extremes(times: list) -> tuple | None:
    """``_py_extremes`` by ``_speedups.run_extremes``, which reads u64 ints only: anything else (None,
    which delivers at once, or ints no perf.data holds) goes to the Python version."""
    got = speedups.run_extremes(times)
    return got if got is not None else _py_extremes(times)


# The C versions (perfdata/_speedups.c) when they were built: same results.
_extremes = _c_extremes if speedups is not None else _py_extremes
_time_order = speedups.time_order if speedups is not None else _py_time_order
_time_cut = getattr(speedups, "time_cut", None) or _py_time_cut  # (C: no whole sorted lists made to be cut)


class OrderedQueue:
    """Reorders records as perf's ordered_events does (see the module docstring).

    ``out_of_order`` counts records older than what was already delivered (perf's nr_unordered_events:
    they are delivered late, not dropped)."""

    def __init__(self, max_queued: int = DEFAULT_MAX_QUEUED):
        self.max_queued = max_queued
        self.out_of_order = 0
        self._times: list = []  # queued timestamps: a sorted prefix, then arrivals in file order
        self._queue: list = []  # the queued items, parallel to _times
        self._queue_max = 0  # the queue's largest timestamp (perf: the time of its tail)
        self._max_timestamp = 0  # perf: oe->max_timestamp
        self._next_flush = 0
        self._last_flush = 0
        self._sorted = True  # the queued timestamps are in order already (one CPU, or rounds that do not
        # overlap): a flush is then a bisection and two slices, no sort

    # --- the list interface (the reader's hot path) -----------------------------------------------------

    def push(self, times: list, items: list, out: list) -> None:
        """Queue ``items`` (file order) whose timestamps are ``times``; a timestamp that is falsy or
        NO_TIME delivers its item at once. What is delivered (at once, or by half flushes of an
        overfull queue) is appended to ``out``, in delivery order."""
        if not times:
            return
        extremes = _extremes(times)
        if extremes is None:  # None among them
            self._push_with_immediates(times, items, out)
            return
        low, high, in_order = extremes
        if not low or high == NO_TIME:
            self._push_with_immediates(times, items, out)
            return
        start, n = 0, len(times)
        while start < n:
            stop = min(n, start + max(self.max_queued + 1 - len(self._times), 1))
            if start or stop < n:
                self._append(times[start:stop], items[start:stop])
            else:
                self._append(times, items, low, high, in_order)
            if len(self._times) > self.max_queued:
                self._flush_half(out)
            start = stop

    def finish_round(self, out: list) -> None:
        """A FINISHED_ROUND record: deliver up to the previous round's end (OE_FLUSH__ROUND)."""
        self._flush(self._next_flush, out)
        self._next_flush = self._max_timestamp

    def finish(self, out: list) -> None:
        """The end of the file: deliver everything (OE_FLUSH__FINAL)."""
        self._flush(None, out)

    def _push_with_immediates(self, times: list, items: list, out: list) -> None:
        start = 0
        for i, time in enumerate(times):
            if not time or time == NO_TIME:
                self.push(times[start:i], items[start:i], out)
                out.append(items[i])
                start = i + 1
        self.push(times[start:], items[start:], out)

    def _append(self, times: list, items: list, low: int | None = None, top: int | None = None,
                in_order: bool | None = None) -> None:
        """``queue_event`` for each record of a run (``low``, ``top``: its extremes, ``in_order``: whether
        it is sorted, if known): perf's counters, then the queue."""
        if low is None:
            low, top, in_order = _extremes(times)
        last_flush = self._last_flush
        if last_flush and low < last_flush:
            self.out_of_order += sum(map(last_flush.__gt__, times))
        # per record perf sets max_timestamp = time if time >= the queue's tail or the queue is empty:
        # over a run that is the run's maximum, if it reaches the tail (or the queue was empty)
        if self._sorted:
            self._sorted = in_order and (not self._times or low >= self._queue_max)
        if top >= self._queue_max or not self._times:
            self._queue_max = self._max_timestamp = top
        self._times += times
        self._queue += items

    def _flush(self, limit, out: list) -> None:
        """Deliver the queued items with ``time <= limit`` (all when limit is None), in time order."""
        times, items = self._times, self._queue
        if not times or limit == 0:
            return
        if not self._sorted:  # sorted and cut at once
            delivered, self._times, self._queue, last = _time_cut(times, items, limit)
            self._sorted = True
            if delivered:
                out += delivered
                self._last_flush = last
                self._queue_max = self._times[-1] if self._times else 0
            return
        cut = len(times) if limit is None else bisect_right(times, limit)
        if not cut:
            return
        out += items if cut == len(items) else items[:cut]
        self._last_flush = times[cut - 1]
        self._times = times[cut:]
        self._queue = items[cut:]
        self._queue_max = self._times[-1] if self._times else 0

    def _flush_half(self, out: list) -> None:
        times = self._times
        first, last = min(times), max(times)
        self._flush(first + (last - first) // 2, out)

    # --- the entry interface ----------------------------------------------------------------------------

    def reorder(self, entries: Iterable) -> Iterator:
        """Yield ``entries`` in perf's delivery order. An entry is a tuple ``(time, record_type, ...)``;
        an entry of type FINISHED_ROUND (68) marks the end of a round (it is consumed, not delivered)."""
        for batch in self.reorder_batches([entries]):
            yield from batch

    def reorder_batches(self, batches: Iterable[Iterable]) -> Iterator[list]:
        """The entries of ``batches`` (see ``reorder``), in perf's delivery order, as lists."""
        for batch in batches:
            out: list = []
            times: list = []
            items: list = []
            for entry in batch:
                if entry[1] == FINISHED_ROUND and not entry[0]:
                    self.push(times, items, out)
                    times, items = [], []
                    self.finish_round(out)
                else:
                    times.append(entry[0])
                    items.append(entry)
            self.push(times, items, out)
            if out:
                yield out
        out = []
        self.finish(out)
        yield out
