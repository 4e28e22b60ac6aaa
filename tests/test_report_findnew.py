"""report.findnew: perf's entries_in search replayed where its comparisons are not a total order (unresolved
addresses that straddle 2^63, unresolved entries of several dsos among resolved ones, inlined and plain symbols
of one class).

The C loop (perfdata/_speedups.c findnew_replay) and its Python twin give the same entries, order and merges
on random identities and look-ups; the Python twin finds an identity's entry whenever its comparisons are
consistent (no straddling class), and makes a second entry where perf's search misses the first (a case
worked by hand)."""
import random

import pytest

from pyperf_probe.report import findnew, rbtree
from pyperf_probe.report.frames import RFrame
from pyperf_probe.report.hist import HistEntry, Hists, _entry_cmp
from pyperf_probe.report.sortkeys import KEYS, entry_cmps


def _case(rng, high: bool = True):
    n = rng.randrange(1, 80)
    nblocks = rng.randrange(1, 6)
    block = [rng.randrange(nblocks) for _ in range(n)]
    wrapping = {b for b in range(nblocks) if rng.random() < 0.6}
    pool = [0x10, 0x400000, 0x7F0000001000, 0x5F73736170002D61] + \
        ([0x8B48000000000000, 0xBE552274C0854800, 0xFFFFFFFF81000000, 0xC000000000000000] if high else [])
    ip = [rng.choice(pool) + rng.randrange(0, 32, 8) for _ in range(n)]
    sub = [rng.randrange(3) for _ in range(n)]
    wraps = [b in wrapping for b in block]
    # a wrapping block of a whole class holds resolved identities too (their ip: the symbol's rank in its dso)
    unres = [not w or not high or rng.random() < 0.7 for w in wraps]
    dso = [rng.randrange(3) if w and high else 0 for w in wraps]
    # a resolved one's ip: its name's rank (high half), its (start, name) rank (low half); inlined or not
    inl = [not u and rng.random() < 0.5 for u in unres]
    ip = [v if u else (rng.randrange(3) << 32) | rng.randrange(4) for v, u in zip(ip, unres)]
    # identities are distinct: a non-wrapping block holds one identity, a wrapping one distinct (kind, dso
    # of a resolved one, ip, sub)
    seen, keep = set(), []
    for i in range(n):
        key = (block[i], unres[i], 0 if unres[i] else dso[i], ip[i], sub[i]) if wraps[i] else (block[i],)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    block, ip, sub, wraps, unres, dso, inl = ([v[i] for i in keep] for v in (block, ip, sub, wraps, unres, dso, inl))
    n = len(keep)
    # groups in first-sample order, each making some identities in turn and looking others up
    looks, made_after, made = [], [], 0
    while made < n or not looks:
        mine = []
        for j in range(rng.randrange(0, 5)):
            if made < n and rng.random() < 0.5:
                mine.append((j, made, -1))  # makes identity `made`
                made += 1
            elif made:
                mine.append((j, rng.randrange(made), made))
        looks.append([m for m in mine if wraps[m[1]]] or None)
        made_after.append(made)
    groups, top = [], -1
    for _ in range(rng.randrange(len(looks), 4 * len(looks) + 1)):
        r = top + 1 if top + 1 < len(looks) and rng.random() < 0.3 else rng.randrange(top + 1) if top >= 0 else 0
        top = max(top, r)
        groups.append(r)
    groups += range(top + 1, len(looks))
    periods = [rng.choice([1, 7, 1 << 40]) for _ in groups]
    counts = None if rng.random() < 0.5 else [rng.randrange(1, 4) for _ in groups]
    return block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after



def _with_stand_ins(rng, case):
    """A case whose later identities (copies of unresolved ones under another dso) are only searched with:
    some look-ups that made nothing search with one of them (report.hist ``_dso_variants``)."""
    block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after = case
    n = len(block)
    stand = [i for i in range(n) if wraps[i] and unres[i]]
    extra = [rng.choice(stand) for _ in range(rng.randrange(1, 4))] if stand else []
    ranks = [v + [v[i] for i in extra] for v in (block, ip, sub, wraps, unres, inl)]
    dso = dso + [dso[i] + rng.randrange(1, 3) for i in extra]
    looks = [None if g is None else
             [(j, n + extra.index(x) if x in extra and b >= 0 and rng.random() < 0.6 else x, b) for j, x, b in g]
             for g in looks]
    block, ip, sub, wraps, unres, inl = ranks
    return (block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after), n


