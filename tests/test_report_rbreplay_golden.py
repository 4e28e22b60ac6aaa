"""`pyperf report` against real perf 6.1 on a DWARF recording whose call-graph trees have siblings that perf's
children search compares by name (inlined frames) and by symbol start (plain ones), so that perf adds a
second node of a frame it missed (tools/perf/util/callchain.c append_chain_children; pyperf:
callchain/rbreplay.py). tests/golden/rbreplay/, made by make_goldens.sh there with real perf; the recording
was kept only if perf's folded output has a path twice."""
from __future__ import annotations

import lzma
import os
import shutil
import tarfile

import pytest

from pyperf_probe import cli
from pyperf_probe.callchain import rbreplay
from pyperf_probe.callchain.dwarf_unwind import find_image

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "rbreplay")
RECORDED_AT = "/tmp/pyperf-golden-rbreplay"  # make_goldens.sh's WORK, removed when it ends
MTIME = 1767225600  # 2026-01-01 00:00:00 UTC


def _cases():
    with open(os.path.join(GOLDEN, "cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, args = line.rstrip("\n").split("|")
                yield pytest.param(name, args, id=name)


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """(the recording, unpacked; a --symfs with ex_spin at its recorded path and links to the system files,
    which must be the recorded ones by build-id, and their debug files)."""
    assert not os.path.exists(RECORDED_AT)
    root = tmp_path_factory.mktemp("rbreplay")
    data = root / "spin.data"
    with lzma.open(os.path.join(GOLDEN, "data", "spin.data.xz")) as src, open(data, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.utime(data, (MTIME, MTIME))
    symfs = root / "symfs"
    with tarfile.open(os.path.join(GOLDEN, "symfs.tar.xz")) as tar:
        tar.extractall(symfs)
    with open(os.path.join(GOLDEN, "binaries.txt")) as f:
        for line in f:
            path, build_id = line.split()
            if path.startswith(RECORDED_AT):
                continue
            image = find_image(path, None)
            if image is None or image.build_id != build_id:
                pytest.skip(f"{path} is not the file the goldens were recorded with (build-id {build_id})")
            debug = f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug"
            for target in (path, debug):
                if os.path.exists(target):
                    link = symfs / target.lstrip("/")
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(os.path.realpath(target))
    (root / "home").mkdir()
    return root


def _report(golden, args, monkeypatch, capsys) -> str:
    monkeypatch.setenv("HOME", str(golden / "home"))
    rc = cli.main(["report", "-i", str(golden / "spin.data"), "--symfs", str(golden / "symfs")] + args.split())
    out, _err = capsys.readouterr()
    assert rc == 0
    return "".join(line for line in out.splitlines(True) if not line.startswith("# (Tip:"))


@pytest.mark.parametrize("mix_all", [False, True], ids=["mixed", "mix_all"])
@pytest.mark.parametrize("name,args", list(_cases()))
def test_report_equals_perf(name, args, mix_all, golden, monkeypatch, capsys, utc, speedups_or_not):
    """(mix_all: every node whose children are of several classes replayed, not only those rbreplay._mixed
    finds not totally ordered: the same text)"""
    monkeypatch.setattr(rbreplay, "MIX_ALL", mix_all)
    with open(os.path.join(GOLDEN, "expected", f"{name}.out")) as f:
        expected = f.read()
    assert _report(golden, args, monkeypatch, capsys) == expected


def test_trees_by_key_differ_from_perf(golden, monkeypatch, capsys, utc):
    """The recording exercises the replay: without it (every tree by key) perf's text is not reached."""
    monkeypatch.setattr(rbreplay, "ENABLED", False)
    with open(os.path.join(GOLDEN, "expected", "comm_folded0_nochildren.out")) as f:
        expected = f.read()
    assert _report(golden, "--stdio --sort comm --no-children -g folded,0", monkeypatch, capsys) != expected
