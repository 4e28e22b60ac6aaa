"""The build-id cache's copy of the running kernel's kallsyms standing for /proc/kallsyms
(symbols.kallsyms.running_core, session.kernel.KernelSpace._running_core): taken only when it holds the
same kernel lines (written during this boot, the same first bytes through _text), for a load its dynamic
lines cannot change (x86_64, no module map); then what a session resolves is what reading /proc/kallsyms
gives, whatever dynamic lines either file has. In every other case /proc/kallsyms is read, as before."""
import lzma
import os
import shutil

import pytest

from pyperf_probe.session import Session
from pyperf_probe.session import kernel as K
from pyperf_probe.symbols import kallsyms

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
KALLSYMS = os.path.join(GOLDEN, "kernel", "kallsyms")
DYNAMIC = (b"ffffffffc0201000 t ftrace_trampoline\t[__builtin__ftrace]\n",
           b"ffffffffc0203000 t bpf_prog_6deef7357e7b4530_sd_fw_egress\t[bpf]\n",
           b"ffffffffc0205000 T kprobe_insn_page\t[__builtin__kprobes]\n")


def _core() -> bytes:
    with open(KALLSYMS, "rb") as f:
        data = f.read()
    return data[:data.rfind(b"\n", 0, data.find(b"\t")) + 1]


def _kernel_id(path: str) -> str:
    from pyperf_probe.perfdata.format import Feature
    from pyperf_probe.perfdata.reader import PerfDataFile
    with PerfDataFile.open(path) as f:
        return next(e.build_id.hex() for e in f.feature(Feature.BUILD_ID) if e.filename == "[kernel.kallsyms]")


@pytest.fixture
def exec_data(tmp_path):
    path = tmp_path / "exec.data"
    with open(os.path.join(GOLDEN, "kernel", "data", "exec.data.xz"), "rb") as f:
        path.write_bytes(lzma.decompress(f.read()))
    return str(path)


