"""CFI parsing and compilation on hand-built bytes (one comment per field), plus the disk cache.

The byte layouts follow DWARF 5 §6.4.1 (CIE/FDE), §6.4.2 (call frame instructions) and the LSB's
.eh_frame / .eh_frame_hdr chapters. ``tests/test_cfi_readelf.py`` checks the same code on real binaries
against GNU readelf.
"""
import os
import struct

import pytest

from pyperf_probe.callchain import cfi_table
from pyperf_probe.callchain.cfa_program import (CFA_DEREF_REG_OFF, CFA_NONE, CFA_PLT, CFA_REG_OFF,
                                                CFA_UNSUPPORTED, FLAG_SIGNAL, NO_CFI_ROW, RULE_AT_REG_OFF,
                                                RULE_OFFSET, RULE_SAME, RULE_UNDEFINED, cfa_expression_rule,
                                                fde_rows)
from pyperf_probe.callchain.cfi import CfiSection, iter_fdes, parse_eh_frame_hdr
from pyperf_probe.callchain.cfi_table import CfiTable, compile_table
from pyperf_probe.callchain.leb128 import read_encoded, sleb, uleb
from pyperf_probe.errors import ReportError

EH_SVMA = 0x2000  # where the hand-built .eh_frame is "loaded"

# .eh_frame: one CIE "zR" and one FDE for [0x1000, 0x1040), a push rbp / mov rsp,rbp / ... / leave frame.
EH_FRAME = bytes([
    # --- CIE at offset 0x00 ---
    0x14, 0x00, 0x00, 0x00,  # length: 20 bytes follow
    0x00, 0x00, 0x00, 0x00,  # CIE id: 0 in .eh_frame
    0x01,                    # version 1
    0x7A, 0x52, 0x00,        # augmentation "zR"
    0x01,                    # code_alignment_factor (uleb) 1
    0x78,                    # data_alignment_factor (sleb) -8
    0x10,                    # return_address_register (u8 in version 1): 16 = rip
    0x01,                    # augmentation data length (uleb) 1
    0x1B,                    # R: FDE pointer encoding DW_EH_PE_pcrel|DW_EH_PE_sdata4
    0x0C, 0x07, 0x08,        # DW_CFA_def_cfa rsp, 8
    0x90, 0x01,              # DW_CFA_offset rip, 1 (* -8: cfa-8)
    0x00, 0x00,              # DW_CFA_nop padding
    # --- FDE at offset 0x18 ---
    0x1C, 0x00, 0x00, 0x00,  # length: 28 bytes follow
    0x1C, 0x00, 0x00, 0x00,  # CIE pointer: 0x1c back from this field (at 0x1c) = CIE at 0
    0xE0, 0xEF, 0xFF, 0xFF,  # pc_begin pcrel sdata4: 0x1000 - (0x2000 + 0x20) = -0x1020
    0x40, 0x00, 0x00, 0x00,  # pc_range: 0x40
    0x00,                    # augmentation data length 0
    0x41,                    # DW_CFA_advance_loc 1          -> 0x1001
    0x0E, 0x10,              # DW_CFA_def_cfa_offset 16      (after push %rbp)
    0x86, 0x02,              # DW_CFA_offset rbp, 2          (rbp at cfa-16)
    0x43,                    # DW_CFA_advance_loc 3          -> 0x1004
    0x0D, 0x06,              # DW_CFA_def_cfa_register rbp   (after mov %rsp,%rbp)
    0x4A,                    # DW_CFA_advance_loc 10         -> 0x100e
    0x0C, 0x07, 0x08,        # DW_CFA_def_cfa rsp, 8         (after leave)
    0xC6,                    # DW_CFA_restore rbp
    0x00, 0x00,              # DW_CFA_nop padding
    # --- terminator ---
    0x00, 0x00, 0x00, 0x00,  # length 0 ends .eh_frame
])

