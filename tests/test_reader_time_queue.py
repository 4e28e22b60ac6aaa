"""_speedups.TimeQueue (the C ordered queue the C scan feeds record by record: perfdata.stream's keyed path)
against its Python twin ordered.OrderedQueue: random pushes (runs with times 0, None and (u64)-1 among
them, runs out of order, runs older than what was delivered), rounds and a final flush, with small
max_queued values for the half flushes, deliver the same items in the same order and count the same
out_of_order records; and KeyScanner.queue_scan gives the reader the records, order and counts of the
scan's lists pushed to an OrderedQueue (whole files: every keyed layout of the bench and golden
recordings at hand)."""
from __future__ import annotations

import os
import random

import pytest

from pyperf_probe.perfdata import ordered, stream
from pyperf_probe.perfdata.speedups import speedups

needs_c = pytest.mark.skipif(speedups is None or not hasattr(speedups, "TimeQueue"), reason="no C accelerator")
NO_TIME = ordered.NO_TIME


def _run(rng: random.Random, base: int) -> list:
    times = []
    for _ in range(rng.randrange(0, 30)):
        r = rng.random()
        if r < 0.05:
            times.append(rng.choice([0, None, NO_TIME]))
        else:
            times.append(max(1, base + rng.randrange(-50, 200)))
    if rng.random() < 0.5:
        times.sort(key=lambda t: -1 if t is None else t)
    return times


@needs_c
@pytest.mark.parametrize("seed", range(400))
def test_time_queue_is_ordered_queue(seed):
    rng = random.Random(seed)
    max_queued = rng.choice([1, 2, 5, 17, 64, 1 << 20])
    cq, pq = speedups.TimeQueue(max_queued), ordered.OrderedQueue(max_queued)
    cout, pout = [], []
    base = rng.choice([1, 1000, 2**40, 2**64 - 500])
    serial = 0
    for _ in range(rng.randrange(1, 40)):
        op = rng.random()
        if op < 0.7:
            times = [t if t is None or t < 2**64 else 2**64 - 1 for t in _run(rng, base)]
            items = list(range(serial, serial + len(times)))
            serial += len(times)
            cq.push(list(times), list(items), cout)
            pq.push(list(times), list(items), pout)
            base += rng.randrange(-100, 300)
            base = min(max(base, 1), 2**64 - 300)
        elif op < 0.95:
            cq.finish_round(cout)
            pq.finish_round(pout)
        else:
            cq.finish(cout)
            pq.finish(pout)
        assert cout == pout
        assert cq.out_of_order == pq.out_of_order
    cq.finish(cout)
    pq.finish(pout)
    assert cout == pout and cq.queued() == 0
    assert cq.out_of_order == pq.out_of_order


@needs_c
def test_time_queue_refuses_what_is_not_a_time():
    q = speedups.TimeQueue()
    for bad in ([-1], [2**64], ["1"]):
        with pytest.raises((TypeError, OverflowError)):
            q.push(bad, [object()], [])
    with pytest.raises(ValueError):
        q.push([1, 2], [object()], [])
    with pytest.raises(ValueError):
        speedups.TimeQueue(0)


def _files() -> list:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = [os.path.join(root, "tests", "golden", "report", "data", name)
             for name in sorted(os.listdir(os.path.join(root, "tests", "golden", "report", "data")))
             if name.endswith(".data")]
    bench = os.path.join(root, "build", "bench-script")
    if os.path.isdir(bench):
        found += [os.path.join(bench, name) for name in sorted(os.listdir(bench)) if name.endswith(".data")]
    return found


def _keyed(path: str, **kw):
    from pyperf_probe.errors import PerfDataError
    from pyperf_probe.perfdata.reader import PerfDataFile
    try:
        f = PerfDataFile.open(path)
    except PerfDataError as exc:
        return str(exc)
    with f:
        batches = f.keyed_batches(**kw)
        if batches is None:
            return None
        got = [list(item) if type(item) is list else item for item in batches]
        return got, f.stats, f._stream.out_of_order


@needs_c
@pytest.mark.parametrize("path", _files(), ids=os.path.basename)
def test_queue_scan_reads_what_the_scan_lists_read(path, monkeypatch):
    for kw in ({}, {"raw": False}, {"timed": True}, {"walk": True}):
        fused = _keyed(path, **kw)
        monkeypatch.setattr(stream, "_TimeQueue", None)
        lists = _keyed(path, **kw)
        monkeypatch.undo()
        assert fused == lists, kw
