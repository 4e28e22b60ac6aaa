"""tests/leftovers: a test run killed inside a test that holds a uprobe. SIGTERM: the run's own ``finally``
removes it. SIGKILL: it stays, and the next run that finds no live run removes it with the dead run's HOME;
while a run lives, nothing is removed. Each case runs a real pytest with this suite's conftest in a child,
in a /tmp of its own (TMPDIR), on a test that adds a uprobe and waits to be killed."""
import os
import signal
import subprocess
import sys
import time

import pytest

import leftovers
import record_helpers as rh

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = [pytest.mark.uprobes,
              pytest.mark.skipif(not rh.HAVE_UPROBES, reason="needs root and tracefs with uprobe events")]

WAITING_TEST = '''
import os, sys, time
import record_helpers as rh

def test_waits_with_a_uprobe():
    with rh.uprobe(os.environ["EX_SPIN"], "ex_sort", os.environ["EVENT"]):
        time.sleep(120)
'''


def _events(name: str) -> list[str]:
    return [line for line in rh_lines() if line.split()[0].endswith(name)]


def rh_lines() -> list[str]:
    from pyperf_probe.kernel import tracefs
    return tracefs.read_uprobe_events()


@pytest.fixture
def killed_run(tmp_path):
    """Start the child run; yield (process, event name, its TMPDIR) once its uprobe is there; on every path
    the child is killed and the uprobe removed."""
    event = f"leftover_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    runs = tmp_path / "runs"
    runs.mkdir()
    (tmp_path / "test_waiting.py").write_text(WAITING_TEST)
    # (PYPERF_TEST_SWEEP=0: the child, alone in its /tmp, must not take the machine's live runs for dead)
    env = dict(os.environ, TMPDIR=str(runs), PYPERF_TEST_SWEEP="0", EVENT=event, EX_SPIN=rh.workload("ex_spin"),
               PYTHONPATH=os.pathsep.join([HERE, os.path.dirname(HERE)]))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                             "--rootdir", str(tmp_path), str(tmp_path / "test_waiting.py")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _events(event):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the child run never added its uprobe"
            time.sleep(0.05)
        yield proc, f"{rh.GROUP}/{event}", runs
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        if _events(event):
            rh.remove_uprobe(f"{rh.GROUP}/{event}")


def test_sigterm_runs_the_tests_finally_and_the_sessions_end(killed_run):
    proc, name, runs = killed_run
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out          # pytest's "interrupted"
    assert "Terminated: signal SIGTERM" in out, out
    assert not _events(name.split("/")[1])
    assert not [n for n in os.listdir(runs) if n.startswith(leftovers.HOME_PREFIX)]  # its HOME removed


def test_sigkill_leaves_it_to_the_next_run_that_starts_alone(killed_run, tmp_path):
    proc, name, runs = killed_run
    homes = [n for n in os.listdir(runs) if n.startswith(leftovers.HOME_PREFIX)]
    assert len(homes) == 1
    # a run that lives: nothing is removed
    live_home, fd = leftovers.make_home(str(runs))
    try:
        assert leftovers.sweep(str(runs), str(tmp_path), groups=(name,)) == []
    finally:
        os.close(fd)
    proc.kill()
    proc.wait()
    assert _events(name.split("/")[1]), "SIGKILL runs no finally: the uprobe should still be there"
    # the dead run's lock is released with it; the run that had lived is gone too (its lock closed)
    removed = leftovers.sweep(str(runs), str(tmp_path), groups=(name,))
    assert removed == [f"uprobe {name}"] + [f"home {runs / h}" for h in sorted(homes + [os.path.basename(live_home)])]
    assert not _events(name.split("/")[1])
    assert not [n for n in os.listdir(runs) if n.startswith(leftovers.HOME_PREFIX)]


def test_an_unclaimed_home_is_dead_only_when_old(tmp_path):
    young = tmp_path / (leftovers.HOME_PREFIX + "young")
    old = tmp_path / (leftovers.HOME_PREFIX + "old")
    young.mkdir()
    old.mkdir()
    past = time.time() - leftovers.UNCLAIMED_GRACE_S - 5
    os.utime(old, (past, past))
    assert leftovers.other_homes(str(tmp_path), "") == ([str(young)], [str(old)])
