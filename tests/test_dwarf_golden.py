"""symbols/dwarf.py against real perf 6.1 and binutils' addr2line (tests/golden/dwarf, made by make_goldens.py).

* ``perf probe -D``: the same probe sites (file offsets, in perf's order) and fetch arguments with their
  types, or the same DWARF error text; argument *names* and event names are probe/'s business and are not
  compared here (tests/test_probe_golden.py compares whole commands).
* ``perf probe -V`` and ``perf probe -L``: stdout byte for byte from probe/show.py's formatters.
* ``addr2line -a -i -f`` (what perf report runs for inline frames): the names at every address, in the
  same order through one InlineIndex, as perf runs one addr2line process per DSO.
The same comparisons run live against /usr/bin/perf and addr2line when they are installed (marker perf).
"""
import json
import os
import re
import shutil
import subprocess

import pytest

import golden_module

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.show import format_vars, lines_text
from pyperf_probe.symbols.demangle import demangle
from pyperf_probe.symbols.dwarf.info import DwarfInfo
from pyperf_probe.symbols.dwarf.inline import InlineIndex
from pyperf_probe.symbols.elf import open_elf
from pyperf_probe.symbols.symtab import read_elf_symbols

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "dwarf")
ROOT = os.path.dirname(HERE)
W = os.path.join(ROOT, "build", "workloads")
S = os.path.join(ROOT, "workloads")
cases = golden_module.load("dwarf")
make_goldens = golden_module.load("dwarf", "make_goldens.py")
ADD_FAILED = "  Error: Failed to add events.\n"
SKIP_RE = re.compile(r"Target program is compiled without optimization\. Skipping prologue\.\n"
                     r"Probe on address 0x([0-9a-f]+) to force probing at the function entry\.\n\n")


def load(name):
    with open(os.path.join(GOLDEN, "expected", name)) as f:
        return json.load(f)


def expand(path):
    return path.replace("@W@", W).replace("@S@", S)


def skip_unless_usable(binary):
    path = expand(binary)
    if not os.path.exists(path):
        pytest.skip(f"{path} missing: run `make workloads`")
    if path == cases.LIBC and open_elf(path).build_id != cases.LIBC_BUILD_ID:
        pytest.skip("libc goldens were made with another libc6 build")
    return path


# ---- perf probe -D -------------------------------------------------------------------------------------

def parse_definition(text):
    """``POINT [ARG...]`` of the cases: (function, file, line, lazy, [(expr, cast)])."""
    point, *args = text.split()
    function = file = lazy = None
    line = 0
    if ";" in point:
        point, lazy = point.split(";", 1)
    elif ":" in point:
        point, rel = point.split(":", 1)
        line = int(rel)
    if "." in point and "*" not in point:
        file = point
    else:
        function = point
    parsed = []
    for arg in args:
        expr, _, cast = arg.partition(":")
        parsed.append((expr, cast or None))
    return function, file, line, lazy, parsed


def pyperf_definition(path, text):
    """What symbols/dwarf answers for perf's -D TEXT: ("ok", [(offset, [fetchargs])], warnings, skipped
    entries) or ("error", message, warnings)."""
    dinfo = DwarfInfo.open(path)
    image = open_elf(path)
    function, file, line, lazy, args = parse_definition(text)
    warnings = []
    try:
        if line or lazy is not None or function is None:
            sites = dinfo.line_sites(function=function, file=file, line=line, lazy=lazy)
            svmas = [s.entry_svma for s in sites]
            skipped = []
        else:
            sites = dinfo.function_sites(function, file=file, warn=warnings.append)
            moved = [s.prologue_end_svma is not None and not s.is_inline and bool(args) for s in sites]
            svmas = [s.prologue_end_svma if m else s.entry_svma for s, m in zip(sites, moved)]
            skipped = [s.entry_svma for s, m in zip(sites, moved) if m]
        rows = dinfo.resolve_args(sites, args, svmas, warn=warnings.append) if args else [[] for _ in sites]
    except ProbeError as err:
        return "error", make_goldens.normalize(err.message), warnings
    probes = [(image.svma_to_file_offset(svma), [r.fetcharg + (f":{r.type}" if r.type else "") for r in row])
              for svma, row in zip(svmas, rows)]
    return "ok", probes, warnings, skipped


