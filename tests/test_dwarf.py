"""Unit tests of symbols/dwarf_*.py on hand-made bytes and rows (DWARFv5 layouts, one field a line), and of
the pieces of perf's logic they implement. The differential tests against perf are in test_dwarf_golden.py."""
import struct

import pytest

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.show import format_line_range, format_vars, parse_line_desc
from pyperf_probe.symbols.dwarf.info import VariableList
from pyperf_probe.symbols.dwarf.aranges import ArangeIndex
from pyperf_probe.symbols.dwarf.lineprobe import lazy_match
from pyperf_probe.symbols.dwarf.lines import LineRow, LineTable, postprologue_svma
from pyperf_probe.symbols.dwarf.linewalk import LineRange
from pyperf_probe.symbols.dwarf.scan import TAG_INLINED_SUBROUTINE, TAG_SUBPROGRAM, UnitScanner, rnglist_v5
from pyperf_probe.symbols.dwarf.units import AbbrevTable, UnitIndex, string_offsets, unit_offsets
from pyperf_probe.symbols.dwarf.vars import Field, TraceArg, not_found_message, parse_var_expr

# ---- a hand-made DWARF 5 unit --------------------------------------------------------------------------
# .debug_str: "main\0helper\0" -> offsets 0 ("main") and 5 ("helper")
STR = b"main\0helper\0"
# .debug_abbrev (DWARFv5 7.5.3): code, tag, children, (attribute, form)..., 0, 0
ABBREV = bytes([
    1, 0x11, 1,                 # 1: DW_TAG_compile_unit, has children
    0x13, 0x0B,                 #    DW_AT_language, DW_FORM_data1
    0x11, 0x01,                 #    DW_AT_low_pc, DW_FORM_addr
    0x12, 0x07,                 #    DW_AT_high_pc, DW_FORM_data8
    0, 0,
    2, 0x2E, 1,                 # 2: DW_TAG_subprogram, has children
    0x3F, 0x19,                 #    DW_AT_external, DW_FORM_flag_present
    0x03, 0x0E,                 #    DW_AT_name, DW_FORM_strp
    0x11, 0x01,                 #    DW_AT_low_pc, DW_FORM_addr
    0x12, 0x07,                 #    DW_AT_high_pc, DW_FORM_data8
    0, 0,
    3, 0x2E, 0,                 # 3: DW_TAG_subprogram (abstract), no children
    0x03, 0x0E,                 #    DW_AT_name, DW_FORM_strp
    0x20, 0x0B,                 #    DW_AT_inline, DW_FORM_data1
    0, 0,
    4, 0x1D, 0,                 # 4: DW_TAG_inlined_subroutine, no children
    0x31, 0x13,                 #    DW_AT_abstract_origin, DW_FORM_ref4
    0x55, 0x17,                 #    DW_AT_ranges, DW_FORM_sec_offset
    0, 0,
    5, 0x2E, 0,                 # 5: DW_TAG_subprogram declaration, no children
    0x03, 0x0E,                 #    DW_AT_name, DW_FORM_strp
    0x3C, 0x19,                 #    DW_AT_declaration, DW_FORM_flag_present
    0, 0,
    0,
])
# .debug_rnglists (DWARFv5 7.28): one list at offset 0
RNGLISTS = bytes([
    0x05, *struct.pack("<Q", 0x1000),   # DW_RLE_base_address 0x1000
    0x04, 0x00, 0x00,                   # DW_RLE_offset_pair [0, 0): empty, kept by libdw for the entry
    0x04, 0x10, 0x18,                   # DW_RLE_offset_pair [0x10, 0x18)
    0x07, *struct.pack("<Q", 0x2000), 4,  # DW_RLE_start_length 0x2000, 4
    0x00,                               # DW_RLE_end_of_list
])


