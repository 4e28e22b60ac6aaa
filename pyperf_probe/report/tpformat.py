"""A tracepoint's ``format`` text, and its ``print fmt`` applied to a sample's RAW bytes.

This is what perf's ``trace`` sort key shows (util/sort.c ``get_trace_output`` -> libtraceevent
``tep_print_event(..., TEP_PRINT_INFO)``): for a uprobe, ``print fmt: "(%lx)", REC->__probe_ip`` gives
``(55f9d7fcf1de)``. The format text is the one of ``events/GROUP/EVENT/format`` (perf-formats.md §1.5)::

    \\tfield:unsigned long __probe_ip;\\toffset:8;\\tsize:8;\\tsigned:0;
    print fmt: "(%lx) n=%d arg3=\\"%s\\"", REC->__probe_ip, REC->n, __get_str(arg3)

Only what kernel probe events print is supported: ``REC->field`` and ``__get_str(field)`` arguments with
the C conversions ``d i u x X o c s p`` and their flags, width and length modifiers. Anything else is shown
as perf's libtraceevent does for a failed parse: the raw field list (``tep_print_fields``).
"""
from __future__ import annotations

import dataclasses
import re
import struct
from typing import List, Optional, Sequence, Tuple

_FIELD = re.compile(r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
                    r"\s*signed:(?P<signed>\d+);", re.M)
_PRINT_FMT = re.compile(r'^print fmt:\s*"(?P<fmt>(?:[^"\\]|\\.)*)"(?P<args>.*)$', re.M)
_CONV = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+)?(?:\.(?P<prec>\d+))?(?P<len>hh|h|ll|l|L|z|j|t)?"
                   r"(?P<conv>[diouxXcsp%])")
_INT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


@dataclasses.dataclass(frozen=True)
class Field:
    """One ``field:`` line: C declaration, offset and size in the RAW record, signedness."""

    name: str
    offset: int
    size: int
    signed: bool
    data_loc: bool  # ``__data_loc char[] x``: u32 = (len << 16) | offset of the bytes

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


def _parse_field(decl: str, offset: int, size: int, signed: bool) -> Field:
    name = re.sub(r"\[.*\]$", "", decl.split()[-1])
    return Field(name, offset, size, signed, decl.startswith("__data_loc"))


def _split_args(text: str) -> List[str]:
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


@dataclasses.dataclass(frozen=True)
class TracepointFormat:
    """A parsed format text: fields by name, the print fmt and its argument expressions."""

    name: str
    fields: Tuple[Field, ...]
    print_fmt: Optional[str]
    args: Tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "TracepointFormat":
        name_m = re.search(r"^name:\s*(\S+)", text, re.M)
        fields = tuple(_parse_field(m["decl"].strip(), int(m["offset"]), int(m["size"]), m["signed"] == "1")
                       for m in _FIELD.finditer(text))
        pm = _PRINT_FMT.search(text)
        fmt = _unescape(pm["fmt"]) if pm else None
        args = tuple(_split_args(pm["args"].lstrip(","))) if pm else ()
        return cls(name_m.group(1) if name_m else "", fields, fmt, args)

    def field(self, name: str) -> Optional[Field]:
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
        m = re.fullmatch(r"REC->(\w+)", expr) or re.fullmatch(r"__get_str\((\w+)\)", expr)
        if not m:
            raise ValueError(expr)
        field = self.field(m.group(1))
        if field is None:
            raise KeyError(m.group(1))
        if expr.startswith("__get_str") or field.data_loc:
            return field.string(raw)
        return field.value(raw)

    def _apply(self, raw: bytes) -> str:
        if self.print_fmt is None:
            raise ValueError("no print fmt")
        values = iter(self._arg_value(a, raw) for a in self.args)
        out, pos = [], 0
        for m in _CONV.finditer(self.print_fmt):
            out.append(self.print_fmt[pos:m.start()])
            pos = m.end()
            out.append("%" if m["conv"] == "%" else _convert(m, next(values)))
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


def _convert(m: "re.Match[str]", value) -> str:
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


__all__: Sequence[str] = ("Field", "TracepointFormat")
