"""speedscope's importer (npm `speedscope`, installed by make test's set-up into build/node, run under node)
loads `pyperf script report stackcollapse` output with pyperf report's sample count as its total, and
`pyperf script` output as one profile per thread spanning its first to last sample, with the frames
pyperf printed; probe recordings included."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from export_helpers import input_copy, pyperf, source_of, unpack_symfs

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "build" / "node" / "node_modules" / "speedscope" / "dist" / "release"
LOADER = Path(__file__).parent / "node" / "speedscope_import.mjs"
FILES = ["cpu_fp.data", "cpu_dwarf.data", "cpu_two.data", "report/mt.data", "report/make.data", "unwind/cxx.data"]


@pytest.fixture(scope="module")
def symfs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("export_symfs")


def speedscope(path) -> list[dict]:
    node = shutil.which("node")
    assert node and RELEASE.is_dir(), "node or speedscope missing: make test installs them (Makefile npm-tools)"
    proc = subprocess.run([node, str(LOADER), str(RELEASE), str(path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _run(data, symfs_root, tmp_path, *args):
    group, _ = source_of(data)
    proc = pyperf(*args, "-i", input_copy(data, tmp_path), "--symfs", unpack_symfs(group, symfs_root),
                  home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("data", FILES)
def test_stackcollapse_total_is_reports_sample_count(data, symfs_root, tmp_path):
    folded = tmp_path / "out.folded"
    folded.write_text(_run(data, symfs_root, tmp_path, "script", "report", "stackcollapse"))
    (profile,) = speedscope(folded)
    report = _run(data, symfs_root, tmp_path, "report", "--stdio", "--no-children", "--sort", "sym")
    counts = [int(n) for n in re.findall(r"^# Event count \(approx.\): (\d+)$", report, re.M)]
    samples = sum(int(line.rsplit(" ", 1)[1]) for line in folded.read_text().splitlines())
    assert profile["total"] == samples > 0
    if "cpu" not in data:      # probes: period 1, the event count is the sample count
        assert profile["total"] == sum(counts)
    names = {f for line in folded.read_text().splitlines() for f in line.rsplit(" ", 1)[0].split(";")}
    assert set(profile["frames"]) == names


@pytest.mark.parametrize("data", FILES)
def test_script_output_imports_per_thread(data, symfs_root, tmp_path):
    text = _run(data, symfs_root, tmp_path, "script")
    script = tmp_path / "out.script"
    script.write_text(text)
    profiles = speedscope(script)
    # what the text holds, per thread: first and last time, and the frames' names; speedscope imports the
    # samples of the first event type only (a header line ending in "EVENT:"; none for tracepoints, whose
    # line ends with the trace text)
    times, frames = defaultdict(list), defaultdict(set)
    tid, first_type = None, False
    for line in text.splitlines():
        m = re.match(r"^\s*(.+?)\s+(\d+)(?:/(\d+))?\s+(?:\[\d+\]\s+)?(\d+\.\d+):", line)
        if m:
            kind = re.search(r"(\S+):\s*$", line)
            kind = kind.group(1) if kind else None
            if first_type is False:
                first_type = kind
            if kind != first_type:
                tid = None
                continue
            tid = int(m.group(3) or m.group(2))
            times[tid].append(float(m.group(4)))
        elif line.startswith("\t") and tid is not None:
            sym = line.split(None, 1)[1]
            sym = re.sub(r"\+0x[0-9a-f]+", "", sym.rsplit(" (", 1)[0]) if not sym.endswith("(inlined)") else \
                sym[:-len(" (inlined)")]
            frames[tid].add(re.sub(r"\+0x[0-9a-f]+$", "", sym))
    got = {int(p["name"].rsplit("tid: ", 1)[1]): p for p in profiles}
    assert set(got) == set(times)
    for t, profile in got.items():
        assert profile["unit"] == "seconds"
        assert profile["total"] == pytest.approx(times[t][-1] - times[t][0], abs=1e-9)
        assert set(profile["frames"]) >= {f for f in frames[t] if f != "[unknown]"}