def unit_bytes():
    """One compile unit: main [0x1000, 0x1100) with helper inlined, helper's abstract DIE, a declaration."""
    dies = bytearray()
    dies += bytes([1, 0x1D]) + struct.pack("<QQ", 0x1000, 0x100)     # CU: DW_LANG_C11, low, length
    main_off = 12 + len(dies)
    dies += bytes([2]) + struct.pack("<IQQ", 0, 0x1000, 0x100)       # main: name, low, length
    inline_at = len(dies)
    dies += bytes([4]) + struct.pack("<II", 0, 0)                    # helper inlined (origin patched below)
    dies += bytes([0])                                               # end of main's children
    helper_off = 12 + len(dies)
    dies += bytes([3]) + struct.pack("<IB", 5, 3)                    # helper: name, DW_INL_declared_inlined
    dies += bytes([5]) + struct.pack("<I", 0)                        # a declaration named main
    dies += bytes([0])                                               # end of the CU's children
    struct.pack_into("<I", dies, inline_at + 1, helper_off)          # DW_AT_abstract_origin (CU-relative)
    header = struct.pack("<IHBBI",
                         8 + len(dies),   # unit_length: after this field
                         5,               # version
                         1,               # DW_UT_compile
                         8,               # address_size
                         0)               # debug_abbrev_offset
    return header + bytes(dies), main_off, helper_off


def test_unit_offsets_hop_over_units():
    info, _, _ = unit_bytes()
    assert unit_offsets(info + info) == [0, len(info)]


def test_string_offsets_include_tails():
    assert string_offsets(b"tcache_get\0get\0", b"get") == [7, 11]
    assert string_offsets(STR, b"main") == [0]


def test_units_naming_keeps_definitions_and_drops_declarations_only():
    info, _, _ = unit_bytes()
    index = UnitIndex(info, STR, uses_strx=False, abbrev=ABBREV)
    assert index.units_naming("main") == [0]       # main's definition (abbrev 2) names it
    assert index.units_naming("helper") == [0]     # the abstract DIE (abbrev 3)
    assert index.units_naming("nothere") == []
    # a unit where "main" is only a declaration: drop abbrev 2's name slot by renaming main to "xain"
    declared_only = info.replace(struct.pack("<BI", 2, 0), struct.pack("<BI", 2, 5))
    assert UnitIndex(declared_only, STR, False, ABBREV).units_naming("main") == []


def test_abbrev_table_name_slots():
    table = AbbrevTable.parse(ABBREV, 0)
    slots = {(s.code, s.prefix, s.form, s.declaration) for s in table.slots}
    assert slots == {(2, 0, 0x0E, False), (3, 0, 0x0E, False), (5, 0, 0x0E, True)}
    assert not table.has_specification
    assert not table.cross_unit_origin


# ---- a GCC LTO link-time unit after the hand-made one: it names nothing itself ---------------------------
LTO_ABBREV = bytes([
    1, 0x11, 1,                 # 1: DW_TAG_compile_unit, has children
    0x13, 0x0B,                 #    DW_AT_language, DW_FORM_data1
    0, 0,
    2, 0x2E, 0,                 # 2: DW_TAG_subprogram, no children
    0x31, 0x10,                 #    DW_AT_abstract_origin, DW_FORM_ref_addr (a .debug_info offset)
    0x11, 0x01,                 #    DW_AT_low_pc, DW_FORM_addr
    0x12, 0x07,                 #    DW_AT_high_pc, DW_FORM_data8
    0, 0,
    0,
])
# an abbreviation whose code and tag read as the pair (0x31, 0x10) without being one: code 0x31,
# DW_TAG_reference_type (0x10), and an abstract origin of the same unit (DW_FORM_ref4)
DECOY_ABBREV = bytes([
    0x31, 0x10, 0,              # 0x31: DW_TAG_reference_type, no children
    0x49, 0x13,                 #    DW_AT_type, DW_FORM_ref4
    0, 0,
    2, 0x2E, 0,                 # 2: DW_TAG_subprogram, no children
    0x31, 0x13,                 #    DW_AT_abstract_origin, DW_FORM_ref4
    0, 0,
    0,
])


def lto_unit_bytes(abbrev_offset: int, origin: int) -> bytes:
    # (the index reads unit headers and abbreviations only, so DECOY_ABBREV can stand under these DIEs)
    """A link-time unit: one subprogram at [0x3000, 0x3010) whose only name is its abstract origin."""
    dies = bytes([1, 0x1D])                                          # CU: DW_LANG_C11
    dies += bytes([2]) + struct.pack("<IQQ", origin, 0x3000, 0x10)   # origin (absolute), low, length
    dies += bytes([0])                                               # end of the CU's children
    return struct.pack("<IHBBI", 8 + len(dies), 5, 1, 8, abbrev_offset) + dies