HDR_SVMA = 0x3000
EH_FRAME_HDR = bytes([
    0x01,                    # version
    0x1B,                    # eh_frame_ptr_enc: pcrel|sdata4
    0x03,                    # fde_count_enc: udata4
    0x3B,                    # table_enc: datarel|sdata4
    0xFC, 0xEF, 0xFF, 0xFF,  # eh_frame_ptr: 0x2000 - (0x3000 + 4) = -0x1004
    0x01, 0x00, 0x00, 0x00,  # fde_count 1
    0x00, 0xE0, 0xFF, 0xFF,  # initial_location datarel: 0x1000 - 0x3000
    0x18, 0xF0, 0xFF, 0xFF,  # FDE address datarel: 0x2018 - 0x3000
])


def eh_section(data=EH_FRAME, svma=EH_SVMA):
    return CfiSection(data, svma, True)


def test_leb128_and_encodings():
    assert uleb(bytes([0xE5, 0x8E, 0x26]), 0) == (624485, 3)  # DWARF 5 §7.6 example
    assert sleb(bytes([0x7F]), 0) == (-1, 1)
    assert sleb(bytes([0x80, 0x7F]), 0) == (-128, 2)
    # pcrel|sdata4 at offset 4 of a section at 0x100: -4 + 0x104
    assert read_encoded(b"\0\0\0\0" + struct.pack("<i", -4), 4, 0x1B, 0x100) == (0x100, 8)
    assert read_encoded(struct.pack("<Q", 0xDEAD), 0, 0x00, 0) == (0xDEAD, 8)  # absptr
    with pytest.raises(ReportError):
        read_encoded(b"\0" * 8, 0, 0x9B, 0)  # indirect: needs process memory


def test_cie_and_fde_fields():
    (fde,) = list(iter_fdes(eh_section()))
    cie = fde.cie
    assert (cie.version, cie.augmentation, cie.code_align, cie.data_align, cie.ra_register) == (1, "zR", 1, -8, 16)
    assert cie.fde_encoding == 0x1B and not cie.signal_frame
    assert cie.instructions == bytes([0x0C, 0x07, 0x08, 0x90, 0x01, 0x00, 0x00])
    assert (fde.offset, fde.start, fde.end) == (0x18, 0x1000, 0x1040)


def test_rows_of_the_fde():
    (fde,) = list(iter_fdes(eh_section()))
    rows = fde_rows(fde)
    assert [svma for svma, _ in rows] == [0x1000, 0x1001, 0x1004, 0x100E]
    r0, r1, r2, r3 = (row for _, row in rows)
    # (cfa_kind, cfa_reg, cfa_off, cfa_aux, ra_kind, ra_reg, ra_off, bp_kind, bp_reg, bp_off, flags)
    assert r0 == (CFA_REG_OFF, 7, 8, 0, RULE_OFFSET, 0, -8, RULE_SAME, 0, 0, 0)
    assert r1 == (CFA_REG_OFF, 7, 16, 0, RULE_OFFSET, 0, -8, RULE_OFFSET, 0, -16, 0)
    assert r2 == (CFA_REG_OFF, 6, 16, 0, RULE_OFFSET, 0, -8, RULE_OFFSET, 0, -16, 0)
    assert r3 == r0  # def_cfa rsp+8 and restore rbp: back to the CIE's initial rules


def test_table_lookup_and_gaps():
    table = compile_table(eh_section(), [])
    assert table.row_for(0xFFF) == NO_CFI_ROW  # before every FDE
    assert table.row_for(0x1000)[2] == 8
    assert table.row_for(0x1003)[2] == 16
    assert table.row_for(0x103F)[:3] == (CFA_REG_OFF, 7, 8)
    assert table.row_for(0x1040)[0] == CFA_NONE  # the FDE's end opens a gap


def test_eh_frame_hdr():
    hdr = parse_eh_frame_hdr(EH_FRAME_HDR, HDR_SVMA)
    assert hdr.eh_frame_svma == EH_SVMA
    assert hdr.starts == (0x1000,) and hdr.fde_svmas == (0x2018,)
    assert hdr.fde_svma_for(0x1020) == 0x2018 and hdr.fde_svma_for(0xFFF) is None


