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
import os
import resource
import signal
import sys
import time
from typing import List, Optional, Tuple

from pyperf_probe.errors import KernelError, UsageError

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

    @property
    def attached(self) -> Optional[str]:
        """The -p or -t list: counting threads that already run."""
        return self.pid if self.pid is not None else self.tid


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
            if value:
                raise _usage(f"  Error: unknown switch `{value[0]}'")
            opts.system_wide = True
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
    from pyperf_probe.probe.sdt import temporary_sdt_events
    from pyperf_probe.record.events import syntax_error

    def usage_error(part: str, detail: str) -> UsageError:
        err = syntax_error(part, "unknown tracepoint", detail)
        return UsageError(err.message.replace("pyperf record", "pyperf stat"), usage=EVENT_USAGE)

    with temporary_sdt_events(o.events, usage_error=usage_error):
        events = _resolve(o.events)
        results = _run_all(o, events)
    status, lines, elapsed, rusage = results
    from pyperf_probe.stat.display import render, target_text

    sys.stdout.flush()
    sys.stderr.write(render(lines, target=target_text(o.argv, o.system_wide, o.pid, o.tid), runs=o.repeat,
                            elapsed=elapsed, rusage=rusage, csv_sep=o.csv_sep))
    return status


def _resolve(specs: List[str]) -> List[Tuple[str, int]]:
    from pyperf_probe.kernel import tracefs
    from pyperf_probe.record.events import resolve

    try:
        pairs = resolve(specs)
    except UsageError as exc:
        raise UsageError(exc.message.replace("pyperf record", "pyperf stat"), usage=EVENT_USAGE) from None
    return [(f"{g}:{e}", tracefs.event_id(g, e)) for g, e in pairs]


def _run_all(o: Options, events: List[Tuple[str, int]]):
    """Every run; returns (exit status, counter lines, elapsed seconds per run, (user, sys) or None)."""
    from pyperf_probe.stat.display import CounterLine
    from pyperf_probe.stat.stats import Stats, rel_stddev

    stats = [Stats() for _ in events]
    elapsed: List[float] = []
    status, last, rusage = 0, None, None
    for _ in range(o.repeat):
        status, readings, seconds, rusage = _run_once(o, events)
        elapsed.append(seconds)
        for s, r in zip(stats, readings):
            s.update(r.value)
        last = readings
    lines = []
    for (name, _), s, r in zip(events, stats, last):
        value = r.value if o.repeat == 1 else int(s.mean + 0.5)
        noise = None if o.repeat == 1 else rel_stddev(s.stddev(), value)
        lines.append(CounterLine(name, value, r.ena, r.run, noise))
    show_rusage = o.repeat == 1 and bool(o.argv) and not o.system_wide and o.attached is None
    return status, lines, elapsed, rusage if show_rusage else None


def _run_once(o: Options, events):
    """One counting run: (exit status, readings, elapsed seconds, (user, sys) of the command)."""
    from pyperf_probe.record.workload import Workload
    from pyperf_probe.stat.counting import Counters, online_cpus

    workload = Workload(o.argv) if o.argv else None
    try:
        if o.system_wide:
            places = [(-1, cpu) for cpu in online_cpus()]
        elif o.pid is not None:
            places = [(tid, -1) for pid in o.pid.split(",") for tid in _threads(int(pid))]
        elif o.tid is not None:
            places = [(int(tid), -1) for tid in o.tid.split(",")]   # a dead tid: perf_event_open says so
        else:
            places = [(workload.pid, -1)]
        counters = Counters(events, places,
                            enable_on_exec=workload is not None and not o.system_wide and o.attached is None)
    except BaseException:
        if workload is not None:
            workload.cancel()
        raise
    try:
        return _count(o, counters, workload)
    finally:
        counters.close()


def _threads(pid: int) -> List[int]:
    from pyperf_probe.stat.counting import process_threads
    try:
        return process_threads(pid)
    except KernelError:
        raise _no_threads() from None


def _no_threads() -> UsageError:
    return UsageError("Problems finding threads of monitor", usage=PID_USAGE, errno=errno_mod.EINVAL)


def _count(o: Options, counters, workload):
    stop = _StopFlag()
    with stop:
        if workload is None or o.system_wide or o.attached is not None:
            counters.enable()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        status = 0
        if workload is not None:
            err = workload.start()
            if err is not None:
                workload.wait()
                raise KernelError(f"Workload failed: {os.strerror(err)}", errno=1)
            status = _exit_status(o.argv, workload.wait())
        else:
            _wait_for_target(o, stop)
        seconds = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        counters.disable()
        readings = counters.read()
    rusage = (after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)
    return status, readings, seconds, rusage


def _exit_status(argv: List[str], status: int) -> int:
    """perf returns the command's exit code; a command killed by a signal is reported as psignal does, and
    the status is then 0."""
    if os.WIFSIGNALED(status):
        sys.stderr.write(f"{argv[0]}: {signal.strsignal(os.WTERMSIG(status))}\n")
        return 0
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0


def _wait_for_target(o: Options, stop: "_StopFlag") -> None:
    """-a without a command: until Ctrl-C. -p: until Ctrl-C or until the process is gone (perf polls each
    second; pyperf each 0.1 s)."""
    while not stop.stopped:
        time.sleep(0.1)
        if o.attached is not None and not any(os.path.exists(f"/proc/{p}") for p in o.attached.split(",")):
            return


class _StopFlag:
    """SIGINT/SIGTERM end the counting (the command gets them too, as its own process group member) and the
    counts are still printed, as perf does."""

    def __init__(self):
        self.stopped = False
        self._old = {}

    def _handler(self, signum, frame):
        self.stopped = True

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False
