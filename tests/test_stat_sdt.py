"""SDT markers with and without semaphores, counted by pyperf stat on real uprobes (the workflow of
seeds/004: the kernel raises the reference counter of every process that maps the binary).

The markers come from a private copy of workloads/tick, cached in a scratch HOME; the uprobes are the cached
definitions put under the group ``pyperf_t_sdt_<pid>`` so that nothing here can clash with anyone's sdt_tick
events. Every uprobe added is removed, on every path.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pyperf_probe.kernel import tracefs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.path.join(ROOT, "build", "workloads", "tick")
GROUP = f"pyperf_t_sdt_{os.getpid()}"      # unique per test run: other runs may be going on

pytestmark = [
    pytest.mark.uprobes,
    pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"),
                       reason="needs root and tracefs with uprobe events"),
    pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick"),
]


def pyperf(*args, env, check=True, **kw):
    proc = subprocess.run([sys.executable, "-m", "pyperf_probe", *args], env=env, capture_output=True,
                          text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"pyperf {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
    return proc


def csv_counts(stderr):
    """{event: count} from `pyperf stat -x ,` output."""
    out = {}
    for line in stderr.splitlines():
        fields = line.split(",")
        if len(fields) >= 3 and fields[0].isdigit():
            out[fields[2]] = int(fields[0])
    return out


@pytest.fixture(scope="module")
def tick_copy(tmp_path_factory):
    """A private copy of tick, cached (with its markers) in a scratch HOME: (binary, env)."""
    base = tmp_path_factory.mktemp("sdt")
    binary = str(base / f"tick_{GROUP}")
    shutil.copy(TICK, binary)
    env = dict(os.environ, HOME=str(base / "home"), PYTHONPATH=ROOT)
    pyperf("buildid-cache", "--add", binary, env=env)
    return binary, env


@pytest.fixture
def sdt(tick_copy):
    """(binary, env, add(marker, with_semaphore=True, name=None) -> event); the test's uprobes are removed
    when it ends, whatever happened. (The kernel refuses two uprobes on one marker with different
    reference counters, so each test starts from none.)"""
    binary, env = tick_copy
    added = []

    def add(marker, with_semaphore=True, name=None):
        import dataclasses

        from pyperf_probe.probe.sdt import SdtSpec, find_definitions
        from pyperf_probe.symbols.buildid_cache import BuildIdCache

        (tdef,) = find_definitions(SdtSpec(event=marker, group="sdt_tick"), target=binary,
                                   cache=BuildIdCache(os.path.join(env["HOME"], ".debug")))
        event = name or marker
        if not with_semaphore:
            tdef = dataclasses.replace(tdef, ref_ctr_offset=0)
        if tracefs.event_exists(GROUP, event):
            pytest.skip(f"{GROUP}:{event} exists already (left by another run?)")
        tracefs.write_uprobe_events([tdef.named(GROUP, event).text()])
        added.append(event)
        return f"{GROUP}:{event}"

    try:
        yield binary, env, add
    finally:
        if added:
            tracefs.write_uprobe_events([f"-:{GROUP}/{e}" for e in added])
        assert not [line for line in tracefs.read_uprobe_events() if f"{GROUP}/" in line]


def stat(env, events, *command):
    """Counts of `pyperf stat -x , -e EVENTS -- COMMAND` (the command's own output discarded)."""
    proc = subprocess.run([sys.executable, "-m", "pyperf_probe", "stat", "-x", ",", "-e", ",".join(events),
                           "--", *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    return csv_counts(proc.stderr)


def test_markers_without_and_with_semaphores_count_every_iteration(sdt):
    """The probes exist before the program starts (as after `pyperf probe`): the kernel raises the
    semaphores of the new process when it maps the binary, so every guarded marker fires."""
    binary, env, add = sdt
    begin, loop1, loop2, loop3 = add("begin"), add("loop1"), add("loop2"), add("loop3")
    counts = stat(env, [begin, loop1, loop2, loop3], binary, "137")
    assert counts == {begin: 1, loop1: 137, loop2: 137, loop3: 137}


def test_without_the_reference_counter_the_guarded_marker_never_fires(sdt):
    """What perf did before Linux 4.20 (the seed's "0 sdt_tick:loop2"): a uprobe on the marker but no
    ref_ctr_offset, so nobody raises the semaphore and the program skips the marker."""
    binary, env, add = sdt
    loop1, loop2 = add("loop1"), add("loop2", with_semaphore=False)
    assert stat(env, [loop1, loop2], binary, "25") == {loop1: 25, loop2: 0}


def test_two_processes_at_once(sdt):
    """Two processes of the binary at the same time, counted system wide (-a): each has its own semaphore,
    raised by the kernel in both. (Counted per task with inherit instead, the kernel loses the hits of one
    sibling after the other exits now and then -- real perf stat shows the same -- so -a is the reliable way
    to count several processes.)"""
    binary, env, add = sdt
    loop2, loop3 = add("loop2"), add("loop3")
    proc = subprocess.run([sys.executable, "-m", "pyperf_probe", "stat", "-a", "-x", ",", "-e", f"{loop2},{loop3}",
                           "--", "sh", "-c", f"{binary} 300 1000 >/dev/null & {binary} 200 1000 >/dev/null; wait"],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    assert csv_counts(proc.stderr) == {loop2: 500, loop3: 500}


def _wait_for_exe(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{pid}/exe") == path:
                    return int(pid)
            except OSError:
                continue
        time.sleep(0.01)
    raise AssertionError(f"{path} did not start")


def test_second_tracer_stopping_leaves_the_first_counting_right(sdt):
    """Tracer A starts the program and counts loop1 (no semaphore) and loop2 (semaphore) for its whole
    life; tracer B attaches to the running process for a while and stops. When B stops the kernel lowers
    the reference counter by B's share only: A still sees every loop2."""
    binary, env, add = sdt
    loop1, loop2 = add("loop1"), add("loop2")
    a = subprocess.Popen([sys.executable, "-m", "pyperf_probe", "stat", "-x", ",", "-e", f"{loop1},{loop2}",
                          "--", binary, "400", "3000"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        pid = _wait_for_exe(binary)
        time.sleep(0.2)
        b = pyperf("stat", "-x", ",", "-e", loop2, "-p", str(pid), "--", "sleep", "0.4", env=env)
        b_counts = csv_counts(b.stderr)
        _, a_err = a.communicate(timeout=30)
    finally:
        if a.poll() is None:
            a.send_signal(signal.SIGINT)
            a.wait(timeout=10)
    assert a.returncode == 0, a_err
    assert csv_counts(a_err) == {loop1: 400, loop2: 400}
    assert 0 < b_counts[loop2] < 400


def test_attaching_to_a_running_process_raises_its_semaphore(sdt):
    """A process started before the uprobe was enabled: the kernel raises the semaphore in its memory
    when pyperf stat -p enables the event, so the guarded marker fires from then on."""
    binary, env, add = sdt
    loop2 = add("loop2")
    proc = subprocess.Popen([binary, "300", "2000"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.1)
        counts = csv_counts(pyperf("stat", "-x", ",", "-e", loop2, "-p", str(proc.pid), "--", "sleep", "0.3",
                                   env=env).stderr)
    finally:
        proc.kill()
        proc.wait()
    assert 50 < counts[loop2] < 300
