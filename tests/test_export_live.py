"""The exports of a file `pyperf record` wrote, against the same workload recorded by real `perf record`: the
same folded stacks, the same flame graph (pids aside), and pprof and JSON conversions that consumers read.
report_mt reaches its probe a fixed number of times through each path, so both recordings hold the same
stacks (live: root and uprobes; a uprobe of our own group, removed on every path)."""
from __future__ import annotations

import json
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import record_helpers as rh  # noqa: E402

pytestmark = [pytest.mark.uprobes,
              pytest.mark.skipif(not rh.HAVE_UPROBES, reason="needs root and uprobe events")]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """(pyperf's file, perf's file) of report_mt with a uprobe on rpt_leaf, -g."""
    tmp = tmp_path_factory.mktemp("export_live")
    binary = rh.workload("report_mt")
    with rh.uprobe(binary, "rpt_leaf", f"export_{os.getpid()}") as event:
        ours, theirs = tmp / "pyperf.data", tmp / "perf.data"
        proc = rh.pyperf("record", "-q", "-e", event, "-g", "-o", str(ours), "--", binary, cwd=tmp)
        assert proc.returncode == 0, proc.stderr
        proc = rh.perf("record", "-q", "-e", event, "-g", "-o", str(theirs), "--", binary, cwd=tmp)
        assert proc.returncode == 0, proc.stderr
    return ours, theirs


def test_same_stacks_from_both_recorders(recordings):
    folded = []
    for path in recordings:
        proc = rh.pyperf("script", "report", "stackcollapse", "-i", str(path))
        assert proc.returncode == 0, proc.stderr
        folded.append(proc.stdout)
    assert folded[0] == folded[1]
    assert sum(int(line.rsplit(" ", 1)[1]) for line in folded[0].splitlines()) == 265   # workloads/report_mt.c
    graphs = []
    for path in recordings:
        proc = rh.pyperf("script", "report", "flamegraph", "-i", str(path), "-f", "json", "-o", "-")
        assert proc.returncode == 0, proc.stderr
        graphs.append(_canonical(json.loads(re.sub(r" \(\d+\)\"", " (PID)\"", proc.stdout))))
    assert graphs[0] == graphs[1]
    assert graphs[0]["c"]


def _canonical(node: dict) -> dict:
    """A flame graph node with its children sorted: siblings come in the order their first sample came, and
    the threads of two runs of report_mt take turns differently."""
    return dict(node, c=sorted((_canonical(child) for child in node["c"]), key=lambda n: json.dumps(n)))


def test_conversions_of_a_pyperf_recording(recordings, tmp_path):
    ours = recordings[0]
    out = tmp_path / "out.json"
    proc = rh.pyperf("data", "convert", "-i", str(ours), "--to-json", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert len(doc["samples"]) == 265
    assert {s["callchain"][0].get("symbol") for s in doc["samples"]} == {"rpt_leaf"}
    db = tmp_path / "out.db"
    proc = rh.pyperf("script", "report", "export-to-sqlite", str(db), "all", "callchains", "-i", str(ours))
    assert proc.returncode == 0, proc.stderr
    import sqlite3
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from samples_view where symbol = 'rpt_leaf'").fetchone() == (265,)
    pb = tmp_path / "out.pb.gz"
    proc = rh.pyperf("data", "convert", "-i", str(ours), "--to-pprof", str(pb))
    assert proc.returncode == 0, proc.stderr
    assert "(265 samples," in proc.stderr
