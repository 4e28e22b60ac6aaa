"""``pyperf stat``: count events while a command runs (or system wide, or in a process), and print the
counts as ``perf stat`` does (to stderr, like perf).

    pyperf stat [-e EVENT[,EVENT]...] [-a] [-p PID|-t TID] [-A|--per-thread|--per-core|...] [-I MS]
                [-x SEP] [-r N] [--] [COMMAND [ARGS]]

Without -e it counts perf's default set (stat/defaults.py); without a command, -a or -p, it counts system
wide until Ctrl-C, as perf does.

Counting only: no sampling and no ring buffer. A cached SDT marker that tracefs does not have yet
(``sdt_tick:loop2`` after ``pyperf buildid-cache --add``) is added for the run and removed after.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import locale
import sys
from typing import List, Optional, Tuple

from pyperf_probe.errors import UsageError

USAGE_LINE = " Usage: pyperf stat [<options>] [<command>]"

# perf stat -h's lines for the options pyperf has, in perf's order
OPTION_LINES = {
    "a": "    -a, --all-cpus        system-wide collection from all CPUs",
    "A": "    -A, --no-aggr         disable CPU count aggregation",
    "e": "    -e, --event <event>   event selector. use 'pyperf list' to list available events",
    "I": ("    -I, --interval-print <n>\n                          print counts at regular interval in ms "
          "(overhead is possible for values <= 100ms)"),
    "p": "    -p, --pid <pid>       stat events on existing process id",
    "r": "    -r, --repeat <n>      repeat command and print average + stddev (max: 100, forever: 0)",
    "t": "    -t, --tid <tid>       stat events on existing thread id",
    "x": "    -x, --field-separator <separator>\n                          print counts with custom separator",
    "per-core": "        --per-core        aggregate counts per physical processor core",
    "per-die": "        --per-die         aggregate counts per processor die",
    "per-node": "        --per-node        aggregate counts per numa node",
    "per-socket": "        --per-socket      aggregate counts per processor socket",
    "per-thread": "        --per-thread      aggregate counts per thread",
}

USAGE = "\n" + USAGE_LINE + "\n\n" + "\n".join(OPTION_LINES.values()) + """

 Examples:
    pyperf stat -- make -j4                         # perf's default counters
    pyperf stat -a -A -I 1000 -- sleep 5            # each CPU, every second
    pyperf stat --per-thread -p 1234 -e task-clock,cs
    pyperf buildid-cache --add /tmp/tick && pyperf probe sdt_tick:loop2
    pyperf stat -e sdt_tick:loop1,sdt_tick:loop2 -- /tmp/tick
    pyperf stat -x , -r 5 -e sched:sched_process_exec -- make -j4
    pyperf stat -e '{task-clock,page-faults}' -- ls
