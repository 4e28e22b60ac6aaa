"""symbols/sdt: .note.stapsdt parsing, perf's address adjustments and its SDT argument conversion."""
import os
import struct
import subprocess

import pytest

from pyperf_probe.errors import SymbolError
from pyperf_probe.symbols.elf import open_elf
from pyperf_probe.symbols.sdt import convert_arg, convert_operand, probe_command, read_sdt_notes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.path.join(ROOT, "build", "workloads", "tick")

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
SHDR = struct.Struct("<IIQQQQIIQQ")


def _note(provider, name, args, pc, base, semaphore):
    desc = struct.pack("<3Q", pc, base, semaphore)           # Elf64_Addr pc, base, semaphore
    desc += provider + b"\0" + name + b"\0" + args + b"\0"   # provider, name, argument string
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", 8, len(desc), 3) + pad(b"stapsdt\0") + pad(desc)


PHDR = struct.Struct("<IIQQQQQQ")


def _sdt_elf(tmp_path, notes, base=(0x2010, 0x1010), probes=(0x4020, 0x3020), note_flags=0, load=None):
    """An ELF64 with .stapsdt.base at (svma, file_offset), .probes at (svma, file_offset) and the notes.
    The svma - file_offset distance is 0x1000 for both, as in a PIE whose data moved one page.
    ``load``: (vaddr, file_offset, size) of one PT_LOAD, for files without those sections."""
    shstr = b"\0.stapsdt.base\0.probes\0.note.stapsdt\0.shstrtab\0"
    names = {n: shstr.index(n.encode() + b"\0") for n in (".stapsdt.base", ".probes", ".note.stapsdt",
                                                         ".shstrtab")}
    note_blob = b"".join(notes)
    body = bytearray(0x4000)
    note_off = len(body)
    body += note_blob
    str_off = len(body)
    body += shstr
    while len(body) % 8:
        body.append(0)
    sh_off = len(body)
    secs = [SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    if base:
        secs.append(SHDR.pack(names[".stapsdt.base"], 1, 2, base[0], base[1], 1, 0, 0, 1, 0))
    if probes:
        secs.append(SHDR.pack(names[".probes"], 1, 3, probes[0], probes[1], 4, 0, 0, 2, 0))
    secs.append(SHDR.pack(names[".note.stapsdt"], 7, note_flags, 0, note_off, len(note_blob), 0, 0, 4, 0))
    secs.append(SHDR.pack(names[".shstrtab"], 3, 0, 0, str_off, len(shstr), 0, 0, 1, 0))
    body += b"".join(secs)
    ph_off, phnum = 0, 0
    if load:
        ph_off, phnum = len(body), 1
        body += PHDR.pack(1, 5, load[1], load[0], load[0], load[2], load[2], 0x1000)   # PT_LOAD, R+X
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    body[:EHDR.size] = EHDR.pack(ident, 3, 62, 1, 0, ph_off, sh_off, 0, 64, 56, phnum, 64, len(secs),
                                 len(secs) - 1)
    path = tmp_path / "sdt.elf"
    path.write_bytes(bytes(body))
    return str(path)


def test_note_fields_and_perf_adjustments(tmp_path):
    path = _sdt_elf(tmp_path, [
        _note(b"tick", b"loop1", b"-4@-4(%rbp)", 0x21b8, 0x2010, 0),
        _note(b"tick", b"loop2", b"-4@%eax 8@$5", 0x226b, 0x2010, 0x4028),
        _note(b"tick", b"noargs", b"", 0x2300, 0x2010, 0),
    ])
    loop1, loop2, noargs = read_sdt_notes(open_elf(path))
    assert (loop1.provider, loop1.name, loop1.pc, loop1.base, loop1.semaphore) == ("tick", "loop1", 0x21b8,
                                                                                    0x2010, 0)
    # pc moved by the note's base against .stapsdt.base's file offset; semaphore by .probes' svma - offset
    assert loop1.pc_file_offset == 0x21b8 + 0x1010 - 0x2010 == 0x11b8
    assert loop2.semaphore_file_offset == 0x4028 - (0x4020 - 0x3020) == 0x3028
    assert loop1.semaphore_file_offset == 0 and noargs.args is None
    assert probe_command(loop2, "/tmp/t") == "p:sdt_tick/loop2 /tmp/t:0x126b(0x3028) arg1=%ax:s32"
    assert probe_command(noargs, "/tmp/t") == "p:sdt_tick/noargs /tmp/t:0x1300"


def test_prelinked_base_moves_the_pc(tmp_path):
    # the note says .stapsdt.base was at 0x3010 when linked; the file has it at offset 0x1010
    path = _sdt_elf(tmp_path, [_note(b"p", b"m", b"", 0x3100, 0x3010, 0)])
    (note,) = read_sdt_notes(open_elf(path))
    assert note.pc_file_offset == 0x3100 - 0x3010 + 0x1010


def test_without_base_and_probes_sections_the_segment_converts(tmp_path):
    # no .stapsdt.base, no .probes: pc and semaphore go through the PT_LOAD holding them (0x400000 -> 0)
    path = _sdt_elf(tmp_path, [_note(b"p", b"m", b"", 0x401234, 0x402000, 0x404010)], base=None, probes=None,
                    load=(0x400000, 0, 0x5000))
    (note,) = read_sdt_notes(open_elf(path))
    assert (note.pc_file_offset, note.semaphore_file_offset) == (0x1234, 0x4010)


def test_allocated_note_section_is_ignored_as_perf_does(tmp_path):
    path = _sdt_elf(tmp_path, [_note(b"p", b"m", b"", 0x2100, 0x2010, 0)], note_flags=2)
    assert read_sdt_notes(open_elf(path)) == ()


@pytest.mark.parametrize("op,expected", [
    # the table in perf's arch/x86/util/perf_regs.c
    ("+24(%rdi)", "+24(%di)"), ("24(%rdi)", "+24(%di)"), ("%rdi", "%di"), ("(%rdi)", "+0(%di)"),
    ("-80(%rbx)", "-80(%bx)"), ("%eax", "%ax"), ("%al", "%ax"), ("%r12d", "%r12"), ("%r15", "%r15"),
    ("%sil", "%si"), ("%bpl", "%bp"), ("-16(%rbp)", "-16(%bp)"), ("%rsp", "%sp"),
    ("%ax", "%ax"), ("%xmm0", "%xmm0"),
    # skipped: constants, scaled/indexed, symbolic %rip-relative, register names over 6 characters
    ("$5", None), ("$-1", None), ("(%rax,%rsi,8)", None), ("check_action(%rip)", None),
    ("mp_+52(%rip)", None), ("%xmm10x", None),
])
def test_operand_conversion(op, expected):
    assert convert_operand(op) == expected


@pytest.mark.parametrize("arg,expected", [
    ("-4@%eax", "arg1=%ax:s32"), ("8@-16(%rbp)", "arg1=-16(%bp):u64"), ("-4@$5", None),
    ("1@%dl", "arg1=%dx:u8"), ("-2@2(%rax)", "arg1=+2(%ax):s16"), ("3@%eax", "arg1=%ax"),
    ("%rdi", "arg1=%di"), ("-8@%rax", "arg1=%ax:s64"),
])
def test_argument_conversion(arg, expected):
    assert convert_arg(1, arg) == expected


def test_invalid_size_is_an_error():
    with pytest.raises(SymbolError):
        convert_arg(1, "16@%rax")


def test_skipped_argument_keeps_the_numbering(tmp_path):
    path = _sdt_elf(tmp_path, [_note(b"p", b"m", b"-4@$5 8@%rdi", 0x2100, 0x2010, 0)])
    (note,) = read_sdt_notes(open_elf(path))
    assert probe_command(note, "/x").endswith(" arg2=%di:u64")


@pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick")
def test_tick_markers_agree_with_readelf():
    notes = {n.name: n for n in read_sdt_notes(open_elf(TICK))}
    assert set(notes) == {"begin", "loop1", "loop2", "loop3"}
    assert notes["loop1"].semaphore == 0 and notes["loop2"].semaphore and notes["loop3"].semaphore
    assert len(notes["loop3"].arg_list) == 2 and len(notes["loop2"].arg_list) == 1
    text = subprocess.run(["readelf", "-n", TICK], capture_output=True, text=True).stdout
    for n in notes.values():
        assert f"Location: {n.pc:#018x}, Base: {n.base:#018x}, Semaphore: {n.semaphore:#018x}" in text


def test_semaphore_on_a_kernel_without_ref_ctr_support_is_refused(monkeypatch):
    from pyperf_probe.errors import ProbeError
    from pyperf_probe.probe import sdt
    from pyperf_probe.probe.tracedef import UprobeDef

    with_sem = UprobeDef(path="/x", file_offset=0x10, group="sdt_t", event="m", ref_ctr_offset=0x3028)
    without = UprobeDef(path="/x", file_offset=0x20, group="sdt_t", event="n")
    monkeypatch.setattr(sdt, "ref_ctr_supported", lambda: False)
    sdt.check_ref_ctr_support([without])
    with pytest.raises(ProbeError, match="sdt_t:m has a semaphore .* Linux 4.20"):
        sdt.check_ref_ctr_support([without, with_sem])
    monkeypatch.setattr(sdt, "ref_ctr_supported", lambda: True)
    sdt.check_ref_ctr_support([with_sem])
