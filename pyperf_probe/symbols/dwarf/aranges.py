"""``.debug_aranges`` (DWARFv5 6.1.2) read with ``struct`` into sorted arrays: address -> unit offset.

pyelftools builds every entry through construct (0.3 s for libc's 18,000 ranges); here a set is a header
(unit_length, version, debug_info_offset, address_size, segment_selector_size), padding to twice the
address size, then (address, length) pairs up to a (0, 0) pair.
"""
from __future__ import annotations

import bisect
import struct
from array import array

_HEADER = struct.Struct("<IHIBB")   # 32-bit DWARF: unit_length, version, debug_info_offset, sizes


class ArangeIndex:
    """Sorted [start, end) ranges of the units listed in .debug_aranges."""

    def __init__(self, starts: array, ends: array, units: array):
        self._starts, self._ends, self._units = starts, ends, units
        self.listed = frozenset(units)

    @classmethod
    def parse(cls, data: bytes) -> "ArangeIndex":
        rows: list[tuple[int, int, int]] = []
        pos = 0
        while pos + _HEADER.size <= len(data):
            length, _version, info_offset, addr_size, seg_size = _HEADER.unpack_from(data, pos)
            if length >= 0xFFFFFFF0 or addr_size != 8 or seg_size != 0:
                break  # 64-bit DWARF or segmented addresses: not produced for x86_64 Linux
            end = pos + 4 + length
            tuple_pos = pos + _HEADER.size
            tuple_pos += (-tuple_pos) % 16  # pairs are aligned to twice the address size
            for start, size in struct.iter_unpack("<QQ", data[tuple_pos:end - (end - tuple_pos) % 16]):
                if start == 0 and size == 0:
                    break
                if size:
                    rows.append((start, start + size, info_offset))
            pos = end
        rows.sort()
        return cls(array("Q", (r[0] for r in rows)), array("Q", (r[1] for r in rows)),
                   array("Q", (r[2] for r in rows)))

    def unit_at(self, svma: int) -> int | None:
        i = bisect.bisect_right(self._starts, svma) - 1
        if i >= 0 and svma < self._ends[i]:
            return self._units[i]
        return None
