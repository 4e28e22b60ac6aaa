"""A recording: open the event fds, map one ring buffer per CPU, drain them into the file until the workload
exits or a signal stops us, then write the header and features (perf's builtin-record.c ``__cmd_record``).

fds are opened in perf's order (event, then CPU, then thread); on each CPU the first fd owns the ring buffer
and the others are redirected into it (PERF_EVENT_IOC_SET_OUTPUT), so there is one buffer per CPU. The main
loop drains every buffer, writes a FINISHED_ROUND after each pass that found data (so readers may sort by
time between rounds), and sleeps in poll() when nothing was pending: the kernel wakes it when a buffer is
half full (wakeup_events = 0: watermark at half the buffer) or a traced task exits.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
import select
import signal
from typing import Dict, List, Optional, Sequence, Tuple

from pyperf_probe.errors import KernelError
from pyperf_probe.kernel import perf_event, ringbuf
from pyperf_probe.perfdata import synth
from pyperf_probe.perfdata.format import ReadFormat, SampleType, sample_id_fields, sample_id_struct
from pyperf_probe.perfdata.writer import AttrEntry, PerfDataWriter
from pyperf_probe.record.events import Event


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


@dataclasses.dataclass(frozen=True)
class OpenFd:
    fd: int
    event_index: int
    cpu: int
    tid: int
    id: int


@dataclasses.dataclass
class LoopStats:
    wakeups: int = 0
    bytes: int = 0
    signal: Optional[int] = None  # SIGINT/SIGTERM that stopped us


class EventFds:
    """All fds of a recording and their ring buffers. Close with ``close()`` on every path."""

    def __init__(self):
        self.fds: List[OpenFd] = []
        self.rings: List[ringbuf.RingBuffer] = []

    def open(self, events: Sequence[Event], cpus: Sequence[int], threads: Sequence[int], pages: int,
             filters: Dict[int, str]) -> None:
        ring_by_cpu: Dict[int, int] = {}
        for index, event in enumerate(events):
            for cpu in cpus:
                for tid in threads:
                    fd = perf_event.open_event(event.attr, tid, cpu, name=event.name)
                    self.fds.append(OpenFd(fd, index, cpu, tid, 0))
                    if index in filters:
                        perf_event.set_filter(fd, filters[index], name=event.name)
                    if cpu in ring_by_cpu:
                        perf_event.set_output(fd, ring_by_cpu[cpu])
                    else:
                        ring_by_cpu[cpu] = fd
                        self.rings.append(ringbuf.RingBuffer(fd, pages))
        self.fds = [dataclasses.replace(f, id=perf_event.event_id(f.fd)) for f in self.fds]

    def ids_of(self, index: int) -> Tuple[int, ...]:
        return tuple(f.id for f in self.fds if f.event_index == index)

    def enable(self) -> None:
        for f in self.fds:
            perf_event.enable(f.fd)

    def disable(self) -> None:
        for f in self.fds:
            try:
                perf_event.disable(f.fd)
            except KernelError:
                pass

    def lost_counts(self) -> List[Tuple[OpenFd, int]]:
        """(fd, samples the kernel dropped) from PERF_FORMAT_LOST, for fds that lost any."""
        out = []
        for f in self.fds:
            try:
                count = perf_event.read_count(f.fd, ReadFormat.ID | ReadFormat.LOST)
            except KernelError:
                continue
            if count.lost:
                out.append((f, count.lost))
        return out

    def close(self) -> None:
        for ring in self.rings:
            ring.close()
        for f in self.fds:
            perf_event.close(f.fd)
        self.rings, self.fds = [], []


def trailer(sample_type: int, ident: int = 0) -> bytes:
    """A ``sample_id`` trailer, zero but for the id (perf's synthesized records carry zeros)."""
    fields = sample_id_fields(sample_type)
    values = [ident if name in ("id", "identifier") else 0 for name in fields]
    return sample_id_struct(sample_type).pack(*values)


class StopFlag:
    """SIGINT/SIGTERM/SIGCHLD handlers that set flags and wake poll() through a self-pipe."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)

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
        self._old = {s: signal.signal(s, self._handler) for s in self.SIGNALS}
        self._old_wakeup = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)

    def drain(self) -> None:
        try:
            while os.read(self.read_fd, 512):
                pass
        except BlockingIOError:
            pass

    def restore(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup if self._old else -1)
        for s, h in self._old.items():
            signal.signal(s, h)
        os.close(self.read_fd)
        os.close(self.write_fd)


def drain_all(rings: Sequence[ringbuf.RingBuffer], writer: PerfDataWriter) -> int:
    total = 0
    for ring in rings:
        total += ring.drain(writer.write)
    if total:
        writer.write(synth.FINISHED_ROUND)
    return total


def run_loop(fds: EventFds, writer: PerfDataWriter, stop: StopFlag, finished, tick_ms: int = -1) -> LoopStats:
    """Drain until ``finished()`` (workload gone), a stop signal, or every buffer's fd hung up.

    With ``tick_ms`` >= 0, poll() also returns after that long, so the buffers are drained long before the
    kernel's half-full wakeup (dwarf samples are 8.5 KB: a busy CPU fills megabytes in milliseconds, and a
    recorder that waits for the watermark on a loaded machine finds a full buffer). Only poll() returns
    that reported events count as wakeups, as in perf."""
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
        timeout = tick_ms
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


def attr_entries(events: Sequence[Event], fds: EventFds) -> List[AttrEntry]:
    return [AttrEntry(ev.attr, fds.ids_of(i)) for i, ev in enumerate(events)]


def id_index_record(fds: EventFds) -> bytes:
    mask = (1 << 64) - 1  # tid -1 (any thread) is written as a u64, as perf does
    return synth.id_index([(f.id, f.event_index, f.cpu & mask, f.tid & mask) for f in fds.fds])


def lost_samples_records(fds: EventFds, sample_type: int) -> Tuple[bytes, int]:
    """PERF_RECORD_LOST_SAMPLES per fd that lost samples (perf's ``record__read_lost_samples``)."""
    out, total = [], 0
    for f, lost in fds.lost_counts():
        out.append(synth.lost_samples(lost, trailer(sample_type, f.id)))
        total += lost
    return b"".join(out), total


def uses_id(sample_type: int) -> bool:
    return bool(sample_type & (SampleType.ID | SampleType.IDENTIFIER))


def check_pid(pid: int) -> None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise KernelError(f"Couldn't run the workload!\nThe thread {pid} does not exist.",
                          errno=errno_mod.ESRCH) from None
    except PermissionError:
        pass
