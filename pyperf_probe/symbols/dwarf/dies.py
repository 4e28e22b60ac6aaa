"""DIE accessors with libdw's semantics, the ones perf's probe-finder relies on.

pyelftools parses the DIEs; these helpers answer the questions perf asks libdw (``dwarf_diename``,
``dwarf_entrypc``, ``dwarf_haspc``, ``dwarf_getlocation_addr``...) the way libdw answers them, so that the
search in funcs.py can follow tools/perf/util/probe-finder.c and dwarf-aux.c line by line.
"""
from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterator

# pyelftools (elftools.dwarf: ~15 ms, construct with it) is imported where a list or expression needs it:
# the inline frames of report and script read DIEs without it (dwarf.scan).


# DWARFv5 7.5.4: forms of the reference class that point inside the same unit
_ADDR_FORMS = ("DW_FORM_addr", "DW_FORM_addrx", "DW_FORM_addrx1", "DW_FORM_addrx2", "DW_FORM_addrx3",
               "DW_FORM_addrx4", "DW_FORM_GNU_addr_index")
_INTEGRATE_VIA = ("DW_AT_abstract_origin", "DW_AT_specification")
# Tags under which dwarf_getfuncs looks for subprograms in non-C units (libdw classify_die scopes)
_SCOPE_TAGS = frozenset(("DW_TAG_namespace", "DW_TAG_class_type", "DW_TAG_structure_type",
                         "DW_TAG_union_type", "DW_TAG_module", "DW_TAG_subprogram",
                         "DW_TAG_lexical_block", "DW_TAG_inlined_subroutine", "DW_TAG_entry_point"))
_C_LANGS = frozenset((0x1, 0x2, 0xC, 0x1D))  # DW_LANG_C89, C, C99, C11: dwarf_getfuncs visits the top level only


def attr(die, name: str):
    """``dwarf_attr``: the attribute on this DIE only."""
    return die.attributes.get(name)


def attr_integrate(die, name: str):
    """``dwarf_attr_integrate``: the attribute here or through DW_AT_abstract_origin / DW_AT_specification."""
    found = attr_integrate_at(die, name)
    return found[1] if found is not None else None


def attr_integrate_at(die, name: str):
    """``dwarf_attr_integrate`` with the DIE that holds the attribute, (die, value), or None. The holder
    may be in another unit (DW_FORM_ref_addr: GCC's LTO units point into the units of the sources), and
    a unit-relative value such as DW_AT_decl_file is read in the holder's unit, as libdw's ``attr->cu``."""
    for _ in range(16):
        value = die.attributes.get(name)
        if value is not None:
            return die, value
        for via in _INTEGRATE_VIA:
            if via in die.attributes:
                die = die.get_DIE_from_attribute(via)
                break
        else:
            return None
    return None


def _text(value) -> str | None:
    if value is None:
        return None
    raw = value.value
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else None


def diename(die) -> str | None:
    """``dwarf_diename``: DW_AT_name, integrated through abstract origins and specifications."""
    return _text(attr_integrate(die, "DW_AT_name"))


def linkage_name(die) -> str | None:
    """DW_AT_linkage_name (or the pre-DWARF4 DW_AT_MIPS_linkage_name), integrated."""
    return _text(attr_integrate(die, "DW_AT_linkage_name") or attr_integrate(die, "DW_AT_MIPS_linkage_name"))


def ref(die, name: str):
    """The DIE an attribute of the reference class points to, or None."""
    return die.get_DIE_from_attribute(name) if name in die.attributes else None


def entrypc(die) -> int | None:
    """``dwarf_entrypc``: DW_AT_entry_pc, else DW_AT_low_pc, when given as an address."""
    value = die.attributes.get("DW_AT_entry_pc") or die.attributes.get("DW_AT_low_pc")
    if value is None or value.form not in _ADDR_FORMS:
        return None
    return value.value


def ranges(die) -> list[tuple[int, int]]:
    """``dwarf_ranges``: [low, high) pairs in the order the DIE lists them (DWARFv5 2.17), empty ones
    left out; computed once per DIE (pyelftools keeps one DIE object per offset)."""
    cached = getattr(die, "_pyperf_ranges", None)
    if cached is None:
        cached = die._pyperf_ranges = _ranges(die)
    return cached


