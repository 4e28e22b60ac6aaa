"""Running mean and standard deviation over ``-r`` runs, as perf computes them (tools/perf/util/stat.c:
Welford's update, ``stddev_stats`` is the standard deviation *of the mean*, ``rel_stddev_stats`` a percentage)."""
from __future__ import annotations

import math


class Stats:
    """``struct stats``: n, mean, M2."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def update(self, value: float) -> None:
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    def stddev(self) -> float:
        """s / sqrt(n), with s^2 = M2 / (n - 1); 0 for fewer than two values."""
        if self.n < 2:
            return 0.0
        return math.sqrt(self.m2 / (self.n - 1) / self.n)


def rel_stddev(stddev: float, avg: float) -> float:
    """The noise as a percentage of ``avg`` (0 when ``avg`` is 0)."""
    return 100.0 * stddev / avg if avg else 0.0