@pytest.mark.parametrize("collapse", [False, True])
def test_c_loop_is_the_python_replay_with_stand_ins(collapse):
    """``entries``: identities past it are searched with, made as entries only where their search finds none."""
    from pyperf_probe.perfdata.speedups import speedups
    if speedups is None or not hasattr(speedups, "findnew_replay"):
        pytest.skip("the C loops were not built")
    rng = random.Random(61 + collapse)
    made = 0
    for _ in range(400):
        case, n = _with_stand_ins(rng, _case(rng))
        args = case + (collapse, n)
        want = findnew.replay(*args)
        assert speedups.findnew_replay(*args) == want
        assert speedups.findnew_replay(*args, True) == (findnew.aggregate_moves(want[0]),) + want[1:]
        made += any(want[1][e] >= n for e in range(n, len(want[1])))
    assert made > 20  # a stand-in's search found nothing: its entry made

@pytest.mark.parametrize("collapse", [False, True])
def test_c_loop_is_the_python_replay(collapse):
    from pyperf_probe.perfdata.speedups import speedups
    if speedups is None or not hasattr(speedups, "findnew_replay"):
        pytest.skip("the C loops were not built")
    rng = random.Random(16 + collapse)
    dups = merged_moves = 0
    for _ in range(400):
        args = _case(rng) + (collapse,)
        want = findnew.replay(*args)
        assert speedups.findnew_replay(*args) == want
        summed = findnew.aggregate_moves(want[0])
        assert speedups.findnew_replay(*args, -1, True) == (summed,) + want[1:]
        dups += bool(want[0])
        merged_moves += len(summed) < len(want[0])
    assert dups > 20  # cases where a search missed an entry of its identity
    assert merged_moves > 5  # moves of one (group, look-up, entry) summed


def test_consistent_identities_are_always_found():
    rng = random.Random(7)
    for _ in range(300):
        block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after = _case(rng, high=False)
        moves, ident, order, merged = findnew.replay(block, ip, sub, wraps, unres, dso, inl, groups, periods,
                                                     counts, looks, made_after, True)
        assert moves == [] and ident == list(range(len(block))) and set(merged) <= {-1}
        keys = [(block[i], ip[i] if wraps[i] else 0, sub[i] if wraps[i] else 0) for i in range(len(block))]
        assert order == sorted(range(len(block)), key=keys.__getitem__)


def _naive(samples, keys, children):
    """perf's loop, literally: per sample its self entry then each new cumulative one, found or made by
    searching one rb-tree with the entries' comparator (report.sortkeys ENTRY_CMP); comm: collapsed again,
    equal entries merged. Returns (identity, period, period_acc, nr_events) in the final order."""
    cmps = entry_cmps(keys)
    root = [None]

    def findnew(tree, probe):
        parent, cur, left = None, tree[0], False
        while cur is not None:
            c = _entry_cmp(probe, cur.item, cmps)
            if c == 0:
                return cur.item
            parent, left = cur, c < 0
            cur = cur.left if left else cur.right
        node = rbtree._Node(probe, parent)
        if parent is None:
            tree[0] = node
        elif left:
            parent.left = node
        else:
            parent.right = node
        tree[0] = rbtree._fixup(tree[0], node)
        return probe

    for comm, tid, loc, chain, period in samples:
        probes = [(loc, True)] + ([(f, False) for f in chain] if children else [])
        seen = []
        for frame, is_self in probes:
            ident = tuple(k.identity(comm, tid, frame, None, is_self) for k in keys)
            if ident in seen:
                continue
            seen.append(ident)
            he = findnew(root, HistEntry(ident, comm, tid, frame, None, is_self, tid, False))
            he.period_acc += period
            if is_self:
                he.period += period
                he.nr_events += 1
    order = rbtree._walk(root[0]) if root[0] is not None else []
    if any(k.name == "comm" for k in keys):
        again = [None]
        for he in order:
            got = findnew(again, he)
            if got is not he:
                got.period += he.period
                got.period_acc += he.period_acc
                got.nr_events += he.nr_events
        order = rbtree._walk(again[0]) if again[0] is not None else []
    return [(e.ident, e.period, e.period_acc, e.nr_events) for e in order]


