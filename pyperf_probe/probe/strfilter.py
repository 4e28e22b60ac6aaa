"""perf's string filters (tools/perf/util/strfilter.c) and globs (util/string.c ``strglobmatch``).

A filter is globs joined by ``!`` (not), ``&`` (and), ``|`` (or) and parentheses; ``&`` binds tighter than
``|`` and ``!`` applies to the next term. ``-F``, ``--filter``, ``-l`` and ``-d`` all use it, and several
filters given on one command line are OR-ed (``strfilter__or``). :meth:`StrFilter.text` rebuilds perf's
``strfilter__string`` (used in "\\"X\\" does not hit any event.").

Globs: ``*``, ``?``, ``[abc]``, ``[a-z]``, ``[!a-z]``, and ``\\`` escaping the next character. Each glob is
compiled once to a regular expression, so matching thousands of symbol names stays cheap.
"""
from __future__ import annotations

import errno as errno_mod
import re
from typing import Callable, List, Optional, Tuple

from pyperf_probe.errors import ProbeError

OPERATORS = "|&!()"


def glob_to_regex(pattern: str) -> str:
    """The regular expression equivalent of perf's ``__match_glob`` for ``pattern``."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            cls, i = _charclass(pattern, i + 1)
            out.append(cls)
            continue
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _charclass(pattern: str, i: int) -> Tuple[str, int]:
    """``[...]`` starting after '['; perf treats the first character (after '!') literally."""
    complement = i < len(pattern) and pattern[i] == "!"
    if complement:
        i += 1
    end = pattern.find("]", i + 1)
    if i >= len(pattern) or end < 0:
        return "(?!)", len(pattern)          # unclosed class: perf never matches
    body = pattern[i:end]
    items = [re.escape(body[0])]
    j = 1
    while j < len(body):
        if body[j] == "-" and j + 1 < len(body):
            lo, hi = body[j - 1], body[j + 1]
            if lo > hi:
                return "(?!)", end + 1
            items.append(f"{re.escape(lo)}-{re.escape(hi)}")
            j += 2
        else:
            items.append(re.escape(body[j]))
            j += 1
    return ("[^" if complement else "[") + "".join(items) + "]", end + 1


def compile_glob(pattern: str) -> Callable[[str], bool]:
    regex = re.compile(glob_to_regex(pattern), re.DOTALL)
    return lambda s: regex.fullmatch(s) is not None


def strglobmatch(text: str, pattern: str) -> bool:
    return compile_glob(pattern)(text)


def is_glob(text: str) -> bool:
    """perf's ``strisglob``: contains one of ``*?[``."""
    return any(c in text for c in "*?[")


class _Node:
    """``struct strfilter_node``: op is '|', '&', '!' or None for a glob (``p`` in perf)."""

    __slots__ = ("op", "left", "right", "text", "match")

    def __init__(self, op: Optional[str] = None, left=None, right=None, text: str = ""):
        self.op, self.left, self.right, self.text = op, left, right, text
        self.match = compile_glob(text) if op is None and text else None

    def compare(self, s: str) -> bool:
        if self.op == "|":
            return self.left.compare(s) or self.right.compare(s)
        if self.op == "&":
            return self.left.compare(s) and self.right.compare(s)
        if self.op == "!":
            return not self.right.compare(s)
        return self.match(s)

    def sprint(self) -> str:
        """perf's ``strfilter_node__sprint``: operands that are operators are parenthesized."""
        if self.op in ("|", "&"):
            return _sprint_pt(self.left) + self.op + _sprint_pt(self.right)
        if self.op == "!":
            return "!" + _sprint_pt(self.right)
        return self.text


def _assertion(node: "_Node") -> str:
    """A zero-width pattern true at position 0 exactly when ``node`` accepts the whole string."""
    if node.op == "|":
        return f"(?:{_assertion(node.left)}|{_assertion(node.right)})"
    if node.op == "&":
        return _assertion(node.left) + _assertion(node.right)
    if node.op == "!":
        return f"(?!{_assertion(node.right)})"
    return f"(?=(?:{glob_to_regex(node.text)})\\Z)"


