"""Counters for ``pyperf stat``: one ``perf_event_open`` per event and per place (a thread, or a CPU), read
as perf 6.1's ``create_perf_stat_counter`` and ``read_counters`` do.

The attrs are ``events.config.stat_attr``'s: no sample period (pure counting), read_format
TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING, disabled and (for a command perf starts) enable_on_exec on group
leaders, inherit. The events of a group (``{a,b}``) are opened with their leader's fd at each place and read
in one ``read()`` of the leader (read_format ID|GROUP added, as perf does), so that they count over the same
time. With ``-a`` the counters are per CPU (pid -1) and enabled by ioctl; with ``-p`` per thread of the
process.

An event the kernel does not have (no PMU for cycles) has no fds and reads as not supported, as in perf stat.
A group whose member the kernel lacks still opens, but the leader's group read returns fewer values than
the group has: perf then fails to read the group, and its other events print as not counted. A group whose
leader the kernel lacks stops the run with perf's "Error: The cycles event is not supported."

Values are raw here (``RawCount`` per event and place); ``scale`` applies perf's multiplexing correction
(tools/lib/perf/evsel.c ``perf_counts_values__scale``) to one place's value before aggregates are summed.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
from typing import List, Optional, Sequence, Tuple

from pyperf_probe.errors import KernelError
from pyperf_probe.kernel import perf_event
from pyperf_probe.perfdata.format import ReadFormat

UNSUPPORTED_ERRNOS = (errno_mod.ENOENT, errno_mod.ENODEV, errno_mod.ENXIO, errno_mod.EOPNOTSUPP,
                      errno_mod.EINVAL, errno_mod.ENOSYS)
TRACEPOINT = 2


@dataclasses.dataclass(frozen=True)
class RawCount:
    """One fd's reading (or the difference of two readings): value, time enabled, time running (ns)."""

    value: int
    ena: int
    run: int

    def __sub__(self, other: "RawCount") -> "RawCount":
        return RawCount(self.value - other.value, self.ena - other.ena, self.run - other.run)


ZERO = RawCount(0, 0, 0)


def scale(c: RawCount) -> int:
    """``perf_counts_values__scale``: a counter that never ran counts 0; one that ran part of the time it
    was enabled (multiplexed) is extrapolated, value * ena / run in double precision, truncated."""
    if c.run == 0:
        return 0
    if c.run < c.ena:
        return int(c.value * c.ena / c.run)
    return c.value


def online_cpus() -> List[int]:
    """``/sys/devices/system/cpu/online`` ("0-3,6") as a list."""
    from pyperf_probe.stat.aggr import parse_cpu_list
    with open("/sys/devices/system/cpu/online") as f:
        return parse_cpu_list(f.read())


def process_threads(pid: int) -> List[int]:
    """The thread ids of a process (``/proc/PID/task``), sorted; a KernelError if there is no such process."""
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise KernelError(f"Couldn't create thread/CPU maps: No such process (pid {pid})",
                          errno=3) from None


def _event_attr(ev, enable_on_exec: bool, in_group: bool):
    from pyperf_probe.events.config import stat_attr
    from pyperf_probe.perfdata.format import AttrFlag, AttrType, EventAttr, SampleType
    if isinstance(ev, int):     # a bare tracepoint id
        flags = AttrFlag.DISABLED | AttrFlag.INHERIT | AttrFlag.EXCLUDE_GUEST
        if enable_on_exec:
            flags |= AttrFlag.ENABLE_ON_EXEC
        return EventAttr(type=AttrType.TRACEPOINT, config=ev, sample_period=0,
                         sample_type=int(SampleType.IDENTIFIER),
                         read_format=int(ReadFormat.TOTAL_TIME_ENABLED | ReadFormat.TOTAL_TIME_RUNNING),
                         flags=int(flags))
    return stat_attr(ev, enable_on_exec, group=in_group)


def _open(attr, pid: int, cpu: int, group_fd: int, name: str) -> int:
    """perf_event_open; out of fds (-a --per-thread opens one per thread), the soft limit goes up to the hard
    one and the open is tried again, as perf's ``rlimit__increase_nofile``."""
    try:
        return perf_event.open_event(attr, pid, cpu, group_fd, name=name)
    except KernelError as exc:
        if exc.errno != errno_mod.EMFILE:
            raise
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft >= hard:
            raise
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return perf_event.open_event(attr, pid, cpu, group_fd, name=name)


