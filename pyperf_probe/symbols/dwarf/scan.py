"""A fast reader of the function DIEs of one unit, for ``pyperf report``'s inline frames.

pyelftools builds every attribute of every DIE through construct (about 60 us a DIE); a report with samples
spread over libc touches hundreds of units. This reader walks a unit's DIEs straight from the bytes: an
abbreviation whose attributes all have fixed sizes is skipped in one step, and only the subprograms and
inlined subroutines are decoded, for the attributes that name and place them (DWARFv5 7.5: unit headers,
abbreviations, forms; 2.17: ranges). Units it cannot read alone (64-bit DWARF, ``DW_FORM_strx``/``addrx``
which need .debug_str_offsets/.debug_addr, ``DW_FORM_indirect``) raise :class:`Unsupported`, and the
caller falls back to pyelftools. With the C accelerator the DIEs themselves are walked in C
(``_speedups.dwarf_walk``), only the function DIEs' attributes here.
"""
from __future__ import annotations

import struct
import sys
from array import array

from pyperf_probe.symbols.dwarf.units import FIXED_FORM_SIZES
from pyperf_probe.symbols.leb128 import sleb, uleb

TAG_COMPILE_UNIT = 0x11
TAG_SUBPROGRAM = 0x2E
TAG_INLINED_SUBROUTINE = 0x1D
AT_NAME, AT_LOW_PC, AT_HIGH_PC, AT_RANGES = 0x03, 0x11, 0x12, 0x55
AT_LANGUAGE = 0x13
AT_ABSTRACT_ORIGIN, AT_SPECIFICATION = 0x31, 0x47
AT_LINKAGE_NAME, AT_MIPS_LINKAGE_NAME = 0x6E, 0x2007
_WANTED = frozenset((AT_NAME, AT_LOW_PC, AT_HIGH_PC, AT_RANGES, AT_ABSTRACT_ORIGIN, AT_SPECIFICATION,
                     AT_LINKAGE_NAME, AT_MIPS_LINKAGE_NAME, AT_LANGUAGE))
_FUNC_TAGS = frozenset((TAG_SUBPROGRAM, TAG_INLINED_SUBROUTINE, TAG_COMPILE_UNIT))
# forms: DWARFv5 7.5.6
F_ADDR, F_BLOCK2, F_BLOCK4, F_DATA2, F_DATA4, F_DATA8, F_STRING, F_BLOCK, F_BLOCK1 = 1, 3, 4, 5, 6, 7, 8, 9, 10
F_DATA1, F_FLAG, F_SDATA, F_STRP, F_UDATA, F_REF_ADDR, F_REF1, F_REF2, F_REF4, F_REF8, F_REF_UDATA = \
    0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15
F_INDIRECT, F_SEC_OFFSET, F_EXPRLOC, F_IMPLICIT_CONST = 0x16, 0x17, 0x18, 0x21
F_LOCLISTX, F_RNGLISTX = 0x22, 0x23
_ULEB_FORMS = frozenset((F_UDATA, F_REF_UDATA, F_LOCLISTX, F_RNGLISTX, F_SDATA))
_BLOCK_FORMS = {F_BLOCK1: 1, F_BLOCK2: 2, F_BLOCK4: 4}
_UNSUPPORTED_FORMS = frozenset((F_INDIRECT, 0x1A, 0x1B, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C,
                                0x1F02, 0x1F21))  # strx*, addrx*, GNU_addr_index, GNU_str_index
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")


class Unsupported(Exception):
    """The unit uses an encoding this reader leaves to pyelftools."""


class _Abbrev:
    """One abbreviation: tag, whether DIEs have children, (attribute, form, implicit constant) triples, and
    the total size of the attributes when every form has a fixed size (else None). Plain classes here, not
    dataclasses: report's inline frames never import dataclasses (~15 ms)."""
    __slots__ = ("tag", "children", "attrs", "fixed")

    def __init__(self, tag: int, children: bool, attrs: list[tuple[int, int, int]], fixed: int | None):
        self.tag, self.children, self.attrs, self.fixed = tag, children, attrs, fixed


