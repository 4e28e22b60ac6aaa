"""``report --header-only`` of a file real perf recorded while BPF programs were loaded: the BPF_PROG_INFO
and BPF_BTF sections (perf's ``print_bpf_prog_info``, ``print_bpf_btf``) against real perf, live.

The test loads three socket-filter programs with bpf(2) (pyperf_probe.bpf.syscall): one of one function and a
name, one of two functions without BTF (perf names each ``bpf_prog_<tag>_F``), one of two functions with BTF
func info (perf names each by its BTF FUNC), records ``true`` with perf while they are loaded, and closes
them (the kernel unloads a program, and its BTF, with its last fd) on every path. Also checked:
``perfdata.bpf_prog_info``'s reading of the section, and ``bpf.btf`` on the kernel's own BTF."""
import os
import re
import struct
import subprocess
import sys

import pytest

from pyperf_probe.bpf import insn as I
from pyperf_probe.bpf import syscall as S
from pyperf_probe.bpf.btf import Btf
from pyperf_probe.perfdata.bpf_prog_info import read_btfs, read_prog_infos

PERF = "/usr/bin/perf"
SOCKET_FILTER = 1
BTF_LOAD = 18
PSEUDO_CALL = 1


def _call(offset: int) -> bytes:
    """``call pc+offset``: a bpf-to-bpf call (BPF_JMP|BPF_CALL, src_reg BPF_PSEUDO_CALL)."""
    return struct.pack("<BBhi", 0x85, PSEUDO_CALL << 4, 0, offset)


# main: r0 = 0; call sub; exit / sub: r0 = 0; exit (the sub-program starts at instruction 3)
TWO_FUNCS = I.encode([I.MOV64_IMM(I.R0, 0)]) + _call(1) + I.encode([I.EXIT(), I.MOV64_IMM(I.R0, 0), I.EXIT()])
ONE_FUNC = I.encode([I.MOV64_IMM(I.R0, 0), I.EXIT()])


def _btf_blob(names: list[str]) -> bytes:
    """A BTF object: 1 INT "int", 2 FUNC_PROTO returning it (no parameters), then a static FUNC of that
    prototype per name (ids 3, 4, ...)."""
    strings = b"\0int\0" + b"".join(n.encode() + b"\0" for n in names)
    types = struct.pack("<III", 1, 1 << 24, 4) + struct.pack("<I", (1 << 24) | 32)  # INT: signed, 32 bits
    types += struct.pack("<III", 0, 13 << 24, 1)                                     # FUNC_PROTO -> 1
    at = 5
    for n in names:
        types += struct.pack("<III", at, 12 << 24, 2)                                 # FUNC, static
        at += len(n) + 1
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings


def _load_btf(blob: bytes) -> int:
    import ctypes
    buf = ctypes.create_string_buffer(blob, len(blob))
    return S.sys_bpf(BTF_LOAD, S._attr((0, "<QQII", ctypes.addressof(buf), 0, len(blob), 0)))