def test_units_naming_adds_units_that_name_through_another_unit():
    info, _, helper_off = unit_bytes()
    lto = info + lto_unit_bytes(len(ABBREV), helper_off)
    index = UnitIndex(lto, STR, uses_strx=False, abbrev=ABBREV + LTO_ABBREV)
    assert index.cross_unit_referrers() == {len(info)}
    assert index.units_naming("helper") == [0, len(info)]
    assert index.units_naming("main") == [0, len(info)]   # any named function may be defined there
    assert index.units_naming("nothere") == []            # nobody names it: nothing to integrate
    assert AbbrevTable.parse(LTO_ABBREV, 0).cross_unit_origin


def test_cross_unit_referrers_check_the_abbreviation_behind_a_byte_hit():
    info, _, helper_off = unit_bytes()
    decoy = info + lto_unit_bytes(len(ABBREV), helper_off)
    index = UnitIndex(decoy, STR, uses_strx=False, abbrev=ABBREV + DECOY_ABBREV)
    assert index.cross_unit_referrers() == frozenset()
    assert index.units_naming("helper") == [0]
    assert UnitIndex(info, STR, uses_strx=False, abbrev=ABBREV).cross_unit_referrers() == frozenset()


def test_scanner_reads_functions_and_inlined_copies():
    info, main_off, helper_off = unit_bytes()
    scanner = UnitScanner(info, ABBREV, STR, b"", RNGLISTS)
    lang, funcs = scanner.scan(0)
    assert lang == 0x1D
    assert [(f.tag, f.name, f.parent) for f in funcs] == [
        (TAG_SUBPROGRAM, "main", -1), (TAG_INLINED_SUBROUTINE, None, 0), (TAG_SUBPROGRAM, "helper", -1),
        (TAG_SUBPROGRAM, "main", -1)]
    assert funcs[0].offset == main_off and funcs[0].ranges == [(0x1000, 0x1100)]
    assert funcs[1].origin == helper_off
    assert funcs[1].ranges == [(0x1010, 0x1018), (0x2000, 0x2004)]
    assert scanner.unit_ranges(0) == [(0x1000, 0x1100)]


def test_rnglist_entries():
    assert rnglist_v5(RNGLISTS, 0, 0) == [(0x1010, 0x1018), (0x2000, 0x2004)]
    assert rnglist_v5(RNGLISTS, 0, 0, keep_empty=True)[0] == (0x1000, 0x1000)   # libdw's entry pc


def test_aranges_index():
    header = struct.pack("<IHIBB",
                         0,        # unit_length, patched below
                         2,        # version
                         0x40,     # debug_info_offset of the unit
                         8,        # address_size
                         0)        # segment_selector_size
    body = header + b"\0" * 4                                   # pad to 16 bytes
    body += struct.pack("<QQ", 0x1000, 0x100) + struct.pack("<QQ", 0x3000, 0x10) + struct.pack("<QQ", 0, 0)
    body = struct.pack("<I", len(body) - 4) + body[4:]
    index = ArangeIndex.parse(body)
    assert index.unit_at(0x1000) == 0x40 and index.unit_at(0x10FF) == 0x40
    assert index.unit_at(0x1100) is None and index.unit_at(0x300F) == 0x40
    assert index.listed == {0x40}


# ---- line tables -------------------------------------------------------------------------------------------

def row(svma, line, stmt=True, end=False, file="a.c"):
    return LineRow(svma, file, line, stmt, end, False)


def test_stmt_row_at_is_perfs_cu_getsrc_die():
    table = LineTable([row(0x10, 1), row(0x20, 5, stmt=False), row(0x20, 6), row(0x28, 7, stmt=False),
                       row(0x30, 8), row(0x40, 9, end=True)])
    assert table.stmt_row_at(0x20).line == 6       # first statement row of the address
    assert table.stmt_row_at(0x24).line == 6       # the row group before the address
    assert table.stmt_row_at(0x28) is None         # no statement row before the next address
    assert table.stmt_row_at(0x10) is None         # perf's backward step underflows at the first row
    assert table.stmt_row_at(0x8) is None


