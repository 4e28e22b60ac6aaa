"""The runs of ``pyperf stat`` (perf 6.1 builtin-stat.c ``__run_perf_stat`` and ``dispatch_events``): open the
counters on the target, start the command (or wait for Ctrl-C / the end of the attached process), read,
aggregate (stat/aggr.py) and turn the counts into the lines perf prints, with their metrics
(stat/shadow.py).

A command is started held until its counters are open (stat/spawn.py), so ``enable_on_exec`` counts from
its first instruction; with ``-a``/``-p``/``-t`` the counters are enabled by ioctl. The clock starts
once the command is let go (``t0`` after ``evlist__start_workload``) and stops after the counters are
disabled. SIGINT ends the counting and the counts are still printed, as perf does (the command, in the same
process group, gets it too); SIGTERM ends pyperf stat at once, as it ends perf stat.

Under ``-r N`` perf prints the last run's counts, with their noise over the runs relative to that count;
the metrics divide by the mean elapsed time and by the mean of every clock reading of the runs.

Under ``-I MS`` the counts since the previous interval are printed every MS milliseconds (when perf's
``poll`` times out), and once more when a signal cuts the wait short: the command's exit (SIGCHLD), Ctrl-C.
That exit ends the printing for good: perf's SIGCHLD handler sets its ``done`` flag, which later ``-r`` runs
find set (they run, unprinted). An attached process that is gone is noticed at the next interval, or within
a second without -I.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import select
import signal
import sys
import time
from typing import Callable, List, Optional, Sequence, Tuple

from pyperf_probe.errors import KernelError
from pyperf_probe.stat import aggr as aggr_mod
from pyperf_probe.stat.aggr import GLOBAL, NONE, THREAD, Label
from pyperf_probe.stat.counting import ZERO, RawCount, scale

POLL_MS = 1000      # perf checks once a second whether an attached process is still alive


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
class Mode:
    """How counts are gathered and shown: the aggregation (stat/aggr.py) and ``-I``'s period (0: none)."""

    aggr: str = GLOBAL
    interval_ms: int = 0


@dataclasses.dataclass(frozen=True)
class Result:
    """The exit status of the command, the counter lines, the elapsed time of each run, and the command's
    (user, sys) seconds when perf shows them (one run of a command it started); ``reraise``: the signal
    perf kills itself with once it has printed (SIGINT that stopped a count without a command), or 0."""

    status: int
    lines: list
    elapsed: List[float]
    rusage: Optional[Tuple[float, float]]
    reraise: int = 0


@dataclasses.dataclass(frozen=True)
class Agg:
    """An event's counts summed over the places of one aggregate: value (scaled per place), enabled and
    running times, and how many places gave a reading."""

    value: int
    ena: int
    run: int
    nr: int


class Layout:
    """The aggregates of a run: for each place (pid, cpu) the index of its aggregate, and each aggregate's
    label; places without any counter (a thread gone before its counters opened) belong to none."""

    def __init__(self, mode: str, places: Sequence[Tuple[int, int]], present: Sequence[bool]):
        self.mode = mode
        self.of_place: List[Optional[int]] = [None] * len(places)
        self.labels: List[Label] = []
        self.cpus: List[int] = []      # per aggregate: how many places it holds
        self.keys: List[Tuple[int, int, int, int]] = []    # per CPU aggregate: (node, socket, die, core)
        if mode == GLOBAL:
            self.labels, self.cpus = [aggr_mod.NO_LABEL], [sum(present)]
            self.of_place = [0 if ok else None for ok in present]
        elif mode == THREAD:
            for p, ((tid, _), ok) in enumerate(zip(places, present)):
                if ok:
                    self.of_place[p] = len(self.labels)
                    self.labels.append(aggr_mod.thread_label(aggr_mod.thread_comm(tid), tid))
                    self.cpus.append(1)
        else:
            topo = aggr_mod.topology([cpu for _, cpu in places])
            key_of = [aggr_mod.cpu_key(mode, topo[cpu]) for _, cpu in places]
            self.keys = keys = sorted(set(k for k, ok in zip(key_of, present) if ok))
            for p, (k, ok) in enumerate(zip(key_of, present)):
                if ok:
                    self.of_place[p] = keys.index(k)
            self.cpus = [sum(1 for k, ok in zip(key_of, present) if ok and k == key) for key in keys]
            self.labels = [aggr_mod.cpu_label(mode, key, n) for key, n in zip(keys, self.cpus)]

    def __len__(self) -> int:
        return len(self.labels)

    def aggregate(self, readings: Sequence[Optional[RawCount]]) -> List[Agg]:
        """One event's readings at each place, summed per aggregate (each place's value scaled first)."""
        sums = [[0, 0, 0, 0] for _ in self.labels]
        for p, c in enumerate(readings):
            a = self.of_place[p]
            if a is None or c is None:
                continue
            s = sums[a]
            s[0] += scale(c)
            s[1] += c.ena
            s[2] += c.run
            s[3] += 1
        return [Agg(*s) for s in sums]


