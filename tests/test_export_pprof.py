"""`pyperf data convert --to-pprof`, read by the real consumer: `go tool pprof` (Debian's golang-go, installed by
make test's set-up). Its totals per sample type (-raw) and per symbol (-top) equal `pyperf report`'s, its
stacks (-traces) equal `pyperf script`'s, for cpu-clock, uprobe, two-event and DWARF-unwound files."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter

import pytest

from export_helpers import input_copy, pyperf, source_of, unpack_symfs
from pyperf_probe.export.pprof import field_packed, varint

FILES = ["cpu_fp.data", "cpu_nocg.data", "cpu_dwarf.data", "cpu_two.data", "report/mt.data",
         "report/two.data", "report/make.data", "unwind/cxx.data"]


@pytest.fixture(scope="module")
def symfs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("export_symfs")


def go_pprof(*args, home) -> str:
    go = shutil.which("go")
    assert go, "golang-go is not installed: make test installs it (Makefile APT_PACKAGES)"
    env = dict(os.environ, HOME=str(home), GOPATH=str(home / "go"), GOCACHE=str(home / "gocache"),
               PPROF_TMPDIR=str(home), GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    proc = subprocess.run([go, "tool", "pprof", *map(str, args)], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def converted(tmp_path_factory, symfs_root):
    """data file -> (profile path, copy of the data, symfs)."""
    tmp = tmp_path_factory.mktemp("pprof")
    out = {}
    for data in FILES:
        group, _ = source_of(data)
        symfs = unpack_symfs(group, symfs_root)
        copy = input_copy(data, tmp)
        profile = tmp / (copy.name + ".pb.gz")
        proc = pyperf("data", "convert", "-i", copy, "--symfs", symfs, "--to-pprof", profile, home=tmp)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.startswith(f"[ pyperf data convert: Converted '{copy}' into pprof data '{profile}' ]\n")
        out[data] = (profile, copy, symfs)
    return out


def _report_totals(copy, symfs, home):
    """[(event, samples, event count)] from pyperf report's headers."""
    proc = pyperf("report", "-i", copy, "--symfs", symfs, "--stdio", "--no-children", "--sort", "sym", home=home)
    assert proc.returncode == 0, proc.stderr
    return re.findall(r"^# Samples: (\d+[KMG]?)\s+of event '([^']*)'\n# Event count \(approx.\): (\d+)$",
                      proc.stdout, re.M), proc.stdout


def _perf_count(value: int, text: str) -> bool:
    """perf prints a sample count above 1000 as value/1000 (integer) and K (convert_unit)."""
    for unit in "GMK":
        if text.endswith(unit):
            scale = 1000 ** ("KMG".index(unit) + 1)
            return value // scale == int(text[:-1])
    return value == int(text)


@pytest.mark.parametrize("data", FILES)
def test_totals_equal_pyperf_report(data, converted, tmp_path):
    profile, copy, symfs = converted[data]
    raw = go_pprof("-raw", profile, home=tmp_path)
    section = raw.split("Samples:\n", 1)[1].split("\nLocations\n", 1)[0]
    types = section.splitlines()[0].split()
    sums = [0] * len(types)
    for line in section.splitlines()[1:]:
        m = re.match(r"^\s+(\d+(?:\s+\d+)*):", line)
        if m:
            for i, v in enumerate(m.group(1).split()):
                sums[i] += int(v)
    totals, report = _report_totals(copy, symfs, tmp_path)
    assert totals, report
    for samples, event, count in totals:
        i = [t.split("/")[0] for t in types].index(event)
        assert _perf_count(sums[i], samples) and sums[i + 1] == int(count), (event, sums[i:i + 2], samples)
    # -top: "of N total" on the default sample type, the first event's samples
    top = go_pprof("-top", "-noinlines", "-nodecount=100000", profile, home=tmp_path)
    assert re.search(rf"of {sums[types.index(totals[0][1] + '/count[dflt]')]} total\n", top), top[:400]
    if len(totals) == 1 and "dwarf" not in data and "unwind" not in data:
        # each symbol's flat share equals report's Overhead (--sort sym, --no-children); DWARF-unwound files
        # have inline frames, which pprof counts as functions and report's symbol column does not
        theirs = dict((name, pct) for pct, name in re.findall(r"^\s+(\d+\.\d\d)%\s+\[[.k]\] (.+?)\s*$", report, re.M))
        ours = {}
        for flat, pct, name in re.findall(r"^\s+(\d+)\s+(\d+\.?\d*)%\s+\S+\s+\d+\s+\S+%\s+(.+)$", top, re.M):
            if int(flat):
                ours[name.strip()] = f"{100 * int(flat) / sums[0]:.2f}"
        # unresolved addresses: report prints the address, pprof the mapping's file ("[[vdso]]") or address
        unresolved = lambda k: k.startswith("0x") or (k.startswith("[") and k.endswith("]"))
        assert {k: v for k, v in ours.items() if not unresolved(k)} == \
            {k: v for k, v in theirs.items() if not unresolved(k)}


