"""``pyperf script report NAME [ARGS]``: perf's report scripts re-implemented (tools/perf/scripts/python):
``flamegraph``, ``stackcollapse`` and ``export-to-sqlite``.

perf runs them through its embedded Python (``perf script -s NAME.py``); each reads every sample and writes
one output. pyperf computes the same from its session (``pyperf_probe.export``), tracepoint and probe
samples included (perf's scripts never see those). The options are the script's own plus perf script's
``-i``, ``--symfs``, ``--kallsyms``, ``--force`` and ``--no-inline``; with perf, ``perf script report
flamegraph -i FILE`` hands ``-i`` to the script, which ignores it, where pyperf reads FILE.
"""
from __future__ import annotations

import os
import sys

from pyperf_probe.errors import UsageError

SCRIPTS = ("flamegraph", "stackcollapse", "export-to-sqlite")

EXAMPLES = {
    "flamegraph": """
  pyperf script report flamegraph                          # ./perf.data -> flamegraph.html (works offline)
  pyperf script report flamegraph -i lib.data -o lib.html
  pyperf script report flamegraph --format json -o -       # perf's stacks.json on stdout
  pyperf script report flamegraph -e probe_libc:malloc     # one event of several
""",
    "stackcollapse": """
  pyperf script report stackcollapse > out.folded          # for flamegraph.pl or speedscope
  pyperf script report stackcollapse -i lib.data --include-pid
""",
    "export-to-sqlite": """
  pyperf script report export-to-sqlite perf.db            # samples, threads, comms, dsos, symbols
  pyperf script report export-to-sqlite perf.db all callchains   # with the call_paths table
  sqlite3 perf.db 'select command, symbol, count(*) from samples_view group by 1, 2 order by 3 desc'
""",
}


def _common(p) -> None:
    p.add_argument("-i", "--input", default=None, help="input file name (default: perf.data)")
    p.add_argument("--symfs", default=None, help="look for files with symbols relative to this directory")
    p.add_argument("--kallsyms", default=None, help="kallsyms pathname")
    p.add_argument("--no-inline", dest="inline", action="store_false", help="do not show inline functions")
    p.add_argument("-v", "--verbose", action="count", default=0, help="be more verbose")


def build_parser(name: str):
    from pyperf_probe.cmdline import Parser
    p = Parser(f"pyperf script report {name}", examples=EXAMPLES[name],
               description=__import__("pyperf_probe.export." + _module(name), fromlist=["_"]).__doc__
               .split("\n\n")[0])
    _common(p)
    if name == "flamegraph":
        p.add_argument("-f", "--format", default="html", choices=["json", "html"], help="output file format")
        p.add_argument("-o", "--output", default=None, help="output file name (- for stdout)")
        p.add_argument("--template", default=None, help="an HTML template with perf's two marks "
                       "(default: pyperf's own, self-contained)")
        p.add_argument("--colorscheme", default="blue-green", choices=["blue-green", "orange"],
                       help="flame graph color scheme")
        p.add_argument("-e", "--event", default=None, help="only the samples of this event")
        p.add_argument("--force", action="store_true", help="don't complain, do it")
    elif name == "stackcollapse":
        p.add_argument("--include-tid", action="store_true", help="include thread id in stack")
        p.add_argument("--include-pid", action="store_true", help="include process id in stack")
        p.add_argument("--no-comm", dest="include_comm", action="store_false",
                       help="do not separate stacks according to comm")
        p.add_argument("--tidy-java", action="store_true", help="beautify Java signatures")
        p.add_argument("--kernel", dest="annotate_kernel", action="store_true",
                       help="annotate kernel functions with _[k]")
        p.add_argument("-f", "--force", action="store_true", help="don't complain, do it")
    else:
        p.add_argument("words", nargs="*", metavar="DB [columns] [calls|callchains]",
                       help="database file name; 'all' (default) or 'branches'; 'calls' and/or 'callchains'")
        p.add_argument("-f", "--force", action="store_true", help="don't complain, do it")
    return p


def _module(name: str) -> str:
    return {"flamegraph": "flamegraph", "stackcollapse": "stackcollapse", "export-to-sqlite": "sqlite"}[name]


def main(argv: list[str], opts) -> int:
    if not argv or argv[0] not in SCRIPTS:
        sys.stderr.write("Please specify a valid report script(see 'perf script -l' for listing)\n"
                         f"pyperf's report scripts: {', '.join(SCRIPTS)}\n")
        return 255
    name, args = argv[0], build_parser(argv[0]).parse_args(argv[1:])
    if name == "flamegraph":
        return _flamegraph(args)
    if name == "stackcollapse":
        return _stackcollapse(args)
    from pyperf_probe.export.sqlite import run_export
    return run_export(args.words, lambda: _walk(args, "export-to-sqlite"), sys.stdout)


def _walk(args, what: str):
    from pyperf_probe.export.walk import Walk
    if args.kallsyms is not None and not os.access(args.kallsyms, os.R_OK):
        raise UsageError(f"Invalid file: {args.kallsyms}")
    return Walk(args.input, symfs=args.symfs, force=args.force, inline=args.inline, what=what,
                kallsyms=args.kallsyms)


def _flamegraph(args) -> int:
    from pyperf_probe.export.flamegraph import FlameTree
    template = None
    if args.format == "html" and args.template is not None:
        try:
            with open(args.template, encoding="utf-8") as f:
                template = f.read()
        except OSError:
            sys.stderr.write(f"Flame Graph template {args.template} does not exist. Please install the "
                             "js-d3-flame-graph (RPM) or libjs-d3-flame-graph (deb) package, specify an "
                             "existing flame graph template (--template PATH) or another output format "
                             "(--format FORMAT).\n")
            return 1
    tree = FlameTree()
    with _walk(args, "flamegraph") as walk:
        for sample in walk.samples(args.event):
            tree.add(sample)
        if args.format == "html":
            from pyperf_probe.export import flame_html
            from pyperf_probe.report.header_info import header_block
            chunks = flame_html.html_chunks(template or flame_html.TEMPLATE, tree, args.colorscheme,
                                            header_block(walk.session.data))
            output = args.output or "flamegraph.html"
        else:
            chunks = tree.json_chunks()
            output = args.output or "stacks.json"
        return _write(output, chunks)


def _write(output: str, chunks) -> int:
    """flamegraph.py's ending: ``-`` is stdout; else "dumping data to FILE" on stdout, then the file."""
    if output == "-":
        out = sys.stdout
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        return 0
    print(f"dumping data to {output}", flush=True)
    try:
        with open(output, "w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(chunk)
    except OSError as err:
        sys.stderr.write(f"Error writing output file: {err}\n")
        return 1
    return 0


def _stackcollapse(args) -> int:
    from pyperf_probe.export.stackcollapse import CollapseOptions, Collapser
    if args.include_tid and not args.include_comm:
        raise UsageError("  Error: requesting tid but not comm is invalid")
    if args.include_pid and not args.include_comm:
        raise UsageError("  Error: requesting pid but not comm is invalid")
    collapser = Collapser(CollapseOptions(args.include_tid, args.include_pid, args.include_comm,
                                          args.tidy_java, args.annotate_kernel))
    with _walk(args, "stackcollapse") as walk:
        for sample in walk.samples():
            collapser.add(sample)
    out = sys.stdout
    for line in collapser.output():
        out.write(line)
    out.flush()
    return 0
