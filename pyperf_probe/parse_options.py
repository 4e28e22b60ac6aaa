"""perf's parse-options (tools/lib/subcmd/parse-options.c): the option walk of every perf command and its
texts, for the commands that mirror one (probe/options.py, cmdline.Parser, report and stat's readers).

What perf does and this does the same way:
* options stop at ``--``, and at the first word that is not an option when the command asks for it
  (PARSE_OPT_STOP_AT_NON_OPTION: record, stat, script, list, probe); otherwise words are kept and the
  walk goes on;
* short options cluster (``-fx PATH``, ``-ofile``); ``-h`` anywhere in a cluster is the help;
* a long option takes ``=VALUE`` or the next word, may be abbreviated to a prefix that no other long name
  shares, and is negated by ``--no-NAME`` (a name starting with ``no-`` is negated without it);
* a value is the next word whatever it starts with, except for PARSE_OPT_LASTARG_DEFAULT options, which
  take their default when the next word starts with '-' or there is none; PARSE_OPT_OPTARG options take a
  value only attached (``--opt=VALUE``);
* the texts: ``  Error: unknown option `x'`` / ``unknown switch `x'`` then the whole usage
  (``usage_with_options``: the usage lines and every option not hidden, sorted by ``option__cmp``); a bad
  value or use of one option: `` Error: switch `c' requires a value`` / ``option `name' ...`` then the usage
  lines and that option's help only (``parse_options_usage``, for a long option: every option whose name
  starts with what was typed, in the table's order); exit status 129.

pyperf's own additions: an option of perf's table that pyperf does not implement is refused as perf refuses
an option built without its library (PARSE_OPT_NOBUILD): `` Error: option `x' is not available because
pyperf does not implement it``; pyperf's extensions (``EXTENSION``) are options like the others, listed
in the usage among perf's, and marked so that a comparison with perf's text can leave their lines out
(:func:`extension_lines`).
"""
from __future__ import annotations

from pyperf_probe.errors import UsageError
from pyperf_probe.records import Record, field

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: importing typing costs start-up time
    from collections.abc import Callable, Iterable, Sequence

# struct option's flags (parse-options.h), those that change what the walk or the usage does
HIDDEN = 1 << 0            # PARSE_OPT_HIDDEN: listed by --help-all only
NONEG = 1 << 1             # PARSE_OPT_NONEG: no --no-NAME
LASTARG_DEFAULT = 1 << 2   # PARSE_OPT_LASTARG_DEFAULT: the default when the next word is an option or missing
NOBUILD = 1 << 3           # PARSE_OPT_NOBUILD: this perf was built without it (the note says why)
EXCLUSIVE = 1 << 4         # PARSE_OPT_EXCLUSIVE: one of these options at most
CANSKIP = 1 << 5           # PARSE_OPT_CANSKIP: a NOBUILD option that is ignored with a warning
EXTENSION = 1 << 8         # not perf's: an option only pyperf has

NO_VALUE = ("bool", "incr")     # OPTION_BOOLEAN/INCR/BIT/SET_UINT and the NOARG callbacks
NOT_IMPLEMENTED = "pyperf does not implement it"
EXIT_USAGE = 129

USAGE_OPTS_WIDTH = 24
USAGE_GAP = 2


