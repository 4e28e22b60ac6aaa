"""pyperf stat's parts without a kernel: perf's default events, the aggregate labels and interval headers
(bytes from perf 6.1's output here), the metrics, the thread order, the -r rules, the held command's exec
errors; and, as root, group reads."""
import errno
import os
import sys

import pytest

from pyperf_probe.events import parser
from pyperf_probe.stat import aggr, shadow
from pyperf_probe.stat.counting import RawCount, scale
from pyperf_probe.stat.defaults import default_evsels
from pyperf_probe.stat.display import CounterLine, counter_csv, counter_line, render_interval
from pyperf_probe.stat.runner import Agg, Layout, _cmp_val, counter_lines
from pyperf_probe.stat.spawn import exec_errno


def test_default_events(tmp_path):
    names = [ev.display_name() for ev in default_evsels(False, str(tmp_path))]
    assert names == ["task-clock", "context-switches", "cpu-migrations", "page-faults", "cycles",
                     "instructions", "branches", "branch-misses"]
    assert default_evsels(True, str(tmp_path))[0].display_name() == "cpu-clock"     # -a
    (tmp_path / "stalled-cycles-frontend").write_text("event=0x1\n")               # a PMU that has it
    names = [ev.display_name() for ev in default_evsels(False, str(tmp_path))]
    assert names[4:6] == ["cycles", "stalled-cycles-frontend"]
    assert all(ev.exclude_guest and not ev.exclude_user for ev in default_evsels(False, str(tmp_path)))


def test_labels_as_perf_prints_them():
    # perf stat -a --per-core / --per-socket / --per-die / --per-node / -A / --per-thread, this machine
    assert aggr.cpu_label(aggr.CORE, (-1, 0, 0, 1), 1).std == "S0-D0-C1           1 "
    assert aggr.cpu_label(aggr.SOCKET, (-1, 0, -1, -1), 2).std == "S0        2 "
    assert aggr.cpu_label(aggr.DIE, (-1, 0, 0, -1), 2).std == "S0-D0           2 "
    assert aggr.cpu_label(aggr.NODE, (0, -1, -1, -1), 2).std == "N0        2 "
    assert aggr.cpu_label(aggr.NONE, (-1, -1, -1, 1), 1).std == "CPU1       "
    assert aggr.thread_label("sleep", 4944).std == "           sleep-4944     "
    assert aggr.cpu_label(aggr.CORE, (-1, 0, 0, 1), 1).csv_text(",") == "S0-D0-C1,1,"
    assert aggr.thread_label("ex sort", 12).csv_text(";") == "ex sort-12;"
    line = counter_line(CounterLine("cycles", 0, 0, 0, supported=False,
                                    aggr=aggr.cpu_label(aggr.NONE, (-1, -1, -1, 0), 1)))
    assert line == "CPU0          <not supported>      cycles" + " " * 54 + "\n"


def test_not_counted_keeps_its_unit():
    assert counter_line(CounterLine("cpu-clock", 0, 0, 0, unit="msec", decimals=2)) == (
        "     <not counted> msec cpu-clock" + " " * 51 + "\n")
    assert counter_csv(CounterLine("task-clock", 0, 0, 0, unit="msec", decimals=2), ",") == (
        "<not counted>,msec,task-clock,0,100.00,,\n")


def test_interval_layout():
    lines = [CounterLine("task-clock", 1.5, 10, 10, unit="msec", metric=(0.015, "CPUs utilized"), decimals=2),
             CounterLine("cs", 0, 0, 0, supported=False)]
    text = render_interval(lines, ns=100184843, aggr=aggr.GLOBAL, csv_sep=None, header=True)
    assert text.split("\n")[:3] == [
        "#           time             counts unit events",
        "     0.100184843               1.50 msec task-clock                       #    0.015 CPUs utilized  "
        "        ",
        "     0.100184843    <not supported>      cs" + " " * 58]
    csv = render_interval(lines, ns=1_200521282, aggr=aggr.GLOBAL, csv_sep=",", header=True)
    assert csv.split("\n")[0] == "     1.200521282,1.50,msec,task-clock,10,100.00,0.015,CPUs utilized"
    for mode, head in ((aggr.NONE, "#           time CPU                    counts unit events"),
                       (aggr.THREAD, "#           time             comm-pid                  counts unit events"),
                       (aggr.CORE, "#           time core            cpus             counts unit events"),
                       (aggr.SOCKET, "#           time socket cpus             counts unit events")):
        assert render_interval([], ns=0, aggr=mode, csv_sep=None, header=True) == head + "\n"


