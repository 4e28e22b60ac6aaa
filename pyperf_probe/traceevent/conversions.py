"""A print fmt's format string cut into pieces, and C's printf of one conversion (libtraceevent's
src/event-parse.c ``parse_args``/``parse_arg_format``/``parse_arg_format_pointer``, the copy perf 6.1 carries).

Each piece (``struct tep_print_parse``) is literal text (escapes resolved, ``%%`` made ``%``), or one
conversion with its argument: a number (``d u i x X o`` with ``h``/``l`` counts, ``%z``), a string
(``s``), a pointer (``p`` and the suffix libtraceevent knows: ``S s F f M m I i U h``). ``*`` takes a width
argument first. :func:`cformat` is printf's result for one conversion and a Python value.
"""
from __future__ import annotations

from pyperf_probe.traceevent.args import Arg
from pyperf_probe.traceevent.tokens import ParseError


class Piece:
    """``struct tep_print_parse``: literal text, or one conversion with its argument."""

    __slots__ = ("type", "format", "arg", "len_arg", "ls")

    def __init__(self, type_: str, fmt: str, arg: Arg | None = None, len_arg: Arg | None = None, ls: int = 0):
        self.type, self.format, self.arg, self.len_arg, self.ls = type_, fmt, arg, len_arg, ls


def _pointer_suffix(fmt: str, i: int) -> int:
    """``parse_arg_format_pointer``: how many characters after ``%p`` belong to the conversion."""
    c = fmt[i] if i < len(fmt) else ""
    at = lambda k: fmt[i + k] if i + k < len(fmt) else ""  # noqa: E731
    if c in "FSfs":
        return 1
    if c in "Mm":
        return 2 if at(1) in ("R", "F") and at(1) else 1
    if c in "Ii":
        ret, index = 0, 2
        if at(1) == "S":
            while at(index) in ("p", "f", "s") and at(index):
                ret += 1
                index += 1
        if at(1) in ("S", "4"):
            if at(index) in ("h", "n", "l", "b") and at(index):
                ret += 1
                index += 1
            if at(1) == "4":
                return ret + 2
        if at(1) in ("S", "4", "6"):
            if at(index) == "c":
                ret += 1
            ret += 1
        return ret + 1
    if c == "U":
        return (2 if at(1) in ("L", "l", "B", "b") and at(1) else 1)
    if c == "h":
        return (2 if at(1) in ("C", "D", "N") and at(1) else 1)
    return 0


def parse_pieces(fmt: str, args: list[Arg]) -> list[Piece]:
    """``parse_args``: the format string cut into literal text and conversions, each with its argument."""
    pieces: list[Piece] = []
    args = list(args)
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and fmt[i + 1:i + 2] != "%":
            i = _parse_conversion(fmt, i, args, pieces)
        else:
            i = _parse_text(fmt, i, pieces)
    return pieces


def _parse_text(fmt: str, i: int, pieces: list[Piece]) -> int:
    out = []
    while i < len(fmt):
        ch = fmt[i]
        if ch == "\\" and i + 1 < len(fmt):
            i += 1
            out.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(fmt[i], fmt[i]))
        elif ch == "%":
            if fmt[i + 1:i + 2] == "%":
                out.append("%")
                i += 1
            else:
                break
        else:
            out.append(ch)
        i += 1
    pieces.append(Piece("string", "".join(out)))
    return i


def _parse_conversion(fmt: str, start: int, args: list[Arg], pieces: list[Piece]) -> int:
    i, ls, len_arg = start + 1, 0, None
    while i < len(fmt):
        ch = fmt[i]
        if ch == "#" or ch == "." or ch.isdigit() or ch == "-":
            pass
        elif ch == "h":
            ls -= 1
        elif ch == "l":
            ls += 1
        elif ch == "L":
            ls = 2
        elif ch in "zZ":
            pass  # perf 6.1's copy: %zu takes an int (libtraceevent >= 1.2 a long)
        elif ch == "*":
            if not args or len_arg is not None:
                raise ParseError("no argument match")
            len_arg = args.pop(0)
        elif ch == "p":
            if not args:
                raise ParseError("no argument match")
            i += _pointer_suffix(fmt, i + 1)
            pieces.append(Piece("pointer", fmt[start:i + 1], args.pop(0), len_arg, ls))
            return i + 1
        elif ch in "duixXo":
            if not args:
                raise ParseError("no argument match")
            if ls < -2 or ls > 2:
                raise ParseError(f"bad count ({ls})")
            pieces.append(Piece("digit", fmt[start:i + 1], args.pop(0), len_arg, ls))
            return i + 1
        elif ch == "s":
            if not args:
                raise ParseError("no matching argument")
            pieces.append(Piece("str", fmt[start:i + 1], args.pop(0), len_arg, 0))
            return i + 1
        else:
            pieces.append(Piece("string", f">{ch}<"))
            return i + 1
        i += 1
    return i


def cformat(spec: str, value, width: int | None = None) -> str:
    """C's printf of one conversion (``%-08.3lx``, ``%*d``...) for an int or str value, in Python."""
    conv = spec[-1]
    body = spec[1:-1]
    if "*" in body:  # C: a negative * width is the - flag and its size; a negative * precision is none
        before, _, after = body.partition("*")
        if width is None:
            body = before + after
        elif before.endswith("."):
            body = before + str(width) + after if width >= 0 else before[:-1] + after
        else:
            body = ("-" if width < 0 else "") + before + str(abs(width)) + after
    flags = ""
    while body and body[0] in "-+ #0":
        flags += body[0]
        body = body[1:]
    body = body.rstrip("hlLzZjt")
    if conv == "s":
        flags = flags.replace("0", "").replace("#", "")
        return ("%" + flags + body + "s") % value
    if conv == "p":
        return ("%" + flags.replace("#", "") + body + "s") % ("(nil)" if not value else "0x%x" % value)
    pyconv = {"u": "d", "i": "d"}.get(conv, conv)
    if "#" in flags and (value == 0 or conv == "o"):  # C: %#x of 0 is "0"; %#o is "0NNN", not "0oNNN"
        flags = flags.replace("#", "")
        if conv == "o" and value:
            return cformat("%" + flags + body + "s", "0%o" % value)
    if "." in body and conv in "duixXo":
        flags = flags.replace("0", "")  # C ignores 0 with a precision
    try:
        return ("%" + flags + body + pyconv) % value
    except (TypeError, ValueError):
        return str(value)
