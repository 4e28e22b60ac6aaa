"""Finding compilation units without parsing them all.

libc's separate debug file holds about 4,000 CUs and 5.8 MB of ``.debug_info``: parsing every DIE in Python
takes several seconds, while perf (libdw, in C) walks them all in 0.1 s. pyperf never walks them all:

* by address: ``.debug_aranges`` (DWARFv5 6.1.2), falling back to each CU DIE's ranges when a CU is missing
  from it;
* by name: a DIE named ``foo`` holds either ``DW_FORM_strp`` (a 4-byte offset into ``.debug_str``) or the
  bytes ``foo\\0`` inline (``DW_FORM_string``). Both are found by a byte search over the raw sections (C speed),
  and the hits map to their CU by bisecting the CU header offsets. The candidates are then parsed for real,
  so a false hit costs time, never correctness. Units that name things through ``DW_FORM_strx``
  (``.debug_str_offsets``, clang's default) defeat the search: then every CU is a candidate.
* by reference: a unit can define a function it never names. GCC's LTO writes each function body in a
  link-time unit (``<artificial>``) whose subprogram has no DW_AT_name, only a DW_AT_abstract_origin in
  ``DW_FORM_ref_addr`` (DWARFv5 7.5.5: an offset in ``.debug_info``, so into another unit) to the DIE the
  compiler wrote, name included, in the unit of the source file. libdw's ``dwarf_diename`` follows that
  reference (``dwarf_attr_integrate``), so perf finds the function while walking the link-time unit. Such
  units are candidates for every name some unit holds: their abbreviation tables say they exist (a
  subprogram abbreviation with DW_AT_abstract_origin or DW_AT_specification in ``DW_FORM_ref_addr``), and
  a byte search for that pair of codes in ``.debug_abbrev`` finds them without parsing the tables.

CU headers (DWARFv5 7.5.1.1) are read with ``struct`` only: ``unit_length`` (4 bytes, or ``0xffffffff`` and
8 bytes for 64-bit DWARF) is enough to hop from one header to the next.
"""
from __future__ import annotations

import bisect
import struct
from collections import namedtuple

from pyperf_probe.symbols.leb128 import uleb, uleb_size

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterable

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def unit_offsets(info: bytes) -> list[int]:
    """Offsets of every unit header in ``.debug_info``, ascending."""
    offsets = []
    pos, end = 0, len(info)
    while pos + 4 <= end:
        offsets.append(pos)
        (length,) = _U32.unpack_from(info, pos)
        if length == 0xFFFFFFFF:
            (length,) = _U64.unpack_from(info, pos + 4)
            pos += 12 + length
        else:
            pos += 4 + length
    return offsets


def string_offsets(strtab: bytes, name: bytes) -> list[int]:
    """Every offset in a string section at which the NUL-terminated string ``name`` can be read.

    Linkers merge strings by tails, so ``"get"`` may be read from inside ``"tcache_get"``: every occurrence
    of ``name\\0`` counts, not only those that start a string.
    """
    needle = name + b"\0"
    hits = []
    pos = strtab.find(needle)
    while pos >= 0:
        hits.append(pos)
        pos = strtab.find(needle, pos + 1)
    return hits


def _min_glob_length(pattern: str) -> int:
    """The shortest string a glob can match: each ``?`` and ``[...]`` is one character, ``*`` none."""
    import re  # (probe's globs only: report's inline frames import neither re nor fnmatch)
    return len(re.sub(r"\[[^\]]*\]", "?", pattern).replace("*", ""))


def _find_all(haystack: bytes, needle: bytes) -> Iterable[int]:
    pos = haystack.find(needle)
    while pos >= 0:
        yield pos
        pos = haystack.find(needle, pos + 1)


