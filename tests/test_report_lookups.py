"""report.hist's look-ups (Hists._lookups) in C (perfdata/_speedups_report.c hist_lookups) and in Python: the
same entries (identity, periods, counts, hits, level, comm, thread), the same listed look-ups, made_after
and pending chain appends, on random groups of random chains (resolved, inlined and unresolved frames, mapped
or not, repeated functions), for each kind of key list, children or not, trees or not, caller order or not."""
import random

import pytest

from conftest import need_speedups
from pyperf_probe.report import hist
from pyperf_probe.report.frames import RFrame
from pyperf_probe.report.hist import Hists
from pyperf_probe.report.sortkeys import KEYS


def _frames(rng):
    out = []
    for i in range(14):
        kind = rng.random()
        dso = rng.choice([None, "libc.so.6", "cc1", "[kernel.kallsyms]"])
        rank = (-1, -1) if dso is None else (0, ["libc.so.6", "cc1", "[kernel.kallsyms]"].index(dso))
        if kind < 0.5 and dso is not None:
            start = rng.choice([0x1000, 0x2000, 0x3000])
            out.append(RFrame(name="f%x" % start, inlined=rng.random() < 0.2, dso_name=dso, dso_rank=rank,
                              sym_start=start, avma=start + i, rip=start + i, level=rng.choice([".", "k"])))
        else:
            avma = rng.choice([0x10, 0x400000 + i, 0x7F0000001000, 0xC000000000000000 + i])
            out.append(RFrame(name=None, inlined=False, dso_name=dso, dso_rank=rank, sym_start=0, avma=avma,
                              rip=avma, level=rng.choice([".", "k", "H"])))
    return out


def _state(h: Hists, answer) -> tuple:
    """The look-ups' answer and the hists' entries, entries named by their position in ``h.entries``."""
    entries = list(h.entries.values())
    pos = {id(e): i for i, e in enumerate(entries)}

    def name(obj):
        return ("E", pos[id(obj)]) if id(obj) in pos else obj

    records, made_after, pending = answer
    recs = [None if r is None else r[:7] + ([tuple(map(name, look)) for look in r[7]], r[8], r[9])
            for r in records]
    pend = [((name(k[0]), k[1]), [name(v[0])] + v[1:]) for k, v in pending.items()]
    ents = [(e.ident, e.comm, e.tid, e.loc, e.trace, e.is_self, e.period, e.nr_events, e.period_acc, e.hits,
             e.level, e.filtered, e.raw, e.callchain is None) for e in entries]
    # (the frames' entries kept per head: the Python loop keeps them only where the frame keys come last)
    known = {head: {f: pos[id(e)] for f, e in d.items()} for head, d in h._frame_entries.items()} \
        if h._loc_suffix is not None else None
    return recs, made_after, pend, ents, known


@pytest.mark.parametrize("names", [["dso", "sym"], ["comm", "dso", "sym"], ["sym"], ["pid", "sym"], ["comm"],
                                   ["sym", "comm"]], ids=",".join)
@pytest.mark.parametrize("children", [False, True])
@pytest.mark.parametrize("graphs", [False, True])
def test_c_lookups_equal_pythons(names, children, graphs):
    need_speedups()
    keys = [KEYS[n] for n in names]
    rng = random.Random(hash((tuple(names), children, graphs)) & 0xFFFF)
    compared = 0
    for _ in range(40):
        frames = _frames(rng)
        caller, every = rng.random() < 0.5, rng.random() < 0.3
        adds = []
        for _ in range(rng.randrange(1, 30)):
            chain = tuple(rng.choice(frames) for _ in range(rng.randrange(0, 9)))
            group = (rng.choice(["make", "cc1"]), rng.randrange(1, 4), rng.choice(frames), chain, rng.random() < 0.1)
            adds += [group + (rng.choice([1, 3, 1 << 40]), rng.randrange(1, 3)) for _ in range(rng.randrange(1, 3))]
        rng.shuffle(adds)
        states = []
        for use_c in (True, False):
            h = Hists(keys, children=children, callchains=True, caller_order=caller, graphs=graphs)
            for comm, tid, loc, chain, filtered, period, count in adds:
                h.add(comm, tid, period, loc, chain, chain, None, count, filtered)
            saved = hist.speedups
            if not use_c:
                hist.speedups = None
            try:
                answer = h._lookups(every)
            finally:
                hist.speedups = saved
            states.append(_state(h, answer))
        assert states[0] == states[1]
        compared += 1
    assert compared == 40


def test_c_frame_cmp_equals_compare_frames():
    """callchain.tree's sibling order: the C comparator (frame_cmp) and compare_frames agree on random pairs of
    resolved, inlined and unresolved frames, and so do the sibling orders sorted with each."""
    need_speedups()
    import functools
    from pyperf_probe.callchain.tree import compare_frames
    from pyperf_probe.perfdata.speedups import speedups
    rng = random.Random(7)
    signs = set()
    for _ in range(200):
        frames = _frames(rng)
        for a in frames:
            for b in frames:
                want = compare_frames(a, b)
                assert speedups.frame_cmp(a, b) == want
                signs.add(want)
        rng.shuffle(frames)
        assert sorted(frames, key=functools.cmp_to_key(speedups.frame_cmp)) == \
            sorted(frames, key=functools.cmp_to_key(compare_frames))
    assert signs == {-1, 0, 1}


