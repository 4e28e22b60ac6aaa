"""symbols/elf.py and symbols/debuginfo.py on hand-made ELF files and on the system's libc."""
import os
import subprocess

import pytest

from elfbuild import TEXT_OFFSET, TEXT_VADDR, build_elf
from pyperf_probe.errors import SymbolError
from pyperf_probe.symbols import debuginfo
from pyperf_probe.symbols.elf import open_elf

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_headers_segments_and_conversions(tmp_path):
    path = write(tmp_path, "prog", build_elf([("main", TEXT_VADDR + 0x10, 8, 2, 1, "text")]))
    image = open_elf(path)
    assert image.elf_type == 2
    assert image.build_id == "12345678" * 5
    (seg,) = image.load_segments
    assert (seg.vaddr, seg.file_offset, seg.flags) == (TEXT_VADDR, TEXT_OFFSET, 5)
    assert image.svma_to_file_offset(TEXT_VADDR + 0x10) == TEXT_OFFSET + 0x10
    assert image.file_offset_to_svma(TEXT_OFFSET + 0x10) == TEXT_VADDR + 0x10
    assert image.svma_to_file_offset(0x10) is None
    assert image.section(".text").svma == TEXT_VADDR
    assert image.section(".nope") is None
    assert image.section_bytes(".text")[:2] == b"\x90\x90"
    assert image.debuglink is None
    assert open_elf(path) is image          # cached


def test_debuglink_parsed(tmp_path):
    image = open_elf(write(tmp_path, "p", build_elf([], debuglink="p.debug")))
    assert image.debuglink == ("p.debug", 0xDEADBEEF)


@pytest.mark.parametrize("data,words", [
    (b"", "not an ELF file"),
    (b"#!/bin/sh\necho hi\n", "not an ELF file"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 20, "truncated"),
])
def test_bad_files(tmp_path, data, words):
    with pytest.raises(SymbolError, match=words):
        open_elf(write(tmp_path, "bad", data))


def test_truncated_section_headers(tmp_path):
    data = build_elf([("f", TEXT_VADDR, 4, 2, 1, "text")])
    with pytest.raises(SymbolError, match="truncated"):
        open_elf(write(tmp_path, "cut", data[:len(data) - 100]))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SymbolError, match="No such file"):
        open_elf(str(tmp_path / "nope"))
    with pytest.raises(SymbolError, match="not a regular file"):
        open_elf(str(tmp_path))


def test_libc_matches_readelf():
    image = open_elf(LIBC)
    out = subprocess.run(["readelf", "-nW", LIBC], capture_output=True, text=True).stdout
    assert f"Build ID: {image.build_id}" in out
    phdrs = subprocess.run(["readelf", "-lW", LIBC], capture_output=True, text=True).stdout
    loads = [line.split() for line in phdrs.splitlines() if line.strip().startswith("LOAD")]
    assert [(int(f[2], 16), int(f[1], 16)) for f in loads] == \
        [(s.vaddr, s.file_offset) for s in image.load_segments]


def test_libc_sections_match_readelf():
    """Every section header (name, type, flags, address, offset, size, link) as readelf -S shows it."""
    image = open_elf(LIBC)
    out = subprocess.run(["readelf", "-SW", LIBC], capture_output=True, text=True).stdout
    rows = [line.split("]", 1)[1].split() for line in out.splitlines() if line.strip().startswith("[")]
    rows = rows[2:]         # the "[Nr] Name ..." heading and section 0 (no name)
    assert len(rows) == len(image.sections) - 1
    for shdr, row in zip(image.sections[1:], rows):
        assert (shdr.name, shdr.svma, shdr.file_offset, shdr.size) == \
            (row[0], int(row[2], 16), int(row[3], 16), int(row[4], 16))
        assert shdr.index == image.sections.index(shdr) and image.section(shdr.name).index <= shdr.index


def test_section_names_odd_tables():
    """.shstrtab names: "" past the table or without a NUL, undecodable bytes replaced; fast path equal."""
    from pyperf_probe.symbols.elf import _section_names
    assert _section_names(b"\0.text\0.data\0", (0, 1, 7, 3, 13)) == ["", ".text", ".data", "ext", ""]
    assert _section_names(b"\0.text\0.da", (1, 7, 40)) == [".text", "", ""]
    assert _section_names(b"\0\xe9t\xe9\0", (1,)) == ["\ufffdt\ufffd"]


