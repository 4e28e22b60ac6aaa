"""What the export tests share: the goldens of tests/golden/export (made by its make_goldens.sh), their cases,
the symfs trees of the recordings they use, and running ``pyperf`` as a user would."""
from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
HERE = GOLDEN / "export"
MTIME = 1767225600          # 2026-01-01 00:00:00 UTC: make_goldens.sh's MTIME (perf's "captured-on")
RECORDED = {"export": "/tmp/pyperf-golden-export", "report": "/tmp/pyperf-golden-report",
            "unwind": "/tmp/pyperf-golden-unwind", "kernel": "/tmp/tmp.Qze2rWbTOY"}
KALLSYMS = GOLDEN / "kernel" / "kallsyms"     # the kernel goldens' kallsyms copy (their recordings' boot)


def cases(kind_prefix: str = "") -> list[list[str]]:
    rows = [line.split("|") for line in (HERE / "cases.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    return [r for r in rows if r[2].startswith(kind_prefix)]


def source_of(data: str) -> tuple[str, Path]:
    """(symfs group, path) of a cases.txt data field."""
    if data.startswith(("report/", "unwind/")):
        group, name = data.split("/", 1)
        return group, GOLDEN / group / "data" / name
    if data.startswith("kernel/"):
        return "kernel", GOLDEN / "kernel" / "data" / (data.split("/", 1)[1] + ".xz")
    return "export", HERE / "data" / data


def unpack_symfs(group: str, root: Path) -> Path:
    """What perf read when it made the group's goldens, as one --symfs under root/group: its symfs.tar.xz
    (the workloads at their recorded paths, which must not exist: make_goldens scripts remove them, and a
    test must not read them) and, for export and unwind, links to the system files of binaries.txt, checked
    by build-id, and to their debug files (libc6-dbg: libc's symbols and DWARF)."""
    assert not os.path.exists(RECORDED[group]), f"{RECORDED[group]} exists: remove it"
    target = root / group
    if target.exists():
        return target
    if group == "unwind":
        from unwind_compare import golden_symfs
        target.mkdir()
        return Path(golden_symfs(str(target)))
    with tarfile.open(GOLDEN / group / "symfs.tar.xz") as tar:
        tar.extractall(target)
    binaries = GOLDEN / group / "binaries.txt"
    if group == "export":
        from pyperf_probe.callchain.dwarf_unwind import find_image
        for line in binaries.read_text().splitlines():
            path, build_id = line.split()
            image = find_image(path, None)
            assert image is not None and image.build_id == build_id, \
                f"{path} is not the file the goldens were recorded with (build-id {build_id})"
            debug = f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug"
            for real in (path, debug):
                if os.path.exists(real):
                    link = target / real.lstrip("/")
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(os.path.realpath(real))
    return target


def input_copy(data: str, tmp_path: Path) -> Path:
    """A copy of the recording with make_goldens.sh's mtime (JSON's captured-on), owned by us."""
    _, src = source_of(data)
    dst = tmp_path / data.replace("/", "_")
    if src.suffix == ".xz":
        dst.write_bytes(lzma.decompress(src.read_bytes()))
    else:
        shutil.copyfile(src, dst)
    os.utime(dst, (MTIME, MTIME))
    return dst


def symbol_args(data: str, root: Path) -> list:
    """--symfs (and for ../kernel's recordings --kallsyms) as make_goldens.sh gave perf."""
    group, _ = source_of(data)
    args = ["--symfs", unpack_symfs(group, root)]
    return args + (["--kallsyms", KALLSYMS] if group == "kernel" else [])


def expected(name: str, suffix: str) -> str:
    path = HERE / "expected" / f"{name}{suffix}"
    raw = path.read_bytes()
    return (lzma.decompress(raw) if suffix.endswith(".xz") else raw).decode()


def pyperf(*args, home, cwd=None, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home), TZ="UTC")
    env.pop("PERF_BUILDID_DIR", None)
    return subprocess.run([sys.executable, "-m", "pyperf_probe", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, stdin=stdin)
