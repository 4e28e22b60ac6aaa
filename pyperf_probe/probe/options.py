"""``pyperf probe`` options, parsed the way perf's parse-options does it (tools/lib/subcmd/parse-options.c)
and shown in perf's usage layout, with ``pyperf`` for ``perf``.

perf specifics kept here: options stop at the first non-option word (PARSE_OPT_STOP_AT_NON_OPTION); short
options cluster (``-fx PATH``); long options take ``=VALUE`` or the next word and may be abbreviated;
``-l`` and ``-F`` take the next word as their argument unless it is missing or starts with '-'
(PARSE_OPT_LASTARG_DEFAULT); ``-a -d -D -l -L -V -F`` exclude each other (PARSE_OPT_EXCLUSIVE).
"""
from __future__ import annotations

from pyperf_probe.errors import UsageError
from pyperf_probe.records import Record, field

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


class Option(Record):
    """One entry of perf's ``struct option`` table: kind is 'bool', 'incr', 'str', 'int' or 'call'.
    (A light immutable record, records.py: the table is built on every start-up, and ``typing.NamedTuple``
    or a dataclass would cost more to import than ``pyperf probe -F`` may spend; bench/probe_funcs.)"""

    __slots__ = ()
    _fields = ("short", "long", "kind", "argh", "help", "default")

    def __new__(cls, short: str | None, long: str | None, kind: str, argh: str | None = None, help: str = "",
                default: str | None = None):
        return tuple.__new__(cls, (short, long, kind, argh, help, default))

    short = field(0, "the one-letter name, or None")
    long = field(1, "the long name, or None")
    kind = field(2, "'bool', 'incr', 'str', 'int' or 'call'")
    argh = field(3, "the argument's name in the usage text")
    help = field(4, "the help text")
    default = field(5, "PARSE_OPT_LASTARG_DEFAULT value")

    def usage_line(self) -> str:
        """perf's ``print_option_help``: name column of 24, then two spaces and the help."""
        text = "    "
        text += f"-{self.short}" if self.short else "    "
        if self.short and self.long:
            text += ", "
        if self.long:
            text += f"--{self.long}"
        if self.kind not in ("bool", "incr"):
            text += f" <{self.argh}>"
        pos = len(text)
        if pos <= 24:
            return text + " " * (24 - pos + 2) + self.help + "\n"
        return text + "\n" + " " * 26 + self.help + "\n"


OPTIONS: tuple[Option, ...] = (
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
    Option(None, "ptrace", "bool", help="Add the probes for ptrace (no root): pyperf record/stat use breakpoints"),
)


def _sort_key(opt: Option):
    """perf's ``option__cmp``: short name case-folded (none sorts last), then the long name."""
    s = ord(opt.short.lower()) if opt.short else ord("z") + 1
    return (s, opt.long or "")


def usage_header() -> str:
    lines = [f"\n Usage: {USAGE[0]}"] + [f"    or: {u}" for u in USAGE[1:]]
    return "\n".join(lines) + "\n\n"


PYPERF_ONLY = ("ptrace",)  # options perf has not: left out of perf's usage text, listed by --help after it


def full_usage(error: str | None = None) -> str:
    """``usage_with_options``: [``  Error: ...``], the usage lines and every option of perf's, sorted."""
    text = f"  Error: {error}\n" if error is not None else ""
    text += usage_header()
    text += "".join(o.usage_line() for o in sorted(OPTIONS, key=_sort_key) if o.long not in PYPERF_ONLY)
    return text + "\n"


def option_usage(names: Sequence[str], header: bool = True) -> str:
    """``parse_options_usage`` for some options (a short letter, or a long-name prefix), table order."""
    text = usage_header() if header else ""
    for name in names:
        for o in OPTIONS:
            if (len(name) == 1 and o.short == name) or (len(name) > 1 and o.long and o.long.startswith(name)):
                text += o.usage_line()
                if len(name) == 1:
                    break
    return text


class ParseError(UsageError):
    """A parse-options failure: the text is complete (message and usage), printed as is, exit 129."""

    verbatim = True

    def __init__(self, text: str):
        super().__init__(text)


class HelpRequested(Exception):
    """-h/--help: the usage with examples goes to stdout and the command succeeds."""


def help_text() -> str:
    own = "".join(o.usage_line() for o in OPTIONS if o.long in PYPERF_ONLY)
    return full_usage().lstrip("\n") + " pyperf's own:\n" + own + "\n" + EXAMPLES.lstrip("\n")