def test_end_sequence_sorts_first_at_one_address():
    table = LineTable([row(0x10, 1), row(0x20, 2, end=True), row(0x20, 3), row(0x30, 4, end=True)])
    assert [(r.svma, r.end_sequence) for r in table.rows][1:3] == [(0x20, True), (0x20, False)]


def test_postprologue_is_next_row_unless_past_the_function():
    table = LineTable([row(0x1159, 31), row(0x1166, 32), row(0x1171, 34), row(0x1184, 40)])
    assert postprologue_svma(table, 0x1159, 0x1184) == 0x1166
    assert postprologue_svma(table, 0x1171, 0x1180) == 0x1171   # next row is past the function: keep
    assert postprologue_svma(table, 0x1170, 0x1180) is None     # no row at the entry


# ---- variables -----------------------------------------------------------------------------------------------

def test_fetcharg_nesting_and_static_variables():
    assert TraceArg("%di").fetcharg() == "%di"
    assert TraceArg("%bp", [-24]).fetcharg() == "-24(%bp)"
    assert TraceArg("%bp", [-24, 8, 0]).fetcharg() == "+0(+8(-24(%bp)))"
    assert TraceArg("@total_calls", [0]).fetcharg() == "@total_calls+0"
    assert TraceArg("@table", [16, 4]).fetcharg() == "+4(@table+16)"


def test_block_constant_is_listed_but_not_fetched():
    """An argument GCC's LTO propagated as a double (DW_AT_const_value, 8-byte block): perf -V lists it, perf -D
    prints an uninitialized number for it; pyperf lists it and refuses to fetch it."""
    from types import SimpleNamespace as NS
    from pyperf_probe.symbols.dwarf.vars import convert_location
    die = NS(tag="DW_TAG_formal_parameter", attributes={
        "DW_AT_name": NS(form="DW_FORM_string", value=b"f"),
        "DW_AT_const_value": NS(form="DW_FORM_block1", value=[0, 0, 0, 0, 0, 0, 0, 0x40])})   # 2.0
    assert convert_location(die, 0x1000, None, None, check_only=True) is None
    with pytest.raises(ProbeError, match="constant value of 'f' is a DW_FORM_block1 block"):
        convert_location(die, 0x1000, None, None)
    die.attributes["DW_AT_const_value"] = NS(form="DW_FORM_data1", value=0xFD)
    assert convert_location(die, 0x1000, None, None).fetcharg() == "\\-3"


def test_parse_var_expr():
    assert parse_var_expr("pt->weights[2]") == ("pt", [Field("weights", True), Field("[2]", False, 2)])
    assert parse_var_expr("n.as_long") == ("n", [Field("as_long", False)])
    with pytest.raises(ProbeError):
        parse_var_expr("pt->")


def test_not_found_message_is_perfs():
    assert not_found_message("x") == ("Failed to find the location of the 'x' variable at this address.\n"
                                      " Perhaps it has been optimized out.\n"
                                      " Use -V with the --range option to show 'x' location range.")


def test_lazy_match_ignores_white_space():
    assert lazy_match("\t\tacc += clamp_add(pt->x, scale, 1000);", "acc+=*")
    assert lazy_match("\tif (sum > limit)", "if*")
    assert not lazy_match("\tint sum = a + b;", "if*")


# ---- formatters (probe/show.py) -------------------------------------------------------------------------------

def test_format_vars_filters_and_marks_empty_sites():
    lists = [VariableList("fill_points", 50, ("int\tb", "int\t__ksymtab_x")), VariableList("(null)", 0, ())]
    assert format_vars("clamp_add", lists) == ("Available variables at clamp_add\n"
                                               "\t@<fill_points+50>\n\t\tint\tb\n"
                                               "\t@<(null)+0>\n\t\t(No matched variables)\n")


@pytest.mark.parametrize("desc, parsed", [
    ("main", ("main", None, 0, None)),
    ("main:3", ("main", None, 3, None)),
    ("main:3+4", ("main", None, 3, 6)),
    ("main:3-9", ("main", None, 3, 9)),
    ("a.c:10", (None, "a.c", 10, None)),
    ("f@dir/a.c:2", ("f", "dir/a.c", 2, None)),
])
def test_parse_line_desc(desc, parsed):
    assert parse_line_desc(desc) == parsed