class FuncDie:
    """A subprogram or inlined subroutine: what naming and placing it needs. ``parent``: index of the
    enclosing FuncDie, -1 at the top; ``origin``: absolute .debug_info offset of DW_AT_abstract_origin or
    DW_AT_specification."""
    __slots__ = ("offset", "tag", "parent", "name", "linkage", "origin", "ranges")

    def __init__(self, offset: int, tag: int, parent: int, name: str | None = None,
                 linkage: str | None = None, origin: int | None = None,
                 ranges: list[tuple[int, int]] | None = None):
        self.offset, self.tag, self.parent, self.name, self.linkage, self.origin = \
            offset, tag, parent, name, linkage, origin
        self.ranges = [] if ranges is None else ranges

    def _fields(self) -> tuple:
        return (self.offset, self.tag, self.parent, self.name, self.linkage, self.origin, self.ranges)

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return "FuncDie(" + ", ".join(f"{k}={v!r}" for k, v in zip(self.__slots__, self._fields())) + ")"


def parse_abbrevs(data: bytes, offset: int, until: int | None = None) -> dict[int, _Abbrev]:
    """The abbreviation table at ``offset`` (DWARFv5 7.5.3). Almost every number in it fits one byte:
    that case is read inline (this runs for each unit report touches). With ``until``, the table only up
    to the abbreviation of that code (the unit DIE's, for ``UnitScanner.unit_ranges``)."""
    table: dict[int, _Abbrev] = {}
    pos = offset
    end = len(data)
    sizes = FIXED_FORM_SIZES
    while pos < end:
        code = data[pos]
        pos += 1
        if code >= 0x80:
            code, pos = uleb(data, pos - 1)
        if code == 0:
            break
        tag = data[pos]
        pos += 1
        if tag >= 0x80:
            tag, pos = uleb(data, pos - 1)
        children = data[pos] != 0
        pos += 1
        attrs, fixed = [], 0
        while True:
            name = data[pos]
            pos += 1
            if name >= 0x80:
                name, pos = uleb(data, pos - 1)
            form = data[pos]
            pos += 1
            if form >= 0x80:
                form, pos = uleb(data, pos - 1)
            const = 0
            if form == F_IMPLICIT_CONST:
                const, pos = sleb(data, pos)
            if name == 0 and form == 0:
                break
            attrs.append((name, form, const))
            if fixed is not None:
                size = sizes.get(form)
                fixed = None if size is None else fixed + size
        table[code] = _Abbrev(tag, children, attrs, fixed)
        if code == until:
            break
    return table



_C_WALK_MAX_CODE = 1 << 16  # (abbreviation codes beyond: the Python walk)


def c_table(table: dict[int, _Abbrev]) -> list | None:
    """``_speedups.dwarf_walk``'s form of an abbreviation table (its comment in _speedups_unwind.c): per
    code, None or the bytes kind, has-children, fixed size, the forms; None for codes past
    ``_C_WALK_MAX_CODE`` or without the C accelerator."""
    if _C_WALK is None or not table or max(table) >= _C_WALK_MAX_CODE:
        return None
    out: list = [None] * (max(table) + 1)
    head = _C_ABBREV_HEAD.pack
    for code, abbrev in table.items():
        tag, attrs, fixed = abbrev.tag, abbrev.attrs, abbrev.fixed
        if len(attrs) >= 0x10000:
            continue
        forms = array("H", [form if form < 0xFFFF else 0xFFFF for _name, form, _const in attrs])
        if sys.byteorder != "little":
            forms.byteswap()
        out[code] = head(2 if tag == TAG_COMPILE_UNIT else 1 if tag in _FUNC_TAGS else 0, abbrev.children,
                         -1 if fixed is None or fixed > 0x7FFFFFFF else fixed, len(attrs)) + forms.tobytes()
    return out


_C_ABBREV_HEAD = struct.Struct("<BBiH")  # (dwarf_walk's abbreviation: kind, has-children, fixed size, form count)


def _c_walk():
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "dwarf_walk", None)


_C_WALK = _c_walk()  # (tests set None: the Python walk)


