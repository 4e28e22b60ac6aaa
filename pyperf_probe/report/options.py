"""``pyperf report`` options, parsed by perf's parse-options walk (parse_options.py) over perf 6.1's table
for ``perf report`` (builtin-report.c), with perf's texts for bad options.

Long options may be abbreviated to any unambiguous prefix (``--comm`` for ``--comms``), ``-g`` takes the
next word unless it starts with '-' (``-g``, ``-g flat``, ``-gflat``, ``--call-graph=fractal,5``), short
flags may be grouped (``-nq``). ``--stdio-style`` is pyperf's (an extension); perf's options that pyperf
does not have are refused in perf's words.
"""
from __future__ import annotations

from pyperf_probe import parse_options as po
from pyperf_probe.errors import UsageError
from pyperf_probe.perfdata.frozen import Frozen

USAGE = """\
 Usage: pyperf report [<options>]

    -i, --input <file>    input file name
    -g, --call-graph <print_type,threshold[,print_limit],order,sort_key[,branch],value>
                          Display call graph (stack chain/backtrace):

                                print_type:     call graph printing style (graph|flat|fractal|folded|none)
                                threshold:      minimum call graph inclusion threshold (<percent>)
                                print_limit:    maximum number of call graph entry (<number>)
                                order:          call graph order (caller|callee)
                                sort_key:       call graph sort key (function|address)
                                value:          call graph value (percent|period|count)

                                Default: graph,0.5,caller,function,percent
    -G, --inverted        alias for inverted call graph
        --children        Accumulate callchains of children and show total overhead as well. Enabled by
                          default, use --no-children to disable.
        --max-stack <n>   Set the maximum stack depth when parsing the callchain, anything beyond the specified
                          depth will be ignored. Default: kernel.perf_event_max_stack or 127
    -s, --sort <key[,key2...]>
                          sort by key(s): overhead overhead_children sample period pid comm dso symbol
                          trace trace_fields EVENT.FIELD[/raw] FIELD EVENT.* (%N: the N-th event)
    -F, --fields <key[,keys...]>
                          output field(s): overhead overhead_children sample period pid comm dso symbol
                          trace
        --raw-trace       Show raw trace event output (do not use print fmt or plugins)
        --group           Show event group information together
    -n, --show-nr-samples Show a column with the number of samples
        --percent-limit <percent>
                          Don't show entries under that percent
    -q, --quiet           Do not show any warnings or messages
        --header          Show data header.
        --header-only     Show only data header.
    -c, --comms <comm[,comm...]>
                          only consider symbols in these comms
    -d, --dsos <dso[,dso...]>
                          only consider symbols in these dsos
    -S, --symbols <symbol[,symbol...]>
                          only consider these symbols
    -f, --force           don't complain, do it
        --symfs <directory>
                          Look for files with symbols relative to this directory
        --kallsyms <file>
                          kallsyms pathname
        --inline          Show inline function
        --stdio           Use the stdio interface
        --stdio-style <3.4|6.1>
                          text layout: perf 6.1's (default) or the 2012 perf 3.4 one

 Examples:
   pyperf report -g flat                       # perf's flat call-graph report of ./perf.data
   pyperf report -i lib.data --no-children --sort comm,dso,sym
   pyperf report --stdio-style=3.4 -g graph    # the layout of the 2012 uprobes announcement
   pyperf report --sort sched:sched_switch.prev_comm,next_comm   # tracepoint fields as columns
"""
EXAMPLES = USAGE[USAGE.index(" Examples:\n"):]
# pyperf's own option (parse_options.EXTENSION): listed with perf's, left out of comparisons with perf's text
STDIO_STYLE = po.Option(None, "stdio-style", "str", "3.4|6.1",
                        "text layout: perf 6.1's (default) or the 2012 perf 3.4 one", flags=po.EXTENSION)

DEFAULT_MAX_STACK = 127  # perf report's default --max-stack (PERF_MAX_STACK_DEPTH), session's too
CHAIN_MODES = ("graph", "flat", "fractal", "folded", "none")


class ReportOptions:
    """Everything the command line says, before defaults that depend on the file are applied: ``callgraph``
    is the -g argument ("" for a bare -g), None where the option was not given (``children``, ``sort``,
    ``comms``, ``dsos``, ``symbols``). Mutable: the parser fills it in, option by option."""

    __slots__ = ("input", "callgraph", "inverted", "children", "sort", "show_nr_samples", "percent_limit", "quiet",
                 "header", "header_only", "comms", "dsos", "symbols", "force", "symfs", "inline", "style", "kallsyms",
                 "fields", "raw_trace", "group", "max_stack")

    def __init__(self, input: str | None = None, callgraph: str | None = None, inverted: bool = False,
                 children: bool | None = None, sort: str | None = None, show_nr_samples: bool = False,
                 percent_limit: float = 0.0, quiet: bool = False, header: bool = False, header_only: bool = False,
                 comms: list[str] | None = None, dsos: list[str] | None = None, symbols: list[str] | None = None,
                 force: bool = False, symfs: str | None = None, inline: bool = True, style: str = "6.1",
                 kallsyms: str | None = None, fields: str | None = None, raw_trace: bool = False):
        self.input, self.callgraph, self.inverted, self.children, self.sort = input, callgraph, inverted, children, sort
        self.show_nr_samples, self.percent_limit, self.quiet = show_nr_samples, percent_limit, quiet
        self.header, self.header_only, self.comms, self.dsos, self.symbols = header, header_only, comms, dsos, symbols
        self.force, self.symfs, self.inline, self.style = force, symfs, inline, style
        self.kallsyms = kallsyms
        self.fields, self.raw_trace = fields, raw_trace
        # --group / --no-group (None: not given): the group view is on unless --no-group; either option on
        # a file without groups makes one of all its events (OPT_BOOLEAN_SET's report.group_set)
        self.group: bool | None = None
        # --max-stack: the chain entries a sample's chain is cut to (perf report's PERF_MAX_STACK_DEPTH default)
        self.max_stack = DEFAULT_MAX_STACK

    def __eq__(self, other):
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return f"ReportOptions({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"