def test_remember_restore_state_and_advance_loc1():
    cie, fde = _one_fde(bytes([
        0x0E, 0x10,  # DW_CFA_def_cfa_offset 16
        0x0A,        # DW_CFA_remember_state
        0x02, 0x05,  # DW_CFA_advance_loc1 5
        0x0E, 0x08,  # DW_CFA_def_cfa_offset 8 (an early return's epilogue)
        0x41,        # DW_CFA_advance_loc 1
        0x0B,        # DW_CFA_restore_state: back to cfa rsp+16
    ]))
    rows = fde_rows(fde)
    assert [(svma, row[2]) for svma, row in rows] == [(0x1000, 16), (0x1005, 8), (0x1006, 16)]


def test_debug_frame_version4_and_64bit_dwarf():
    cie_body = bytes([
        0xFF, 0xFF, 0xFF, 0xFF,  # CIE id: 0xffffffff in 32-bit .debug_frame
        0x04,                    # version 4
        0x00,                    # augmentation ""
        0x08,                    # address_size 8 (version 4 only)
        0x00,                    # segment_selector_size 0
        0x01,                    # code_alignment_factor 1
        0x78,                    # data_alignment_factor -8
        0x10,                    # return_address_register (uleb from version 3): 16
        0x0C, 0x07, 0x08,        # DW_CFA_def_cfa rsp, 8
        0x90, 0x01,              # DW_CFA_offset rip, cfa-8
    ])
    cie = struct.pack("<I", len(cie_body)) + cie_body
    fde_body = (struct.pack("<I", 0)          # CIE pointer: offset of the CIE in the section
                + struct.pack("<Q", 0x5000)   # initial_location (address_size bytes)
                + struct.pack("<Q", 0x20)     # address_range
                + bytes([0x44, 0x0E, 0x20]))  # advance_loc 4; def_cfa_offset 32
    fde = struct.pack("<I", len(fde_body)) + fde_body
    (parsed,) = list(iter_fdes(CfiSection(cie + fde, 0, False)))
    assert (parsed.start, parsed.end, parsed.cie.version) == (0x5000, 0x5020, 4)
    assert [(s, r[2]) for s, r in fde_rows(parsed)] == [(0x5000, 8), (0x5004, 32)]
    # 64-bit DWARF: initial length 0xffffffff then a u64 length; CIE id is then 8 bytes of 0xff
    cie64_body = b"\xff" * 8 + cie_body[4:]
    cie64 = b"\xff\xff\xff\xff" + struct.pack("<Q", len(cie64_body)) + cie64_body
    fde64_body = struct.pack("<Q", 0) + fde_body[4:]
    fde64 = b"\xff\xff\xff\xff" + struct.pack("<Q", len(fde64_body)) + fde64_body
    (parsed64,) = list(iter_fdes(CfiSection(cie64 + fde64, 0, False)))
    assert (parsed64.start, parsed64.end) == (0x5000, 0x5020)


def test_debug_frame_fills_only_what_eh_frame_lacks():
    cie_body = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x01, 0x78, 0x10, 0x0C, 0x07, 0x08, 0x90, 0x01])
    cie = struct.pack("<I", len(cie_body)) + cie_body

    def fde(start, size, cfa_off):
        body = struct.pack("<IQQ", 0, start, size) + bytes([0x0E, cfa_off])  # def_cfa_offset
        return struct.pack("<I", len(body)) + body

    debug = CfiSection(cie + fde(0x1000, 0x40, 99) + fde(0x8000, 0x10, 24), 0, False)
    table = compile_table(eh_section(), [debug])
    assert table.row_for(0x1000)[2] == 8    # .eh_frame wins where it has an FDE
    assert table.row_for(0x8008)[2] == 24   # .debug_frame where it has none
    assert table.row_for(0x8010)[0] == CFA_NONE