def run(events: Sequence[Tuple[str, object]], target: Target, repeat: int = 1, mode: Mode = Mode(),
        on_interval: Optional[Callable[[int, list], None]] = None) -> Result:
    """Count ``events`` ((name, Evsel) pairs, or (name, tracepoint id)) ``repeat`` times on ``target``;
    under ``-I`` each interval's lines go to ``on_interval(ns since the start, lines)``."""
    from pyperf_probe.stat.shadow import NsecStats
    from pyperf_probe.stat.stats import Stats, rel_stddev

    stats = [Stats() for _ in events]
    elapsed: List[float] = []
    nsecs: Optional[NsecStats] = None
    status, rusage, last = 0, None, None
    with _StopFlag() as flag:
        for _ in range(repeat):
            status, layout, aggs, supported, seconds, rusage = _run_once(events, target, mode, on_interval, flag)
            elapsed.append(seconds)
            if nsecs is None or len(nsecs.n) != len(layout):
                nsecs = NsecStats(len(layout))
            _update_nsecs(nsecs, events, aggs, supported)
            for s, per_aggr in zip(stats, aggs):
                s.update(per_aggr[0].value if mode.aggr == GLOBAL and per_aggr else 0)
            last = (layout, aggs, supported)
    layout, aggs, supported = last
    if repeat == 1:
        noise = [None] * len(events)
    elif mode.aggr == GLOBAL:   # perf's noise is relative to the count it prints: the last run's
        noise = [rel_stddev(s.stddev(), per_aggr[0].value) for s, per_aggr in zip(stats, aggs)]
    else:                       # perf keeps res_stats for the total only
        noise = [0.0] * len(events)
    walltime_ns = 1e9 * sum(elapsed) / len(elapsed)
    lines = counter_lines(events, layout, aggs, supported, nsecs, walltime_ns, noise,
                          skip_zero=target.system_wide and mode.aggr == THREAD)
    show_rusage = repeat == 1 and bool(target.argv) and not target.system_wide and not target.attached
    reraise = signal.SIGINT if flag.interrupted and not target.argv else 0
    return Result(status, lines, elapsed, rusage if show_rusage else None, reraise)


def _update_nsecs(nsecs, events, aggs, supported) -> None:
    from pyperf_probe.stat.shadow import is_clock
    for (_, ev), per_aggr, ok in zip(events, aggs, supported):
        if ok and is_clock(ev):
            for a, agg in enumerate(per_aggr):
                nsecs.update(a, agg.value)


def counter_lines(events, layout: Layout, aggs: List[List[Agg]], supported: Sequence[bool], nsecs,
                  walltime_ns: float, noise: Sequence[Optional[float]], skip_zero: bool = False) -> list:
    """The lines perf prints for these counts, in its order: by event (each CPU, or each thread from the
    busiest, under -A and --per-thread), by aggregate then event (per core, die, socket, node)."""
    from pyperf_probe.stat.display import CounterLine
    from pyperf_probe.stat.shadow import CLOCK_SCALE, is_clock, metric

    def line(e: int, a: int) -> CounterLine:
        (name, ev), agg = events[e], aggs[e][a]
        label = layout.labels[a]
        if not supported[e] and layout.mode not in (GLOBAL, NONE, THREAD):
            label = aggr_mod.cpu_label(layout.mode, layout.keys[a], 1)     # perf shows 1 CPU here
        clock = is_clock(ev)
        counted = supported[e] and agg.run != 0 and agg.ena != 0
        m = metric(ev, agg.value, a, nsecs, walltime_ns) if counted else None
        if clock:
            return CounterLine(name, agg.value * CLOCK_SCALE, agg.ena, agg.run, noise[e], supported[e], "msec",
                               m, 2, aggr=label)
        return CounterLine(name, agg.value, agg.ena, agg.run, noise[e], supported[e], metric=m, aggr=label)

    n = len(layout)
    if layout.mode == GLOBAL:
        return [line(e, 0) for e in range(len(events))]
    if layout.mode == NONE:
        return [line(e, a) for e in range(len(events)) for a in range(n)]
    if layout.mode == THREAD:
        out = []
        for e in range(len(events)):
            order = sorted(range(n), key=functools.cmp_to_key(lambda x, y: _cmp_val(aggs[e][x], aggs[e][y])))
            out += [line(e, a) for a in order if not (skip_zero and aggs[e][a].value == 0)]
        return out
    return [line(e, a) for a in range(n) for e in range(len(events))]