class Option(Record):
    """One entry of a ``struct option`` table. ``kind``: 'bool' and 'incr' take no value; 'str' and 'call'
    take one; 'int' takes a number (strtol, base 10), 'uint' an unsigned one (OPTION_UINTEGER/U64: a
    leading '-' is refused first); 'optarg' takes one only as ``--name=VALUE`` (or attached to its letter).
    ``default``: the value of a LASTARG_DEFAULT option given without one (None: the consumer's own
    default). ``note``: why a NOBUILD option is not there (perf's build_opt)."""

    __slots__ = ()
    _fields = ("short", "long", "kind", "argh", "help", "default", "flags", "note")

    def __new__(cls, short: str | None, long: str | None, kind: str, argh: str | None = None, help: str = "",
                default: str | None = None, flags: int = 0, note: str | None = None):
        if default is not None:
            flags |= LASTARG_DEFAULT
        return tuple.__new__(cls, (short, long, kind, argh, help, default, flags, note))

    short = field(0, "the one-letter name, or None")
    long = field(1, "the long name, or None")
    kind = field(2, "'bool', 'incr', 'str', 'call', 'int', 'uint' or 'optarg'")
    argh = field(3, "the argument's name in the usage text (None: '...')")
    help = field(4, "the help text")
    default = field(5, "the PARSE_OPT_LASTARG_DEFAULT value")
    flags = field(6, "HIDDEN, NONEG, LASTARG_DEFAULT, NOBUILD, EXCLUSIVE, EXTENSION")
    note = field(7, "NOBUILD: why (perf's build_opt)")

    @classmethod
    def from_row(cls, row: tuple) -> "Option":
        """A generated table's row (pyperf_probe/perf_options): (short, long, kind, argh, help, flags, note)."""
        short, long, kind, argh, help_, flags, note = row
        return tuple.__new__(cls, (short, long, kind, argh, help_, None, flags, note))

    @property
    def extension(self) -> bool:
        return bool(self[6] & EXTENSION)

    def usage_line(self, full: bool = False) -> str:
        """perf's ``print_option_help``: the names and argument in a column of 24, two spaces, the help."""
        if (self[6] & HIDDEN) and not full:
            return ""
        text = "    " + (f"-{self.short}" if self.short else "    ")
        if self.short and self.long:
            text += ", "
        if self.long:
            text += f"--{self.long}"
        text += self._arg_text()
        pos = len(text)
        if pos <= USAGE_OPTS_WIDTH:
            text += " " * (USAGE_OPTS_WIDTH - pos + USAGE_GAP)
        else:
            text += "\n" + " " * (USAGE_OPTS_WIDTH + USAGE_GAP)
        text += self.help + "\n"
        if self[6] & NOBUILD:
            text += " " * (USAGE_OPTS_WIDTH + USAGE_GAP) + f"(not built-in because {self.note})\n"
        return text

    def _arg_text(self) -> str:
        kind, argh = self[2], self[3]
        if kind in NO_VALUE:
            return ""
        if kind == "optarg":
            inner = f"<{argh}>" if argh is not None else "..."
            return f"[={inner}]" if self.long else f"[{inner}]"
        return f" <{argh}>" if argh is not None else " ..."


def _sort_key(opt: Option):
    """perf's ``option__cmp``: the short name case-folded (none sorts after 'z'), then the long name."""
    s = ord(opt.short.lower()) if opt.short else ord("z") + 1
    return (s, opt.long or "")