def test_rframe_by_position_equals_keywords():
    """report.frames: FrameTable's positional RFrame._of sets every field as RFrame(...) does."""
    rng = random.Random(3)
    for _ in range(5000):
        args = dict(name=rng.choice([None, "malloc", "x" * 1030, "f"]), inlined=rng.choice([0, 1, True, False]),
                    dso_name=rng.choice([None, "libc.so.6"]), dso_rank=(0, rng.randrange(3)),
                    sym_start=rng.randrange(5), avma=rng.choice([0, 5, 1 << 63]), rip=rng.randrange(9),
                    level=rng.choice([".", "k"]), object_sym=rng.choice([False, True, None, 0]),
                    object_start=rng.choice([None, 7]))
        want, got = RFrame(**args), RFrame._of(*args.values())
        for field in RFrame.__slots__:
            assert (getattr(got, field), type(getattr(got, field))) == \
                (getattr(want, field), type(getattr(want, field))), (field, args)


def _tree_shape(node, parent=None):
    """A call-graph tree as nested tuples: runs, hits, counts, children in dict order; parents checked."""
    assert node.parent is parent
    return (tuple(map(id, node.val)), tuple(node.keys), node.hit, node.children_hit, node.count,
            node.children_count, tuple((k, _tree_shape(c, node)) for k, c in node.children.items()))


def test_c_callchain_append_equals_pythons():
    """callchain.tree: the C append (callchain_append) and CallchainRoot.py_append build the same trees (runs,
    splits, hits, counts, children order, parents) from random chains sharing prefixes, merged trees too."""
    need_speedups()
    from pyperf_probe.callchain import tree
    rng = random.Random(11)
    for _ in range(300):
        frames = _frames(rng)[:rng.randrange(2, 8)]
        chains = []
        for _ in range(rng.randrange(1, 25)):
            base = rng.choice(chains)[0] if chains and rng.random() < 0.6 else []
            chain = base[:rng.randrange(len(base) + 1)] + [rng.choice(frames) for _ in range(rng.randrange(0, 6))]
            chains.append((chain, rng.choice([1, 5, 1 << 40]), rng.randrange(1, 4)))
        roots = []
        for use_c in (True, False):
            root, other = tree.CallchainRoot(), tree.CallchainRoot()
            for i, (chain, period, count) in enumerate(chains):
                keys = [f.key for f in chain]
                target = other if i % 3 == 2 else root
                if use_c:
                    target.append(keys if i % 2 else tuple(keys), tuple(chain), period, count)
                else:
                    target.py_append(keys, tuple(chain), period, count)
            saved = tree._c_append
            tree._c_append = tree._c_append if use_c else None
            try:
                root.merge(other)
            finally:
                tree._c_append = saved
            roots.append((root.max_depth, _tree_shape(root.node)))
        assert roots[0] == roots[1]


@pytest.mark.parametrize("names", [["sym"], ["comm", "sym"], ["dso", "sym"]], ids=",".join)
def test_c_replay_looks_equal_pythons(names):
    """report.hist's replay inputs: the C replay_looks and other_dso_looks answer as _replay_looks and
    _other_dso_looks on the listed look-ups of random groups, with random wrapping identities and stand-ins."""
    need_speedups()
    from pyperf_probe.perfdata.speedups import speedups
    keys = [KEYS[n] for n in names]
    rng = random.Random(len(names) * 7)
    others = 0
    for _ in range(60):
        frames = _frames(rng)
        h = Hists(keys, children=True, callchains=True, caller_order=rng.random() < 0.5, graphs=True)
        for _ in range(rng.randrange(1, 30)):
            chain = tuple(rng.choice(frames) for _ in range(rng.randrange(0, 9)))
            h.add(rng.choice(["make", "cc1"]), 1, 1, rng.choice(frames), chain, chain, None)
        records, _, _ = h._lookups(rng.random() < 0.5)
        for i, entry in enumerate(h.entries.values()):
            entry.slot = i
        wraps = [rng.random() < 0.6 for _ in h.entries]
        dsos = sorted({f.dso_name for f in frames}, key=str)
        variant_of = {(rng.randrange(len(wraps)), rng.choice(dsos)): len(wraps) + k for k in range(4)}
        for variants in (None, variant_of):
            assert speedups.replay_looks(records, wraps, variants) == hist._replay_looks(records, wraps, variants)
        got = speedups.other_dso_looks(records)
        assert got == hist._other_dso_looks(records)
        others += bool(got)
    assert others > 5 or "dso" in names  # (dso a key: a look-up's entry is of its own dso)


def test_c_sequence_records_equal_pythons():
    """report.builder._Sequence.records: the C sequence_records answers as py_records on random sample orders
    of several buckets (alone or not), groups met as gkeys' own objects and as equal copies."""
    need_speedups()
    from pyperf_probe.perfdata.speedups import speedups
    from pyperf_probe.report.builder import _Sequence
    rng = random.Random(5)
    for _ in range(200):
        buckets = [{} for _ in range(rng.randrange(1, 4))]
        groups = [("t", rng.randrange(9), (rng.randrange(3),)) for _ in range(rng.randrange(1, 12))]
        order = []
        for _ in range(rng.randrange(0, 60)):
            group = rng.choice(groups)
            if rng.random() < 0.2:
                group = tuple(list(group))  # an equal group, another object
            order.append((rng.choice(buckets), group, rng.choice([1, 7, 1 << 40])))
        mine = buckets[0]
        alone = len(buckets) == 1
        gkeys = {g: i for i, g in enumerate(dict.fromkeys(groups))}
        seq = _Sequence(order, mine, gkeys, alone)
        assert speedups.sequence_records(order, None if alone else mine, gkeys) == seq.py_records()
    with pytest.raises(KeyError):
        speedups.sequence_records([({}, ("missing",), 1)], None, {("g",): 0})
