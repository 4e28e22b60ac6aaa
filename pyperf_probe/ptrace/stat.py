"""``pyperf stat`` for events defined with ``pyperf probe --ptrace``: every hit counted by the tracer, in
the workload and every process and thread it starts (or in the processes of -p/-t), printed as perf stat
prints a uprobe's count (stat/display.py). With -t only the threads named are counted (all of the
process is traced: a thread left untraced would die of an int3)."""
from __future__ import annotations

import os
import resource
import signal
import sys
import time
from typing import List, Sequence

from pyperf_probe.errors import KernelError, UsageError
from pyperf_probe.ptrace import store
from pyperf_probe.ptrace.engine import Engine, Sink


class CountSink(Sink):
    def __init__(self, nr_events: int, only_tids=None):
        self.counts = [0] * nr_events
        self.only = set(only_tids) if only_tids else None

    def entry(self, thread, site, regs, bp) -> None:
        if self.only is None or thread.tid in self.only:
            self.counts[site.index] += 1

    def ret(self, thread, site, regs, func, ret_ip) -> None:
        if self.only is None or thread.tid in self.only:
            self.counts[site.index] += 1


def run(specs: Sequence[str], target, repeat: int = 1):
    """Count the ptrace events of ``specs`` ``repeat`` times on ``target`` (stat.runner.Target); returns a
    stat.runner.Result."""
    from pyperf_probe.stat.display import CounterLine
    from pyperf_probe.stat.runner import Result
    from pyperf_probe.stat.stats import Stats, rel_stddev
    if target.system_wide and not target.argv:
        raise UsageError("  Error: ptrace events are counted per process: give a command, -p PID or -t TID.")
    missing = store.unmatched(specs)
    if missing:
        raise UsageError(f"  Error: '{missing[0]}' is not a ptrace event: ptrace events cannot be counted "
                         "with tracefs events.")
    selected = store.select(specs)
    stats = [Stats() for _ in selected]
    elapsed: List[float] = []
    status, last, rusage = 0, [], None
    for _ in range(repeat):
        status, last, seconds, rusage = _run_once(selected, target)
        elapsed.append(seconds)
        for s, value in zip(stats, last):
            s.update(value)
    ns = int(elapsed[-1] * 1e9) or 1
    lines = []
    for (name, _), s, value in zip(selected, stats, last):
        mean = value if repeat == 1 else int(s.mean + 0.5)
        noise = None if repeat == 1 else rel_stddev(s.stddev(), mean)
        lines.append(CounterLine(name, mean, ns, ns, noise))
    show_rusage = repeat == 1 and bool(target.argv) and not target.attached
    return Result(status, lines, elapsed, rusage if show_rusage else None)


def _run_once(selected, target):
    from pyperf_probe.ptrace.events import make_events
    from pyperf_probe.ptrace.record import _sites
    from pyperf_probe.record.workload import Workload
    events = make_events(selected)
    only = set(target.tids) if target.tids and not target.pids else None
    sink = CountSink(len(events), only)
    engine = Engine(_sites(events), sink)
    workload = None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        engine.catch_signals()
        if target.argv:
            workload = Workload(list(target.argv))
            engine.spawn(workload.pid)
            err = workload.start()
            if err is not None:
                raise KernelError(f"Workload failed: {os.strerror(err)}", errno=1)
        else:
            for pid in _pids(target):
                engine.attach(pid)
        engine.run(lambda: not engine.roots_alive())
    except BaseException:
        engine.shutdown()
        if workload is not None and workload.pid not in engine.root_status:
            workload.kill(signal.SIGKILL if workload._go_w < 0 else signal.SIGTERM)
            workload.cancel() if workload._go_w >= 0 else workload.wait()
        raise
    seconds = time.monotonic() - t0
    status = 0
    if workload is not None:
        if engine.stop_signal is not None and workload.pid not in engine.root_status:
            workload.kill(signal.SIGTERM)
        raw = engine.root_status.get(workload.pid)
        workload.status = raw if raw is not None else workload.wait()
        status = _exit_status(target.argv, workload.status)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for text in engine.warnings:
        sys.stderr.write(f"Warning: {text}\n")
    return status, sink.counts, seconds, (after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)


def _pids(target) -> List[int]:
    from pyperf_probe.perfdata.synth import thread_group
    out = list(target.pids)
    for tid in target.tids:
        pid = thread_group(tid)
        if pid is None:
            raise KernelError("Problems finding threads of monitor", errno=3)
        if pid not in out:
            out.append(pid)
    return out


def _exit_status(argv, status: int) -> int:
    from pyperf_probe.stat.runner import _exit_status as perf_status
    return perf_status(argv, status)
