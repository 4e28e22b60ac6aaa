"""_speedups.count_run (_speedups_session.c) against its Python twin (session.counts._py_count_run): on random
runs of keys with random caches (its counting, pending and order paths, and what it gives back), and through
sample_groups on random system-wide-like files (kernel- and user-mode samples of fixed fields, ids known and
unknown, pids unknown and learnt, COMM/FORK/MMAP records between runs, a kernel MMAP) and on the golden and
random files whose keys have user call chains, where the C loop resolves new keys itself: the groups, their
order, each sample's resolution, the counters and (chains) the frame table's look-ups in order are the
Python twin's, and both are samples()'s (test_session_counts.assert_same)."""
from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

import perfdata_build as pb
from conftest import need_speedups
from pyperf_probe.perfdata.format import AttrFlag, RecordType, SampleType
from pyperf_probe.session import Session, counts
from test_session_counts import BIN, _frame, _plain, assert_same, write

GOLDEN_DATA = Path(__file__).parent / "golden" / "report" / "data"


def _c():
    need_speedups()
    from pyperf_probe.perfdata.speedups import speedups
    return speedups.count_run


def test_runs_without_fixed_equal_the_twin():
    """fixed None: all cached -> pending and order; any new -> (counts, new), nothing changed."""
    c_run = _c()
    rng = random.Random(16)
    seen = {"int": 0, "tuple": 0}
    for _ in range(3000):
        pool = [bytes([rng.randrange(4)]) * rng.randrange(1, 6) + bytes([i]) for i in range(rng.randrange(1, 12))]
        keys = [rng.choice(pool) for _ in range(rng.randrange(0, 40))]
        keys = [bytes(k) for k in keys]  # (equal keys as different objects, as the reader may give them)
        cache = {k: (object(), (k,), rng.randrange(5)) for k in pool if rng.random() < 0.8}
        pending = {k: rng.randrange(1, 4) for k in pool if k in cache and rng.random() < 0.3}
        with_order = rng.random() < 0.7
        results = []
        for run in (c_run, counts._py_count_run):
            mine_pending, order = dict(pending), [] if with_order else None
            got = run(list(keys), cache, mine_pending, order, None)
            results.append((got, list(mine_pending.items()), order))
        (c_got, c_pending, c_order), (py_got, py_pending, py_order) = results
        assert type(c_got) is type(py_got)
        if type(py_got) is tuple:
            assert list(c_got[0].items()) == list(py_got[0].items()) and c_got[1] == py_got[1]
        else:
            assert c_got == py_got == 0
        assert c_pending == py_pending
        assert c_order == py_order and (py_order is None or all(a is b for a, b in zip(c_order, py_order)))
        seen[type(py_got).__name__] += 1
    assert min(seen.values()) > 500, seen


def test_bad_input():
    c_run = _c()
    with pytest.raises(TypeError):
        c_run((b"a",), {}, {}, None, None)
    with pytest.raises(TypeError):
        c_run([b"a"], {}, {}, (), None)
    with pytest.raises(TypeError):
        c_run([b"a"], {}, {}, None, (1, 2))


K = 0xFFFFFFFF81000000
ST = (SampleType.IDENTIFIER | SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU |
      SampleType.PERIOD | SampleType.RAW)


def _ided(rec: bytes) -> bytes:  # the sample_id trailer with IDENTIFIER at its end
    return pb.record(struct.unpack_from("<I", rec)[0], struct.unpack_from("<H", rec, 4)[0], rec[8:] + bytes(8))


def _kmmap(start: int, time: int) -> bytes:
    name = b"[kernel.kallsyms]_text\0"
    name += b"\0" * (-len(name) % 8)
    return _ided(pb.record(RecordType.MMAP, 1, struct.pack("<iiQQQ", -1, 0, start, 0x1000000, start) + name +
                           pb.trailer(0, 0, time)))


def _sample(sid: int, ip: int, pid: int, tid: int, time: int, period: int, raw: bytes, misc: int) -> bytes:
    body = struct.pack("<QQIIQIIQI", sid, ip, pid & 0xFFFFFFFF, tid, time, 0, 0, period, len(raw)) + raw
    return pb.record(RecordType.SAMPLE, misc, body)


