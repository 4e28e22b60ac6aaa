"""session.counts' DWARF loop: ``count_dwarf_run`` (C, _speedups_unwind.c) and its Python twin
``_py_count_dwarf_run`` count the samples whose (fields, unwound chain) key was resolved before, and
``sample_groups`` gives with either exactly what resolving every sample gives (groups, their order, the
sample count), on the `--call-graph dwarf` goldens of tests/golden/unwind (unwound with their --symfs) and on
hand-made files where records, other threads and other register masks come between equal samples."""
from __future__ import annotations

import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perfdata_build as pb  # noqa: E402
from conftest import need_speedups  # noqa: E402
from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder  # noqa: E402
from pyperf_probe.perfdata.format import RecordType, SampleType  # noqa: E402
from pyperf_probe.perfdata.sample import Sample  # noqa: E402
from pyperf_probe.session import Session, counts  # noqa: E402
from unwind_compare import GOLDEN, RECORDED_AT, golden_symfs  # noqa: E402

UNWIND_FILES = ["threads.data", "cxx.data", "make.data"]


@pytest.fixture(scope="module")
def symfs(tmp_path_factory):
    return golden_symfs(str(tmp_path_factory.mktemp("symfs")))


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """As tests/test_unwind_golden.py: no build-id cache, a cold CFI cache, the recorded paths absent."""
    assert not os.path.exists(RECORDED_AT), f"{RECORDED_AT} exists: remove it (left by make_goldens.sh?)"
    monkeypatch.setenv("PERF_BUILDID_DIR", str(tmp_path / "debug"))
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))


def _frame(f):
    return (f.dso, f.sym, f.avma, f.file_offset, f.inlined)


def _plain_order(groups, order):
    index = {id(bucket): i for i, bucket in enumerate(groups)}
    return [(index[id(bucket)], tuple(group[0]), _frame(group[1]), tuple(map(_frame, group[2])), period)
            for bucket, group, period in order]


def _counted(path: str, symfs: str | None, loop, monkeypatch, with_chain: bool = True):
    """(groups, order, nr_samples, samples counted by the loop) of report's sample_groups with ``loop`` as
    count_dwarf_run."""
    hits = []

    def counting(*args):
        got = loop(*args)
        hits.append(got[1])
        return got
    monkeypatch.setattr(counts, "count_dwarf_run", counting)
    session = Session(path, symfs=symfs, unwinder=DwarfUnwinder(symfs=symfs))
    order: list = []
    groups = session.sample_groups(with_chain=with_chain, with_raw=False, order=order)
    plain = [[(tuple(t), _frame(loc), tuple(map(_frame, chain)), raw, tuple(v)) for (t, loc, chain, raw), v in
              g.items()] for g in groups]
    return plain, _plain_order(groups, order), session.nr_samples, sum(hits)


def _none(batch, start, *args):
    """No sample counted by the loop: every one resolved (what _count_samples did before the loop)."""
    return start, 0, None


def _loops():
    loops = [("python", counts._py_count_dwarf_run)]
    from pyperf_probe.perfdata.speedups import speedups
    if speedups is not None and hasattr(speedups, "count_dwarf_run"):
        loops.append(("c", speedups.count_dwarf_run))
    return loops


@pytest.mark.parametrize("with_chain", [True, False], ids=["chain", "nochain"])
@pytest.mark.parametrize("name", UNWIND_FILES)
def test_golden_dwarf_files_counted_as_resolved(name, with_chain, symfs, monkeypatch):
    path = os.path.join(GOLDEN, "data", name)
    want = _counted(path, symfs, _none, monkeypatch, with_chain)
    assert want[3] == 0 and want[2] > 50
    for how, loop in _loops():
        got = _counted(path, symfs, loop, monkeypatch, with_chain)
        assert got[:3] == want[:3], how
        assert got[3] > 0, f"{how}: no sample counted by the loop"


def test_c_and_python_loops_key_alike(symfs, monkeypatch):
    """The C loop and its twin, call by call on the make golden (processes, mmaps and other threads between
    samples), from the same cache: where the C loop keys the sample it stops at, the twin stops there with
    the same key and count. (Where a pc of the chain has no plan yet the C loop keys nothing and the twin,
    whose ``DwarfUnwinder`` makes the plan, may key it: the caller resolves such a sample either way.)"""
    need_speedups()
    from pyperf_probe.perfdata.speedups import speedups
    path = os.path.join(GOLDEN, "data", "make.data")
    seen = {"c": [], "python": []}

    def both(batch, start, sample_type, threads, ctx, cache, order):
        c = speedups.count_dwarf_run(batch, start, sample_type, threads, ctx, dict(cache), None)
        py = counts._py_count_dwarf_run(batch, start, sample_type, threads, ctx, dict(cache), None)
        seen["c"].append(c)
        seen["python"].append(py)
        return speedups.count_dwarf_run(batch, start, sample_type, threads, ctx, cache, order)
    monkeypatch.setattr(counts, "count_dwarf_run", both)
    session = Session(path, symfs=symfs, unwinder=DwarfUnwinder(symfs=symfs))
    session.sample_groups(with_raw=False, order=[])
    keyed = [c for c in seen["c"] if c[2] is not None]
    assert len(keyed) > 20
    assert sum(c[1] for c in seen["c"]) > 100
    assert [py for c, py in zip(seen["c"], seen["python"]) if c[2] is not None] == keyed
    assert all(py[:2] == c[:2] for c, py in zip(seen["c"], seen["python"]))


