"""symbols/symtab.py: perf's symbol selection, alias choice, end fixup and lookups."""
import fnmatch
import os
import shutil
import subprocess

import pytest

from elfbuild import TEXT_VADDR, build_elf
from pyperf_probe.symbols.symtab import (STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC,
                                         STT_NOTYPE, STT_OBJECT, Symbol, choose_best_symbol, load_symtab)

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
T = TEXT_VADDR


def table(tmp_path, syms, **kw):
    p = tmp_path / "prog"
    # a fresh build-id per file: symbol tables are cached per build-id
    p.write_bytes(build_elf(syms, build_id=os.urandom(20), **kw))
    return load_symtab(str(p))


def test_filter_keeps_functions_objects_and_text_labels(tmp_path):
    t = table(tmp_path, [
        ("f", T + 0x10, 16, STT_FUNC, STB_GLOBAL, "text"),
        ("ifn", T + 0x20, 16, STT_GNU_IFUNC, STB_GLOBAL, "text"),
        ("obj", T + 0x30, 8, STT_OBJECT, STB_LOCAL, "text"),
        ("label", T + 0x38, 0, STT_NOTYPE, STB_LOCAL, "text"),
        ("sized_notype", T + 0x40, 4, STT_NOTYPE, STB_LOCAL, "text"),
        ("undef", 0, 0, STT_FUNC, STB_GLOBAL, "undef"),
        ("absfunc", 0x5, 0, STT_FUNC, STB_GLOBAL, "abs"),
        ("", T + 0x50, 4, STT_FUNC, STB_LOCAL, "text"),
    ])
    assert t.names() == ["f", "ifn", "label", "obj"]
    assert t.by_name("ifn")[0].is_ifunc


def test_zero_size_symbols_extend_to_next(tmp_path):
    t = table(tmp_path, [("a", T, 0, STT_FUNC, STB_GLOBAL, "text"),
                         ("b", T + 0x40, 0x10, STT_FUNC, STB_GLOBAL, "text"),
                         ("last", T + 0x100, 0, STT_FUNC, STB_GLOBAL, "text")])
    assert t.lookup(T + 0x3f).name == "a"
    assert t.lookup(T + 0x40).name == "b"
    assert t.lookup(T + 0x50) is None           # gap between b's end and `last`
    assert t.lookup(T + 0x100).name == "last"
    assert t.by_name("last")[0].end == (T + 0x100 + 4095) // 4096 * 4096 + 4096   # roundup() + a page
    assert t.lookup(T - 1) is None


@pytest.mark.parametrize("a,b,best", [
    (("x", 0, 16, STT_FUNC, STB_GLOBAL), ("y", 0, 0, STT_FUNC, STB_GLOBAL), "x"),      # nonzero size
    (("x", 0, 16, STT_FUNC, STB_WEAK), ("y", 0, 16, STT_FUNC, STB_LOCAL), "y"),        # non-weak
    (("x", 0, 16, STT_FUNC, STB_LOCAL), ("y", 0, 16, STT_FUNC, STB_GLOBAL), "y"),      # global
    (("__x", 0, 16, STT_FUNC, STB_GLOBAL), ("_yy", 0, 16, STT_FUNC, STB_GLOBAL), "_yy"),  # underscores
    (("abc", 0, 16, STT_FUNC, STB_GLOBAL), ("abcd", 0, 16, STT_FUNC, STB_GLOBAL), "abcd"),  # longer
    (("abc", 0, 16, STT_FUNC, STB_GLOBAL), ("xyz", 0, 16, STT_FUNC, STB_GLOBAL), "abc"),    # tie: first
])
def test_choose_best_symbol(a, b, best):
    sa, sb = Symbol(*a, end=a[1] + a[2]), Symbol(*b, end=b[1] + b[2])
    assert choose_best_symbol(sa, sb).name == best


def test_aliases_kept_by_name_but_lookup_picks_best(tmp_path):
    t = table(tmp_path, [("__libc_malloc", T, 32, STT_FUNC, STB_GLOBAL, "text"),
                         ("malloc", T, 32, STT_FUNC, STB_GLOBAL, "text"),
                         ("__malloc", T, 32, STT_FUNC, STB_LOCAL, "text")])
    assert sorted(t.names()) == ["__libc_malloc", "__malloc", "malloc"]
    assert t.lookup(T + 5).name == "malloc"


def test_dynsym_only_binary(tmp_path):
    t = table(tmp_path, [("exported", T, 8, STT_FUNC, STB_GLOBAL, "text")], symtab_name=".dynsym")
    assert not t.has_symtab
    assert t.names() == ["exported"]


def test_libc_malloc_is_malloc():
    t = load_symtab(LIBC)
    sym = t.lookup(t.by_name("malloc")[0].svma)
    assert sym.name == "malloc"
    assert {s.name for s in t.symbols if s.svma == sym.svma} >= {"malloc", "__libc_malloc"}


def test_libc_lookup_agrees_with_nm():
    """Every defined FUNC of libc's .dynsym resolves to a symbol starting at its address."""
    t = load_symtab(LIBC)
    out = subprocess.run(["nm", "-D", "--defined-only", LIBC], capture_output=True, text=True).stdout
    funcs = [int(line.split()[0], 16) for line in out.splitlines() if line.split()[1] in ("T", "i")]
    assert len(funcs) > 1000
    for svma in funcs:
        assert t.lookup(svma).svma == svma


@pytest.mark.perf
@pytest.mark.skipif(not shutil.which("perf"), reason="perf is not installed")
@pytest.mark.parametrize("path", [LIBC, "/usr/bin/ls", "/usr/bin/bash"])
def test_names_equal_perf_funcs(path):
    t = load_symtab(path)
    mine = [n for n in t.names() if not n.startswith("_") and not fnmatch.fnmatchcase(n, "*@plt")]
    perf = subprocess.run(["perf", "probe", "-F", "-x", path], capture_output=True, text=True).stdout.split("\n")
    assert mine == perf[:-1]


@pytest.mark.perf
@pytest.mark.skipif(not shutil.which("perf"), reason="perf is not installed")
@pytest.mark.parametrize("path", [LIBC, "/usr/bin/ls"])
def test_plt_names_equal_perf(path):
    t = load_symtab(path)
    mine = [n for n in t.names() if n.endswith("@plt")]
    perf = subprocess.run(["perf", "probe", "-x", path, "-F*@plt"], capture_output=True, text=True).stdout.split("\n")
    assert mine == perf[:-1]


def _system_elf_files(count=40):
    import glob
    files = sorted(f for f in glob.glob("/usr/lib/x86_64-linux-gnu/*.so*") + glob.glob("/usr/bin/*")
                   if os.path.isfile(f) and not os.path.islink(f))
    out = []
    for f in files[::max(1, len(files) // (count * 2))]:
        with open(f, "rb") as fh:
            if fh.read(4) == b"\x7fELF":
                out.append(f)
    return out[:count]


@pytest.mark.perf
@pytest.mark.skipif(not shutil.which("perf"), reason="perf is not installed")
def test_every_name_of_many_system_files_equals_perf(tmp_path):
    """Aliases, duplicates (.symtab and .dynsym), @plt entries, demangled C++: ``perf probe -F '*'``."""
    env = dict(os.environ, PERF_BUILDID_DIR=str(tmp_path))
    files = _system_elf_files()
    assert len(files) >= 20
    for path in files:
        perf = subprocess.run(["perf", "probe", "-F*", "-x", path], capture_output=True, text=True, env=env)
        names = load_symtab(path).names()
        assert "".join(n + "\n" for n in names) == perf.stdout, path
