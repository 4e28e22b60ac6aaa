"""The benches run pyperf with the interpreter that runs them (``sys.executable``): it must be the project's
(``make`` installs pyperf and its dependencies, pyelftools among them, into .venv). Run from another Python
(``./bench/report`` picks the first ``python3`` on PATH), a cold DWARF report failed on ``import elftools``
and the bench printed that failure's time as pyperf's. ``ensure()`` runs the bench again under .venv's
Python, or stops with one line when there is none."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")


def ensure() -> None:
    """Re-execute the running bench under .venv's Python unless it already runs there."""
    if os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(ROOT, ".venv")):
        return
    if not os.access(VENV_PYTHON, os.X_OK):
        sys.exit(f"bench: {VENV_PYTHON} is missing: run `make test` (or `make venv`) first")
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(sys.argv[0])] + sys.argv[1:])
