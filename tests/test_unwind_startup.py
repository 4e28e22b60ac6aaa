"""Start-up of ``pyperf report`` on a ``--call-graph dwarf`` file: the unwinder's modules (callchain.*)
import none of the costly stdlib modules that tests/test_report_startup.py keeps off report's other paths
(dataclasses, typing, logging, tempfile and what they pull in: ~25 ms of a report before they went).
Other importers of them on this path (symbols' DWARF and demangler) are not this test's business."""
from pathlib import Path

import pytest

from test_report_startup import COSTLY, importers

DATA = Path(__file__).parent / "golden" / "unwind" / "data" / "make.data"


@pytest.mark.parametrize("argv", [["report", "--stdio", "--no-inline"], ["script", "--no-inline"]],
                         ids=["report", "script"])
def test_callchain_imports_nothing_costly(argv):
    imported = importers([*argv, "-i", str(DATA)])
    assert "pyperf_probe.callchain.dwarf_unwind" in imported
    costly = COSTLY | {"tempfile", "shutil"}
    offenders = {name: parent for name, parent in imported.items()
                 if name in costly and (parent or "").startswith("pyperf_probe.callchain")}
    assert offenders == {}
