"""``pyperf script``: every sample of a perf.data file as perf script prints it (tools/perf/builtin-script.c).

Reads files from real ``perf record`` and from ``pyperf record`` through the same session as ``report``.

The options of an ordinary run (``-i FILE -F a,b --ns``...) are read by a small loop (:func:`parse_args`);
anything else (``--help``, an unknown or abbreviated option, a missing value, ``-iFILE``) goes to the
argparse parser of ``build_parser``, which reads the same options and words perf's usage errors. argparse
imports re and gettext and measures the terminal: a few ms of start-up an ordinary run does without.
"""
from __future__ import annotations

import os
import sys

from pyperf_probe.errors import UsageError

# cli.py may end the process without the interpreter's teardown after this command (cli._end_process:
# ~6 ms of a 132K-sample report's CPU, bench/report): script writes only to stdout and
# starts no thread; the CFI cache's exit function still runs.
NO_TEARDOWN = True
# cli keeps the cyclic collector off for the whole command: script's texts, memos and the session's threads
# and maps are long-lived objects without garbage cycles, and each collection walked them again (sys.data,
# perf record of pyperf script: gc_collect_main, visit_decref, visit_reachable ~7% of the CPU)
NO_CYCLIC_GC = True
FAILED = 255  # perf script's exit status when it gives up (-1)

EXAMPLES = """
  pyperf script                                  # every sample of ./perf.data, with call chains
  pyperf script -i lib.data -F comm,pid,tid,time,ip,sym,dso
  pyperf script -F +period --ns                  # perf's default fields plus the period, times in ns
  pyperf script -G                               # without call chains
  pyperf script --symfs /srv/rootfs              # binaries from another root
"""