class Table:
    """A command's options (in the table's order: abbreviations and per-option usage follow it) and its
    usage lines (``usagestr``: the first is printed after ``Usage:``, the others after ``or:``)."""

    __slots__ = ("usage", "options", "stop_at_non_option")

    def __init__(self, usage: Sequence[str], options: Sequence[Option], stop_at_non_option: bool = False):
        self.usage = tuple(usage)
        self.options = tuple(options)
        self.stop_at_non_option = stop_at_non_option


    def header(self) -> str:
        """``\\n Usage: ...`` and the ``or:`` lines."""
        text = f"\n Usage: {self.usage[0]}\n"
        return text + "".join(f"    or: {u}\n" for u in self.usage[1:])

    def full_usage(self, error: str | None = None, full: bool = False, words: Sequence[str] = ()) -> str:
        """``usage_with_options_internal``: [``  Error: ...``], the usage lines and every option, sorted;
        with ``words`` (those after ``-h``), only the options they name or whose help has one of them."""
        text = f"  Error: {error}\n" if error is not None else ""
        text += self.header() + "\n"
        for opt in sorted(self.options, key=_sort_key):
            if words and not _in_words(opt, words):
                continue
            text += opt.usage_line(full)
        return text + "\n"

    def option_usage(self, optstr: str, short: bool, header: bool = True, after: str | None = None) -> str:
        """``parse_options_usage``: the usage lines and the options ``optstr`` names: the first with that
        letter, or every one whose long name starts with it (as typed, ``=VALUE`` included).

        perf also lists, when ``optstr`` is a prefix of "no-", the options whose name starts with what is 3
        bytes into it: for "no-" every option; for "n" and "no" that is past its end, in the next word of
        the command line (``after``: argv's strings lie one after the other), and perf prints those too."""
        text = self.header() + "\n" if header else ""
        negated = None
        if not short and "no-".startswith(optstr):
            if optstr == "no-":
                negated = ""
            elif after is not None:
                negated = after[1:] if optstr == "n" else after
        for opt in self.options:
            if short:
                if opt.short == optstr[:1]:
                    text += opt.usage_line()
                    break
                continue
            if opt.long is None:
                continue
            if opt.long.startswith(optstr):
                text += opt.usage_line()
            if negated is not None and opt.long.startswith(negated):
                text += opt.usage_line()
        return text

    def extension_lines(self) -> list[str]:
        """The lines pyperf's extensions add to the usage (each option's print_option_help lines)."""
        return [line for o in self.options if o.extension for line in o.usage_line(True).splitlines(True)]


def _in_words(opt: Option, words: Sequence[str]) -> bool:
    """perf's ``option__in_argv``."""
    for arg in words:
        if not arg.startswith("-"):
            if len(arg) == 1:
                if arg == opt.short:
                    return True
                continue
            if opt.long == arg or arg.lower() in opt.help.lower():
                return True
            continue
        second = arg[1:2]
        if (second == (opt.short or "")) or (second == "-" and opt.long is not None and opt.long == arg[2:]):
            return True
    return False


class ParseError(UsageError):
    """A parse-options failure: the text is complete (message and usage), printed as is, exit 129."""

    verbatim = True

    def __init__(self, text: str):
        super().__init__(text)


class HelpRequested(Exception):
    """``-h``, ``--help`` (``full`` for ``--help-all``); ``words``: those after it, which filter the list."""

    def __init__(self, full: bool = False, words: Sequence[str] = ()):
        super().__init__("help")
        self.full = full
        self.words = tuple(words)


class OptionValueError(Exception):
    """Raised by ``on_option`` for a bad value: perf's ``opterror`` words (`` Error: switch `c' REASON``)
    and that option's usage follow."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ListOpts(Exception):
    """``--list-opts``: perf prints the long names and exits 130 (``text`` is what it prints)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class Occurrence(Record):
    """One option as the walk met it: ``value`` is None for an option without one (a flag, a negation, an
    OPTARG option without ``=``, a LASTARG_DEFAULT option that took no word and has no default of its own)."""

    __slots__ = ()
    _fields = ("option", "value", "unset", "as_short")

    def __new__(cls, option: Option, value: str | None, unset: bool, as_short: bool):
        return tuple.__new__(cls, (option, value, unset, as_short))

    option = field(0, "the Option")
    value = field(1, "its value, or None")
    unset = field(2, "given as --no-NAME")
    as_short = field(3, "given by its letter")


if TYPE_CHECKING:
    OnOption = Callable[[Occurrence], None]
    Unsupported = Callable[[Option], "str | None"]


def parse(table: Table, argv: Sequence[str], on_option: OnOption, unsupported: Unsupported | None = None,
          ) -> list[str]:
    """Walk ``argv`` as perf's ``parse_options_step`` does. ``on_option`` is called for each option, in
    order, and may raise UsageError (its message is then followed by that option's usage, as after a
    perf callback's). ``unsupported(option)`` gives the reason an option of perf's is refused (NOBUILD's
    place), or None. Returns the words that are not options (perf's argv after parse_options)."""
    return _Walk(table, list(argv), on_option, unsupported).run()


