"""The command ``pyperf stat`` counts: started held, so that its counters open before it runs (perf's
``evlist__prepare_workload``), then let go (``evlist__start_workload``).

perf forks itself, a small C process, and the child waits on a pipe before ``execvp``. A forked Python
process is a poor stand-in for the timing perf stat prints: its exec has to tear down a copy-on-write image of
the whole interpreter, and every Python step the child takes after the fork faults pages in. Measured here
(best/median of 30 runs of ``true``, from the go to the end of ``wait4``): fork of the pyperf process
1.5/5 ms, against 0.9/1-2 ms for a ``posix_spawn``'d ``/bin/sh`` holding the command (perf stat itself:
0.8-1 ms elapsed). The elapsed time and "CPUs utilized" are computed from that window, so the command is
held by a shell spawned with vfork semantics::

    sh -c 'read -r go <&3; exec 3<&-; [ "$go" = g ] && exec "$@"; exit 127' sh COMMAND [ARGS]

The counters open on the shell's pid with ``enable_on_exec``: they start counting at the command's exec,
as perf's do. The shell searches PATH as ``execvp`` does; an exec that would fail (no such program, not
executable) is found before the go, with the errno perf reports ("Workload failed: ..."), and the shell is
told to exit instead. The signals Python ignores or handles go back to their defaults in the shell (and so
in the command); glibc's posix_spawn leaves its two internal signals (32, 33) ignored, which a glibc
program sets up again for itself. perf's own children start with SIGWINCH blocked (perf's quirk, not
carried).
"""
from __future__ import annotations

import errno as errno_mod
import os
import signal
import stat as stat_mod
from typing import Optional, Sequence

SHELL = "/bin/sh"
HOLD = 'read -r go <&3; exec 3<&-; [ "$go" = g ] && exec "$@"; exit 127'
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD,
                   signal.SIGQUIT, signal.SIGHUP)


def exec_errno(name: str, path: Optional[str] = None) -> Optional[int]:
    """The errno ``execvp(name)`` would fail with (ENOENT, EACCES), or None if it finds a program: a name
    with a '/' is taken as it is, any other is searched in PATH, a directory without the program skipped and
    an entry that is there but cannot be run remembered as EACCES (glibc's rules)."""
    if not name:
        return errno_mod.ENOENT
    if "/" in name:
        return _runnable(name)
    found_eacces = False
    search = os.environ.get("PATH", "/bin:/usr/bin") if path is None else path
    for directory in search.split(":"):
        err = _runnable(os.path.join(directory or ".", name))
        if err is None:
            return None
        found_eacces |= err == errno_mod.EACCES
    return errno_mod.EACCES if found_eacces else errno_mod.ENOENT


def _runnable(path: str) -> Optional[int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return errno_mod.ENOENT
    except NotADirectoryError:
        return errno_mod.ENOENT
    except OSError as exc:
        return exc.errno
    if not stat_mod.S_ISREG(st.st_mode) or not os.access(path, os.X_OK):
        return errno_mod.EACCES
    return None


class HeldCommand:
    """A command waiting to exec in a spawned shell. ``release()`` lets it go and returns the errno of an
    exec that cannot happen (the shell then exits), None otherwise; ``cancel()`` ends it unstarted."""

    def __init__(self, argv: Sequence[str]):
        self.argv = list(argv)
        go_r, self._go_w = os.pipe2(os.O_CLOEXEC)
        try:
            self.pid = os.posix_spawn(SHELL, ["sh", "-c", HOLD, "sh", *self.argv], os.environ,
                                      file_actions=[(os.POSIX_SPAWN_DUP2, go_r, 3)],
                                      setsigdef=DEFAULT_SIGNALS, setsigmask=())
        finally:
            os.close(go_r)
        self.status: Optional[int] = None

    def release(self) -> Optional[int]:
        err = exec_errno(self.argv[0])
        os.write(self._go_w, b"g\n" if err is None else b"x\n")
        os.close(self._go_w)
        self._go_w = -1
        return err

    def cancel(self) -> None:
        """Never start it: the shell reads EOF and exits without running anything."""
        if self._go_w >= 0:
            os.close(self._go_w)
            self._go_w = -1
        self.wait()

    def wait(self) -> int:
        while self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.status = 0
            except InterruptedError:
                continue
        return self.status