def test_personality_lsda_and_signal_augmentations():
    cie, fde = _one_fde(b"", augmentation=b"zPLRS", aug_data=bytes([
        0x9B,                    # P: personality encoding indirect|pcrel|sdata4
        0x10, 0x00, 0x00, 0x00,  # the personality pointer (4 bytes)
        0x1B,                    # L: LSDA encoding pcrel|sdata4
        0x1B,                    # R: FDE encoding pcrel|sdata4
    ]), fde_aug=bytes([0x04, 0x00, 0x00, 0x00, 0x00]))  # FDE aug data: length 4, the LSDA pointer
    assert cie.signal_frame and cie.fde_encoding == 0x1B
    assert (fde.start, fde.end) == (0x1000, 0x1010)
    assert fde_rows(fde)[0][1][10] == FLAG_SIGNAL


def test_cfa_expressions_recognised():
    # binutils' .plt rule: DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11; DW_OP_ge;
    # DW_OP_lit3; DW_OP_shl; DW_OP_plus
    plt = bytes([0x77, 0x08, 0x80, 0x00, 0x3F, 0x1A, 0x3B, 0x2A, 0x33, 0x24, 0x22])
    assert cfa_expression_rule(plt) == (CFA_PLT, 7, 8, 11)
    # glibc's __restore_rt: DW_OP_breg7 160; DW_OP_deref (the saved rsp in the ucontext)
    assert cfa_expression_rule(bytes([0x77, 0xA0, 0x01, 0x06])) == (CFA_DEREF_REG_OFF, 7, 160, 0)
    # gcc's realigned main: DW_OP_breg6 -8; DW_OP_deref
    assert cfa_expression_rule(bytes([0x76, 0x78, 0x06])) == (CFA_DEREF_REG_OFF, 6, -8, 0)
    assert cfa_expression_rule(bytes([0x77, 0x08, 0x06, 0x06]))[0] == CFA_UNSUPPORTED  # deref twice


def test_signal_trampoline_rules():
    cie, fde = _one_fde(bytes([
        0x0F, 0x04, 0x77, 0xA0, 0x01, 0x06,  # DW_CFA_def_cfa_expression (4 bytes): breg7 160; deref
        0x10, 0x06, 0x03, 0x77, 0xF8, 0x00,  # DW_CFA_expression rbp (3 bytes): breg7 120 (sleb 0xf8 0x00)
        0x10, 0x10, 0x03, 0x77, 0xA8, 0x01,  # DW_CFA_expression rip (3 bytes): breg7 168
    ]), augmentation=b"zRS", aug_data=bytes([0x1B]))
    (_, row), = fde_rows(fde)
    assert row == (CFA_DEREF_REG_OFF, 7, 160, 0, RULE_AT_REG_OFF, 7, 168, RULE_AT_REG_OFF, 7, 120, FLAG_SIGNAL)


def test_undefined_return_address_marks_the_root():
    cie, fde = _one_fde(bytes([0x07, 0x10]))  # DW_CFA_undefined rip (glibc's _start, clone3)
    assert fde_rows(fde)[0][1][4] == RULE_UNDEFINED


def test_unknown_instruction_costs_only_its_function():
    cie, fde = _one_fde(bytes([0x3F]))
    with pytest.raises(ReportError):
        fde_rows(fde)
    section = _eh_frame_multi([(0x1000, b""), (0x2000, bytes([0x3F])), (0x3000, bytes([0x0E, 0x10]))])
    table = compile_table(section, [])
    assert table.row_for(0x1008)[:3] == (CFA_REG_OFF, 7, 8)
    assert table.row_for(0x2008)[0] == CFA_NONE          # the FDE with the unknown instruction
    assert table.row_for(0x3008)[:3] == (CFA_REG_OFF, 7, 16)


def test_unparsable_cie_skips_its_fdes_and_says_why():
    # P with DW_EH_PE_aligned (0x50): not an encoding x86_64 Linux emits; the CIE cannot be read
    section = _eh_frame_with(b"", augmentation=b"zPR", aug_data=bytes([0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0x1B]))
    errors = []
    assert list(iter_fdes(section, errors)) == []
    assert errors == ["CFI entry at 0x20: unsupported DWARF pointer encoding 0x50"]
    assert len(cfi_table.safe_compile(lambda: compile_table(section, []))) == 0


