"""report.order: the per-entry keys give exactly what replaying perf's rb-trees gives, whenever they are used.

Random entries (resolved, inlined and unresolved symbols, addresses on both sides of 2^63, several dsos,
threads, comms, depths, periods with many ties) are ordered by the Python replay of the trees
(``rbtree.insertion_order`` with the entries' comparators) and by report.order; when report.order answers,
both must agree, and it must answer for the sets it claims to handle (no straddling, one thread per tie)."""
import functools
import random

import pytest

from pyperf_probe.report import order, rbtree
from pyperf_probe.report.frames import RFrame
from pyperf_probe.report.hist import HistEntry, _entry_cmp, _output_cmp
from pyperf_probe.report.layout import hpp_column
from pyperf_probe.report.sortkeys import KEYS, entry_cmps, sym_identity

DSOS = [None, "libc.so.6", "cc1", "[kernel.kallsyms]"]
LOW = [0x0, 0x10, 0x401000, 0x7F0000001000, 0x5F73736170002D61]
HIGH = [0x8B48000000000000, 0xFFFFFFFF81000000, 0xBE552274C0854800]


def _frame(rng, straddle: bool, inlined: bool) -> RFrame:
    dso = rng.choice(DSOS)
    if rng.random() < 0.4:
        pool = LOW + (HIGH if straddle else [])
        avma = rng.choice(pool) + rng.randrange(0, 64, 8)
        return RFrame(name=None, inlined=False, dso_name=dso, dso_rank=(0, DSOS.index(dso)), sym_start=0,
                      avma=avma, rip=avma - rng.choice([0, 0x400000]) if rng.random() < 0.5 else avma)
    name = rng.choice(["malloc", "free", "main", "f", "g"])
    start = {"malloc": 0x1000, "free": 0x2000, "main": 0x3000, "f": 0x1000, "g": 0x4000}[name]
    if dso == "[kernel.kallsyms]":
        start += 0xFFFFFFFF81000000
    return RFrame(name=name, inlined=inlined and rng.random() < 0.3, dso_name=dso,
                  dso_rank=(0, DSOS.index(dso)), sym_start=start, avma=start + 5, rip=start + 5)


def _entries(rng, n: int, keys, *, straddle: bool, inlined: bool, threads: int, depths: int):
    made: dict[tuple, HistEntry] = {}
    for _ in range(n):
        loc = _frame(rng, straddle, inlined)
        comm = rng.choice(["make", "cc1", "as"])
        tid = rng.randrange(1, 1 + threads)
        is_self = rng.random() < 0.5
        ident = tuple(k.identity(comm, tid, loc, None, is_self) for k in keys)
        if ident in made:
            continue
        e = HistEntry(ident, comm, tid, loc, None, is_self, tid, True)
        e.period = rng.choice([1, 1, 2, 3])
        e.period_acc = e.period + rng.choice([0, 0, 1, 5])
        e.callchain.max_depth = rng.randrange(1, 1 + depths)
        made[ident] = e
    return list(made.values())


SORTS = [["comm", "dso", "sym"], ["dso", "sym"], ["sym"], ["sym", "comm"], ["pid", "sym"], ["comm"]]


@pytest.mark.parametrize("names", SORTS, ids=",".join)
def test_entry_keys_order_is_the_trees_order(names):
    rng = random.Random(",".join(names))
    keys = [KEYS[n] for n in names]
    cmps = entry_cmps(keys)
    answered = 0
    for case in range(300):
        entries = _entries(rng, rng.randrange(1, 60), keys, straddle=case % 3 == 0, inlined=case % 5 == 0,
                           threads=3, depths=3)
        want = rbtree.insertion_order(entries, lambda new, old: _entry_cmp(new, old, cmps) < 0)
        got = order.entry_keys(entries, keys)
        if got is None:
            continue
        answered += 1
        assert [entries[i] for i in sorted(range(len(entries)), key=got.__getitem__)] == want
        assert len(set(got)) == len(got)  # equal keys only for equal identities (perf merges by comparison)
    assert answered > (100 if "sym" not in names or "dso" in names[:names.index("sym")] else 15)


def test_entry_keys_refuse_addresses_straddling_two_to_the_63():
    keys = [KEYS["dso"], KEYS["sym"]]
    frames = [RFrame(name=None, inlined=False, dso_name=None, dso_rank=(-1, -1), sym_start=0, avma=a, rip=a)
              for a in (0x10, 0x8B48000000000000)]
    entries = [HistEntry(tuple(k.identity("c", 1, f, None, True) for k in keys), "c", 1, f, None, True, 1, False)
               for f in frames]
    assert order.entry_keys(entries, keys) is None
    assert sym_identity(frames[0], True) != sym_identity(frames[1], True)


@pytest.mark.parametrize("children", [False, True])
@pytest.mark.parametrize("caller", [False, True])
@pytest.mark.parametrize("names", SORTS[:3], ids=",".join)
def test_output_order_is_the_trees_order(names, children, caller, speedups_or_not, monkeypatch):
    if speedups_or_not == "python":
        monkeypatch.setattr(rbtree, "_USE_C", False)
    rng = random.Random(len(names) * 4 + children * 2 + caller)
    keys = [KEYS[n] for n in names]
    fmts = ([hpp_column("overhead_children")] if children else []) + [hpp_column("overhead")] + keys
    kinds = {"list": 0, "ranks": 0}
    for case in range(300):
        entries = _entries(rng, rng.randrange(1, 50), keys, straddle=True, inlined=False,
                           threads=1 if case % 2 else 4, depths=1 if case % 3 == 0 else 4)
        cmp = functools.partial(_output_cmp, fmts=fmts, children=children, depth_rule=True, caller=caller)
        want = rbtree.insertion_order(entries, lambda new, old: cmp(new, old) > 0)
        got = order.output_order(entries, fmts, children=children, depth_rule=True, caller=caller)
        assert got is not None
        if type(got) is list:
            kinds["list"] += 1
            assert got == want
        else:
            kinds["ranks"] += 1
            assert rbtree.replay_ranked(entries, got) == want
    assert kinds["list"] > 50
    assert kinds["ranks"] > 20 or not children


def test_output_order_leaves_the_trace_key_to_the_replay():
    """trace: a comparison marks the new entry's output computed, so the trees are replayed, unless every
    entry's output is computed already (then the comparisons are those of the sorted order)."""
    fmts = [hpp_column("overhead"), KEYS["trace"]]
    loc = RFrame(name="f", inlined=False, dso_name="a.so", dso_rank=(0, 0), sym_start=1, avma=2, rip=2)
    entries = []
    for trace, period in (("b", 5), ("a", 5), ("c", 9)):
        entry = HistEntry(("x",), "comm", 1, loc, trace, True, 1, False)
        entry.period = period
        entries.append(entry)
    assert order.output_order(entries, fmts, children=False, depth_rule=False, caller=False) is None
    for entry in entries:
        entry.trace_known = True
    got = order.output_order(entries, fmts, children=False, depth_rule=False, caller=False)
    want = rbtree.insertion_order(entries, lambda new, old: _output_cmp(new, old, fmts=fmts, children=False,
                                                                         depth_rule=False, caller=False) > 0)
    assert [e.trace for e in got] == [e.trace for e in want] == ["c", "a", "b"]