def _frame(rng, avma):
    return RFrame(name=None, inlined=False, dso_name=rng.choice([None, None, "libc.so.6"]),
                  dso_rank=(0, 0), sym_start=0, avma=avma, rip=avma)


@pytest.mark.parametrize("names", [["dso", "sym"], ["comm", "dso", "sym"], ["sym"], ["pid", "sym"],
                                   ["sym", "comm"], ["sym", "pid", "dso"]], ids=",".join)
@pytest.mark.parametrize("children", [False, True])
def test_hists_find_and_make_entries_as_perfs_loop(names, children, speedups_or_not):
    """Hists with the sample sequence: the entries, their periods and order are those of perf's loop."""
    keys = [KEYS[n] for n in names]
    rng = random.Random(len(names) * 2 + children)
    pool = [0x10, 0x18, 0x400000, 0x5F73736170002D61, 0x8B48000000000000, 0xBE552274C0854800,
            0xC000000000000000, 0x7F0000001000]
    frames = [_frame(rng, a + off) for a in pool for off in (0, 8)]
    named = RFrame(name="malloc", inlined=False, dso_name="libc.so.6", dso_rank=(0, 0), sym_start=0x1000,
                   avma=0x1005, rip=0x1005)
    dups = 0
    for _ in range(60):
        groups = []
        for _ in range(rng.randrange(1, 12)):
            chain = tuple(rng.choice(frames + [named]) for _ in range(rng.randrange(0, 5)))
            groups.append((rng.choice(["make", "cc1"]), rng.randrange(1, 3), rng.choice(frames + [named]), chain))
        samples = [rng.choice(groups) + (rng.randrange(1, 4),) for _ in range(rng.randrange(1, 200))]
        h = Hists(keys, children=children, callchains=True, caller_order=False)
        h.sequence = []
        for comm, tid, loc, chain, period in samples:
            gkey = h.add(comm, tid, period, loc, chain, chain, None)
            h.sequence.append((gkey, period))
        h.finish()
        got = [(e.ident, e.period, e.period_acc, e.nr_events) for e in h._collapsed_order()]
        want = _naive(samples, keys, children)
        assert got == want
        dups += len({g[0] for g in got}) < len(got)
    # (comm: the collapsed tree merges them again; sym alone without children: too few entries for a miss)
    assert dups > 0 or not (names == ["dso", "sym"] or (names == ["sym"] and children))


@pytest.mark.parametrize("alone", [True, False])
def test_sequence_records_keep_a_hists_own_samples(alone):
    """builder._Sequence: the session's order mapped to one hists' groups (its bucket's samples only)."""
    from pyperf_probe.report.builder import _Sequence
    mine, other = {}, {}
    groups = [("g%d" % i,) for i in range(4)]
    order = [(mine, groups[0], 5), (other, groups[1], 6), (mine, groups[2], 7), (mine, groups[0], 8),
             (other, groups[3], 9)]
    if alone:
        order = [o for o in order if o[0] is mine]
    numbers = {groups[0]: 0, groups[2]: 1}
    seq = _Sequence(order, mine, numbers, alone)
    assert seq.records() == ([0, 1, 0], [5, 7, 8])
    assert list(seq) == [(0, 5), (1, 7), (0, 8)]
    seq.compact()  # (arrays kept: the order and groups let go)
    order.clear()
    numbers.clear()
    assert seq.records() == seq.py_records() == ([0, 1, 0], [5, 7, 8])
    assert list(seq) == [(0, 5), (1, 7), (0, 8)]


