"""session/kernel.py and symbols/kallsyms.py's running-system side: kptr_restrict and CAP_SYSLOG as perf's
symbol__read_kptr_restrict reads them, /proc/kallsyms refused under it (perf's output for a user without
privileges: tests/golden/kernel has it for --symfs; checked by hand as user nobody too), the kallsyms perf
picks (the running kernel's, the build-id cache's), module names, KSYMBOL maps, and the promise that a
report without kernel addresses never reads /proc/kallsyms."""
import lzma
import os
import shutil

import pytest

from pyperf_probe.session import Session
from pyperf_probe.session import kernel as K
from pyperf_probe.symbols import kallsyms

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


def _host(root, *, kptr=None, paranoid=None, build_id=None, proc_kallsyms=None):
    (root / "proc" / "sys" / "kernel").mkdir(parents=True, exist_ok=True)
    (root / "sys" / "kernel").mkdir(parents=True, exist_ok=True)
    if kptr is not None:
        (root / "proc" / "sys" / "kernel" / "kptr_restrict").write_text(f"{kptr}\n")
    if paranoid is not None:
        (root / "proc" / "sys" / "kernel" / "perf_event_paranoid").write_text(f"{paranoid}\n")
    if build_id is not None:
        desc = bytes.fromhex(build_id)
        (root / "sys" / "kernel" / "notes").write_bytes((4).to_bytes(4, "little") + len(desc).to_bytes(4, "little")
                                                       + (3).to_bytes(4, "little") + b"GNU\0" + desc)
    if proc_kallsyms is not None:
        shutil.copy(proc_kallsyms, root / "proc" / "kallsyms")
    return kallsyms.Host(str(root))


@pytest.mark.parametrize("kptr,paranoid,syslog,restricted", [
    (0, 2, True, False), (1, 2, True, False), (2, 2, True, True),       # with CAP_SYSLOG: only kptr >= 2
    (0, 1, False, False), (1, 1, False, True), (0, 2, False, True),     # without: kptr != 0 or paranoid > 1
    (None, None, False, False), (None, None, True, False),
])
def test_kptr_restrict(tmp_path, monkeypatch, kptr, paranoid, syslog, restricted):
    monkeypatch.setattr(kallsyms, "has_cap_syslog", lambda: syslog)
    assert _host(tmp_path, kptr=kptr, paranoid=paranoid).kptr_restrict() is restricted


def test_restricted_filename_is_the_running_systems_file_only(tmp_path):
    host = _host(tmp_path, proc_kallsyms=os.path.join(GOLDEN, "kernel", "kallsyms"))
    link = tmp_path / "link"
    link.symlink_to(host.kallsyms)
    assert host.restricted_filename(host.kallsyms, "/proc/kallsyms", True)
    assert host.restricted_filename(str(link), "/proc/kallsyms", True)          # realpath, as perf
    assert not host.restricted_filename(host.kallsyms, "/proc/kallsyms", False)
    assert not host.restricted_filename(os.path.join(GOLDEN, "kernel", "kallsyms"), "/proc/kallsyms", True)


@pytest.fixture
def exec_data(tmp_path):
    path = tmp_path / "exec.data"
    with open(os.path.join(GOLDEN, "kernel", "data", "exec.data.xz"), "rb") as f:
        path.write_bytes(lzma.decompress(f.read()))
    return str(path)


def _kernel_id(path: str) -> str:
    from pyperf_probe.perfdata.format import Feature
    from pyperf_probe.perfdata.reader import PerfDataFile
    with PerfDataFile.open(path) as f:
        return next(e.build_id.hex() for e in f.feature(Feature.BUILD_ID) if e.filename == "[kernel.kallsyms]")


def _kernel_names(path: str, host, **kw) -> list:
    with Session(path, host=host, **kw) as s:
        return [f.sym for r in s.samples() for f in r.chain if f.dso == "[kernel.kallsyms]"]


@pytest.mark.parametrize("kptr,resolved", [(0, True), (2, False)])
def test_running_kernels_kallsyms_and_kptr_restrict(exec_data, tmp_path, monkeypatch, kptr, resolved):
    """The recorded kernel is the running one: /proc/kallsyms, unless kptr_restrict hides it (perf refuses
    the file then, even where it could read it)."""
    monkeypatch.setattr(kallsyms, "has_cap_syslog", lambda: True)
    host = _host(tmp_path / "host", kptr=kptr, build_id=_kernel_id(exec_data),
                 proc_kallsyms=os.path.join(GOLDEN, "kernel", "kallsyms"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    names = _kernel_names(exec_data, host)
    assert names and all(n is not None for n in names) is resolved
    assert "bprm_execve" in names or not resolved


def test_build_id_cache_copy_and_the_message_without_one(exec_data, tmp_path, monkeypatch, capsys):
    host = _host(tmp_path / "host", build_id="33" * 20, proc_kallsyms=os.path.join(GOLDEN, "kernel", "kallsyms"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)
    assert set(_kernel_names(exec_data, host)) == {None}
    assert capsys.readouterr().err == f"No kallsyms or vmlinux with build-id {_kernel_id(exec_data)} was found\n"
    assert set(_kernel_names(exec_data, host, quiet=True)) == {None}
    assert capsys.readouterr().err == ""
    old_layout = tmp_path / "home" / ".debug" / "[kernel.kallsyms]" / _kernel_id(exec_data)  # a file, not a dir
    old_layout.parent.mkdir(parents=True)
    shutil.copy(os.path.join(GOLDEN, "kernel", "kallsyms"), old_layout)
    assert "bprm_execve" in _kernel_names(exec_data, host)


def test_symfs_reads_no_local_kallsyms_but_kallsyms_option_wins(exec_data, tmp_path, monkeypatch):
    host = _host(tmp_path / "host", build_id=_kernel_id(exec_data),
                 proc_kallsyms=os.path.join(GOLDEN, "kernel", "kallsyms"))
    assert set(_kernel_names(exec_data, host, symfs=str(tmp_path))) == {None}
    assert "bprm_execve" in _kernel_names(exec_data, host, symfs=str(tmp_path),
                                          kallsyms=os.path.join(GOLDEN, "kernel", "kallsyms"))


def test_no_kernel_address_no_kallsyms_read(monkeypatch):
    """A report of user-space chains (uprobes) never opens a kallsyms file, though the file has a kernel MMAP."""
    def refuse(path):
        raise AssertionError(f"read {path}")
    monkeypatch.setattr(kallsyms, "read", refuse)
    with Session(os.path.join(GOLDEN, "report", "data", "mt.data")) as s:
        groups = s.sample_groups()
        assert sum(len(g) for g in groups) and s.machine.kernel.kernel_map is not None
        assert not s.machine.kernel.kernel_dso()._loaded


@pytest.mark.parametrize("path,name", [
    ("/lib/modules/6.1.0/kernel/fs/ext4/ext4.ko", "[ext4]"),
    ("/lib/modules/6.1.0/extra/mod-two.ko.xz", "[mod_two]"),
    ("/lib/modules/6.1.0/kernel/drivers/x/snd-hda-codec.ko.zst", "[snd_hda_codec]"),
    ("[nf_tables]", "[nf_tables]"),
    ("/usr/lib/something.so", "something.so"),
])
def test_module_names(path, name):
    assert K.module_name(path) == name
