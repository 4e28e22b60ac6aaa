"""report.order where the trace key follows other keys (``--sort sym,trace``): ``entry_order(...,
trace_after=True)`` gives the order of perf's ``entries_in`` tree, and ``trace_marks`` the entries whose trace
output perf's look-ups computed (``sort__trace_cmp`` computes both outputs when the keys before trace tie;
only those count in the Trace output column's width). Both are checked against a replay of perf's look-ups:
each sample searches the tree with the sort keys' comparators (report.sortkeys, whose trace comparison marks
both entries), finds its entry or inserts a new one."""
import random

import pytest

from pyperf_probe.report import order
from pyperf_probe.report.frames import RFrame
from pyperf_probe.report.hist import HistEntry, _entry_cmp
from pyperf_probe.report.sortkeys import KEYS, entry_cmps

DSOS = ["libc.so.6", "cc1", "ex"]
NAMES = {"malloc": 0x1000, "free": 0x2000, "main": 0x3000, "f": 0x1800}
TRACES = ["(7f20e6660930)", "(7fc0ceb1a930)", "0xfffffffffffffffe", "vec=3 [action=NET_RX]"]


def _loc(rng) -> RFrame:
    dso = rng.choice(DSOS)
    if rng.random() < 0.3:  # unresolved, of one address window (no straddling)
        avma = rng.choice([0x418E, 0x401000, 0x7F0000001000]) + rng.randrange(0, 32, 8)
        return RFrame(name=None, inlined=False, dso_name=dso, dso_rank=(0, DSOS.index(dso)), sym_start=0,
                      avma=avma, rip=avma)
    name = rng.choice(list(NAMES))
    return RFrame(name=name, inlined=False, dso_name=dso, dso_rank=(0, DSOS.index(dso)), sym_start=NAMES[name],
                  avma=NAMES[name] + 5, rip=NAMES[name] + 5)


def _lookups(rng, keys, n: int, cmps) -> list:
    """perf's look-ups of ``n`` random samples: the entries in creation order, each with its hits and
    whether a comparison computed its trace output."""
    pool = [(rng.choice(["make", "cc1"]), rng.randrange(1, 3), _loc(rng), rng.choice(TRACES))
            for _ in range(rng.randrange(1, 25))]
    root = None  # [entry, left, right]
    made = []
    for _ in range(n):
        comm, tid, loc, trace = rng.choice(pool)
        temp = HistEntry(tuple(k.identity(comm, tid, loc, trace, True) for k in keys), comm, tid, loc, trace,
                         True, tid, False)
        node, parent, side = root, None, 0
        while node is not None:
            cmp = _entry_cmp(temp, node[0], cmps)
            if not cmp:
                node[0].hits += 1
                break
            parent, side = node, (1 if cmp < 0 else 2)
            node = node[side]
        else:
            temp.hits = 1
            made.append(temp)
            if parent is None:
                root = [temp, None, None]
            else:
                parent[side] = [temp, None, None]
    return made


SORTS = [["sym", "trace"], ["comm", "trace"], ["dso", "sym", "trace"], ["sym", "trace", "comm"],
         ["pid", "trace"], ["comm", "sym", "trace"]]


@pytest.mark.parametrize("names", SORTS, ids=",".join)
def test_trace_after_other_keys(names):
    rng = random.Random(",".join(names))
    keys = [KEYS[n] for n in names]
    cmps = entry_cmps(keys)
    at = names.index("trace")
    marked = unmarked = ordered = 0
    for _ in range(200):
        entries = _lookups(rng, keys, rng.randrange(1, 40), cmps)  # (in creation order, as Hists lists them)
        assert order.entry_order(entries, keys) is None  # (without trace_after: the comparator replay's)
        got = order.entry_order(entries, keys, trace_after=True)
        if type(got) is not list:  # (EntryRanks: unresolved entries of several dsos among resolved ones)
            continue
        ordered += 1
        assert [entries[i] for i in sorted(range(len(entries)), key=got.__getitem__)] == _tree(entries, cmps)
        want = [e.trace_known for e in entries]
        assert order.trace_marks(entries, at) == want
        marked += sum(want)
        unmarked += len(want) - sum(want)
    assert ordered > 50 and marked > 100 and unmarked > 10


