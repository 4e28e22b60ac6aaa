"""`pyperf report` against real perf 6.1 on a DWARF recording whose call-graph trees have siblings that perf's
children search compares by name (inlined frames) and by symbol start (plain ones), so that perf adds a
second node of a frame it missed (tools/perf/util/callchain.c append_chain_children; pyperf:
callchain/rbreplay.py). tests/golden/rbreplay/, made by make_goldens.sh there with real perf; the recording
was kept only if perf's folded output has a path twice."""
from __future__ import annotations

import os

import pytest

import symfs_golden  # tests/symfs_golden.py

from pyperf_probe.callchain import rbreplay

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "rbreplay")
RECORDED_AT = "/tmp/pyperf-golden-rbreplay"  # make_goldens.sh's WORK, removed when it ends


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """The recording, unpacked (symfs_golden.unpack)."""
    return symfs_golden.unpack(tmp_path_factory.mktemp("rbreplay"), GOLDEN, "spin", RECORDED_AT)


@pytest.mark.parametrize("mix_all", [False, True], ids=["mixed", "mix_all"])
@pytest.mark.parametrize("name,args", symfs_golden.cases(GOLDEN))
def test_report_equals_perf(name, args, mix_all, golden, monkeypatch, capsys, utc, speedups_or_not):
    """(mix_all: every node whose children are of several classes replayed, not only those rbreplay._mixed
    finds not totally ordered: the same text)"""
    monkeypatch.setattr(rbreplay, "MIX_ALL", mix_all)
    with open(os.path.join(GOLDEN, "expected", f"{name}.out")) as f:
        expected = f.read()
    assert symfs_golden.report(golden, args, monkeypatch, capsys) == expected


def test_trees_by_key_differ_from_perf(golden, monkeypatch, capsys, utc):
    """The recording exercises the replay: without it (every tree by key) perf's text is not reached."""
    monkeypatch.setattr(rbreplay, "ENABLED", False)
    with open(os.path.join(GOLDEN, "expected", "comm_folded0_nochildren.out")) as f:
        expected = f.read()
    assert symfs_golden.report(golden, "--stdio --sort comm --no-children -g folded,0", monkeypatch, capsys) != expected
