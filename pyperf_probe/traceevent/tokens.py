"""The tokenizer of format texts, as libtraceevent reads them (src/event-parse.c ``__read_token``,
``read_token``, ``read_token_item``; the copy perf 6.1 carries), and numbers as its ``strtoul`` calls read them.

Token kinds (``enum tep_event_type``): items (words and numbers), operators (``->``, ``<<=``...),
delimiters ``( ) ,``, double- and single-quoted strings (adjacent ``"a" "b"`` joined), newlines, spaces.
"""
from __future__ import annotations

NONE, ITEM, OP, DELIM, DQUOTE, SQUOTE, NEWLINE, SPACE, ERROR = range(9)
MASK64 = (1 << 64) - 1


class ParseError(Exception):
    """A format text libtraceevent would not parse (the event then prints ``[FAILED TO PARSE]``)."""


def _ctype(ch: str) -> int:
    """``get_type``."""
    if ch == "\n":
        return NEWLINE
    if ch.isspace():
        return SPACE
    if ch.isalnum() or ch == "_":
        return ITEM
    if ch == "'":
        return SQUOTE
    if ch == '"':
        return DQUOTE
    if not ch.isprintable():
        return NONE
    if ch in "(),":
        return DELIM
    return OP


_TYPES = {chr(i): _ctype(chr(i)) for i in range(128)}  # (the ASCII characters' types, looked up)
# Runs of ITEM or SPACE characters are read at once: the text translated, once per text, into a string where
# the run's characters are "a" and every other ASCII character "b", and the run's end found by str.find("b")
# (C speed, no per-character Python; not ``re``, whose import is ~4 ms of every report and script run that
# parses formats: tests/test_report_startup.py). A text with non-ASCII characters reads its runs one
# character at a time (such characters are not in the tables).
_RUN_TABLES = {kind: str.maketrans({ch: ("a" if t == kind else "b") for ch, t in _TYPES.items()})
               for kind in (ITEM, SPACE)}


class Tokens:
    """``__read_token``/``read_token``/``read_token_item`` over one text."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0
        self._classes: dict = {}  # ITEM/SPACE -> the text translated by _RUN_TABLES[kind] (``_run_end``)

    def _run_end(self, kind: int, pos: int) -> int:
        """The end of the run of ``kind`` characters from ``pos`` (its ASCII part: see ``raw``)."""
        classes = self._classes.get(kind)
        if classes is None:
            text = self.text
            classes = self._classes[kind] = text.translate(_RUN_TABLES[kind]) if text.isascii() else ""
        if not classes:
            return pos
        end = classes.find("b", pos)
        return len(classes) if end < 0 else end

    def _char(self) -> str:
        if self.pos >= len(self.text):
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def raw(self) -> tuple[int, str]:
        text, pos = self.text, self.pos
        if pos >= len(text):
            return NONE, ""
        ch = text[pos]
        self.pos = pos + 1
        kind = _TYPES.get(ch)
        if kind is None:
            kind = _ctype(ch)
        if kind in (NONE, NEWLINE, DELIM):
            return kind, ch
        if kind == OP:
            return kind, self._op(ch)
        if kind in (DQUOTE, SQUOTE):
            return self._quoted(ch, kind)
        end = self._run_end(kind, pos + 1)
        out = text[pos:end]
        self.pos = end
        if not self._classes[kind]:  # (non-ASCII text: the run read a character at a time)
            while self._peek() and _ctype(self._peek()) == kind:
                out += self._char()
        return kind, out

    def _op(self, ch: str) -> str:
        buf = ch
        if ch == "-" and self._peek() == ">":
            return buf + self._char()
        if ch in "+-|&><":
            if self._peek() == ch:
                buf += self._char()
                if ch not in "<>":
                    return buf
            if self._peek() == "=":
                buf += self._char()
            return buf
        if ch in "!=" and self._peek() == "=":
            buf += self._char()
        return buf

    def _quoted(self, quote: str, kind: int) -> tuple[int, str]:
        out = []
        while True:
            last, ch = "", quote
            while True:
                last, ch = ch, self._char()
                if ch == "\\" and last == "\\":
                    out.append(ch)
                    last, ch = "", ""
                    continue
                if not ch:
                    return NONE, "".join(out)
                if ch == quote and last != "\\":  # perf 6.1's copy: any byte up to the quote (tabs too)
                    break
                out.append(ch)
            if kind != DQUOTE:
                return kind, "".join(out)
            save = self.pos
            while self._peek() and self._peek().isspace():
                self.pos += 1
            if self._peek() != '"':
                self.pos = save
                return kind, "".join(out)
            self.pos += 1

    def read(self) -> tuple[int, str]:
        """read_token: spaces skipped."""
        while True:
            kind, tok = self.raw()
            if kind != SPACE:
                return kind, tok

    def item(self) -> tuple[int, str]:
        """read_token_item: spaces and newlines skipped."""
        while True:
            kind, tok = self.raw()
            if kind not in (SPACE, NEWLINE):
                return kind, tok

    def expect(self, kind: int, text: str | None = None, newline_ok: bool = True) -> str:
        got_kind, tok = self.read() if newline_ok else self.item()
        if got_kind != kind or (text is not None and tok != text):
            raise ParseError(f"expected {text or kind!r}, read {tok!r}")
        return tok


def strtoul(text: str) -> int:
    """strtoul(text, NULL, 0): the leading number (0x hex, 0 octal), 0 when there is none."""
    t = text.strip()
    try:
        if t[:2].lower() == "0x":
            digits = ""
            for ch in t[2:]:
                if ch not in "0123456789abcdefABCDEF":
                    break
                digits += ch
            return int(digits, 16) if digits else 0
        digits = ""
        for ch in t:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            return 0
        return int(digits, 8) if digits.startswith("0") and len(digits) > 1 else int(digits)
    except ValueError:
        return 0


def strtoull(text: str) -> int:
    """strtoull(text, NULL, 0) with a leading sign."""
    t = text.strip()
    neg = t.startswith("-")
    if t[:1] in "+-":
        t = t[1:]
    v = strtoul(t)
    return (-v) & MASK64 if neg else v


def to_s64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v