def _tree(entries: list, cmps) -> list:
    """The in-order walk of the tree of ``entries`` inserted in turn (their marks left as they are)."""
    from pyperf_probe.report import rbtree
    marks = [e.trace_known for e in entries]
    try:
        return rbtree.insertion_order(entries, lambda new, old: _entry_cmp(new, old, cmps) < 0)
    finally:
        for e, known in zip(entries, marks):
            e.trace_known = known


@pytest.mark.parametrize("names", SORTS + [["comm", "trace", "sym"], ["sym", "trace", "dso"]], ids=",".join)
@pytest.mark.parametrize("caller", [False, True], ids=["callee", "caller"])
def test_cache_marks(names, caller):
    """``cache_marks`` = the outputs perf's he_cache comparisons compute: per chain, each frame's entry
    compared (``hist_entry__cmp(he_cache[i], &he_tmp)``, sortkeys' comparators, whose trace comparison marks
    both) with the chain's entries so far until one is equal, then added if none was (as another entry:
    ``he_tmp``'s output is not kept)."""
    rng = random.Random("cache," + ",".join(names))
    keys = [KEYS[n] for n in names]
    cmps = entry_cmps(keys)
    at = names.index("trace")
    marked_total = 0
    for _ in range(100):
        pool = [_loc(rng) for _ in range(rng.randrange(1, 8))]
        groups, want = [], set()
        for _ in range(rng.randrange(1, 6)):
            comm, tid, trace = rng.choice(["make", "cc1"]), rng.randrange(1, 3), rng.choice(TRACES)
            loc = rng.choice(pool)
            chain = tuple(rng.choice(pool) for _ in range(rng.randrange(0, 6)))
            ident = tuple(k.identity(comm, tid, loc, trace, True) for k in keys)
            groups.append(((ident, chain), [1, 1, tid, comm, loc, chain, trace, False, None, len(groups)]))
            cache = [HistEntry(ident, comm, tid, loc, trace, True, tid, False)]
            for frame in (reversed(chain) if caller else chain):
                tmp = HistEntry(tuple(k.identity(comm, tid, frame, trace, False) for k in keys), comm, tid, frame,
                                trace, False, tid, False)
                if all(_entry_cmp(c, tmp, cmps) for c in cache):
                    tmp.trace_known = False  # (he_tmp's output is thrown away: hists__add_entry makes another)
                    cache.append(tmp)
            want |= {c.ident for c in cache if c.trace_known}
        got = order.cache_marks(groups, keys, at, caller)
        assert got == want
        marked_total += len(got)
    assert marked_total > 20


def test_width_decided_output_order():
    """Where ``order.width_decided`` holds (the longest output that prints is computed already), the output
    sort's replay (``_output_cmp``, whose trace comparisons mark the new entry's output) gives the order
    ``output_order`` sorts and leaves the column's width (the longest computed output that prints) as it was;
    where it does not, ``output_order`` leaves the trace key to the replay."""
    from pyperf_probe.report import rbtree
    from pyperf_probe.report.hist import _output_cmp
    from pyperf_probe.report.layout import hpp_column
    rng = random.Random("width")
    fmts = [hpp_column("overhead"), KEYS["pid"], KEYS["trace"]]
    loc = RFrame(name="f", inlined=False, dso_name="a.so", dso_rank=(0, 0), sym_start=1, avma=2, rip=2)
    seen = {True: 0, False: 0}
    for _ in range(300):
        entries = []
        for _ in range(rng.randrange(1, 30)):
            trace = "x" * rng.randrange(1, 6) + rng.choice("abc")
            entry = HistEntry(("x",), "comm", rng.randrange(1, 4), loc, trace, True, 1, False)
            entry.period = rng.randrange(1, 4)
            entry.trace_known = rng.random() < 0.5
            entry.filtered = rng.random() < 0.2
            entries.append(entry)

        def width():
            return max([len(e.trace) for e in entries if e.trace_known and not e.filtered], default=0)
        decided = order.width_decided(entries)
        seen[decided] += 1
        got = order.output_order(entries, fmts, children=False, depth_rule=False, caller=False)
        before = width()
        want = rbtree.insertion_order(entries, lambda new, old: _output_cmp(new, old, fmts=fmts, children=False,
                                                                             depth_rule=False, caller=False) > 0)
        if decided:
            assert got == want
            assert width() == before
        else:
            assert got is None
    assert seen[True] > 50 and seen[False] > 50
