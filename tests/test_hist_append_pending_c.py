"""perfdata/_speedups_report.c append_pending against report.hist's Python loop (Hists._append_pending): the same
trees (runs, keys, hits, counts, children in order, depths) from random pending chain appends (suffixes from
random offsets, repeated chains, entries below the graph threshold that keep only a depth, merged entries that
keep their trees), and callchain_append read from an offset = on the slice."""
import random

import pytest

from conftest import need_speedups
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.report import hist
from pyperf_probe.report.hist import HistEntry, Hists
from pyperf_probe.report.sortkeys import KEYS

from test_report_lookups import _frames


def _shape(node, index):
    return ([index[id(f)] for f in node.val], list(node.keys), node.hit, node.count, node.children_hit,
            node.children_count, [_shape(c, index) for c in node.children.values()])


def _run(seed, use_c):
    rng = random.Random(seed)
    frames = _frames(rng)
    h = Hists([KEYS["dso"], KEYS["sym"]], children=True, callchains=True, caller_order=False)
    entries = [HistEntry(("e", n), "c", 1, frames[0], None, False, 1, True) for n in range(rng.randrange(1, 6))]
    for e in entries:
        e.period_acc = rng.choice([0, 5, 50, 500])
    h.total_period = 1000
    h.graph_min_percent = rng.choice([None, 0.0, 0.5, 2.0, 10.0])
    if rng.random() < 0.3:
        h._merged = [(entries[0], entries[-1])]
    chains = []
    for _ in range(rng.randrange(1, 8)):
        fs = [rng.choice(frames) for _ in range(rng.randrange(1, 9))]
        chains.append(([f.key for f in fs], fs))
    pending = {}
    for n in range(rng.randrange(0, 40)):
        keys, fs = rng.choice(chains)
        entry = rng.choice(entries)
        i = rng.randrange(0, len(keys))
        pending[(entry, n)] = [entry, keys, fs, i, rng.choice([1, 3, 1 << 40]), rng.randrange(1, 3)]
    saved = hist.speedups
    if not use_c:
        hist.speedups = None
    try:
        h._append_pending(pending)
    finally:
        hist.speedups = saved
    index = {id(f): n for n, f in enumerate(frames)}
    return [(e.callchain.max_depth, _shape(e.callchain.node, index)) for e in entries]


def test_c_append_pending_equals_pythons():
    need_speedups()
    if not hasattr(speedups, "append_pending"):
        pytest.skip("no C append_pending")
    for seed in range(400):
        assert _run(seed, True) == _run(seed, False)


def test_c_append_pending_rejects_bad_items():
    need_speedups()
    with pytest.raises(TypeError):
        speedups.append_pending([[1, 2, 3]], 0, set())
    with pytest.raises(AttributeError):
        speedups.append_pending([[object(), [], [], 0, 1, 1]], 0, set())