def _random_file(rng: random.Random, user_only: bool = False) -> tuple[list[bytes], list]:
    """A system-wide-like recording: runs of kernel- and user-mode samples of a few threads (repeating
    keys, RAW payloads that differ), COMM, FORK, MMAP2 (a process's images) and kernel MMAP records between
    them, ids of two events, a dummy's and an unknown one, pids unknown (-1) now and then. ``user_only``:
    user-mode samples only (the kernel's symbols are then never loaded: never settled)."""
    attrs = [(pb.sw_attr(ST), (7,)), (pb.sw_attr(ST).replace(config=1), (8,)),
             (pb.sw_attr(SampleType.IDENTIFIER | SampleType.IP | SampleType.TID | SampleType.TIME |
                         SampleType.CPU | SampleType.PERIOD).replace(config=9), (9,))]
    kips = [K + 0x10010 + 0x1000 * i for i in range(rng.randrange(1, 5))]
    uips = [0x400010 + 0x40 * i for i in range(rng.randrange(1, 5))] + [0x500010]
    tids = list(range(1, rng.randrange(3, 8)))
    recs, time = [_kmmap(K, 0)], 1
    for tid in tids:
        if rng.random() < 0.8:
            recs.append(_ided(pb.comm(tid, tid, f"c{tid}", time)))
        if rng.random() < 0.7:
            recs.append(_ided(pb.mmap2(tid, 0x400000, 0x1000, 0, BIN, time)))
    for _ in range(rng.randrange(20, 160)):
        time += 1
        r = rng.random()
        if r < 0.8:
            tid = rng.choice(tids)
            pid = -1 if rng.random() < 0.03 else tid
            user = user_only or rng.random() < 0.4
            ip = rng.choice(uips if user else kips)
            sid = rng.choice((7, 7, 7, 8, 0, 5) if rng.random() < 0.1 else (7, 7, 8))
            recs.append(_sample(sid, ip, pid, tid, time, rng.choice((1, 1, 3, 7)), rng.choice((b"ab", b"cd", b"x" * 12)),
                                2 if user else 1))
        elif r < 0.87:
            tid = rng.choice(tids)
            recs.append(_ided(pb.comm(tid, tid, rng.choice(("a", "b", "cc")), time)))
        elif r < 0.93:
            tid = rng.choice(tids)
            recs.append(_ided(pb.mmap2(tid, 0x400000 + 0x1000 * rng.randrange(3), 0x1000, 0x1000 * rng.randrange(2), BIN,
                                       time)))
        elif r < 0.96:
            new = max(tids) + 1
            parent = rng.choice(tids)
            recs.append(_ided(pb.fork(new, parent, new, parent, time)))
            tids.append(new)
        elif r < 0.98:
            recs.append(pb.finished_round())
        else:
            recs.append(_kmmap(K + 0x1000 * rng.randrange(3), time))
    return recs, attrs


def _sample_groups(path: str, python: bool, monkeypatch):
    if python:
        monkeypatch.setattr(counts, "count_run", counts._py_count_run)
    session = Session(path, force=True)
    order: list = []
    groups = session.sample_groups(with_raw=False, order=order)
    monkeypatch.undo()
    buckets = [id(b) for b in groups]
    plain_order = [(buckets.index(id(bucket)), tuple(group[0]), _frame(group[1]), period)
                   for bucket, group, period in order]
    return _plain(groups), plain_order, session.nr_samples, session.data.stats


@pytest.mark.parametrize("limit", [counts.CACHE_LIMIT, 3])
@pytest.mark.parametrize("seed", range(40))
def test_random_files_c_equals_python(seed, limit, tmp_path, caplog, monkeypatch):
    """(limit: the cache's, 3 forgets everything within runs, between a run's keys)"""
    _c()
    rng = random.Random(seed)
    recs, attrs = _random_file(rng)
    path = write(tmp_path, recs, attrs)
    monkeypatch.setattr(counts, "CACHE_LIMIT", limit)
    c = _sample_groups(path, False, monkeypatch)
    monkeypatch.setattr(counts, "CACHE_LIMIT", limit)
    py = _sample_groups(path, True, monkeypatch)
    assert c == py
    assert c[2] == len(c[1]) and c[2] == sum(v[1] for g in c[0] for *_, v in g)
    if seed % 4 == 0:  # (and both are samples()'s)
        assert_same(path, caplog)


