"""PERF_SAMPLE_READ: one recorded sample, one delivered sample per counter that moved (perf 6.1's
``evlist__deliver_sample``, ``deliver_sample_group`` and ``deliver_sample_value``, util/session.c).

A sample whose attr has PERF_SAMPLE_READ carries the counter values of its event (``read_format`` without
PERF_FORMAT_GROUP) or of its whole group (leader sampling, ``{a,b}:S``: with GROUP, one ``{value, id,
lost}`` per group member, the leader first). perf delivers it once per value, as a sample of the event that
owns the value's id, with that id, and with the period the counter grew by since the last sample that read
the same id (``sid->period``, per id: an event has one id per CPU or thread it was opened on); a value
that did not grow is not delivered, and a value whose id no attr owns counts in ``nr_unknown_id``. Every
delivered sample keeps the recorded sample's ip, thread, time, call chain and RAW: the members of a group
are seen where the leader sampled.
"""
from __future__ import annotations

from pyperf_probe.perfdata.format import ReadFormat, SampleType

U64_MASK = (1 << 64) - 1


class SampleRead:
    """The per-id state of a file's PERF_SAMPLE_READ events; ``deliveries(sample)`` says what to deliver."""

    def __init__(self, attrs):
        # id -> index of the attr that owns it (evlist__id2sid)
        self.owner = {sid: a.index for a in attrs for sid in a.ids}
        self._attrs = {a.index: a.attr for a in attrs}
        self._last: dict[int, int] = {}  # id -> value at the last sample that read it (sid->period)
        self.nr_unknown_id = 0

    @staticmethod
    def wanted(attrs) -> bool:
        """Does any event of the file read its counters in its samples."""
        return any(a.attr.sample_type & SampleType.READ for a in attrs)

    def reads(self, evsel: int) -> bool:
        attr = self._attrs.get(evsel)
        return attr is not None and bool(attr.sample_type & SampleType.READ)

    def deliveries(self, evsel: int, read: tuple) -> list[tuple[int, int, int]]:
        """(attr index, period, id) per value of the sample's read block that moved, in the block's order."""
        read_format = self._attrs[evsel].read_format
        out: list[tuple[int, int, int]] = []
        for value, sid in _values(read, read_format):
            owner = self.owner.get(sid)
            if owner is None:          # no sid: nothing updated, the value is not delivered
                self.nr_unknown_id += 1
                continue
            period = (value - self._last.get(sid, 0)) & U64_MASK
            self._last[sid] = value
            if period:
                out.append((owner, period, sid))
        return out


def _values(read: tuple, read_format: int) -> list[tuple[int, int]]:
    """(value, id) pairs of a ``struct read_format`` decoded flat (perfdata.sample._read_values); the id is
    0 without PERF_FORMAT_ID (which no attr owns)."""
    has_id = bool(read_format & ReadFormat.ID)
    per = 1 + has_id + bool(read_format & ReadFormat.LOST)
    times = bool(read_format & ReadFormat.TOTAL_TIME_ENABLED) + bool(read_format & ReadFormat.TOTAL_TIME_RUNNING)
    if read_format & ReadFormat.GROUP:
        nr = read[0]
        start = 1 + times
        return [(read[i], read[i + 1] if has_id else 0) for i in range(start, start + nr * per, per)]
    # {value, [time_enabled], [time_running], [id], [lost]}
    return [(read[0], read[1 + times] if has_id else 0)]
