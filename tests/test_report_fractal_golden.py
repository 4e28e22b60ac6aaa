"""`pyperf report` in every -g mode against real perf 6.1 on the recording of issue 11 (python3 doing json work,
uprobe on libc's malloc, frame-pointer chains): tests/golden/fractal/, made by make_goldens.sh there.

perf's fractal output ends a level whose children do not hold all its hits with a `--P%--[...]` line, and
prints ` (inlined)` after it or not depending on a byte it never initialized (ui/stdio/hist.c
``init_rem_hits`` mallocs the `[...]` symbol; see the goldens' README). Each fractal case was therefore
stored three times: perf's ordinary run (`NAME.out`, either form), and the same command with every malloc'd
byte reading 0x00 (`NAME.zero.out`) or 0xfe (`NAME.ones.out`). pyperf prints the zeroed form: it equals
`NAME.zero.out` byte for byte, and the other two after ` (inlined)` is dropped from `[...]` lines.
The random `# (Tip: ...)` line is masked everywhere."""
import os
import re

import pytest

from pyperf_probe import cli

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "fractal")
DATA = os.path.join(GOLDEN, "data", "py-json.data")
MTIME = 1767225600  # 2026-01-01 00:00:00 UTC, as make_goldens.sh touched the file
REM_INLINED = re.compile(r"--\[\.\.\.\] \(inlined\)$", re.M)


def _cases():
    with open(os.path.join(GOLDEN, "cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, args = line.rstrip("\n").split("|")
                yield pytest.param(name, args, id=name)


CASES = list(_cases())
FRACTAL = [c for c in CASES if "fractal" in c.values[1]]


def _expected(name: str) -> str:
    with open(os.path.join(GOLDEN, "expected", name)) as f:
        return f.read()


def _mask_tip(text: str) -> str:
    return re.sub(r"^# \(Tip: .*\)$", "# (TIP)", text, flags=re.M)


def _zeroed(text: str) -> str:
    """perf's text as printed when the `[...]` symbol's `inlined` bit happens to be clear."""
    return REM_INLINED.sub("--[...]", text)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    import tarfile
    root = tmp_path_factory.mktemp("fractal_golden")
    with tarfile.open(os.path.join(GOLDEN, "symfs.tar.xz")) as tar:
        tar.extractall(root / "symfs")
    data = root / "py-json.data"
    with open(DATA, "rb") as src, open(data, "wb") as dst:
        dst.write(src.read())
    os.utime(data, (MTIME, MTIME))
    (root / "home").mkdir()
    return root


def _pyperf(env, args, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(env / "home"))
    path = str(env / "py-json.data")
    rc = cli.main(["report", "-i", path, "--symfs", str(env / "symfs")] + args.split())
    out, err = capsys.readouterr()
    return rc, out, err.replace(path, "INPUT")


@pytest.mark.parametrize("name,args", CASES)
def test_report_equals_perf(name, args, env, monkeypatch, capsys, utc):
    rc, out, err = _pyperf(env, args, monkeypatch, capsys)
    assert _mask_tip(out) == _mask_tip(_zeroed(_expected(f"{name}.out")))
    assert rc == int(_expected(f"{name}.rc"))
    assert err == _expected(f"{name}.err")


@pytest.mark.parametrize("name,args", FRACTAL)
def test_fractal_equals_perf_with_zeroed_malloc(name, args, env, monkeypatch, capsys, utc):
    """Byte for byte (but the tip) with perf run where malloc hands out zeroed memory."""
    _, out, _ = _pyperf(env, args, monkeypatch, capsys)
    assert "--[...]\n" in out
    assert _mask_tip(out) == _mask_tip(_expected(f"{name}.zero.out"))


@pytest.mark.parametrize("name,args", FRACTAL)
def test_perf_flag_is_memory_not_data(name, args):
    """The goldens themselves: with 0xfe in its malloc'd memory perf adds ` (inlined)` to every `[...]` line
    and changes nothing else; its ordinary run printed one of the two forms."""
    zero = _mask_tip(_expected(f"{name}.zero.out"))
    ones = _mask_tip(_expected(f"{name}.ones.out"))
    natural = _mask_tip(_expected(f"{name}.out"))
    assert REM_INLINED.search(ones) and not REM_INLINED.search(zero)
    assert ones.replace("--[...] (inlined)\n", "--[...]\n") == zero
    assert natural in (zero, ones)


def test_perf_printed_both_forms():
    """The same file and the same fractal mode, two ordinary perf runs, two forms: no rule in the data decides
    (make_goldens.sh ran perf once per case; the heap differs with the options and the random tip)."""
    forms = {bool(REM_INLINED.search(_expected(f"{c.values[0]}.out"))) for c in FRACTAL}
    assert forms == {True, False}


def test_other_modes_print_no_remainder():
    """graph (absolute), flat, folded and caller/callee graphs have no `[...]` line in perf 6.1: only
    CHAIN_GRAPH_REL prints the remaining hits (``__callchain__fprintf_graph``)."""
    for c in CASES:
        if c not in FRACTAL:
            assert "[...]" not in _expected(f"{c.values[0]}.out"), c.values[0]