@pytest.mark.parametrize("desc, message", [
    ("main:9-3", "Semantic error :Start line must be smaller than end line."),
    ("main:3x", "Semantic error :Tailing with invalid str 'x'."),
    ("3main", "Semantic error :'3main' is not a valid function name."),
])
def test_parse_line_desc_errors(desc, message):
    with pytest.raises(ProbeError) as err:
        parse_line_desc(desc)
    assert err.value.message == message


def test_format_line_range(tmp_path):
    src = tmp_path / "f.c"
    src.write_text("int x;\nint f(void)\n{\n\treturn x;\n}\n\nint y;\n")
    lr = LineRange("f", str(src), 2, None, 2, (2, 4), None)
    assert format_line_range(lr) == (f"<f@{src}:0>\n"
                                     "      0  int f(void)\n"
                                     "         {\n"
                                     "      2  \treturn x;\n"
                                     "         }\n"
                                     "         \n"
                                     "         int y;\n")


def test_lto_function_is_found_in_the_link_time_unit_with_its_sources_file():
    """gcc -flto (workloads/lto_*.c): the body is in "<artificial>", its name and DW_AT_decl_file in the DIE of
    lto_util.c's unit; the file index counts in lto_util.c's file table (in "<artificial>"'s table the same
    index names lto_main.c)."""
    import os
    from pyperf_probe.symbols.dwarf.info import DwarfInfo
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "workloads",
                        "lto_prog_O2")
    if not os.path.exists(path):
        pytest.skip("run `make workloads`")
    info = DwarfInfo.open(path)
    sites = info.function_sites("lto_scale")
    assert [(s.cu_name, s.is_inline, os.path.basename(s.decl_file), s.decl_line) for s in sites] == \
        [("<artificial>", False, "lto_util.c", 14)]
    unit = info.unit(sites[0].cu_offset)
    assert os.path.basename(unit.files[2]) == "lto_main.c"
    assert info.function_sites("atoi") == []     # inlined only in "<artificial>", abstract in lto_main.c's unit


# ---- CFA through .eh_frame_hdr ------------------------------------------------------------------------------

def test_cfa_from_eh_frame_hdr_equals_full_scan():
    """The binary search table finds the FDE whose rules a scan of every entry finds, at every address."""
    import os
    from pyperf_probe.symbols.dwarf.info import DwarfInfo
    from pyperf_probe.symbols.dwarf.cfa import _rule_at
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "workloads",
                        "dwarf_demo_O0")
    if not os.path.exists(path):
        pytest.skip("run `make workloads`")
    finder = DwarfInfo.open(path).cfa
    assert finder.available and finder._search_table()
    checked = 0
    for fde in finder._fdes():
        start = fde.header["initial_location"]
        for svma in range(start, start + fde.header["address_range"]):
            assert finder.cfa_at(svma) == _rule_at(fde, svma)
            checked += 1
    assert checked > 500
    assert finder.cfa_at(0x10) is None


def test_decode_line_program():
    """A hand-made line-number program (DWARFv5 6.2.5): special, standard and extended opcodes."""
    import io
    from types import SimpleNamespace
    from pyperf_probe.symbols.dwarf.lines import decode_program
    program = bytes([
        0x00, 9, 0x02, *struct.pack("<Q", 0x1000),   # DW_LNE_set_address 0x1000
        0x05, 3,                                      # DW_LNS_set_column 3 (ignored)
        0x03, 9,                                      # DW_LNS_advance_line +9 -> 10
        0x01,                                         # DW_LNS_copy: row 0x1000 line 10
        0x0A,                                         # DW_LNS_set_prologue_end
        0x0D + 2 * 14 + 1 - (-5),                     # special: address +2, line +1 -> 0x1002 line 11
        0x06,                                         # DW_LNS_negate_stmt
        0x02, 4,                                      # DW_LNS_advance_pc +4 -> 0x1006
        0x04, 2,                                      # DW_LNS_set_file 2
        0x03, 0x7E,                                   # DW_LNS_advance_line -2 -> 9
        0x01,                                         # DW_LNS_copy: row 0x1006 line 9, not a statement
        0x09, 0x10, 0x00,                             # DW_LNS_fixed_advance_pc +16 -> 0x1016
        0x00, 1, 0x01,                                # DW_LNE_end_sequence
    ])
    header = {"minimum_instruction_length": 1, "line_base": -5, "line_range": 14, "opcode_base": 13,
              "standard_opcode_lengths": [0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1], "default_is_stmt": 1}
    prog = SimpleNamespace(header=header, stream=io.BytesIO(b"xx" + program), program_start_offset=2,
                           program_end_offset=2 + len(program))
    assert decode_program(prog) == [(0x1000, 1, 10, True, False, False), (0x1002, 1, 11, True, False, True),
                                    (0x1006, 2, 9, False, False, False), (0x1016, 2, 9, False, True, False)]


