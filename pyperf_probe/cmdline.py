"""argparse with perf's command-line conventions, shared by the ``cmd_*`` modules.

* A bad option is a ``UsageError``: ``  Error: ...`` and the usage text on stderr, exit 129 (perf's
  parse-options), mapped in ``cli.py`` like every other error.
* ``--help`` ends with examples a user can paste (the ``examples`` text).
* Options whose values may start with ``-`` (``-F -trace,+pid``, ``-d -x``) take them, as perf's
  parse-options does: name them in ``dash_values``.
* ``perf="record"``: the command mirrors ``perf record``, and its command line is read by perf's own walk
  (parse_options.py) over perf 6.1's option table for it (pyperf_probe/perf_options), with perf's texts for
  every bad option (unknown, ambiguous, a missing value, a value given to a flag, a bad number) and perf's
  ``-h`` layout. argparse then only holds the actions: each option of perf's table that pyperf has is an
  ``add_argument`` under perf's names (``--no-NAME`` stands for the negation); one pyperf does not have is
  refused with perf's NOBUILD words; an option only pyperf has says ``extension=True`` (its help is then
  shown in perf's layout, and parse_options.Table.extension_lines names its lines).
"""
from __future__ import annotations

import argparse
from typing import Iterable, List, Optional, Sequence

from pyperf_probe.errors import UsageError


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that raises ``UsageError`` instead of exiting."""

    def __init__(self, prog: str, *, examples: str = "", dash_values: Iterable[str] = (), perf: str = "",
                 on_words=None, **kw):
        kw.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        if examples:
            kw["epilog"] = "examples:\n" + examples.strip("\n")
        if perf:
            kw["add_help"] = False      # -h/--help/--help-all are perf's (parse_options)
        super().__init__(prog=prog, **kw)
        self._dash_values = frozenset(dash_values)
        self._examples = examples
        self._perf = perf
        self._on_words = on_words
        self._extensions: list = []

    def add_argument(self, *args, extension: bool = False, **kw):
        """argparse's, and ``extension=True`` for an option perf does not have (perf mode)."""
        action = super().add_argument(*args, **kw)
        if extension:
            self._extensions.append(action)
        return action

    def format_usage(self) -> str:
        """perf mode: perf's usage lines (`` Usage: pyperf record ...`` and the ``or:`` lines)."""
        if self._perf:
            return self.perf_table().header().strip("\n") + "\n"
        return super().format_usage()

    def error(self, message: str):
        raise UsageError(_perf_words(message), usage=self.format_usage().rstrip())

    def parse_args(self, args: Optional[Sequence[str]] = None, namespace=None):
        if self._perf:
            return self._parse_perf(list(args or []))
        return super().parse_args(self._attach_dash_values(list(args or [])), namespace)

    # -- perf mode -----------------------------------------------------------------------------------------

    def perf_table(self):
        """perf's table for the command, pyperf's extensions after its options."""
        from pyperf_probe import parse_options as po
        return po.perf_table(self._perf, [_extension_option(a) for a in self._extensions])

    def _parse_perf(self, argv: List[str]):
        from pyperf_probe import parse_options as po
        table = self.perf_table()
        ns = argparse.Namespace()
        for action in self._actions:     # argparse's defaults: the first action of a dest gives it
            if action.dest is not argparse.SUPPRESS and action.default is not argparse.SUPPRESS \
                    and not hasattr(ns, action.dest):
                setattr(ns, action.dest, action.default)
        for dest, value in self._defaults.items():
            setattr(ns, dest, value)
        rest = po.parse_command(table, argv, lambda occ: self._apply(ns, occ), self.unsupported,
                                self.examples_text())
        positionals = [a for a in self._actions if not a.option_strings]
        if rest and not positionals:
            if self._on_words is not None:
                self._on_words(rest, table)
            raise po.ParseError(table.full_usage())
        tail = ["--"] + rest if rest else []
        return super().parse_args(tail, ns) if positionals else ns

    def unsupported(self, opt):
        """parse_options' reason for refusing an option of perf's that has no action here."""
        from pyperf_probe import parse_options as po
        return None if self._actions_for(opt) != (None, None) else po.NOT_IMPLEMENTED

    def examples_text(self) -> str:
        return " Examples:\n" + self._examples.strip("\n") + "\n" if self._examples else ""

    def _actions_for(self, opt):
        """(the action of ``-S``/``--NAME``, the action of its negation ``--no-NAME``) for a perf option."""
        found = self._option_string_actions
        pos = found.get(f"-{opt.short}") if opt.short else None
        neg = None
        if opt.long:
            pos = pos or found.get(f"--{opt.long}")
            neg = found.get(f"--{opt.long[3:]}" if opt.long.startswith("no-") else f"--no-{opt.long}")
        return pos, neg

    def _apply(self, ns, occ) -> None:
        """One option, as perf's callback would: the argparse action, its negation, or the opposite."""
        from pyperf_probe import parse_options as po
        pos, neg = self._actions_for(occ.option)
        action, flip = (neg, pos) if occ.unset else (pos, neg)
        if action is None:      # only the other form is declared: a flag set the other way
            if isinstance(flip, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
                setattr(ns, flip.dest, not flip.const)
            else:
                setattr(ns, flip.dest, flip.default)
            return
        if action.nargs == 0:
            action(self, ns, None, action.option_strings[0])
            return
        value = occ.value
        if value is None:       # a LASTARG_DEFAULT or OPTARG option given without a value
            value = action.const if action.nargs == argparse.OPTIONAL else action.default
        elif action.type is int:
            if not po.strtol_ok(value):
                raise po.OptionValueError("expects a numerical value")
            value = int(value.strip() or 0)
        elif action.type is not None:
            try:
                value = action.type(value)
            except (TypeError, ValueError):
                raise po.OptionValueError("expects a numerical value") from None
        action(self, ns, value, action.option_strings[0])

    def _attach_dash_values(self, argv: List[str]) -> List[str]:
        out, i = [], 0
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                out += argv[i:]
                break
            if arg in self._dash_values and i + 1 < len(argv) and argv[i + 1][:1] in ("-", "+"):
                out.append(f"{arg}={argv[i + 1]}" if arg.startswith("--") else arg + argv[i + 1])
                i += 2
                continue
            out.append(arg)
            i += 1
        return out


def _extension_option(action):
    """parse_options.Option for a pyperf-only argparse option."""
    from pyperf_probe import parse_options as po
    short = next((o[1:] for o in action.option_strings if len(o) == 2 and o[1] != "-"), None)
    long = next((o[2:] for o in action.option_strings if o.startswith("--")), None)
    if action.nargs == 0:
        kind = "incr" if isinstance(action, argparse._CountAction) else "bool"
    else:
        kind = "optarg" if action.nargs == argparse.OPTIONAL else ("int" if action.type is int else "str")
    argh = action.metavar if isinstance(action.metavar, str) else (long or action.dest).replace("-", "_")
    return po.Option(short, long, kind, None if kind in po.NO_VALUE else argh, action.help or "",
                     flags=po.EXTENSION)


def _perf_words(message: str) -> str:
    """argparse's error in perf's parse-options words where perf has its own: a value given to a flag
    (``--no-inherit=1``) is " Error: option `no-inherit' takes no value"."""
    head, sep, _ = message.partition(": ignored explicit argument ")
    if sep and head.startswith("argument "):
        longs = [o for o in head[len("argument "):].split("/") if o.startswith("--")]
        if longs:
            return f" Error: option `{longs[0][2:]}' takes no value"
    return f"  Error: {message}"
