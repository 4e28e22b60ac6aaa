"""``pyperf probe`` options, parsed the way perf's parse-options does it (tools/lib/subcmd/parse-options.c)
and shown in perf's usage layout, with ``pyperf`` for ``perf``.

perf specifics kept here: options stop at the first non-option word (PARSE_OPT_STOP_AT_NON_OPTION); short
options cluster (``-fx PATH``); long options take ``=VALUE`` or the next word and may be abbreviated;
``-l`` and ``-F`` take the next word as their argument unless it is missing or starts with '-'
(PARSE_OPT_LASTARG_DEFAULT); ``-a -d -D -l -L -V -F`` exclude each other (PARSE_OPT_EXCLUSIVE). The walk
and its texts are parse_options.py's, shared with the other commands; this module holds perf probe's table
(by hand: it is older than pyperf_probe/perf_options, and the tests/golden/probe cases check it).

``--ptrace`` is pyperf's own (parse_options.EXTENSION): listed among perf's options, in the errors' usage
too, since pyperf accepts it; a comparison with perf's text leaves its lines out.
"""
from __future__ import annotations

from pyperf_probe.parse_options import (EXCLUSIVE as _EXCLUSIVE_FLAG, EXTENSION, HelpRequested, ListOpts, Option,
                                        ParseError, Table)
from pyperf_probe.parse_options import parse as _parse

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: importing typing costs start-up time
    from collections.abc import Callable, Sequence

PROBEDEF = "[EVENT=]FUNC[@SRC][+OFF|%return|:RL|;PT]|SRC:AL|SRC;PT [[NAME=]ARG ...]"
USAGE = ("pyperf probe [<options>] 'PROBEDEF' ['PROBEDEF' ...]",
         "pyperf probe [<options>] --add 'PROBEDEF' [--add 'PROBEDEF' ...]",
         "pyperf probe [<options>] --del '[GROUP:]EVENT' ...",
         "pyperf probe --list [GROUP:]EVENT ...",
         "pyperf probe [<options>] --line 'LINEDESC'",
         "pyperf probe [<options>] --vars 'PROBEPOINT'",
         "pyperf probe [<options>] --funcs")
ADD_HELP = ("probe point definition, where\n\t\tGROUP:\tGroup name (optional)\n\t\tEVENT:\tEvent name\n"
            "\t\tFUNC:\tFunction name\n\t\tOFF:\tOffset from function entry (in byte)\n"
            "\t\t%return:\tPut the probe at function return\n\t\tSRC:\tSource code path\n"
            "\t\tRL:\tRelative line number from function entry.\n\t\tAL:\tAbsolute line number in file.\n"
            "\t\tPT:\tLazy expression of line code.\n\t\tARG:\tProbe argument (local variable name or\n"
            "\t\t\tkprobe-tracer argument format.)\n")
DEFAULT_VAR_FILTER = "!__k???tab_* & !__crc_*"
DEFAULT_FUNC_FILTER = "!_* & !*@plt"
DEFAULT_LIST_FILTER = "*"
EXCLUSIVE = "adDlLVF"
MAX_PROBES = 128          # perf's MAX_PROBES: the default of --max-probes
EXAMPLES = """
 Examples:
   pyperf probe -x libc.so.6 malloc                      # add probe_libc:malloc
   pyperf probe -x libc.so.6 'malloc%return' '$retval'   # its return value
   pyperf probe -x ./prog -a 'leaf n' -a 'mid_b tag:string'  # C variables (debug info)
   pyperf probe -x /usr/bin/bash -D 'readline'           # show the uprobe_events line only
   pyperf probe -F -x libc.so.6 'mem*'                   # functions that can be probed
   pyperf probe -V -x ./prog leaf                        # variables at a probe point
   pyperf probe --ptrace -x ./prog leaf                  # without root: record/stat trace it with ptrace
   pyperf probe -l                                       # list probes
   pyperf probe -d 'probe_libc:*'                        # delete them
"""