def test_random_files_resolve_in_c(tmp_path, monkeypatch):
    """The C loop resolves most new keys itself (add_fixed, the Python path, is called for few)."""
    _c()
    calls = {"add_fixed": 0, "keys": 0}
    real = counts._KeyCounter._add_fixed
    monkeypatch.setattr(counts._KeyCounter, "_add_fixed",
                        lambda self, key, count: calls.__setitem__("add_fixed", calls["add_fixed"] + 1) or
                        real(self, key, count))
    for seed in range(10):
        recs, attrs = _random_file(random.Random(100 + seed))
        session = Session(write(tmp_path, recs, attrs), force=True)
        session.sample_groups(with_raw=False)
        calls["keys"] += session.nr_samples
    assert calls["add_fixed"] < calls["keys"] / 4, calls


@pytest.mark.parametrize("seed", range(30))
def test_user_only_files_equal_the_generic_path(seed, tmp_path, caplog, monkeypatch):
    """A file without kernel-mode samples never settles the kernel; its user-mode keys of fixed fields are
    resolved by FixedKeys all the same (in C, or in the Python twin) and give what decoding each key and
    Session.resolve give (FixedKeys.of None: the generic path for every key)."""
    _c()
    recs, attrs = _random_file(random.Random(500 + seed), user_only=True)
    path = write(tmp_path, recs, attrs)
    c = _sample_groups(path, False, monkeypatch)
    py = _sample_groups(path, True, monkeypatch)
    monkeypatch.setattr(counts.FixedKeys, "of", classmethod(lambda cls, session, layout, raw=False: None))
    generic = _sample_groups(path, False, monkeypatch)
    assert c == py == generic
    assert c[2] == len(c[1]) > 0


def test_user_only_files_resolve_in_c(tmp_path, monkeypatch):
    """Without kernel-mode samples (the kernel never settled) the C loop resolves the new user-mode keys
    itself: few are decoded for the generic path (a pid unknown, -1, sends its run there)."""
    _c()
    decoded = {"keys": 0, "samples": 0}
    for seed in range(10):
        recs, attrs = _random_file(random.Random(700 + seed), user_only=True)
        session = Session(write(tmp_path, recs, attrs), force=True)
        real = session.data.decode_key
        session.data.decode_key = lambda key, count, real=real: (
            decoded.__setitem__("keys", decoded["keys"] + 1) or real(key, count))
        session.sample_groups(with_raw=False)
        assert not session.machine.kernel.settled
        decoded["samples"] += session.nr_samples
    assert decoded["keys"] < decoded["samples"] / 8, decoded


CHAINED = [GOLDEN_DATA / name for name in ("make.data", "mt.data", "cxx.data", "py.data", "ret.data")]


def _chained_groups(path: str, python: bool, caller_order: bool, max_stack: int, monkeypatch):
    """sample_groups with chains: groups, each sample's resolution in order, the counters, and every address
    the frame table was asked for, in order (the look-ups' order decides which dso loads first)."""
    if python:
        monkeypatch.setattr(counts, "count_run", counts._py_count_run)
    session = Session(path, force=True, max_stack=max_stack)
    session.caller_order = caller_order
    looked: list = []
    real_frame, real_frames = session.frames.frame, session.frames.frames
    session.frames.frame = lambda m, avma: looked.append(avma) or real_frame(m, avma)
    session.frames.frames = lambda m, avma, *a: looked.append(avma) or real_frames(m, avma, *a)
    order: list = []
    groups = session.sample_groups(order=order)
    monkeypatch.undo()
    buckets = [id(b) for b in groups]
    plain_order = [(buckets.index(id(bucket)), tuple(group[0]), _frame(group[1]), tuple(map(_frame, group[2])),
                    group[3], period) for bucket, group, period in order]
    return _plain(groups), plain_order, session.nr_samples, looked


@pytest.mark.parametrize("path", CHAINED, ids=lambda p: p.name)
@pytest.mark.parametrize("caller_order,max_stack", [(False, 127), (True, 127), (False, 2), (True, 3)])
def test_chained_golden_files_c_equals_python(path, caller_order, max_stack, monkeypatch):
    _c()
    c = _chained_groups(str(path), False, caller_order, max_stack, monkeypatch)
    py = _chained_groups(str(path), True, caller_order, max_stack, monkeypatch)
    assert c == py


LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def _random_chained_file(rng: random.Random, kernel: float = 0.03) -> list[bytes]:
    """Processes running /usr/bin/true and libc (maps at a few places, moved by later MMAP2s), threads forked
    from them, samples whose user chains (a leading PERF_CONTEXT_USER now and then, addresses in the maps and
    outside them, repeats) repeat from run to run, COMMs, an unknown pid now and then, and (``kernel``: how
    often) a kernel part: a kernel-mode sample whose chain starts with PERF_CONTEXT_KERNEL and kernel
    addresses, then PERF_CONTEXT_USER and the user chain (or none), kernel addresses repeating too."""
    from pyperf_probe.perfdata.format import PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER
    pids = list(range(10, 10 + rng.randrange(1, 4)))
    recs, time = [], 1
    if kernel > 0.1:  # (the kernel's map, as perf synthesizes it)
        recs.append(pb.kernel_mmap(0xFFFFFFFF81000000, 0x1000000))
    kspots = [0xFFFFFFFF81000010 + 0x1230 * i for i in range(6)]
    kchains = [[rng.choice(kspots) for _ in range(rng.randrange(1, 6))] for _ in range(4)]
    spots = {}
    for pid in pids:
        recs.append(pb.comm(pid, pid, f"p{pid}", time))
        recs.append(pb.mmap2(pid, 0x400000, 0x4000, 0, BIN, time))
        recs.append(pb.mmap2(pid, 0x7F0000000000, 0x1C0000, 0x26000, LIBC, time))
        spots[pid] = [0x400010 + 0x30 * i for i in range(4)] + [0x7F0000000000 + 0x1000 * i + 0x40 for i in range(6)] + \
            [0x900000 + 8 * i for i in range(2)]
    threads = [(pid, pid) for pid in pids]
    chains = []
    for _ in range(rng.randrange(3, 12)):
        pid = rng.choice(pids)
        chain = [rng.choice(spots[pid]) for _ in range(rng.randrange(0, 9))]
        if chain and rng.random() < 0.5:
            chain = [PERF_CONTEXT_USER] + chain
        chains.append((pid, chain))
    for _ in range(rng.randrange(30, 200)):
        time += 1
        r = rng.random()
        if r < 0.82:
            pid, chain = rng.choice(chains)
            tid = rng.choice([t for p, t in threads if p == pid])
            ip = chain[1] if chain and chain[0] == PERF_CONTEXT_USER and len(chain) > 1 else \
                chain[0] if chain and rng.random() < 0.8 else rng.choice(spots[pid])
            misc = 2
            if rng.random() < kernel:
                kchain = rng.choice(kchains)
                if chain and chain[0] != PERF_CONTEXT_USER:
                    chain = [PERF_CONTEXT_USER] + chain
                chain = [PERF_CONTEXT_KERNEL] + kchain + (chain if rng.random() < 0.9 else [])
                if rng.random() < 0.9:
                    ip, misc = kchain[0], 1
            recs.append(pb.sample_cc(ip, 0xFFFFFFFF if rng.random() < 0.02 else pid, tid, time, chain, misc))
        elif r < 0.88:
            pid = rng.choice(pids)
            recs.append(pb.comm(pid, pid, rng.choice(("a", "b")), time))
        elif r < 0.93:
            pid = rng.choice(pids)
            recs.append(pb.mmap2(pid, rng.choice((0x400000, 0x401000, 0x7F0000001000)), 0x1000, 0x1000, BIN, time))
        elif r < 0.97:
            pid = rng.choice(pids)
            tid = max(t for _, t in threads) + 1
            recs.append(pb.fork(pid, pid, tid, pid, time))
            threads.append((pid, tid))
        else:
            recs.append(pb.finished_round())
    return recs


@pytest.mark.parametrize("seed", range(30))
def test_random_chained_files_c_equals_python(seed, tmp_path, caplog, monkeypatch):
    _c()
    rng = random.Random(1000 + seed)
    path = write(tmp_path, _random_chained_file(rng), [(pb.sw_attr(pb.CC_SAMPLE_TYPE), (7,))])
    caller_order, max_stack = rng.choice([(False, 127), (True, 127), (False, 2), (True, 3)])
    c = _chained_groups(path, False, caller_order, max_stack, monkeypatch)
    py = _chained_groups(path, True, caller_order, max_stack, monkeypatch)
    assert c == py
    assert c[2] == len(c[1]) and c[2] == sum(v[1] for g in c[0] for *_, v in g)
    if seed % 5 == 0:  # (and both are samples()'s)
        assert_same(path, caplog)


