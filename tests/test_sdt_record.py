"""The seed's workflow with the real sdt_tick group: buildid-cache --add, then record/stat name sdt_tick:loopN.
The sdt_ group comes from the provider ("tick"), not from the file name, so these tests hold a lock that every
run of them takes, and they refuse to run if someone else's sdt_tick events exist."""
import contextlib
import os
import shutil
import subprocess
import sys

import pytest

from pyperf_probe.kernel import tracefs
from tick_helpers import TICK, sdt_tick_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = "/usr/bin/perf"

pytestmark = [
    pytest.mark.uprobes,
    pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"),
                       reason="needs root and tracefs with uprobe events"),
    pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick"),
]


def sdt_tick_lines():
    return [line for line in tracefs.read_uprobe_events() if line.startswith("p:sdt_tick/")]


@pytest.fixture
def seed(tmp_path):
    """(tick copy, env with a scratch HOME where it is cached), under the sdt_tick lock; afterwards no
    sdt_tick uprobe of this binary may remain, and any found is removed."""
    with sdt_tick_lock():
        if sdt_tick_lines():
            pytest.skip(f"sdt_tick events exist already: {sdt_tick_lines()}")
        binary = str(tmp_path / "tick")
        shutil.copy(TICK, binary)
        env = dict(os.environ, HOME=str(tmp_path / "home"), PYTHONPATH=ROOT)
        run(env, "buildid-cache", "--add", binary)
        try:
            yield binary, env
        finally:
            left = [line.split()[0][2:] for line in sdt_tick_lines() if binary in line]
            with contextlib.suppress(Exception):
                tracefs.write_uprobe_events([f"-:{name}" for name in dict.fromkeys(left)])
            assert not left, f"left behind: {left}"


def run(env, *args, check=True, **kw):
    if "stdout" not in kw and "stderr" not in kw:
        kw["capture_output"] = True
    proc = subprocess.run([sys.executable, "-m", "pyperf_probe", *args], env=env, text=True, **kw)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_record_adds_the_cached_marker_for_the_run(seed, tmp_path):
    binary, env = seed
    data = str(tmp_path / "sdt.data")
    run(env, "record", "-q", "-o", data, "-e", "sdt_tick:loop2,sdt_tick:loop3", "--", binary, "7",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert sdt_tick_lines() == []
    if os.path.exists(PERF):
        script = subprocess.run([PERF, "script", "-i", data, "-F", "event,trace"], capture_output=True,
                                text=True, check=True).stdout.split("\n")
        loop3 = [line.split() for line in script if "loop3" in line]
        assert len([line for line in script if "sdt_tick:loop2:" in line]) == 7
        # tick:loop3's arguments: i and sum(k*k for k <= i)
        assert [(w[-2], w[-1]) for w in loop3] == [(f"arg1={i}", f"arg2={sum(k * k for k in range(i + 1))}")
                                                   for i in range(7)]


def test_stat_adds_and_removes_the_cached_markers(seed):
    binary, env = seed
    proc = run(env, "stat", "-x", ",", "-e", "sdt_tick:loop1,sdt_tick:loop2", "--", binary, "33",
               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert [line.split(",")[:3] for line in proc.stderr.splitlines()] == [
        ["33", "", "sdt_tick:loop1"], ["33", "", "sdt_tick:loop2"]]
    assert sdt_tick_lines() == []


def test_a_marker_not_cached_gets_perfs_hint(seed):
    binary, env = seed
    proc = run(env, "stat", "-e", "sdt_tick:nosuch", "--", binary, "1", check=False)
    assert proc.returncode == 129
    assert "SDT event cannot be directly recorded on.\n\tPlease first use 'pyperf probe sdt_tick:nosuch'" \
        in proc.stderr
