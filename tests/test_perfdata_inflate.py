"""_speedups.inflate_zlib (libdeflate, loaded when installed) = its Python twin symbols.dwarf.info.py_inflate
(zlib.decompress) on random zlib streams, or None where the twin's answer is not a stream of the size given
(damaged, cut, another size): the caller then takes zlib's answer, so the sections read are the same bytes
either way."""
from __future__ import annotations

import os
import random
import zlib

import pytest

from pyperf_probe.symbols.dwarf import info
from tests.conftest import need_speedups

LIBC_DEBUG = "/usr/lib/debug/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug"


def _c():
    need_speedups()
    from pyperf_probe.perfdata import _speedups
    probe = zlib.compress(b"probe" * 100)
    if _speedups.inflate_zlib(probe, 0, 500) is None:
        pytest.skip("libdeflate.so.0 is not installed: inflate_zlib always answers None")
    return _speedups.inflate_zlib


def _payload(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    n = rng.choice([0, 1, 7, 100, 4096, 70_000, 300_000])
    if kind == 0:
        return rng.randbytes(n)
    if kind == 1:  # few symbols: long matches (DWARF-like)
        return bytes(rng.choice(b"\0\1\2abc") for _ in range(n))
    if kind == 2:
        words = [rng.randbytes(rng.randrange(1, 12)) for _ in range(50)]
        return b"".join(rng.choice(words) for _ in range(n // 6))
    return b"\0" * n


def test_inflate_zlib_is_its_twin_on_random_streams():
    inflate_zlib = _c()
    rng = random.Random(16)
    for case in range(300):
        payload = _payload(rng)
        stream = zlib.compress(payload, rng.choice([0, 1, 6, 9]))
        head = rng.randbytes(rng.choice([0, 24, 3]))
        data = head + stream
        assert info.py_inflate(data, len(head), len(payload)) == payload
        got = inflate_zlib(data if case % 2 else memoryview(data), len(head), len(payload))
        assert got == payload and type(got) is bytes
        assert info.inflate(data, len(head), len(payload)) == payload
        # another size than the stream's: None (the caller's zlib path then reads it and checks the size)
        assert inflate_zlib(data, len(head), len(payload) + 1) is None
        if payload:
            assert inflate_zlib(data, len(head), len(payload) - 1) is None


def test_inflate_zlib_leaves_damage_to_zlib():
    inflate_zlib = _c()
    rng = random.Random(61)
    for _ in range(300):
        payload = _payload(rng)
        stream = bytearray(zlib.compress(payload))
        how = rng.randrange(3)
        if how == 0:  # a flipped byte
            stream[rng.randrange(len(stream))] ^= 1 << rng.randrange(8)
        elif how == 1:  # cut short
            del stream[rng.randrange(len(stream)):]
        else:  # trailing bytes after the stream
            stream += rng.randbytes(rng.randrange(1, 9))
        try:
            want = info.py_inflate(bytes(stream), 0, len(payload))
        except zlib.error:
            want = None
        got = inflate_zlib(bytes(stream), 0, len(payload))
        if got is not None:  # only ever what zlib gives
            assert got == want
        try:
            through = info.inflate(bytes(stream), 0, len(payload))
        except zlib.error:
            through = None
        assert through == want


def test_inflate_zlib_bad_arguments():
    need_speedups()
    from pyperf_probe.perfdata import _speedups
    data = zlib.compress(b"x" * 10)
    assert _speedups.inflate_zlib(data, -1, 10) is None
    assert _speedups.inflate_zlib(data, len(data) + 1, 10) is None
    assert _speedups.inflate_zlib(data, 0, -1) is None
    with pytest.raises(TypeError):
        _speedups.inflate_zlib("text", 0, 10)


@pytest.mark.skipif(not os.path.exists(LIBC_DEBUG), reason="libc6-dbg's debug file is not installed")
def test_compressed_debug_sections_read_the_same(monkeypatch):
    """libc6-dbg's SHF_COMPRESSED sections: the same bytes through libdeflate and through zlib."""
    from pyperf_probe.symbols.elf import open_elf
    image = open_elf(LIBC_DEBUG)
    names = [".debug_info", ".debug_abbrev", ".debug_str", ".debug_aranges"]
    fast = {name: info._RawSections.of(image).read(name) for name in names}
    monkeypatch.setattr(info, "_C_INFLATE", None)
    slow = {name: info._RawSections.of(image).read(name) for name in names}
    assert fast == slow
    assert len(fast[".debug_info"]) > 1 << 20