def test_chained_keys_resolve_in_c(monkeypatch):
    """make.data's keys (user-only chains) are resolved in C: _add_chained, the Python path, for few."""
    _c()
    calls = []
    real = counts._KeyCounter._add_chained
    monkeypatch.setattr(counts._KeyCounter, "_add_chained",
                        lambda self, key, count, *a: calls.append(1) or real(self, key, count, *a))
    session = Session(str(GOLDEN_DATA / "make.data"), force=True)
    groups = session.sample_groups()
    assert sum(len(g) for g in groups) > 50 and len(calls) < 5, len(calls)


@pytest.mark.parametrize("seed", range(30))
def test_random_kernel_chained_files_c_equals_python(seed, tmp_path, caplog, monkeypatch):
    """Chains with kernel and user parts (kernel- and user-mode samples): count_run resolves their new keys in
    C from the kernel's and the process's memos (kernel_chain), as the Python twin does."""
    _c()
    rng = random.Random(2000 + seed)
    path = write(tmp_path, _random_chained_file(rng, kernel=0.6),
                 [(pb.sw_attr(pb.CC_SAMPLE_TYPE, flags=AttrFlag.SAMPLE_ID_ALL), (7,))])
    caller_order, max_stack = rng.choice([(False, 127), (True, 127), (False, 2), (True, 3)])
    c = _chained_groups(path, False, caller_order, max_stack, monkeypatch)
    py = _chained_groups(path, True, caller_order, max_stack, monkeypatch)
    assert c == py
    assert c[2] == len(c[1]) and c[2] == sum(v[1] for g in c[0] for *_, v in g)
    if seed % 5 == 0:  # (and both are samples()'s)
        assert_same(path, caplog)


def test_kernel_chained_keys_resolve_in_c(tmp_path, monkeypatch):
    """Keys whose chains reach the kernel are resolved in C once their frames are in the memos: the Python
    path (_add_chained) is called for few of them."""
    _c()
    calls = []
    real = counts._KeyCounter._add_chained
    monkeypatch.setattr(counts._KeyCounter, "_add_chained",
                        lambda self, key, count, *a: calls.append(1) or real(self, key, count, *a))
    new = 0
    for seed in range(5):
        path = write(tmp_path, _random_chained_file(random.Random(3000 + seed), kernel=0.6),
                     [(pb.sw_attr(pb.CC_SAMPLE_TYPE, flags=AttrFlag.SAMPLE_ID_ALL), (7,))])
        session = Session(path, force=True)
        counter_keys = set()
        real_add = counts._KeyCounter.add_run
        monkeypatch.setattr(counts._KeyCounter, "add_run",
                            lambda self, keys: counter_keys.update(keys) or real_add(self, keys))
        session.sample_groups()
        monkeypatch.setattr(counts._KeyCounter, "add_run", real_add)
        new += len(counter_keys)
    assert new > 100 and len(calls) < new / 2, (len(calls), new)


def _kernel_chain_key(rng: random.Random, kspots: list, uspots: list) -> tuple[bytes, int]:
    from pyperf_probe.perfdata.format import PERF_CONTEXT_HV, PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER
    chain = []
    for _ in range(rng.randrange(0, 4)):
        mark = rng.choice((PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER, PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER,
                           PERF_CONTEXT_HV) if rng.random() < 0.1 else (PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER))
        spots = kspots if mark == PERF_CONTEXT_KERNEL else uspots
        chain += [mark] + [rng.choice(spots) for _ in range(rng.randrange(0, 5))]
    if rng.random() < 0.2:
        chain = [rng.choice(uspots) for _ in range(rng.randrange(0, 3))] + chain
    at = rng.randrange(0, 3) * 8
    nr = len(chain) + (rng.randrange(1, 3) if rng.random() < 0.05 else 0)
    key = bytes(at) + struct.pack(f"<Q{len(chain)}Q", nr, *chain) + bytes(rng.randrange(0, 9))
    return key, (at if rng.random() < 0.97 else rng.choice((-1, len(key) - 4, len(key) + 8)))