def perf_definition(golden):
    """The same facts from perf's recorded -D output."""
    err = golden["stderr"]
    skipped = [int(m, 16) for m in SKIP_RE.findall(err)]
    err = SKIP_RE.sub("", err)
    if golden["rc"] != 0:
        message = err[:-len(ADD_FAILED)] if err.endswith(ADD_FAILED) else err
        return "error", message.rstrip("\n")
    probes = []
    for line in golden["stdout"].splitlines():
        _event, location, *args = line.split(" ")
        offset = int(location.rsplit(":", 1)[1], 16)
        probes.append((offset, [a.split("=", 1)[1] for a in args]))
    return "ok", probes, [w + "\n" for w in err.splitlines()], skipped


def check_definition(golden):
    path = skip_unless_usable(golden["binary"])
    expected = perf_definition(golden)
    got = pyperf_definition(path, golden["arg"])
    if expected[0] == "error" and expected[1].endswith("not found.") and "Probe point '" in expected[1]:
        # perf's "not found" is probe/'s message: the DWARF layer finds no site (after its warnings)
        assert got[0] == "ok" and got[1] == [], got
        assert "".join(got[2]) == expected[1][:expected[1].index("Probe point '")]
        return
    if expected[0] == "error":
        assert got[0] == "error", got
        assert ("".join(got[2]) + got[1]).rstrip("\n") == expected[1]
        return
    assert got[0] == "ok", got
    assert got[1] == expected[1]
    assert got[2] == expected[2]
    assert got[3] == expected[3]


@pytest.mark.parametrize("name", sorted(cases.DEFINITIONS))
def test_definition_golden(name):
    check_definition(load("definitions.json")[name])


# ---- perf probe -V -------------------------------------------------------------------------------------

def alternative(dinfo, path):
    """perf's find_alternative_probe_point as probe/ does it: the first ELF symbol of that name, then
    DWARF by address (``probe_point_at``); returns (function, file, line + the asked line) or None."""
    image = open_elf(path)
    rows = read_elf_symbols(image, ".symtab") or read_elf_symbols(image, ".dynsym")

    def alt(function, line=0):
        svma = next((value for name, value, *_ in rows if name == function), None)
        found = dinfo.probe_point_at(svma) if svma is not None else None
        return (found.function, found.file, found.line + line) if found and found.function else None
    return alt


def pyperf_vars(path, point, extra=(), title=None):
    """-V POINT: FUNC[+OFF] through function_sites, FUNC:RLN / SRC:ALN / ;PTN through line_sites. The
    title is perf's re-synthesized point (probe/'s business): tests may pass perf's own."""
    dinfo = DwarfInfo.open(path)
    if ":" in point or ";" in point:
        function, file, line, lazy, _args = parse_definition(point)
        sites = dinfo.line_sites(function=function, file=file, line=line, lazy=lazy)
        lists = [dinfo.variables_at(s, externs="--externs" in extra, ranges="--range" in extra) for s in sites]
        return format_vars(title or point, lists), ""
    func, _, offset = point.partition("+")
    warnings = []
    sites = dinfo.function_sites(func, warn=warnings.append, for_vars=True)
    if not sites:
        other = alternative(dinfo, path)(func)
        if other is not None:
            sites = dinfo.function_sites(other[0], file=other[1], warn=warnings.append, for_vars=True)
    lists = [dinfo.variables_at(s, svma=s.entry_svma + int(offset or 0), externs="--externs" in extra,
                                ranges="--range" in extra) for s in sites]
    return format_vars(point, lists), "".join(warnings)


@pytest.mark.parametrize("name", sorted(cases.VARS))
def test_vars_golden(name):
    golden = load("vars.json")[name]
    path = skip_unless_usable(golden["binary"])
    assert golden["rc"] == 0
    title = golden["stdout"].splitlines()[0][len("Available variables at "):]
    out, warnings = pyperf_vars(path, golden["arg"], title=title)
    assert out == golden["stdout"]
    assert warnings == golden["stderr"]


