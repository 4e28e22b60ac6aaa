"""symbols/demangle.py: perf 6.1's C++ names (libiberty cplus_demangle without DMGL_PARAMS), checked against
the names real ``perf probe -F --filter '*'`` printed for C++ binaries (tests/golden/dwarf/expected/funcs.json)
and against known libiberty outputs."""
import json
import os

import pytest

import golden_module

from pyperf_probe.symbols import demangle as dm
from pyperf_probe.symbols.elf import open_elf
from pyperf_probe.symbols.symtab import read_elf_symbols

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