PERF_OPTIONS: tuple[Option, ...] = (
    Option("v", "verbose", "incr", help="be more verbose (show parsed arguments, etc)"),
    Option("q", "quiet", "bool", help="be quiet (do not show any warnings or messages)"),
    Option("l", "list", "call", "[GROUP:]EVENT", "list up probe events", DEFAULT_LIST_FILTER),
    Option("d", "del", "call", "[GROUP:]EVENT", "delete a probe event."),
    Option("a", "add", "call", PROBEDEF, ADD_HELP),
    Option("D", "definition", "call", PROBEDEF,
           "Show trace event definition of given traceevent for k/uprobe_events."),
    Option("f", "force", "bool", help="forcibly add events with existing name"),
    Option("L", "line", "call", "FUNC[:RLN[+NUM|-RLN2]]|SRC:ALN[+NUM|-ALN2]", "Show source code lines."),
    Option("V", "vars", "call", "FUNC[@SRC][+OFF|%return|:RL|;PT]|SRC:AL|SRC;PT",
           "Show accessible variables on PROBEDEF"),
    Option(None, "externs", "bool", help="Show external variables too (with --vars only)"),
    Option(None, "range", "bool", help="Show variables location range in scope (with --vars only)"),
    Option("k", "vmlinux", "str", "file", "vmlinux pathname"),
    Option("s", "source", "str", "directory", "path to kernel source"),
    Option(None, "no-inlines", "bool", help="Don't search inlined functions"),
    Option("n", "dry-run", "bool", help="dry run"),
    Option(None, "max-probes", "int", "n", "Set how many probe points can be found for a probe."),
    Option("F", "funcs", "call", "[FILTER]", "Show potential probe-able functions.", DEFAULT_FUNC_FILTER),
    Option(None, "filter", "call", "[!]FILTER",
           "Set a filter (with --vars/funcs only)\n\t\t\t(default: \"" + DEFAULT_VAR_FILTER
           + "\" for --vars,\n\t\t\t \"" + DEFAULT_FUNC_FILTER + "\" for --funcs)"),
    Option("x", "exec", "call", "executable|path", "target executable name or path"),
    Option("m", "module", "call", "modname|path", "target module name (for online) or path (for offline)"),
    Option(None, "demangle", "bool", help="Enable symbol demangling"),
    Option(None, "demangle-kernel", "bool", help="Enable kernel symbol demangling"),
    Option(None, "cache", "bool", help="Manipulate probe cache"),
    Option(None, "symfs", "str", "directory", "Look for files with symbols relative to this directory"),
    Option(None, "target-ns", "str", "pid", "target pid for namespace contexts"),
    Option(None, "bootconfig", "bool", help="Output probe definition with bootconfig format"),
)
# pyperf's own options, first in the table: an abbreviation perf finds ambiguous then names perf's options
EXTENSIONS: tuple[Option, ...] = (
    Option(None, "ptrace", "bool", help="Add the probes for ptrace (no root): pyperf record/stat use breakpoints",
           flags=EXTENSION),
)


OPTIONS = EXTENSIONS + tuple(o._replace(flags=o.flags | _EXCLUSIVE_FLAG) if o.short and o.short in EXCLUSIVE else o
                           for o in PERF_OPTIONS)
TABLE = Table(USAGE, OPTIONS, stop_at_non_option=True)


def usage_header() -> str:
    return TABLE.header() + "\n"


def full_usage(error: str | None = None) -> str:
    """``usage_with_options``: [``  Error: ...``], the usage lines and every option, sorted."""
    return TABLE.full_usage(error)


def option_usage(names: Sequence[str], header: bool = True) -> str:
    """``parse_options_usage`` for some options (a short letter, or a long-name prefix), table order."""
    text = usage_header() if header else ""
    return text + "".join(TABLE.option_usage(name, len(name) == 1, header=False) for name in names)


def help_text(req: HelpRequested | None = None) -> str:
    """-h/--help (to stdout, status 0): the usage with every option, then the examples."""
    text = TABLE.full_usage(full=req.full, words=req.words) if req is not None else full_usage()
    return text.lstrip("\n") + EXAMPLES.lstrip("\n")


if TYPE_CHECKING:
    Callback = Callable[[Option, "str | None", bool], None]
    UnsetCallback = Callable[[Option], None]


def parse(argv: Sequence[str], on_option: Callback, on_unset: UnsetCallback | None = None) -> list[str]:
    """Walk ``argv`` like perf's ``parse_options_step``; ``on_option`` is called in order and may raise
    UsageError (shown with that option's usage); ``--no-NAME`` calls ``on_unset`` (perf's callbacks do
    nothing for most). Returns the words after the options. --list-opts prints perf's long names (130)."""
    def occurrence(occ) -> None:
        if not occ.unset:
            on_option(occ.option, occ.value, occ.as_short)
        elif on_unset is not None:
            on_unset(occ.option)
    try:
        return _parse(TABLE, argv, occurrence)
    except ListOpts as lst:
        import sys
        sys.stdout.write(lst.text)
        raise SystemExit(130) from None
