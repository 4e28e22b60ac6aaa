"""Kernel frames live (root, tracepoints, real perf): `pyperf record -g` of a tracepoint keeps the kernel's
kallsyms in the build-id cache as perf record does, and the file reports the same with real perf, with
pyperf on this kernel, and with pyperf told the running kernel is another one (the cached copy is used);
real perf's own recording of cpu-clock -g reports and scripts the same with pyperf on this machine."""
import os
import re
import subprocess
import sys

import pytest

PERF = "/usr/bin/perf"
pytestmark = [pytest.mark.perf, pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")]


def _no_tip(text: str) -> str:
    return re.sub(r"^# \((Tip: .*|Cannot load tips\.txt file, please install perf!)\)$", "# (TIP)", text, flags=re.M)


def _run(argv, home, **env):
    full = dict(os.environ, HOME=str(home), **env)
    full.pop("PERF_BUILDID_DIR", None)
    return subprocess.run(argv, capture_output=True, text=True, env=full)


def _pyperf(*args, home, **env):
    return _run([sys.executable, "-m", "pyperf_probe", *args], home, **env)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    if os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/events/sched/sched_process_exec"):
        pytest.skip("needs root and the sched tracepoints")
    if not open("/proc/kallsyms").readline().split()[0].strip("0"):
        pytest.skip("kallsyms addresses hidden")
    return tmp_path_factory.mktemp("kernel_live")


def test_pyperf_record_caches_kallsyms_and_reports_from_the_copy(live):
    home = live / "home"
    home.mkdir()
    data = str(live / "exec.data")
    rec = _pyperf("record", "-q", "-e", "sched:sched_process_exec", "-g", "-o", data, "--", "sh", "-c", "true",
                  home=home)
    assert rec.returncode == 0, rec.stderr
    cached = [os.path.join(root, "kallsyms") for root, _dirs, files in os.walk(home / ".debug" / "[kernel.kallsyms]")
              if "kallsyms" in files]
    assert len(cached) == 1
    args = ["report", "-i", data, "--stdio", "--no-children", "--sort", "comm,dso,sym"]
    theirs = _run([PERF, *args], home)
    ours = _pyperf(*args, home=home)
    assert theirs.returncode == ours.returncode == 0
    assert _no_tip(ours.stdout) == _no_tip(theirs.stdout)
    assert "[k] __traceiter_sched_process_exec" in ours.stdout
    # the same report on "another kernel": the copy in the build-id cache answers
    host = live / "host"
    (host / "sys" / "kernel").mkdir(parents=True)
    (host / "sys" / "kernel" / "notes").write_bytes(b"\x04\0\0\0\x14\0\0\0\x03\0\0\0GNU\0" + b"\x44" * 20)
    moved = _pyperf(*args, home=home, PYPERF_HOST_ROOT=str(host))
    assert (moved.returncode, _no_tip(moved.stdout), moved.stderr) == (0, _no_tip(ours.stdout), ours.stderr)


@pytest.mark.parametrize("args", [["report", "--stdio"], ["report", "--stdio", "--no-children", "--sort", "dso,sym"],
                                  ["report", "--stdio", "-g", "caller", "--sort", "sym"], ["script"],
                                  ["script", "-F", "comm,tid,time,period,ip,sym,symoff,dso"]])
def test_perf_cpu_clock_recording(live, args):
    data = live / "cc.data"
    home = live / "cc-home"
    if not data.exists():
        home.mkdir()
        rec = _run([PERF, "record", "-q", "-e", "cpu-clock", "-g", "-o", str(data), "--", "sh", "-c",
                    "for i in 1 2 3 4 5 6 7 8; do ls -R /usr/lib/python3 >/dev/null; done"], home)
        assert rec.returncode == 0, rec.stderr
    theirs = _run([PERF, *args[:1], "-i", str(data), *args[1:]], home)
    ours = _pyperf(*args[:1], "-i", str(data), *args[1:], home=home)
    assert ours.returncode == theirs.returncode
    assert _no_tip(ours.stdout) == _no_tip(theirs.stdout)
