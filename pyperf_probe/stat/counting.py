"""Counters for ``pyperf stat``: one ``perf_event_open`` per event and per thread or CPU, read at the end.

The attrs are perf 6.1's for ``perf stat -e TRACEPOINT`` (``perf stat -vv``): type TRACEPOINT, no sample
period (pure counting), sample_type IDENTIFIER, read_format TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING,
disabled, inherit, exclude_guest, and enable_on_exec when counting a command perf starts. With ``-a`` the
counters are per CPU (pid -1) and enabled by ioctl; with ``-p`` per thread of the process.

Each fd's reading is scaled on its own when the kernel multiplexed it (``run < ena``: value * ena / run,
truncated, tools/lib/perf/evsel.c ``perf_counts_values__scale``), then the fds of an event are summed
(AGGR_GLOBAL).
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
from typing import List, Sequence, Tuple

from pyperf_probe.errors import KernelError
from pyperf_probe.kernel import perf_event
from pyperf_probe.perfdata.format import AttrFlag, AttrType, EventAttr, ReadFormat, SampleType

READ_FORMAT = ReadFormat.TOTAL_TIME_ENABLED | ReadFormat.TOTAL_TIME_RUNNING


@dataclasses.dataclass(frozen=True)
class Reading:
    """An event's total over its fds: value (scaled per fd), time enabled and time running (ns)."""

    value: int
    ena: int
    run: int
    supported: bool = True


def counting_attr(config: int, enable_on_exec: bool) -> EventAttr:
    flags = AttrFlag.DISABLED | AttrFlag.INHERIT | AttrFlag.EXCLUDE_GUEST
    if enable_on_exec:
        flags |= AttrFlag.ENABLE_ON_EXEC
    return EventAttr(type=AttrType.TRACEPOINT, config=config, sample_period=0,
                     sample_type=int(SampleType.IDENTIFIER), read_format=int(READ_FORMAT), flags=int(flags))


def online_cpus() -> List[int]:
    """``/sys/devices/system/cpu/online`` ("0-3,6") as a list."""
    with open("/sys/devices/system/cpu/online") as f:
        text = f.read().strip()
    cpus: List[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def process_threads(pid: int) -> List[int]:
    """The thread ids of a process (``/proc/PID/task``), sorted; a KernelError if there is no such process."""
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise KernelError(f"Couldn't create thread/CPU maps: No such process (pid {pid})",
                          errno=3) from None


UNSUPPORTED_ERRNOS = (errno_mod.ENOENT, errno_mod.ENODEV, errno_mod.ENXIO, errno_mod.EOPNOTSUPP)


class Counters:
    """The fds of every event on one target: ``places`` are (pid, cpu) pairs opened for each event. An
    event is an ``events.Evsel`` (any kind perf's grammar names) or, as before, a tracepoint id. An event the
    kernel does not have (no PMU for cycles) has no fds and reads as not supported, as in perf stat."""

    def __init__(self, events: Sequence[Tuple[str, object]], places: Sequence[Tuple[int, int]],
                 enable_on_exec: bool):
        from pyperf_probe.events.config import stat_attr
        self.names = [name for name, _ in events]
        self._fds: List[List[int]] = []
        self.supported: List[bool] = []
        try:
            for name, ev in events:
                attr = counting_attr(ev, enable_on_exec) if isinstance(ev, int) else stat_attr(ev, enable_on_exec)
                self._fds.append(self._open(attr, name, places))
                self.supported.append(bool(self._fds[-1]) or not places)
        except KernelError:
            self.close()
            raise

    @staticmethod
    def _open(attr, name: str, places) -> List[int]:
        fds: List[int] = []
        for pid, cpu in places:
            try:
                fds.append(perf_event.open_event(attr, pid, cpu, name=name))
            except KernelError as exc:
                if exc.errno in UNSUPPORTED_ERRNOS and attr.type != 2:  # a missing tracepoint is an error
                    for fd in fds:
                        perf_event.close(fd)
                    return []
                for fd in fds:
                    perf_event.close(fd)
                raise
        return fds

    def enable(self) -> None:
        for fds in self._fds:
            for fd in fds:
                perf_event.enable(fd)

    def disable(self) -> None:
        for fds in self._fds:
            for fd in fds:
                perf_event.disable(fd)

    def read(self) -> List[Reading]:
        out = []
        for fds, supported in zip(self._fds, self.supported):
            if not supported:
                out.append(Reading(0, 0, 0, False))
                continue
            value = ena = run = 0
            for fd in fds:
                c = perf_event.read_count(fd, int(READ_FORMAT))
                value += _scaled(c.value, c.time_enabled or 0, c.time_running or 0)
                ena += c.time_enabled or 0
                run += c.time_running or 0
            out.append(Reading(value, ena, run))
        return out

    def close(self) -> None:
        for fds in self._fds:
            for fd in fds:
                perf_event.close(fd)
        self._fds = []


def _scaled(value: int, ena: int, run: int) -> int:
    if run == 0:
        return 0
    if run < ena:
        return int(value * ena / run)
    return value
