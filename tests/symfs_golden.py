"""What the DWARF golden directories (tests/golden/rbreplay, order, unwind_zero) share: each holds a recording
made by its make_goldens.sh with real perf (data/NAME.data.xz), the recorded program at its recorded path
(symfs.tar.xz), the build-ids of the system files its chains go through (binaries.txt), cases.txt
(``name|perf report arguments``) and perf's texts (expected/)."""
from __future__ import annotations

import lzma
import os
import shutil
import tarfile

import pytest

from pyperf_probe import cli
from pyperf_probe.callchain.dwarf_unwind import find_image

MTIME = 1767225600  # 2026-01-01 00:00:00 UTC: the recordings' mtime, as make_goldens.sh sets it


def cases(golden: str) -> list:
    """cases.txt of ``golden`` as pytest params (name, perf report arguments)."""
    out = []
    with open(os.path.join(golden, "cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, args = line.rstrip("\n").split("|")
                out.append(pytest.param(name, args, id=name))
    return out


def unpack(root, source: str, name: str, recorded_at: str):
    """``root`` with the recording ``name`` of ``source`` unpacked (NAME.data), a symfs holding the recorded
    program at its recorded path and links to the system files, which must be the recorded ones by build-id
    (else the test skips), and their debug files (as make_goldens.sh makes it), and an empty home."""
    assert not os.path.exists(recorded_at)  # (make_goldens.sh's work directory: removed when it ends)
    data = root / f"{name}.data"
    with lzma.open(os.path.join(source, "data", f"{name}.data.xz")) as src, open(data, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.utime(data, (MTIME, MTIME))
    symfs = root / "symfs"
    with tarfile.open(os.path.join(source, "symfs.tar.xz")) as tar:
        tar.extractall(symfs)
    with open(os.path.join(source, "binaries.txt")) as f:
        for line in f:
            path, build_id = line.split()
            if path.startswith(recorded_at):
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


def run(root, args: list, monkeypatch, capsys, name: str = "spin", cache: bool = False) -> str:
    """stdout of ``pyperf ARGS[0] -i NAME.data --symfs ... ARGS[1:]`` with HOME at ``root``'s empty home
    (and, with ``cache``, the resolved-symbol cache under ``root``); the command must succeed."""
    monkeypatch.setenv("HOME", str(root / "home"))
    if cache:
        monkeypatch.setenv("PYPERF_CACHE_DIR", str(root / "cache"))
    rc = cli.main([args[0], "-i", str(root / f"{name}.data"), "--symfs", str(root / "symfs")] + args[1:])
    out, _err = capsys.readouterr()
    assert rc == 0
    return out


def report(root, args: str, monkeypatch, capsys, **kw) -> str:
    """``run`` of ``report ARGS``, perf's random tip line left out."""
    out = run(root, ["report"] + args.split(), monkeypatch, capsys, **kw)
    return "".join(line for line in out.splitlines(True) if not line.startswith("# (Tip:"))
