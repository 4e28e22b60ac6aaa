"""perf's string filters (tools/perf/util/strfilter.c) and globs (util/string.c ``strglobmatch``).

A filter is globs joined by ``!`` (not), ``&`` (and), ``|`` (or) and parentheses; ``&`` binds tighter than
``|`` and ``!`` applies to the next term. ``-F``, ``--filter``, ``-l`` and ``-d`` all use it, and several
filters given on one command line are OR-ed (``strfilter__or``). :meth:`StrFilter.text` rebuilds perf's
``strfilter__string`` (used in "\\"X\\" does not hit any event.").

Globs: ``*``, ``?``, ``[abc]``, ``[a-z]``, ``[!a-z]``, and ``\\`` escaping the next character.

Speed: ``-F`` tests every symbol of a library, and ``import re`` alone costs more start-up time than the
whole test (so does the first ``compile()`` of a process, which rules out generating code). So a glob is
turned into a C-level test where it can be: ``s == 'x'``, ``s.startswith('x')``, ``s.endswith('x')`` and
``'x' in s`` (``operator.methodcaller``); only globs that need more (``?``, ``[...]``, ``\\``, ``*`` inside)
use a regular expression, with ``re`` imported then. ``StrFilter.select(names)`` runs the tree over a
whole list with ``filter``/``itertools.filterfalse``: AND filters the survivors of its left side, NOT of a
glob is ``filterfalse``, so a name costs no Python-level call for the common filters (the default
``!_* & !*@plt`` included).
"""
from __future__ import annotations

import errno as errno_mod
from itertools import filterfalse

from pyperf_probe.errors import ProbeError

try:            # the C half of the operator module: a builtin, so free to import (operator.py is not)
    from _operator import methodcaller
except ImportError:         # another Python implementation
    from operator import methodcaller

OPERATORS = "|&!()"


def glob_to_regex(pattern: str) -> str:
    """The regular expression equivalent of perf's ``__match_glob`` for ``pattern``."""
    import re
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


def _charclass(pattern: str, i: int) -> tuple[str, int]:
    """``[...]`` starting after '['; perf treats the first character (after '!') literally."""
    import re
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


def _glob_test(pattern: str):
    """A function ``name -> truthy`` for ``pattern`` (``__match_glob``), or None for ``*`` (always true)."""
    if not any(c in pattern for c in "?[\\"):
        stars = pattern.count("*")
        if stars == 0:
            return pattern.__eq__
        if pattern.strip("*") == "":
            return None
        head, _, tail = pattern.partition("*")
        if stars == 1 and not tail:
            return methodcaller("startswith", head)
        if stars == 1 and not head:
            return methodcaller("endswith", tail)
        if stars == 1:
            least = len(head) + len(tail)
            return lambda s: len(s) >= least and s.startswith(head) and s.endswith(tail)
        if stars == 2 and not head and tail.endswith("*") and "*" not in tail[:-1]:
            return methodcaller("__contains__", tail[:-1])
    import re
    return re.compile(glob_to_regex(pattern), re.DOTALL).fullmatch


def _glob_witness(pattern: str) -> str | None:
    """A string that ``"\\0" + "\\0".join(names) + "\\0"`` contains whenever one of ``names`` matches
    ``pattern``: "\\0HEAD" for a literal head, else "TAIL\\0" for a literal tail, else a literal piece.
    Its absence (one search of the joined names, in C) then proves that no name matches, and the
    per-name test is skipped: ``-F``'s default filter rejects "_*" and "*@plt", and most parts of a
    symbol table have neither. None when there is no such string (``*``, or ``?[\\`` in the glob)."""
    if any(c in pattern for c in "?[\\"):
        return None
    if "*" not in pattern:
        return "\0" + pattern + "\0"
    pieces = pattern.split("*")
    if pieces[0]:
        return "\0" + pieces[0]
    if pieces[-1]:
        return pieces[-1] + "\0"
    longest = max(pieces, key=len)
    return longest or None


def _glob_on_prefix(pattern: str, prefix: str) -> bool | None:
    """Whether ``pattern`` matches every name starting with ``prefix`` (True), none of them (False), or
    some (None), judged from the pattern's literal head (the text before its first ``*?[\\``)."""
    cut = min((i for i in map(pattern.find, "*?[\\") if i >= 0), default=len(pattern))
    head, special = pattern[:cut], pattern[cut:]
    common = min(len(head), len(prefix))
    if head[:common] != prefix[:common]:
        return False                    # the name and the pattern differ before any wildcard
    if not special:                     # a literal: only the name equal to it
        return None if head.startswith(prefix) else False
    if special.strip("*") == "" and prefix.startswith(head):
        return True                     # HEAD* and the name starts with HEAD
    return None


def compile_glob(pattern: str):
    """A function ``name -> bool`` for one glob."""
    test = _glob_test(pattern)
    if test is None:
        return lambda s: True
    return lambda s: bool(test(s))


def strglobmatch(text: str, pattern: str) -> bool:
    return compile_glob(pattern)(text)


def is_glob(text: str) -> bool:
    """perf's ``strisglob``: contains one of ``*?[``."""
    return any(c in text for c in "*?[")