def _load_with_btf(code: bytes, name: str, btf_fd: int, func_info: list[tuple[int, int]]) -> int:
    """BPF_PROG_LOAD with prog_btf_fd (attr offset 72), func_info_rec_size, func_info, func_info_cnt."""
    import ctypes
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    infos = b"".join(struct.pack("<II", off, tid) for off, tid in func_info)
    fi = ctypes.create_string_buffer(infos, len(infos))
    attr = S._attr((0, "<II", SOCKET_FILTER, len(code) // 8), (8, "<QQ", ctypes.addressof(insns), ctypes.addressof(lic)),
                   (48, "16s", name.encode()), (72, "<IIQI", btf_fd, 8, ctypes.addressof(fi), len(func_info)))
    return S.sys_bpf(S.PROG_LOAD, attr)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    if os.geteuid() != 0 or not os.path.exists(PERF):
        pytest.skip("needs root (bpf(2)) and real perf")
    work = tmp_path_factory.mktemp("header_bpf")
    path = str(work / "bpf.data")
    fds = []
    try:
        fds.append(S.prog_load(SOCKET_FILTER, ONE_FUNC, name="pyt_single")[0])
        fds.append(S.prog_load(SOCKET_FILTER, TWO_FUNCS, name="pyt_nobtf")[0])
        btf_fd = _load_btf(_btf_blob(["pyt_main", "pyt_sub"]))
        fds.append(btf_fd)
        fds.append(_load_with_btf(TWO_FUNCS, "pyt_btf", btf_fd, [(0, 3), (3, 4)]))
        rec = subprocess.run([PERF, "record", "-q", "-o", path, "-e", "cpu-clock", "--", "true"],
                             capture_output=True, text=True)
        assert rec.returncode == 0, rec.stderr
    finally:
        for fd in fds:
            S.close(fd)
    return path, str(work)


def _texts(path: str, home: str, *args: str) -> tuple:
    env = dict(os.environ, HOME=home, TZ="UTC")
    want = subprocess.run([PERF, "report", "-i", path, *args], capture_output=True, text=True, env=env)
    got = subprocess.run([sys.executable, "-m", "pyperf_probe", "report", "-i", path, *args],
                         capture_output=True, text=True, env=env)
    return want, got


def test_header_only_equals_perf(recording):
    path, home = recording
    want, got = _texts(path, home, "--header-only", "--stdio")
    assert got.returncode == want.returncode == 0
    assert got.stdout == want.stdout
    # the three programs are there, named as perf names them (else the file did not test the printer)
    assert "_pyt_single addr " in want.stdout
    assert "\tsub_prog 1: bpf_prog_" in want.stdout and "_F addr " in want.stdout
    assert "_pyt_main addr " in want.stdout and "_pyt_sub addr " in want.stdout
    assert "# btf info of id " in want.stdout


def test_header_report_equals_perf(recording):
    path, home = recording
    want, got = _texts(path, home, "--header", "--stdio", "--sort", "comm")
    assert got.returncode == want.returncode == 0
    tip = re.compile(r"^# \((Tip: .*|Cannot load tips\.txt.*)\)$", re.M)  # perf picks a tip at random
    assert tip.sub("#", got.stdout) == tip.sub("#", want.stdout)


def test_reader_refuses_what_perf_refuses(recording):
    """perf stops at an info longer than its struct (232 bytes): the programs before it stay."""
    from pyperf_probe.perfdata.format import Feature
    from pyperf_probe.perfdata.reader import PerfDataFile
    path, _home = recording
    with open(path, "rb") as f:
        raw = PerfDataFile(path, f, os.path.getsize(path)).feature_bytes(Feature.BPF_PROG_INFO)
    progs = read_prog_infos(raw)
    assert len(progs) >= 3 and [p.id for p in progs] == sorted(p.id for p in progs)
    info_len, data_len, _ = struct.unpack_from("<IIQ", raw, 4)
    second = 4 + 16 + info_len + data_len
    (first_id,) = struct.unpack_from("<I", raw, 4 + 16 + 4)  # the first program's info.id, at 4 in the info
    bad = bytearray(raw)
    struct.pack_into("<I", bad, second, 233)
    assert [p.id for p in read_prog_infos(bytes(bad))] == [first_id]
    assert read_prog_infos(b"") == [] and read_btfs(None) == {}


def test_btf_names_kernel_types():
    """bpf.btf reads the kernel's own BTF: every FUNC named, and a few well-known names where they are."""
    path = "/sys/kernel/btf/vmlinux"
    if not os.path.exists(path):
        pytest.skip("the kernel has no BTF")
    with open(path, "rb") as f:
        btf = Btf.parse(f.read())
    assert btf is not None and len(btf) > 10000
    names = {btf.name_of(i) for i in range(1, len(btf))}
    assert {"task_struct", "sk_buff", "schedule", "int"} <= names
    assert btf.name_of(0) == "" and btf.name_of(len(btf)) is None
    assert Btf.parse(b"\0" * 24) is None
