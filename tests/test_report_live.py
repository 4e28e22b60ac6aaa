"""pyperf report against real perf report, live: fresh recordings by real perf (uprobes of group
pyperf_t_report, removed on every path), read with the system's own files (no --symfs: binaries at their
paths, libc's symbols from /usr/lib/debug, HOME without a build-id cache), several option sets each."""
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = "/usr/bin/perf"
GROUP = "pyperf_t_report"
WORKLOADS = os.path.join(ROOT, "build", "workloads")
OPTION_SETS = [
    "--stdio",
    "--stdio --no-children --sort comm,dso,sym",
    "--stdio --sort comm,dso,sym -g flat",
    "--stdio --sort dso,sym -g fractal,2,callee --no-children",
    "--stdio --sort sym -G -n",
    "--stdio --sort pid,sym -g folded --percent-limit 3",
    "--stdio --header --no-children -g none",
]

pytestmark = [pytest.mark.perf, pytest.mark.uprobes,
              pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")]


def _perf(*args, **kw):
    return subprocess.run([PERF, *args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    if os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"):
        pytest.skip("needs root and tracefs uprobe_events")
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "workloads")], check=True)
    work = tmp_path_factory.mktemp("report_live")
    binaries = {}
    for name in ("report_mt", "report_cxx"):
        binaries[name] = str(work / name)
        shutil.copy(os.path.join(WORKLOADS, name), binaries[name])
    probes = [(binaries["report_mt"], "rpt_leaf"), (binaries["report_cxx"], "rpt_cxx_leaf")]
    files = {}
    try:
        for binary, func in probes:
            added = _perf("probe", "-q", "-x", binary, "-a", f"{GROUP}:{func}={func}")
            assert added.returncode == 0, added.stderr
        for name, func, argv in (("mt", "rpt_leaf", [binaries["report_mt"], "3"]),
                                 ("cxx", "rpt_cxx_leaf", [binaries["report_cxx"]])):
            path = str(work / f"{name}.data")
            rec = _perf("record", "-N", "-q", "-o", path, "-e", f"{GROUP}:{func}", "-g", "--", *argv)
            assert rec.returncode == 0, rec.stderr
            files[name] = path
    finally:
        _perf("probe", "-q", "-d", f"{GROUP}:*")
    assert GROUP not in open("/sys/kernel/tracing/uprobe_events").read()
    home = work / "home"
    home.mkdir()
    return files, str(home)


def _normalize(text):
    return re.sub(r"^# \((Tip: .*|Cannot load tips\.txt.*)\)$", "#", text, flags=re.M)


@pytest.mark.parametrize("data", ["mt", "cxx"])
@pytest.mark.parametrize("args", OPTION_SETS)
def test_live_report_equals_perf(recordings, data, args):
    files, home = recordings
    env = dict(os.environ, HOME=home, TZ="UTC")
    cmd = ["-i", files[data]] + args.split()
    want = _perf("report", *cmd, env=env)
    got = subprocess.run([sys.executable, "-m", "pyperf_probe", "report", *cmd],
                         capture_output=True, text=True, env=env)
    assert got.returncode == want.returncode
    assert _normalize(got.stdout) == _normalize(want.stdout)