@pytest.mark.parametrize("mode", ["graph", "flat", "folded"])
@pytest.mark.parametrize("children", [False, True])
def test_trees_below_the_graph_threshold_print_as_built_ones(mode, children):
    """Hists.graph_min_percent: entries whose whole tree is below the threshold keep none, and print the same
    call-graph text (nothing) and order (their depth kept for the Children depth rule) as with every tree."""
    from pyperf_probe.report import callgraph_text
    keys = [KEYS[n] for n in ("comm", "dso", "sym")]
    rng = random.Random(mode + str(children))
    frames = [_frame(rng, a) for a in (0x10, 0x18, 0x400000, 0x8B48000000000000, 0x7F0000001000)]
    named = [RFrame(name=n, inlined=False, dso_name="libc.so.6", dso_rank=(0, 0), sym_start=s, avma=s + 5,
                    rip=s + 5) for n, s in (("malloc", 0x1000), ("free", 0x2000), ("main", 0x3000))]
    params = callgraph_text.GraphParams(mode=mode, min_percent=5.0)
    skipped = 0
    for _ in range(40):
        samples = []
        for _ in range(rng.randrange(1, 80)):
            chain = tuple(rng.choice(frames + named) for _ in range(rng.randrange(0, 6)))
            samples.append((rng.choice(["make", "cc1"]), 1, rng.choice(frames + named), chain,
                            rng.choice([1, 1, 2, 30])))
        texts = []
        for threshold in (None, 5.0):
            h = Hists(keys, children=children, callchains=True, caller_order=False)
            h.graph_min_percent = threshold
            for comm, tid, loc, chain, period in samples:
                h.count(period)
                h.add(comm, tid, period, loc, chain, chain, None)
            h.finish()
            total = h.total_period
            min_hit = int(total * 5.0 / 100)
            out = []
            for e in h.sorted_entries(show_callchain=True):
                parent = e.period_acc if children else e.period
                out.append((e.ident, callgraph_text.render(e.callchain, params, total, parent, min_hit)))
                if threshold is not None and e.callchain.node.children == {} and e.period_acc:
                    skipped += 1
            texts.append(out)
        assert texts[0] == texts[1]
    assert skipped > 20


def _symbol(name, start, inlined):
    return RFrame(name=name, inlined=inlined, dso_name="libc.so.6", dso_rank=(0, 0), sym_start=start,
                  avma=start + 5, rip=start + 5)


@pytest.mark.parametrize("names", [["dso", "sym"], ["sym"], ["sym", "dso"], ["comm", "dso", "sym"],
                                   ["dso", "sym", "pid"]], ids=",".join)
@pytest.mark.parametrize("caller", [False, True])
def test_inlined_and_plain_symbols_as_perfs_loop(names, caller, speedups_or_not):
    """An inlined symbol compares by name first (``strcmp(old, new)``), two plain ones by start: not a total
    order, so perf's search may miss an entry and make a second one of the same symbol (as on the ex_spin
    DWARF file: __GI___qsort_r 32.72% + 0.09%). Hists with the sample sequence give the entries, periods and
    order of perf's literal loop (its look-ups in the chain's order: caller order from the root)."""
    keys = [KEYS[n] for n in names]
    rng = random.Random(",".join(names) + str(caller))
    # inlined symbols carry their host's start (new_inline_sym), under names that sort apart from it
    plain = [_symbol(n, s, False) for n, s in (("qsort_r", 0x3000), ("main", 0x1000), ("zap", 0x2000),
                                                 ("alpha", 0x4000), ("msort", 0x5000))]
    inlined = [_symbol(n, s, True) for n, s in (("msort_with_tmp", 0x3000), ("b_inl", 0x1000),
                                                  ("qsort_r", 0x1000), ("y_inl", 0x5000), ("main", 0x3000))]
    pool = plain + inlined + [_frame(rng, 0x10), _frame(rng, 0x400000)]
    dups = 0
    for _ in range(80):
        groups = []
        for _ in range(rng.randrange(1, 12)):
            chain = tuple(rng.choice(pool) for _ in range(rng.randrange(0, 6)))
            groups.append((rng.choice(["make", "cc1"]), rng.randrange(1, 3), rng.choice(plain), chain))
        samples = [rng.choice(groups) + (rng.randrange(1, 4),) for _ in range(rng.randrange(1, 200))]
        h = Hists(keys, children=True, callchains=True, caller_order=caller)
        h.sequence = []
        for comm, tid, loc, chain, period in samples:
            gkey = h.add(comm, tid, period, loc, chain, chain, None)
            h.sequence.append((gkey, period))
        h.finish()
        got = [(e.ident, e.period, e.period_acc, e.nr_events) for e in h._collapsed_order()]
        looked = [(c, t, loc, tuple(reversed(ch)) if caller else ch, p) for c, t, loc, ch, p in samples]
        assert got == _naive(looked, keys, True)
        dups += len({g[0] for g in got}) < len(got)
    assert dups > 0 or names[0] == "comm"  # (comm: the collapsed tree merges them again)


