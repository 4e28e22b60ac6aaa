"""symbols/demangle.py: perf 6.1's C++ names (libiberty cplus_demangle without DMGL_PARAMS), checked against
the names real ``perf probe -F --filter '*'`` printed for C++ binaries (tests/golden/dwarf/expected/funcs.json)
and against known libiberty outputs."""
import json
import os
import subprocess

import pytest

import golden_module

from pyperf_probe.symbols import demangle as dm
from pyperf_probe.symbols.elf import open_elf
from pyperf_probe.symbols.symtab import read_elf_symbols, symbol_columns

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "dwarf")
W = os.path.join(os.path.dirname(HERE), "build", "workloads")
cases = golden_module.load("dwarf")

KNOWN = [
    # (mangled, perf's default, perf -v)
    ("_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<int, std::allocator<int> >::push_back",
     "std::vector<int, std::allocator<int> >::push_back(int const&)"),
    ("_Z3maxIiET_S0_S0_", "max<int>", "int max<int>(int, int)"),
    ("_ZNKSt5ctypeIcE8do_widenEc", "std::ctype<char>::do_widen", "std::ctype<char>::do_widen(char) const"),
    ("_ZNSt7__cxx118messagesIwEC2Em", "std::__cxx11::messages<wchar_t>::messages",
     "std::__cxx11::messages<wchar_t>::messages(unsigned long)"),
    ("malloc", "malloc", "malloc"),
    ("_GLOBAL__sub_I_foo.cc", "_GLOBAL__sub_I_foo.cc", "_GLOBAL__sub_I_foo.cc"),
]


@pytest.mark.parametrize("mangled, plain, with_params", KNOWN)
def test_known_names(mangled, plain, with_params):
    assert dm.demangle(mangled) == plain
    assert dm.demangle(mangled, params=True) == with_params


@pytest.mark.parametrize("full, stripped", [
    ("int max<int>(int, int)", "max<int>"),
    ("std::ctype<char>::do_widen(char) const", "std::ctype<char>::do_widen"),
    ("std::vector<int, std::allocator<int> >::push_back(int const&)",
     "std::vector<int, std::allocator<int> >::push_back"),
    ("foo::operator()(int)", "foo::operator()"),
    ("plain", "plain"),
])
def test_strip_params_fallback(full, stripped):
    """Without libbfd, __cxa_demangle's full name is cut back to libiberty's no-options form."""
    assert dm.strip_params(full) == stripped


def test_cxa_backend_agrees_with_libiberty():
    cxa = dm._load_cxa_demangle()
    if cxa is None or dm._load_cplus_demangle() is None:
        pytest.skip("needs both libstdc++ and libbfd")
    for mangled, plain, with_params in KNOWN:
        if mangled.startswith("_Z"):
            assert cxa(mangled.encode(), dm.DMGL_NO_OPTS) == plain
            assert cxa(mangled.encode(), dm.DMGL_PARAMS) == with_params


@pytest.mark.parametrize("key", sorted(cases.FUNCS))
def test_perf_funcs_are_demangled_symbols(key):
    """Every name perf -F printed is the demangling of a symbol of the binary, and the binary's mangled
    symbols demangle to names perf printed (with "--filter '*'" perf lists objects too)."""
    with open(os.path.join(GOLDEN, "expected", "funcs.json")) as f:
        golden = json.load(f)[key]
    path = golden["binary"].replace("@W@", W)
    if not os.path.exists(path):
        pytest.skip(f"{path} missing: run `make workloads`")
    image = open_elf(path)
    rows = read_elf_symbols(image, ".symtab") or read_elf_symbols(image, ".dynsym")
    names = {row[0].split("@")[0] for row in rows}
    demangled = {dm.demangle(n) for n in names}
    perf_names = {line for line in golden["stdout"].splitlines() if not line.endswith("@plt")}
    assert perf_names <= demangled
    mangled = {dm.demangle(n) for n in names if n.startswith("_Z")}
    listed = mangled & perf_names
    assert len(listed) >= 0.9 * len(mangled) and len(listed) >= 8


