"""A format text's fields, as libtraceevent reads and prints them (src/event-parse.c ``event_read_fields``,
``tep_read_number``, ``dynamic_offset_field``, ``print_field_raw``/``tep_print_fields``; perf 6.1's copy).

A field is its C type, name, offset and size in the record, array length and element size, and the
``TEP_FIELD_IS_*`` flags libtraceevent derives from the declaration (arrays, pointers, signedness, strings,
``__data_loc``/``__rel_loc`` dynamic data, longs). Raw printing is what ``perf report --raw-trace`` and the
``/raw`` sort keys show.
"""
from __future__ import annotations

import struct

from pyperf_probe.traceevent.tokens import DELIM, ITEM, NEWLINE, NONE, OP, ParseError, Tokens, strtoul

# enum tep_format_flags
IS_ARRAY, IS_POINTER, IS_SIGNED, IS_STRING, IS_DYNAMIC, IS_LONG = 1, 2, 4, 8, 16, 32
IS_RELATIVE = 256

_U = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


class FormatField:
    """``struct tep_format_field``: the C type, name, place, size and TEP_FIELD_IS_* flags."""

    __slots__ = ("type", "name", "offset", "size", "arraylen", "elementsize", "flags", "common")

    def __init__(self, type_: str, name: str, flags: int):
        self.type, self.name, self.flags = type_, name, flags
        self.offset = self.size = self.arraylen = self.elementsize = 0
        self.common = False

    def __repr__(self) -> str:
        return f"FormatField({self.type!r}, {self.name!r}, off={self.offset}, size={self.size}, flags={self.flags})"


_TYPE_SIZES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "s8": 1, "s16": 2, "s32": 4, "s64": 8, "char": 1}


def _read_field(tok: Tokens, long_size: int) -> FormatField | None:
    """One ``field:TYPE NAME;\\toffset:N;\\tsize:N;\\tsigned:N;`` line, None at the empty line that ends a
    block (``event_read_fields``)."""
    kind, text = tok.read()
    if kind == NEWLINE:
        return None
    if kind != ITEM or text != "field":
        raise ParseError(f"expected 'field', read {text!r}")
    tok.expect(OP, ":")
    last = tok.expect(ITEM)
    type_, flags, size_dynamic = None, 0, 0
    while True:
        kind, text = tok.read()
        if kind == ITEM or (kind == OP and text == "*"):
            if text == "*":
                flags |= IS_POINTER
            type_ = last if type_ is None else type_ + " " + last
            last = text
            continue
        if kind == DELIM and last == "__attribute__" and text == "(":
            type_ = (type_ + " " if type_ else "") + "__attribute__("
            depth, delim = 1, " "
            while True:
                kind, text = tok.read()
                if kind == NONE:
                    raise ParseError("unterminated __attribute__")
                if kind == DELIM:
                    depth += (text == "(") - (text == ")")
                    if not depth:
                        break
                    type_, delim = type_ + text, ""
                else:
                    type_, delim = type_ + delim + text, " "
                last = text
            continue
        break
    if type_ is None:
        raise ParseError("no type found")
    name, arraylen = last, 0
    if kind != OP:
        raise ParseError(f"expected an operator after {name!r}")
    if text == "[":
        flags |= IS_ARRAY
        brackets, last_kind = "[", kind
        kind, text = tok.read()
        arraylen = strtoul(text) if kind == ITEM else 0
        while text != "]":
            brackets += (" " if last_kind == ITEM and kind == ITEM else "") + text
            last_kind = kind
            arraylen = strtoul(text)
            kind, text = tok.read()
            if kind == NONE:
                raise ParseError("failed to find token")
        brackets += "]"
        kind, text = tok.read()
        if kind == ITEM:  # ``__data_loc char[] name``: the brackets belonged to the type
            type_ = type_ + " " + name + brackets
            size_dynamic = _TYPE_SIZES.get(name, 0)
            name = text
            kind, text = tok.read()
        else:
            type_ += brackets
    f = FormatField(type_, name, flags)
    if f.flags & IS_ARRAY and ("char" in type_ or "u8" in type_ or "s8" in type_):
        f.flags |= IS_STRING
    if type_.startswith("__data_loc"):
        f.flags |= IS_DYNAMIC
    if type_.startswith("__rel_loc"):
        f.flags |= IS_DYNAMIC | IS_RELATIVE
    if "long" in type_:
        f.flags |= IS_LONG
    if kind != OP or text != ";":
        raise ParseError(f"expected ';' after {name!r}")
    tok.expect(ITEM, "offset"), tok.expect(OP, ":")
    f.offset = strtoul(tok.expect(ITEM))
    tok.expect(OP, ";"), tok.expect(ITEM, "size"), tok.expect(OP, ":")
    f.size = strtoul(tok.expect(ITEM))
    if f.flags & IS_DYNAMIC and f.size == 2:
        f.flags |= IS_STRING | IS_ARRAY
    tok.expect(OP, ";")
    kind, text = tok.read()
    if kind != NEWLINE:
        if kind != ITEM or text != "signed":
            raise ParseError(f"expected 'signed', read {text!r}")
        tok.expect(OP, ":")
        if strtoul(tok.expect(ITEM)):
            f.flags |= IS_SIGNED
        tok.expect(OP, ";")
        tok.expect(NEWLINE)
    f.arraylen = arraylen
    if f.flags & (IS_ARRAY | IS_DYNAMIC):
        if arraylen:
            f.elementsize = f.size // arraylen
        elif f.flags & IS_DYNAMIC:
            f.elementsize = size_dynamic
        elif f.flags & IS_STRING:
            f.elementsize = 1
        elif f.flags & IS_LONG:
            f.elementsize = long_size
    else:
        f.elementsize = f.size
    return f