def _ranges(die) -> list[tuple[int, int]]:
    low = die.attributes.get("DW_AT_low_pc")
    high = die.attributes.get("DW_AT_high_pc")
    if low is not None and high is not None:
        end = high.value if high.form in _ADDR_FORMS else low.value + high.value
        return [(low.value, end)]
    value = die.attributes.get("DW_AT_ranges")
    if value is None:
        return []
    return _range_list(die, value)


def _range_list(die, value, keep_empty: bool = False) -> list[tuple[int, int]]:
    cu = die.cu
    offset = value.value
    if value.form == "DW_FORM_rnglistx":
        offset = _indexed_offset(cu, "DW_AT_rnglists_base", offset, cu.dwarfinfo.debug_rnglists_sec)
    fast = _fast_range_list(cu, offset, keep_empty)
    if fast is not None:
        return fast
    from elftools.dwarf.ranges import BaseAddressEntry as RangeBase, RangeEntry
    entries = cu.dwarfinfo.range_lists().get_range_list_at_offset(offset, cu=cu)
    base = cu_base(cu)
    out = []
    for entry in entries:
        if isinstance(entry, RangeBase):
            base = entry.base_address
        elif isinstance(entry, RangeEntry):
            shift = 0 if entry.is_absolute else base
            if entry.end_offset > entry.begin_offset or keep_empty:
                out.append((entry.begin_offset + shift, entry.end_offset + shift))
    return out


def _fast_range_list(cu, offset: int, keep_empty: bool) -> list[tuple[int, int]] | None:
    """The list read straight from the section bytes (dwarf.scan's readers), or None to let pyelftools
    handle what they leave out (indexed entries, 32-bit addresses)."""
    from pyperf_probe.symbols.dwarf.scan import Unsupported, ranges_v4, rnglist_v5
    dwarfinfo = cu.dwarfinfo
    if cu["address_size"] != 8:
        return None
    v5 = cu.header.version >= 5
    raw = getattr(dwarfinfo, "_pyperf_rnglists" if v5 else "_pyperf_ranges", None)
    if raw is None:
        sec = dwarfinfo.debug_rnglists_sec if v5 else dwarfinfo.debug_ranges_sec
        raw = bytes(sec.stream.getbuffer()) if sec is not None else b""
        setattr(dwarfinfo, "_pyperf_rnglists" if v5 else "_pyperf_ranges", raw)
    try:
        reader = rnglist_v5 if v5 else ranges_v4
        return reader(raw, offset, cu_base(cu), keep_empty)
    except (Unsupported, IndexError, struct.error):
        return None


def _indexed_offset(cu, base_attr: str, index: int, section) -> int:
    """DW_FORM_rnglistx / loclistx: offset table after the list header, relative to DW_AT_*_base."""
    top = cu.get_top_DIE()
    base = top.attributes[base_attr].value
    size = 8 if cu.structs.dwarf_format == 64 else 4
    raw = section.stream.getbuffer()[base + index * size: base + (index + 1) * size]
    return base + int.from_bytes(raw, "little")


def cu_base(cu) -> int:
    """The unit's base address for range and location lists: the CU DIE's DW_AT_low_pc (0 if absent)."""
    cached = getattr(cu, "_pyperf_base", None)
    if cached is None:
        low = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
        cached = low.value if low is not None else 0
        cu._pyperf_base = cached
    return cached


def haspc(die, svma: int) -> bool:
    """``dwarf_haspc``."""
    return any(low <= svma < high for low, high in ranges(die))


def highpc(die) -> int | None:
    """``dwarf_highpc``: only from DW_AT_high_pc (not from DW_AT_ranges), as libdw does."""
    low = die.attributes.get("DW_AT_low_pc")
    high = die.attributes.get("DW_AT_high_pc")
    if high is None or low is None:
        return None
    return high.value if high.form in _ADDR_FORMS else low.value + high.value


def die_entrypc(die) -> int | None:
    """perf's ``die_entrypc``: dwarf_entrypc, else the start of the first range of DW_AT_ranges."""
    pc = entrypc(die)
    if pc is not None:
        return pc
    value = die.attributes.get("DW_AT_ranges")
    if value is None:
        return None
    # libdw's dwarf_ranges also returns empty ranges: GCC starts some lists with [base, base)
    listed = _range_list(die, value, keep_empty=True)
    return listed[0][0] if listed else None


