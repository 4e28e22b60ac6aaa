"""Kernel frames against real perf 6.1 (tests/golden/kernel/, made by record.sh and make_goldens.sh there):
`pyperf report` and `pyperf script` on recordings whose call chains cross into the kernel (tracepoints,
cpu-clock of a workload and system-wide, :u/:k, --kernel-callchains/--user-callchains, a uprobe with a
tracepoint), stdout, stderr and exit status byte for byte; kernel names from the kallsyms copy kept there.

Also the build-id cache fallback: with the running kernel made another one ($PYPERF_HOST_ROOT), a report
without --kallsyms reads the copy perf record keeps in ~/.debug, and prints what perf prints with it."""
import lzma
import os
import re
import shutil
import tarfile

import pytest

from pyperf_probe import cli

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "kernel")
OTHER_ID = "1" * 40


def _cases():
    with open(os.path.join(GOLDEN, "cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, data, home, args = line.rstrip("\n").split("|")
                yield pytest.param(name, data, home, args, id=name)


@pytest.fixture(scope="module")
def kernel_golden(tmp_path_factory):
    root = tmp_path_factory.mktemp("kernel_golden")
    (root / "data").mkdir()
    for name in os.listdir(os.path.join(GOLDEN, "data")):
        with open(os.path.join(GOLDEN, "data", name), "rb") as f:
            (root / "data" / name[:-len(".xz")]).write_bytes(lzma.decompress(f.read()))
    with tarfile.open(os.path.join(GOLDEN, "symfs.tar.xz")) as tar:
        tar.extractall(root / "symfs")
    (root / "empty").mkdir()
    cached = root / "cache" / ".debug" / "[kernel.kallsyms]" / OTHER_ID
    cached.mkdir(parents=True)
    shutil.copy(os.path.join(GOLDEN, "kallsyms"), cached / "kallsyms")
    return root


def _expected(name: str):
    with open(os.path.join(GOLDEN, "expected", f"{name}.out.xz"), "rb") as f:
        out = lzma.decompress(f.read()).decode()
    with open(os.path.join(GOLDEN, "expected", f"{name}.err")) as f:
        err = f.read()
    with open(os.path.join(GOLDEN, "expected", f"{name}.rc")) as f:
        rc = int(f.read())
    return out, err, rc


def _no_tip(text: str) -> str:
    return re.sub(r"^# \((Tip: .*|Cannot load tips\.txt file, please install perf!)\)$", "# (TIP)", text,
                  flags=re.M)


def _run(root, data: str, home: str, args: str, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(root / home))
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)
    monkeypatch.chdir(root)
    path = str(root / "data" / f"{data}.data")
    words = args.replace("SYMFS", str(root / "symfs")).replace("KALLSYMS", os.path.join(GOLDEN, "kallsyms")).split()
    rc = cli.main([words[0], "-i", path] + words[1:])
    out, err = capsys.readouterr()
    return out, err.replace(path, "INPUT").replace(str(root), "TMP"), rc


@pytest.mark.parametrize("name,data,home,args", list(_cases()))
def test_kernel_frames_equal_perf(name, data, home, args, kernel_golden, monkeypatch, capsys):
    out, err, rc = _run(kernel_golden, data, home, args, monkeypatch, capsys)
    want_out, want_err, want_rc = _expected(name)
    assert _no_tip(out) == _no_tip(want_out)
    assert err == want_err
    assert rc == want_rc


def _other_host(root, build_id: str):
    """A running system whose kernel has ``build_id`` and whose /proc/kallsyms is empty."""
    host = root / f"host-{build_id[:8]}"
    (host / "sys" / "kernel").mkdir(parents=True, exist_ok=True)
    (host / "proc").mkdir(exist_ok=True)
    name = b"GNU\0"
    desc = bytes.fromhex(build_id)
    (host / "sys" / "kernel" / "notes").write_bytes(len(name).to_bytes(4, "little") + len(desc).to_bytes(4, "little")
                                                   + (3).to_bytes(4, "little") + name + desc)
    (host / "proc" / "kallsyms").write_bytes(b"")
    return host


@pytest.mark.parametrize("name,args", [("exec_nosymfs", "report --stdio"),
                                       ("cc_nosymfs", "report --stdio --no-children --sort dso,sym"),
                                       ("cc_nosymfs_script", "script")])
def test_build_id_cache_copy_when_the_running_kernel_differs(name, args, kernel_golden, monkeypatch, capsys,
                                                             tmp_path):
    """perf record keeps /proc/kallsyms as ~/.debug/[kernel.kallsyms]/BUILDID/kallsyms; a report on
    another kernel (the running one's build-id differs) reads that copy, as perf's dso__find_kallsyms.
    Expected: perf's own output with --kallsyms of that copy (the same load)."""
    from pyperf_probe.perfdata.reader import PerfDataFile
    from pyperf_probe.perfdata.format import Feature
    data = "exec" if name.startswith("exec") else "cc"
    with PerfDataFile.open(str(kernel_golden / "data" / f"{data}.data")) as f:
        kernel_id = next(e.build_id.hex() for e in f.feature(Feature.BUILD_ID) if e.filename == "[kernel.kallsyms]")
    home = tmp_path / "home"
    cached = home / ".debug" / "[kernel.kallsyms]" / kernel_id
    cached.mkdir(parents=True)
    shutil.copy(os.path.join(GOLDEN, "kallsyms"), cached / "kallsyms")
    monkeypatch.setenv("PYPERF_HOST_ROOT", str(_other_host(tmp_path, "22" * 20)))
    shutil.copytree(kernel_golden / "data", tmp_path / "data")
    out, err, rc = _run(tmp_path, data, "home", args, monkeypatch, capsys)
    want_out, want_err, want_rc = _expected(name)
    assert (_no_tip(out), err, rc) == (_no_tip(want_out), want_err, want_rc)


def test_running_kernel_is_used_when_it_is_the_recorded_one(kernel_golden, monkeypatch, capsys, tmp_path):
    """The same report on a "running kernel" with the recorded build-id reads its /proc/kallsyms (here the
    kept copy stands for it) and not the build-id cache (empty)."""
    from pyperf_probe.perfdata.reader import PerfDataFile
    from pyperf_probe.perfdata.format import Feature
    with PerfDataFile.open(str(kernel_golden / "data" / "exec.data")) as f:
        kernel_id = next(e.build_id.hex() for e in f.feature(Feature.BUILD_ID) if e.filename == "[kernel.kallsyms]")
    host = _other_host(tmp_path, kernel_id)
    shutil.copy(os.path.join(GOLDEN, "kallsyms"), host / "proc" / "kallsyms")
    monkeypatch.setenv("PYPERF_HOST_ROOT", str(host))
    (tmp_path / "home").mkdir()
    shutil.copytree(kernel_golden / "data", tmp_path / "data")
    out, err, rc = _run(tmp_path, "exec", "home", "report --stdio", monkeypatch, capsys)
    want_out, want_err, want_rc = _expected("exec_nosymfs")
    assert (_no_tip(out), err, rc) == (_no_tip(want_out), want_err, want_rc)
