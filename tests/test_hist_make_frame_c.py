"""perfdata/_speedups_report.c hist_lookups' make_frame in C (the frame keys dso and sym: Hists._fast_frames)
against report.hist's Python look-ups (Hists._make_frame, its twin): every slot of every entry equal (identity,
thread, comms, trace fields, sums, level, call-graph tree or none, pairs, slot), on random groups of resolved,
inlined and unresolved frames, with and without a dso, for each order of the frame keys."""
import random

import pytest

from conftest import need_speedups
from pyperf_probe.callchain.tree import CallchainRoot
from pyperf_probe.report import hist
from pyperf_probe.report.hist import HistEntry, Hists
from pyperf_probe.report.sortkeys import KEYS

from test_report_lookups import _frames


def _entries(h):
    out = []
    for key, e in h.entries.items():
        fields = []
        for slot in HistEntry.__slots__:
            v = getattr(e, slot)
            if slot == "callchain":
                v = None if v is None else (type(v), v.max_depth, dict(v.node.children), v.node.hit)
            fields.append(v)
        out.append((key, fields))
    return out


@pytest.mark.parametrize("names", [["dso", "sym"], ["comm", "dso", "sym"], ["sym"], ["pid", "sym", "dso"],
                                   ["comm", "dso"], ["sym", "pid", "dso"], ["dso", "comm"], ["sym", "comm", "pid"]],
                         ids=",".join)
@pytest.mark.parametrize("graphs", [False, True])
def test_c_make_frame_equals_pythons(names, graphs):
    need_speedups()
    keys = [KEYS[n] for n in names]
    rng = random.Random(hash((tuple(names), graphs)) & 0xFFFF)
    for _ in range(40):
        frames = _frames(rng)
        caller, every = rng.random() < 0.5, rng.random() < 0.3
        adds = []
        for _ in range(rng.randrange(1, 30)):
            chain = tuple(rng.choice(frames) for _ in range(rng.randrange(0, 9)))
            group = (rng.choice(["make", "cc1"]), rng.randrange(1, 4), rng.choice(frames), chain, rng.random() < 0.1)
            adds += [group + (rng.choice([1, 3]), rng.randrange(1, 3))]
        states = []
        for use_c in (True, False):
            h = Hists(keys, children=True, callchains=True, caller_order=caller, graphs=graphs)
            for comm, tid, loc, chain, filtered, period, count in adds:
                h.add(comm, tid, period, loc, chain, chain, None, count, filtered)
            saved = hist.speedups
            if not use_c:
                hist.speedups = None
            try:
                h._lookups(every)
            finally:
                hist.speedups = saved
            states.append(_entries(h))
        assert states[0] == states[1]


def test_fast_frames_for_dso_and_sym():
    for names, want in ((["dso", "sym"], "ds"), (["sym", "dso"], "sd"), (["comm", "sym"], "hs"), (["sym", "comm"], "sh"),
                        (["comm"], None), (["pid", "dso"], "hd"), (["sym", "pid", "dso"], "shd")):
        h = Hists([KEYS[n] for n in names], children=True, callchains=True, caller_order=False)
        got = h._fast_frames()
        assert (got[0] if got else None) == want
        if got:
            assert got[1] is HistEntry and got[2] is CallchainRoot
