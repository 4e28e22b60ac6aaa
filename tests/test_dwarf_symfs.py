"""Under ``--symfs`` every file is read from the symfs, never from the recorded path (which need not exist
where the report runs). Inline frames name their innermost function with the ELF symbol of the file perf
hands addr2line (``dso->symsrc_filename``: srcline.c ``dso__name``), here the unwind goldens' C++ workload
unpacked under a symfs while its recorded path, /tmp/pyperf-golden-unwind, is absent.

perf's text for the address used below (tests/golden/unwind/expected/cxx.script, return address 0x1813)::

    1813 std::__introsort_loop<__gnu_cxx::__normal_iterator<long*, std::vector<long, ...> > >, ...> (...)
    1813 operator()<__gnu_cxx::__normal_iterator<long int*, std::vector<long int> >, ...> (inlined)

without the ELF symbol the first name would be DWARF's ``operator()``."""
from __future__ import annotations

import logging
import os
import shutil
import tarfile

import pytest

from pyperf_probe.callchain.dwarf_unwind import find_image
from pyperf_probe.session import resolved_cache
from pyperf_probe.session.dsos import Dso
from pyperf_probe.symbols.dwarf.info import DwarfInfo
from pyperf_probe.symbols.elf import open_elf

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "unwind")
RECORDED = "/tmp/pyperf-golden-unwind/bin/uw_cxx"
RETURN_OFFSET = 0x1813 - 1  # looked up at ra - 1
INTROSORT = "std::__introsort_loop<__gnu_cxx::__normal_iterator<long*, std::vector<long"
LIBZ = "/usr/lib/x86_64-linux-gnu/libz.so.1"


@pytest.fixture(scope="module")
def symfs(tmp_path_factory):
    root = tmp_path_factory.mktemp("symfs")
    with tarfile.open(os.path.join(GOLDEN, "symfs.tar.xz")) as tar:
        tar.extractall(root)
    return str(root)


@pytest.fixture(autouse=True)
def recorded_path_absent(tmp_path, monkeypatch):
    assert not os.path.exists(os.path.dirname(os.path.dirname(RECORDED))), "remove /tmp/pyperf-golden-unwind"
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PERF_BUILDID_DIR", str(tmp_path / "debug"))
    monkeypatch.setattr(resolved_cache, "_LOADED", {})
    monkeypatch.setattr(resolved_cache, "_PENDING", {})


def svma_of(path: str) -> int:
    return open_elf(path).file_offset_to_svma(RETURN_OFFSET)


def test_dwarf_names_frames_with_the_symfs_image_symbols(symfs):
    image = os.path.join(symfs, RECORDED.lstrip("/"))
    info = DwarfInfo.open(RECORDED, symfs)
    assert info.image_path == image
    name, _ = info.elf_function_at(svma_of(image))
    assert name.startswith("_ZSt16__introsort_loop")
    assert info.inline_frames(svma_of(image))[0].startswith(INTROSORT)


def test_a_missing_symbol_file_is_said_under_v(symfs, caplog):
    caplog.set_level(logging.DEBUG, logger="pyperf")
    info = DwarfInfo.open(RECORDED, symfs, symbols=os.path.join(symfs, "nowhere"))
    frames = info.inline_frames(svma_of(info.path))
    assert frames[0] == "operator()"  # DWARF's name: what the bug printed silently
    assert "no ELF symbols for inline frames" in caplog.text and "No such file" in caplog.text


def test_a_symbol_file_with_another_build_id_is_not_used(symfs, caplog):
    caplog.set_level(logging.DEBUG, logger="pyperf")
    other = os.path.join(symfs, RECORDED.lstrip("/")).replace("uw_cxx", "uw_threads")
    info = DwarfInfo.open(RECORDED, symfs, symbols=other)
    assert info.elf_function_at(svma_of(info.path)) is None
    assert "is not the DWARF's" in caplog.text


def test_report_reads_the_symbol_source_perf_hands_addr2line(symfs):
    dso = Dso(RECORDED, 0, "01cf13db8358bdb6a9160c9744f084735dd24cd8", symfs)
    assert dso.inline_names(RETURN_OFFSET)[0].startswith(INTROSORT)
    assert dso._inline_symbols() == os.path.join(symfs, RECORDED.lstrip("/"))


def test_the_inline_part_of_the_cache_depends_on_the_symbol_file(symfs, tmp_path, monkeypatch):
    """A changed symbol file (here a copy standing for it) makes the stored inline names unused."""
    symbols = tmp_path / "symbols"
    shutil.copy(os.path.join(symfs, RECORDED.lstrip("/")), symbols)
    monkeypatch.setattr(Dso, "_inline_symbols", lambda self: str(symbols))
    cold = Dso(RECORDED, 0, None, symfs).inline_names(RETURN_OFFSET)
    resolved_cache.flush()
    resolved_cache._LOADED.clear()
    st = os.stat(symbols)
    os.utime(symbols, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    calls = []
    original = Dso._inline_names
    monkeypatch.setattr(Dso, "_inline_names", lambda self, off: calls.append(off) or original(self, off))
    assert Dso(RECORDED, 0, None, symfs).inline_names(RETURN_OFFSET) == cold
    assert calls == [RETURN_OFFSET]


def test_unwinding_under_symfs_never_opens_the_recorded_path(tmp_path):
    """perf joins every system path with the symfs (``dso__read_binary_type_filename``)."""
    assert find_image(LIBZ, None) is not None
    assert find_image(LIBZ, None, str(tmp_path)) is None
