"""_speedups.time_cut (OrderedQueue._flush's sort and cut of an unsorted queue in one C call) against its
Python twin ordered._py_time_cut (with the Python sort) on random queues and limits, and whole
OrderedQueues fed random runs and rounds delivering the same items in the same order with the C helpers
and with the Python ones."""
from __future__ import annotations

import random

import pytest

from pyperf_probe.perfdata import ordered
from pyperf_probe.perfdata.speedups import speedups

needs_c = pytest.mark.skipif(speedups is None, reason="no C accelerator")


def _queue_times(rng: random.Random) -> list:
    runs = [sorted(rng.randrange(0, rng.choice([5, 100, 2**40, 2**64])) for _ in range(rng.randrange(0, 20)))
            for _ in range(rng.randrange(0, 5))]
    return [t for run in runs for t in run]


@needs_c
@pytest.mark.parametrize("seed", range(300))
def test_time_cut_is_python(seed, monkeypatch):
    rng = random.Random(seed)
    times = _queue_times(rng)
    items = [object() for _ in times]
    limit = rng.choice([None, 0, 1, 3, 50, 2**39, 2**64 - 1, 2**64, 2**70, -1] + times[:3])
    got = speedups.time_cut(times, items, limit)
    monkeypatch.setattr(ordered, "_time_order", ordered._py_time_order)
    want = ordered._py_time_cut(times, items, limit)
    assert [list(map(id, got[0])), got[1], list(map(id, got[2])), got[3]] == \
        [list(map(id, want[0])), want[1], list(map(id, want[2])), want[3]]
    assert type(got[3]) is type(want[3])


@needs_c
def test_time_cut_refuses_what_time_order_refuses():
    for times in ([1, None], [1, 2**64], [1, -1]):
        with pytest.raises((TypeError, OverflowError)):
            speedups.time_cut(times, [1, 2], None)
    with pytest.raises(ValueError):
        speedups.time_cut([1, 2], [1], None)


def _deliveries(batches: list, python: bool, monkeypatch) -> tuple:
    with monkeypatch.context() as m:
        if python:
            m.setattr(ordered, "_time_order", ordered._py_time_order)
            m.setattr(ordered, "_time_cut", ordered._py_time_cut)
            m.setattr(ordered, "_extremes", ordered._py_extremes)
        queue = ordered.OrderedQueue(max_queued=50)
        out: list = []
        for kind, times, items in batches:
            if kind == "round":
                queue.finish_round(out)
            else:
                queue.push(times, items, out)
        queue.finish(out)
        return [id(x) for x in out], queue.out_of_order


@needs_c
@pytest.mark.parametrize("seed", range(100))
def test_queue_delivers_the_same_with_c_and_python(seed, monkeypatch):
    rng = random.Random(seed)
    batches = []
    clock = 1000
    for _ in range(rng.randrange(1, 30)):
        if rng.random() < 0.3:
            batches.append(("round", None, None))
            continue
        runs = []
        for _cpu in range(rng.randrange(1, 4)):
            start = clock - rng.randrange(0, 300)
            runs.append(sorted(max(1, start + rng.randrange(0, 200)) for _ in range(rng.randrange(0, 30))))
        clock += 150
        times = [t for run in runs for t in run]
        if times and rng.random() < 0.1:
            times[rng.randrange(len(times))] = rng.choice([0, ordered.NO_TIME])
        batches.append(("push", times, [object() for _ in times]))
    assert _deliveries(batches, False, monkeypatch) == _deliveries(batches, True, monkeypatch)