def _cmp_val(a: Agg, b: Agg) -> int:
    """``cmp_val`` of stat-display.c: ``b->val - a->val``, a u64 difference returned as an int (its low 32
    bits, signed), so counts more than 2^31 apart can sort the wrong way round, as in perf."""
    d = (b.value - a.value) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


def _places(target: Target, mode: Mode, workload) -> List[Tuple[int, int]]:
    """(pid, cpu) pairs each event is opened on."""
    from pyperf_probe.stat.counting import online_cpus, process_threads

    if target.system_wide and mode.aggr == THREAD:
        return [(tid, -1) for tid in aggr_mod.all_threads()]
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


def _run_once(events, target: Target, mode: Mode, on_interval, flag: "_StopFlag"):
    """One run: (exit status, layout, aggregates per event, supported per event, elapsed seconds, (user,
    sys) of the command)."""
    from pyperf_probe.stat.counting import Counters
    from pyperf_probe.stat.spawn import HeldCommand

    workload = HeldCommand(target.argv) if target.argv else None
    try:
        places = _places(target, mode, workload)
        if mode.aggr == THREAD and not target.system_wide:
            _warn_missing_comms(places)
        counters = Counters(events, places,
                            enable_on_exec=workload is not None and not target.system_wide
                            and not target.attached,
                            ignore_missing=bool(target.pids) or (target.system_wide and mode.aggr == THREAD))
    except BaseException:
        if workload is not None:
            workload.cancel()
        raise
    try:
        layout = Layout(mode.aggr, counters.places, counters.present())
        status, readings, seconds, rusage = _count(target, counters, workload, mode, layout, events,
                                                   on_interval, flag)
    finally:
        counters.close()
    aggs = [layout.aggregate(r) for r in readings]
    return status, layout, aggs, counters.supported, seconds, rusage


def _warn_missing_comms(places) -> None:
    """perf reads each thread's comm when it builds the thread map, and says so for one it cannot read."""
    for tid, _ in places:
        if not os.path.exists(f"/proc/{tid}/comm"):
            sys.stderr.write(f"Couldn't resolve comm name for pid {tid}\n")


def _count(target: Target, counters, workload, mode: Mode, layout: Layout, events, on_interval, flag):
    attached = workload is None or target.system_wide or target.attached
    err = workload.release() if workload is not None else None
    if err is not None:
        workload.wait()
        raise KernelError(f"Workload failed: {os.strerror(err)}", errno=1)
    if attached:
        counters.enable()
    t0 = time.monotonic_ns()
    ticker = _Ticker(counters, layout, events, mode, on_interval, t0) if mode.interval_ms else None
    with _Waiter(workload.pid if workload is not None else None) as waiter:
        if ticker is not None and on_interval is not None:
            _interval_loop(target, workload, waiter, ticker, flag, mode.interval_ms)
        elif workload is None:
            while not flag.done and _alive(target):
                waiter.wait(POLL_MS)
    status, rusage = 0, (0.0, 0.0)
    if workload is not None:
        status, rusage = _reap(target.argv, workload)
    counters.disable()
    seconds = (time.monotonic_ns() - t0) / 1e9
    return status, counters.read(), seconds, rusage


