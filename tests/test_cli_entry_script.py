"""The venv's `pyperf` command as entry_script.py writes it (make venv): pip's console script run with
`python -S`, the paths site would add written in. It must find the package and its dependencies and print
what `python -m pyperf_probe` prints."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import entry_script  # noqa: E402

DATA = os.path.join(ROOT, "tests", "golden", "report", "data", "mt.data")


@pytest.fixture(scope="module")
def command(tmp_path_factory):
    path = tmp_path_factory.mktemp("entry") / "pyperf"
    subprocess.run([sys.executable, os.path.join(ROOT, "entry_script.py"), str(path)], check=True)
    return str(path)


def test_script_runs_without_site(command):
    with open(command) as f:
        assert f.readline() == f"#!{sys.executable} -S\n"
    code = "import sys; print(int(sys.flags.no_site), 'site' in sys.modules)"
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "False"]


def test_site_paths_hold_the_package_and_its_dependencies():
    paths = entry_script.site_paths()
    code = (f"import sys; sys.path += {paths!r}; import pyperf_probe, elftools, capstone, tabulate, ptrace; "
            "print(pyperf_probe.__file__)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd="/",
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, check=True).stdout
    assert out.strip() == os.path.join(ROOT, "pyperf_probe", "__init__.py")


@pytest.mark.parametrize("args", [["report", "--stdio", "--no-children", "--sort", "comm,dso,sym", "-g", "flat"],
                                  ["report", "--stdio", "-g", "flat", "-i", "/nonexistent.data"],
                                  ["script"], ["--version"]])
def test_same_as_python_m(command, args, tmp_path):
    if "-i" not in args and args[0] in ("report", "script"):
        args = args + ["-i", DATA]
    env = dict(os.environ, HOME=str(tmp_path), PAGER="cat")
    env.pop("PYTHONPATH", None)
    got = subprocess.run([command, *args], capture_output=True, text=True, env=env, cwd="/")
    want = subprocess.run([sys.executable, "-m", "pyperf_probe", *args], capture_output=True, text=True,
                          env=env, cwd="/")
    tip = lambda text: "\n".join(line for line in text.splitlines() if not line.startswith("# (")) # noqa: E731
    assert (got.returncode, tip(got.stdout), got.stderr) == (want.returncode, tip(want.stdout), want.stderr)