@pytest.mark.parametrize("name", sorted(cases.VARS_OPTIONS))
def test_vars_options_golden(name):
    golden = load("vars_options.json")[name]
    path = skip_unless_usable(golden["binary"])
    assert golden["rc"] == 0
    assert pyperf_vars(path, golden["arg"], golden["extra"]) == (golden["stdout"], golden["stderr"])


# ---- perf probe -L -------------------------------------------------------------------------------------

def pyperf_lines(path, desc):
    dinfo = DwarfInfo.open(path)
    try:
        return lines_text(dinfo, desc, alternative(dinfo, path)), 0
    except ProbeError as err:
        return err.message, 1


@pytest.mark.parametrize("name", sorted(cases.LINES))
def test_lines_golden(name):
    golden = load("lines.json")[name]
    path = skip_unless_usable(golden["binary"])
    out, failed = pyperf_lines(path, golden["arg"])
    if golden["rc"] != 0:
        assert failed and golden["stderr"].startswith(out + "\n")
        assert golden["stdout"] == ""
    else:
        assert not failed
        assert out == make_goldens.normalize(golden["stdout"]).replace("@W@", W).replace("@S@", S) or \
            make_goldens.normalize(out) == golden["stdout"]


# ---- inline frames (addr2line) ---------------------------------------------------------------------------

def addr2line_names(output):
    """Function names per address from ``addr2line -a -i -f`` output (name and file:line alternate)."""
    per_address, lines, i = [], output.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("0x"):
            per_address.append([])
            i += 1
        else:
            per_address[-1].append(demangle(lines[i]))
            i += 2
    return per_address


def check_inline(path, addresses, output):
    dinfo = DwarfInfo.open(path)
    index = InlineIndex(dinfo, dinfo.elf_function_at)
    expected = addr2line_names(output)
    assert len(expected) == len(addresses)
    covered = 0
    for svma, names in zip(addresses, expected):
        mine = index.frames(svma)
        if mine:
            covered += 1
            assert mine == names, hex(svma)
        else:  # no DWARF function there: addr2line falls back to the symbol table, perf to its symbol
            assert len(names) == 1, hex(svma)
    assert covered > len(addresses) // 2


@pytest.mark.parametrize("key", sorted(cases.INLINE_BINARIES))
def test_inline_frames_golden(key):
    golden = load("inline.json")[key]
    path = skip_unless_usable(golden["binary"])
    check_inline(path, golden["addresses"], golden["output"])


# ---- live: the same comparisons against the installed tools ------------------------------------------------

LIVE_DEMO = [n for n, (b, _d) in sorted(cases.DEFINITIONS.items()) if b != cases.LIBC]


@pytest.mark.perf
@pytest.mark.parametrize("name", LIVE_DEMO)
def test_definition_live(name):
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed")
    binary, text = cases.DEFINITIONS[name]
    skip_unless_usable(binary)
    env = dict(os.environ, PAGER="cat")
    check_definition(make_goldens.run_perf(binary, "-D", text, env))


@pytest.mark.perf
@pytest.mark.parametrize("name", sorted(n for n, (b, _p) in cases.VARS.items() if b != cases.LIBC))
def test_vars_live(name):
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed")
    binary, point = cases.VARS[name]
    path = skip_unless_usable(binary)
    live = subprocess.run(["perf", "probe", "-x", path, "-V", point], capture_output=True, text=True,
                          env=dict(os.environ, PAGER="cat"))
    title = live.stdout.splitlines()[0][len("Available variables at "):]
    assert pyperf_vars(path, point, title=title) == (live.stdout, live.stderr)


@pytest.mark.perf
@pytest.mark.parametrize("key", ["O2", "cxx", "libc"])
def test_inline_frames_live(key):
    if shutil.which("addr2line") is None:
        pytest.skip("addr2line is not installed")
    binary = cases.INLINE_BINARIES[key]
    path = skip_unless_usable(binary)
    addresses = make_goldens.addresses(key + "-live", path)
    out = subprocess.run(["addr2line", "-e", path, "-a", "-i", "-f"] + [hex(a) for a in addresses],
                         capture_output=True, text=True, check=True).stdout
    check_inline(path, addresses, out)
