"""A differential run: random `perf report` option combinations (fixed seeds) on the golden recordings,
real perf against pyperf, stdout and exit status equal (tip line masked). Cases it once caught are kept in
tests/golden/report/cases.py (found_by_random_runs)."""
import os
import random
import re
import subprocess
import shutil

import pytest

from pyperf_probe import cli

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "report")
PERF = "/usr/bin/perf"
MTIME = 1767225600
DATA = ["mt.data", "cxx.data", "ret.data", "two.data", "make.data", "py.data", "nocg.data", "lost.data"]
SORTS = ["comm", "dso", "sym", "pid", "trace", "comm,dso", "dso,sym", "sym,dso", "pid,comm", "trace,sym",
         "comm,dso,sym", "sym,pid,dso"]
MODES = ["graph", "flat", "fractal", "folded", "none"]
COMMS = ["rpt-alpha", "rpt-beta,rpt-gamma", "cc1", "make,sh", "python3", "report_cxx"]
DSOS = ["libc.so.6", "report_mt", "libc.so.6,report_mt", "[unknown]"]
SYMBOLS = ["rpt_leaf", "__libc_calloc", "rpt_leaf,worker", "getpid", "rpt_cxx_leaf"]

pytestmark = [pytest.mark.perf, pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")]


def _callgraph(rng):
    parts = [rng.choice(MODES)]
    if rng.random() < 0.5:
        parts.append(str(rng.choice([0, 0.5, 1, 3, 10, 25])))
        if rng.random() < 0.4:
            parts.append(str(rng.choice([1, 2, 3])))
    if rng.random() < 0.5:
        parts.append(rng.choice(["caller", "callee"]))
    if rng.random() < 0.2:
        parts += ["function", rng.choice(["percent", "period", "count"])]
    return ",".join(parts)


def _combination(seed):
    rng = random.Random(seed)
    args = ["--stdio", "--sort", rng.choice(SORTS)]
    if rng.random() < 0.7:
        args += ["-g", _callgraph(rng)]
    if rng.random() < 0.4:
        args.append(rng.choice(["--children", "--no-children"]))
    if rng.random() < 0.2:
        args.append("-G")
    if rng.random() < 0.2:
        args.append("-n")
    if rng.random() < 0.2:
        args += ["--percent-limit", str(rng.choice([0.5, 2, 7]))]
    if rng.random() < 0.25:
        args += ["--comm", rng.choice(COMMS)]
    if rng.random() < 0.2:
        args += ["--dso", rng.choice(DSOS)]
    if rng.random() < 0.2:
        args += ["--symbols", rng.choice(SYMBOLS)]
    if rng.random() < 0.1:
        args.append("-q")
    if rng.random() < 0.1:
        args.append("--header")
    if rng.random() < 0.1:
        args.append("--no-inline")
    return rng.choice(DATA), args


@pytest.fixture(scope="module")
def env(tmp_path_factory, report_symfs):
    root = tmp_path_factory.mktemp("report_random")
    (root / "symfs").symlink_to(report_symfs)
    (root / "home").mkdir()
    return root



def _mask(text):
    return re.sub(r"^# \((Tip: .*|Cannot load tips\.txt.*)\)$", "#", text, flags=re.M).replace(
        "[...] (inlined)", "[...]")


@pytest.mark.parametrize("seed", range(80))
def test_random_combination_equals_perf(seed, env, monkeypatch, capsys, utc):
    data, args = _combination(seed)
    path = str(env / data)
    if not os.path.exists(path):  # --header prints the file's mtime: the copy keeps the golden one
        shutil.copy(os.path.join(GOLDEN, "data", data), path)
        os.utime(path, (MTIME, MTIME))
    cmd = ["-i", path, "--symfs", str(env / "symfs")] + args
    monkeypatch.setenv("HOME", str(env / "home"))
    want = subprocess.run([PERF, "report"] + cmd, capture_output=True, text=True, env=dict(os.environ))
    rc = cli.main(["report"] + cmd)
    got = capsys.readouterr().out
    assert rc == want.returncode, args
    assert _mask(got) == _mask(want.stdout), (data, args)