if TYPE_CHECKING:
    Callback = Callable[[Option, "str | None", bool], None]


def parse(argv: Sequence[str], on_option: Callback) -> list[str]:
    """Walk ``argv`` like perf's ``parse_options_step``; ``on_option`` is called in order and may raise
    UsageError (shown with that option's usage). Returns the words after the options."""
    args = list(argv)
    state = {"excl": None}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return args[i + 1:]
        if not arg.startswith("-") or arg == "-":
            return args[i:]
        if arg.startswith("--"):
            i = _long(args, i, on_option, state)
        else:
            i = _short(args, i, on_option, state)
    return []


def _check_exclusive(opt: Option, as_short: bool, state) -> None:
    if opt.short is None or opt.short not in EXCLUSIVE:
        return
    excl = state["excl"]
    if excl is not None and excl is not opt:
        if (as_short and excl.short) or excl.long is None:
            reason = f"cannot be used with switch `{excl.short}'"
        else:
            reason = f"cannot be used with {excl.long}"
        head = f" Error: switch `{opt.short}' {reason}" if as_short else f" Error: option `{opt.long}' {reason}"
        second = option_usage([excl.short] if (as_short and excl.short) else [excl.long], header=False)
        raise ParseError(head + option_usage([opt.short] if as_short else [opt.long]) + second)
    state["excl"] = opt


def _value(args: list[str], i: int, opt: Option, attached: str | None) -> tuple[str | None, int]:
    """(value, index of the next word) for an option that takes a value (perf's ``get_arg``)."""
    if attached is not None:
        return attached, i + 1
    if opt.default is not None and (i + 1 >= len(args) or args[i + 1].startswith("-")):
        return opt.default, i + 1
    if i + 1 < len(args):
        return args[i + 1], i + 2
    return None, i + 1


def _apply(opt: Option, value: str | None, as_short: bool, on_option: Callback) -> None:
    name = [opt.short] if as_short else [opt.long]
    if opt.kind == "int":
        try:
            int(value, 0)
        except (TypeError, ValueError):
            what = f"switch `{opt.short}'" if as_short else f"option `{opt.long}'"
            raise ParseError(f" Error: {what} expects a numerical value" + option_usage(name)) from None
    try:
        on_option(opt, value, as_short)
    except ParseError:
        raise
    except UsageError as err:
        raise ParseError(err.message.rstrip("\n") + "\n" + option_usage(name)) from None


def _short(args: list[str], i: int, on_option: Callback, state) -> int:
    cluster = args[i][1:]
    j = 0
    while j < len(cluster):
        c = cluster[j]
        opt = next((o for o in OPTIONS if o.short == c), None)
        if c == "h":
            raise HelpRequested()
        if opt is None:
            raise ParseError(full_usage(f"unknown switch `{c}'"))
        _check_exclusive(opt, True, state)
        if opt.kind in ("bool", "incr"):
            _apply(opt, None, True, on_option)
            j += 1
            continue
        rest = cluster[j + 1:] or None
        value, nxt = _value(args, i, opt, rest)
        if value is None:
            raise ParseError(f" Error: switch `{c}' requires a value" + option_usage([c]))
        _apply(opt, value, True, on_option)
        return nxt
    return i + 1


def _long(args: list[str], i: int, on_option: Callback, state) -> int:
    body = args[i][2:]
    name, eq, attached = body.partition("=")
    if name == "help":
        raise HelpRequested()
    exact = [o for o in OPTIONS if o.long == name]
    matches = exact or [o for o in OPTIONS if o.long and o.long.startswith(name)]
    if len(matches) != 1:
        if len(matches) > 1:
            raise ParseError(full_usage(f"Ambiguous option: {name} (could be --{matches[0].long} "
                                        f"or --{matches[1].long})"))
        raise ParseError(full_usage(f"unknown option `{name}'"))
    opt = matches[0]
    _check_exclusive(opt, False, state)
    if opt.kind in ("bool", "incr"):
        if eq:
            raise ParseError(f" Error: option `{opt.long}' takes no value" + option_usage([opt.long]))
        _apply(opt, None, False, on_option)
        return i + 1
    value, nxt = _value(args, i, opt, attached if eq else None)
    if value is None:
        raise ParseError(f" Error: option `{opt.long}' requires a value" + option_usage([opt.long]))
    _apply(opt, value, False, on_option)
    return nxt
