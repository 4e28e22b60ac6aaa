"""A tracepoint's ``format`` text, and its ``print fmt`` applied to a sample's RAW bytes.

This is what perf's ``trace`` sort key shows (util/sort.c ``get_trace_output`` -> libtraceevent
``tep_print_event(..., TEP_PRINT_INFO)``): for a uprobe, ``print fmt: "(%lx)", REC->__probe_ip`` gives
``(55f9d7fcf1de)``. The format text is the one of ``events/GROUP/EVENT/format`` (perf-formats.md §1.5)::

    \\tfield:unsigned long __probe_ip;\\toffset:8;\\tsize:8;\\tsigned:0;
    print fmt: "(%lx) n=%d arg3=\\"%s\\"", REC->__probe_ip, REC->n, __get_str(arg3)

Only what kernel probe events print is supported: ``REC->field`` and ``__get_str(field)`` arguments with
the C conversions ``d i u x X o c s p`` and their flags, width and length modifiers. Anything else is shown
as perf's libtraceevent does for a failed parse: the raw field list (``tep_print_fields``).

The text is scanned line by line and character by character, without ``re``: the report's default sort
key for tracepoint files is ``trace``, and ``import re`` (with the enum module it pulls in) is a few ms of
``pyperf report``'s start-up (bench/report). tests/test_report_tpformat.py checks the scanners against
the regular expressions they stand for.
"""
from __future__ import annotations

import struct

from pyperf_probe.perfdata.frozen import Frozen

_INT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}
_FLAGS = "-+ #0"
_LENGTHS = ("hh", "h", "ll", "l", "L", "z", "j", "t")  # tried in this order, as C's longest match needs
_CONVERSIONS = "diouxXcsp%"


class Field(Frozen):
    """One ``field:`` line: C declaration, offset and size in the RAW record, signedness."""

    __slots__ = ()
    _fields = ("name", "offset", "size", "signed", "data_loc")
    # data_loc: ``__data_loc char[] x``: u32 = (len << 16) | offset of the bytes

    def __new__(cls, name: str, offset: int, size: int, signed: bool, data_loc: bool):
        return tuple.__new__(cls, (name, offset, size, signed, data_loc))

    def value(self, raw: bytes) -> int:
        if self.offset + self.size > len(raw) or self.size not in _INT_CODES:
            return 0
        code = _INT_CODES[self.size]
        value = struct.unpack_from("<" + (code.lower() if self.signed else code), raw, self.offset)[0]
        return value

    def string(self, raw: bytes) -> str:
        if self.data_loc:
            loc = self.value(raw)
            start, length = loc & 0xFFFF, loc >> 16
            data = raw[start:start + length]
        else:
            data = raw[self.offset:self.offset + self.size]
        return data.split(b"\0", 1)[0].decode(errors="replace")


def _is_number(text: str) -> bool:
    """``\\d+``."""
    return text.isdecimal()


def _is_word(text: str) -> bool:
    """``\\w+``."""
    return bool(text) and all(ch.isalnum() or ch == "_" for ch in text)


def _field_line(line: str) -> Field | None:
    """``^\\s*field:DECL;\\s*offset:N;\\s*size:N;\\s*signed:N;`` (a ``field:`` line of the format text), else
    None."""
    parts = line.lstrip().split(";", 4)
    if len(parts) < 5 or not parts[0].startswith("field:"):
        return None
    values = []
    for part, key in zip(parts[1:4], ("offset:", "size:", "signed:")):
        part = part.lstrip()
        if not part.startswith(key) or not _is_number(part[len(key):]):
            return None
        values.append(part[len(key):])
    decl = parts[0][len("field:"):].strip()
    if not decl:  # nothing to name the field by
        return None
    return _parse_field(decl, int(values[0]), int(values[1]), values[2] == "1")


def _parse_field(decl: str, offset: int, size: int, signed: bool) -> Field:
    name = decl.split()[-1]
    if name.endswith("]") and "[" in name:  # an array: ``char comm[16]``
        name = name[:name.index("[")]
    return Field(name, offset, size, signed, decl.startswith("__data_loc"))


def _print_fmt_line(line: str) -> tuple[str, str] | None:
    """``^print fmt:\\s*"FMT"ARGS$``: the format string (escapes kept) and the text after it, else None."""
    if not line.startswith("print fmt:"):
        return None
    rest = line[len("print fmt:"):].lstrip()
    if not rest.startswith('"'):
        return None
    pos = 1
    while pos < len(rest):
        ch = rest[pos]
        if ch == "\\":
            pos += 2
        elif ch == '"':
            return rest[1:pos], rest[pos + 1:]
        else:
            pos += 1
    return None


def _line_word(text: str, key: str) -> str:
    """``^KEY\\s*(\\S+)``: the word after ``key`` on the first line that starts with it and has one."""
    for line in text.split("\n"):
        if line.startswith(key):
            words = line[len(key):].split(None, 1)
            if words:
                return words[0]
    return ""


