"""perfdata/_speedups_report.c's loops over a hists' samples and groups against their Python twins, on random
input: ``replay_plan`` (callchain.rbreplay.py_replay_plan: report.hist ``_replay_trees``'s per-group loop),
``sequence_fill`` (report.builder ``_Sequence.py_arrays``: the samples' group numbers and periods as 'I' and 'Q'
arrays), and ``rb_replay_groups``/``findnew_replay`` reading those arrays as they read lists."""
from __future__ import annotations

import random
from array import array

import pytest

from pyperf_probe.callchain import rbreplay
from pyperf_probe.callchain.tree import CallchainRoot, compare_frames
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.report import findnew
from pyperf_probe.report.builder import _Sequence

from test_callchain_rbreplay_c import _chains, _frames, _shape
from test_report_findnew import _case


def _need(name: str) -> None:
    if speedups is None or not hasattr(speedups, name):
        pytest.skip(f"no C {name}")


class _Entry:
    """A hist entry as replay_plan sees one: an object hashed by identity."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def _plan_case(rng: random.Random, with_records: bool):
    pool = _frames(rng)
    nent = rng.randrange(1, 6)
    entries = {("id", i): _Entry(i) for i in range(nent)}
    objs = list(entries.values())
    # each entry's tree by key: some of the chains (the plan's chains are of the tree, or not: a missing child)
    roots, mixed = [], []
    chains = [tuple(frames) for _k, frames, _p, _c in _chains(rng, pool)]
    for _ in objs:
        root = CallchainRoot()
        for chain in [c for c in chains if rng.random() < 0.85]:
            frames = list(chain)
            root.append([f.key for f in frames], frames, 1, 1)
            if rng.random() < 0.3:  # the caller order's too
                frames = frames[::-1]
                root.append([f.key for f in frames], frames, 1, 1)
        roots.append(root)
        found = rbreplay.mixed_nodes(root)
        if rng.random() < 0.15 and root.node.children:  # the root as mixed
            found = found | {id(root.node)}
        mixed.append(found)
    # the replayed entries: some of them, numbered in random order (and an entry not replayed)
    chosen = rng.sample(range(nent), rng.randrange(1, nent + 1))
    todo = {objs[i]: e for e, i in enumerate(chosen)}
    kept, records = [], []
    for g in range(rng.randrange(0, 40)):
        chain = rng.choice(chains)
        gkey = (("id", rng.randrange(nent + 1)), g)  # (an identity with no entry: skipped)
        group = [rng.randrange(1, 1 << 40), rng.randrange(1, 5), 7, "comm", None, chain, None, False, None, g]
        kept.append((gkey, group))
        looks = []
        for _ in range(rng.randrange(0, 4)):
            entry = rng.choice(objs + [None])
            looks.append((entry, rng.randrange(-1, len(chain) + 2), None, ".", None, -1))
        records.append((1, 1, 7, "comm", None, False, None, looks, None, None))
    if with_records and records and rng.random() < 0.1:
        records[rng.randrange(len(records))] = None  # a group not listed: no plan
    return kept, entries, records if with_records else None, todo, [roots[i].node for i in chosen], \
        [mixed[i] for i in chosen]


def _plain(plan):
    """A plan's lists with the chains' frames by identity (equal plans, equal values)."""
    if plan is None:
        return None
    fixed, per_group = plan
    return ([[(k, [id(f) for f in fs], p, c) for k, fs, p, c in chains] for chains in fixed],
            [[(e, k, [id(f) for f in fs]) for e, k, fs in these] for these in per_group])


@pytest.mark.parametrize("with_records", [False, True])
def test_c_replay_plan_equals_python(with_records):
    _need("replay_plan")
    rng = random.Random(3 + with_records)
    touched = free = nones = 0
    for _trial in range(400):
        caller = rng.random() < 0.5
        args = _plan_case(rng, with_records) + (caller,)
        want = rbreplay.py_replay_plan(*args)
        got = speedups.replay_plan(*args)
        assert _plain(got) == _plain(want)
        assert rbreplay.replay_plan(*args) is not None or want is None
        if want is None:
            nones += 1
            continue
        fixed, per_group = want
        free += sum(map(len, fixed))
        touched += sum(map(len, per_group))
    assert touched > 200 and free > 200, (touched, free)
    if with_records:
        assert nones > 5


def test_c_replay_plan_rejects_bad_input():
    _need("replay_plan")
    with pytest.raises(TypeError):
        speedups.replay_plan([("not a pair",)], {}, None, {}, [], [], False)
    with pytest.raises(ValueError):
        speedups.replay_plan([], {}, None, {}, [object()], [], False)
    entry = _Entry(0)
    with pytest.raises(IndexError):
        frames = (_frames(random.Random(1))[0],)
        speedups.replay_plan([((("i",), 0), [1, 1, 0, "c", None, frames])], {("i",): entry}, None, {entry: 3},
                             [CallchainRoot().node], [set()], False)


def _orders(rng: random.Random):
    buckets = [{} for _ in range(rng.randrange(1, 4))]
    groups = [("t", rng.randrange(9), (rng.randrange(3),)) for _ in range(rng.randrange(1, 12))]
    order = []
    for _ in range(rng.randrange(0, 60)):
        group = rng.choice(groups)
        if rng.random() < 0.2:
            group = tuple(list(group))  # an equal group, another object
        order.append((rng.choice(buckets), group, rng.choice([1, 7, (1 << 32) - 1, 1 << 32, 1 << 40, (1 << 64) - 1]
                                                             if rng.random() < 0.5 else [1, 7, (1 << 32) - 1])))
    mine = buckets[0]
    gkeys = {g: i * rng.choice((1, 1, 1000)) for i, g in enumerate(dict.fromkeys(groups))}
    return _Sequence(order, mine, gkeys, len(buckets) == 1)


def test_c_sequence_fill_equals_python():
    """_Sequence.arrays by C (sequence_fill) = py_arrays = records' lists, as 'I' and 'Q' views (memoryviews,
    as array.array would hold them: builder._zeros)."""
    _need("sequence_fill")
    rng = random.Random(12)
    for _ in range(300):
        seq = _orders(rng)
        got, want = seq.arrays(), seq.py_arrays()
        assert [type(a) for a in got] == [type(a) for a in want] == [memoryview, memoryview]
        assert [a.format for a in got] == [a.format for a in want]
        assert got[0].format == "I"
        assert got[1].format == ("I" if all(p < 1 << 32 for p in seq.records()[1]) else "Q")
        assert got == want
        assert [list(a) for a in got] == list(seq.records())


def test_sequence_fill_past_its_sizes_gives_lists():
    _need("sequence_fill")
    for big in ({("g",): 1 << 32}, {("g",): -1}):
        seq = _Sequence([(None, ("g",), 5)], None, big, True)
        assert seq.arrays() == seq.py_arrays() == seq.records()
    seq = _Sequence([(None, ("g",), 1 << 64)], None, {("g",): 0}, True)
    assert seq.arrays() == seq.py_arrays() == seq.records() == ([0], [1 << 64])
    with pytest.raises(KeyError):
        _Sequence([(None, ("missing",), 1)], None, {("g",): 0}, True).arrays()
    n = array("I", [0]) * 2
    with pytest.raises(TypeError):  # (arrays too short, or of another type)
        speedups.sequence_fill([(None, ("g",), 1)] * 3, None, {("g",): 0}, n, array("Q", [0]) * 3)
    with pytest.raises(TypeError):
        speedups.sequence_fill([(None, ("g",), 1)], None, {("g",): 0}, array("L", [0]), array("Q", [0]))
    with pytest.raises(TypeError):
        speedups.sequence_fill([(None, ("g",), 1)], None, {("g",): 0}, array("Q", [0]), array("Q", [0]))
    with pytest.raises(OverflowError):  # (a period past 'I': the caller retries with 'Q')
        speedups.sequence_fill([(None, ("g",), 1 << 32)], None, {("g",): 0}, array("I", [0]), array("I", [0]))


def test_c_replay_groups_reads_arrays(monkeypatch):
    """rb_replay_groups with the groups and periods as 'I' and 'Q' arrays: the trees of the lists."""
    _need("rb_replay_groups")
    monkeypatch.setattr(rbreplay, "_CMP", compare_frames)
    rng = random.Random(44)
    for _trial in range(80):
        nent = rng.randrange(1, 4)
        pool = _frames(rng)
        fixed = [_chains(rng, pool)[:rng.randrange(0, 10)] for _ in range(nent)]
        per_group = [[(e, *rng.choice(_chains(rng, pool))[:2]) for e in range(nent) if rng.random() < 0.6]
                     for _g in range(rng.randrange(1, 20))]
        groups = [rng.randrange(len(per_group)) for _ in range(rng.randrange(0, 200))]
        periods = [rng.randrange(1, 1 << 62) for _ in groups]
        want = rbreplay.py_replay_groups(fixed, per_group, groups, periods)
        got = rbreplay.replay_groups(fixed, per_group, array("I", groups), array("Q", periods))
        assert [_shape(t.node) for t in got] == [_shape(t.node) for t in want]
        small = [p & 0xFFFFFFFF for p in periods]
        assert [_shape(t.node) for t in rbreplay.replay_groups(fixed, per_group, array("Q", groups), array("I", small))] \
            == [_shape(t.node) for t in rbreplay.py_replay_groups(fixed, per_group, groups, small)]
        assert [_shape(t.node) for t in got] == [_shape(t.node) for t in want]
        into = [_Tree() for e in range(nent)]
        assert rbreplay.replay_groups(fixed, per_group, array("I", groups), array("Q", periods), into=into) is None
        assert [_shape(e.callchain.node) for e in into] == [_shape(t.node) for t in want]
    with pytest.raises(TypeError):
        speedups.rb_replay_groups([], [], array("i", [0]), array("Q", [1]))
    with pytest.raises(IndexError):
        speedups.rb_replay_groups([], [[]], array("I", [1]), array("Q", [1]))
    with pytest.raises(ValueError):
        speedups.rb_replay_groups([], [[]], array("I", [0]), array("Q", [1, 2]))
    with pytest.raises(IndexError):  # (lists: a negative group)
        speedups.rb_replay_groups([], [[]], [-1], [1])
    with pytest.raises(TypeError):
        speedups.rb_replay_groups([[]], [[(0, [], [])], [("x",)]], [0, 1], [1, 1])


class _Tree:
    __slots__ = ("callchain",)


@pytest.mark.parametrize("collapse", [False, True])
def test_c_findnew_replay_reads_arrays(collapse):
    """findnew_replay with the samples' groups and periods as 'I' and 'Q' arrays: the lists' answers."""
    _need("findnew_replay")
    rng = random.Random(70 + collapse)
    for _ in range(200):
        case = list(_case(rng))
        want = findnew.replay(*case, collapse)
        case[7], case[8] = array("I", case[7]), array("Q", case[8])
        assert findnew.replay(*case, collapse) == want
        assert speedups.findnew_replay(*case, collapse) == want
        if all(p < 1 << 32 for p in case[8]):
            case[7], case[8] = array("Q", case[7]), array("I", case[8])
            assert speedups.findnew_replay(*case, collapse) == want
    case = list(_case(rng))
    case[7] = array("I", case[7][:-1])
    with pytest.raises(ValueError):
        speedups.findnew_replay(*case, collapse)