class _Walk:
    """parse_opt_ctx_t: the words, the position, the value attached to the current option (``opt``)."""

    def __init__(self, table: Table, argv: list[str], on_option, unsupported):
        self.table, self.argv, self.on_option, self.unsupported = table, argv, on_option, unsupported
        self.i = self.start = 0
        self.opt: str | None = None     # the rest of a short cluster, or a long option's =VALUE
        self.excl: Option | None = None
        self.out: list[str] = []

    def run(self) -> list[str]:
        argv = self.argv
        while self.i < len(argv):
            arg = argv[self.i]
            if not arg.startswith("-") or arg == "-":
                if self.table.stop_at_non_option:
                    break
                self.out.append(arg)
                self.i += 1
                continue
            self.start = self.i
            if not arg.startswith("--"):
                self._short_cluster(arg)
            elif arg == "--":
                self.i += 1
                break
            else:
                self._long(arg[2:])
            self.i += 1
        return self.out + argv[self.i:]

    # -- short options -------------------------------------------------------------------------------------

    def _short_cluster(self, arg: str) -> None:
        self.opt = arg[1:]
        first = True
        while self.opt:
            letter = self.opt[0]
            if letter == "h":
                raise HelpRequested(words=self.argv[self.i + 1:])
            opt = next((o for o in self.table.options if o.short == letter), None)
            if opt is None:
                raise ParseError(self.table.full_usage(f"unknown switch `{letter}'"))
            self.opt = self.opt[1:] or None
            self._get_value(opt, True, False, letter)
            if first and self.opt:
                _check_typos(arg[1:], self.table)
            first = False

    # -- long options --------------------------------------------------------------------------------------

    def _long(self, arg: str) -> None:
        if arg == "help-all":
            raise HelpRequested(full=True, words=self.argv[self.i + 1:])
        if arg == "help":
            raise HelpRequested(words=self.argv[self.i + 1:])
        if arg == "list-opts":
            raise ListOpts("".join(f"--{o.long} " for o in self.table.options if o.long) + "\n")
        name_end = arg.find("=")
        if name_end < 0:
            name_end = len(arg)
        abbrev = ambiguous = None
        abbrev_unset = ambiguous_unset = False
        for opt in self.table.options:
            long = opt.long
            if long is None:
                continue
            unset = False
            rest = arg[len(long):] if arg.startswith(long) else None
            if rest is None:
                matched = False
                if long.startswith("no-"):
                    if arg.startswith(long[3:]):
                        rest, unset, matched = arg[len(long) - 3:], True, True
                    elif long[3:].startswith(arg):
                        unset = True
                        abbrev, ambiguous, abbrev_unset, ambiguous_unset = self._abbrev(
                            opt, unset, abbrev, ambiguous, abbrev_unset, ambiguous_unset, arg, name_end)
                        continue
                if not matched:
                    if long.startswith(arg[:name_end]):
                        abbrev, ambiguous, abbrev_unset, ambiguous_unset = self._abbrev(
                            opt, False, abbrev, ambiguous, abbrev_unset, ambiguous_unset, arg, name_end)
                        continue
                    if "no-".startswith(arg):       # negated and abbreviated very much
                        abbrev, ambiguous, abbrev_unset, ambiguous_unset = self._abbrev(
                            opt, True, abbrev, ambiguous, abbrev_unset, ambiguous_unset, arg, name_end)
                        continue
                    if not arg.startswith("no-"):
                        continue
                    unset = True
                    rest = arg[3 + len(long):] if arg[3:].startswith(long) else None
                    if rest is None:
                        if long.startswith(arg[3:]):
                            abbrev, ambiguous, abbrev_unset, ambiguous_unset = self._abbrev(
                                opt, True, abbrev, ambiguous, abbrev_unset, ambiguous_unset, arg, name_end)
                        continue
            if rest:
                if rest[0] != "=":
                    continue
                self.opt = rest[1:]
            self._get_value(opt, False, unset, arg)
            return
        if ambiguous is not None:
            text = (f" Error: Ambiguous option: {arg} (could be --{'no-' if ambiguous_unset else ''}"
                    f"{ambiguous.long} or --{'no-' if abbrev_unset else ''}{abbrev.long})\n")
            raise ParseError(text + self.table.option_usage(arg, False, after=self._next_word()))
        if abbrev is not None:
            self._get_value(abbrev, False, abbrev_unset, arg)
            return
        raise ParseError(self.table.full_usage(f"unknown option `{arg}'"))

    def _abbrev(self, opt, unset, abbrev, ambiguous, abbrev_unset, ambiguous_unset, arg, name_end):
        """parse_long_opt's ``is_abbreviated``: a second prefix match makes the first ambiguous."""
        if abbrev is not None:
            ambiguous, ambiguous_unset = abbrev, abbrev_unset
        if not unset and name_end < len(arg):
            self.opt = arg[name_end + 1:]
        return opt, ambiguous, unset, ambiguous_unset

    # -- values --------------------------------------------------------------------------------------------

    def _error(self, opt: Option, reason: str, as_short: bool, unset: bool, typed: str) -> ParseError:
        """opterror, then parse_options_usage for what was typed."""
        if as_short:
            head = f" Error: switch `{opt.short}' {reason}"
        elif unset:
            head = f" Error: option `no-{opt.long}' {reason}"
        else:
            head = f" Error: option `{opt.long}' {reason}"
        return ParseError(head + self.table.option_usage(typed, as_short, after=self._next_word()))

    def _next_word(self) -> str | None:
        """The word after the one being read (what perf's parse_options_usage may read past its text)."""
        return self.argv[self.start + 1] if self.start + 1 < len(self.argv) else None

    def _get_value(self, opt: Option, as_short: bool, unset: bool, typed: str) -> None:
        flags, kind = opt.flags, opt.kind
        if unset and self.opt is not None:
            raise self._error(opt, "takes no value", as_short, unset, typed)
        if unset and flags & NONEG:
            raise self._error(opt, "isn't available", as_short, unset, typed)
        if flags & EXCLUSIVE:
            self._exclusive(opt, as_short, typed)
        if not as_short and self.opt is not None and kind in NO_VALUE:
            raise self._error(opt, "takes no value", as_short, unset, typed)
        if flags & NOBUILD:
            if not flags & CANSKIP:
                raise self._error(opt, f"is not available because {opt.note}", as_short, unset, typed)
            self._skip(opt, as_short, unset, typed)
            return
        reason = self.unsupported(opt) if self.unsupported is not None else None
        if reason:
            raise self._error(opt, f"is not available because {reason}", as_short, unset, typed)
        value = None
        if kind not in NO_VALUE and not unset:
            if kind == "optarg":
                value, self.opt = self.opt, None
            else:
                value = self._get_arg(opt, as_short, typed)
            if kind == "uint" and value is not None and value.startswith("-"):
                raise self._error(opt, "expects an unsigned numerical value", as_short, unset, typed)
            if kind in ("int", "uint") and value is not None and not strtol_ok(value):
                raise self._error(opt, "expects a numerical value", as_short, unset, typed)
        try:
            self.on_option(Occurrence(opt, value, unset, as_short))
        except ParseError:
            raise
        except OptionValueError as err:
            raise self._error(opt, err.reason, as_short, unset, typed) from None
        except UsageError as err:
            raise ParseError(err.message.rstrip("\n") + "\n"
                             + self.table.option_usage(typed, as_short, after=self._next_word())) from None

    def _skip(self, opt: Option, as_short: bool, unset: bool, typed: str) -> None:
        """A CANSKIP option: its value is taken, then perf's warning (no newline after it), and nothing else."""
        if not unset and opt.kind not in NO_VALUE and not (opt.kind == "optarg" and self.opt is None):
            self._get_arg(opt, as_short, typed)
        name = f"switch `{opt.short}'" if as_short else f"option `{'no-' if unset else ''}{opt.long}'"
        import sys
        sys.stderr.write(f" Warning: {name} is being ignored because {opt.note} ")

    def _get_arg(self, opt: Option, as_short: bool, typed: str) -> str | None:
        if self.opt is not None:
            value, self.opt = self.opt, None
            return value
        argv, i = self.argv, self.i
        if opt.flags & LASTARG_DEFAULT and (i + 1 >= len(argv) or argv[i + 1].startswith("-")):
            return opt.default
        if i + 1 < len(argv):
            self.i += 1
            return argv[self.i]
        raise self._error(opt, "requires a value", as_short, False, typed)

    def _exclusive(self, opt: Option, as_short: bool, typed: str) -> None:
        excl = self.excl
        if excl is not None and excl is not opt:
            if (as_short and excl.short) or excl.long is None:
                reason, other, other_short = f"cannot be used with switch `{excl.short}'", excl.short, True
            else:
                reason, other, other_short = f"cannot be used with {excl.long}", excl.long, False
            err = self._error(opt, reason, as_short, False, typed)
            raise ParseError(err.message + self.table.option_usage(other, other_short, header=False))
        self.excl = opt