def _sprint_pt(node: "_Node") -> str:
    return f"({node.sprint()})" if node.right is not None else node.sprint()


def _tokens(rules: str) -> List[Tuple[int, str]]:
    """perf's ``get_token``: (position, token); operators alone, other runs up to an operator or blank."""
    out, i, n = [], 0, len(rules)
    while i < n:
        if rules[i].isspace():
            i += 1
            continue
        if rules[i] in OPERATORS:
            out.append((i, rules[i]))
            i += 1
            continue
        j = i + 1
        while j < n and rules[j] not in OPERATORS and not rules[j].isspace():
            j += 1
        out.append((i, rules[i:j]))
        i = j
    return out


class FilterSyntaxError(ProbeError):
    def __init__(self, rules: str, pos: int):
        super().__init__(f"Filter parse error at {pos + 1}.\nSource: \"{rules}\"\n         {'^':>{pos + 1}}",
                         errno=errno_mod.EINVAL)


class StrFilter:
    """A parsed filter: ``StrFilter("!_* & !*@plt").compare("malloc")``.

    The tree is also compiled into one regular expression of zero-width assertions (a glob is
    ``(?=G\\Z)``, NOT is ``(?!X)``, AND is ``XY``, OR is ``(?:X|Y)``), so testing a name is a single call
    into the regex engine: -F tests every symbol of a library."""

    def __init__(self, rules: str):
        self.root = _parse(rules)
        self._compile()

    def _compile(self) -> None:
        self._regex = re.compile(_assertion(self.root), re.DOTALL)
        self.compare = lambda text, _m=self._regex.match: _m(text) is not None

    def or_(self, rules: str) -> "StrFilter":
        """perf's ``strfilter__or``: this filter OR the new rules."""
        self.root = _Node("|", self.root, _parse(rules))
        self._compile()
        return self

    def text(self) -> str:
        return self.root.sprint()


def _parse(rules: str) -> _Node:
    toks = _tokens(rules)
    node, pos = _parse_nodes(rules, toks, 0)
    if pos < len(toks):                        # a ')' with no '(' before it
        raise FilterSyntaxError(rules, toks[pos][0])
    return node


def _parse_nodes(rules: str, toks, pos: int) -> Tuple[_Node, int]:
    """perf's ``strfilter_node__new``, step for step: ``cur`` is the node whose right side the next term
    fills, ``last_op`` the operator an '&' attaches to, and '|' re-roots everything parsed so far."""
    root = _Node("root")
    cur = last_op = root
    while pos < len(toks) and toks[pos][1] != ")":
        at, tok = toks[pos]
        if tok == "&":
            if cur.right is None or last_op.right is None:
                raise FilterSyntaxError(rules, at)
            cur = _Node("&", last_op.right)
            last_op.right = cur
            last_op = cur
        elif tok == "|":
            if cur.right is None or root.right is None:
                raise FilterSyntaxError(rules, at)
            cur = _Node("|", root.right)
            root.right = cur
            last_op = cur
        elif tok == "!":
            if cur.right is not None:
                raise FilterSyntaxError(rules, at)
            cur.right = _Node("!")
            cur = cur.right
        elif tok == "(":
            if cur.right is not None:
                raise FilterSyntaxError(rules, at)
            inner, pos = _parse_nodes(rules, toks, pos + 1)
            if pos >= len(toks):
                raise FilterSyntaxError(rules, len(rules))
            cur.right = inner
        else:
            if cur.right is not None:
                raise FilterSyntaxError(rules, at)
            cur.right = _Node(text=tok)
        pos += 1
    if cur.right is None:
        raise FilterSyntaxError(rules, toks[pos][0] if pos < len(toks) else len(rules))
    return root.right, pos
