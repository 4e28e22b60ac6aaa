"""``perf stat``'s text, byte for byte (tools/perf/util/stat-display.c of perf 6.1, checked against the
binary): the header, one line per counter, the footer with elapsed, user and sys times; and ``-x SEP``.

Default layout of a counter line (tracepoints have an empty unit)::

    [TIME " "] [AGGR] "%'18.0f " COUNT   "%-4s " UNIT   "%-32s" NAME   35 spaces (no metric)   ["  ( +-%6.2f%% )" NOISE]
    (a counter that never ran: "%18s " "<not counted>", its unit all the same, the name padded to 25 only)
    ["  (%.2f%%)" RUNNING, when the counter ran less than it was enabled]

``-x SEP``: ``[TIME SEP] [AGGR SEP] COUNT SEP UNIT SEP NAME [SEP NOISE%] SEP RUN_NS SEP PCT SEP SEP`` where PCT
is ``100 * run / ena`` in integer arithmetic, as perf computes it. Numbers follow the locale's LC_NUMERIC
(perf calls ``setlocale(LC_ALL, "")`` and prints counts with ``%'``: thousands grouping where the locale has it).

AGGR is the aggregate's column (stat/aggr.py: ``CPU0``, ``S0-D0-C1  1``, ``comm-pid``); TIME, under ``-I``, is
print_interval's ``"%6lu.%09lu"`` of the time since the counting began, and each interval's lines come after
the column header (standard layout only), which perf repeats every 25 intervals.
"""
from __future__ import annotations

import dataclasses
import locale
import math
from typing import List, Optional, Sequence, Tuple

from pyperf_probe.stat.aggr import INTERVAL_HEADERS, NO_LABEL, Label

NOT_COUNTED = "<not counted>"
NOT_SUPPORTED = "<not supported>"
UNIT_WIDTH = 4          # stat_config.unit_width
NAME_WIDTH = 32
NAME_WIDTH_NOT_COUNTED = 25     # perf 6.1 pads the name less on a <not counted> line (measured)
METRIC_WIDTH = 35       # the blank metric column of an event without shadow metrics


@dataclasses.dataclass(frozen=True)
class CounterLine:
    """One counter to print: the (averaged) value, the last run's enabled/running times, the noise over
    ``-r`` runs in percent (None for one run), and whether the kernel counted it at all."""

    name: str
    value: int
    ena: int
    run: int
    noise_pct: Optional[float] = None
    supported: bool = True
    unit: str = ""
    metric: Optional[Tuple[float, str]] = None  # perf's shadow metric: (value, "CPUs utilized" or "K/sec")
    decimals: int = 0  # 2 for the clocks, shown in msec
    aggr: Label = NO_LABEL  # the aggregate's column (a CPU, core, socket, thread), empty for the total

    @property
    def counted(self) -> bool:
        return self.run != 0 and self.ena != 0 and self.supported


def _fmt(fmt: str, value: float, grouping: bool = False) -> str:
    return locale.format_string(fmt, value, grouping=grouping)


def header(target: str, runs: int) -> str:
    """``\\n Performance counter stats for 'TARGET'[ (N runs)]:\\n\\n`` (TARGET already quoted by caller's
    choice of words: a command line, ``system wide`` or ``process id 'PID``)."""
    text = f"\n Performance counter stats for {target}'"
    if runs > 1:
        text += f" ({runs} runs)"
    return text + ":\n\n"


def target_text(argv: Sequence[str], system_wide: bool, pid: Optional[str], tid: Optional[str] = None) -> str:
    """What perf's ``print_header`` names: the command, 'system wide', process id 'PID' or thread id 'TID'."""
    if system_wide:
        return "'system wide"
    if pid is not None:
        return f"process id '{pid}"
    if tid is not None:
        return f"thread id '{tid}"
    return "'" + " ".join(argv)


