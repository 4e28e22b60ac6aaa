"""The event fds of a recording and their ring buffers (perf's evlist open + mmap).

fds are opened in perf's order (event, then CPU, then thread); on each CPU the first fd owns the ring buffer
and the others are redirected into it (PERF_EVENT_IOC_SET_OUTPUT), so there is one buffer per CPU. Also
here: what the fds tell the file (the id index, the lost-sample counts) and the zeroed ``sample_id``
trailer of synthesized records.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
from typing import Dict, List, Sequence, Tuple

from pyperf_probe.errors import KernelError
from pyperf_probe.kernel import perf_event, ringbuf
from pyperf_probe.perfdata import synth
from pyperf_probe.perfdata.format import ReadFormat, sample_id_fields, sample_id_struct
from pyperf_probe.record.events import Event


UNSUPPORTED = (errno_mod.ENOENT, errno_mod.ENODEV, errno_mod.ENXIO, errno_mod.EOPNOTSUPP)


@dataclasses.dataclass(frozen=True)
class OpenFd:
    fd: int
    event_index: int
    cpu: int
    tid: int
    id: int


class EventFds:
    """All fds of a recording and their ring buffers. Close with ``close()`` on every path."""

    def __init__(self):
        self.fds: List[OpenFd] = []
        self.rings: List[ringbuf.RingBuffer] = []

    def open(self, events: Sequence[Event], cpus: Sequence[int], threads: Sequence[int], pages: int,
             filters: Dict[int, str], ignore_missing_threads: bool = False) -> None:
        """Open every (event, cpu, thread) fd. With ``ignore_missing_threads`` (-p) a thread that exited since
        it was listed is skipped, as perf's ``evsel->ignore_missing_thread``."""
        ring_by_cpu: Dict[int, int] = {}
        opened: Dict[Tuple[int, int, int], int] = {}  # (event, cpu, tid) -> fd, for the group members
        for index, event in enumerate(events):
            leader = getattr(event, "leader", -1)  # a group member opens with its leader's fd
            for cpu in cpus:
                for tid in threads:
                    group_fd = opened.get((leader, cpu, tid), -1) if leader >= 0 else -1
                    try:
                        fd = perf_event.open_event(event.attr, tid, cpu, group_fd, name=event.name)
                    except KernelError as exc:
                        if exc.errno == errno_mod.ESRCH and ignore_missing_threads and tid > 0:
                            continue
                        if exc.errno in UNSUPPORTED and event.attr.type != 2:
                            # perf's words and status (255) for an event this machine lacks (no PMU)
                            raise KernelError(f"Error:\nThe {event.name} event is not supported.") from None
                        raise
                    self.fds.append(OpenFd(fd, index, cpu, tid, 0))
                    opened[(index, cpu, tid)] = fd
                    if index in filters:
                        perf_event.set_filter(fd, filters[index], name=event.name)
                    if cpu in ring_by_cpu:
                        perf_event.set_output(fd, ring_by_cpu[cpu])
                    else:
                        ring_by_cpu[cpu] = fd
                        self.rings.append(ringbuf.RingBuffer(fd, pages))
        if not self.fds:
            raise KernelError("Couldn't create thread/CPU maps: No such process", errno=errno_mod.ESRCH)
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


def check_pid(pid: int) -> None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise KernelError("Couldn't create thread/CPU maps: No such process", errno=errno_mod.ESRCH) from None
    except PermissionError:
        pass