class UnitScanner:
    """Reads the FuncDies of units of one file (sections as bytes; abbreviation tables cached)."""

    def __init__(self, info: bytes, abbrev: bytes, strtab: bytes, ranges: bytes, rnglists: bytes):
        self.info, self.abbrev, self.strtab = info, abbrev, strtab
        self.ranges, self.rnglists = ranges, rnglists
        self._tables: dict[int, dict[int, _Abbrev]] = {}
        self._c_tables: dict[int, list | None] = {}  # abbreviation offset -> c_table of its table

    def scan(self, cu_offset: int) -> tuple[int, list[FuncDie]]:
        """(DW_AT_language of the unit or 0, its function DIEs in DIE order): the DIEs walked by
        ``_speedups.dwarf_walk`` (C) when it takes the unit, their attributes read here, else by ``_walk``
        (its Python twin: tests/test_dwarf.py compares them)."""
        pos, end, table, version = self._header(cu_offset)
        if _C_WALK is not None:
            abbrev_offset = self._unit_header(cu_offset)[2]
            c_abbrevs = self._c_tables.get(abbrev_offset, False)
            if c_abbrevs is False:
                c_abbrevs = self._c_tables[abbrev_offset] = c_table(table)
            walked = _C_WALK(self.info, pos, end, c_abbrevs) if c_abbrevs is not None else None
            if walked is not None:
                return self._walked(cu_offset, walked, table, version)
        return self._walk(cu_offset, pos, end, table, version)

    def _walked(self, cu_offset: int, walked: list[int], table, version: int):
        """``_walk``'s result from ``dwarf_walk``'s list (offset, code, attributes' offset, enclosing
        function's index of each function or unit DIE)."""
        funcs: list[FuncDie] = []
        pending: list[tuple[FuncDie, dict]] = []
        lang, base = 0, 0
        read_attrs = self._read_attrs
        for i in range(0, len(walked), 4):
            abbrev = table[walked[i + 1]]
            values, _ = read_attrs(abbrev, walked[i + 2], cu_offset)
            if abbrev.tag == TAG_COMPILE_UNIT:
                lang = values.get(AT_LANGUAGE, 0)
                base = values.get(AT_LOW_PC, 0)
            else:
                func = FuncDie(walked[i], abbrev.tag, walked[i + 3])
                funcs.append(func)
                pending.append((func, values))
        for func, values in pending:
            self._fill(func, values, base, version)
        return lang, funcs

    def unit_ranges(self, cu_offset: int) -> list[tuple[int, int]]:
        """The ranges of the unit DIE itself (DW_AT_low_pc/high_pc or DW_AT_ranges)."""
        pos, _end, abbrev_offset, version = self._unit_header(cu_offset)
        code, pos = uleb(self.info, pos)
        table = self._tables.get(abbrev_offset)
        if table is None:  # the unit DIE's abbreviation only: a unit outside .debug_aranges is rarely scanned
            table = parse_abbrevs(self.abbrev, abbrev_offset, until=code)
        abbrev = table.get(code)
        if abbrev is None or abbrev.tag != TAG_COMPILE_UNIT:
            return []
        values, _ = self._read_attrs(abbrev, pos, cu_offset)
        func = FuncDie(cu_offset, TAG_COMPILE_UNIT, -1)
        self._fill(func, values, values.get(AT_LOW_PC, 0), version)
        return func.ranges

    def _header(self, cu_offset: int):
        pos, end, abbrev_offset, version = self._unit_header(cu_offset)
        table = self._tables.get(abbrev_offset)
        if table is None:
            table = self._tables[abbrev_offset] = parse_abbrevs(self.abbrev, abbrev_offset)
        return pos, end, table, version

    def _unit_header(self, cu_offset: int):
        info = self.info
        (length,) = _U32.unpack_from(info, cu_offset)
        if length >= 0xFFFFFFF0:
            raise Unsupported("64-bit DWARF")
        version = _U16.unpack_from(info, cu_offset + 4)[0]
        if version >= 5:
            if info[cu_offset + 6] != 1 or info[cu_offset + 7] != 8:  # DW_UT_compile, 8-byte addresses
                raise Unsupported("unit type or address size")
            abbrev_offset, pos = _U32.unpack_from(info, cu_offset + 8)[0], cu_offset + 12
        else:
            abbrev_offset = _U32.unpack_from(info, cu_offset + 6)[0]
            if info[cu_offset + 10] != 8:
                raise Unsupported("address size")
            pos = cu_offset + 11
        return pos, cu_offset + 4 + length, abbrev_offset, version

    def _walk(self, cu_offset: int, pos: int, end: int, table, version: int):
        info = self.info
        funcs: list[FuncDie] = []
        stack: list[int] = []     # FuncDie index (or -1) of each open parent DIE
        lang, base = 0, 0
        current = -1
        pending: list[tuple[FuncDie, dict]] = []
        while pos < end:
            die_offset = pos
            code = info[pos]
            pos += 1
            if code >= 0x80:
                code, pos = uleb(info, pos - 1)
            if code == 0:
                if not stack:
                    break
                current = stack.pop()
                continue
            abbrev = table.get(code)
            if abbrev is None:
                raise Unsupported(f"abbreviation {code}")
            if abbrev.tag in _FUNC_TAGS:
                values, pos = self._read_attrs(abbrev, pos, cu_offset)
                if abbrev.tag == TAG_COMPILE_UNIT:
                    lang = values.get(AT_LANGUAGE, 0)
                    base = values.get(AT_LOW_PC, 0)
                    index = current
                else:
                    func = FuncDie(die_offset, abbrev.tag, current)
                    index = len(funcs)
                    funcs.append(func)
                    pending.append((func, values))
            else:
                index = current
                if abbrev.fixed is not None:
                    pos += abbrev.fixed
                else:
                    pos = self._skip_attrs(abbrev, pos)
            if abbrev.children:
                stack.append(current)
                current = index
        for func, values in pending:
            self._fill(func, values, base, version)
        return lang, funcs

    def _fill(self, func: FuncDie, values: dict, base: int, version: int) -> None:
        func.name = values.get(AT_NAME)
        func.linkage = values.get(AT_LINKAGE_NAME) or values.get(AT_MIPS_LINKAGE_NAME)
        func.origin = values.get(AT_ABSTRACT_ORIGIN, values.get(AT_SPECIFICATION))
        low = values.get(AT_LOW_PC)
        high = values.get(AT_HIGH_PC)
        if low is not None and high is not None:
            value, is_addr = high
            func.ranges = [(low, value if is_addr else low + value)]
        elif AT_RANGES in values:
            func.ranges = self._range_list(values[AT_RANGES], base, version)

    def _read_attrs(self, abbrev: _Abbrev, pos: int, cu_offset: int) -> tuple[dict, int]:
        info = self.info
        values = {}
        for name, form, const in abbrev.attrs:
            if name not in _WANTED:
                pos = _skip_form(info, form, pos)
                continue
            if form == F_STRP:
                off = _U32.unpack_from(info, pos)[0]
                values[name] = _cstr(self.strtab, off)
                pos += 4
            elif form == F_STRING:
                stop = info.index(b"\0", pos)
                values[name] = info[pos:stop].decode("utf-8", "replace")
                pos = stop + 1
            elif form == F_ADDR:
                values[name] = (_U64.unpack_from(info, pos)[0], True) if name == AT_HIGH_PC else \
                    _U64.unpack_from(info, pos)[0]
                pos += 8
            elif form in (F_REF4, F_REF2, F_REF1, F_REF8, F_REF_UDATA):
                value, pos = _read_const(info, form, pos)
                values[name] = cu_offset + value
            elif form == F_REF_ADDR:
                values[name] = _U32.unpack_from(info, pos)[0]
                pos += 4
            elif form in (F_DATA1, F_DATA2, F_DATA4, F_DATA8, F_UDATA, F_SEC_OFFSET, F_IMPLICIT_CONST):
                value, pos = (const, pos) if form == F_IMPLICIT_CONST else _read_const(info, form, pos)
                values[name] = (value, False) if name == AT_HIGH_PC else value
            elif form in _UNSUPPORTED_FORMS or form == F_RNGLISTX:
                raise Unsupported(f"form 0x{form:x}")
            else:
                pos = _skip_form(info, form, pos)
        return values, pos

    def _skip_attrs(self, abbrev: _Abbrev, pos: int) -> int:
        info = self.info
        for _name, form, _const in abbrev.attrs:
            pos = _skip_form(info, form, pos)
        return pos

    def _range_list(self, offset: int, base: int, version: int) -> list[tuple[int, int]]:
        return rnglist_v5(self.rnglists, offset, base) if version >= 5 else ranges_v4(self.ranges, offset, base)