def _interval_loop(target: Target, workload, waiter: "_Waiter", ticker: "_Ticker", flag, interval_ms: int):
    """perf's dispatch_events under -I: print when the wait times out or a signal cuts it short."""
    while not flag.done:
        if workload is not None:
            if waiter.child_exited():
                break
        elif not _alive(target):
            break
        waiter.wait(interval_ms)
        ticker.tick()
        if workload is not None and waiter.child_exited():
            flag.done = True        # perf's SIGCHLD handler, under -I


def _alive(target: Target) -> bool:
    """``is_target_alive``: with -p/-t, whether one of the threads counted still exists."""
    if not target.attached:
        return True
    return any(os.path.exists(f"/proc/{i}") for i in target.pids + target.tids)


def _reap(argv, workload) -> Tuple[int, Tuple[float, float]]:
    while True:
        try:
            _, raw, ru = os.wait4(workload.pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            raw, ru = 0, None
            break
    workload.status = raw
    times = (ru.ru_utime, ru.ru_stime) if ru is not None else (0.0, 0.0)
    return _exit_status(argv, raw), times


class _Ticker:
    """Each interval's lines: the counts since the previous reading, with metrics over the interval."""

    def __init__(self, counters, layout: Layout, events, mode: Mode, emit, t0: int):
        self.counters, self.layout, self.events, self.mode, self.emit, self.t0 = \
            counters, layout, events, mode, emit, t0
        self.prev = [[ZERO] * len(counters.places) for _ in events]

    def tick(self) -> None:
        from pyperf_probe.stat.shadow import NsecStats
        ns = time.monotonic_ns() - self.t0
        now = self.counters.read()
        deltas = [[c - p if c is not None else None for c, p in zip(cur, prev)] for cur, prev in zip(now, self.prev)]
        self.prev = [[c if c is not None else p for c, p in zip(cur, prev)] for cur, prev in zip(now, self.prev)]
        aggs = [self.layout.aggregate(d) for d in deltas]
        nsecs = NsecStats(len(self.layout))
        _update_nsecs(nsecs, self.events, aggs, self.counters.supported)
        lines = counter_lines(self.events, self.layout, aggs, self.counters.supported, nsecs,
                              self.mode.interval_ms * 1e6, [None] * len(self.events))
        if self.emit is not None:
            self.emit(ns, lines)


def _exit_status(argv: Sequence[str], status: int) -> int:
    """perf returns the command's exit code; a command killed by a signal is reported as psignal does, and
    the status is then 0."""
    if os.WIFSIGNALED(status):
        sys.stderr.write(f"{argv[0]}: {signal.strsignal(os.WTERMSIG(status))}\n")
        return 0
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0


class _Waiter:
    """Sleeps as perf's ``poll`` does: until the timeout, a signal (SIGINT, SIGTERM: through Python's
    wakeup fd) or the command's exit (a pidfd standing for SIGCHLD)."""

    def __init__(self, pid: Optional[int]):
        self._pidfd = os.pidfd_open(pid) if pid is not None else -1
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._poll = select.poll()
        self._poll.register(self._r, select.POLLIN)
        if self._pidfd >= 0:
            self._poll.register(self._pidfd, select.POLLIN)
        self._old = -1

    def __enter__(self):
        self._old = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc):
        signal.set_wakeup_fd(self._old)
        for fd in (self._r, self._w, self._pidfd):
            if fd >= 0:
                os.close(fd)
        return False

    def wait(self, ms: int) -> None:
        self._poll.poll(ms)
        try:
            while os.read(self._r, 64):
                pass
        except BlockingIOError:
            pass

    def child_exited(self) -> bool:
        if self._pidfd < 0:
            return False
        return bool(select.select([self._pidfd], [], [], 0)[0])


class _StopFlag:
    """SIGINT sets ``done`` instead of raising, for the duration of the counting (perf's ``skip_signal``);
    perf's SIGCHLD handler sets it too under -I (``_interval_loop``). perf re-raises the last of these
    signals at exit (``sig_atexit``): SIGINT when no command of its own ran (a command's SIGCHLD comes
    last), so ``interrupted`` says whether to. SIGTERM is left alone: it ends perf stat on the spot."""

    def __init__(self):
        self.done = False
        self.interrupted = False
        self._old = None

    def _handler(self, signum, frame):
        self.done = True
        self.interrupted = True

    def __enter__(self):
        self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._old)
        return False
