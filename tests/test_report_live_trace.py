"""pyperf report --sort trace,... against real perf report, live: a compiler's mallocs (uprobe of group
pyperf_t_rtrace on libc's malloc, removed on every path; cc1 has no frame pointers, so its chains hold garbage
addresses, unresolved ones 2^63 apart among them). With trace the first key, perf's entries_in search
(sort__trace_cmp, then sort__sym_cmp's (int64_t) address difference) misses an entry of one identity and
makes a second one (report.findnew's replay, which trace as the first key now takes)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = "/usr/bin/perf"
GROUP = "pyperf_t_rtrace"
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
OPTION_SETS = [
    "--stdio --sort trace,sym -g none",
    "--stdio --sort trace,sym -g fractal,25",
    "--stdio --sort trace,sym --no-children -g caller",
    "--stdio --sort trace,comm,sym -g folded",
]

pytestmark = [pytest.mark.perf, pytest.mark.uprobes,
              pytest.mark.skipif(not os.path.exists(PERF) or not shutil.which("gcc") or not os.path.exists(LIBC),
                                 reason="needs real perf, gcc and libc at " + LIBC)]


def _perf(*args, **kw):
    return subprocess.run([PERF, *args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    if os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"):
        pytest.skip("needs root and tracefs uprobe_events")
    work = tmp_path_factory.mktemp("report_live_trace")
    shutil.copy(os.path.join(ROOT, "workloads", "uw_make_src", "unit1.c"), work / "unit1.c")
    path = str(work / "cc.data")
    try:
        added = _perf("probe", "-q", "-x", LIBC, "-a", f"{GROUP}:malloc=malloc")
        assert added.returncode == 0, added.stderr
        rec = _perf("record", "-N", "-q", "-o", path, "-e", f"{GROUP}:malloc", "-g", "--",
                    "gcc", "-O2", "-c", "unit1.c", "-o", "unit1.o", cwd=work)
        assert rec.returncode == 0, rec.stderr
    finally:
        _perf("probe", "-q", "-d", f"{GROUP}:*")
    assert GROUP not in open("/sys/kernel/tracing/uprobe_events").read()
    home = work / "home"
    home.mkdir()
    return path, str(home)


def _normalize(text):
    text = re.sub(r"^# \((Tip: .*|Cannot load tips\.txt.*)\)$", "#", text, flags=re.M)
    return text.replace("[...] (inlined)", "[...]")  # (perf's uninitialized flag: callgraph_text.py)


def test_perf_splits_an_identity(recording):
    """The recording exercises the replay: perf prints two entries of one (trace, sym) identity."""
    path, home = recording
    out = _perf("report", "-i", path, "--stdio", "--sort", "trace,sym", "-g", "none",
                env=dict(os.environ, HOME=home)).stdout
    lines = [line.split(None, 2)[2] for line in out.splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) > len(set(lines))


@pytest.mark.parametrize("args", OPTION_SETS)
def test_live_trace_report_equals_perf(recording, args):
    path, home = recording
    env = dict(os.environ, HOME=home, TZ="UTC")
    cmd = ["-i", path] + args.split()
    want = _perf("report", *cmd, env=env)
    got = subprocess.run([sys.executable, "-m", "pyperf_probe", "report", *cmd],
                         capture_output=True, text=True, env=env)
    assert got.returncode == want.returncode
    assert _normalize(got.stdout) == _normalize(want.stdout)
