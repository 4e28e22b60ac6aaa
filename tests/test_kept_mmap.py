"""session.kept.Dependents' MMAP2 follower in C (_speedups.mmap_follow) and in Python (Dependents._after_mmap,
its twin): after random sequences of MMAP, MMAP2, FORK, COMM and EXIT records (tests/test_machine_mmap.py's),
each processed by the machine then followed, with keys noted for random threads and their maps and threads'
pids learnt now and then, the same keys are dropped in the same order, the same forgets happen and the same
keys stay kept."""
from __future__ import annotations

import random

import pytest

from pyperf_probe.perfdata.records import CommRecord, ExitRecord, ForkRecord, Mmap2Record, MmapRecord
from pyperf_probe.session import kept, machine
from pyperf_probe.session.kernel import KernelDsos
from test_machine_mmap import _records


def _replay(recs: list, rng: random.Random, with_c: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(kept, "_mmap_follow", kept._mmap_follow if with_c else None)
    m = machine.Machine(KernelDsos({}, None))
    log: list = []
    deps = kept.Dependents(m, lambda keys: log.append(("drop", list(keys))), lambda: log.append(("forget",)))
    handlers = {MmapRecord: m.process_mmap, Mmap2Record: m.process_mmap, ForkRecord: m.process_fork,
                CommRecord: m.process_comm, ExitRecord: m.process_exit}
    followers = deps.followers()
    for n, rec in enumerate(recs):
        handlers[type(rec)](rec)
        follow = followers.get(type(rec), deps.after_record)
        if follow is not None:
            follow(rec)
        if rng.random() < 0.3 and m.threads:
            thread = m.threads[rng.choice(sorted(m.threads))]
            if rng.random() < 0.7:
                deps.note_maps(f"k{n}", thread)
            deps.note_thread(f"t{n}", thread)
        if rng.random() < 0.02:
            m.pid_updates += 1      # (a thread's pid learnt by a resolution)
    kept_keys = sorted((type(k).__name__, sorted(v)) for k, v in deps.by_maps.items())
    return log, kept_keys, sorted((tid, sorted(v[1])) for tid, v in deps.by_tid.items()), deps.pid_updates


@pytest.mark.parametrize("seed", range(60))
def test_c_mmap_follower_is_python(seed, monkeypatch):
    if kept._mmap_follow is None:
        pytest.skip("no C accelerator")
    recs = _records(random.Random(seed), random.Random(seed).choice([20, 200, 800]))
    got = _replay(recs, random.Random(seed + 1000), True, monkeypatch)
    want = _replay(recs, random.Random(seed + 1000), False, monkeypatch)
    assert got == want
    assert any(entry[0] == "drop" for entry in want[0]) or len(recs) < 100


def test_c_mmap_follower_is_used(monkeypatch):
    if kept._mmap_follow is None:
        pytest.skip("no C accelerator")
    calls = []
    real = kept.Dependents._after_mmap
    monkeypatch.setattr(kept.Dependents, "_after_mmap", lambda self, rec: (calls.append(rec), real(self, rec)))
    m = machine.Machine(KernelDsos({}, None))
    dropped = []
    deps = kept.Dependents(m, dropped.append, lambda: dropped.append("forget"))
    rec = Mmap2Record(7, 7, 0x1000, 0x1000, 0, 0, 0, 0, 0, 5, 2, "/usr/lib/libc.so.6", 2, None, None)
    m.process_mmap(rec)
    deps.note_maps("key", m.threads[7])
    deps.followers()[Mmap2Record](rec)
    assert dropped == [["key"]] and calls == [] and not deps.by_maps
