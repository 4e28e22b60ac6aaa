"""`pyperf report --max-stack N` against real perf 6.1's own output, byte for byte (tests/golden/max_stack/,
made by make_goldens.sh there from the report goldens' recordings): stdout, stderr and exit status.

perf keeps at most N entries of each chain, walking it from the leaf, or from the root in caller order
(children, -G, -g caller), and never sees what lies past them. The `# (Tip: ...)` line is masked (perf's is
random), and pyperf's usage line names pyperf where perf's names perf."""
import os
import re
import shutil

import pytest

from pyperf_probe import cli

HERE = os.path.join(os.path.dirname(__file__), "golden")
GOLDEN = os.path.join(HERE, "max_stack")
DATA = os.path.join(HERE, "report", "data")


def _cases():
    with open(os.path.join(GOLDEN, "cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, data, args = line.rstrip("\n").split("|")
                yield pytest.param(name, data, args, id=name)


@pytest.fixture(scope="module")
def golden_env(tmp_path_factory, report_symfs):
    root = tmp_path_factory.mktemp("max_stack_golden")
    (root / "symfs").symlink_to(report_symfs)
    shutil.copytree(DATA, root / "data")
    (root / "home").mkdir()
    return root


def _normalize(text: str) -> str:
    return re.sub(r"^# \((Tip: .*|Cannot load tips\.txt file, please install perf!)\)$", "# (TIP)", text,
                  flags=re.M)


def _expected(name: str, ext: str) -> str:
    with open(os.path.join(GOLDEN, "expected", f"{name}.{ext}")) as f:
        return f.read()


@pytest.mark.parametrize("name,data,args", list(_cases()))
def test_max_stack_equals_perf(name, data, args, golden_env, monkeypatch, capsys, speedups_or_not):
    monkeypatch.setenv("HOME", str(golden_env / "home"))
    monkeypatch.setenv("PAGER", "cat")
    path = str(golden_env / "data" / data)
    rc = cli.main(["report", "-i", path, "--symfs", str(golden_env / "symfs")] + args.split())
    out, err = capsys.readouterr()
    assert _normalize(out) == _normalize(_expected(name, "out"))
    assert rc == int(_expected(name, "rc"))
    assert err.replace(path, "INPUT").replace(" Usage: pyperf ", " Usage: perf ") == _expected(name, "err")


def test_cases_cut_chains():
    """The cases are not all the same report: --max-stack 1 and 2 change what perf prints."""
    assert _expected("mt_ms1_default", "out") != _expected("mt_ms2_default", "out")
