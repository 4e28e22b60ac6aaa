"""DWARF unwinding against real perf, live: record the no-frame-pointer workloads now with real
`perf record --call-graph dwarf` on a uprobe (group unique to this test, removed on every path), then
compare pyperf's chains with real `perf script`'s, as tests/test_unwind_golden.py does on the committed
files. This catches a machine whose libc or compiler differs from the goldens' one."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unwind_compare import is_root_frame, perf_chains, pyperf_chains  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = "/usr/bin/perf"
GROUP = f"pyperf_t_unwind{os.getpid()}"

pytestmark = [
    pytest.mark.uprobes, pytest.mark.perf,
    pytest.mark.skipif(not os.path.exists(PERF), reason="needs /usr/bin/perf"),
    pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"),
                       reason="needs root and uprobe events"),
]


def perf(*args, **kw):
    return subprocess.run([PERF, *args], capture_output=True, text=True, **kw)


@pytest.mark.parametrize("program,function", [("uw_threads", "uw_leaf"), ("uw_cxx", "uw_cxx_leaf")])
def test_live_recording_unwinds_like_perf(tmp_path, monkeypatch, program, function):
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "workloads")], check=True)
    binary = tmp_path / program
    shutil.copy(os.path.join(ROOT, "build", "workloads", program), binary)
    data = tmp_path / "perf.data"
    added = perf("probe", "-q", "-x", str(binary), "-a", f"{GROUP}:{function}={function}")
    try:
        assert added.returncode == 0, added.stderr
        rec = perf("record", "-N", "-q", "-m", "1024", "-e", f"{GROUP}:{function}", "--call-graph", "dwarf",
                   "-o", str(data), "--", str(binary), cwd=tmp_path)
        assert rec.returncode == 0, rec.stderr
    finally:
        perf("probe", "-q", "-d", f"{GROUP}:*")
    assert GROUP not in open("/sys/kernel/tracing/uprobe_events").read()
    expected = tmp_path / "perf.noinline"
    expected.write_text(perf("script", "-i", str(data), "--no-inline", "-F", "comm,pid,tid,ip,sym,dso").stdout)
    theirs = perf_chains(str(expected))
    ours = pyperf_chains(str(data))
    assert len(ours) == len(theirs) > 30
    rooted = 0
    for (_, perf_frames), (_, our_frames, our_root) in zip(theirs, ours):
        assert our_root, our_frames
        if perf_frames and is_root_frame(*perf_frames[-1]):
            rooted += 1
            assert our_frames == perf_frames
    assert rooted > 0.9 * len(ours)  # perf unwinds these programs: a mismatch would show here
