"""The drain loop of a recording (perf's builtin-record.c ``__cmd_record`` main loop): drain every ring
buffer into the file until the workload exits, a signal stops us or every traced task is gone.

After each pass that found data the round is ended (``PerfDataWriter.end_round``: a FINISHED_ROUND, so
readers may sort by time between rounds, and every so often a point up to which a killed recording stays
readable). When
nothing was pending the loop sleeps in poll(): the kernel wakes it when a buffer is half full
(wakeup_events = 0) or a traced task exits; in dwarf mode it also wakes every few milliseconds, otherwise at
least every FLUSH_MS, so that a few hits a second still reach the file (perf waits for the half-full
buffer: a recording killed after an hour of rare hits keeps none of them). Copied data waits in the
writer's memory backlog and goes to the disk when the rings are quiet.
"""
from __future__ import annotations

import dataclasses
import os
import select
import signal
from typing import Optional, Sequence

from pyperf_probe.kernel import ringbuf
from pyperf_probe.perfdata.writer import PerfDataWriter
from pyperf_probe.record.fds import EventFds

FLUSH_MS = 1000  # without a tick, the rings are drained (and the file made current) at least this often
PUMP_BYTES = 1 << 20  # written to the disk per idle moment: ~3 ms, then the rings are checked again
# With a tick (dwarf), the backlog goes to the disk only in ticks where the rings were empty, and in full at
# the end: every moment spent writing is a moment the rings are not drained. Past this size (or an eighth
# of the available memory) it is written without pause.
MAX_BACKLOG = 1 << 30


def backlog_limit() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return min(MAX_BACKLOG, int(line.split()[1]) * 1024 // 8)
    except (OSError, ValueError, IndexError):
        pass
    return MAX_BACKLOG // 4


@dataclasses.dataclass
class LoopStats:
    wakeups: int = 0
    bytes: int = 0
    signal: Optional[int] = None  # SIGINT/SIGTERM/SIGHUP that stopped us


class StopFlag:
    """SIGINT/SIGTERM/SIGHUP/SIGCHLD handlers that set flags and wake poll() through a self-pipe. SIGHUP (a
    lost terminal or SSH session) stops the recording as ^C does, with a complete file (perf would die of
    it and leave its header unwritten); under ``nohup`` (SIGHUP ignored) it stays ignored."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)

    def __init__(self):
        self.stop_signal: Optional[int] = None
        self.child_exited = False
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old = {}

    def _handler(self, signum, _frame) -> None:
        if signum == signal.SIGCHLD:
            self.child_exited = True
        else:
            self.stop_signal = signum

    def install(self) -> None:
        self._old = {s: signal.signal(s, self._handler) for s in self.SIGNALS
                     if s != signal.SIGHUP or signal.getsignal(s) != signal.SIG_IGN}
        self._old_wakeup = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)

    def drain(self) -> None:
        try:
            while os.read(self.read_fd, 512):
                pass
        except BlockingIOError:
            pass

    def restore(self) -> None:
        """Put the old handlers back (if installed) and close the pipe; safe to call once on every path."""
        if self._old:
            signal.set_wakeup_fd(self._old_wakeup)
            for s, h in self._old.items():
                signal.signal(s, h)
            self._old = {}
        if self.read_fd >= 0:
            os.close(self.read_fd)
            os.close(self.write_fd)
            self.read_fd = self.write_fd = -1


class RealtimePriority:
    """``perf record -r N``: run the drain loop as SCHED_FIFO priority N, so that it gets a CPU as soon as
    it wakes even when the workload keeps every CPU busy (on 2 CPUs with `make -j2` under dwarf sampling a
    SCHED_OTHER recorder, even at nice -20, was kept off the CPU long enough for 64 MB buffers to fill).
    The loop sleeps between ticks, so it takes little CPU. Without the privilege it stays a normal task."""

    def __init__(self, priority: int):
        self.priority, self.active = priority, False

    def __enter__(self):
        if self.priority > 0:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.priority))
                self.active = True
            except (OSError, AttributeError):
                pass
        return self

    def __exit__(self, *exc):
        if self.active:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        return False


def drain_all(rings: Sequence[ringbuf.RingBuffer], writer: PerfDataWriter) -> int:
    total = 0
    for ring in rings:
        total += ring.drain(writer.write)
    if total:
        writer.end_round()
    return total


def run_loop(fds: EventFds, writer: PerfDataWriter, stop: StopFlag, finished, tick_ms: int = -1,
             flush_ms: int = FLUSH_MS) -> LoopStats:
    """Drain until ``finished()`` (workload gone), a stop signal, or every buffer's fd hung up.

    With ``tick_ms`` >= 0, poll() also returns after that long, so the buffers are drained long before the
    kernel's half-full wakeup (dwarf samples are 8.5 KB: a busy CPU fills megabytes in milliseconds, and a
    recorder that waits for the watermark on a loaded machine finds a full buffer). Only poll() returns
    that reported events count as wakeups, as in perf. Without a tick, poll() returns after ``flush_ms``
    at most: whatever the rings hold then goes to the file."""
    stats = LoopStats()
    poller = select.poll()
    live = {}
    for ring in fds.rings:
        poller.register(ring.fd, select.POLLIN)
        live[ring.fd] = ring
    poller.register(stop.read_fd, select.POLLIN)
    done = disabled = False
    max_backlog = backlog_limit()
    while True:
        got = drain_all(fds.rings, writer)
        stats.bytes += got
        if not done and (stop.stop_signal is not None or not live or finished()):
            done = True
        if done and not disabled:
            fds.disable()  # then drain what is left, until a pass finds nothing
            disabled = True
            continue
        if done:
            if got:
                continue
            break
        timeout = tick_ms if tick_ms >= 0 else flush_ms
        over = writer.backlog > max_backlog
        if writer.backlog and (tick_ms < 0 or not got or over):
            writer.pump(PUMP_BYTES)  # the rings were empty (or memory is short): some backlog to the disk
            if tick_ms < 0 or over:
                timeout = 0
        ready = poller.poll(timeout)
        for fd, revents in ready:
            if fd != stop.read_fd and revents & (select.POLLHUP | select.POLLERR):
                poller.unregister(fd)
                live.pop(fd, None)
        if ready:
            stop.drain()
            stats.wakeups += 1
    stats.signal = stop.stop_signal
    return stats
