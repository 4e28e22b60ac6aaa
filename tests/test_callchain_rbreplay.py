"""callchain.rbreplay: perf's children rb-trees replayed (tools/perf/util/callchain.c append_chain_children,
split_add_child). Where match_chain is a total order (one class of frames among siblings) the replay builds
the tree callchain.tree builds by key; an inlined frame matches a plain one of its name (match_chain_strings);
and where inlined and plain siblings mix, perf's search can miss an equal child and add a second one.
perf's own text for such a file: test_report_golden's dwarf_* cases (tests/golden/report/dwarf.data)."""
from __future__ import annotations

import random

import pytest

from pyperf_probe.callchain import rbreplay
from pyperf_probe.callchain.tree import CallchainRoot, compare_frames
from pyperf_probe.report.frames import RFrame


def frame(name, start, inlined=False, dso=1):
    return RFrame(name=name, inlined=inlined, dso_name="d%d" % dso, dso_rank=dso, sym_start=start, avma=start + 3,
                  rip=start + 3)


def shape(node):
    """(frames, hit, children_hit, count, children_count, children in print order)."""
    return (tuple(f.chain_text for f in node.val), node.hit, node.children_hit, node.count, node.children_count,
            tuple(shape(c) for c in node.ordered_children()))


@pytest.fixture(params=["c", "python"])
def cmp(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setattr(rbreplay, "_CMP", compare_frames)
        monkeypatch.setattr(rbreplay, "_C_REPLAY", None)
    elif rbreplay._CMP is compare_frames or rbreplay._C_REPLAY is None:
        pytest.skip("no C frame_cmp / rb_replay")


def test_one_class_replay_is_the_tree_by_key(cmp):
    rng = random.Random(7)
    plain = [frame("f%d" % i, 0x1000 + 0x40 * i) for i in range(12)]
    for _trial in range(60):
        chains = []
        for _ in range(rng.randrange(1, 60)):
            n = rng.randrange(1, 8)
            frames = [rng.choice(plain[:rng.randrange(2, 12)]) for _ in range(n)]
            chains.append(([f.key for f in frames], frames, rng.randrange(1, 1000), 1))
        by_key = CallchainRoot()
        for keys, frames, period, _ in chains:
            by_key.py_append(keys, frames, period, 1)
        replayed = rbreplay.replay(chains)
        assert shape(replayed.node) == shape(by_key.node)
        assert replayed.max_depth == by_key.max_depth
        assert not rbreplay.needs_replay(by_key)


def test_inlined_frame_matches_plain_frame_of_its_name(cmp):
    """match_chain_strings: ``foo (inlined)`` and plain ``foo`` are one run in perf (two siblings by key)."""
    foo, foo_inl, bar = frame("foo", 0x100), frame("foo", 0x300, inlined=True), frame("bar", 0x200)
    chains = [([f.key for f in c], c, p, 1) for c, p in (([foo, bar], 10), ([foo_inl, bar], 5))]
    by_key = CallchainRoot()
    for keys, frames, period, _ in chains:
        by_key.py_append(keys, frames, period, 1)
    assert rbreplay.needs_replay(by_key)
    top = rbreplay.replay(chains).node
    assert shape(top) == ((), 0, 15, 0, 2, ((("foo", "bar"), 15, 0, 2, 0, ()),))


def test_mixed_siblings_search_can_miss_an_equal_child(cmp):
    """A plain frame's search compares by start with plain siblings but by name with inlined ones: after
    these insertions (and lib/rbtree.c's rebalancing) the second ``b`` (start 0x600) turns at ``c2
    (inlined)`` by name ("b" < "c2") away from the first ``b``: perf makes a second ``b`` beside it."""
    starts = {"b": 0x600, "c": 0x800, "d": 0x300, "e": 0x200, "f": 0x700, "g": 0x500, "h": 0x400}
    fs = {n: frame(n, s) for n, s in starts.items()}
    fs["M"], fs["K"] = frame("m", 0x999, inlined=True), frame("c2", 0x998, inlined=True)
    order = ["K", "f", "b", "M", "d", "g", "h", "e", "c", "b"]
    top = rbreplay.replay([([fs[x].key], [fs[x]], 1, 1) for x in order]).node
    names = [c.val[0].chain_text for c in top.ordered_children()]
    assert names == ["m (inlined)", "c", "f", "b", "g", "h", "d", "e", "c2 (inlined)", "b"]
    assert [c.count for c in top.ordered_children()] == [1] * 10
    by_key = CallchainRoot()
    for x in order:
        by_key.py_append([fs[x].key], [fs[x]], 1, 1)
    assert len(by_key.node.children) == 9 and rbreplay.needs_replay(by_key)


def test_hists_replay_only_where_mixed(monkeypatch):
    """report.hist keeps its trees by key unless a node mixes classes (needs_replay false for them)."""
    root = CallchainRoot()
    fs = [frame("f%d" % i, 0x40 * i) for i in range(4)]
    root.py_append([f.key for f in fs], fs, 1, 1)
    root.py_append([f.key for f in fs[1:]], fs[1:], 1, 1)
    assert not rbreplay.needs_replay(root)
    inl = frame("g", 0x999, inlined=True)
    root.py_append([inl.key], [inl], 1, 1)
    assert rbreplay.needs_replay(root)
