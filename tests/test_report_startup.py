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


def test_no_group_module_without_groups():
    """A file without HEADER_GROUP_DESC (mt.data) and no --group: report.group (its Frozen class, ~0.2 ms) is
    not imported (cmd_report._groups answers what file_groups would, none); with --group on two events it is."""
    assert "pyperf_probe.report.group" not in importers(["report", "--stdio", "-i", str(DATA)])
    two = DATA.parent / "two.data"  # (two events: --group makes one of them)
    assert "pyperf_probe.report.group" in importers(["report", "--stdio", "--group", "-i", str(two)])


NOCG = Path(__file__).parent / "golden" / "report" / "data" / "nocg.data"
SYSTEM = Path(__file__).parent / "golden" / "tracepoints" / "data" / "system.data.xz"  # tracepoints, no chains
# what a report reads samples with; none of it is needed to say that a file has no call chains
SESSION_MODULES = {"pyperf_probe.session", "pyperf_probe.traceevent.events", "pyperf_probe.report.hist",
                   "pyperf_probe.report.builder", "pyperf_probe.callchain.tree", "pyperf_probe.report.stdio"}
# nor the record stream: opening the file reads its header, attrs and features only (perfdata.reader makes
# the stream at its first use), and nothing on that path imports collections or functools
STREAM_MODULES = {"pyperf_probe.perfdata.stream", "pyperf_probe.perfdata.sample", "pyperf_probe.perfdata.ordered",
                  "pyperf_probe.perfdata.records", "collections", "collections.abc", "functools", "types"}


@pytest.mark.parametrize("argv", [
    ["report", "--stdio", "-g", "flat"],
    ["report", "--stdio", "--sort", "dso,comm", "-g", "graph", "--dso", "[unknown]"],
], ids=["flat", "elided"])
def test_no_callchain_error_makes_no_session(argv):
    """perf's "Selected -g ... But no callchain" error (report__setup_sample_type, after setup_sorting): the
    sort keys are set up from the file's events, no session is made, nothing reads samples."""
    imported = importers([*argv, "-i", str(NOCG)])
    assert "pyperf_probe.perfdata.reader" in imported and "pyperf_probe.report.layout" in imported
    unwanted = SESSION_MODULES | COSTLY | STREAM_MODULES
    assert {name: parent for name, parent in imported.items() if name in unwanted} == {}


@pytest.fixture(scope="module")
def system_data(tmp_path_factory):
    import lzma
    path = tmp_path_factory.mktemp("startup") / "system.data"
    with lzma.open(SYSTEM) as src:
        path.write_bytes(src.read())
    return path


@pytest.mark.parametrize("args", [
    "-g flat",
    "-g flat --sort prev_comm",              # a tracepoint field: formats loaded (the session made) for it
    "-g graph --sort sched:sched_switch.next_pid,comm",
    "-g flat --sort trace_fields",
    "-g caller --sort comm,pid --comm swapper/0",
    "-g flat -q",
])
def test_no_callchain_error_equals_perf(args, system_data, tmp_path):
    """The error and what precedes it on stdout, as real perf prints them for a file of tracepoints without
    call chains (run here: perf is the golden)."""
    import os
    import shutil
    perf = shutil.which("perf") or "/usr/bin/perf"
    if not os.access(perf, os.X_OK):
        pytest.skip("no perf")
    env = dict(os.environ, HOME=str(tmp_path), PAGER="cat")
    got = subprocess.run([sys.executable, "-m", "pyperf_probe", "report", "-i", str(system_data), "--stdio",
                          *args.split()], capture_output=True, text=True, env=env)
    want = subprocess.run([perf, "report", "-i", str(system_data), "--stdio", *args.split()],
                          capture_output=True, text=True, env=env)
    assert "But no callchain" in want.stderr
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, want.stderr)