"""

# what perf prints under an event syntax error: the usage line and the -e option only
EVENT_USAGE = USAGE_LINE + "\n\n" + OPTION_LINES["e"]

PID_USAGE = USAGE_LINE + "\n\n" + OPTION_LINES["p"] + "\n" + OPTION_LINES["t"]

# parse_options_usage(stat_usage, stat_options, "G", 1) and the options after it
SYSTEM_WIDE_USAGE = (USAGE_LINE + "\n\n    -G, --cgroup <name>   monitor event in cgroup name only\n"
                     + OPTION_LINES["A"] + "\n" + OPTION_LINES["a"]
                     + "\n        --for-each-cgroup <name>\n                          expand events for each cgroup")


@dataclasses.dataclass
class Options:
    events: List[str] = dataclasses.field(default_factory=list)
    system_wide: bool = False
    pid: Optional[str] = None
    tid: Optional[str] = None
    csv_sep: Optional[str] = None
    repeat: int = 1
    interval_ms: int = 0
    aggr: str = "global"
    argv: List[str] = dataclasses.field(default_factory=list)


# short and long names -> (long name, the value it takes: None for a flag)
_OPTIONS = {
    "a": ("all-cpus", None), "A": ("no-aggr", None), "e": ("event", "event"), "I": ("interval-print", "uint"),
    "p": ("pid", "pid"), "r": ("repeat", "int"), "t": ("tid", "tid"), "x": ("field-separator", "sep"),
}
_LONG = {long: (short, kind) for short, (long, kind) in _OPTIONS.items()}
_LONG.update({name: (None, None) for name in ("per-core", "per-die", "per-node", "per-socket", "per-thread")})
_AGGR = {"A": "none", "no-aggr": "none", "per-core": "core", "per-die": "die", "per-node": "node",
         "per-socket": "socket", "per-thread": "thread"}


def _usage(msg: str = "") -> UsageError:
    return UsageError(msg, usage=USAGE.strip("\n").split("\n\n Examples:")[0])


def parse_args(argv: List[str]) -> Options:
    """perf's parse_options (parse_options.py, perf 6.1's stat table) with PARSE_OPT_STOP_AT_NON_OPTION:
    options, then the command; a short option takes its value attached (-x,) or as the next word, flags
    bundle (-aA); the last aggregation asked for wins, as perf's OPT_SET_UINTs do. The pid lists and -r's
    range are checked once the walk is done, as perf checks its target after parse_options."""
    from pyperf_probe import parse_options as po
    opts = Options()
    table = po.perf_table("stat")
    opts.argv = po.parse_command(table, argv, lambda occ: _option(opts, occ), _unsupported,
                                 USAGE[USAGE.index(" Examples:"):])
    for what in ("pid", "tid"):
        value = getattr(opts, what)
        if value is not None and not all(p.isdigit() for p in value.split(",")):
            raise _usage(f"  Error: invalid {what} list '{value}'")
    if opts.repeat < 1 or opts.repeat > 100:
        raise _usage("  Error: -r takes 1..100 runs (pyperf has no 'forever' mode).")
    if not opts.argv and opts.pid is None and opts.tid is None:
        opts.system_wide = True         # perf: no command and no target counts system wide until Ctrl-C
    _check_aggregation(opts)
    return opts


def _unsupported(opt) -> Optional[str]:
    from pyperf_probe.parse_options import NOT_IMPLEMENTED
    return None if opt.short in _OPTIONS or opt.long in _LONG else NOT_IMPLEMENTED


def _option(opts: Options, occ) -> None:
    """One option from the walk; a bad number is perf's opterror (parse_options.OptionValueError)."""
    opt = occ.option
    name = opt.short if opt.short in _OPTIONS else opt.long
    kind = _OPTIONS[name][1] if name in _OPTIONS else _LONG[name][1]
    if kind is None:
        if occ.unset:       # OPT_BOOLEAN -a: false; the OPT_SET_UINTs: 0, which is AGGR_NONE
            if name == "a":
                opts.system_wide = False
            else:
                opts.aggr = "none"
        else:
            _flag(opts, name)
        return
    if occ.unset:           # --no-pid, --no-field-separator, ...: unset (perf refuses --no-event)
        defaults = Options()
        attr = {"pid": "pid", "tid": "tid", "sep": "csv_sep", "uint": "interval_ms", "int": "repeat"}.get(kind)
        if attr is not None:
            setattr(opts, attr, 0 if kind in ("uint", "int") else getattr(defaults, attr))
        return
    _set(opts, kind, occ.value)


def _flag(opts: Options, name: str) -> None:
    if name == "a":
        opts.system_wide = True
    else:
        opts.aggr = _AGGR[name]


def _check_aggregation(opts: Options) -> None:
    """perf's checks once the target is known: per-CPU aggregates need -a, --per-thread a process or -a."""
    if opts.aggr == "thread" and not opts.system_wide and opts.pid is None and opts.tid is None:
        raise UsageError("The --per-thread option is only available when monitoring via -p -t -a options or "
                         "only --per-thread.\n" + OPTION_LINES["p"] + "\n" + OPTION_LINES["t"],
                         errno=errno_mod.EINVAL)
    if opts.aggr not in ("global", "thread") and not opts.system_wide:
        raise UsageError("both cgroup and no-aggregation modes only available in system-wide mode",
                         usage=SYSTEM_WIDE_USAGE, errno=errno_mod.EINVAL)


