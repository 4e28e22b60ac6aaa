"""``pyperf stat``: count tracepoint and uprobe events while a command runs (or system wide, or in a
process), and print the counts as ``perf stat`` does (to stderr, like perf).

    pyperf stat -e EVENT[,EVENT]... [-e ...] [-a] [-p PID|-t TID] [-x SEP] [-r N] [--] [COMMAND [ARGS]]

Without a command, -a or -p, it counts system wide until Ctrl-C, as perf does.

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

USAGE = """
 Usage: pyperf stat [<options>] [<command>]

    -a, --all-cpus        system-wide collection from all CPUs
    -e, --event <event>   event selector. use 'pyperf list' to list available events
    -p, --pid <pid>       stat events on existing process id
    -r, --repeat <n>      repeat command and print average + stddev (max: 100, forever: 0)
    -t, --tid <tid>       stat events on existing thread id
    -x, --field-separator <separator>
                          print counts with custom separator

 Examples:
    pyperf buildid-cache --add /tmp/tick && pyperf probe sdt_tick:loop2
    pyperf stat -e sdt_tick:loop1,sdt_tick:loop2 -- /tmp/tick
    pyperf stat -x , -r 5 -e sched:sched_process_exec -- make -j4
    pyperf stat -a -e 'probe_libc:*' -- sleep 5
"""

# what perf prints under an event syntax error: the usage line and the -e option only
EVENT_USAGE = (" Usage: pyperf stat [<options>] [<command>]\n\n"
               "    -e, --event <event>   event selector. use 'pyperf list' to list available events")

PID_USAGE = (" Usage: pyperf stat [<options>] [<command>]\n\n"
             "    -p, --pid <pid>       stat events on existing process id\n"
             "    -t, --tid <tid>       stat events on existing thread id")


@dataclasses.dataclass
class Options:
    events: List[str] = dataclasses.field(default_factory=list)
    system_wide: bool = False
    pid: Optional[str] = None
    tid: Optional[str] = None
    csv_sep: Optional[str] = None
    repeat: int = 1
    argv: List[str] = dataclasses.field(default_factory=list)


_WITH_VALUE = {"-e": "event", "--event": "event", "-p": "pid", "--pid": "pid", "-t": "tid", "--tid": "tid",
               "-x": "sep",
               "--field-separator": "sep", "-r": "repeat", "--repeat": "repeat"}


def _usage(msg: str = "") -> UsageError:
    return UsageError(msg, usage=USAGE.strip("\n").split("\n\n Examples:")[0])


def parse_args(argv: List[str]) -> Options:
    """perf's parse_options with PARSE_OPT_STOP_AT_NON_OPTION: options, then the command."""
    opts, i = Options(), 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, _, value = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        if name in ("-a", "--all-cpus"):
            opts.system_wide = True
            if value and name == "-a":          # bundled short options: -ae EVENT, -ax ,
                argv = argv[:i] + ["-" + value] + argv[i + 1:]
                continue
            if value:
                raise _usage("  Error: option `all-cpus' takes no value")
        elif name in _WITH_VALUE:
            if not value:
                i += 1
                if i >= len(argv):
                    raise _usage(f" Error: option `{_WITH_VALUE[name]}' requires a value")
                value = argv[i]
            _set(opts, _WITH_VALUE[name], value)
        elif name in ("-h", "--help"):
            raise _Help()
        else:
            raise _usage(f"  Error: unknown option `{arg.lstrip('-')}'")
        i += 1
    opts.argv = argv[i:]
    if not opts.events:
        raise _usage("  Error: pyperf stat needs events (-e): it counts tracepoints and uprobes only.")
    if not opts.argv and opts.pid is None and opts.tid is None:
        opts.system_wide = True         # perf: no command and no target counts system wide until Ctrl-C
    return opts


class _Help(Exception):
    pass


def _set(opts: Options, what: str, value: str) -> None:
    if what == "event":
        opts.events.append(value)
    elif what in ("pid", "tid"):
        if not all(p.isdigit() for p in value.split(",")):
            raise _usage(f"  Error: invalid {what} list '{value}'")
        setattr(opts, what, value)
    elif what == "sep":
        opts.csv_sep = value
    else:
        try:
            opts.repeat = int(value)
        except ValueError:
            raise _usage(" Error: option `repeat' expects a numerical value") from None
        if opts.repeat < 1 or opts.repeat > 100:
            raise _usage("  Error: -r takes 1..100 runs (pyperf has no 'forever' mode).")


def main(argv: List[str], opts) -> int:
    try:
        o = parse_args(argv)
    except _Help:
        sys.stdout.write(USAGE)
        return 0
    try:
        locale.setlocale(locale.LC_NUMERIC, "")
    except locale.Error:
        pass
    from pyperf_probe.stat.runner import Target

    target = Target(argv=tuple(o.argv), system_wide=o.system_wide, pids=_ids(o.pid), tids=_ids(o.tid))
    from pyperf_probe.ptrace.store import names_ptrace_events
    if names_ptrace_events(o.events):  # events of 'pyperf probe --ptrace': counted with breakpoints
        from pyperf_probe.ptrace.stat import run as ptrace_run
        result = ptrace_run(o.events, target, o.repeat)
    else:
        result = _run_tracefs(o, target)
    from pyperf_probe.stat.display import render, target_text

    sys.stdout.flush()
    sys.stderr.write(render(result.lines, target=target_text(o.argv, o.system_wide, o.pid, o.tid),
                            runs=o.repeat, elapsed=result.elapsed, rusage=result.rusage, csv_sep=o.csv_sep))
    return result.status


def _run_tracefs(o: Options, target):
    from pyperf_probe.probe.sdt import temporary_sdt_events
    from pyperf_probe.stat.runner import NoThreads, run

    with temporary_sdt_events(o.events, usage_error=_event_error):
        events = _resolve(o.events)
        try:
            result = run(events, target, o.repeat)
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


def _resolve(specs: List[str]) -> list:
    """(name, Evsel) of every event the -e values name, through perf's event grammar (pyperf_probe/events);
    a syntax error is perf's text with stat's usage."""
    from pyperf_probe.record.selection import parse_specs

    evsels = parse_specs(specs, "stat", "[<options>] [<command>]")
    return [(ev.display_name(), ev) for ev in evsels]
