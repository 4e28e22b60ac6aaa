"""pyperf stat's command line: perf's parse_options rules (options, then the command; values attached or
separate; bundled short flags) and the usage errors."""
import pytest

from pyperf_probe.cmd_stat import parse_args
from pyperf_probe.errors import UsageError


def test_options_then_command_with_its_own_options():
    o = parse_args(["-e", "a:b", "--event=c:d", "-x,", "-r3", "--", "ls", "-l", "-e"])
    assert (o.events, o.csv_sep, o.repeat, o.argv) == (["a:b", "c:d"], ",", 3, ["ls", "-l", "-e"])
    assert parse_args(["-e", "a:b", "true", "-x", ","]).argv == ["true", "-x", ","]


def test_bundled_flags_and_targets():
    o = parse_args(["-ae", "a:b"])
    assert o.system_wide and o.events == ["a:b"] and o.argv == []
    o = parse_args(["-e", "a:b", "-p", "12,34"])
    assert (o.pid, o.system_wide) == ("12,34", False)
    assert parse_args(["-e", "a:b"]).system_wide          # no command, no target: system wide (perf)


@pytest.mark.parametrize("argv,message", [
    (["-e"], "requires a value"),
    (["-e", "a:b", "-r", "x", "true"], "expects a numerical value"),
    (["-e", "a:b", "-r", "0", "true"], "1..100"),
    (["-e", "a:b", "-p", "1x"], "invalid pid list"),
    (["-e", "a:b", "--nosuch", "true"], "unknown option `nosuch'"),
    (["-I", "-5", "true"], "switch `I' expects an unsigned numerical value"),
    (["--interval-print=x", "true"], "option `interval-print' expects a numerical value"),
    (["--per-thread=1", "true"], "option `per-thread' takes no value"),
    (["-A=", "true"], "unknown switch `='"),
    (["-A", "true"], "both cgroup and no-aggregation modes only available in system-wide mode"),
    (["--per-socket", "-p", "1"], "both cgroup and no-aggregation modes"),
    (["--per-thread", "true"], "The --per-thread option is only available when monitoring via -p -t -a"),
])
def test_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message) as err:
        parse_args(argv)
    assert "Usage: pyperf stat" in err.value.usage + err.value.message or "-p, --pid" in err.value.message


def test_default_events_and_aggregation_modes():
    o = parse_args(["true"])
    assert (o.events, o.aggr, o.system_wide) == ([], "global", False)
    assert parse_args(["-aA", "-I100"]).aggr == "none"
    assert parse_args(["-a", "--per-core", "-A", "--per-socket"]).aggr == "socket"    # the last one wins
    o = parse_args(["--per-thread", "-p", "1", "-I", "250", "-x,"])
    assert (o.aggr, o.interval_ms, o.csv_sep, o.pid) == ("thread", 250, ",", "1")
    assert parse_args(["--per-thread"]).system_wide                 # "or only --per-thread"
    assert parse_args(["-I", "0", "true"]).interval_ms == 0
