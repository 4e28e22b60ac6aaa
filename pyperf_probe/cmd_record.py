"""``pyperf record``: run a command (or attach to threads or CPUs) and write every hit of tracefs events,
with call chains, into a perf.data that real perf reads.

Pipeline (perf's builtin-record.c): events -> attrs -> output file -> workload forked and held -> fds and
ring buffers -> synthesized records -> go -> drain loop -> lost counts, post-pass, features -> rename.
"""
from __future__ import annotations

import argparse
import errno as errno_mod
import os
import sys
from typing import List, Optional, Sequence

from pyperf_probe.cmdline import Parser
from pyperf_probe.errors import UsageError

DEFAULT_PAGES = 128  # perf: perf_event_mlock_kb (516) rounded down to 2^n pages = 512 KB per CPU
DEFAULT_DWARF_PAGES = 16384  # 64 MB per CPU: a dwarf sample is ~8.5 KB and cc1 makes 1+ GB/s (bench/record)

EXAMPLES = """
  pyperf record -e probe_libc:malloc -g -- make -j2
  pyperf record -e 'probe_app:*' --call-graph dwarf -o app.data ./app
  pyperf record -e probe_libc:malloc -p 1234,1240 -- sleep 5
  pyperf record -e sched:sched_process_exec -a -- sleep 1
  pyperf --buildid-dir /tmp/cache record -e probe_app:main --buildid-all --no-inherit ./app
"""


class _FilterAction(argparse.Action):
    """``--filter`` applies to the ``-e`` before it, as in perf."""

    def __call__(self, parser, namespace, value, option_string=None):
        if not namespace.events:
            raise UsageError("--filter option should follow a -e tracepoint or HW tracer option",
                             usage=build_parser().format_usage())
        namespace.filters[len(namespace.events) - 1] = value


