"""bcc argdist's probe specifier (tools/argdist.py ``Probe.__init__`` and ``_validate_specifier``)::

    {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]

parsed into a :class:`Spec`, with bcc's checks and words ("error parsing probe '...': ..."). Every part keeps
its offset in the specifier, so an expression error points at its token in the text the user typed.

Beyond bcc: expressions are split at the commas outside parentheses and quotes (``STRCMP("a", s)`` is one
expression), and a function name may not be empty.
"""
from __future__ import annotations

import re

from pyperf_probe.errors import UsageError
from pyperf_probe.records import Record, field


class SpecError(UsageError):
    """bcc's ``_bail``: ``error parsing probe 'SPEC': WHAT``."""

    def __init__(self, raw: str, what: str):
        super().__init__(f"error parsing probe '{raw}': {what}")


class Part(Record):
    """A piece of the specifier and where it starts in it."""

    __slots__ = ()
    _fields = ("text", "offset")

    def __new__(cls, text: str, offset: int):
        return tuple.__new__(cls, (text, offset))

    text = field(0)
    offset = field(1)


class Spec(Record):
    """One ``-C`` (``freq``) or ``-H`` (``hist``) specifier."""

    __slots__ = ()
    _fields = ("raw", "type", "probe_type", "library", "function", "signature", "expr_types", "exprs",
               "filter", "label", "is_default_expr")

    def __new__(cls, raw, type, probe_type, library, function, signature, expr_types, exprs, filter, label,
                is_default_expr):
        return tuple.__new__(cls, (raw, type, probe_type, library, function, signature, tuple(expr_types),
                                   tuple(exprs), filter, label, is_default_expr))

    raw = field(0, "the specifier as typed")
    type = field(1, "'freq' (-C) or 'hist' (-H)")
    probe_type = field(2, "'p' entry, 'r' return, 't' tracepoint, 'u' SDT marker")
    library = field(3, "library or program (p, r, u); the tracepoint's category (t)")
    function = field(4, "function, tracepoint or marker name")
    signature = field(5, "the parameters as written between the parentheses")
    expr_types = field(6, "the C type of each expression (text)")
    exprs = field(7, "Parts: the expressions")
    filter = field(8, "Part: the filter, text '' when there is none")
    label = field(9, "the text after '#', or None")
    is_default_expr = field(10, "no type and expression given: count calls (or $retval for r)")

    @property
    def display_name(self) -> str:
        """What a frequency table is titled with (bcc: ``self.label or self.raw_spec``)."""
        return self.label or self.raw


def split_top(text: str, sep: str = ",") -> list:
    """(piece, offset) of ``text`` split at ``sep`` outside parentheses, brackets and quotes."""
    out, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == "\\":
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append((text[start:i], start))
            start = i + 1
    out.append((text[start:], start))
    return out


def parse_spec(raw: str, type_: str) -> Spec:
    """A specifier as bcc's argdist reads it."""
    before_label = raw.split("#")[0]
    stripped = before_label.strip()
    lead = len(before_label) - len(before_label.lstrip())
    parts = stripped.split(":")
    if len(parts) < 3:
        raise SpecError(raw, "at least the probe type, library, and function signature must be specified")
    if len(parts) > 6:
        raise SpecError(raw, "extraneous ':'-separated parts detected")
    if parts[0] not in ("r", "p", "t", "u"):
        raise SpecError(raw, f"probe type must be 'p', 'r', 't', or 'u' but got '{parts[0]}'")
    if re.match(r"\S+\(.*\)", parts[2]) is None:
        raise SpecError(raw, f"function signature '{parts[2]}' has an invalid format")
    offsets, at = [], lead
    for p in parts:
        offsets.append(at)
        at += len(p) + 1
    pieces = raw.split("#")
    label = pieces[1] if len(pieces) == 2 else None
    probe_type = parts[0]
    function, _, rest = parts[2].partition("(")
    function = function.strip()
    signature = rest.strip()[:-1]
    is_default = len(parts) < 5
    if not is_default:
        if not parts[3]:
            raise SpecError(raw, "no expr types specified")
        expr_types = parts[3].split(",")
        if not parts[4]:
            raise SpecError(raw, "no exprs specified")
        exprs = [Part(text, offsets[4] + off) for text, off in split_top(parts[4])]
        if len(exprs) != len(expr_types):
            raise SpecError(raw, "mismatched # of exprs and types")
        if type_ == "hist" and len(expr_types) > 1:
            raise SpecError(raw, "histograms can only have 1 expr")
    else:
        if probe_type != "r" and type_ == "hist":
            raise SpecError(raw, "histograms must have expr")
        expr_types = ["u64" if probe_type != "r" else "int"]
        exprs = [Part("1" if probe_type != "r" else "$retval", -1)]
    filt = Part(parts[5], offsets[5]) if len(parts) == 6 else Part("", -1)
    return Spec(raw, type_, probe_type, parts[1], function, signature, expr_types, exprs, filt, label, is_default)