# ---- which file has the DWARF ---------------------------------------------------------------------------------

def test_debug_file_found_under_symfs_and_stale_one_skipped(tmp_path):
    """perf's distro paths (``/usr/lib/debug/PATH.debug``...) under --symfs; a debug file with another
    build-id is not used (perf would use it, and give wrong addresses)."""
    import os
    import shutil
    import subprocess
    from pyperf_probe.symbols.dwarf.info import DwarfInfo
    from pyperf_probe.symbols.dwarf.open import dwarf_file_for
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "workloads",
                       "dwarf_demo_O2")
    if not os.path.exists(src) or shutil.which("objcopy") is None:
        pytest.skip("needs `make workloads` and objcopy")
    symfs = tmp_path / "root"
    image = tmp_path / "bin" / "demo"
    image.parent.mkdir()
    subprocess.run(["objcopy", "--strip-debug", src, str(image)], check=True)
    assert dwarf_file_for(str(image)) is None                      # no DWARF anywhere yet
    debug = symfs / ("usr/lib/debug" + str(image) + ".debug").lstrip("/")
    debug.parent.mkdir(parents=True)
    subprocess.run(["objcopy", "--only-keep-debug", src, str(debug)], check=True)
    in_symfs = symfs / str(image).lstrip("/")                    # --symfs holds the image too
    in_symfs.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(image, in_symfs)
    found = dwarf_file_for(str(image), str(symfs))
    assert found is not None and found[0] == str(debug)
    dinfo = DwarfInfo.open(str(image), str(symfs))
    assert [hex(s.entry_svma) for s in dinfo.function_sites("process_point")] == \
        [hex(s.entry_svma) for s in DwarfInfo.open(src).function_sites("process_point")]
    # a debug file of another build: skipped
    other = tmp_path / "other.c"
    other.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-g", "-o", str(tmp_path / "other"), str(other)], check=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(tmp_path / "other"), str(debug)], check=True)
    assert dwarf_file_for(str(image), str(symfs)) is None


def test_sections_beyond_the_unit_index_are_read_when_first_used():
    """DwarfInfo reads .debug_info, .debug_abbrev and .debug_str at once and the other sections (here
    .debug_line) when first used, with the bytes and size pyelftools reads itself."""
    import os
    from elftools.elf.elffile import ELFFile
    from pyperf_probe.symbols.dwarf.info import DwarfInfo
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "workloads", "ex_spin")
    if not os.path.exists(path):
        pytest.skip("build/workloads/ex_spin is not built (make workloads)")
    from pyperf_probe.symbols.dwarf.open import dwarf_file_for
    dpath, build_id, opener = dwarf_file_for(path)
    info = DwarfInfo(dpath, opener(), build_id)  # a new one: DwarfInfo.open's may have been used already
    line = info.dwarfinfo.debug_line_sec
    assert line.stream._stream is None  # not read yet
    with open(path, "rb") as f:
        eager = ELFFile(f).get_dwarf_info(relocate_dwarf_sections=False).debug_line_sec
        assert (line.size, line.global_offset, line.name) == (eager.size, eager.global_offset, eager.name)
        assert bytes(line.stream.getbuffer()) == bytes(eager.stream.getbuffer())
    assert line.stream._stream is not None


@pytest.mark.parametrize("name", ["_ZNSt6vectorIiSaIiEE9push_backERKi", "_GLOBAL__sub_I_main", "main", "foo__3Bar",
                                  "_RNvCs1234_7mycrate3foo", "__GI___qsort_r", "_dl_start", "_Z", "operator new"])