def build_parser() -> Parser:
    p = Parser("pyperf record", examples=EXAMPLES, perf="record",
               usage="pyperf record [<options>] [<command>]\n    or: pyperf record [<options>] -- <command> "
                     "[<options>]", description="Run a command and record its events into perf.data.")
    p.add_argument("-e", "--event", dest="events", action="append", default=[], metavar="EVENT",
                   help="event selector, as perf's: cpu-clock, GROUP:EVENT (globs), PMU/terms/, {a,b}:S, "
                        "modifiers and /terms/ (default: cycles, else cpu-clock)")
    p.add_argument("--filter", action=_FilterAction, help="tracepoint filter for the -e before it")
    p.add_argument("-g", dest="fp", action="store_true", help="record call chains (frame pointers)")
    p.add_argument("--call-graph", metavar="fp|dwarf[,SIZE]", help="call chain mode; dwarf copies SIZE bytes "
                   "(default 8192) of user stack per sample")
    p.add_argument("--kernel-callchains", action="store_true", help="collect kernel callchains")
    p.add_argument("--user-callchains", action="store_true", help="collect user callchains")
    p.add_argument("-o", "--output", default="perf.data", help="output file name")
    p.add_argument("-a", "--all-cpus", action="store_true", help="system-wide collection from all CPUs")
    p.add_argument("-p", "--pid", help="record events on existing process ids (comma separated)")
    p.add_argument("-t", "--tid", help="record events on existing thread ids (comma separated)")
    p.add_argument("-C", "--cpu", help="list of CPUs to monitor (0-3,6)")
    p.add_argument("-c", "--count", type=int, help="event period to sample")
    p.add_argument("-F", "--freq", help="profile at this frequency (Hz, or 'max'; default 4000 for events "
                   "without a period of their own)")
    p.add_argument("-m", "--mmap-pages", help="number of mmap data pages (power of two) or size (512K, 16M)")
    p.add_argument("-R", "--raw-samples", action="store_true", help="collect raw sample records (always on "
                   "for tracepoints)")
    p.add_argument("-r", "--realtime", type=int, metavar="N", help="collect data with this RT SCHED_FIFO "
                   "priority (default: 1 with --call-graph dwarf when permitted, else none)")
    p.add_argument("-N", "--no-buildid-cache", action="store_true", help="do not update the buildid cache")
    p.add_argument("--buildid-all", action="store_true", help="Record build-id of all DSOs regardless of hits")
    p.add_argument("--no-buildid-all", dest="buildid_all", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("-i", "--no-inherit", action="store_true", help="child tasks do not inherit counters")
    p.add_argument("--inherit", dest="no_inherit", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("-q", "--quiet", action="store_true", help="don't print any message")
    p.add_argument("command", nargs=argparse.REMAINDER, help="command to run")
    p.set_defaults(filters={})
    return p


def _ints(text: str, what: str) -> List[int]:
    try:
        values = [int(t) for t in text.split(",") if t]
    except ValueError:
        values = []
    if not values:
        raise UsageError(f"  Error: invalid {what} list: '{text}'")
    return values


def _pages(text: Optional[str], default: int, quiet: bool = False) -> int:
    """-m PAGES or -m SIZE (512K, 16M); not a power of two: rounded up with perf's message."""
    if text is None:
        return default
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    page = os.sysconf("SC_PAGE_SIZE")
    try:
        if text[-1:].upper() in units:
            pages = int(text[:-1]) * units[text[-1].upper()] // page
        else:
            pages = int(text)
    except ValueError:
        pages = 0
    if pages <= 0:
        raise UsageError(f"  Error: invalid number of mmap data pages -- '{text}'") from None
    if pages & (pages - 1):
        pages = 1 << pages.bit_length()
        if not quiet:
            sys.stderr.write(f"rounding mmap pages size to {_size_text(pages * page)} ({pages} pages)\n")
    return pages


def _size_text(size: int) -> str:
    """perf's ``unit_number__scnprintf``: 16K, 2M, 1G."""
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return f"{size}B"


def _call_graph(args):
    from pyperf_probe.record.events import CallGraph, parse_call_graph
    if args.call_graph:
        return parse_call_graph(args.call_graph)
    return CallGraph("fp") if args.fp else None


def _max_sample_rate() -> Optional[int]:
    try:
        with open("/proc/sys/kernel/perf_event_max_sample_rate") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def _freq(text: Optional[str], count: Optional[int], quiet: bool) -> Optional[int]:
    """-F as perf's ``record__parse_freq`` and ``record_opts__config_freq`` take it: 'max' is the kernel's
    limit, a higher rate is lowered to it with perf's warning; -F with -c, or a zero rate, is refused."""
    if text is None:
        return None
    max_rate = _max_sample_rate()
    if text == "max":
        if max_rate is None:
            raise UsageError("couldn't read /proc/sys/kernel/perf_event_max_sample_rate", errno=errno_mod.EINVAL)
        if not quiet:
            sys.stderr.write(f"info: Using a maximum frequency rate of {max_rate} Hz\n")
        return max_rate
    digits = ""
    for ch in text.strip():  # strtoul: the leading digits
        if not ch.isdigit():
            break
        digits += ch
    freq = int(digits) if digits else 0
    if count is not None:
        raise UsageError("cannot set frequency and period at the same time", errno=errno_mod.EINVAL)
    if not freq:
        raise UsageError("frequency and count are zero, aborting", errno=errno_mod.EINVAL)
    if max_rate is not None and freq > max_rate:
        if not quiet:
            sys.stderr.write(f"warning: Maximum frequency rate ({max_rate} Hz) exceeded, throttling from {freq} "
                             f"Hz to {max_rate} Hz.\n         The limit can be raised via "
                             "/proc/sys/kernel/perf_event_max_sample_rate.\n         The kernel will lower it "
                             "when perf's interrupts take too long.\n         Use --strict-freq to disable "
                             "this throttling, refusing to record.\n")
        freq = max_rate
    return freq


def main(argv: Sequence[str], opts) -> int:
    args = build_parser().parse_args(list(argv))
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.output == "-":
        raise UsageError("  Error: pipe mode (-o -) is not supported: pyperf record writes a file",
                         usage=build_parser().format_usage())
    if not command and not (args.all_cpus or args.pid or args.tid or args.cpu):
        raise UsageError("  Error: no command to run and no target (-a, -p, -t, -C) given",
                         usage=build_parser().format_usage())
    from pyperf_probe.record import recorder
    call_graph = _call_graph(args)
    default_pages = DEFAULT_DWARF_PAGES if call_graph and call_graph.mode == "dwarf" else DEFAULT_PAGES
    plan = recorder.Plan(
        event_specs=tuple(args.events), filters=dict(args.filters), call_graph=call_graph, output=args.output,
        command=tuple(command), pids=tuple(_ints(args.pid, "pid")) if args.pid else (),
        tids=tuple(_ints(args.tid, "tid")) if args.tid else (), cpu_list=args.cpu, all_cpus=args.all_cpus,
        period=args.count or 1, pages=_pages(args.mmap_pages, default_pages, args.quiet or opts.quiet),
        pages_given=args.mmap_pages is not None,
        cmdline=(os.path.abspath(sys.argv[0]), "record", *argv), realtime=args.realtime,
        buildid_cache=not args.no_buildid_cache, buildid_all=args.buildid_all, inherit=not args.no_inherit,
        freq=_freq(args.freq, args.count, args.quiet or opts.quiet), count=args.count,
        raw_samples=args.raw_samples, kernel_callchains=args.kernel_callchains,
        user_callchains=args.user_callchains, verbose=opts.verbose)
    from pyperf_probe.ptrace.store import names_ptrace_events
    if names_ptrace_events(args.events):  # events of 'pyperf probe --ptrace': traced with breakpoints
        from pyperf_probe.ptrace.record import record as ptrace_record
        outcome = ptrace_record(plan)
        if not (args.quiet or opts.quiet):
            _print_summary(outcome)
        return outcome.status
    from pyperf_probe.probe.sdt import temporary_sdt_events
    from pyperf_probe.record.events import syntax_error
    # cached SDT markers named with -e (sdt_tick:loop2) are added for the recording, removed after (issue 5)
    with temporary_sdt_events(args.events, usage_error=lambda part, detail: syntax_error(
            part, "unknown tracepoint", detail)):
        outcome = recorder.record(plan)
    if not (args.quiet or opts.quiet):
        _print_summary(outcome)
    return outcome.status


def _print_summary(o) -> None:
    err = sys.stderr
    err.write(f"[ perf record: Woken up {o.wakeups} times to write data ]\n")
    if o.lost_records:
        err.write(f"Warning:\nProcessed {o.records} events and lost {o.lost_records} chunks!\n\n"
                  "Check IO/CPU overload!\n\n")
    if o.lost_samples:
        total = o.samples + o.lost_samples
        err.write(f"Warning:\nProcessed {total} samples and lost {100.0 * o.lost_samples / total:.2f}%!\n\n")
    samples = f" ({o.samples} samples)"
    err.write(f"[ perf record: Captured and wrote {o.size / 1024.0 / 1024.0:.3f} MB {o.path}{samples} ]\n")
    err.flush()