def conversions(fmt: str):
    """The printf conversions of ``fmt`` as ``(start, end, spec)``, ``spec`` a dict of flags, width, prec,
    len, conv (None for an absent width/prec/len): what ``%[-+ #0]*(\\d+)?(\\.\\d+)?(hh|h|ll|l|L|z|j|t)?
    [diouxXcsp%]`` finds, left to right. A ``%`` that starts no conversion is text."""
    pos = fmt.find("%")
    while pos >= 0:
        spec = _conversion_at(fmt, pos + 1)
        if spec is None:
            pos = fmt.find("%", pos + 1)
            continue
        end, spec = spec
        yield pos, end, spec
        pos = fmt.find("%", end)


def _conversion_at(fmt: str, pos: int):
    """The conversion whose ``%`` is just before ``pos``: (its end, spec), or None."""
    start = pos
    while pos < len(fmt) and fmt[pos] in _FLAGS:
        pos += 1
    flags = fmt[start:pos]
    width, pos = _digits_at(fmt, pos)
    prec = None
    if pos < len(fmt) and fmt[pos] == ".":
        prec, after = _digits_at(fmt, pos + 1)
        if prec is not None:
            pos = after
    for length in _LENGTHS + (None,):
        at = pos + len(length or "")
        if (length is None or fmt.startswith(length, pos)) and at < len(fmt) and fmt[at] in _CONVERSIONS:
            return at + 1, {"flags": flags, "width": width, "prec": prec, "len": length, "conv": fmt[at]}
    return None


def _digits_at(fmt: str, pos: int):
    """``\\d+`` at ``pos``: (the digits or None, the position after them)."""
    end = pos
    while end < len(fmt) and fmt[end].isdecimal():
        end += 1
    return (fmt[pos:end] or None), end


def _split_args(text: str) -> list[str]:
    """The comma-separated arguments after the format string, commas inside parentheses kept."""
    args, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            if cur.strip():
                args.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        args.append(cur.strip())
    return args


def _unescape(fmt: str) -> str:
    return fmt.encode().decode("unicode_escape")


class TracepointFormat(Frozen):
    """A parsed format text: fields by name, the print fmt and its argument expressions."""

    __slots__ = ()
    _fields = ("name", "fields", "print_fmt", "args")

    def __new__(cls, name: str, fields: tuple[Field, ...], print_fmt: str | None, args: tuple[str, ...]):
        return tuple.__new__(cls, (name, fields, print_fmt, args))

    @classmethod
    def parse(cls, text: str) -> TracepointFormat:
        lines = text.split("\n")
        fields = tuple(f for f in map(_field_line, lines) if f is not None)
        pm = next((got for got in map(_print_fmt_line, lines) if got is not None), None)
        fmt = _unescape(pm[0]) if pm else None
        args = tuple(_split_args(pm[1].lstrip(","))) if pm else ()
        return cls(_line_word(text, "name:"), fields, fmt, args)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def format(self, raw: bytes) -> str:
        """The print fmt applied to ``raw`` (TEP_PRINT_INFO); the field list if it cannot be applied."""
        try:
            return self._apply(raw)
        except (KeyError, ValueError, IndexError):
            return self.fields_text(raw)

    def _arg_value(self, expr: str, raw: bytes):
        if expr.startswith("REC->"):
            name = expr[len("REC->"):]
        elif expr.startswith("__get_str(") and expr.endswith(")"):
            name = expr[len("__get_str("):-1]
        else:
            name = ""
        if not _is_word(name):  # only REC->field and __get_str(field)
            raise ValueError(expr)
        field = self.field(name)
        if field is None:
            raise KeyError(name)
        if expr.startswith("__get_str") or field.data_loc:
            return field.string(raw)
        return field.value(raw)

    def _apply(self, raw: bytes) -> str:
        if self.print_fmt is None:
            raise ValueError("no print fmt")
        values = iter(self._arg_value(a, raw) for a in self.args)
        out, pos = [], 0
        for start, end, spec in conversions(self.print_fmt):
            out.append(self.print_fmt[pos:start])
            pos = end
            out.append("%" if spec["conv"] == "%" else _convert(spec, next(values)))
        out.append(self.print_fmt[pos:])
        return "".join(out)

    def fields_text(self, raw: bytes) -> str:
        """libtraceevent's ``tep_print_fields``: `` name=value`` for the non-common fields."""
        parts = []
        for f in self.fields:
            if f.name.startswith("common_"):
                continue
            parts.append(f"{f.name}={f.string(raw) if f.data_loc else hex(f.value(raw))}")
        return " ".join(parts)


def _convert(m: dict, value) -> str:
    conv, length = m["conv"], m["len"] or ""
    spec = "%" + m["flags"] + (m["width"] or "") + ("." + m["prec"] if m["prec"] else "")
    if conv == "s":
        return (spec + "s") % (value if isinstance(value, str) else str(value))
    if isinstance(value, str):
        raise ValueError("string for a numeric conversion")
    bits = {"hh": 8, "h": 16, "": 32}.get(length, 64)
    value &= (1 << bits) - 1
    if conv in "di":
        if value >> (bits - 1):
            value -= 1 << bits
        return (spec + "d") % value
    if conv == "c":
        return chr(value & 0xFF)
    if conv == "p":
        return "0x%x" % value
    return (spec + conv) % value


__all__ = ("Field", "TracepointFormat")
