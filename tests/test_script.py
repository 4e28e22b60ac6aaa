"""`pyperf script` equals real perf 6.1's `perf script` on files recorded by real perf (goldens made by
tests/golden/script/make_goldens.sh), and reports bad input as perf does."""
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, settings, strategies as st

from pyperf_probe import cmd_script
from pyperf_probe.errors import UsageError

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


def test_double_dash_is_fields_value_as_perf(tmp_path):
    """perf script -F -- prints "Invalid field requested." (parse-options takes ``--`` as the value)."""
    proc = pyperf("-i", str(DATA / "mt.data"), "-F", "--", home=tmp_path)
    assert proc.returncode == 129
    assert proc.stderr.startswith("Invalid field requested.\n")


def test_missing_file_as_perf(tmp_path):
    proc = pyperf("-i", str(tmp_path / "nosuch.data"), home=tmp_path)
    assert proc.returncode == 255
    assert proc.stderr == f"failed to open {tmp_path / 'nosuch.data'}: No such file or directory\n"


OPTION_WORDS = ["-i", "--input", "-F", "--fields", "--ns", "-G", "--hide-call-graph", "--symfs", "-f", "--force",
                "--no-inline", "--comm", "--pid", "--tid", "-v", "--verbose", "-vv", "--input=x.data", "--ns=1",
                "--symf", "-ix.data", "--", "-", "x.data", "-trace,+pid", "+period", "comm,tid", "1,2", "-1", "-h"]


@given(st.lists(st.sampled_from(OPTION_WORDS), max_size=8))
@settings(max_examples=300, deadline=None)
def test_fast_option_loop_reads_as_argparse(argv):
    """cmd_script.parse_args (argparse only for what its loop does not read) gives argparse's result.

    Except for ``-F --``: perf's parse-options takes ``--`` as -F's value ("Invalid field requested."), and
    so does the loop, while argparse 3.11 drops a ``--`` that is an option's value and reads ``[]``."""
    assume(not any(a in ("-F", "--fields") and b == "--" for a, b in zip(argv, argv[1:])))
    def outcome(parse):
        try:
            return "ok", vars(parse(argv))
        except UsageError as exc:
            return "usage", exc.message
        except SystemExit as exc:  # --help
            return "exit", exc.code
    assert outcome(cmd_script.parse_args) == outcome(cmd_script.build_parser().parse_args)


def test_ordinary_options_do_not_import_argparse():
    code = ("import sys; from pyperf_probe import cmd_script; "
            "a = cmd_script.parse_args(['-i', 'f.data', '-F', '-trace,+pid', '--ns', '-G', '--symfs', '/s', '-v']); "
            "print('argparse' in sys.modules, a.input, a.fields, a.ns, a.hide_call_graph, a.symfs, a.verbose)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "False f.data -trace,+pid True True /s 1\n"