def _set(opts: Options, what: str, value: str) -> None:
    from pyperf_probe.parse_options import OptionValueError
    if what == "event":
        opts.events.append(value)
    elif what in ("pid", "tid"):
        setattr(opts, what, value)
    elif what == "sep":
        opts.csv_sep = value
    elif what == "uint":   # OPTION_UINTEGER: a leading '-' first, then strtol's whole-string rule
        if value.startswith("-"):
            raise OptionValueError("expects an unsigned numerical value")
        digits = value.lstrip(" \t\n\v\f\r").lstrip("+")
        if digits and not digits.isdigit():
            raise OptionValueError("expects a numerical value")
        opts.interval_ms = int(digits or 0)
    else:
        try:
            opts.repeat = int(value)
        except ValueError:
            raise OptionValueError("expects a numerical value") from None


def main(argv: List[str], opts) -> int:
    o = parse_args(argv)
    try:
        locale.setlocale(locale.LC_NUMERIC, "")
    except locale.Error:
        pass
    from pyperf_probe.stat.runner import Target

    target = Target(argv=tuple(o.argv), system_wide=o.system_wide, pids=_ids(o.pid), tids=_ids(o.tid))
    from pyperf_probe.ptrace.store import names_ptrace_events
    ptrace = names_ptrace_events(o.events)
    if ptrace:  # events of 'pyperf probe --ptrace': counted with breakpoints
        from pyperf_probe.ptrace.stat import run as ptrace_run
        result = ptrace_run(o.events, target, o.repeat)
    else:
        result = _run_tracefs(o, target)
    from pyperf_probe.stat.display import render, target_text

    if not o.interval_ms or ptrace:     # under -I the intervals were printed as they came: no summary
        sys.stdout.flush()
        sys.stderr.write(render(result.lines, target=target_text(o.argv, o.system_wide, o.pid, o.tid),
                                runs=o.repeat, elapsed=result.elapsed, rusage=result.rusage, csv_sep=o.csv_sep))
    if getattr(result, "reraise", 0):  # perf's sig_atexit: die of the Ctrl-C that ended the count
        import os
        import signal
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(result.reraise, signal.SIG_DFL)
        os.kill(os.getpid(), result.reraise)
    return result.status


def _run_tracefs(o: Options, target):
    from pyperf_probe.probe.sdt import temporary_sdt_events
    from pyperf_probe.stat.runner import Mode, NoThreads, run

    with temporary_sdt_events(o.events, usage_error=_event_error):
        events = _resolve(o.events, o.system_wide)
        try:
            result = run(events, target, o.repeat, Mode(o.aggr, o.interval_ms), _IntervalPrinter(o))
        except NoThreads:
            raise UsageError("Problems finding threads of monitor", usage=PID_USAGE,
                             errno=errno_mod.EINVAL) from None
    return result


def _event_error(part: str, detail: str) -> UsageError:
    """perf's event syntax error (record's wording, with stat's usage)."""
    from pyperf_probe.record.events import syntax_error

    err = syntax_error(part, "unknown tracepoint", detail)
    return UsageError(err.message.replace("pyperf record", "pyperf stat"), usage=EVENT_USAGE)


def _ids(text: Optional[str]) -> Tuple[int, ...]:
    return tuple(int(x) for x in text.split(",")) if text else ()


def _resolve(specs: List[str], system_wide: bool) -> list:
    """(name, Evsel) of every event the -e values name, through perf's event grammar (pyperf_probe/events),
    or perf's default events without -e; a syntax error is perf's text with stat's usage."""
    if not specs:
        from pyperf_probe.stat.defaults import default_evsels
        evsels = default_evsels(system_wide)
    else:
        from pyperf_probe.record.selection import parse_specs
        evsels = parse_specs(specs, "stat", "[<options>] [<command>]")
    return [(ev.display_name(), ev) for ev in evsels]


class _IntervalPrinter:
    """Writes each ``-I`` interval to stderr as it comes, with the column header before the first and
    every 25th (perf's ``num_print_interval``)."""

    def __init__(self, o: Options):
        self.o = o
        self.printed = 0

    def __call__(self, ns: int, lines: list) -> None:
        from pyperf_probe.stat.display import render_interval
        text = render_interval(lines, ns=ns, aggr=self.o.aggr, csv_sep=self.o.csv_sep, header=self.printed == 0)
        self.printed = (self.printed + 1) % 25
        sys.stderr.write(text)
        sys.stderr.flush()
