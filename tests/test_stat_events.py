"""pyperf stat with perf's whole event grammar: software events (cpu-clock and task-clock in msec with
"CPUs utilized", the others with a "/sec" rate beside a clock), hardware events the PMU lacks as
"<not supported>", modifiers and groups; compared with perf stat's text, numbers masked."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import record_helpers as rh  # noqa: E402

from pyperf_probe.stat.display import CounterLine, counter_csv, counter_line  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (tracepoints)")
needs_perf = pytest.mark.skipif(not rh.HAVE_PERF, reason="needs /usr/bin/perf")

_NUMBER = re.compile(r"[0-9][0-9.,]*")


def shape(text):
    """Each line's length and its words with the numbers masked (perf's columns are fixed-width)."""
    return [(len(line), " ".join(_NUMBER.sub("N", line).split())) for line in text.splitlines()]


@needs_perf
@pytest.mark.parametrize("events", ["cycles,cpu-clock,task-clock,page-faults,cs,sched:sched_switch,dummy",
                                    "cpu-clock:u,faults:k", "{task-clock,minor-faults}", "sched:sched_switch"])
def test_stat_text_as_perf(events):
    spin = rh.workload("ex_spin")
    ours = rh.pyperf("stat", "-e", events, spin, "20")
    theirs = rh.perf("stat", "-e", events, spin, "20")
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert shape(ours.stderr) == shape(theirs.stderr)


def test_metric_columns():
    line = counter_line(CounterLine("cpu-clock", 7.0, 10, 10, unit="msec", metric=(0.293, "CPUs utilized"),
                                    decimals=2))
    assert line == "              7.00 msec cpu-clock                        #    0.293 CPUs utilized          \n"
    line = counter_line(CounterLine("page-faults", 58, 10, 10, metric=(8.273, "K/sec")))
    assert line == "                58      page-faults                      #    8.273 K/sec                  \n"
    line = counter_line(CounterLine("cycles", 0, 0, 0, supported=False))
    assert line == "   <not supported>      cycles" + " " * 54 + "\n"
    assert counter_csv(CounterLine("page-faults", 61, 776902, 776902, metric=(78.801, "K/sec")), ",") == (
        "61,,page-faults,776902,100.00,78.801,K/sec\n")
    assert counter_csv(CounterLine("cycles", 0, 0, 0, supported=False), ",") == "<not supported>,,cycles,0,100.00,,\n"


def test_stat_event_syntax_error():
    proc = rh.pyperf("stat", "-e", "cpu-clock:x", "true")
    assert proc.returncode == 129
    assert proc.stderr == ("event syntax error: 'cpu-clock:x'\n" + " " * 30 + "\\___ parser error\n"
                           "Run 'pyperf list' for a list of valid events\n\n Usage: pyperf stat [<options>] "
                           "[<command>]\n\n    -e, --event <event>   event selector. use 'pyperf list' to list "
                           "available events\n")
