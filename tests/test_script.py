"""`pyperf script` equals real perf 6.1's `perf script` on files recorded by real perf (goldens made by
tests/golden/script/make_goldens.sh), and reports bad input as perf does."""
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "golden" / "script"
DATA = Path(__file__).parent / "golden" / "report" / "data"
CASES = [line.split("|") for line in (HERE / "cases.txt").read_text().splitlines()
         if line and not line.startswith("#")]


@pytest.fixture
def symfs(report_symfs):
    return str(report_symfs)


def pyperf(*args, home):
    env = dict(os.environ, HOME=str(home))
    env.pop("PERF_BUILDID_DIR", None)
    return subprocess.run([sys.executable, "-m", "pyperf_probe", "script", *args], capture_output=True,
                          text=True, env=env)


@pytest.mark.parametrize("name, data, args", CASES, ids=[c[0] for c in CASES])
def test_script_equals_perf(name, data, args, symfs, tmp_path):
    proc = pyperf("-i", str(DATA / data), "--symfs", symfs, *args.split(), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = lzma.decompress((HERE / "expected" / f"{name}.out.xz").read_bytes()).decode()
    assert proc.stdout == expected


def test_bad_field_is_a_usage_error(tmp_path):
    proc = pyperf("-i", str(DATA / "mt.data"), "-F", "bogus", home=tmp_path)
    assert proc.returncode == 129
    assert proc.stderr.startswith("Invalid field requested.\n")
    assert "Traceback" not in proc.stderr


def test_missing_file_as_perf(tmp_path):
    proc = pyperf("-i", str(tmp_path / "nosuch.data"), home=tmp_path)
    assert proc.returncode == 255
    assert proc.stderr == f"failed to open {tmp_path / 'nosuch.data'}: No such file or directory\n"