def _pprof_traces(text: str) -> Counter:
    out = Counter()
    for block in text.split("-----------+-------------------------------------------------------")[1:]:
        labels = dict(re.findall(r"^\s+(\w+):\s+(.*)$", block, re.M))
        if "comm" not in labels:
            continue
        frames = re.findall(r"^\s+(?:\d+\s+)?(\S.*?)(?: \(inline\))?$",
                            "\n".join(l for l in block.splitlines() if l.strip() and ":  " not in l), re.M)
        value = int(re.search(r"^\s+(\d+)\s", "\n".join(l for l in block.splitlines() if ":  " not in l),
                              re.M).group(1))
        out[(labels["comm"], int(labels["pid"]), int(labels["tid"]), tuple(frames))] += value
    return out


def _script_traces(text: str) -> Counter:
    out, cur = Counter(), None
    for line in text.splitlines() + [""]:
        if not line:
            if cur:
                out[(cur[0], cur[1], cur[2], tuple(cur[3]))] += 1
            cur = None
        elif not line.startswith("\t"):
            m = re.match(r"^(.+?)\s+(\d+)/(\d+)", line)
            cur = (m.group(1), int(m.group(2)), int(m.group(3)), [])
        else:
            sym = line.strip().split(" ", 1)[1]
            sym = sym[:-len(" (inlined)")] if sym.endswith(" (inlined)") else sym
            cur[3].append(sym)
    return out


@pytest.mark.parametrize("data", ["cpu_fp.data", "cpu_dwarf.data", "report/mt.data", "unwind/cxx.data"])
def test_traces_equal_pyperf_script(data, converted, tmp_path):
    profile, copy, symfs = converted[data]
    traces = _pprof_traces(go_pprof("-traces", profile, home=tmp_path))
    proc = pyperf("script", "-i", copy, "--symfs", symfs, "-F", "comm,pid,tid,ip,sym", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    script = _script_traces(proc.stdout)
    unknown = lambda c: Counter({(k[0], k[1], k[2], tuple("?" if f == "[unknown]" or re.fullmatch(
        r"[0-9a-f]{4,}", f) else f for f in k[3])): v for k, v in c.items()})
    assert unknown(traces) == unknown(script)
    assert sum(traces.values()) == sum(script.values()) > 0


def test_lines_and_build_ids(converted, tmp_path):
    """DWARF's files and lines (inline frames as Line entries), mappings with the recorded build-ids."""
    profile, _, _ = converted["cpu_dwarf.data"]
    top = go_pprof("-top", "-lines", "-nodecount=100000", profile, home=tmp_path)
    assert re.search(r"ex_hash \S*workloads/ex_spin\.c:\d+\n", top)
    assert re.search(r"ex_round \S*workloads/ex_spin\.c:\d+ \(inline\)\n", top)
    raw = go_pprof("-raw", profile, home=tmp_path)
    build_ids = dict(line.split()[::-1] for line in (
        open(os.path.join(os.path.dirname(__file__), "golden", "export", "binaries.txt")).read().splitlines()))
    assert re.search(r"/tmp/pyperf-golden-export/bin/ex_spin\s+[0-9a-f]{40}", raw)
    for build_id in build_ids:
        assert build_id in raw


def test_wire_format():
    assert varint(0) == b"\0" and varint(1) == b"\1" and varint(300) == b"\xac\x02"
    assert varint(-1) == b"\xff" * 9 + b"\x01"
    assert field_packed(1, [3, 270]) == b"\x0a\x03\x03\x8e\x02"
