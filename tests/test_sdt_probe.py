"""pyperf probe with SDT events: `-D` equals real perf's (goldens from tests/golden/sdt/make_goldens.sh, and
live), and the seed's workflow `buildid-cache --add; probe sdt_tick:loop2; stat` with real uprobes."""
import os
import shutil
import subprocess
import sys

import pytest
from tick_helpers import TICK, golden_tick, sdt_tick_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden", "sdt")
PERF = "/usr/bin/perf"
SYSTEM_FILES = ["/usr/bin/python3.11", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib/x86_64-linux-gnu/libc.so.6", "/bin/true"]


def pyperf(home, *args, check=False):
    proc = subprocess.run([sys.executable, "-m", "pyperf_probe", *args], capture_output=True, text=True,
                          env=dict(os.environ, HOME=str(home), PYTHONPATH=ROOT))
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def golden_cases(name):
    """[(args, expected stdout, expected exit)] from a .definitions golden."""
    cases, args, out = [], None, []
    with open(os.path.join(GOLDEN, name)) as f:
        lines = f.read().splitlines()
    for line in lines + ["== end"]:
        if line.startswith("== perf probe "):
            if args is not None:
                code = int(out.pop()[5:]) if out and out[-1].startswith("exit ") else 0
                cases.append((args, "".join(o + "\n" for o in out), code))
            args, out = line[len("== perf probe "):].split(), []
        elif line == "== end":
            if args is not None:
                code = int(out.pop()[5:]) if out and out[-1].startswith("exit ") else 0
                cases.append((args, "".join(o + "\n" for o in out), code))
        else:
            out.append(line)
    return cases


def test_definitions_of_system_markers_equal_perfs(tmp_path):
    pyperf(tmp_path, "buildid-cache", "--add", ",".join(SYSTEM_FILES), check=True)
    for args, stdout, code in golden_cases("system.definitions"):
        proc = pyperf(tmp_path, "probe", *args)
        assert (proc.stdout, proc.returncode) == (stdout, code), (args, proc.stderr)


@pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick")
def test_definitions_of_tick_markers_equal_perfs(tmp_path):
    from pyperf_probe.symbols.elf import open_elf

    with open(os.path.join(GOLDEN, "tick.build-id")) as f:
        if open_elf(TICK).build_id != f.read().strip():
            pytest.skip("this tick was built differently from the goldens' (other compiler?): see the live test")
    with golden_tick() as path:
        pyperf(tmp_path, "buildid-cache", "--add", path, check=True)
        for args, stdout, code in golden_cases("tick.definitions"):
            proc = pyperf(tmp_path, "probe", *args)
            assert (proc.stdout, proc.returncode) == (stdout, code), (args, proc.stderr)
            if code:
                assert proc.stderr.rstrip("\n").endswith("  Error: Failed to add events.")


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")
@pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick")
def test_definitions_live_against_perf(tmp_path):
    """-x on a file not cached yet: perf caches it first; so does pyperf. Then the same lines."""
    binary = str(tmp_path / "tick_live")
    shutil.copy(TICK, binary)
    env = dict(os.environ, HOME=str(tmp_path / "perf_home"))
    cases = [["-x", binary, "-D", "%sdt_tick:loop3"], ["-D", "sdt_tick:*"], ["-D", "%*:loop2"],
             ["-D", f"%sdt_tick:loop2@{binary}"], ["-D", "sdt_tick:begin@BUILDID8"], ["-D", "%sdt_tick:loop2+4"]]
    from pyperf_probe.symbols.elf import open_elf
    build_id8 = open_elf(binary).build_id[:8]
    for args in ([a.replace("BUILDID8", build_id8) for a in case] for case in cases):
        theirs = subprocess.run([PERF, "probe", *args], capture_output=True, text=True, env=env)
        ours = pyperf(tmp_path / "pyperf_home", "probe", *args)
        assert (ours.stdout, ours.returncode) == (theirs.stdout, theirs.returncode), args
        if theirs.returncode == 0:
            assert theirs.stdout.count("\n") >= 1


@pytest.mark.uprobes
@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"),
                    reason="needs root and tracefs with uprobe events")
@pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick")
def test_seed_workflow(tmp_path):
    """# pyperf buildid-cache --add /tmp/tick; pyperf probe sdt_tick:loop2 (and loop1, loop3);
    # pyperf stat -e sdt_tick:loop1,sdt_tick:loop2,sdt_tick:loop3 -- /tmp/tick   -> every count = iterations"""
    from pyperf_probe.kernel import tracefs

    binary = str(tmp_path / "tick")
    shutil.copy(TICK, binary)
    with sdt_tick_lock():
        if any(line.startswith("p:sdt_tick/") for line in tracefs.read_uprobe_events()):
            pytest.skip("sdt_tick events exist already")
        pyperf(tmp_path, "buildid-cache", "--add", binary, check=True)
        try:
            added = pyperf(tmp_path, "probe", "sdt_tick:loop2", check=True)
            assert added.stderr.startswith("Added new event:\n  sdt_tick:loop2       (on %loop2 in " + binary + ")\n")
            pyperf(tmp_path, "probe", "-a", "sdt_tick:loop1", "-a", "%sdt_tick:loop3", check=True)
            again = pyperf(tmp_path, "probe", "sdt_tick:loop2")
            assert again.returncode == 239 and 'Error: event "loop2" already exists.' in again.stderr
            stat = subprocess.run([sys.executable, "-m", "pyperf_probe", "stat", "-e",
                                   "sdt_tick:loop1,sdt_tick:loop2,sdt_tick:loop3", "--", binary, "42"],
                                  capture_output=True, text=True, env=dict(os.environ, HOME=str(tmp_path),
                                                                           PYTHONPATH=ROOT))
            assert stat.returncode == 0, stat.stderr
            counts = [line.split() for line in stat.stderr.splitlines() if "sdt_tick:" in line]
            assert counts == [["42", "sdt_tick:loop1"], ["42", "sdt_tick:loop2"], ["42", "sdt_tick:loop3"]]
        finally:
            for name in ("sdt_tick:loop1", "sdt_tick:loop2", "sdt_tick:loop3"):
                pyperf(tmp_path, "probe", "-q", "-d", name)
            assert not [line for line in tracefs.read_uprobe_events() if binary in line]


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")
@pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick")
def test_marker_in_two_cached_binaries_like_perf(tmp_path):
    """Two builds of tick cached: one definition gets the probes of both, in cache order, under the cached
    names (multi-probe events); -D and the dry-run messages (-n writes nothing) equal perf's."""
    from pyperf_probe.symbols.elf import open_elf

    copies = [str(tmp_path / d / "tick") for d in ("a", "b")]
    for i, path in enumerate(copies):
        os.makedirs(os.path.dirname(path))
        shutil.copy(TICK, path)
        note = open_elf(path).section(".note.gnu.build-id")
        with open(path, "r+b") as f:
            f.seek(note.file_offset + note.size - 1)
            f.write(bytes([0x40 + i]))
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    subprocess.run([PERF, "buildid-cache", "--add", ",".join(copies)], env=env, check=True)
    with sdt_tick_lock():         # -n names against the sdt_tick events of tracefs: none meanwhile
        for args in (["-D", "sdt_tick:loop2"], ["-D", "%sdt_tick:loop*"], ["-n", "%sdt_tick:loop*"],
                     ["-n", "-a", "sdt_tick:loop3", "-a", "sdt_tick:begin"], ["-n", "sdt_tick:loop1", "arg"]):
            theirs = subprocess.run([PERF, "probe", *args], capture_output=True, text=True, env=env)
            ours = pyperf(tmp_path / "home", "probe", *args)
            assert (ours.stdout, ours.stderr.replace("pyperf", "perf"), ours.returncode) == \
                (theirs.stdout, theirs.stderr, theirs.returncode), args