def _cstr(data: bytes, offset: int) -> str:
    return data[offset:data.index(b"\0", offset)].decode("utf-8", "replace")


def _read_const(info: bytes, form: int, pos: int) -> tuple[int, int]:
    if form in (F_DATA1, F_REF1):
        return info[pos], pos + 1
    if form in (F_DATA2, F_REF2):
        return _U16.unpack_from(info, pos)[0], pos + 2
    if form in (F_DATA4, F_REF4, F_SEC_OFFSET):
        return _U32.unpack_from(info, pos)[0], pos + 4
    if form in (F_DATA8, F_REF8):
        return _U64.unpack_from(info, pos)[0], pos + 8
    return uleb(info, pos)


def _skip_form(info: bytes, form: int, pos: int) -> int:
    size = FIXED_FORM_SIZES.get(form)
    if size is not None:
        return pos + size
    if form in _ULEB_FORMS:
        while info[pos] & 0x80:
            pos += 1
        return pos + 1
    if form == F_STRING:
        return info.index(b"\0", pos) + 1
    if form in (F_EXPRLOC, F_BLOCK):
        length, pos = uleb(info, pos)
        return pos + length
    if form in _BLOCK_FORMS:
        width = _BLOCK_FORMS[form]
        return pos + width + int.from_bytes(info[pos:pos + width], "little")
    raise Unsupported(f"form 0x{form:x}")