class UnitIndex:
    """CU offsets of one ``.debug_info``, and the searches that narrow a question to a few CUs."""

    def __init__(self, info: bytes, strtab: bytes, uses_strx: bool, abbrev: bytes = b""):
        self._info = self.info = info
        self._strtab = self.strtab = strtab
        self._uses_strx = uses_strx
        self._abbrev = abbrev
        self._tables: dict[int, AbbrevTable] = {}
        self._referrers: frozenset[int] | None = None
        self.offsets = unit_offsets(info)

    def unit_containing(self, info_offset: int) -> int | None:
        """Header offset of the unit holding the byte at ``info_offset``."""
        i = bisect.bisect_right(self.offsets, info_offset) - 1
        return self.offsets[i] if i >= 0 else None

    def units_naming(self, name: str) -> list[int]:
        """Header offsets, ascending, of the units that may hold a DIE called ``name``."""
        if self._uses_strx:
            return list(self.offsets)
        raw = name.encode()
        hits: dict[int, list[tuple[int, int]]] = {}
        for str_offset in string_offsets(self._strtab, raw):
            for pos in _find_all(self._info, _U32.pack(str_offset)):
                hits.setdefault(self.unit_containing(pos), []).append((pos, FORM_STRP))
        for pos in _find_all(self._info, raw + b"\0"):
            hits.setdefault(self.unit_containing(pos), []).append((pos, FORM_STRING))
        hits.pop(None, None)
        naming = [cu for cu, where in hits.items() if self._may_define(cu, where)]
        if not naming:
            return []
        return sorted(set(naming).union(self.cross_unit_referrers()))

    def cross_unit_referrers(self) -> frozenset[int]:
        """Units (header offsets) with a subprogram that may take its name from another unit: a subprogram
        abbreviation with DW_AT_abstract_origin or DW_AT_specification in DW_FORM_ref_addr (GCC's LTO units).
        The two-byte pairs are searched in ``.debug_abbrev`` first; only the tables holding one are parsed."""
        if self._referrers is None:
            self._referrers = frozenset(self._find_referrers())
        return self._referrers

    def _find_referrers(self) -> Iterable[int]:
        pairs = [bytes((at, FORM_REF_ADDR)) for at in (AT_ABSTRACT_ORIGIN, AT_SPECIFICATION)]
        hits = sorted(pos for pair in pairs for pos in _find_all(self._abbrev, pair))
        if not hits:
            return []
        by_table: dict[int | None, list[int]] = {}
        for cu in self.offsets:
            header = unit_header(self._info, cu)
            by_table.setdefault(header.abbrev_offset if header else None, []).append(cu)
        starts = sorted(t for t in by_table if t is not None)
        tables = {starts[i] for i in (bisect.bisect_right(starts, pos) - 1 for pos in hits) if i >= 0}
        found = list(by_table.get(None, ()))     # 64-bit units: not read here, kept as candidates
        for start in tables:
            if self._table(start).cross_unit_origin:
                found.extend(by_table[start])
        return found

    def _table(self, abbrev_offset: int) -> "AbbrevTable":
        table = self._tables.get(abbrev_offset)
        if table is None:
            table = self._tables[abbrev_offset] = AbbrevTable.parse(self._abbrev, abbrev_offset)
        return table

    def units_matching(self, pattern: str) -> list[int]:
        """Units that may hold a DIE whose name matches the glob ``pattern``: the units naming any
        ``.debug_str`` string it matches. GCC writes names shorter than 4 bytes inline (DW_FORM_string),
        so a glob that can match such a short name makes every unit a candidate."""
        if self._uses_strx or _min_glob_length(pattern) < 4:
            return list(self.offsets)
        import fnmatch
        import re
        regex = re.compile(fnmatch.translate(pattern).encode())
        names = {m for m in self._strtab.split(b"\0") if regex.match(m)}
        found = set()
        for name in names:
            found.update(self.units_naming(name.decode("utf-8", "replace")))
        return sorted(found)

    def _may_define(self, cu_offset: int, where: list[tuple[int, int]]) -> bool:
        """Whether one of the hits can be the name of a subprogram definition (or, in a unit that uses
        DW_AT_specification, of the declaration a definition refers to), judging by the unit's abbrevs."""
        header = unit_header(self._info, cu_offset)
        if header is None or not self._abbrev:
            return True
        table = self._table(header.abbrev_offset)
        return any(table.may_name_function(self._info, pos, form) for pos, form in where)


# DWARFv5 7.5.6 form codes used below
FORM_STRING = 0x08
FORM_STRP = 0x0E
FORM_REF_ADDR = 0x10
FORM_IMPLICIT_CONST = 0x21
# forms whose size does not depend on the data (64-bit addresses, 32-bit DWARF offsets)
FIXED_FORM_SIZES = {0x01: 8, 0x05: 2, 0x06: 4, 0x07: 8, 0x0B: 1, 0x0C: 1, 0x0E: 4, 0x10: 4, 0x11: 1, 0x12: 2,
                    0x13: 4, 0x14: 8, 0x17: 4, 0x19: 0, 0x1C: 4, 0x1D: 4, 0x1E: 16, 0x1F: 4, 0x20: 8, 0x21: 0,
                    0x24: 8, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4, 0x29: 1, 0x2A: 2, 0x2B: 3, 0x2C: 4}
