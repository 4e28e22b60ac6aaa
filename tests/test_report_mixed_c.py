"""perfdata/_speedups_report.c mixed_nodes against its twin callchain.rbreplay.mixed_nodes: on random trees
whose children mix inlined, plain and unresolved frames of a few dsos, the same node ids (and with MIX_ALL)."""
import random

import pytest

from conftest import need_speedups
from pyperf_probe.callchain import rbreplay
from pyperf_probe.callchain.tree import CallchainRoot
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.report.frames import RFrame


def _frame(rng):
    kind = rng.randrange(3)
    rank = (0, rng.randrange(3))
    name = "f%d" % rng.randrange(6) if kind else None
    return RFrame(name=name, inlined=kind == 2, dso_name="d%d" % rank[1], dso_rank=rank,
                  sym_start=16 * rng.randrange(6), avma=16 * rng.randrange(6) + 3, rip=0)


def _tree(rng):
    root = CallchainRoot()
    pool = [_frame(rng) for _ in range(rng.randrange(1, 14))]
    for _ in range(rng.randrange(0, 30)):
        frames = [rng.choice(pool) for _ in range(rng.randrange(1, 6))]
        root.append([f.key for f in frames], frames, 1, 1)
    return root


@pytest.mark.parametrize("mix_all", [False, True])
def test_c_mixed_nodes_equal_pythons(mix_all, monkeypatch):
    need_speedups()
    monkeypatch.setattr(rbreplay, "MIX_ALL", mix_all)
    rng = random.Random(16)
    found = 0
    for _ in range(400):
        root = _tree(rng)
        want = rbreplay.mixed_nodes(root)
        assert speedups.mixed_nodes(root.node, mix_all) == want
        found += bool(want)
    assert found > 50


def test_c_mixed_nodes_rejects_bad_trees():
    need_speedups()
    root = CallchainRoot()
    root.node.children = {"not a tuple": root.node, ("s", (0, 1), 3): root.node}
    with pytest.raises(TypeError):
        speedups.mixed_nodes(root.node, False)