def parse_fields(tok: Tokens, long_size: int) -> list[FormatField]:
    """The fields up to the empty line that ends their block."""
    out = []
    while True:
        f = _read_field(tok, long_size)
        if f is None:
            return out
        out.append(f)


# ------------------------------------------------------------------------------------------- values

def read_number(data: bytes, offset: int, size: int) -> int:
    """``tep_read_number`` (little-endian; sizes other than 1/2/4/8 read as 0)."""
    code = _U.get(size)
    if code is None or offset < 0 or offset + size > len(data):
        return 0
    return struct.unpack_from(code, data, offset)[0]


def signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def cstr(data: bytes) -> str:
    """A C string: the bytes up to the first NUL."""
    return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def printable(buf: bytes) -> bool:
    """``is_printable_array``: every byte up to the first NUL is printable or a space."""
    for b in buf:
        if not b:
            break
        ch = chr(b)
        if not (0x20 <= b < 0x7F or ch in " \t\n\v\f\r"):
            return False
    return True


def dynamic_span(field: FormatField, data: bytes) -> tuple[int, int]:
    """``dynamic_offset_field``: (offset, length) of a __data_loc/__rel_loc field's bytes."""
    size = len(data)
    if field.offset + field.size > size:
        return 0, 0
    val = read_number(data, field.offset, field.size)
    o = val & 0xFFFF
    length = size - o if field.size == 2 else (val >> 16) & 0xFFFF
    offset = 0 if o > size else o
    length = 0 if o + length > size else length
    if field.flags & IS_RELATIVE:
        offset += field.offset + field.size
    return offset, length


# ------------------------------------------------------------------------------------------- raw printing

def fields_text(fields: list[FormatField], data: bytes) -> str:
    """``tep_print_fields`` of perf 6.1: `` name=value`` for every non-common field."""
    return "".join(f" {f.name}=" + field_raw(f, data) for f in fields)


def field_raw(f: FormatField, data: bytes) -> str:
    """``print_field_raw``."""
    if f.flags & IS_ARRAY:
        if f.flags & IS_DYNAMIC:
            offset, length = dynamic_span(f, data)
        else:
            offset, length = f.offset, f.size
        buf = data[offset:offset + length]
        if f.flags & IS_STRING and printable(buf):
            return cstr(data[offset:])
        f.flags &= ~IS_STRING  # (sic) libtraceevent forgets the field is a string from then on
        return "ARRAY[" + ", ".join("%02x" % b for b in buf) + "]"
    val = read_number(data, f.offset, f.size)
    if f.flags & IS_POINTER:
        return "0x%x" % val
    if f.flags & IS_SIGNED:
        if f.size == 4:
            return "0x%x" % signed(val, 32) if f.flags & IS_LONG else "%d" % signed(val, 32)
        if f.size == 2:
            return "%2d" % signed(val, 16)
        if f.size == 1:
            return "%1d" % signed(val, 8)
        return "%d" % signed(val, 64)
    return "0x%x" % val if f.flags & IS_LONG else "%d" % val
