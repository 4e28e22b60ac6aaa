"""The metrics ``perf stat`` prints beside a count (perf 6.1 stat-shadow.c ``perf_stat__print_shadow_stats``),
those that software events have:

* a clock (cpu-clock, task-clock: ``evsel__is_clock``), counted in ns and shown in msec, is followed by
  ``CPUs utilized``: the count printed (the last run's, under ``-r``) over the mean wall-clock time of the
  runs (the interval itself under ``-I``), ``avg / (walltime * scale)``;
* any other event counted beside a clock is followed by its rate: the count over the clocks' mean count in
  the same aggregate (``STAT_NSECS``, the mean of every clock reading perf saw for that CPU, core, thread or
  total, over the runs), per second, scaled by ``convert_unit_double`` to K/M/G (``"%8.3f"``, ``"K/sec"``).
  With no clock there is no metric.

The hardware metrics (insn per cycle, branch-miss ratios, ...) need counts this machine's PMU-less kernel
never gives; they are not carried.
"""
from __future__ import annotations

from typing import Optional, Tuple

SOFTWARE = 1
CLOCK_CONFIGS = (0, 1)  # PERF_COUNT_SW_CPU_CLOCK, PERF_COUNT_SW_TASK_CLOCK
CLOCK_SCALE = 1e-6      # the clocks' unit is msec


def is_clock(ev) -> bool:
    """``evsel__is_clock``: cpu-clock or task-clock, whatever the modifiers."""
    return getattr(ev, "type", None) == SOFTWARE and getattr(ev, "config", None) in CLOCK_CONFIGS


def convert_unit(value: float) -> Tuple[float, str]:
    """util/units.c ``convert_unit_double``: K, then M, then G while the value is above 1000."""
    unit = ""
    for letter in "KMG":
        if value > 1000.0:
            value /= 1000.0
            unit = letter
    return value, unit


class NsecStats:
    """perf's ``STAT_NSECS`` runtime stat: for each aggregate, the running mean of the clock counts seen."""

    def __init__(self, nr_aggr: int):
        self.n = [0] * nr_aggr
        self.mean = [0.0] * nr_aggr

    def update(self, aggr: int, ns: float) -> None:
        self.n[aggr] += 1
        self.mean[aggr] += (ns - self.mean[aggr]) / self.n[aggr]


def metric(ev, value: float, aggr: int, nsecs: NsecStats, walltime_ns: float) -> Optional[Tuple[float, str]]:
    """The metric of ``ev``'s count ``value`` (ns for a clock) in aggregate ``aggr``, or None (blank)."""
    if is_clock(ev):
        if not walltime_ns:
            return None
        return (value / walltime_ns, "CPUs utilized")
    if nsecs.n[aggr]:
        total = nsecs.mean[aggr]
        ratio, letter = convert_unit(1e9 * value / total) if total else (0.0, "")
        return (ratio, letter + "/sec")
    return None