def is_func_def(die) -> bool:
    """perf's ``die_is_func_def``: a subprogram that is no declaration and is inlined or has an entry.

    (The DW_AT_inline / entry test covers gcc bug 97060, which loses DW_AT_declaration.)"""
    if die.tag != "DW_TAG_subprogram" or "DW_AT_declaration" in die.attributes:
        return False
    return "DW_AT_inline" in die.attributes or die_entrypc(die) is not None


def is_func_instance(die) -> bool:
    """perf's ``die_is_func_instance``: a subprogram or inlined copy with an entry address."""
    if die.tag not in ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine"):
        return False
    return entrypc(die) is not None or "DW_AT_ranges" in die.attributes


def walk(die) -> Iterator:
    """Every descendant of ``die`` depth first, in DIE order (``die_find_child`` with CONTINUE)."""
    stack = [iter(die.iter_children())]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        yield child
        if child.has_children:
            stack.append(iter(child.iter_children()))


def getfuncs(cu_die) -> Iterator:
    """``dwarf_getfuncs``: the subprogram DIEs of a unit (top level only for C, as libdw prunes)."""
    lang = cu_die.attributes.get("DW_AT_language")
    if lang is not None and lang.value in _C_LANGS:
        for child in cu_die.iter_children():
            if child.tag == "DW_TAG_subprogram":
                yield child
        return
    yield from _scoped_funcs(cu_die)


def _scoped_funcs(die) -> Iterator:
    for child in die.iter_children():
        if child.tag == "DW_TAG_subprogram":
            yield child
        if child.has_children and child.tag in _SCOPE_TAGS:
            yield from _scoped_funcs(child)


def location_at(die, name: str, svma: int) -> list | None:
    """``dwarf_getlocation_addr`` with one result: the operations of an expression or of the location
    list entry covering ``svma``; None when the DIE has no such attribute, [] when nothing covers svma."""
    value = die.attributes.get(name)
    if value is None:
        return None
    cu = die.cu
    if value.form == "DW_FORM_exprloc" or (value.form.startswith("DW_FORM_block")):
        return parse_expr(cu, value.value)
    if value.form not in ("DW_FORM_sec_offset", "DW_FORM_loclistx", "DW_FORM_data4", "DW_FORM_data8"):
        return None
    for low, high, expr in location_list(die, value):
        if low <= svma < high:
            return parse_expr(cu, expr)
    return []


def location_list(die, value) -> list[tuple[int, int, list]]:
    """The entries of a location list as absolute [low, high) with their raw expression bytes."""
    cu = die.cu
    offset = value.value
    if value.form == "DW_FORM_loclistx":
        offset = _indexed_offset(cu, "DW_AT_loclists_base", offset, cu.dwarfinfo.debug_loclists_sec)
    from elftools.dwarf.locationlists import BaseAddressEntry, LocationEntry
    entries = cu.dwarfinfo.location_lists().get_location_list_at_offset(offset, die=die)
    base = cu_base(cu)
    out = []
    for entry in entries:
        if isinstance(entry, BaseAddressEntry):
            base = entry.base_address
        elif isinstance(entry, LocationEntry):
            shift = 0 if entry.is_absolute else base
            out.append((entry.begin_offset + shift, entry.end_offset + shift, entry.loc_expr))
    return out


def has_location_list(die) -> bool:
    """perf's ``die_has_loclist``: a variable or parameter whose DW_AT_location is a location list."""
    if die.tag not in ("DW_TAG_formal_parameter", "DW_TAG_variable"):
        return False
    value = attr_integrate(die, "DW_AT_location")
    return value is not None and value.form in ("DW_FORM_sec_offset", "DW_FORM_loclistx")


def parse_expr(cu, expr) -> list:
    """A DWARF expression as pyelftools ``DWARFExprOp`` items (op_name, args)."""
    parser = getattr(cu, "_pyperf_expr_parser", None)
    if parser is None:
        from elftools.dwarf.dwarf_expr import DWARFExprParser
        parser = DWARFExprParser(cu.structs)
        cu._pyperf_expr_parser = parser
    return parser.parse_expr(expr)