def ranges_v4(data: bytes, offset: int, base: int, keep_empty: bool = False) -> list[tuple[int, int]]:
    """.debug_ranges (DWARFv4 2.17.3): address pairs, a (-1, base) selection, (0, 0) at the end."""
    out, pos = [], offset
    while pos + 16 <= len(data):
        begin, end = _U64.unpack_from(data, pos)[0], _U64.unpack_from(data, pos + 8)[0]
        pos += 16
        if begin == 0 and end == 0:
            break
        if begin == 0xFFFFFFFFFFFFFFFF:
            base = end
        elif end > begin or keep_empty:
            out.append((base + begin, base + end))
    return out


def rnglist_v5(data: bytes, offset: int, base: int, keep_empty: bool = False) -> list[tuple[int, int]]:
    """.debug_rnglists entries (DWARFv5 2.17.3, 7.25) without the indexed (``x``) kinds."""
    out, pos = [], offset
    while pos < len(data):
        kind = data[pos]
        pos += 1
        if kind == 0:       # DW_RLE_end_of_list
            break
        if kind == 4:       # DW_RLE_offset_pair
            lo, pos = uleb(data, pos)
            hi, pos = uleb(data, pos)
            if hi > lo or keep_empty:
                out.append((base + lo, base + hi))
        elif kind == 5:     # DW_RLE_base_address
            base = _U64.unpack_from(data, pos)[0]
            pos += 8
        elif kind == 6:     # DW_RLE_start_end
            lo, hi = _U64.unpack_from(data, pos)[0], _U64.unpack_from(data, pos + 8)[0]
            pos += 16
            if hi > lo or keep_empty:
                out.append((lo, hi))
        elif kind == 7:     # DW_RLE_start_length
            lo = _U64.unpack_from(data, pos)[0]
            length, pos = uleb(data, pos + 8)
            if length or keep_empty:
                out.append((lo, lo + length))
        else:
            raise Unsupported(f"DW_RLE 0x{kind:x}")
    return out