def counter_line(c: CounterLine, prefix: str = "") -> str:
    text = prefix + c.aggr.std
    if c.counted:
        text += _fmt(f"%18.{c.decimals}f", c.value, grouping=True) + " "
    else:
        text += "%18s " % (NOT_COUNTED if c.supported else NOT_SUPPORTED)
    text += "%-*s " % (UNIT_WIDTH, c.unit)
    text += "%-*s" % (NAME_WIDTH if c.counted else NAME_WIDTH_NOT_COUNTED, c.name)
    if c.counted and c.metric is not None:  # print_metric_std: " # ", "%8.3f", " %-*s" to METRIC_WIDTH
        head = " # " + _fmt("%8.3f", c.metric[0])
        text += head + " %-*s" % (METRIC_WIDTH - len(head) - 1, c.metric[1])
    else:
        text += " " * METRIC_WIDTH
    if c.noise_pct:
        text += "  ( +-" + _fmt("%6.2f", c.noise_pct) + "% )"
    if c.run != c.ena:
        text += "  (" + _fmt("%.2f", 100.0 * c.run / c.ena) + "%)"
    return text + "\n"


def counter_csv(c: CounterLine, sep: str, prefix: str = "") -> str:
    value = _fmt(f"%.{c.decimals}f", c.value) if c.counted else (NOT_COUNTED if c.supported else NOT_SUPPORTED)
    text = f"{prefix}{c.aggr.csv_text(sep)}{value}{sep}{c.unit}{sep}{c.name}"
    if c.noise_pct is not None:
        text += sep + _fmt("%.2f", c.noise_pct) + "%"
    enabled_pct = 100 * c.run // c.ena if c.run != c.ena and c.ena else 100
    text += f"{sep}{c.run}{sep}" + _fmt("%.2f", enabled_pct)
    if c.counted and c.metric is not None:
        return text + sep + _fmt("%.3f", c.metric[0]) + sep + c.metric[1] + "\n"
    return text + sep + sep + "\n"


def _precision(sd: float) -> int:
    """``get_precision(sd) + 2``: two digits more than the stddev's first significant one."""
    if sd > 1:
        return 2
    if sd <= 0:
        return 2            # perf: lround(ceil(inf)) truncated to int is 0
    return int(round(math.ceil(-math.log10(sd)))) + 2


def footer(elapsed: Sequence[float], rusage: Optional[tuple]) -> str:
    """The blank line, ``seconds time elapsed`` (mean +- stddev over runs), and for one run of a command
    the user and sys times of its rusage."""
    from pyperf_probe.stat.stats import Stats, rel_stddev

    text = "\n"
    if len(elapsed) == 1:
        text += " " + _fmt("%17.9f", elapsed[0]) + " seconds time elapsed"
        if rusage is not None:
            user, sys_ = rusage
            text += "\n\n"
            text += " " + _fmt("%17.9f", user) + " seconds user\n"
            text += " " + _fmt("%17.9f", sys_) + " seconds sys\n"
    else:
        stats = Stats()
        for value in elapsed:
            stats.update(value)
        sd = stats.stddev()
        p = _precision(sd)
        text += " " + _fmt(f"%17.{p}f", stats.mean) + " +- " + _fmt(f"%.{p}f", sd)
        text += " seconds time elapsed"
        pct = rel_stddev(sd, stats.mean)
        if pct:
            text += "  ( +-" + _fmt("%6.2f", pct) + "% )"
    return text + "\n\n"


def render(lines: List[CounterLine], *, target: str, runs: int, elapsed: Sequence[float],
           rusage: Optional[tuple], csv_sep: Optional[str]) -> str:
    """The whole report perf writes to stderr at the end of ``perf stat``."""
    if csv_sep is not None:
        return "".join(counter_csv(c, csv_sep) for c in lines)
    return header(target, runs) + "".join(counter_line(c) for c in lines) + footer(elapsed, rusage)


def interval_prefix(ns: int, sep: str) -> str:
    """print_interval's ``"%6lu.%09lu%s"``: seconds and nanoseconds since the counting began."""
    return "%6d.%09d%s" % (ns // 1_000_000_000, ns % 1_000_000_000, sep)


def render_interval(lines: List[CounterLine], *, ns: int, aggr: str, csv_sep: Optional[str],
                    header: bool) -> str:
    """One interval of ``-I``: the column header when ``header`` (not under -x), then each line after the
    time."""
    if csv_sep is not None:
        prefix = interval_prefix(ns, csv_sep)
        return "".join(counter_csv(c, csv_sep, prefix) for c in lines)
    prefix = interval_prefix(ns, " ")
    text = INTERVAL_HEADERS[aggr].format(unit="%*s" % (UNIT_WIDTH, "unit")) if header else ""
    return text + "".join(counter_line(c, prefix) for c in lines)