def test_debug_file_by_build_id():
    image = open_elf(LIBC)
    found = debuginfo.find_debug_file(image)
    if found is None:
        pytest.skip("libc6-dbg is not installed")
    assert open_elf(found).build_id == image.build_id
    assert open_elf(found).section(".symtab") is not None


def test_debuglink_beside_file_requires_matching_build_id(tmp_path):
    prog = write(tmp_path, "prog", build_elf([], debuglink="prog.debug"))
    os.mkdir(tmp_path / ".debug")
    write(tmp_path / ".debug", "prog.debug", build_elf([("f", TEXT_VADDR, 4, 2, 1, "text")]))
    assert debuginfo.find_debug_file(open_elf(prog)) == str(tmp_path / ".debug" / "prog.debug")
    other = build_elf([("f", TEXT_VADDR, 4, 2, 1, "text")], build_id=b"\x99" * 20)
    write(tmp_path / ".debug", "prog.debug", other)
    assert debuginfo.find_debug_file(open_elf(prog)) is None


def test_buildid_cache_link(tmp_path, monkeypatch):
    """perf's ~/.debug/.build-id/xx/rest -> ../../<path>/<BUILDID>/{elf,debug}."""
    bid = "ab" * 20
    prog = write(tmp_path, "prog", build_elf([], build_id=bytes.fromhex(bid)))
    cache = tmp_path / "cache"
    target_dir = cache / str(tmp_path).lstrip("/") / "prog" / bid
    target_dir.mkdir(parents=True)
    (target_dir / "debug").write_bytes(build_elf([("f", TEXT_VADDR, 4, 2, 1, "text")],
                                                 build_id=bytes.fromhex(bid)))
    (cache / ".build-id" / bid[:2]).mkdir(parents=True)
    os.symlink(os.path.relpath(target_dir, cache / ".build-id" / bid[:2]), cache / ".build-id" / bid[:2] / bid[2:])
    monkeypatch.setenv("PERF_BUILDID_DIR", str(cache))
    assert debuginfo.find_debug_file(open_elf(prog)) == str(target_dir / "debug")


def test_candidates_follow_perf_order(tmp_path):
    prog = write(tmp_path, "prog", build_elf([], debuglink="prog.debug"))
    cands = debuginfo.candidate_files(open_elf(prog))
    assert cands[:4] == ["prog.debug", f"{tmp_path}/prog.debug", f"{tmp_path}/.debug/prog.debug",
                         f"/usr/lib/debug{tmp_path}/prog.debug"]
    assert cands[-1] == prog
    assert f"/usr/lib/debug/.build-id/12/{'345678' + '12345678' * 4}.debug" in cands


def test_mapped_section_reads_as_its_bytes(tmp_path):
    """elf.MappedSection (a large section mapped, not copied: ElfImage.section_buffer) answers len, find,
    indexes, slices, tobytes and view as the section's bytes do, at offsets that are not page-aligned; small
    sections and images in memory are read as bytes."""
    import random

    from pyperf_probe.symbols.elf import MAPPED_SECTION, MappedSection
    rng = random.Random(7)
    data = bytes(rng.choice(b"\0abcZ_") for _ in range(300_000))
    path = tmp_path / "blob"
    path.write_bytes(data)
    with open(path, "rb") as f:
        for offset, size in ((0, 300_000), (4095, 70_000), (4097, 123_456), (200_001, 99_999)):
            want = data[offset:offset + size]
            got = MappedSection(f.fileno(), offset, size)
            assert len(got) == len(want) and got.tobytes() == want and bytes(got.view) == want
            for sub in (b"\0", b"Z", b"_Z", b"zz"):
                for start in (0, 1, 5000, size - 3, size + 10):
                    assert got.find(sub, start) == want.find(sub, start)
            for i in (0, 1, size // 2, size - 1, -1, -size):
                assert got[i] == want[i]
            for a, b in ((0, 10), (5, 5), (size - 7, size + 100), (10, 3), (-20, None), (None, None)):
                assert got[a:b] == want[a:b]
            with pytest.raises(IndexError):
                got[size]
    image = open_elf(LIBC)
    big = max(image.sections, key=lambda s: s.size if s.sh_type != 8 else 0)
    assert type(image.section_buffer(big)) is MappedSection and big.size >= MAPPED_SECTION
    assert image.section_buffer(big).tobytes() == image.section_bytes(big)
    small = next(s for s in image.sections if 0 < s.size < MAPPED_SECTION and s.sh_type != 8)
    assert type(image.section_buffer(small)) is bytes
