"""The runs of ``pyperf stat`` (tools/perf/builtin-stat.c ``run_perf_stat``): open the counters on the target,
start the command (or wait for Ctrl-C / the end of the attached process), read, and over ``-r`` runs average
the counts and measure their noise.

A command is forked and held until its counters are open (``record.workload``), so ``enable_on_exec`` counts
from its first instruction; with ``-a``/``-p``/``-t`` the counters are enabled by ioctl. SIGINT and SIGTERM
end the counting and the counts are still printed, as perf does (the command, in the same process group, gets
them too).
"""
from __future__ import annotations

import dataclasses
import os
import resource
import signal
import sys
import time
from typing import List, Optional, Sequence, Tuple

from pyperf_probe.errors import KernelError

POLL_SECONDS = 0.1      # perf checks once a second whether an attached process is still alive


class NoThreads(KernelError):
    """-p names a process that has no threads (perf: "Problems finding threads of monitor")."""


@dataclasses.dataclass(frozen=True)
class Target:
    """What is counted: a command pyperf starts, all CPUs (-a), processes (-p) or threads (-t)."""

    argv: Tuple[str, ...] = ()
    system_wide: bool = False
    pids: Tuple[int, ...] = ()
    tids: Tuple[int, ...] = ()

    @property
    def attached(self) -> bool:
        return bool(self.pids or self.tids)


@dataclasses.dataclass(frozen=True)
class Result:
    """The exit status of the command, the counter lines, the elapsed time of each run, and the command's
    (user, sys) seconds when perf shows them (one run of a command it started)."""

    status: int
    lines: list
    elapsed: List[float]
    rusage: Optional[Tuple[float, float]]


def run(events: Sequence[Tuple[str, int]], target: Target, repeat: int = 1) -> Result:
    """Count ``events`` ((name, Evsel) pairs, or (name, tracepoint id)) ``repeat`` times on ``target``."""
    from pyperf_probe.stat.display import CounterLine
    from pyperf_probe.stat.stats import Stats, rel_stddev

    stats = [Stats() for _ in events]
    elapsed: List[float] = []
    status, last, rusage = 0, [], None
    for _ in range(repeat):
        status, last, seconds, rusage = _run_once(events, target)
        elapsed.append(seconds)
        for s, r in zip(stats, last):
            s.update(r.value)
    lines = []
    values = [r.value if repeat == 1 else int(s.mean + 0.5) for s, r in zip(stats, last)]
    clocks = [v for (_, ev), v, r in zip(events, values, last) if _is_clock(ev) and r.supported and r.run]
    walltime_ns = 1e9 * sum(elapsed) / len(elapsed)
    for (name, ev), s, r, value in zip(events, stats, last, values):
        # perf prints the mean rounded to a count, and the noise relative to that count
        noise = None if repeat == 1 else rel_stddev(s.stddev(), value)
        if _is_clock(ev):
            metric = (value / walltime_ns, "CPUs utilized") if walltime_ns else None
            lines.append(CounterLine(name, value / 1e6, r.ena, r.run, noise, r.supported, "msec", metric, 2))
        else:
            metric = _rate(value, sum(clocks) / len(clocks)) if clocks else None
            lines.append(CounterLine(name, value, r.ena, r.run, noise, r.supported, metric=metric))
    show_rusage = repeat == 1 and bool(target.argv) and not target.system_wide and not target.attached
    return Result(status, lines, elapsed, rusage if show_rusage else None)


def _is_clock(ev) -> bool:
    """cpu-clock and task-clock (perf's ``evsel__is_clock``): counted in ns, shown in msec."""
    return getattr(ev, "type", None) == 1 and getattr(ev, "config", None) in (0, 1) and ev.name not in (
        "duration_time", "user_time", "system_time")


def _rate(value: float, clock_ns: float):
    """perf's "/sec" metric of an event counted beside a clock: events per second of the clocks' mean,
    with perf's K/M/G (``convert_unit_double``)."""
    if not clock_ns:
        return (0.0, "/sec")
    ratio, unit = 1e9 * value / clock_ns, ""
    for scale, letter in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if ratio > scale:
            ratio, unit = ratio / scale, letter
            break
    return (ratio, unit + "/sec")


def _places(target: Target, workload) -> List[Tuple[int, int]]:
    """(pid, cpu) pairs each event is opened on."""
    from pyperf_probe.stat.counting import online_cpus, process_threads

    if target.system_wide:
        return [(-1, cpu) for cpu in online_cpus()]
    if target.pids:
        try:
            return [(tid, -1) for pid in target.pids for tid in process_threads(pid)]
        except KernelError as exc:
            raise NoThreads(exc.message, errno=exc.errno) from None
    if target.tids:
        return [(tid, -1) for tid in target.tids]       # a dead tid: perf_event_open says so
    return [(workload.pid, -1)]


def _run_once(events, target: Target):
    """One run: (exit status, readings, elapsed seconds, (user, sys) of the command)."""
    from pyperf_probe.record.workload import Workload
    from pyperf_probe.stat.counting import Counters

    workload = Workload(list(target.argv)) if target.argv else None
    try:
        counters = Counters(events, _places(target, workload), enable_on_exec=workload is not None
                            and not target.system_wide and not target.attached)
    except BaseException:
        if workload is not None:
            workload.cancel()
        raise
    try:
        return _count(target, counters, workload)
    finally:
        counters.close()


def _count(target: Target, counters, workload):
    with _StopFlag() as stop:
        if workload is None or target.system_wide or target.attached:
            counters.enable()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        status = 0
        if workload is not None:
            err = workload.start()
            if err is not None:
                workload.wait()
                raise KernelError(f"Workload failed: {os.strerror(err)}", errno=1)
            status = _exit_status(target.argv, workload.wait())
        else:
            _wait(target, stop)
        seconds = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        counters.disable()
        readings = counters.read()
    return status, readings, seconds, (after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)


def _exit_status(argv: Sequence[str], status: int) -> int:
    """perf returns the command's exit code; a command killed by a signal is reported as psignal does, and
    the status is then 0."""
    if os.WIFSIGNALED(status):
        sys.stderr.write(f"{argv[0]}: {signal.strsignal(os.WTERMSIG(status))}\n")
        return 0
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0


def _wait(target: Target, stop: "_StopFlag") -> None:
    """No command: until Ctrl-C, or until every attached process or thread is gone."""
    alive = [f"/proc/{i}" for i in target.pids + target.tids]
    while not stop.stopped:
        time.sleep(POLL_SECONDS)
        if alive and not any(os.path.exists(p) for p in alive):
            return


class _StopFlag:
    """SIGINT/SIGTERM set ``stopped`` instead of raising, for the duration of the counting."""

    def __init__(self):
        self.stopped = False
        self._old = {}

    def _handler(self, signum, frame):
        self.stopped = True

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False
