"""Machine.process_mmap with the C handler (_speedups.mmap_handle, the common MMAP2 done in C) and without
it (Machine._process_mmap, its Python twin): the same threads, maps, map fields, generations and dsos
after random sequences of MMAP, MMAP2, FORK, COMM and EXIT records (overlapping ranges, empty ones,
anonymous and executable anonymous memory, kernel maps, threads of unknown pid)."""
from __future__ import annotations

import random

import pytest

from pyperf_probe.perfdata.records import CommRecord, ExitRecord, ForkRecord, Mmap2Record, MmapRecord
from pyperf_probe.session import machine
from pyperf_probe.session.kernel import KernelDsos

NAMES = ["/usr/lib/libc.so.6", "/usr/bin/bash", "/usr/lib/ld-linux-x86-64.so.2", "//anon", "[heap]",
         "[stack]", "/dev/zero (deleted)", "/SYSV0000", "[vdso]", "/tmp/x (deleted)"]
TIDS = [1, 2, 3, 4, 5, 7, 100, 101]


def _records(rng: random.Random, n: int) -> list:
    recs = []
    for _ in range(n):
        roll = rng.random()
        pid = rng.choice(TIDS + [-1]) if rng.random() < 0.1 else rng.choice(TIDS)
        tid = pid if rng.random() < 0.6 and pid != -1 else rng.choice(TIDS)
        if roll < 0.75:
            start = rng.randrange(0, 64) * 0x1000 + (0x7f0000000000 if rng.random() < 0.5 else 0)
            length = rng.choice([0, 0x1000, 0x2000, 0x5000, 0x20000, rng.randrange(1, 0x40000)])
            pgoff = rng.randrange(0, 16) * 0x1000
            prot = rng.choice([1, 3, 5, 7, 4])
            misc = 1 if rng.random() < 0.03 else 2  # (KERNEL, USER)
            name = rng.choice(NAMES)
            if rng.random() < 0.08:
                recs.append(MmapRecord(pid, tid, start, length, pgoff, name, misc | rng.choice([0, 0x2000]), None))
            else:
                build_id = bytes(rng.randrange(256) for _ in range(20)) if rng.random() < 0.2 else None
                recs.append(Mmap2Record(pid, tid, start, length, pgoff, 8, 1, rng.randrange(99), 0, prot,
                                        rng.choice([2, 0x802]), name, misc, None, build_id))
        elif roll < 0.87:
            ppid = rng.choice(TIDS)
            recs.append(ForkRecord(pid, ppid, tid, rng.choice([ppid, pid, 1]), 0, 0, None))
        elif roll < 0.95:
            recs.append(CommRecord(pid, tid, rng.choice(["a", "bash", "make"]), rng.random() < 0.3, None))
        else:
            recs.append(ExitRecord(pid, pid, tid, tid, 0, 0, None))
    return recs


def _state(m: machine.Machine) -> tuple:
    threads = []
    for tid, t in sorted(m.threads.items()):
        maps = [(x.start, x.end, x.pgoff, x.dso.long_name, x.prot, x.flags, x.identity, type(x)) for x in t.maps]
        threads.append((tid, t.pid, t.ppid, t.comm, t.comm_set, t.state, t.exited, t.maps.generation, maps,
                        t.maps._starts,
                        len({id(x) for x in t.maps}) == len(t.maps)))
    kernel = [(x.start, x.end, x.pgoff, x.prot) for x in m.kernel_maps]
    return threads, sorted(d.long_name for d in m.dsos), kernel, sorted(m._file_dsos)


_C_FORK = machine._fork_handle


def _replay(recs: list, with_c: bool, monkeypatch, fork_c: bool = False) -> tuple:
    monkeypatch.setattr(machine, "_mmap_handle", machine._mmap_handle if with_c else None)
    monkeypatch.setattr(machine, "_fork_handle", _C_FORK if fork_c else None)
    m = machine.Machine(KernelDsos({}, None))
    handlers = {MmapRecord: m.process_mmap, Mmap2Record: m.process_mmap, ForkRecord: m.process_fork,
                CommRecord: m.process_comm, ExitRecord: m.process_exit}
    for rec in recs:
        handlers[type(rec)](rec)
    return _state(m)


@pytest.mark.parametrize("seed", range(40))
def test_c_mmap_handler_is_python(seed, monkeypatch):
    if machine._mmap_handle is None:
        pytest.skip("no C accelerator")
    rng = random.Random(seed)
    recs = _records(rng, rng.choice([20, 200, 800]))
    assert _replay(recs, True, monkeypatch) == _replay(recs, False, monkeypatch)


def test_c_mmap_handler_takes_the_common_case(monkeypatch):
    """The C handler does the common MMAP2 itself: Python's is called for the first of a name only."""
    if machine._mmap_handle is None:
        pytest.skip("no C accelerator")
    calls = []
    real = machine.Machine._process_mmap
    monkeypatch.setattr(machine.Machine, "_process_mmap", lambda self, rec: (calls.append(rec), real(self, rec)))
    m = machine.Machine(KernelDsos({}, None))
    recs = [Mmap2Record(7, 7, 0x1000 * (2 * i + 1), 0x1000, 0, 0, 0, 0, 0, 5, 2, "/usr/lib/libc.so.6", 2, None)
            for i in range(10)]
    for rec in recs:
        m.process_mmap(rec)
    assert calls == recs[:1]
    assert [x.start for x in m.threads[7].maps] == [r.start for r in recs]
    assert m.threads[7].maps.generation == 10
    assert m.threads[7].maps.find(0x3800).file_offset(0x3800) == 0x800


@pytest.mark.parametrize("seed", range(60))
def test_c_fork_handler_is_python(seed, monkeypatch):
    """_speedups.fork_handle (a new process's FORK in C) against Machine._process_fork: the same threads
    (pids, ppids, comms, maps and their generations) after random record sequences."""
    if _C_FORK is None:
        pytest.skip("no C accelerator")
    rng = random.Random(seed)
    recs = _records(rng, rng.choice([20, 200, 800]))
    assert _replay(recs, True, monkeypatch, fork_c=True) == _replay(recs, True, monkeypatch)
    assert _replay(recs, False, monkeypatch, fork_c=True) == _replay(recs, False, monkeypatch)


def test_c_fork_handler_takes_a_new_process(monkeypatch):
    if _C_FORK is None:
        pytest.skip("no C accelerator")
    calls = []
    real = machine.Machine._process_fork
    monkeypatch.setattr(machine.Machine, "_process_fork", lambda self, rec: (calls.append(rec), real(self, rec)))
    m = machine.Machine(KernelDsos({}, None))
    m.process_comm(CommRecord(7, 7, "bash", False, None))
    m.process_mmap(Mmap2Record(7, 7, 0x1000, 0x1000, 0, 0, 0, 0, 0, 5, 2, "/usr/lib/libc.so.6", 2, None, None))
    fork = ForkRecord(8, 7, 8, 7, 0, 0, None)
    m.process_fork(fork)
    assert calls == []
    child = m.threads[8]
    assert (child.pid, child.tid, child.ppid, child.comm, child.comm_set, child.exited, child.state) == \
        (8, 8, 7, "bash", True, False, None)
    assert list(child.maps) == list(m.threads[7].maps) and child.maps is not m.threads[7].maps
    assert child.maps.generation == 0
    m.process_fork(ForkRecord(7, 7, 9, 7, 0, 0, None))      # a thread of the same process: Python's
    m.process_fork(ForkRecord(10, 99, 10, 99, 0, 0, None))  # an unknown parent: Python's
    assert len(calls) == 2 and m.threads[10].comm == ":10"