def test_kernel_chain_c_equals_python():
    """_speedups.kernel_chain = fixed_keys._kernel_chain on random keys: chains of kernel and user parts (a
    marker that is neither now and then, addresses before any marker), frames in the memos or missing,
    max_stack and caller order, nr past the key's end, bad offsets."""
    need_speedups()
    from pyperf_probe.perfdata.speedups import speedups
    from pyperf_probe.session import fixed_keys
    rng = random.Random(77)
    kspots = [0xFFFFFFFF81000000 + 0x40 * i for i in range(8)]
    uspots = [0x400000 + 0x10 * i for i in range(8)]
    seen = {"tuple": 0, "none": 0}
    for _ in range(4000):
        kmemo = {a: ("k", a) for a in kspots if rng.random() < 0.9}
        umemo = {a: ("u", a) for a in uspots if rng.random() < 0.9}
        key, at = _kernel_chain_key(rng, kspots, uspots)
        max_stack = rng.choice((0, 1, 2, 3, 127))
        caller_order = rng.random() < 0.5
        want = fixed_keys._kernel_chain(key, at, kmemo, umemo, max_stack, caller_order)
        got = speedups.kernel_chain(key, at, kmemo, umemo, max_stack, caller_order)
        assert got == want, (key.hex(), at, max_stack, caller_order)
        seen["none" if want is None else "tuple"] += 1
    assert min(seen.values()) > 500, seen


def _full_frame(f):
    return (f.dso, f.sym, f.avma, f.file_offset, f.sym_start, f.inlined, f.level,
            None if f.dso_obj is None else f.dso_obj.long_name, f.resolved is None)


def _frames_made(path: str, python: bool, caller_order: bool, max_stack: int, monkeypatch):
    """sample_groups with chains, the frame table not watched (count_run's C loop makes the frames itself:
    _speedups_session.c cm_frame): every group's frames in full, and the dsos in the order they loaded."""
    from pyperf_probe.session import dsos
    if python:
        monkeypatch.setattr(counts, "count_run", counts._py_count_run)
    loaded: list = []
    real_load = dsos.Dso._load
    monkeypatch.setattr(dsos.Dso, "_load", lambda self: loaded.append(self.long_name) or real_load(self))
    session = Session(path, force=True, max_stack=max_stack)
    session.caller_order = caller_order
    groups = session.sample_groups()
    monkeypatch.undo()
    return [[(tuple(t), _full_frame(loc), tuple(map(_full_frame, chain)), raw, tuple(v))
             for (t, loc, chain, raw), v in g.items()] for g in groups], session.nr_samples, loaded


@pytest.mark.parametrize("path", CHAINED, ids=lambda p: p.name)
@pytest.mark.parametrize("caller_order,max_stack", [(False, 127), (True, 3)])
def test_chained_golden_files_c_frames_equal_python(path, caller_order, max_stack, monkeypatch):
    """The frames count_run's C loop makes for addresses its processes' memos lack (Maps.find and
    FrameTable.frame in C) are those the Python path makes, field by field, and the dsos load in the same order."""
    _c()
    from pyperf_probe.session.dsos import Dso
    monkeypatch.setattr(Dso, "_disk_part", lambda self, symbols: False)  # (no cache answers: every dso loads)
    c = _frames_made(str(path), False, caller_order, max_stack, monkeypatch)
    monkeypatch.setattr(Dso, "_disk_part", lambda self, symbols: False)
    py = _frames_made(str(path), True, caller_order, max_stack, monkeypatch)
    assert c == py
    assert c[1] > 0


def test_count_run_equal_keys_of_distinct_objects():
    """A run's keys counted per distinct value whether the reader handed one object per key or several equal
    ones (count_run's table: by address, else by hash and bytes): the counts and order the Python twin gives,
    cached or not."""
    _c()
    from pyperf_probe.perfdata.speedups import speedups
    rng = random.Random(5)
    for _ in range(300):
        values = [bytes([rng.randrange(4)]) * rng.randrange(1, 4) for _ in range(rng.randrange(1, 12))]
        keys = [bytes(bytearray(rng.choice(values))) for _ in range(rng.randrange(1, 200))]  # (new objects)
        cached = {v: ("hit", v) for v in values if rng.random() < 0.5}
        for fn in (speedups.count_run, counts._py_count_run):
            pending, order = {}, []
            got = fn(keys, dict(cached), pending, order, None)
            if fn is speedups.count_run:
                c = (got, pending, order)
            else:
                assert (got, pending, order) == c