def _setup(tmp_path, monkeypatch, build_id: str, proc: bytes, copy: bytes | None, uptime: float = 100.0):
    """A running system (build-id, /proc/kallsyms, /proc/uptime) and HOME's build-id cache copy."""
    root = tmp_path / "host"
    (root / "proc").mkdir(parents=True)
    (root / "sys" / "kernel").mkdir(parents=True)
    desc = bytes.fromhex(build_id)
    (root / "sys" / "kernel" / "notes").write_bytes((4).to_bytes(4, "little") + len(desc).to_bytes(4, "little")
                                                   + (3).to_bytes(4, "little") + b"GNU\0" + desc)
    (root / "proc" / "kallsyms").write_bytes(proc)
    (root / "proc" / "uptime").write_text(f"{uptime:.2f} 1.00\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)
    copy_path = tmp_path / "home" / ".debug" / "[kernel.kallsyms]" / build_id / "kallsyms"
    copy_path.parent.mkdir(parents=True)
    if copy is not None:
        copy_path.write_bytes(copy)
    monkeypatch.setattr(kallsyms, "has_cap_syslog", lambda: True)
    return kallsyms.Host(str(root)), copy_path


def _kernel_frames(path: str, host) -> list:
    with Session(path, host=host) as s:
        return [(f.sym, f.sym_start, f.avma) for r in s.samples() for f in r.chain if f.dso == "[kernel.kallsyms]"]


def _reads(monkeypatch) -> list:
    """The paths kallsyms.read reads from now on."""
    got = []
    real = kallsyms.read

    def spy(path):
        got.append(path)
        return real(path)
    monkeypatch.setattr(kallsyms, "read", spy)
    return got


@pytest.mark.parametrize("proc_tail,copy_tail", [
    (DYNAMIC[:1], DYNAMIC[:1]),             # the same file
    (DYNAMIC, DYNAMIC[:1]),                 # BPF programs and kprobes since the recording
    (DYNAMIC[:1], DYNAMIC),                 # ... gone since
    ((), DYNAMIC[1:]),
])
def test_copy_stands_for_proc_kallsyms(exec_data, tmp_path, monkeypatch, proc_tail, copy_tail):
    core = _core()
    host, _ = _setup(tmp_path, monkeypatch, _kernel_id(exec_data), core + b"".join(proc_tail),
                     core + b"".join(copy_tail))
    reads = _reads(monkeypatch)
    frames = _kernel_frames(exec_data, host)
    assert reads == []                      # /proc/kallsyms not read
    monkeypatch.setattr(kallsyms, "running_core", lambda host, copies: None)
    assert frames == _kernel_frames(exec_data, host) and any(f[0] for f in frames)
    assert reads == [host.kallsyms]


def _not_taken(exec_data, host, monkeypatch):
    reads = _reads(monkeypatch)
    frames = _kernel_frames(exec_data, host)
    assert reads == [host.kallsyms]
    return frames


def test_copy_older_than_the_boot_is_not_taken(exec_data, tmp_path, monkeypatch):
    core = _core()
    host, copy = _setup(tmp_path, monkeypatch, _kernel_id(exec_data), core, core + DYNAMIC[0], uptime=1000.0)
    old = os.stat(copy).st_mtime - 2000
    os.utime(copy, (old, old))
    _not_taken(exec_data, host, monkeypatch)


def test_copy_of_other_addresses_is_not_taken(exec_data, tmp_path, monkeypatch):
    """Another relocation (or addresses hidden) shows in the first lines: /proc/kallsyms is read, and what
    it says is what the session resolves."""
    core = _core()
    moved = core.replace(b"ffffffff81000000 T _text", b"ffffffff81200000 T _text", 1)
    assert moved != core
    host, _ = _setup(tmp_path, monkeypatch, _kernel_id(exec_data), core, moved)
    assert any(f[0] for f in _not_taken(exec_data, host, monkeypatch))


def test_copy_of_a_kernel_relocated_otherwise_is_not_taken(exec_data, tmp_path, monkeypatch):
    core = _core()
    host, _ = _setup(tmp_path, monkeypatch, _kernel_id(exec_data), core,
                     core.replace(b"ffffffff81", b"ffffffff82").replace(b"ffffffff82", b"ffffffff83"))
    _not_taken(exec_data, host, monkeypatch)


def test_copy_of_another_shape_is_not_taken(exec_data, tmp_path, monkeypatch):
    """A line without a tab after the first one with a tab: not /proc/kallsyms' shape."""
    core = _core()
    host, _ = _setup(tmp_path, monkeypatch, _kernel_id(exec_data), core, core + DYNAMIC[0] + b"ffffffffc0300000 T x\n")
    _not_taken(exec_data, host, monkeypatch)


def test_no_copy_or_no_uptime(exec_data, tmp_path, monkeypatch):
    core = _core()
    host, copy = _setup(tmp_path, monkeypatch, _kernel_id(exec_data), core, None)
    _not_taken(exec_data, host, monkeypatch)
    copy.write_bytes(core)
    os.remove(os.path.join(host.root, "proc", "uptime"))
    _not_taken(exec_data, host, monkeypatch)


def test_module_maps_or_another_arch_read_proc_kallsyms(exec_data, tmp_path, monkeypatch):
    """Where the dynamic lines could matter (a module has a map: it gets its symbols from them; other
    architectures put modules below the kernel), the copy is not taken for the load."""
    core = _core()
    host, _ = _setup(tmp_path, monkeypatch, _kernel_id(exec_data), core + DYNAMIC[0], core + DYNAMIC[0])
    space = K.KernelSpace(None, None, K.KernelOptions(host=host))
    assert space._running_core() is not None
    assert space._running_core(for_load=False) is not None
    space.modules["[ext4]"] = object()
    assert space._running_core() is None
    assert space._running_core(for_load=False) is not None      # names of kernel symbols only
    space.modules.clear()

    class Uname:
        machine = "aarch64"
    monkeypatch.setattr(K.os, "uname", lambda: Uname)
    assert space._running_core() is None


def test_running_core_is_the_kernels_lines(tmp_path, monkeypatch):
    core = _core()
    host, copy = _setup(tmp_path, monkeypatch, "ab" * 20, core + DYNAMIC[2], core + b"".join(DYNAMIC))
    got = kallsyms.running_core(host, [str(copy)])
    want = kallsyms.parse(core)
    assert got is not None and got.data == core and list(got.starts) == list(want.starts)
    assert got.types == want.types and not got.tab
    # the head compared goes through the relocation symbol's line, and only there
    assert kallsyms._head(host.kallsyms) == core[:core.index(b" _text\n") + len(b" _text\n")]
    (tmp_path / "host" / "proc" / "kallsyms").write_bytes(b"0000000000000000 A fixed_percpu_data\n" * 5000)
    assert kallsyms._head(host.kallsyms) is None
    assert kallsyms.running_core(host, [str(copy)]) is None