def test_truncated_entry_is_an_error():
    with pytest.raises(ReportError):
        list(iter_fdes(eh_section(EH_FRAME[:0x20])))


# --- the disk cache -----------------------------------------------------------------------------------------

def test_serialisation_round_trip():
    table = compile_table(eh_section(), [])
    again = CfiTable.from_bytes(table.to_bytes(), lambda: [eh_section()])  # the index only: nothing compiled
    assert list(again.fde_starts) == [0x1000] and list(again.fde_ends) == [0x1040]
    assert again.row_for(0x1003)[2] == 16 and again.new_blocks == 1  # compiled from the sections on first use
    assert CfiTable.from_bytes(table.to_bytes()).row_for(0x1003) == NO_CFI_ROW  # no sections: no rows
    table.row_for(0x1003)
    warm = CfiTable.from_bytes(table.to_bytes(), sections_fn=_no_sections)  # the compiled rows went in
    assert warm.flatten() == table.flatten() and warm.new_blocks == 0


def _no_sections():
    raise AssertionError("a cached FDE was compiled again")


def test_lazy_table_compiles_only_the_fdes_hit():
    section = _eh_frame_multi([(0x1000, b""), (0x2000, bytes([0x0E, 0x18])), (0x3000, bytes([0x0E, 0x10]))])
    table = compile_table(section, [])
    assert len(table) == 3 and table.new_blocks == 0
    assert table.row_for(0x3008)[:3] == (CFA_REG_OFF, 7, 16) and table.new_blocks == 1
    assert table.row_for(0x3009)[:3] == (CFA_REG_OFF, 7, 16) and table.new_blocks == 1
    assert table.row_for(0x2010)[0] == CFA_NONE and table.new_blocks == 1  # a gap: nothing to compile
    starts, rows = table.flatten()  # every FDE, in the old one-pass layout
    assert starts == [0x1000, 0x1010, 0x2000, 0x2010, 0x3000, 0x3010] and rows[1] == rows[3] == NO_CFI_ROW
    assert rows[2][:3] == (CFA_REG_OFF, 7, 24)


@pytest.mark.parametrize("damage", ["truncate", "flip", "magic", "version", "empty"])
def test_damaged_cache_files_are_ignored(damage):
    blob = bytearray(compile_table(eh_section(), []).to_bytes())
    if damage == "truncate":
        blob = blob[:-5]
    elif damage == "flip":
        blob[-3] ^= 0xFF
    elif damage == "magic":
        blob[0] ^= 1
    elif damage == "version":
        blob[8] += 1
    else:
        blob = bytearray()
    assert CfiTable.from_bytes(bytes(blob)) is None


def test_table_for_uses_and_repairs_the_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cfi_table, "_TABLES", {})
    calls = []

    def build():  # the DSO's sections, read again only when something is not cached
        calls.append(1)
        return [eh_section()]

    bid = "ab" * 20
    cfi_table.table_for(bid, build)
    path = os.path.join(cfi_table.cache_dir(), bid)
    assert os.path.isfile(path) and len(calls) == 1  # the index is written when it is built
    monkeypatch.setattr(cfi_table, "_TABLES", {})  # a new process: warm from disk
    assert cfi_table.table_for(bid, build).row_for(0x1001)[2] == 16 and len(calls) == 2  # FDE not cached yet
    cfi_table.flush()  # at exit: the compiled FDE goes to disk
    monkeypatch.setattr(cfi_table, "_TABLES", {})
    assert cfi_table.table_for(bid, build).row_for(0x1001)[2] == 16 and len(calls) == 2  # nothing read
    with open(path, "r+b") as f:  # a partial write by a killed process
        f.truncate(30)
    monkeypatch.setattr(cfi_table, "_TABLES", {})
    assert cfi_table.table_for(bid, build).row_for(0x1001)[2] == 16 and len(calls) == 3
    assert CfiTable.from_bytes(open(path, "rb").read()) is not None  # rewritten whole
    assert not [n for n in os.listdir(cfi_table.cache_dir()) if n.startswith(".")]  # no temp files left


