"""perf's time ordering of records (tools/perf/util/ordered-events.c), as a generator filter.

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
"""
from __future__ import annotations

from operator import itemgetter
from typing import Iterable, Iterator, List

FINISHED_ROUND = 68  # PERF_RECORD_FINISHED_ROUND
_time = itemgetter(0)
DEFAULT_MAX_QUEUED = 1 << 20


class OrderedQueue:
    """Reorders a stream of entries as perf's ordered_events does. An entry is a tuple
    ``(time, record_type, ...)``: ``time`` None or 0 means "deliver now", and an entry of type
    FINISHED_ROUND (68) marks the end of a round (it is consumed, not delivered). The reader queues the
    records' raw bytes this way and decodes them once delivered, so a queued round costs a tuple and a
    bytes object per record.

    ``out_of_order`` counts entries older than what was already delivered (perf's nr_unordered_events:
    they are delivered late, not dropped)."""

    def __init__(self, max_queued: int = DEFAULT_MAX_QUEUED):
        self.max_queued = max_queued
        self.out_of_order = 0
        self._queue: List = []
        self._queue_max = 0  # the queue's largest timestamp (perf: the time of its tail)
        self._max_timestamp = 0  # perf: oe->max_timestamp
        self._next_flush = 0
        self._last_flush = 0

    def reorder(self, entries: Iterable) -> Iterator:
        """Yield ``entries`` in perf's delivery order."""
        for batch in self.reorder_batches([entries]):
            yield from batch

    def reorder_batches(self, batches: Iterable[Iterable]) -> Iterator[List]:
        """The entries of ``batches``, in perf's delivery order, as lists. The per-entry path keeps perf's
        state in locals (it runs once per record of the file); the flushes write it back."""
        queue = self._queue
        append = queue.append
        max_queued = self.max_queued
        queue_max = last_flush = 0
        for batch in batches:
            out: List = []
            for entry in batch:
                time = entry[0]
                if time and time != 0xFFFFFFFFFFFFFFFF:
                    if time >= queue_max or not queue:
                        self._max_timestamp = queue_max = time
                    if time < last_flush:
                        self.out_of_order += 1
                    append(entry)
                    if len(queue) > max_queued:
                        self._queue_max = queue_max
                        out += self._flush_half()
                        queue_max, last_flush = self._queue_max, self._last_flush
                elif entry[1] == FINISHED_ROUND:
                    self._queue_max = queue_max
                    out += self._flush(self._next_flush)
                    queue_max, last_flush = self._queue_max, self._last_flush
                    self._next_flush = self._max_timestamp
                else:
                    out.append(entry)
            if out:
                yield out
        self._queue_max = queue_max
        yield self._flush(None)

    def _flush(self, limit) -> List:
        """Take the queued entries with ``time <= limit`` (all when limit is None), in time order."""
        queue = self._queue
        if not queue or limit == 0:
            return []
        queue.sort(key=_time)  # stable: equal timestamps keep their arrival order
        cut = len(queue) if limit is None else _cut(queue, limit)
        if not cut:
            return []
        ready = queue[:cut]
        del queue[:cut]
        self._queue_max = queue[-1][0] if queue else 0
        self._last_flush = ready[-1][0]
        return ready

    def _flush_half(self) -> List:
        queue = self._queue
        queue.sort(key=_time)
        first, last = queue[0][0], queue[-1][0]
        return self._flush(first + (last - first) // 2)


def _cut(queue: List, limit: int) -> int:
    """How many entries of the time-sorted ``queue`` have ``time <= limit`` (a bisection)."""
    lo, hi = 0, len(queue)
    while lo < hi:
        mid = (lo + hi) // 2
        if queue[mid][0] <= limit:
            lo = mid + 1
        else:
            hi = mid
    return lo