class _Node:
    """``struct strfilter_node``: op is '|', '&', '!' or None for a glob (``p`` in perf)."""

    __slots__ = ("op", "left", "right", "text", "test", "witness")

    def __init__(self, op: str | None = None, left=None, right=None, text: str = ""):
        self.op, self.left, self.right, self.text = op, left, right, text
        self.test = None            # a glob's test, set by prepare()
        self.witness = None         # _glob_witness of a glob, set by prepare()

    def prepare(self) -> None:
        """Compile the globs of the tree (once it is complete)."""
        if self.op is None:
            self.test = _glob_test(self.text)
            self.witness = _glob_witness(self.text)
        for child in (self.left, self.right):
            if child is not None:
                child.prepare()

    def compare(self, s: str) -> bool:
        """perf's ``strfilter_node__compare`` for one name."""
        if self.op == "|":
            return self.left.compare(s) or self.right.compare(s)
        if self.op == "&":
            return self.left.compare(s) and self.right.compare(s)
        if self.op == "!":
            return not self.right.compare(s)
        return self.test is None or bool(self.test(s))

    def select(self, names: list[str], joined: list | None = None) -> list[str]:
        """The names this node accepts, in order (the same as ``compare`` on each, done a list at a time:
        equal names get equal answers, so sets of accepted names stand for the answers). The list itself
        may come back when the node keeps every name. ``joined`` holds [a list, its names joined]: the
        globs of one filter share that text while the list they test stays the same (none_match)."""
        joined = [None, ""] if joined is None else joined
        if self.op is None:
            if self.test is None:
                return names
            return [] if self.none_match(names, joined) else list(filter(self.test, names))
        if self.op == "&":
            return self.right.select(self.left.select(names, joined), joined)
        if self.op == "!":
            inner = self.right
            if inner.op is None:
                if inner.test is None:
                    return []
                return names if inner.none_match(names, joined) else list(filterfalse(inner.test, names))
            return list(filterfalse(set(inner.select(names, joined)).__contains__, names))
        accepted = set(self.left.select(names, joined))            # '|'
        others = list(filterfalse(accepted.__contains__, names))
        accepted.update(self.right.select(others, joined))
        return list(filter(accepted.__contains__, names))

    def none_match(self, names: list[str], joined: list | None = None) -> bool:
        """True when this glob's witness proves that none of ``names`` matches (False: they may).
        ``joined``: [the list last joined, its text], reused while ``names`` is that list."""
        if self.witness is None:
            return False
        if joined is None:
            joined = [None, ""]
        if joined[0] is not names:
            joined[0], joined[1] = names, "\0" + "\0".join(names) + "\0"
        return self.witness not in joined[1]

    def on_prefix(self, prefix: str) -> bool | None:
        """What this node answers for every name starting with ``prefix``: True (accepts them all), False
        (rejects them all) or None (it depends on the rest of the name). Kleene logic over the tree."""
        if self.op == "!":
            inner = self.right.on_prefix(prefix)
            return None if inner is None else not inner
        if self.op in ("&", "|"):
            left, right = self.left.on_prefix(prefix), self.right.on_prefix(prefix)
            decisive = self.op == "|"           # True decides an OR, False an AND
            if left is decisive or right is decisive:
                return decisive
            return None if left is None or right is None else not decisive
        return _glob_on_prefix(self.text, prefix)

    def sprint(self) -> str:
        """perf's ``strfilter_node__sprint``: operands that are operators are parenthesized."""
        if self.op in ("|", "&"):
            return _sprint_pt(self.left) + self.op + _sprint_pt(self.right)
        if self.op == "!":
            return "!" + _sprint_pt(self.right)
        return self.text


def _sprint_pt(node: "_Node") -> str:
    return f"({node.sprint()})" if node.right is not None else node.sprint()


def _tokens(rules: str) -> list[tuple[int, str]]:
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
    """A parsed filter: ``StrFilter("!_* & !*@plt").compare("malloc")``, or on many names at once,
    ``.select(names)`` (the names it accepts, in their order)."""

    def __init__(self, rules: str):
        self.root = _parse(rules)
        self.root.prepare()

    def compare(self, text: str) -> bool:
        return self.root.compare(text)

    def select(self, names: list[str]) -> list[str]:
        """The names the filter accepts, in their order (a new list)."""
        out = self.root.select(names)
        return list(out) if out is names else out

    def rejects_prefix(self, prefix: str) -> bool:
        """True when the filter rejects every name that starts with ``prefix`` (``!_* & !*@plt`` does for
        "_"): a caller may then skip those names without making them."""
        return self.root.on_prefix(prefix) is False

    def rejected_initials(self, initials) -> set[str]:
        """Those of ``initials`` (single characters) with which the filter rejects every name. A glob's
        answer depends only on whether the character is its first one, so the tree is asked once per
        initial that starts a glob, and once for all the other initials together."""
        firsts = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.op is None:
                if node.text[:1] and node.text[0] not in "*?[\\":
                    firsts.add(node.text[0])
            else:
                stack += [child for child in (node.left, node.right) if child is not None]
        out = {c for c in firsts.intersection(initials) if self.rejects_prefix(c)}
        others = set(initials) - firsts
        if others and self.rejects_prefix(next(iter(others))):
            out |= others
        return out

    def or_(self, rules: str) -> StrFilter:
        """perf's ``strfilter__or``: this filter OR the new rules."""
        other = _parse(rules)
        other.prepare()
        self.root = _Node("|", self.root, other)
        return self

    def text(self) -> str:
        return self.root.sprint()


def _parse(rules: str) -> _Node:
    toks = _tokens(rules)
    node, pos = _parse_nodes(rules, toks, 0)
    if pos < len(toks):                        # a ')' with no '(' before it
        raise FilterSyntaxError(rules, toks[pos][0])
    return node


def _parse_nodes(rules: str, toks, pos: int) -> tuple[_Node, int]:
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
