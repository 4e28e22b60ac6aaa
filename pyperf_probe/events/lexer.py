"""The tokens of perf 6.1's event grammar (tools/perf/util/parse-events.l), with bison's error columns.

flex picks the longest match at each position, the earlier rule on a tie; three start conditions:

* ``event`` (at the start, after ``,`` and ``{``): the whole event text up to ``,{}`` (``[^,{}/]+``, or with
  one ``/terms/`` part) becomes ``EVENT_NAME`` and is then read again token by token; that text is the name
  perf gives the event. A group (``{...}``) is read again at once;
* ``INITIAL``: symbols (``cpu-clock``), cache parts (``L1-dcache``, ``loads``), ``rNNN``, numbers, modifiers
  (``[ukhpPGHSDIWeb]+``), names, punctuation; ``/`` enters ``config``;
* ``config`` (inclusive): the term keywords, ``name_minus`` words, ``,``; ``/`` returns to ``INITIAL``.

Locations: each rule that matches (even one that returns no token) moves ``last = first; first = start``,
starting from bison's ``{1, 1}``. perf reports a parser error at ``last`` of the lookahead token, which is
the start of the token before it; ``Token.err_col`` keeps that number.
"""
from __future__ import annotations

import re
from typing import List, NamedTuple, Optional, Tuple

from pyperf_probe.events import tables


class Token(NamedTuple):
    kind: str
    text: str
    start: int
    err_col: int  # where perf puts the caret when this token is unexpected
    value: object = None


# kinds: EVENT_NAME SYM TOOL CACHE_TYPE CACHE_OPRES RAW VALUE NAME MOD TERM MEM EOF and the punctuation

# config terms, in parse-events.l order (the help text lists them in another order: terms.VALID_TERMS)
TERM_KEYWORDS = ("config", "config1", "config2", "name", "period", "freq", "branch_type", "time", "call-graph",
                 "stack-size", "max-stack", "nr", "inherit", "no-inherit", "overwrite", "no-overwrite",
                 "percore", "aux-output", "aux-sample-size", "metric-id")

_GROUP = re.compile(r"[^,{}/]*[{][^}]*[}][^,{}/]*")
_EVENT_PMU = re.compile(r"[^,{}/]+[/][^/]*[/][^,{}/]*")
_EVENT = re.compile(r"[^,{}/]+")
_NUM_DEC = re.compile(r"[0-9]+")
_NUM_HEX = re.compile(r"0x[a-fA-F0-9]+")
_RAW = re.compile(r"r[a-fA-F0-9]+")
_MODIFIER = re.compile(r"[ukhpPGHSDIWeb]+")
_NAME = re.compile(r"[a-zA-Z_*?\[\]][a-zA-Z0-9_*?.\[\]!]*")
_NAME_TAG = re.compile(r"'[a-zA-Z_*?\[\]][a-zA-Z0-9_*?\-,.\[\]:=]*'")
_NAME_MINUS = re.compile(r"[a-zA-Z_*?][a-zA-Z0-9\-_*?.:]*")
_PMU_SPECIAL = re.compile(r"cycles-ct|cycles-t|mem-loads|mem-stores|topdown-[a-z-]+|tx-capacity-[a-z-]+"
                          r"|el-capacity-[a-z-]+")

_PUNCT = "/-,:{}="


class _Loc:
    def __init__(self):
        self.first, self.last = 1, 1  # bison's initial location

    def match(self, start: int) -> None:
        self.last, self.first = self.first, start


def _literal(text: str, pos: int, words) -> int:
    return max((len(w) for w in words if text.startswith(w, pos)), default=0)


def _regex(pattern: "re.Pattern", text: str, pos: int) -> int:
    m = pattern.match(text, pos)
    return m.end() - pos if m else 0


def _initial_candidates(text: str, pos: int, config: bool) -> List[Tuple[int, str]]:
    """(length, kind) of each rule that matches at ``pos``, in rule order (ties go to the first)."""
    out = []
    if config:
        out += [(_literal(text, pos, TERM_KEYWORDS), "TERM"), (_regex(_RAW, text, pos), "RAW"),
                (1 if text.startswith(",", pos) else 0, ","), (1 if text.startswith("/", pos) else 0, "/"),
                (_regex(_NAME_MINUS, text, pos), "NAME")]
    out += [(_literal(text, pos, tables.SYMBOL_WORDS), "SYM"), (_literal(text, pos, tables.TOOL_EVENTS), "TOOL"),
            (_regex(_PMU_SPECIAL, text, pos), "NAME"),
            (_literal(text, pos, tables.CACHE_TYPE_WORDS), "CACHE_TYPE"),
            (_literal(text, pos, tables.CACHE_OPRES_WORDS), "CACHE_OPRES"),
            (4 if text.startswith("mem:", pos) else 0, "MEM"), (_regex(_RAW, text, pos), "RAW"),
            (_regex(_NUM_DEC, text, pos), "VALUE"), (_regex(_NUM_HEX, text, pos), "HEX"),
            (_regex(_MODIFIER, text, pos), "MOD"), (_regex(_NAME, text, pos), "NAME"),
            (_regex(_NAME_TAG, text, pos), "TAG")]
    ch = text[pos]
    out.append((1, ch if ch in _PUNCT else "SKIP"))
    return out


def _longest(cands: List[Tuple[int, str]]) -> Tuple[int, str]:
    best = (0, "")
    for length, kind in cands:
        if length > best[0]:
            best = (length, kind)
    return best


def tokenize(text: str) -> List[Token]:
    """Every token of ``text`` as perf 6.1's scanner produces them, then EOF."""
    loc, out, pos, state = _Loc(), [], 0, "event"
    while pos < len(text):
        if state == "event":
            group = _regex(_GROUP, text, pos)
            event = max(_regex(_EVENT_PMU, text, pos), _regex(_EVENT, text, pos))
            if group or event:
                loc.match(pos)
                state = "initial"
                if event > group:
                    out.append(Token("EVENT_NAME", text[pos:pos + event], pos, loc.last))
                continue
            loc.match(pos)
            if text[pos] == ",":
                out.append(Token(",", ",", pos, loc.last))
            pos += 1  # anything else: flex's default rule echoes it
            continue
        length, kind = _longest(_initial_candidates(text, pos, state == "config"))
        loc.match(pos)
        word = text[pos:pos + length]
        token = _token(kind, word, pos, loc.last)
        pos += length
        if kind == "/":
            state = "initial" if state == "config" else "config"
        elif kind in ("{",) or (kind == "," and state == "initial"):
            state = "event"
        if token is not None:
            out.append(token)
    out.append(Token("EOF", "", len(text), loc.last))
    return out


def _token(kind: str, word: str, pos: int, err_col: int) -> Optional[Token]:
    if kind == "SKIP":
        return None
    if kind == "SYM":
        return Token("SYM", word, pos, err_col, tables.SYMBOLS[word])
    if kind == "VALUE":
        return Token("VALUE", word, pos, err_col, int(word, 10))
    if kind == "HEX":
        return Token("VALUE", word, pos, err_col, int(word, 16))
    if kind == "RAW":
        return Token("RAW", word, pos, err_col, int(word[1:], 16))
    if kind == "TAG":
        return Token("NAME", word[1:-1], pos, err_col)
    return Token(kind, word, pos, err_col)
