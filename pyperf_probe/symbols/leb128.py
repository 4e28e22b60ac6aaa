"""LEB128, the variable-length integers of DWARF (DWARF 5 §7.6), for every DWARF reader of the package:
.debug_info/.debug_abbrev (symbols.dwarf_*), .debug_line, and CFI (callchain.cfi).

Decoders take ``(data, pos)`` and return ``(value, new_pos)``, so that a parser walks one ``bytes`` object
without slicing it. The one-byte case, which is almost every value in abbreviation tables and CFA
programs, returns before the loop.
"""
from __future__ import annotations


def uleb(data: bytes, pos: int) -> tuple[int, int]:
    """Unsigned LEB128 at ``pos``."""
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    result = byte & 0x7F
    shift = 7
    while True:
        pos += 1
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos + 1
        shift += 7


def sleb(data: bytes, pos: int) -> tuple[int, int]:
    """Signed LEB128 at ``pos``."""
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos


def uleb_size(value: int) -> int:
    """How many bytes the ULEB128 encoding of ``value`` takes."""
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size
