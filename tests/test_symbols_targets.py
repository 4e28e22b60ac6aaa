"""symbols/targets.py: -x TARGET as a path, a program on PATH, or a soname through ld.so.cache."""
import os
import struct
import subprocess

import pytest

from pyperf_probe.errors import SymbolError
from pyperf_probe.symbols import targets


def make_cache(entries):
    """A glibc-ld.so.cache1.1 image: header, file_entry_new[], then the strings."""
    strings = bytearray()
    header_size = 20 + 28
    table_size = 24 * len(entries)
    rows = b""
    for flags, soname, path in entries:
        key = header_size + table_size + len(strings)
        strings += soname.encode() + b"\0"
        value = header_size + table_size + len(strings)
        strings += path.encode() + b"\0"
        rows += struct.pack("<iIIIQ", flags, key, value, 0, 0)
    head = b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xI12x", len(entries), len(strings), 2, 0)
    return head + rows + bytes(strings)


def test_parse_cache_and_prefer_native(tmp_path):
    lib32, lib64 = tmp_path / "lib32.so", tmp_path / "lib64.so"
    lib32.write_bytes(b"x")
    lib64.write_bytes(b"x")
    data = make_cache([(0x0003, "libfoo.so.1", str(lib32)), (0x0303, "libfoo.so.1", str(lib64))])
    entries = targets.parse_ld_so_cache(data)
    assert [(e.soname, e.path) for e in entries] == [("libfoo.so.1", str(lib32)), ("libfoo.so.1", str(lib64))]
    if targets.native_required_flags() == 0x0300:
        assert targets.find_library("libfoo.so.1", entries) == str(lib64)
    assert targets.find_library("libbar.so", entries) is None


def test_real_cache_agrees_with_ldconfig():
    entries = targets.ld_cache_entries()
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    listed = {line.split(" => ")[1].strip() for line in out.splitlines()[1:] if " => " in line}
    assert {e.path for e in entries} == listed


def test_resolve_forms(tmp_path, monkeypatch):
    assert targets.resolve_target("libc.so.6").path == os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6")
    assert targets.resolve_target("libc.so.6").how == "ld.so.cache"
    assert targets.resolve_target("ls").how == "PATH"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog").write_bytes(b"x")
    t = targets.resolve_target("prog")
    assert (t.path, t.how) == (str(tmp_path / "prog"), "path")
    with pytest.raises(SymbolError, match="Failed to get the absolute path of nosuch.so.9"):
        targets.resolve_target("nosuch.so.9")