# --- hand-made files: what the key holds and what clears the cache -----------------------------------------

DWARF_TYPE = (SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU | SampleType.PERIOD |
              SampleType.CALLCHAIN | SampleType.REGS_USER | SampleType.STACK_USER)
BIN = "/usr/bin/true"
REGS = 1 << 6 | 1 << 7 | 1 << 8  # bp, sp, ip (enum perf_event_x86_regs)
USER, KERNEL = 0xFFFFFFFFFFFFFE00, 0xFFFFFFFFFFFFFF80  # PERF_CONTEXT_USER, PERF_CONTEXT_KERNEL


def _sample(ip: int, tid: int, time: int, period: int = 7, stack: bytes = b"s" * 16, chain: tuple = (),
            misc: int = 2) -> bytes:
    """A sample of DWARF_TYPE: ip, pid = tid, time, cpu 0, period, callchain, regs_user (abi 2: bp, sp, ip),
    the stack copy and its dyn_size."""
    body = struct.pack("<QIIQIIQQ", ip, tid, tid, time, 0, 0, period, len(chain))
    body += struct.pack(f"<{len(chain)}Q", *chain) + struct.pack("<4Q", 2, 0, 0x7FFF0000, ip)
    body += struct.pack("<Q", len(stack)) + stack + struct.pack("<Q", len(stack))
    return pb.record(RecordType.SAMPLE, misc, body)


def _file(tmp_path) -> str:
    """Samples equal but for their stack bytes, of two threads (the second forked in the second round),
    with other periods, ips and user chains, a kernel-mode one and one with a kernel chain, rounds split by
    COMM, FORK and MMAP2 records. /usr/bin/true maps 0x400000 from its start (the ELF header, no CFI): each
    chain is the ip alone (stop no-cfi), unwound in C once the Python loop made the ip's plan."""
    attr = pb.sw_attr(DWARF_TYPE, sample_regs_user=REGS, sample_stack_user=64)
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0)]
    t = 1
    for round_ in range(3):
        for i in range(12):
            t += 1
            recs.append(_sample(0x400010 + 16 * (i % 3), 1 + (i % 4 == 3), t, period=7 + (i % 5 == 0),
                                stack=bytes([i, round_]) * 8, chain=(USER, 0x400010) if i % 6 == 1 else ()))
        recs.append(_sample(0x400010, 1, t + 1, misc=1))
        recs.append(_sample(0x400010, 1, t + 2, chain=(KERNEL, 0xFFFFFFFF81000000)))
        t += 3
        recs.append([pb.comm(1, 1, f"b{round_}", t), pb.fork(2, 1, 2, 1, t),
                     pb.mmap2(1, 0x500000, 0x1000, 0, BIN, t)][round_])
    path = tmp_path / "dwarf.data"
    path.write_bytes(pb.perf_data(recs, [(attr, (7,))]))
    return str(path)


def test_hand_made_file_counted_as_resolved(tmp_path, monkeypatch):
    path = _file(tmp_path)
    want = _counted(path, None, _none, monkeypatch)
    assert want[2] == 3 * 14
    for how, loop in _loops():
        got = _counted(path, None, loop, monkeypatch)
        assert got[:3] == want[:3], how
        assert 0 < got[3] < want[2], how


def _key(loop, sample, threads, ctx):
    return loop([sample], 0, Sample, threads, ctx, {}, None)[2]


@pytest.mark.parametrize("how", ["c", "python"])
def test_keys_hold_what_resolution_reads(how, tmp_path):
    """The key differs where the resolution may (ip, period, user chain) and is the same where only the stack
    copy differs; it is None where the loop leaves the sample to the Python path (kernel mode, a kernel chain,
    a thread the machine lacks, another register mask, maps at another generation, no stack)."""
    loop = dict(_loops()).get(how)
    if loop is None:
        need_speedups()
    session = Session(_file(tmp_path), unwinder=DwarfUnwinder())
    samples = [rec for batch in session.data.record_batches() for rec in batch if type(rec) is Sample]
    for rec in samples[:3]:  # (thread 1's three ips: their plans made)
        session.resolve(rec)
    ctx = counts._dwarf_ctx(session.unwinder, samples[0], counts._NO_DWARF_CTX)
    threads = session.machine.threads
    keys = [_key(loop, rec, threads, ctx) for rec in samples[:14]]
    user = {i for i, rec in enumerate(samples[:12]) if rec.tid == 1}
    assert None not in [keys[i] for i in user]
    assert len({keys[i] for i in user}) == len({(samples[i].ip, samples[i].period, samples[i].callchain)
                                                for i in user})
    assert keys[0] == _key(loop, samples[14 + 0], threads, ctx)  # (the next round's: another stack copy)
    assert keys[3] is None  # thread 2: not in the machine yet (the Python path makes it)
    assert keys[12] is None and keys[13] is None  # kernel mode, a kernel chain
    first = samples[0]
    regs = first.regs_user
    other_mask = tuple.__new__(type(regs), (regs[0], regs[1] | 1, (0,) + regs[2]))
    assert _key(loop, tuple.__new__(Sample, (*first[:15], other_mask, *first[16:])), threads, ctx) is None
    assert _key(loop, tuple.__new__(Sample, (*first[:16], b"", *first[17:])), threads, ctx) is None
    assert _key(loop, first, threads, ctx[:1] + (ctx[1] + 1,) + ctx[2:]) is None