def _check_typos(arg: str, table: Table) -> None:
    """perf's ``check_typos``: ``-all-cpus`` meant ``--all-cpus``."""
    if len(arg) < 3:
        return
    if arg.startswith("no-") or any(o.long and o.long.startswith(arg) for o in table.options):
        raise ParseError(f" Error: did you mean `--{arg}` (with two dashes ?)\n")


def strtol_ok(text: str) -> bool:
    """strtol(text, &end, 10) leaves nothing after the number (an empty text reads as 0)."""
    s = text.lstrip(" \t\n\v\f\r")
    if s[:1] in ("+", "-"):
        s = s[1:]
    digits = len(s) - len(s.lstrip("0123456789"))
    if digits == 0:
        return text == ""
    return digits == len(s)


def perf_table(command: str, extra: Iterable[Option] = ()) -> Table:
    """perf 6.1's table for ``perf COMMAND`` (pyperf_probe/perf_options), ``perf`` named ``pyperf`` in its
    usage lines, with pyperf's extensions before perf's options: an ambiguous abbreviation names the last
    two options it matches, so whenever perf finds it ambiguous the message is perf's."""
    name = command.replace(" ", "_").replace("-", "_")
    __import__("pyperf_probe.perf_options." + name)
    import sys
    data = sys.modules["pyperf_probe.perf_options." + name]
    usage = tuple("py" + u if u.startswith("perf ") else u for u in data.USAGE)
    options = tuple(extra) + tuple(Option.from_row(r) for r in data.OPTIONS)
    return Table(usage, options, data.STOP_AT_NON_OPTION)


def help_text(table: Table, req: HelpRequested, examples: str = "") -> str:
    """What pyperf prints for -h/--help: perf's usage layout, then ``examples`` as they are."""
    return table.full_usage(full=req.full, words=req.words).lstrip("\n") + examples


def parse_command(table: Table, argv: Sequence[str], on_option: OnOption, unsupported: Unsupported | None = None,
                  examples: str = "") -> list[str]:
    """:func:`parse`, with ``-h``/``--help``/``--help-all`` and ``--list-opts`` answered: the help lists the
    options pyperf has (perf's layout, perf's refused options left out), then the examples, on stdout
    with status 0 (perf: stderr, 129); the long names as perf prints them, status 130."""
    import sys
    try:
        return parse(table, argv, on_option, unsupported)
    except HelpRequested as req:
        have = [o for o in table.options if not (unsupported is not None and unsupported(o))]
        sys.stdout.write(help_text(Table(table.usage, have, table.stop_at_non_option), req, examples))
        raise SystemExit(0) from None
    except ListOpts as lst:
        sys.stdout.write(lst.text)
        raise SystemExit(130) from None
