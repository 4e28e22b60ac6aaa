"""What a killed test run leaves in the kernel, and its removal by the next run that starts alone.

Every test removes the uprobes it adds in a ``finally``; a run killed with SIGKILL runs none. Two such runs
were found on 2026-12-07 (21:18 and 23:23): each had stopped inside test_group_golden, right after it added
``pyperf_t_record/ex_sort_PID``, and each left that uprobe and its scratch HOME behind (``pytest_unconfigure``
never ran). SIGTERM and SIGHUP are made a KeyboardInterrupt (:func:`interrupt_on_termination`), so the
``finally`` blocks and the session's end run; for SIGKILL, each run holds a shared ``flock`` on a file of its
scratch HOME for as long as it lives (:func:`claim`), and a run that finds no other live one removes what the
dead ones left (:func:`sweep`): uprobes of the test groups (``pyperf_t_*``, and ``probe_pyperf_t_*`` made by
``pyperf probe`` on the tests' copies of the workloads), uprobes on any binary under pytest's temporary
directories (the ``sdt_tick`` events of tick's copies), tracefs instances of the test groups' names, and the
dead runs' HOMEs. While another run lives (the lock is held), nothing is removed: its uprobes could be in
use.

:func:`exclusive` is the lock the tests take on a fixed path of /tmp (the SDT goldens' tick), removed by its
last holder.

flock, not a PID file: a run in another PID namespace (a CI sandbox) has PIDs this one cannot check, but the
lock of a file in the shared /tmp is the kernel's, released when its holder dies, however it dies.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import tempfile
import time

HOME_PREFIX = "pyperf-test-home-"
LOCK = ".run.lock"
TEST_GROUPS = ("pyperf_t_", "probe_pyperf_t_")
# a HOME without its lock yet: a run between mkdtemp and claim(); older than this, one that died there (or an
# older conftest's)
UNCLAIMED_GRACE_S = 60


def make_home(root: str | None = None) -> tuple[str, int]:
    """A scratch HOME for this run, claimed: (its path, the lock's fd, kept open until the process ends)."""
    home = tempfile.mkdtemp(prefix=HOME_PREFIX, dir=root)
    return home, claim(home)


def claim(home: str) -> int:
    """Hold a shared lock on ``home``'s lock file for this process's life; its fd (close-on-exec: children
    do not keep a dead run looking alive)."""
    fd = os.open(os.path.join(home, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def other_homes(root: str, own: str) -> tuple[list[str], list[str]]:
    """(live, dead): the other runs' scratch HOMEs under ``root``."""
    live, dead = [], []
    try:
        names = sorted(n for n in os.listdir(root) if n.startswith(HOME_PREFIX))
    except OSError:
        return live, dead
    for name in names:
        home = os.path.join(root, name)
        if os.path.abspath(home) == os.path.abspath(own) or not os.path.isdir(home):
            continue
        try:
            fd = os.open(os.path.join(home, LOCK), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            try:
                young = time.time() - os.stat(home).st_mtime < UNCLAIMED_GRACE_S
            except OSError:
                continue
            (live if young else dead).append(home)
            continue
        except OSError:
            live.append(home)  # (cannot tell: as if alive)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            dead.append(home)
        except OSError:
            live.append(home)
        finally:
            os.close(fd)
    return live, dead


def _tracefs() -> str | None:
    """The tracefs mount pyperf uses, when it has uprobe_events (None: nothing to sweep)."""
    from pyperf_probe.errors import KernelError
    from pyperf_probe.kernel import tracefs
    try:
        tracefs.uprobe_events_path()
    except KernelError:
        return None
    return tracefs.TRACEFS


def group_uprobes(groups: tuple[str, ...] = TEST_GROUPS, paths: tuple[str, ...] = ()) -> list[str]:
    """The uprobe_events names (GROUP/EVENT) in the test groups, or on a binary under one of ``paths``."""
    if _tracefs() is None:
        return []
    from pyperf_probe.kernel import tracefs
    names = []
    for line in tracefs.read_uprobe_events():
        fields = line.split()
        name = fields[0].split(":", 1)[1]
        if name.startswith(groups) or (paths and len(fields) > 1 and fields[1].startswith(paths)):
            names.append(name)
    return list(dict.fromkeys(names))  # (a multi-probe event: one line per probe, one name)


def pytest_temp_roots(root: str) -> tuple[str, ...]:
    """Where pytest makes ``tmp_path`` directories under ``root`` (``pytest-of-USER/``)."""
    return tuple(os.path.join(root, name) + "/" for name in os.listdir(root) if name.startswith("pytest-of-")) \
        if os.path.isdir(root) else ()


def sweep(root: str, own_home: str, groups: tuple[str, ...] = TEST_GROUPS, binaries: bool = True) -> list[str]:
    """When no other run under ``root`` lives: remove the test groups' tracefs instances and uprobes (with
    ``binaries``, those on a binary under pytest's directories of ``root`` too), and the dead runs' HOMEs.
    What was removed, one line each (empty when another run lives or nothing was left)."""
    live, dead = other_homes(root, own_home)
    if live:
        return []
    removed = []
    tracefs_root = _tracefs()
    if tracefs_root is not None:
        instances = os.path.join(tracefs_root, "instances")
        for name in sorted(os.listdir(instances)) if os.path.isdir(instances) else ():
            if name.startswith(groups):
                try:
                    os.rmdir(os.path.join(instances, name))  # (first: its enabled events hold uprobes busy)
                    removed.append(f"instance {name}")
                except OSError:
                    pass
        from pyperf_probe.errors import KernelError
        from pyperf_probe.kernel import tracefs
        for name in group_uprobes(groups, pytest_temp_roots(root) if binaries else ()):
            try:
                tracefs.write_uprobe_events([f"-:{name}"])
                removed.append(f"uprobe {name}")
            except KernelError as e:
                if e.errno != errno.ENOENT:  # EBUSY: someone's perf event is on it; it stays
                    removed.append(f"uprobe {name} kept: {os.strerror(e.errno or 0)}")
    for home in dead:
        shutil.rmtree(home, ignore_errors=True)
        removed.append(f"home {home}")
    return removed


@contextlib.contextmanager
def exclusive(path: str):
    """An exclusive ``flock`` on ``path`` for the block, the file removed before it is released (nothing
    stays in /tmp). A waiter that gets the lock of a file already removed (its holder unlinked it meanwhile)
    opens the path again: the inode it locked must be the one the path names."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        try:
            os.unlink(path)
        finally:
            os.close(fd)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the run is, so that its ``finally`` blocks and pytest's session end
    run (pytest ends a run on KeyboardInterrupt as on Ctrl-C: exit status 2, teardowns done)."""


def _raise(signum, _frame):
    raise Terminated(f"signal {signal.Signals(signum).name}")


def interrupt_on_termination() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _raise)
