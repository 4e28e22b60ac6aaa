"""`pyperf report` against real perf 6.1 where the trace key follows other keys (``--sort sym,trace``) with
perf's default --children, on a malloc uprobe recording with chains (tests/golden/tracepoints/malloc/, made by
make_goldens.sh there with real perf; kept only if perf splits an entry). A probe event's trace output is
malloc's address in the process, so the entries are (symbol, process); the chains' unresolved words of
several dsos among libc's symbols make ``sort__sym_cmp`` no total order, and perf's entries_in search makes
a second entry of some identities (report.findnew's replay, taken by report.hist's look-ups). The Trace
output column is as wide as the outputs perf's comparisons computed, the cumulative look-ups' he_cache
comparisons among them (report.order.cache_marks)."""
from __future__ import annotations

import lzma
import os

import pytest

import symfs_golden  # tests/symfs_golden.py

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "tracepoints", "malloc")
RECORDED_AT = "/tmp/pyperf-golden-tpmalloc"  # make_goldens.sh's WORK, removed when it ends


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """The recording, unpacked (symfs_golden.unpack: links to the system's programs, checked by build-id)."""
    return symfs_golden.unpack(tmp_path_factory.mktemp("tpmalloc"), GOLDEN, "make", RECORDED_AT)


def _expected(name: str) -> str:
    with lzma.open(os.path.join(GOLDEN, "expected", f"{name}.out.xz"), "rt") as f:
        return f.read()


@pytest.mark.parametrize("name,args", symfs_golden.cases(GOLDEN))
def test_report_equals_perf(name, args, golden, monkeypatch, capsys, speedups_or_not):
    assert symfs_golden.report(golden, args, monkeypatch, capsys, name="make") == _expected(name)


def test_perf_splits_an_entry():
    """The recording exercises the split: perf prints two entries of one symbol and trace output."""
    lines = [line.split(None, 2)[2] for line in _expected("sym_trace_g_none").splitlines()
             if "%" in line and not line.startswith("#")]
    assert len(set(lines)) < len(lines)