def test_accelerator_is_the_ctypes_call(monkeypatch):
    """The C accelerator's cplus_demangle (libbfd dlopen'ed in C, no ctypes import) and the ctypes call of
    the same library give the same names, with and without parameters; a library without the function is
    an OSError, and the loader then goes on to the next candidate."""
    speedups = dm.speedups
    if speedups is None or not hasattr(speedups, "cplus_demangle"):
        pytest.skip("C accelerator not built")
    monkeypatch.setattr(speedups, "demangle_linked", 0)  # (libbfd's copy, dlopen'ed in C)
    with_c = dm._load_cplus_demangle()
    if with_c is None:
        pytest.skip("needs libbfd")
    monkeypatch.setattr(dm, "speedups", None)
    with_ctypes = dm._load_cplus_demangle()
    names = [m.encode() for m, *_ in KNOWN] + [b"_ZN3foo3barEv", b"_Zbogus", b"", b"\xff_Z"]
    for flags in (dm.DMGL_NO_OPTS, dm.DMGL_PARAMS | dm.DMGL_ANSI):
        assert [with_c(n, flags) for n in names] == [with_ctypes(n, flags) for n in names]
    with pytest.raises(OSError):  # (a library without cplus_demangle)
        speedups.cplus_demangle("libc.so.6", [b"_Z1fv"], 0)
    with pytest.raises(OSError):
        speedups.cplus_demangle("/nonexistent/libbfd.so", [b"_Z1fv"], 0)
    with pytest.raises(TypeError):
        speedups.cplus_demangle(with_c.__defaults__[1], ["_Z1fv"], 0)


def test_linked_libiberty_is_libbfds(monkeypatch):
    """The C accelerator links libiberty's cplus_demangle (setup.py; libiberty-dev, which `make` installs),
    as perf 6.1 does, and it gives the names libbfd's copy gives (dlopen'ed): KNOWN's, malformed ones, and
    every mangled name of cc1's .dynsym (a C++ program with ~20K of them), with and without parameters."""
    speedups = dm.speedups
    if speedups is None:
        pytest.skip("C accelerator not built")
    assert speedups.demangle_linked == 1, "libiberty-dev is installed by make: setup.py should link it"
    linked = dm._load_cplus_demangle()
    assert linked.__defaults__ == (speedups.cplus_demangle,)  # (not a library's path: the linked copy)
    monkeypatch.setattr(speedups, "demangle_linked", 0)
    with_libbfd = dm._load_cplus_demangle()
    if with_libbfd is None:
        pytest.skip("needs libbfd")
    names = [m.encode() for m, *_ in KNOWN] + [b"_ZN3foo3barEv", b"_Zbogus", b"", b"\xff_Z", b"_Z" + b"N" * 5000]
    cc1 = subprocess.run(["gcc", "-print-prog-name=cc1"], capture_output=True, text=True).stdout.strip()
    if os.path.exists(cc1):
        names += [n.encode() for n in symbol_columns(open_elf(cc1), ".dynsym")[0] if n.startswith("_Z")]
    assert len(names) > 1000 or not os.path.exists(cc1)
    for flags in (dm.DMGL_NO_OPTS, dm.DMGL_PARAMS | dm.DMGL_ANSI):
        assert speedups.cplus_demangle("", names, flags) == speedups.cplus_demangle(with_libbfd.__defaults__[1],
                                                                                    names, flags)


def test_cold_report_path_does_not_import_ctypes():
    """Demangling through the accelerator leaves ctypes unimported (its import is ~4 ms of a cold report)."""
    import subprocess
    import sys
    if dm.speedups is None or not hasattr(dm.speedups, "cplus_demangle") or dm._load_cplus_demangle() is None:
        pytest.skip("needs the C accelerator and libbfd")
    code = ("import sys; from pyperf_probe.symbols.demangle import demangle; "
            "assert demangle('_Z3maxIiET_S0_S0_') == 'max<int>'; print('ctypes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_libbfd_found_in_the_loader_cache(tmp_path):
    """The loader cache's libbfd paths (what ldconfig lists) come first, sorted, existing ones only; a
    missing cache gives none (the folders' listings then); the real cache's entry is one the folder glob
    finds too (the same library, maybe through the /lib link)."""
    lib = tmp_path / "libbfd-9.9-system.so"
    lib.write_bytes(b"")
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(b"glibc-ld.so.cache1.1\0libbfd-9.9-system.so\0" + str(lib).encode() + b"\0/nonexistent/libbfd-1.so\0"
                      + str(tmp_path / "libbfd-9.9-system.so.1").encode() + b"\0libc.so.6\0/lib/libc.so.6")
    assert dm._ld_cache_matching(str(cache)) == [str(lib)]
    assert dm._ld_cache_matching(str(tmp_path / "none")) == []
    real = dm._ld_cache_matching()
    globbed = [p for pattern in dm._LIBBFD_GLOBS for p in dm._matching(pattern)]
    if not real or not globbed:
        pytest.skip("no libbfd in the loader cache or the folders")
    assert {os.path.realpath(p) for p in real} <= {os.path.realpath(p) for p in globbed}