class CallgraphSpec(Frozen):
    """A parsed ``-g`` argument (``parse_callchain_report_opt``)."""

    __slots__ = ()
    _fields = ("mode", "threshold", "print_limit", "order", "value")
    # order: caller | callee | None (the default for the children mode)

    def __new__(cls, mode: str = "graph", threshold: float = 0.5, print_limit: int = 0, order: str | None = None,
                value: str = "percent"):
        return tuple.__new__(cls, (mode, threshold, print_limit, order, value))


def parse_callgraph(text: str) -> CallgraphSpec:
    """``graph,0.5,caller``-style text; perf's order of fields, each optional."""
    mode, threshold, limit, order, value = "graph", 0.5, 0, None, "percent"
    numbers = 0
    for tok in filter(None, (t.strip() for t in text.split(","))):
        if tok in CHAIN_MODES:
            mode = tok
        elif tok in ("caller", "callee"):
            order = tok
        elif tok in ("percent", "period", "count"):
            value = tok
        elif tok in ("function", "address", "branch", "srcline"):
            continue
        else:
            try:
                num = float(tok)
            except ValueError:
                raise UsageError(f"Invalid -g argument: {text}", usage=USAGE) from None
            if numbers == 0:
                threshold = num
            else:
                limit = int(num)
            numbers += 1
    return CallgraphSpec(mode, threshold, limit, order, value)


_LONG = {
    "input": ("input", True), "call-graph": ("callgraph", "opt"), "inverted": ("inverted", False),
    "children": ("children", False), "sort": ("sort", True), "show-nr-samples": ("show_nr_samples", False),
    "percent-limit": ("percent_limit", True), "quiet": ("quiet", False), "header": ("header", False),
    "header-only": ("header_only", False), "comms": ("comms", True), "dsos": ("dsos", True),
    "symbols": ("symbols", True), "force": ("force", False), "symfs": ("symfs", True),
    "kallsyms": ("kallsyms", True), "fields": ("fields", True), "raw-trace": ("raw_trace", False),
    "group": ("group", False), "max-stack": ("max_stack", True),
    "inline": ("inline", False), "stdio": (None, False), "stdio-style": ("style", True), "tui": (None, False),
}


def table() -> po.Table:
    """perf report's options and pyperf's."""
    return po.perf_table("report", (STDIO_STYLE,))


def _unsupported(opt: po.Option) -> str | None:
    return None if opt.long in _LONG else po.NOT_IMPLEMENTED


def parse_args(argv: list[str]) -> ReportOptions:
    opts = ReportOptions()
    rest = po.parse_command(table(), argv, lambda occ: _on_option(opts, occ), _unsupported, EXAMPLES)
    if rest:
        raise UsageError(f"  Error: unexpected argument `{rest[0]}'", usage=USAGE)
    return opts


def _on_option(opts: ReportOptions, occ: po.Occurrence) -> None:
    long = occ.option.long
    attr, kind = _LONG[long]
    if occ.unset and long == "max-stack":   # OPT_INTEGER's --no-NAME stores 0
        opts.max_stack = 0
        return
    if occ.unset and kind is True:      # --no-NAME of an option with a value: back to the default
        setattr(opts, attr, getattr(ReportOptions(), attr))
        return
    _apply(opts, long, occ.unset, occ.value)


def _apply(opts: ReportOptions, long: str, negated: bool, value: str | None) -> None:
    attr, kind = _LONG[long]
    if kind is False:
        if attr is not None:
            setattr(opts, attr, not negated)
        return
    if kind == "opt":       # -g: LASTARG_DEFAULT, None when it took no word
        opts.callgraph = "none" if negated else (value or "")
        return
    if attr == "percent_limit":
        try:
            opts.percent_limit = float(value)
        except ValueError:
            raise UsageError(f"  Error: invalid percent limit: {value}", usage=USAGE) from None
    elif attr == "max_stack":    # OPT_INTEGER: parse_options checked the number (strtol, base 10)
        opts.max_stack = _c_int(value)
    elif attr in ("comms", "dsos", "symbols"):
        setattr(opts, attr, [v for v in value.split(",") if v])
    elif attr == "style":
        if value not in ("3.4", "6.1"):
            raise UsageError(f"  Error: --stdio-style takes 3.4 or 6.1, not `{value}'", usage=USAGE)
        opts.style = value
    else:
        setattr(opts, attr, value)


def _c_int(text: str) -> int:
    """``(int)strtol(text, NULL, 10)``: clamped to a long, then the low 32 bits as a signed int."""
    value = max(-(1 << 63), min((1 << 63) - 1, int(text.strip() or 0)))
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value