def test_metrics():
    cs = parser.parse("cs")[0]
    clock = parser.parse("task-clock:u")[0]
    nsecs = shadow.NsecStats(1)
    assert shadow.metric(cs, 5, 0, nsecs, 1e6) is None           # no clock: no rate
    nsecs.update(0, 2e6)
    nsecs.update(0, 4e6)                                          # the mean of the clocks seen: 3 ms
    assert shadow.metric(cs, 6000, 0, nsecs, 1e6) == pytest.approx((2.0, "M/sec"))
    assert shadow.metric(cs, 3, 0, nsecs, 1e6) == pytest.approx((1000.0, "/sec"))   # not above 1000
    assert shadow.metric(cs, 6, 0, nsecs, 1e6) == pytest.approx((2.0, "K/sec"))
    assert shadow.metric(cs, 0, 0, nsecs, 1e6) == (0.0, "/sec")
    assert shadow.metric(clock, 5e5, 0, nsecs, 1e6) == (0.5, "CPUs utilized")
    assert shadow.convert_unit(1000.0) == (1000.0, "")            # perf divides above 1000 only
    assert shadow.metric(clock, 5e5, 0, nsecs, 0) is None


def test_scaling_and_thread_order():
    assert scale(RawCount(100, 400, 100)) == 400
    assert scale(RawCount(100, 0, 0)) == 0
    # cmp_val's int of a u64 difference: counts 2^32 apart compare equal, more than 2^31 apart the wrong way
    assert _cmp_val(Agg(1, 0, 0, 1), Agg(2, 0, 0, 1)) == 1
    assert _cmp_val(Agg(0, 0, 0, 1), Agg(1 << 32, 0, 0, 1)) == 0
    assert _cmp_val(Agg(0, 0, 0, 1), Agg(3 << 30, 0, 0, 1)) < 0


def test_per_thread_lines_busiest_first_and_repeat_noise():
    events = [("cs", parser.parse("cs")[0])]
    layout = Layout(aggr.THREAD, [(1, -1), (2, -1), (3, -1)], [True, True, True])
    aggs = [[Agg(5, 10, 10, 1), Agg(0, 10, 10, 1), Agg(9, 10, 10, 1)]]
    lines = counter_lines(events, layout, aggs, [True], shadow.NsecStats(3), 1e9, [None])
    assert [line.value for line in lines] == [9, 5, 0]
    lines = counter_lines(events, layout, aggs, [True], shadow.NsecStats(3), 1e9, [None], skip_zero=True)
    assert [line.value for line in lines] == [9, 5]               # -a --per-thread leaves the zeros out


def test_exec_errors(tmp_path):
    assert exec_errno("true") is None
    assert exec_errno("/nonexistent/program") == errno.ENOENT
    assert exec_errno("/etc/passwd") == errno.EACCES
    assert exec_errno("no-such-program-here", path=str(tmp_path)) == errno.ENOENT
    (tmp_path / "x").write_text("#!/bin/sh\n")
    assert exec_errno("x", path=str(tmp_path)) == errno.EACCES    # there, but not executable
    os.chmod(tmp_path / "x", 0o755)
    assert exec_errno("x", path="/nonexistent:" + str(tmp_path)) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (perf_event_open of other tasks)")
def test_group_read_and_broken_group():
    from pyperf_probe.stat.counting import Counters
    evsels = parser.parse("{task-clock,page-faults},{cpu-clock,cycles,cs}")
    events = [(ev.display_name(), ev) for ev in evsels]
    counters = Counters(events, [(os.getpid(), -1)], enable_on_exec=False)
    try:
        counters.enable()
        sum(range(100000))
        readings = counters.read()
    finally:
        counters.close()
    assert counters.supported == [True, True, True, False, True]
    assert counters.readable == [True, True, False, False, False]  # perf cannot read a group lacking a member
    (clock,), (faults,) = readings[0], readings[1]
    assert clock.value > 0 and (clock.ena, clock.run) == (faults.ena, faults.run)   # one read for the group
    assert readings[2:] == [[None], [None], [None]]
