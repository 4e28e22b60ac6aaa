"""session/resolved_cache.py: a DSO's resolved symbols and inline names kept on disk per build-id. A warm
answer equals the cold one without loading the symbol table or opening the DWARF; any change to the files
read (the image, the symbol source, the DWARF candidates) or to pyperf's symbol code makes the stored
answers unused; a damaged or unwritable cache costs only the warm start."""
from __future__ import annotations

import os
import shutil

import pytest

from pyperf_probe.session import resolved_cache
from pyperf_probe.session.dsos import Dso
from pyperf_probe.symbols.elf import open_elf

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBZ = "/usr/lib/x86_64-linux-gnu/libz.so.1"


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    """A cold cache directory, and no cache from an earlier test in this process."""
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(resolved_cache, "_LOADED", {})
    monkeypatch.setattr(resolved_cache, "_PENDING", {})


def text_offsets(path: str, step: int = 0x1f3) -> list[int]:
    """File offsets across the executable segment, and some past the file's end."""
    seg = next(s for s in open_elf(path).load_segments if s.flags & 1)
    return list(range(seg.file_offset, seg.file_offset + seg.filesz, step)) + [1 << 40, (1 << 40) + 8]


def answers(dso: Dso, offsets, inline: bool = False):
    out = []
    for off in offsets:
        res = dso.resolve(off)
        out.append(None if res is None else (res.name, res.start))
        if inline and res is not None:
            out.append(tuple(dso.inline_names(off)))
    return out


def next_process() -> None:
    """What the next report sees: the caches written at exit, nothing of this process's kept."""
    resolved_cache.flush()
    resolved_cache._LOADED.clear()


class Counting:
    """Counts a Dso method's calls (the work the disk cache saves)."""

    def __init__(self, monkeypatch, name: str):
        self.calls = 0
        original = getattr(Dso, name)

        def counted(dso, *args):
            self.calls += 1
            return original(dso, *args)
        monkeypatch.setattr(Dso, name, counted)