def _unresolved(dso_name, avma):
    return RFrame(name=None, inlined=False, dso_name=dso_name, dso_rank=(0, 0), sym_start=0, avma=avma, rip=avma)


def _run_hists(keys, samples, children):
    h = Hists(keys, children=children, callchains=True, caller_order=False)
    h.sequence = []
    for comm, tid, loc, chain, period in samples:
        gkey = h.add(comm, tid, period, loc, chain, chain, None)
        h.sequence.append((gkey, period))
    h.finish()
    return [(e.ident, e.period, e.period_acc, e.nr_events) for e in h._collapsed_order()]


def test_one_unresolved_address_of_two_dsos_among_symbols(speedups_or_not):
    """sym without dso: an unresolved identity names no dso, but sort__sym_cmp compares an unresolved entry
    with a resolved one by dso first. A resolved entry of m.so at the root, 0x418e of a.so goes left of it,
    0x418e of z.so goes right and misses the first: perf makes a second entry (sys.data's sys_exit_openat:
    0x418e of go and of pprof among libc's symbols, 0.08% + 0.01%). Hists merged them while their samples
    shared one group."""
    keys = [KEYS["sym"]]
    sym = RFrame(name="open", inlined=False, dso_name="m.so", dso_rank=(0, 0), sym_start=0x1000, avma=0x1005,
                 rip=0x1005)
    a, z = _unresolved("a.so", 0x418E), _unresolved("z.so", 0x418E)
    samples = [("go", 1, sym, (), 5), ("go", 1, a, (), 3), ("pprof", 2, z, (), 2), ("go", 1, a, (), 1),
               ("pprof", 2, z, (), 4)]
    got = _run_hists(keys, samples, False)
    assert got == _naive(samples, keys, False)
    assert [(g[0][0][0], g[1]) for g in got] == [("a", 4), ("s", 5), ("a", 6)]  # (entries_in's order)


@pytest.mark.parametrize("names", [["sym"], ["pid", "sym"], ["comm", "sym"], ["sym", "comm"], ["sym", "pid"]],
                         ids=",".join)
@pytest.mark.parametrize("children", [False, True])
def test_unresolved_addresses_of_several_dsos_as_perfs_loop(names, children, speedups_or_not):
    """Unresolved addresses shared by several dsos among resolved symbols of others, sym a key and dso not:
    Hists with the sample sequence give perf's literal loop's entries, periods and order."""
    keys = [KEYS[n] for n in names]
    rng = random.Random(",".join(names) + str(children))
    syms = [RFrame(name=n, inlined=False, dso_name=d, dso_rank=(0, 0), sym_start=s, avma=s + 5, rip=s + 5)
            for n, d, s in (("open", "m.so", 0x1000), ("close", "m.so", 0x2000), ("read", "c.so", 0x1000),
                            ("write", "x.so", 0x3000))]
    unres = [_unresolved(d, ip) for d in ("a.so", "n.so", "z.so", None) for ip in (0x418E, 0x50)]
    pool = syms + unres
    dups = 0
    for _ in range(60):
        groups = []
        for _ in range(rng.randrange(1, 12)):
            chain = tuple(rng.choice(pool) for _ in range(rng.randrange(0, 4))) if children else ()
            groups.append((rng.choice(["go", "pprof"]), rng.randrange(1, 3), rng.choice(pool), chain))
        samples = [rng.choice(groups) + (rng.randrange(1, 4),) for _ in range(rng.randrange(1, 120))]
        got = _run_hists(keys, samples, children)
        assert got == _naive(samples, keys, children)
        dups += len({g[0] for g in got}) < len(got)
    assert dups > 0 or "comm" in names  # (comm: the collapsed tree merges them again)