def test_inline_names_demangled_as_the_demangler_does(name):
    """Inline frames load the demangler only for names it may change (C programs never load it): the name
    is the demangler's for every name, mangled or not."""
    from pyperf_probe.symbols.demangle import demangle
    from pyperf_probe.symbols.dwarf.inline import _demangled
    assert _demangled(name) == demangle(name)


@pytest.mark.parametrize("image", ["build/workloads/ex_spin", "/lib/x86_64-linux-gnu/libc.so.6"])
def test_raw_sections_are_the_bytes_pyelftools_reads(image):
    """The sections inline frames read through pyperf's ELF reader (info._RawSections: libc6-dbg's debug
    file has SHF_COMPRESSED zlib sections) are byte for byte pyelftools' (info._PyelftoolsSections), and a
    DwarfInfo built either way indexes the same units and answers the same inline frames."""
    import os
    from elftools.elf.elffile import ELFFile
    from pyperf_probe.symbols.dwarf.info import DwarfInfo, _PyelftoolsSections, _RawSections
    from pyperf_probe.symbols.dwarf.open import dwarf_file_for
    if not image.startswith("/"):
        image = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), image)
    found = os.path.exists(image) and dwarf_file_for(image)
    if not found:
        pytest.skip(f"no DWARF for {image}")
    dpath, build_id, opener = found
    raw = _RawSections.of(opener.image)
    assert raw is not None
    with open(dpath, "rb") as f:
        slow_info = DwarfInfo(dpath, ELFFile(f), build_id)  # an ELFFile, not a factory: pyelftools' reads
        assert isinstance(slow_info._raw, _PyelftoolsSections)
        for name in _PyelftoolsSections._ATTRS:
            assert raw.read(name) == slow_info._raw.read(name), name
        assert raw.has(".debug_str_offsets") == slow_info._raw.has(".debug_str_offsets")
        fast_info = DwarfInfo(dpath, opener, build_id)
        assert isinstance(fast_info._raw, _RawSections)
        assert fast_info.units.offsets == slow_info.units.offsets
        fast_info.image_path = slow_info.image_path = image
        fast_info.unit_offset_at(0)  # reads .debug_aranges
        lows = list(fast_info._aranges._starts)[:700:7]
        assert lows
        for svma in lows:
            assert fast_info.inline_frames(svma + 1) == slow_info.inline_frames(svma + 1)


def test_unit_ranges_from_a_partial_abbreviation_table_are_the_full_tables():
    """UnitScanner.unit_ranges parses a unit's abbreviation table only up to the unit DIE's code when the
    table is not cached: the same abbreviation, and the same ranges, as the full table (libc's units)."""
    from pyperf_probe.symbols.dwarf.info import DwarfInfo
    from pyperf_probe.symbols.dwarf.scan import Unsupported, parse_abbrevs
    info = DwarfInfo.open("/lib/x86_64-linux-gnu/libc.so.6")
    if info is None:
        pytest.skip("no DWARF for libc (libc6-dbg)")
    partial = info.unit_scanner()
    full = info.unit_scanner()
    checked = 0
    for cu in info.units.offsets[::5]:
        try:
            full._header(cu)  # caches the whole table in ``full`` only
            expected = full.unit_ranges(cu)
        except Unsupported:
            continue
        assert partial.unit_ranges(cu) == expected
        checked += 1
    assert checked > 100 and not partial._tables
    whole = parse_abbrevs(full.abbrev, 0)
    for code, abbrev in whole.items():
        cut = parse_abbrevs(full.abbrev, 0, until=code)
        assert max(cut) == code
        got = cut[code]
        assert (got.tag, got.children, got.attrs, got.fixed) == (abbrev.tag, abbrev.children, abbrev.attrs,
                                                                  abbrev.fixed)


