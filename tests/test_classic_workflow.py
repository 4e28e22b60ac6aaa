"""perf probe's classic workflow with pyperf in perf's place (issue 12, "Done when"), live against real perf:

    pyperf probe -x libc.so.6 inet_pton
    pyperf record -e probe_libc:inet_pton/max-stack=3/ ping -6 -c 1 ::1
    pyperf script

The probe goes under a group and name of the test's own (GROUP:t_inet_pton=inet_pton: probe_libc:inet_pton is the
demo's and the users', and perf probe refuses a name that another group has), removed on every path. ping runs twice without address randomisation (setarch -R), once under pyperf
record and once under perf record; each file is scripted and reported by pyperf and by perf. pyperf's text of
pyperf's file equals perf's of the same file byte for byte, and perf's text of its own recording once the pid,
CPU and time of the one sample are masked."""
import os
import re
import shutil
import subprocess
import sys

import pytest

PERF = "/usr/bin/perf"
PING = shutil.which("ping")
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
GROUP = "pyperf_t_classic"
EVENT = f"{GROUP}:t_inet_pton"      # perf probe refuses an event name that any group has
WORKLOAD = ["ping", "-6", "-c", "1", "::1"]

pytestmark = [
    pytest.mark.uprobes, pytest.mark.perf,
    pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"),
                       reason="needs root and uprobe events"),
    pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed"),
    pytest.mark.skipif(PING is None, reason="ping (iputils-ping, make apt) is not installed"),
    pytest.mark.skipif(not os.path.exists(LIBC), reason="no libc.so.6 at Debian's path"),
]


def _pyperf(*args, **kw):
    return subprocess.run([sys.executable, "-m", "pyperf_probe", *args], capture_output=True, text=True, **kw)


def _perf(*args, **kw):
    return subprocess.run([PERF, *args], capture_output=True, text=True, **kw)


def _no_tip(text):
    return re.sub(r"^# \(Tip: .*\)$", "# (TIP)", text, flags=re.M)


_HEAD = re.compile(r"^(\s*\S+) +\d+ +\[\d+\] +[\d.]+: ", re.M)


def _masked(script_text):
    """The sample line's pid, CPU and time (the rest, the probed address included, is the same without ASLR)."""
    return _HEAD.sub(r"\1 PID [CPU] TIME: ", script_text)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classic")
    if subprocess.run([PING, "-6", "-c", "1", "-W", "2", "::1"], capture_output=True).returncode != 0:
        pytest.skip("ping -6 ::1 does not answer here (no IPv6 loopback)")
    _pyperf("probe", "-q", "-d", f"{GROUP}:*")
    try:
        added = _pyperf("probe", "-x", "libc.so.6", "-a", f"{EVENT}=inet_pton")
        assert added.returncode == 0, added.stderr
        assert f"  {EVENT}" in added.stderr and f"(on inet_pton in {LIBC})" in added.stderr
        listed = _pyperf("probe", "-l", f"{GROUP}:*")
        assert listed.stdout == _perf("probe", "-l", f"{GROUP}:*").stdout
        assert listed.stdout == f"  {EVENT} (on __GI___inet_pton@./resolv/inet_pton.c in {LIBC})\n"
        files = {}
        for name, tool in (("pyperf", [sys.executable, "-m", "pyperf_probe"]), ("perf", [PERF])):
            files[name] = str(tmp / f"{name}.data")
            rec = subprocess.run(["setarch", "-R", *tool, "record", "-e", f"{EVENT}/max-stack=3/",
                                  "-o", files[name], *WORKLOAD], capture_output=True, text=True, cwd=tmp)
            assert rec.returncode == 0, rec.stderr
            assert rec.stderr.endswith(f"MB {files[name]} (1 samples) ]\n"), rec.stderr
        yield files
    finally:
        _pyperf("probe", "-q", "-d", f"{GROUP}:*")
        assert GROUP not in open("/sys/kernel/tracing/uprobe_events").read()


def test_script_shows_inet_pton_then_its_caller(recordings):
    ours = _pyperf("script", "-i", recordings["pyperf"])
    assert ours.returncode == 0 and ours.stderr == "", ours.stderr
    lines = ours.stdout.splitlines()
    assert re.fullmatch(rf"\s*ping +\d+ \[\d+\] +[\d.]+: {EVENT}: \([0-9a-f]+\)", lines[0]), lines[0]
    assert re.fullmatch(rf"\t +[0-9a-f]+ __GI___inet_pton\+0x0 \({re.escape(LIBC)}\)", lines[1]), lines[1]
    # max-stack=3: the context marker, the probed function and its caller (ping is stripped: [unknown])
    assert re.fullmatch(r"\t +[0-9a-f]+ \S+ \(/usr/bin/ping\)", lines[2]), lines[2]
    assert lines[3:] == [""]


@pytest.mark.parametrize("args", [["script"], ["script", "-F", "comm,event,ip,sym,symoff,dso,trace"],
                                  ["report", "--stdio"], ["report", "--stdio", "--no-children", "--sort", "dso,sym"],
                                  ["report", "--stdio", "-g", "caller", "--sort", "sym"]])
def test_pyperf_file_as_perf_shows_it_and_as_perf_recorded_it(recordings, args):
    ours = _pyperf(args[0], "-i", recordings["pyperf"], *args[1:])
    theirs = _perf(args[0], "-i", recordings["pyperf"], *args[1:])
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
    # -F ...,trace: perf warns that 'trace' is not valid for the other types (7 lines), as pyperf does
    assert ours.returncode == 0 and ours.stderr.count("Ignoring.\n") == (7 if "trace" in args[-1] else 0)
    assert _no_tip(ours.stdout) == _no_tip(theirs.stdout)
    own = _perf(args[0], "-i", recordings["perf"], *args[1:])
    assert (own.returncode, own.stderr) == (0, theirs.stderr)
    assert _masked(_no_tip(ours.stdout)) == _masked(_no_tip(own.stdout))
    # and pyperf reads perf's own recording as perf does
    read = _pyperf(args[0], "-i", recordings["perf"], *args[1:])
    assert (read.returncode, read.stderr, _no_tip(read.stdout)) == (0, own.stderr, _no_tip(own.stdout))


def test_attrs_equal_perf_evlist(recordings):
    ours = _perf("evlist", "-v", "-i", recordings["pyperf"])
    theirs = _perf("evlist", "-v", "-i", recordings["perf"])
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout
    assert "sample_max_stack: 3" in ours.stdout and "CALLCHAIN" in ours.stdout