class Counters:
    """The fds of every event at every place. ``events`` are (name, Evsel) pairs (or (name, tracepoint
    id)); ``places`` (pid, cpu) pairs. ``ignore_missing`` drops a thread that exits while the counters open
    (perf's ``ignore_missing_thread`` for -p and -a --per-thread): ``places`` then keeps those that opened."""

    def __init__(self, events: Sequence[Tuple[str, object]], places: Sequence[Tuple[int, int]],
                 enable_on_exec: bool, ignore_missing: bool = False):
        self.names = [name for name, _ in events]
        self.places = list(places)
        self._evsels = [ev for _, ev in events]
        self._leader = [getattr(ev, "leader", -1) for ev in self._evsels]
        self._group_size = [1] * len(events)
        for i, lead in enumerate(self._leader):
            if lead >= 0:
                self._group_size[lead] += 1
        self._fds: List[List[Optional[int]]] = []
        self.supported: List[bool] = []
        self._gone: set = set()
        try:
            for i, (name, ev) in enumerate(events):
                self._open_event(i, name, ev, enable_on_exec, ignore_missing)
        except BaseException:
            self.close()
            raise
        self.readable = self._readable()

    def _in_group(self, i: int) -> bool:
        lead = self._leader[i] if self._leader[i] >= 0 else i
        return self._group_size[lead] > 1

    def _open_event(self, i: int, name: str, ev, enable_on_exec: bool, ignore_missing: bool) -> None:
        attr = _event_attr(ev, enable_on_exec, self._in_group(i))
        lead = self._leader[i]
        fds: List[Optional[int]] = []
        for p, (pid, cpu) in enumerate(self.places):
            group_fd = -1
            if lead >= 0:
                group_fd = self._fds[lead][p] if self.supported[lead] else -1
            try:
                fds.append(_open(attr, pid, cpu, group_fd, name))
            except KernelError as exc:
                if exc.errno == errno_mod.ESRCH and ignore_missing:
                    fds.append(None)        # the thread is gone: perf drops it from the map
                    self._gone.add(p)
                    continue
                for fd in fds:
                    if fd is not None:
                        perf_event.close(fd)
                if exc.errno == errno_mod.ESRCH:     # perf stat words it as any other failed open
                    err = KernelError(f"Error:\nThe sys_perf_event_open() syscall returned with {exc.errno} "
                                      f"({os.strerror(exc.errno)}) for event ({name}).\n"
                                      "/bin/dmesg | grep -i perf may provide additional information.\n\n")
                    err.verbatim = True
                    raise err from None
                if exc.errno in UNSUPPORTED_ERRNOS and attr.type != TRACEPOINT:
                    if lead < 0 and self._group_size[i] > 1:
                        raise KernelError(f"Error:\nThe {name} event is not supported.") from None
                    self._fds.append([])
                    self.supported.append(False)
                    return
                raise
        self._fds.append(fds)
        self.supported.append(True)

    def present(self) -> List[bool]:
        """For each place, whether it is still counted (not a thread that was gone when its counters
        opened)."""
        return [p not in self._gone for p in range(len(self.places))]

    def _readable(self) -> List[bool]:
        """Whether each event's counts can be read: not when a member of its group failed to open."""
        broken = {self._leader[i] for i, ok in enumerate(self.supported) if not ok and self._leader[i] >= 0}
        return [ok and (i if self._leader[i] < 0 else self._leader[i]) not in broken
                for i, ok in enumerate(self.supported)]

    def enable(self) -> None:
        for i, fds in enumerate(self._fds):
            if self._leader[i] < 0:
                for fd in fds:
                    if fd is not None:
                        perf_event.enable(fd)

    def disable(self) -> None:
        for i, fds in enumerate(self._fds):
            if self._leader[i] < 0:
                for fd in fds:
                    if fd is not None:
                        perf_event.disable(fd)

    def read(self) -> List[List[Optional[RawCount]]]:
        """Each event's reading at each place; None where there is no counter (not supported, a thread
        that was gone, a group that cannot be read)."""
        out: List[List[Optional[RawCount]]] = [[None] * len(self.places) for _ in self._fds]
        for i, fds in enumerate(self._fds):
            if not self.readable[i] or self._leader[i] >= 0:
                continue
            members = [i] + [j for j, lead in enumerate(self._leader) if lead == i]
            for p, fd in enumerate(fds):
                if fd is None:
                    continue
                if self._in_group(i):
                    counts = perf_event.read_group(fd, self._read_format(i), len(members))
                    for j, c in zip(members, counts):
                        out[j][p] = RawCount(c.value, c.time_enabled or 0, c.time_running or 0)
                else:
                    c = perf_event.read_count(fd, self._read_format(i))
                    out[i][p] = RawCount(c.value, c.time_enabled or 0, c.time_running or 0)
        return out

    def _read_format(self, i: int) -> int:
        rf = ReadFormat.TOTAL_TIME_ENABLED | ReadFormat.TOTAL_TIME_RUNNING
        if self._in_group(i):
            rf |= ReadFormat.ID | ReadFormat.GROUP
        return int(rf)

    def close(self) -> None:
        for fds in self._fds:
            for fd in fds:
                if fd is not None:
                    perf_event.close(fd)
        self._fds = []
