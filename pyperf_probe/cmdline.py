"""argparse with perf's command-line conventions, shared by the ``cmd_*`` modules.

* A bad option is a ``UsageError``: ``  Error: ...`` and the usage text on stderr, exit 129 (perf's
  parse-options), mapped in ``cli.py`` like every other error.
* ``--help`` ends with examples a user can paste (the ``examples`` text).
* Options whose values may start with ``-`` (``-F -trace,+pid``, ``-d -x``) take them, as perf's
  parse-options does: name them in ``dash_values``.
"""
from __future__ import annotations

import argparse
from typing import Iterable, List, Optional, Sequence

from pyperf_probe.errors import UsageError


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that raises ``UsageError`` instead of exiting."""

    def __init__(self, prog: str, *, examples: str = "", dash_values: Iterable[str] = (), **kw):
        kw.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        if examples:
            kw["epilog"] = "examples:\n" + examples.strip("\n")
        super().__init__(prog=prog, **kw)
        self._dash_values = frozenset(dash_values)

    def error(self, message: str):
        raise UsageError(_perf_words(message), usage=self.format_usage().rstrip())

    def parse_args(self, args: Optional[Sequence[str]] = None, namespace=None):
        return super().parse_args(self._attach_dash_values(list(args or [])), namespace)

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


def _perf_words(message: str) -> str:
    """argparse's error in perf's parse-options words where perf has its own: a value given to a flag
    (``--no-inherit=1``) is " Error: option `no-inherit' takes no value"."""
    head, sep, _ = message.partition(": ignored explicit argument ")
    if sep and head.startswith("argument "):
        longs = [o for o in head[len("argument "):].split("/") if o.startswith("--")]
        if longs:
            return f" Error: option `{longs[0][2:]}' takes no value"
    return f"  Error: {message}"
