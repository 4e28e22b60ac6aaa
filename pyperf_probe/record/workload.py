"""The program ``pyperf record`` starts: forked, held on a pipe until its events are open, then exec'd
(perf's ``evlist__prepare_workload`` / ``evlist__start_workload``), so that ``enable_on_exec`` counts from
the program's first instruction and nothing of pyperf's own start-up is recorded.
"""
from __future__ import annotations

import ctypes
import os
import signal
import struct
from typing import Optional, Sequence

from pyperf_probe.errors import KernelError

PR_SET_NAME = 15


def _set_comm(name: bytes) -> None:
    try:
        ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Workload:
    """A forked child waiting to exec ``argv``. ``start()`` lets it go; ``exec_error()`` says whether the
    exec failed (errno), ``wait()`` reaps it."""

    def __init__(self, argv: Sequence[str]):
        self.argv = list(argv)
        go_r, self._go_w = os.pipe2(os.O_CLOEXEC)
        self._err_r, err_w = os.pipe2(os.O_CLOEXEC)
        self.pid = os.fork()
        if self.pid == 0:  # child: never returns
            self._child(go_r, err_w)
        os.close(go_r)
        os.close(err_w)
        self.status: Optional[int] = None

    def _child(self, go_r: int, err_w: int) -> None:
        try:
            os.close(self._go_w)
            os.close(self._err_r)
            _set_comm(b"perf-exec")
            # Python ignores SIGPIPE and SIGXFSZ; an exec'd program must not inherit that.
            for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            if os.read(go_r, 1) != b"g":
                os._exit(127)  # the recorder gave up before starting us
            os.execvp(self.argv[0], self.argv)
        except OSError as exc:
            try:
                os.write(err_w, struct.pack("<i", exc.errno or 0))
            finally:
                os._exit(127)
        finally:
            os._exit(127)

    def start(self) -> Optional[int]:
        """Let the child exec; returns the errno of a failed exec, or None once the exec succeeded."""
        os.write(self._go_w, b"g")
        os.close(self._go_w)
        self._go_w = -1
        data = os.read(self._err_r, 4)  # EOF (close-on-exec) = the exec succeeded
        os.close(self._err_r)
        return struct.unpack("<i", data)[0] if len(data) == 4 else None

    def cancel(self) -> None:
        """Never start it: the child sees EOF and exits without running anything."""
        if self._go_w >= 0:
            os.close(self._go_w)
            self._go_w = -1
        self.wait()

    def stop(self) -> None:
        """On a failure: a child still held never runs; a running one gets SIGTERM; both are reaped."""
        if self._go_w >= 0:
            self.cancel()
        else:
            self.kill(signal.SIGTERM)
            self.wait()

    def poll(self) -> bool:
        """True once the child has exited (reaped)."""
        if self.status is not None:
            return True
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == self.pid:
            self.status = status
        return self.status is not None

    def wait(self) -> int:
        while self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.status = 0
            except InterruptedError:
                continue
        return self.status

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass


def exec_failure(event: str, argv: Sequence[str], err: int) -> KernelError:
    """perf's words when the workload cannot start (builtin-record.c ``workload_exec_failed_signal``)."""
    return KernelError(f"Failed to collect '{event}' for the '{argv[0]}' workload: {os.strerror(err)}")
