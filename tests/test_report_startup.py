"""Start-up of ``pyperf report`` and ``pyperf script`` (bench/report, bench/report_imports): nothing on the
report's flat, default (trace key) and ``-g none`` paths, nor on script's, imports the costly stdlib
modules (dataclasses, typing, enum, re, logging, random, argparse and what they pull in). With them, and
the dataclass and enum classes they built, imports took ~47 ms of a report that perf prints in 70-150 ms;
without them ~10 ms.

The import tree comes from ``python -X importtime``; a module's importer is the next entry listed at a
smaller depth (children are listed before their parent), named in the failure."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "golden" / "report" / "data" / "mt.data"
COSTLY = {"dataclasses", "typing", "enum", "re", "logging", "random", "argparse", "inspect", "ast", "gettext"}
LINE = re.compile(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)")


def importers(argv):
    err = subprocess.run([sys.executable, "-X", "importtime", "-m", "pyperf_probe", *argv], capture_output=True,
                         text=True, check=True).stderr
    entries = [(len(indent), name) for indent, name in LINE.findall(err)]
    start = next(i for i, (_, name) in enumerate(entries) if name == "pyperf_probe")
    out = {}
    for i in range(start, len(entries)):
        depth, name = entries[i]
        parent = next((n for d, n in entries[i + 1:] if d < depth), None)
        out[name] = parent
    return out


@pytest.mark.parametrize("argv", [
    ["report", "--stdio", "--no-children", "--sort", "comm,dso,sym", "-g", "flat"],
    ["report", "--stdio"],
    ["report", "--stdio", "--sort", "dso,sym", "-g", "none"],
    ["script"],
], ids=["flat", "default", "none", "script"])
def test_no_costly_stdlib_imports(argv):
    imported = importers([*argv, "-i", str(DATA)])
    assert "pyperf_probe.perfdata.reader" in imported and "pyperf_probe.session" in imported
    offenders = {name: parent for name, parent in imported.items() if name in COSTLY}
    assert offenders == {}