TAG_SUBPROGRAM = 0x2E
AT_NAME, AT_DECLARATION, AT_SPECIFICATION, AT_ABSTRACT_ORIGIN = 0x03, 0x3C, 0x47, 0x31
AT_LINKAGE_NAMES = (0x6E, 0x2007)  # DW_AT_linkage_name, DW_AT_MIPS_linkage_name


# (namedtuples, not dataclasses nor typing.NamedTuple: report's inline frames import neither dataclasses
# (~15 ms) nor typing, re and enum (~5-15 ms))
UnitHeader = namedtuple("UnitHeader", "version abbrev_offset")
UnitHeader.__doc__ = """The fields of a DWARF 2-5 unit header (DWARFv5 7.5.1.1) needed to read its abbreviations:
version (int), abbrev_offset (int)."""


def unit_header(info: bytes, offset: int) -> UnitHeader | None:
    """Version and abbreviation offset of the 32-bit unit at ``offset`` (None for 64-bit DWARF)."""
    (length,) = _U32.unpack_from(info, offset)
    if length == 0xFFFFFFFF:
        return None
    version = int.from_bytes(info[offset + 4:offset + 6], "little")
    if version >= 5:
        (abbrev_offset,) = _U32.unpack_from(info, offset + 8)
    else:
        (abbrev_offset,) = _U32.unpack_from(info, offset + 6)
    return UnitHeader(version, abbrev_offset)


NameSlot = namedtuple("NameSlot", "code prefix form declaration")
NameSlot.__doc__ = """Where a name-like attribute of a subprogram abbreviation sits: bytes after the DIE's code
(prefix: None when an earlier attribute has a variable size), its form, and whether the DIE is a declaration
(code int, prefix int | None, form int, declaration bool)."""


class AbbrevTable:
    """The subprogram abbreviations of one table, reduced to their name slots (DWARFv5 7.5.3).

    ``has_specification``: some subprogram abbreviation has DW_AT_specification (C++ member functions
    defined outside their class), so a named declaration may stand for a definition.
    ``cross_unit_origin``: some subprogram abbreviation has DW_AT_abstract_origin or DW_AT_specification
    in DW_FORM_ref_addr, so a subprogram may be named by a DIE of another unit (GCC's LTO units)."""

    def __init__(self, slots: list[NameSlot], has_specification: bool, cross_unit_origin: bool = False):
        self.slots = slots
        self.has_specification = has_specification
        self.cross_unit_origin = cross_unit_origin

    @classmethod
    def parse(cls, data: bytes, offset: int) -> "AbbrevTable":
        slots, has_spec, cross, pos = [], False, False, offset
        end = len(data)
        while pos < end:
            code, pos = uleb(data, pos)
            if code == 0:
                break
            tag, pos = uleb(data, pos)
            pos += 1  # DW_CHILDREN_yes / no
            attrs = []
            while True:
                name, pos = uleb(data, pos)
                form, pos = uleb(data, pos)
                if form == FORM_IMPLICIT_CONST:
                    _, pos = uleb(data, pos)  # the SLEB128 constant: same length rules
                if name == 0 and form == 0:
                    break
                attrs.append((name, form))
            if tag == TAG_SUBPROGRAM:
                has_spec = has_spec or any(a == AT_SPECIFICATION for a, _ in attrs)
                cross = cross or any(a in (AT_ABSTRACT_ORIGIN, AT_SPECIFICATION) and f == FORM_REF_ADDR
                                     for a, f in attrs)
                slots.extend(_name_slots(code, attrs))
        return cls(slots, has_spec, cross)

    def may_name_function(self, info: bytes, pos: int, form: int) -> bool:
        for slot in self.slots:
            if slot.form != form:
                continue
            if slot.prefix is None:
                return True
            start = pos - slot.prefix - uleb_size(slot.code)
            if start < 0:
                continue
            code, end = uleb(info, start)
            if code == slot.code and end == pos - slot.prefix:
                if not slot.declaration or self.has_specification:
                    return True
        return False


def _name_slots(code: int, attrs: list[tuple[int, int]]) -> Iterable[NameSlot]:
    declaration = any(a == AT_DECLARATION for a, _ in attrs)
    prefix: int | None = 0
    for name, form in attrs:
        if name == AT_NAME or name in AT_LINKAGE_NAMES:
            yield NameSlot(code, prefix, form, declaration)
        size = FIXED_FORM_SIZES.get(form)
        prefix = None if prefix is None or size is None else prefix + size