def test_inline_frames_import_neither_pyelftools_nor_dataclasses():
    """Report's inline frames read libc's DWARF with pyperf's readers: a fresh interpreter answers them
    without importing pyelftools or dataclasses (~75 ms of a cold report), and probe's names stay offered."""
    import subprocess
    import sys
    code = ("import sys\n"
            "from pyperf_probe.symbols.dwarf.info import DwarfInfo\n"
            "d = DwarfInfo.open('/lib/x86_64-linux-gnu/libc.so.6')\n"
            "if d is None: print('skip'); sys.exit(0)\n"
            "d.unit_offset_at(0)\n"
            "names = [d.inline_frames(s + 1) for s in list(d._aranges._starts)[:200:10]]\n"
            "assert any(names), names\n"
            "bad = [m for m in sys.modules if m.startswith('elftools') or m == 'dataclasses']\n"
            "assert not bad, bad\n"
            "from pyperf_probe.symbols.dwarf.info import VariableList, ProbePoint, MAGIC_NUM, FunctionSite\n"
            "assert 'dataclasses' in sys.modules\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "skip":
        pytest.skip("no DWARF for libc (libc6-dbg)")
    assert out.stdout.strip() == "ok"


# --- the C walk of a unit's DIEs (_speedups.dwarf_walk) against the Python walk -----------------------------

def _scans(scanner, cu_offset):
    """(scan with dwarf_walk, scan with the Python walk), each the result or the exception's type and text."""
    from pyperf_probe.symbols.dwarf import scan as scan_module
    results = []
    for c_walk in (scan_module._C_WALK, None):
        saved, scan_module._C_WALK = scan_module._C_WALK, c_walk
        scanner._c_tables.clear()
        try:
            lang, funcs = scanner.scan(cu_offset)
            results.append((lang, [f._fields() for f in funcs]))
        except Exception as exc:  # (a damaged unit: the same error either way)
            results.append((type(exc), str(exc)))
        finally:
            scan_module._C_WALK = saved
    return results


@pytest.mark.parametrize("path", ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"])
def test_c_walk_is_the_python_walk_on_system_units(path):
    """Every unit of libc's and ld.so's debug files: dwarf_walk's DIEs, their attributes read in Python,
    give the Python walk's functions (names, origins, ranges, parents)."""
    from pyperf_probe.symbols.dwarf import scan as scan_module
    from pyperf_probe.symbols.dwarf.info import DwarfInfo
    if scan_module._C_WALK is None:
        pytest.skip("the C accelerator (pyperf_probe/perfdata/_speedups.c) was not built")
    info = DwarfInfo.open(path)
    if info is None:
        pytest.skip(f"no DWARF for {path}")
    scanner = info.unit_scanner()
    funcs = walked = 0
    for cu in info.units.offsets:
        c_result, py_result = _scans(scanner, cu)
        assert c_result == py_result
        funcs += len(c_result[1]) if type(c_result[0]) is int else 0
        pos, end, table, _version = scanner._header(cu)
        walked += scan_module._C_WALK(scanner.info, pos, end, scan_module.c_table(table)) is not None
    assert funcs > 1000 and walked > 0.9 * len(info.units.offsets)  # (C takes nearly every unit)


def test_c_walk_is_the_python_walk_on_the_test_unit():
    from pyperf_probe.symbols.dwarf import scan as scan_module
    if scan_module._C_WALK is None:
        pytest.skip("the C accelerator (pyperf_probe/perfdata/_speedups.c) was not built")
    info, _main_off, _helper_off = unit_bytes()
    c_result, py_result = _scans(UnitScanner(info, ABBREV, STR, b"", RNGLISTS), 0)
    assert c_result == py_result and len(c_result[1]) == 4


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(11, 80), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.integers(12, 80)))
def test_c_walk_is_the_python_walk_on_damaged_units(edits, cut):
    """The test unit with bytes changed (codes, forms' values, lengths, strings) and maybe cut short: the
    same functions, or the same error, with dwarf_walk as without it (it leaves what it does not take to
    the Python walk)."""
    from pyperf_probe.symbols.dwarf import scan as scan_module
    if scan_module._C_WALK is None:
        pytest.skip("the C accelerator (pyperf_probe/perfdata/_speedups.c) was not built")
    info, _main_off, _helper_off = unit_bytes()
    data = bytearray(info)
    for at, value in edits:
        if at < len(data):  # (the unit header's length, version and abbreviation offset kept)
            data[at] = value
    if cut is not None:
        del data[cut:]
    c_result, py_result = _scans(UnitScanner(bytes(data), ABBREV, STR, b"", RNGLISTS), 0)
    assert c_result == py_result
