"""perfdata/_speedups_report.c ``rb_replay`` against its Python twin (callchain.rbreplay.py_replay) on random
chains: siblings mixing inlined, plain and unresolved frames of one or several dsos (the classes between which
match_chain is not a total order, so the rb-trees' shapes and the sample order decide which duplicates perf
makes), chains sharing prefixes so that runs split, chains appended again (one list object several times, as
report.hist passes a group's chain once per sample), samples in random orders, counts above one."""
from __future__ import annotations

import random

import pytest

from pyperf_probe.callchain import rbreplay
from pyperf_probe.callchain.tree import compare_frames
from pyperf_probe.report.frames import RFrame


def _frames(rng: random.Random) -> list:
    """A pool of frames: per dso, plain symbols, inlined ones (some named as plain ones), unresolved addresses
    (some inside a plain symbol's range: equal dso, start vs address)."""
    pool = []
    # dso_rank as report.frames gives it (a pair: (0, header order), (1, session order), (-1, -1)), or an int;
    # sometimes a triple (compared by frame_cmp on the objects: the C loop's fallback)
    style = rng.choice(("int", "pair", "pair", "mixed"))
    ranks = {}

    def rank(dso):
        if dso not in ranks:
            kind = style if style != "mixed" else rng.choice(("pair", "pair", "triple"))
            ranks[dso] = dso if kind == "int" else (dso % 2, dso // 2) if kind == "pair" else (dso % 2, dso // 2, 0)
        return ranks[dso]
    for dso in range(rng.randrange(1, 4)):
        for i in range(rng.randrange(2, 7)):
            start = 0x1000 * (dso % 2) + 0x40 * rng.randrange(0, 12)
            pool.append(RFrame(name="f%d" % rng.randrange(0, 8), inlined=False, dso_name="d%d" % dso,
                               dso_rank=rank(dso), sym_start=start, avma=start + 3, rip=start + 3))
        for i in range(rng.randrange(0, 4)):
            start = 0x1000 * (dso % 2) + 0x40 * rng.randrange(0, 12)
            pool.append(RFrame(name="f%d" % rng.randrange(0, 8), inlined=True, dso_name="d%d" % dso,
                               dso_rank=rank(dso), sym_start=start, avma=start + 5, rip=start + 5))
        for i in range(rng.randrange(0, 4)):
            addr = 0x1000 * (dso % 2) + 0x40 * rng.randrange(0, 12) + rng.choice((0, 3))
            pool.append(RFrame(name=None, inlined=False, dso_name="d%d" % dso, dso_rank=rank(dso), sym_start=0,
                               avma=addr, rip=addr))
    return pool


def _shape(node):
    return ([(id(f), k) for f, k in zip(node.val, node.keys)], node.hit, node.children_hit, node.count,
            node.children_count, [_shape(c) for c in node.ordered_children()])


def _chains(rng: random.Random, pool: list | None = None) -> list:
    pool = pool or _frames(rng)
    prefixes = [[rng.choice(pool) for _ in range(rng.randrange(0, 4))] for _ in range(4)]
    distinct = []
    for _ in range(rng.randrange(1, 40)):
        frames = rng.choice(prefixes) + [rng.choice(pool) for _ in range(rng.randrange(0 if rng.random() < 0.05
                                                                                          else 1, 7))]
        distinct.append(([f.key for f in frames], frames))
    chains = []
    for _ in range(rng.randrange(1, 200)):
        keys, frames = rng.choice(distinct)
        chains.append((keys, frames, rng.randrange(1, 1 << rng.choice((10, 40, 56))), rng.choice((1, 1, 1, 3))))
    return chains


@pytest.mark.skipif(rbreplay._c_replay() is None, reason="no C rb_replay")
def test_c_replay_equals_python(monkeypatch):
    monkeypatch.setattr(rbreplay, "_CMP", compare_frames)
    rng = random.Random(2026)
    dups = 0
    for _trial in range(600):
        chains = _chains(rng)
        py = rbreplay.py_replay(chains)
        c = rbreplay.replay(chains)
        assert _shape(c.node) == _shape(py.node)
        assert c.max_depth == py.max_depth
        stack = [py.node]
        while stack:
            node = stack.pop()
            kids = node.ordered_children()
            firsts = {ch.val[0].key for ch in kids}
            dups += len(firsts) != len(kids)
            stack.extend(kids)
    assert dups > 20  # (the random trees do make perf's duplicate siblings)


def test_c_replay_rejects_bad_chains():
    c_replay = rbreplay._c_replay()
    if c_replay is None:
        pytest.skip("no C rb_replay")
    with pytest.raises(TypeError):
        c_replay([([], [], 1)])
    with pytest.raises(ValueError):
        c_replay([(["k"], [], 1, 1)][:0] + [(["k", "j"], [object()], 1, 1)])


@pytest.mark.skipif(rbreplay._c_replay() is None, reason="no C rb_replay")
def test_sums_above_64_bits_fall_back_to_python(monkeypatch):
    monkeypatch.setattr(rbreplay, "_CMP", compare_frames)
    rng = random.Random(5)
    big = [(keys, frames, period << 20, count) for keys, frames, period, count in _chains(rng)]
    big += big
    with pytest.raises(OverflowError):
        rbreplay._c_replay()(big)
    assert _shape(rbreplay.replay(big).node) == _shape(rbreplay.py_replay(big).node)


@pytest.mark.skipif(rbreplay._c_replay("rb_replay_groups") is None, reason="no C rb_replay_groups")
def test_c_replay_groups_equals_python(monkeypatch):
    """report.hist._replay_trees's sample loop: entries' fixed chains first, then each sample's group's chains
    (one list object per group and entry, as hist passes them), in a random sample order."""
    monkeypatch.setattr(rbreplay, "_CMP", compare_frames)
    rng = random.Random(16)
    for trial in range(300):
        nent = rng.randrange(1, 5)
        pool = _frames(rng)
        fixed = [_chains(rng, pool)[:rng.randrange(0, 20)] for _ in range(nent)]
        per_group = []
        for _g in range(rng.randrange(1, 30)):
            these = []
            # (from trial 150 on, an entry may come back in a group's list: C finds each tuple again from its
            # sample's number, the next one of its entry there)
            for e in (rng.sample(range(nent), rng.randrange(0, nent + 1)) if trial < 150 else
                      rng.choices(range(nent), k=rng.randrange(0, 2 * nent + 2))):
                keys, frames = rng.choice(_chains(rng, pool))[:2]
                these.append((e, keys, frames))
            per_group.append(these)
        nsamples = rng.randrange(0, 300)
        groups = [rng.randrange(len(per_group)) for _ in range(nsamples)]
        periods = [rng.randrange(1, 1 << 30) for _ in range(nsamples)]
        c = rbreplay.replay_groups(fixed, per_group, groups, periods)
        py = rbreplay.py_replay_groups(fixed, per_group, groups, periods)
        assert [_shape(t.node) for t in c] == [_shape(t.node) for t in py]
        assert [t.max_depth for t in c] == [t.max_depth for t in py]
    # an entry whose sums pass 64 bits: replayed in Python, the others in C
    fixed = [[], []]
    keys, frames = _chains(random.Random(3))[0][:2]
    per_group = [[(0, keys, frames)], [(1, keys, frames)]]
    groups, periods = [0, 0, 1], [1 << 63, 1 << 63, 5]
    c = rbreplay.replay_groups(fixed, per_group, groups, periods)
    py = rbreplay.py_replay_groups(fixed, per_group, groups, periods)
    assert [_shape(t.node) for t in c] == [_shape(t.node) for t in py]
    assert c[0].node.children_hit == 1 << 64
