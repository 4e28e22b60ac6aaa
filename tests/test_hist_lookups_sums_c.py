"""perfdata/_speedups_report.c hist_lookups keeps the entries' and the pending chains' sums in C (u64) and adds
them to the Python objects once: sums that pass 64 bits, periods that are not u64 values, and entries that
already hold periods must still give Python's answers (Hists._lookups without C), exactly."""
import random

import pytest

from conftest import need_speedups
from pyperf_probe.report import hist
from pyperf_probe.report.hist import Hists
from pyperf_probe.report.sortkeys import KEYS

from test_report_lookups import _frames, _state


def _run(keys, children, graphs, caller, every, adds, use_c, preset=None):
    h = Hists(keys, children=children, callchains=True, caller_order=caller, graphs=graphs)
    for comm, tid, loc, chain, filtered, period, count in adds:
        h.add(comm, tid, period, loc, chain, chain, None, count, filtered)
    if preset is not None:  # entries made before the look-ups, holding periods already
        for ident, (period, count, tid, comm, loc, *_rest) in list(h._groups.items())[:preset]:
            entry = h._make_self(ident[0], comm, tid, loc, None, False, None)
            entry.period = entry.period_acc = (1 << 64) - 3
            entry.nr_events = entry.hits = 5
    saved = hist.speedups
    if not use_c:
        hist.speedups = None
    try:
        answer = h._lookups(every)
    finally:
        hist.speedups = saved
    return _state(h, answer)


@pytest.mark.parametrize("names", [["comm", "dso", "sym"], ["dso", "sym"], ["sym"]], ids=",".join)
@pytest.mark.parametrize("children", [False, True])
def test_c_sums_past_64_bits_equal_pythons(names, children):
    need_speedups()
    keys = [KEYS[n] for n in names]
    rng = random.Random(hash((tuple(names), children)) & 0xFFFF)
    big = 0
    for _ in range(40):
        frames = _frames(rng)
        caller, every, graphs = rng.random() < 0.5, rng.random() < 0.3, rng.random() < 0.8
        adds = []
        for _ in range(rng.randrange(1, 25)):
            chain = tuple(rng.choice(frames) for _ in range(rng.randrange(0, 9)))
            group = (rng.choice(["make", "cc1"]), rng.randrange(1, 4), rng.choice(frames), chain, False)
            for _ in range(rng.randrange(1, 3)):
                period = rng.choice([1, (1 << 63) + rng.randrange(9), (1 << 64) - 1, 1 << 64, 1 << 70, 0])
                count = rng.choice([1, 2, (1 << 64) - 1, 1 << 65])
                adds.append(group + (period, count))
        rng.shuffle(adds)
        preset = rng.choice([None, None, 2])
        got = _run(keys, children, graphs, caller, every, adds, True, preset)
        want = _run(keys, children, graphs, caller, every, adds, False, preset)
        assert got == want
        big += any(e[8] >= 1 << 64 for e in want[3])
    assert big > 20  # (sums past 64 bits were made)