# --- helpers ------------------------------------------------------------------------------------------------

def _eh_frame_with(instructions, augmentation=b"zR", aug_data=bytes([0x1B]), fde_aug=b"\x00", cie_extra=b""):
    """A CIE (initial rules cfa=rsp+8, rip at cfa-8, then ``cie_extra``) and one FDE [0x1000, 0x1010)
    running ``instructions``."""
    cie_body = (b"\0\0\0\0" + b"\x01" + augmentation + b"\0" + bytes([0x01, 0x78, 0x10])
                + bytes([len(aug_data)]) + aug_data + bytes([0x0C, 0x07, 0x08, 0x90, 0x01]) + cie_extra)
    cie = struct.pack("<I", len(cie_body)) + cie_body
    fde_at = len(cie)
    pc_field = fde_at + 8
    fde_body = (struct.pack("<I", fde_at + 4)                               # CIE pointer
                + struct.pack("<i", 0x1000 - (EH_SVMA + pc_field))           # pc_begin, pcrel
                + struct.pack("<i", 0x10) + fde_aug + instructions)          # pc_range, aug, program
    fde = struct.pack("<I", len(fde_body)) + fde_body
    return eh_section(cie + fde + b"\0\0\0\0")


def _eh_frame_multi(fdes):
    """One CIE (cfa=rsp+8, rip at cfa-8) and an FDE of 0x10 bytes for each ``(start svma, instructions)``."""
    cie_body = b"\0\0\0\0\x01zR\0" + bytes([0x01, 0x78, 0x10, 0x01, 0x1B, 0x0C, 0x07, 0x08, 0x90, 0x01])
    out = bytearray(struct.pack("<I", len(cie_body)) + cie_body)
    for start, instructions in fdes:
        at = len(out)
        body = (struct.pack("<I", at + 4)                          # CIE pointer back to offset 0
                + struct.pack("<i", start - (EH_SVMA + at + 8))    # pc_begin, pcrel
                + struct.pack("<i", 0x10) + b"\x00" + instructions)  # pc_range, no aug data, program
        out += struct.pack("<I", len(body)) + body
    return eh_section(bytes(out) + b"\0\0\0\0")


def _one_fde(instructions, **kw):
    (fde,) = list(iter_fdes(_eh_frame_with(instructions, **kw)))
    return fde.cie, fde


def test_restore_in_a_cie_program_is_ignored():
    # DW_CFA_restore has nothing to go back to in a CIE's own instructions: the row must stay whole
    cie, fde = _one_fde(b"", cie_extra=bytes([0xC6]))  # DW_CFA_restore rbp among the CIE's instructions
    assert cie.instructions.endswith(bytes([0xC6]))
    assert fde_rows(fde) == [(0x1000, (CFA_REG_OFF, 7, 8, 0, RULE_OFFSET, 0, -8, RULE_SAME, 0, 0, 0))]


def test_overlapping_fdes_keep_the_first_by_start():
    # FDEs sorted by start: one starting inside the previous one's range is dropped whole (its own tail too)
    section = _eh_frame_multi([(0x2000, bytes([0x0E, 0x18])), (0x1008, bytes([0x0E, 0x20])),
                               (0x1000, bytes([0x0E, 0x10]))])
    table = compile_table(section, [])
    assert list(table.fde_starts) == [0x1000, 0x2000]
    assert table.row_for(0x100C)[2] == 16 and table.row_for(0x1014) == NO_CFI_ROW
    assert table.row_for(0x2004)[2] == 24


def test_a_negative_pc_range_does_not_break_the_table():
    # pc_range sdata4 -16 reads as 2**64 - 16 (read_encoded masks it): the FDE runs to the end of the space
    raw = bytearray(EH_FRAME)
    raw[0x24:0x28] = struct.pack("<i", -16)
    table = compile_table(eh_section(bytes(raw)), [])
    assert list(table.fde_ends) == [2**64 - 1] and table.row_for(0x1003)[2] == 16
    assert table.row_for(0x5000)[:3] == (CFA_REG_OFF, 7, 8)  # the FDE's last row, far past its real end