def build_parser():
    from pyperf_probe.cmdline import Parser
    p = Parser("pyperf script", description="Read perf.data and display its samples.", examples=EXAMPLES,
               perf="script", on_words=_no_script)
    p.add_argument("-i", "--input", default=None, help="input file name (default: perf.data)")
    p.add_argument("-F", "--fields", default=None,
                   help="comma separated output fields prepend with 'type:' (hw,sw,trace,raw,synth): comm,pid,tid,"
                        "cpu,time,event,trace,period,ip,sym,symoff,dso; +FIELD/-FIELD adjust the defaults")
    p.add_argument("--ns", action="store_true", help="print times in nanoseconds")
    p.add_argument("-G", "--hide-call-graph", action="store_true", help="when printing symbols do not display "
                   "call chain")
    p.add_argument("--symfs", default=None, help="look for files with symbols relative to this directory")
    p.add_argument("--kallsyms", default=None, help="kallsyms pathname")
    p.add_argument("--show-kernel-path", action="store_true", help="Show the path of [kernel.kallsyms]")
    p.add_argument("-f", "--force", action="store_true", help="don't complain, do it")
    p.add_argument("--no-inline", dest="inline", action="store_false", help="do not show inline functions")
    p.add_argument("-c", "--comms", dest="comm", default=None, help="only show events for these comms (comma "
                   "separated)")
    p.add_argument("--pid", default=None, help="only show events for these process ids (comma separated)")
    p.add_argument("--tid", default=None, help="only show events for these thread ids (comma separated)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="be more verbose")
    return p


def _no_script(words, table):
    """perf script's first word that is not an option names a script; pyperf runs none of perf's."""
    from pyperf_probe.parse_options import ParseError
    raise ParseError(f"  Error: Couldn't find script `{words[0]}'\n\n See perf script -l for available scripts.\n\n"
                     + table.full_usage())


# option -> (destination, what it takes): "value" (the next word, or --opt=VALUE), "count", or the constant
# it stores. Must say what build_parser says (tests/test_script.py compares the two).
FAST_OPTIONS = {
    "-i": ("input", "value"), "--input": ("input", "value"),
    "-F": ("fields", "value"), "--fields": ("fields", "value"),
    "--ns": ("ns", True),
    "-G": ("hide_call_graph", True), "--hide-call-graph": ("hide_call_graph", True),
    "--symfs": ("symfs", "value"),
    "--kallsyms": ("kallsyms", "value"), "--show-kernel-path": ("show_kernel_path", True),
    "-f": ("force", True), "--force": ("force", True),
    "--no-inline": ("inline", False),
    "--comm": ("comm", "value"), "--pid": ("pid", "value"), "--tid": ("tid", "value"),
    "-v": ("verbose", "count"), "--verbose": ("verbose", "count"),
}
DEFAULTS = {"input": None, "fields": None, "ns": False, "hide_call_graph": False, "symfs": None, "force": False,
            "inline": True, "comm": None, "pid": None, "tid": None, "verbose": 0, "kallsyms": None,
            "show_kernel_path": False}
DASH_VALUES = ("fields",)  # -F -trace,+pid: perf takes a value starting with - (cmdline.Parser's dash_values)


def parse_args(argv: list[str]):
    """The options as ``build_parser().parse_args(argv)`` returns them, without argparse when every word
    is one of FAST_OPTIONS in its plain form; argparse reads (and refuses) anything else."""
    SimpleNamespace = type(sys.implementation)  # types.SimpleNamespace, without importing types
    values = dict(DEFAULTS)
    i = 0
    while i < len(argv):
        word = argv[i]
        name, eq, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        dest, takes = FAST_OPTIONS.get(name, (None, None))
        if dest is None or (eq and takes != "value"):
            return build_parser().parse_args(argv)
        if takes == "value":
            if not eq:
                i += 1
                if i == len(argv) or (argv[i][:1] == "-" and dest not in DASH_VALUES):
                    return build_parser().parse_args(argv)
            values[dest] = attached if eq else argv[i]
        elif takes == "count":
            values[dest] += 1
        else:
            values[dest] = takes
        i += 1
    return SimpleNamespace(**values)


def _ints(text):
    try:
        return None if text is None else {int(x) for x in text.split(",") if x}
    except ValueError:
        raise UsageError(f"Invalid list of ids: '{text}'") from None


def main(argv: list[str], opts) -> int:
    if argv and argv[0] == "report":  # perf's report scripts: flamegraph, stackcollapse, export-to-sqlite
        from pyperf_probe.cmd_script_report import main as report_main
        return report_main(argv[1:], opts)
    args = parse_args(argv)
    from pyperf_probe.perfdata.format import SampleType
    from pyperf_probe.perfdata.reader import PerfDataFile
    from pyperf_probe.report import script_fields
    from pyperf_probe.report.script_text import ScriptOptions, ScriptPrinter
    from pyperf_probe.session import Session

    table = script_fields.parse(args.fields)  # bad -F is a usage error before any file is opened, as in perf
    for warning in table.warnings:
        sys.stderr.write(warning + "\n")
    if args.kallsyms is not None and not os.access(args.kallsyms, os.R_OK):
        sys.stderr.write(f"Invalid file: {args.kallsyms}\n")  # symbol__validate_sym_arguments
        return FAILED
    data = PerfDataFile.open(args.input, force=args.force)
    sample_type = 0
    for attr in data.attrs:
        sample_type |= attr.attr.sample_type
    session = Session(data, symfs=args.symfs, inline=args.inline, force=args.force, kallsyms=args.kallsyms)
    try:
        fields, use_callchain = script_fields.check(table, session.evsels, args.hide_call_graph)
    except script_fields.FieldError as exc:
        sys.stderr.write(f"{exc}\n")
        return FAILED
    options = ScriptOptions(fields, nanosecs=args.ns, callchains=use_callchain, kernel_path=args.show_kernel_path)
    from pyperf_probe.traceevent.events import for_session
    trace_events = for_session(session)
    if trace_events is not None and (args.verbose or opts.verbose):
        sys.stderr.write(trace_events.describe() + "\n")
    printer = ScriptPrinter(session.evsels, options, trace_events)
    session.chained_evsels = printer.chains
    unwinder = None
    if sample_type & SampleType.REGS_USER and sample_type & SampleType.STACK_USER and any(printer.chains):
        # --call-graph dwarf, and some event prints its chain (perf unwinds only then: -G, -F without ip)
        from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder  # (its import is ~20 ms: only then)
        unwinder = session.unwinder = DwarfUnwinder(symfs=args.symfs)
    accept = _thread_filter(args)
    out = sys.stdout
    from pyperf_probe.report.script_keys import write_resolved, write_samples
    if unwinder is not None or not write_samples(session, printer, accept, out.write):
        write_resolved(session, printer, accept, out.write)  # one by one: DWARF chains, or samples not keyed
    out.flush()
    return 0


def _thread_filter(args):
    """--comm, --pid, --tid: ``accept(thread)`` for the samples printed."""
    comms = None if args.comm is None else set(args.comm.split(","))
    pids, tids = _ints(args.pid), _ints(args.tid)

    def accept(t) -> bool:
        return not ((comms is not None and t.comm not in comms) or (pids is not None and t.pid not in pids) or
                    (tids is not None and t.tid not in tids))
    # without a filter, the per-sample loops need not call it (report.script_keys.write_resolved)
    accept.takes_every_thread = comms is None and pids is None and tids is None
    return accept
