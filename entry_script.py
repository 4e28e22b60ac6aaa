"""Writes the venv's ``pyperf`` command (``make venv`` runs it after pip's install): pip's console script
for ``pyperf = pyperf_probe.cli:main`` (setup.cfg), but run with ``python -S``.

Without ``-S`` the interpreter imports ``site`` at every start: it reads pyvenv.cfg, lists and executes the
.pth files of site-packages, and looks for sitecustomize and usercustomize modules that do not exist.
``pyperf`` needs none of that beyond the paths site would add, so this script adds them itself, in site's
order: each site-packages directory, then the directories its .pth files name (the editable install's
project root among them); .pth lines that run code are left out. The saving is about half a millisecond of
every command (bench/report's error-path sets: ~0.5 ms of ~16). PYTHONPATH and the other PYTHON*
variables still apply (no ``-I``: tests and benches point PYTHONPATH at other trees).

    python entry_script.py PATH     # PATH: the script to write (the venv's bin/pyperf)
"""
import os
import site
import sys


def site_paths() -> list:
    """The directories ``site`` adds to sys.path for this interpreter: site-packages, then .pth entries."""
    out = []
    for folder in site.getsitepackages():
        if not os.path.isdir(folder):
            continue
        out.append(folder)
        for name in sorted(n for n in os.listdir(folder) if n.endswith(".pth")):
            with open(os.path.join(folder, name)) as f:
                for line in f:
                    line = line.rstrip()
                    if not line or line.startswith(("#", "import ", "import\t")):
                        continue
                    path = os.path.abspath(os.path.join(folder, line))
                    if os.path.isdir(path) and path not in out:
                        out.append(path)
    return out


def script(python: str, paths: list) -> str:
    return (f"#!{python} -S\n"
            "# Written by entry_script.py (make venv): pip's console script for pyperf_probe.cli:main, run without\n"
            "# the site module; the paths site would add are added here.\n"
            "import sys\n"
            f"sys.path += {paths!r}\n"
            "from pyperf_probe.cli import main\n"
            "sys.exit(main())\n")


def main() -> int:
    target = sys.argv[1]
    text = script(sys.executable, site_paths())
    tmp = target + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
