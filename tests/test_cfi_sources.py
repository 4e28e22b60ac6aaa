"""Where a DSO's CFI comes from, on real binaries.

CFI that lives only in ``.debug_frame`` of a separate debug file (``gcc -fno-asynchronous-unwind-tables``,
then ``objcopy --only-keep-debug`` / ``--strip-debug --add-gnu-debuglink``): ``dwarf_unwind.dso_table``
finds the debug file through the debuglink and compiles its ``.debug_frame`` where ``.eh_frame`` has no FDE.
The rows are checked against ``readelf -wF`` of the debug file. And ``.eh_frame`` of an image without
section headers, found through ``PT_GNU_EH_FRAME`` and ``.eh_frame_hdr``."""
import os
import shutil
import subprocess

import pytest

from pyperf_probe.callchain import cfi_table
from pyperf_probe.callchain.cfa_program import CFA_NONE, CFA_REG_OFF, RULE_OFFSET
from pyperf_probe.callchain.dwarf_unwind import dso_table
from pyperf_probe.symbols.elf import open_elf

SOURCE = r"""
#include <stdio.h>
__attribute__((noinline)) long uw_df_leaf(long x) { return x * 3 + 1; }
__attribute__((noinline)) long uw_df_mid(long n) {
    volatile long buf[16];
    for (long i = 0; i < 16; i++) buf[i] = uw_df_leaf(i + n);
    return buf[n & 15];
}
int main(int argc, char **argv) { printf("%ld\n", uw_df_mid(argc)); return 0; }
"""

pytestmark = pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("objcopy") and shutil.which("readelf")),
                                reason="needs gcc and binutils")


@pytest.fixture()
def split_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cfi_table, "_TABLES", {})
    src = tmp_path / "df.c"
    src.write_text(SOURCE)
    prog = tmp_path / "df"
    subprocess.run(["gcc", "-O2", "-g", "-fomit-frame-pointer", "-fno-asynchronous-unwind-tables",
                    "-fno-unwind-tables", "-o", str(prog), str(src)], check=True)
    debug = tmp_path / "df.debug"
    subprocess.run(["objcopy", "--only-keep-debug", str(prog), str(debug)], check=True)
    subprocess.run(["objcopy", "--strip-debug", f"--add-gnu-debuglink={debug}", str(prog)], check=True, cwd=tmp_path)
    return str(prog), str(debug)


def symbol_svma(path, name):
    out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts[-1] == name:
            return int(parts[0], 16)
    raise AssertionError(f"{name} not in {path}")


def test_debug_frame_of_the_separate_debug_file(split_binary):
    prog, debug = split_binary
    image = open_elf(prog)
    assert image.section(".debug_frame") is None  # stripped: only the debug file has it
    table = dso_table(image)
    leaf = symbol_svma(debug, "uw_df_leaf")
    mid = symbol_svma(debug, "uw_df_mid")
    assert table.row_for(leaf)[:3] == (CFA_REG_OFF, 7, 8) and table.row_for(leaf)[4:7] == (RULE_OFFSET, 0, -8)
    assert table.row_for(mid + 8)[0] == CFA_REG_OFF and table.row_for(mid + 8)[2] > 8  # locals allocated
    # every .debug_frame row readelf prints for the debug file is in the table
    out = subprocess.run(["readelf", "-wF", debug], capture_output=True, text=True).stdout
    frames = out.split("Contents of the .debug_frame")[1]
    checked = 0
    for line in frames.splitlines():
        parts = line.split()
        if len(parts) >= 3 and len(parts[0]) == 16 and parts[1].startswith("rsp+"):
            svma = int(parts[0], 16)
            if svma:
                assert table.row_for(svma)[2] == int(parts[1][4:]), line
                checked += 1
    assert checked >= 4


def test_without_the_debug_file_there_is_no_cfi(split_binary, monkeypatch):
    prog, debug = split_binary
    os.unlink(debug)
    table = dso_table(open_elf(prog))
    assert table.row_for(symbol_svma(prog, "uw_df_leaf"))[0] == CFA_NONE


def test_eh_frame_found_through_pt_gnu_eh_frame_without_section_headers(tmp_path, monkeypatch):
    """An image whose section headers are gone (e_shoff = 0): .eh_frame is found as the runtime finds it,
    through PT_GNU_EH_FRAME -> .eh_frame_hdr -> eh_frame_ptr, and compiles to the same table."""
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cfi_table, "_TABLES", {})
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.exists(libc):
        pytest.skip("no libc.so.6 at the Debian path")
    raw = bytearray(open(libc, "rb").read())
    raw[0x28:0x30] = bytes(8)  # Elf64_Ehdr.e_shoff
    headerless = tmp_path / "libc-noshdr.so"
    headerless.write_bytes(bytes(raw))
    image = open_elf(str(headerless))
    assert image.sections == () and image.build_id == open_elf(libc).build_id
    table = dso_table(image)
    monkeypatch.setattr(cfi_table, "_TABLES", {})
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache2"))
    reference = dso_table(open_elf(libc))
    assert list(table.fde_starts) == list(reference.fde_starts) and len(table) > 3000
    assert table.flatten() == reference.flatten()