def test_warm_answers_equal_cold_without_symbols_or_dwarf(monkeypatch):
    offsets = text_offsets(LIBC, 0x2f1)
    cold = answers(Dso(LIBC, 0, None, None), offsets, inline=True)
    assert sum(a is not None for a in cold) > 500
    next_process()
    resolve, dwarf = Counting(monkeypatch, "_resolve"), Counting(monkeypatch, "_open_dwarf")
    warm_dso = Dso(LIBC, 0, None, None)
    assert answers(warm_dso, offsets, inline=True) == cold
    assert resolve.calls == 0 and dwarf.calls == 0
    # a cached answer's Symbol is looked up when asked for, and is the symbol table's
    res = warm_dso.resolve(offsets[len(offsets) // 2])
    assert res.symbol is not None and res.symbol is Dso(LIBC, 0, None, None)._resolve(res_offset(res, warm_dso)).symbol


def res_offset(res, dso: Dso) -> int:
    return next(off for off, got in dso._cache.items() if got is res)


def test_new_answers_are_added_to_the_file():
    offsets = text_offsets(LIBZ)
    answers(Dso(LIBZ, 0, None, None), offsets[:10])
    next_process()
    answers(Dso(LIBZ, 0, None, None), offsets)
    next_process()
    dso = Dso(LIBZ, 0, None, None)
    dso.resolve(offsets[0])
    assert set(offsets) <= set(dso._disk_resolved)


def test_a_changed_image_is_resolved_again(tmp_path, monkeypatch):
    lib = tmp_path / "libz-copy.so"
    shutil.copy(LIBZ, lib)
    offsets = text_offsets(str(lib))
    cold = answers(Dso(str(lib), 0, None, None), offsets)
    next_process()
    st = os.stat(lib)
    os.utime(lib, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    resolve = Counting(monkeypatch, "_resolve")
    assert answers(Dso(str(lib), 0, None, None), offsets) == cold
    assert resolve.calls == len(offsets)
    next_process()  # rewritten for the file as it is now
    assert answers(Dso(str(lib), 0, None, None), offsets) == cold
    assert resolve.calls == len(offsets)


def test_a_new_debug_file_candidate_drops_the_inline_names(tmp_path, monkeypatch):
    """A file appearing where perf's debug-file order looks first (here under --symfs) may hold other
    DWARF: the stored inline names no longer hold, the symbols (same image and symbol source) still do."""
    symfs = tmp_path / "symfs"
    image = symfs / LIBZ.lstrip("/")
    image.parent.mkdir(parents=True)
    shutil.copy(LIBZ, image)
    offsets = text_offsets(str(image))[:40]
    cold = answers(Dso(LIBZ, 0, None, str(symfs)), offsets, inline=True)
    next_process()
    debug = symfs / ("usr/lib/debug" + LIBZ + ".debug")
    debug.parent.mkdir(parents=True)
    debug.write_bytes(b"not an ELF file")
    resolve, inline = Counting(monkeypatch, "_resolve"), Counting(monkeypatch, "_inline_names")
    assert answers(Dso(LIBZ, 0, None, str(symfs)), offsets, inline=True) == cold
    resolved = sum(Dso(LIBZ, 0, None, str(symfs)).resolve(off) is not None for off in offsets)
    assert resolve.calls == 0 and inline.calls == resolved > 0


def test_changed_symbol_code_drops_everything(monkeypatch):
    offsets = text_offsets(LIBZ)
    cold = answers(Dso(LIBZ, 0, None, None), offsets)
    next_process()
    monkeypatch.setattr(resolved_cache, "_code_signature", (resolved_cache.FORMAT_VERSION, ("edited.py", 1, 2)))
    resolve = Counting(monkeypatch, "_resolve")
    assert answers(Dso(LIBZ, 0, None, None), offsets) == cold
    assert resolve.calls == len(offsets)


@pytest.mark.parametrize("content", [b"", b"garbage", b"\xe9" * 100])
def test_a_damaged_file_is_ignored(content, monkeypatch):
    offsets = text_offsets(LIBZ)
    cold = answers(Dso(LIBZ, 0, None, None), offsets)
    next_process()
    directory = resolved_cache.cache_dir()
    for name in os.listdir(directory):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(content)
    resolve = Counting(monkeypatch, "_resolve")
    assert answers(Dso(LIBZ, 0, None, None), offsets) == cold
    assert resolve.calls == len(offsets)


def test_an_unwritable_cache_costs_only_the_warm_start(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(blocker))  # resolved-vN cannot be made under a file
    offsets = text_offsets(LIBZ)
    cold = answers(Dso(LIBZ, 0, None, None), offsets)
    next_process()
    assert answers(Dso(LIBZ, 0, None, None), offsets) == cold
    assert not [n for n in os.listdir(tmp_path) if n != "a-file"]


def test_a_dso_without_a_file_is_not_cached():
    dso = Dso("//anon", 0, None, None)
    assert dso.resolve(0x1000) is None
    assert dso._disk is False and not resolved_cache._PENDING


def test_a_warm_answer_loads_no_symbol_table(monkeypatch):
    """The files a warm answer holds for are picked without reading their symbols (Dso._pick): the
    symbol table is loaded only for a new answer, and then from the files that were picked."""
    offsets = text_offsets(LIBC, 0x2f1)
    cold_dso = Dso(LIBC, 0, None, None)
    cold = answers(cold_dso, offsets)
    files = cold_dso._files()
    next_process()
    load = Counting(monkeypatch, "_load")
    warm_dso = Dso(LIBC, 0, None, None)
    assert answers(warm_dso, offsets) == cold
    assert load.calls == 0 and warm_dso.symtab is None
    assert warm_dso._files() == files and warm_dso.image is files[0]
    warm_dso.resolve(offsets[0] + 1)  # a new answer: the table is loaded, from the same files
    assert load.calls == 1 and warm_dso._files() == files


def test_a_picked_image_whose_symbols_fail_is_not_the_cached_one(tmp_path, monkeypatch):
    """When reading the first candidate's symbols fails (``_load`` then takes the next one, as perf's
    dso__load goes on), the answers are stored under the files actually read, not the ones picked."""
    from pyperf_probe.errors import SymbolError
    from pyperf_probe.symbols import symtab
    first, second = tmp_path / "a.so", tmp_path / "b.so"
    shutil.copy(LIBZ, first)
    shutil.copy(LIBZ, second)
    offsets = text_offsets(LIBZ)
    monkeypatch.setattr(Dso, "candidate_images", lambda self: [str(second)])
    cold = answers(Dso(LIBZ, 0, None, None), offsets)
    next_process()
    symtab._CACHE.clear()
    load_symtab = symtab.load_symtab

    def failing(path, symfs=None):
        if path == str(first):
            raise SymbolError(f"{path}: damaged")
        return load_symtab(path, symfs)
    monkeypatch.setattr(symtab, "load_symtab", failing)
    monkeypatch.setattr(Dso, "candidate_images", lambda self: [str(first), str(second)])
    dso = Dso(LIBZ, 0, None, None)
    assert dso._files()[0].path == str(first)  # picked before any symbol is read
    assert answers(dso, offsets) == cold
    assert dso.image.path == str(second) and dso._disk.sym_signature[1][0] == str(second)
    resolve = Counting(monkeypatch, "_resolve")
    next_process()
    symtab._CACHE.clear()
    assert answers(Dso(LIBZ, 0, None, None), offsets) == cold
    # the first answer is not stored for the picked image: resolving it loads the symbols, finds the
    # files actually read, and the others are theirs
    assert resolve.calls == 1


def test_svma_of_a_warm_dso_reads_no_symbol_table(monkeypatch):
    """svma (the unwinder's and script's symoff) needs the image alone: with answers on disk for the
    picked files it is the picked image's, as the loaded one's; without answers it loads, as before."""
    offsets = text_offsets(LIBZ)
    cold_dso = Dso(LIBZ, 0, None, None)
    answers(cold_dso, offsets)
    cold = [cold_dso.svma(off) for off in offsets]
    next_process()
    load = Counting(monkeypatch, "_load")
    warm_dso = Dso(LIBZ, 0, None, None)
    assert [warm_dso.svma(off) for off in offsets] == cold and None not in cold[:-2]
    assert load.calls == 0 and warm_dso.symtab is None
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(resolved_cache.cache_dir()) + "-empty")
    resolved_cache._LOADED.clear()
    fresh = Dso(LIBZ, 0, None, None)
    assert [fresh.svma(off) for off in offsets] == cold and load.calls == 1
