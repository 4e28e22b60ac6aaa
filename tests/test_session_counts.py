"""session.counts and perfdata.sample_keys: counting samples by key gives exactly what aggregating
``Session.samples()`` one by one gives (groups, their order, the counters and the warnings), on every golden
file, on hand-made files that take the reader's careful paths (timestamps 0, records of odd sizes, samples
too short or with corrupt call chains, unknown ids, a pid learnt late, ADDR/ID/STREAM_ID between TIME and
CPU), and on fuzzed files. The list-based ordered queue is checked against perf's per-record algorithm
(ordered-events.c, as the reader had it record by record) on random timestamp streams."""
from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import perfdata_build as pb
from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata import ordered
from pyperf_probe.perfdata.format import RecordType, SampleType
from pyperf_probe.perfdata.sample import SampleDecoder
from pyperf_probe.perfdata.sample_keys import KeyLayout
from pyperf_probe.session import Session, counts

GOLDEN = Path(__file__).parent / "golden"
DATA_FILES = sorted(p for d in ("report", "reader") for p in (GOLDEN / d / "data").glob("*.data")
                    if p.stat().st_size > 64)


def _frame(f):
    return (f.dso, f.sym, f.avma, f.file_offset, f.inlined)


def _plain(groups):
    return [[(tuple(t), _frame(loc), tuple(map(_frame, chain)), raw, tuple(v))
             for (t, loc, chain, raw), v in g.items()] for g in groups]


def _by_samples(path: str, with_raw: bool = True):
    session = Session(path, force=True)
    groups = [{} for _ in session.evsels]
    for evsel, thread, period, raw, loc, chain, _ in session.samples():
        got = groups[evsel].setdefault((thread, loc, chain, raw if with_raw else None), [0, 0])
        got[0] += period
        got[1] += 1
    return session, groups


def _both(path: str, caplog, with_raw: bool = True):
    """(groups, counters, warnings) by samples() and by sample_groups(); ``with_raw`` False: groups without
    RAW (report's comm,dso,sym: tracepoint samples without chains are then keyed without it)."""
    results = []
    for how in ("samples", "groups"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="pyperf"):
            try:
                if how == "samples":
                    session, groups = _by_samples(path, with_raw)
                else:
                    session = Session(path, force=True)
                    groups = session.sample_groups(with_raw=with_raw)
            except PerfDataError as exc:  # only while opening: the record stream never raises
                results.append(("error", str(exc), list(caplog.messages)))
                continue
        counters = (session.nr_samples, session.lost_samples, session.total_lost, session.nr_lost_chunks,
                    session.data.stats, session.data.out_of_order)
        results.append((_plain(groups), counters, list(caplog.messages)))
    return results


def assert_same(path: str, caplog):
    """sample_groups() = samples() counted, with RAW in the groups and without (the first's result)."""
    without = _both(path, caplog, with_raw=False)
    assert without[1] == without[0]
    by_samples, by_keys = _both(path, caplog)
    assert by_keys == by_samples
    return by_keys


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_golden_files(path, caplog, speedups_or_not):
    groups, counters, _ = assert_same(str(path), caplog)
    assert counters[0] == sum(v[1] for g in groups for *_, v in g)


def write(tmp_path, records, attrs=None) -> str:
    path = tmp_path / "t.data"
    path.write_bytes(pb.perf_data(records, attrs) if attrs else pb.perf_data(records))
    return str(path)


BIN = "/usr/bin/true"


def test_rounds_out_of_order_and_time_zero(tmp_path, caplog, speedups_or_not):
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0),
            pb.sample(0x400010, 1, 1, 10), pb.sample(0x400030, 1, 1, 30), pb.sample(0x400020, 1, 1, 0),
            pb.finished_round(), pb.sample(0x400015, 1, 1, 15), pb.comm(1, 1, "b", 16),
            pb.sample(0x400010, 1, 1, 17), pb.finished_round(), pb.sample(0x400005, 1, 1, 5),
            pb.sample(0x400010, 1, 1, 50), pb.sample(0x400010, 2, 2, 50)]
    groups, counters, _ = assert_same(write(tmp_path, recs), caplog)
    assert counters[0] == 8 and counters[-1] == 1
    assert [t[2] for t, *_ in groups[0]][:2] == ["a", "a"]


def test_pid_learnt_late(tmp_path, caplog, speedups_or_not):
    # a sample without a known pid (-1) makes the thread; later samples name its pid: perf updates it
    recs = [pb.sample(0x10, 0xFFFFFFFF, 5, 10), pb.sample(0x10, 3, 5, 11), pb.sample(0x10, 0xFFFFFFFF, 5, 12),
            pb.sample(0x20, 3, 3, 13), pb.finished_round(), pb.sample(0x10, 0xFFFFFFFF, 5, 14),
            pb.sample(0x10, 0xFFFFFFFF, 6, 15), pb.sample(0x10, 4, 6, 16)]
    groups, _, _ = assert_same(write(tmp_path, recs), caplog)
    assert {t for t, *_ in groups[0]} >= {(-1, 5, ":5"), (3, 5, ":5"), (4, 6, ":6")}


def test_pid_learnt_in_a_later_run(tmp_path, caplog, speedups_or_not):
    # the key without a pid is cached from the first run (a COMM of another thread ends it); in the second,
    # a sample naming the pid comes between two of it: the one after resolves in the thread as it is then
    recs = [pb.sample(0x10, 0xFFFFFFFF, 5, 10), pb.comm(9, 9, "x", 11), pb.sample(0x10, 0xFFFFFFFF, 5, 12),
            pb.sample(0x10, 3, 5, 13), pb.sample(0x10, 0xFFFFFFFF, 5, 14)]
    groups, _, _ = assert_same(write(tmp_path, recs), caplog)
    assert [(tuple(t), v) for t, *_, v in groups[0]] == [((-1, 5, ":5"), (2, 2)), ((3, 5, ":5"), (2, 2))]


def test_short_sample_odd_sizes_and_unknown_types(tmp_path, caplog, speedups_or_not):
    short = struct.pack("<IHH", RecordType.SAMPLE, 2, 24) + struct.pack("<QQ", 0x10, 1 | 1 << 32)
    odd = struct.pack("<IHH", RecordType.COMM, 0, 8 + 8 + 7) + struct.pack("<II", 1, 1) + b"odd\0\0\0\0"
    unknown = pb.record(200, 0, b"\0" * 8)
    recs = [pb.sample(0x10, 1, 1, 10), short, pb.sample(0x10, 1, 1, 11), odd, pb.sample(0x10, 1, 1, 12),
            unknown, pb.sample(0x10, 1, 1, 13), short]
    groups, counters, warnings = assert_same(write(tmp_path, recs), caplog)
    assert counters[4].nr_corrupt == 3 and counters[0] == 4 and len(warnings) == 3


def test_corrupt_callchain_warning_is_the_records(tmp_path, caplog, speedups_or_not):
    attr = pb.sw_attr(pb.CC_SAMPLE_TYPE)
    bad = struct.pack("<QIIQIIQQ", 0x10, 1, 1, 20, 0, 0, 1, 1 << 60) + b"\0" * 8
    recs = [pb.sample_cc(0x10, 1, 1, 30, [0x10, 0x20]), pb.record(9, 2, bad),
            pb.sample_cc(0x10, 1, 1, 10, [0x10, 0x20]), pb.record(9, 2, bad)]
    _, counters, warnings = assert_same(write(tmp_path, recs, [(attr, (7,))]), caplog)
    assert counters[4].nr_corrupt == 2 and "callchain overruns the record" in warnings[0]


def test_two_events_and_an_unknown_id(tmp_path, caplog, speedups_or_not):
    st_ = pb.SW_SAMPLE_TYPE | SampleType.ID
    attrs = [(pb.sw_attr(st_), (7,)), (pb.sw_attr(st_).replace(config=1), (8,))]

    def smp(ip, time, sid):
        return pb.record(9, 2, struct.pack("<QIIQQIIQ", ip, 1, 1, time, sid, 0, 0, 1))
    recs = [smp(0x10, 1, 7), smp(0x10, 2, 8), smp(0x10, 3, 9), smp(0x10, 4, 0), smp(0x20, 5, 8)]
    groups, counters, _ = assert_same(write(tmp_path, recs, attrs), caplog)
    assert counters[4].nr_unknown_id == 1 and len(groups[1]) == 2


@pytest.mark.parametrize("with_cpu", [True, False])
def test_fields_between_time_and_cpu(tmp_path, caplog, with_cpu, speedups_or_not):
    st_ = (SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.ADDR | SampleType.ID |
           SampleType.STREAM_ID | SampleType.PERIOD | (SampleType.CPU if with_cpu else 0))
    layout = KeyLayout.of(st_)
    assert layout.key_type == st_ & ~(SampleType.TIME | SampleType.CPU)

    def smp(ip, time, addr, cpu):
        cpu_field = struct.pack("<II", cpu, 0) if with_cpu else b""
        return pb.record(9, 2, struct.pack("<QIIQQQQ", ip, 1, 1, time, addr, 7, 7) + cpu_field +
                         struct.pack("<Q", 1))
    recs = [smp(0x10, 1, 0xA, 0), smp(0x10, 2, 0xA, 1), smp(0x10, 3, 0xB, 1), smp(0x20, 4, 0xA, 0)]
    path = write(tmp_path, recs, [(pb.sw_attr(st_), (7,))])
    groups, _, _ = assert_same(path, caplog)
    assert [v for *_, v in groups[0]] == [(3, 3), (1, 1)]  # ADDR is in the key, not in a group
    attr = pb.sw_attr(st_)
    record = recs[2]
    whole = SampleDecoder(attr, 0).decode(record, 8, len(record), 2, 0x40)
    keyed = layout.decoder(attr, 0)(layout.key_of(record))
    assert keyed == whole._replace(time=None, cpu=None, file_offset=None)
    assert keyed.addr == 0xB and keyed.id == keyed.stream_id == 7


def test_unkeyed_sample_types_are_read_one_by_one():
    assert KeyLayout.of(pb.SW_SAMPLE_TYPE | SampleType.REGS_USER | SampleType.STACK_USER) is None
    assert KeyLayout.of(pb.SW_SAMPLE_TYPE & ~SampleType.TIME) is None
    assert KeyLayout.of(pb.SW_SAMPLE_TYPE) is not None


# --- fuzzing --------------------------------------------------------------------------------------------

from test_reader_fuzz import corrupted  # noqa: E402


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=corrupted())
def test_fuzzed_files(raw, tmp_path, caplog, speedups_or_not):
    path = tmp_path / "fuzz.data"
    path.write_bytes(raw)
    assert_same(str(path), caplog)


# --- the ordered queue against perf's per-record algorithm ----------------------------------------------


def _reference(entries, max_queued):
    """ordered-events.c record by record (the reader's former loop): (delivered times, out_of_order)."""
    queue, out = [], []
    state = {"queue_max": 0, "max_ts": 0, "next_flush": 0, "last_flush": 0, "ooo": 0}

    def flush(limit):
        if not queue or limit == 0:
            return
        queue.sort(key=lambda e: e[0])
        cut = len(queue) if limit is None else sum(1 for e in queue if e[0] <= limit)
        if cut:
            out.extend(queue[:cut])
            state["last_flush"] = queue[cut - 1][0]
            del queue[:cut]
            state["queue_max"] = queue[-1][0] if queue else 0
    for entry in entries:
        time = entry[0]
        if time and time != ordered.NO_TIME:
            if time >= state["queue_max"] or not queue:
                state["max_ts"] = state["queue_max"] = time
            if time < state["last_flush"]:
                state["ooo"] += 1
            queue.append(entry)
            if len(queue) > max_queued:
                queue.sort(key=lambda e: e[0])
                flush(queue[0][0] + (queue[-1][0] - queue[0][0]) // 2)
        elif entry[1] == ordered.FINISHED_ROUND:
            flush(state["next_flush"])
            state["next_flush"] = state["max_ts"]
        else:
            out.append(entry)
    flush(None)
    return out, state["ooo"]


ENTRY = st.one_of(st.tuples(st.integers(0, 60), st.just(9)), st.tuples(st.none(), st.just(68)),
                  st.tuples(st.none(), st.just(3)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(ENTRY, max_size=80), max_queued=st.integers(1, 12), split=st.integers(1, 20))
def test_queue_is_perfs(entries, max_queued, split, speedups_or_not):
    entries = [(t, k, i) for i, (t, k) in enumerate(entries)]
    q = ordered.OrderedQueue(max_queued=max_queued)
    batches = [entries[i:i + split] for i in range(0, len(entries), split)]
    got = [e for batch in q.reorder_batches(batches) for e in batch]
    assert (got, q.out_of_order) == _reference(entries, max_queued)


@pytest.mark.parametrize("name", ["system.data.xz", "callchain.data.xz"])
def test_tracepoint_files(name, tmp_path, caplog, speedups_or_not):
    """System-wide tracepoint samples (keys cut at their RAW record: the part before it resolved once) and
    tracepoints with kernel chains, around the thousands of COMM/MMAP/FORK records of a busy machine."""
    import lzma
    path = tmp_path / name[:-3]
    path.write_bytes(lzma.decompress((GOLDEN / "tracepoints" / "data" / name).read_bytes()))
    groups, counters, _ = assert_same(str(path), caplog)
    assert counters[0] > 100


def test_raw_keys_around_records(tmp_path, caplog, speedups_or_not):
    """RAW samples whose heads repeat, around COMM/MMAP/FORK records of their thread and of others, a RAW
    size overrunning its sample after its head was seen, and a pid learnt late."""
    from test_script_keys import RAW_TYPE, raw_sample
    attr = pb.sw_attr(RAW_TYPE)
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0),
            raw_sample(0x400010, 1, 1, 10, b"x" * 12), raw_sample(0x400010, 1, 1, 11, b"y" * 12),
            raw_sample(0x400010, 2, 2, 13, b"x" * 12), pb.comm(2, 2, "other", 14),
            raw_sample(0x400010, 1, 1, 15, b"z" * 12), raw_sample(0x400010, 2, 2, 16, b"z" * 12),
            pb.comm(1, 1, "b", 17), raw_sample(0x400010, 1, 1, 18, b"x" * 12),
            raw_sample(0x400010, 1, 1, 19, b"x" * 4, size=60), pb.mmap2(1, 0x400000, 0x1000, 0x1000, BIN, 21),
            raw_sample(0x400010, 1, 1, 22, b"x" * 12), pb.fork(3, 1, 3, 1, 24), raw_sample(0x400010, 1, 1, 25, b"q" * 12),
            raw_sample(0x400010, 0xFFFFFFFF, 7, 26, b"x" * 12), raw_sample(0x400010, 9, 7, 27, b"x" * 12)]
    groups, counters, warnings = assert_same(write(tmp_path, recs, [(attr, (7,))]), caplog)
    assert counters[4].nr_corrupt == 1


@pytest.mark.parametrize("id_bit", ["IDENTIFIER", "ID"])
def test_kernel_samples_keyed_without_raw(tmp_path, caplog, speedups_or_not, id_bit):
    """Kernel-mode samples of tracepoint-like events (IDENTIFIER, RAW) beside a dummy event, as perf record -a
    writes them: keyed without RAW when the groups do not need it, resolved from the key's bytes
    (counts._KernelKeys) once the kernel is loaded: periods other than 1, an unknown id, a pid learnt late,
    user-mode samples among them, COMM and FORK of their threads, and a kernel MMAP that moves the kernel's
    map after samples resolved in it. With ID instead of IDENTIFIER (and no dummy event) the id is a key's
    third field, not its first."""
    identifier = id_bit == "IDENTIFIER"
    st_ = (getattr(SampleType, id_bit) | SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU |
           SampleType.PERIOD | SampleType.RAW)
    dummy = pb.sw_attr(SampleType.IDENTIFIER | SampleType.IP | SampleType.TID | SampleType.TIME |
                       SampleType.CPU | SampleType.PERIOD).replace(config=9)
    attrs = [(pb.sw_attr(st_), (7,)), (pb.sw_attr(st_).replace(config=1), (8,))] + \
        ([(dummy, (9,))] if identifier else [])
    k = 0xFFFFFFFF81000000

    def ided(rec: bytes) -> bytes:  # the sample_id trailer: IDENTIFIER at its end, or ID before cpu
        body = rec[8:] + bytes(8) if identifier else rec[8:-8] + bytes(8) + rec[-8:]
        return pb.record(struct.unpack_from("<I", rec)[0], struct.unpack_from("<H", rec, 4)[0], body)

    def kmmap(start: int, time: int) -> bytes:
        name = b"[kernel.kallsyms]_text\0"
        name += b"\0" * (-len(name) % 8)
        return ided(pb.record(RecordType.MMAP, 1, struct.pack("<iiQQQ", -1, 0, start, 0x1000000, start) + name +
                              pb.trailer(0, 0, time)))

    def smp(sid, ip, pid, tid, time, period=1, raw=b"abcd", misc=1):
        if identifier:
            body = struct.pack("<QQIIQIIQI", sid, ip, pid, tid, time, 0, 0, period, len(raw)) + raw
        else:
            body = struct.pack("<QIIQQIIQI", ip, pid, tid, time, sid, 0, 0, period, len(raw)) + raw
        return pb.record(RecordType.SAMPLE, misc, body)
    a, b = k + 0x10010, k + 0x20020
    recs = [kmmap(k, 0), ided(pb.comm(1, 1, "a", 1)), ided(pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 1)),
            smp(7, a, 1, 1, 2, 3), smp(8, a, 1, 1, 3, raw=b"x" * 12), smp(7, a, 1, 1, 4, 3), smp(7, b, 2, 2, 5, 5), smp(0, b, 9, 9, 5, 6),
            smp(5, b, 2, 2, 6), smp(7, 0x400010, 1, 1, 7, misc=2), smp(7, a, 0xFFFFFFFF, 6, 8, 2),
            smp(8, a, 0xFFFFFFFF, 6, 9), ided(pb.comm(1, 1, "b", 10)), smp(7, a, 1, 1, 11, 3), smp(7, a, 4, 6, 12, 2),
            smp(7, a, 0xFFFFFFFF, 6, 13), ided(pb.fork(3, 1, 3, 1, 14)), smp(7, b, 3, 3, 15, 7),
            smp(7, a, 1, 1, 16, 3), pb.finished_round(), kmmap(k + 0x20000, 17), smp(7, a, 1, 1, 18, 3),
            smp(7, b, 3, 3, 19, 4), smp(0, b, 1, 1, 20, 9), smp(7, a, 3, 3, 21, 4)]
    groups, counters, _ = assert_same(write(tmp_path, recs, attrs), caplog)
    assert counters[4].nr_unknown_id == 1 and {t for t, *_ in groups[0]} >= {(4, 6, ":6"), (-1, 6, ":6")}
    assert {v[0] for *_, v in groups[0]} >= {9, 5, 7, 6} and len(groups[1]) >= 2  # (id 0: the first event)
    assert len({loc for t, loc, *_ in groups[0] if loc[2] == a}) == 2  # (dso, sym, avma, ...): the map moved


# --- --call-graph dwarf samples when nothing reads their chains ---------------------------------------------

UNWIND_FILES = sorted((GOLDEN / "unwind" / "data").glob("*.data"))
# what `perf record --call-graph dwarf` writes for cpu-clock (bench/shapes.py's dwarf.data)
DWARF_TYPE = (SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.ADDR | SampleType.CALLCHAIN |
              SampleType.REGS_USER | SampleType.STACK_USER | SampleType.DATA_SRC)


def _unchained(path: str, caplog, how: str):
    """(groups, counters, warnings) of report's -g none --no-children on ``path``: no unwinder, no chain
    resolved (builder._build's chained_evsels), by samples() or by sample_groups(with_chain=False)."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pyperf"):
        session = Session(path, force=True)
        session.chained_evsels = tuple(False for _ in session.evsels)
        if how == "samples":
            groups = [{} for _ in session.evsels]
            for evsel, thread, period, raw, loc, chain, _ in session.samples():
                got = groups[evsel].setdefault((thread, loc, chain, raw), [0, 0])
                got[0] += period
                got[1] += 1
        else:
            groups = session.sample_groups(with_chain=False)
    counters = (session.nr_samples, session.lost_samples, session.total_lost, session.nr_lost_chunks,
                session.data.stats, session.data.out_of_order)
    return _plain(groups), counters, list(caplog.messages)


def assert_dwarf_keyed(path: str, caplog, monkeypatch):
    """sample_groups counts the file's DWARF samples by walking keys (none decoded one by one) and gets what
    samples() counted gets."""
    from pyperf_probe.session import counts

    def unkeyed(*args):
        raise AssertionError("DWARF samples read one by one although no chain is used")
    by_samples = _unchained(path, caplog, "samples")
    with monkeypatch.context() as m:
        m.setattr(counts, "_count_samples", unkeyed)
        by_keys = _unchained(path, caplog, "groups")
    assert by_keys == by_samples
    return by_keys


@pytest.mark.parametrize("path", UNWIND_FILES, ids=lambda p: p.name)
def test_dwarf_files_keyed_without_their_stacks(path, caplog, monkeypatch, speedups_or_not):
    groups, counters, _ = assert_dwarf_keyed(str(path), caplog, monkeypatch)
    assert counters[0] == sum(v[1] for g in groups for *_, v in g) > 50
    assert all(chain == () for g in groups for _t, _loc, chain, *_ in g)


def _fields_and_generic(path: str, monkeypatch):
    """(groups, nr_samples, keys decoded) of report's -g none --no-children on a DWARF file (no unwinder, no
    chain, no RAW: keys walked past the stacks), by FixedKeys and by the generic path (FixedKeys.of None:
    every new key decoded into a Sample and Session.resolve'd)."""
    def groups(generic: bool):
        with monkeypatch.context() as m:
            if generic:
                m.setattr(counts.FixedKeys, "of", classmethod(lambda cls, session, layout, raw=False: None))
            session = Session(path, force=True)
            session.chained_evsels = tuple(False for _ in session.evsels)
            decoded = []
            real = session.data.decode_key
            session.data.decode_key = lambda key, count=1: decoded.append(key) or real(key, count)
            got = session.sample_groups(with_chain=False, with_raw=False)
        return _plain(got), session.nr_samples, len(decoded)
    return groups(False), groups(True)


def test_dwarf_keys_without_period_resolved_from_their_fields(tmp_path, monkeypatch, speedups_or_not):
    """``perf record --call-graph dwarf`` of cpu-clock samples no PERIOD (DWARF_TYPE: the event's
    sample_period is each sample's), and without kernel-mode samples the kernel never settles: report's -g
    none --no-children keys (IP, TID, ADDR) are resolved from their bytes by FixedKeys, with their event's
    period (few decoded: those of runs an unknown pid sends to the generic path), and count what the generic
    path counts."""
    attr = pb.sw_attr(DWARF_TYPE, sample_regs_user=0x3, sample_stack_user=64).replace(sample_period=7)
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0)]
    for time in range(1, 300):
        recs.append(_dwarf_sample(0x400010 + 16 * (time % 5), 1 + time % 2, 1 + time % 2, time, b"x" * (time % 3 * 8)))
        if time % 50 == 0:
            recs += [pb.finished_round(), pb.comm(2, 2, f"b{time}", time)]
    fast, generic = _fields_and_generic(str(write(tmp_path, recs, [(attr, ())])), monkeypatch)
    assert fast[:2] == generic[:2] and fast[1] == 299
    assert {v[0] // v[1] for g in fast[0] for *_, v in g} == {7}
    assert fast[2] * 4 <= generic[2] and generic[2] > 0, (fast[2], generic[2])


def _dwarf_sample(ip: int, pid: int, tid: int, time: int, stack: bytes = b"", dyn: int | None = None,
                  regs: tuple = (0x1, 0x2), chain: tuple = (0xFFFFFFFFFFFFFE00, 0x10), misc: int = 2,
                  addr: int = 0) -> bytes:
    """A DWARF_TYPE sample: ip, pid/tid, time, addr, callchain, regs_user (abi 2 and the attr's 2 registers,
    or abi 0 alone for ``regs=()``), stack_user (size, data, dyn_size), data_src."""
    body = struct.pack("<QIIQQQ", ip, pid, tid, time, addr, len(chain)) + struct.pack(f"<{len(chain)}Q", *chain)
    body += struct.pack("<Q", 2 if regs else 0) + struct.pack(f"<{len(regs)}Q", *regs)
    body += struct.pack("<Q", len(stack)) + (stack + struct.pack("<Q", len(stack) if dyn is None else dyn)
                                             if stack else b"")
    return pb.record(RecordType.SAMPLE, misc, body + struct.pack("<Q", 0x42))


def test_dwarf_samples_keyed_around_records_and_corrupt_stacks(tmp_path, caplog, monkeypatch, speedups_or_not):
    """Hand-made DWARF samples: equal but for their stacks, registers or chains (one key), between COMM,
    MMAP and FORK records, out of order, without registers or stack, and with a dyn_size past the copy and
    a stack size past the record (corrupt: counted and warned about as decoding them does)."""
    attr = pb.sw_attr(DWARF_TYPE, sample_regs_user=0x3, sample_stack_user=64).replace(sample_period=7)
    bad_dyn = _dwarf_sample(0x400010, 1, 1, 14, b"s" * 16, dyn=24)
    bad_size = bytearray(_dwarf_sample(0x400010, 1, 1, 15, b"s" * 16))
    struct.pack_into("<Q", bad_size, 8 + 40 + 16 + 24, 1 << 20)  # (after the fields, chain and registers)
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0),
            _dwarf_sample(0x400010, 1, 1, 10, b"x" * 32), _dwarf_sample(0x400010, 1, 1, 11, b"y" * 64, dyn=40),
            _dwarf_sample(0x400010, 1, 1, 12, regs=(), chain=()), _dwarf_sample(0x400020, 1, 1, 9, b"z" * 8),
            bad_dyn, bytes(bad_size), pb.finished_round(), pb.comm(1, 1, "b", 16),
            _dwarf_sample(0x400010, 1, 1, 17, b"x" * 32, addr=5), pb.fork(2, 1, 2, 1, 18),
            _dwarf_sample(0x400010, 2, 2, 19, b"x" * 16), _dwarf_sample(0x400010, 0xFFFFFFFF, 3, 20),
            _dwarf_sample(0x400010, 3, 3, 21, b"w" * 8), pb.mmap2(1, 0x400000, 0x1000, 0x1000, BIN, 22),
            _dwarf_sample(0x400010, 1, 1, 23, b"x" * 32, misc=1)]
    groups, counters, warnings = assert_dwarf_keyed(write(tmp_path, recs, [(attr, (7,))]), caplog, monkeypatch)
    assert counters[4].nr_corrupt == 2 and "user stack dump" in warnings[0]
    assert (28, 4) in [v for *_, v in groups[0]]  # thread 1 at 0x400010: t10, t11, t12 (no stack), t17


def _dwarf_file() -> bytes:
    attr = pb.sw_attr(DWARF_TYPE, sample_regs_user=0x3, sample_stack_user=64)
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0)]
    for i in range(12):
        recs.append(_dwarf_sample(0x400010 + 16 * (i % 3), 1 + i % 2, 1 + i % 2, 10 + (i * 7) % 12,
                                  bytes([i]) * (8 * (i % 5)), regs=() if i == 4 else (i, 2 * i)))
        if i == 6:
            recs.append(pb.finished_round())
    return pb.perf_data(recs, [(attr, (7,))])


DWARF_FILE = _dwarf_file()
DWARF_DATA = struct.unpack_from("<Q", DWARF_FILE, 40)[0]  # (FileHeader.data.offset)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, (len(DWARF_FILE) - DWARF_DATA) // 8 - 1),
                                st.sampled_from([0, 1, 8, 0x40, 0xFFFF, 1 << 20, 1 << 63, (1 << 64) - 1])),
                      min_size=1, max_size=3),
       cut=st.one_of(st.none(), st.integers(DWARF_DATA, len(DWARF_FILE))))
def test_fuzzed_dwarf_files(edits, cut, tmp_path, caplog, speedups_or_not):
    """Words of the DWARF samples (sizes, chain and register counts, stack sizes) set to edge values, the
    file maybe cut short: walking keys count what decoding every sample counts."""
    raw = bytearray(DWARF_FILE)
    for word, value in edits:
        struct.pack_into("<Q", raw, DWARF_DATA + 8 * word, value)
    path = tmp_path / "fuzz.data"
    path.write_bytes(bytes(raw[:cut]))
    results = []
    for how in ("samples", "groups"):
        try:
            results.append(_unchained(str(path), caplog, how))
        except PerfDataError as exc:  # (a header the cut made unreadable)
            results.append(("error", str(exc)))
    assert results[1] == results[0]


@pytest.mark.parametrize("name", ["make.data", "mt.data", "two.data"])
def test_chained_uprobe_samples_keyed_without_raw(name, caplog, monkeypatch, speedups_or_not):
    """Report without RAW (--no-children, --sort comm,dso,sym) on -g uprobe files: the samples are keyed by
    their fixed fields and chain (RAW walked past: a probe argument makes every RAW new), and the groups are
    samples()' counted."""
    from pyperf_probe.session import counts
    path = str(GOLDEN / "report" / "data" / name)
    session = Session(path, force=True)
    assert counts._drops_raw_after_chains(session, True, False)
    assert not counts._drops_raw_after_chains(session, True, True)
    assert not counts._drops_raw_after_chains(session, False, False)
    layouts = []
    real = type(session.data).keyed_layout

    def spy(self, *args, **kwargs):
        got = real(self, *args, **kwargs)
        layouts.append(got)
        return got
    monkeypatch.setattr(type(session.data), "keyed_layout", spy)
    groups, counters, _ = assert_same(path, caplog)
    keyed = [layout for layout in layouts if layout is not None and layout.walk]
    assert keyed and all(layout.key_type & SampleType.CALLCHAIN and not layout.key_type & SampleType.RAW
                         for layout in keyed)
    assert counters[0] == sum(v[1] for g in groups for *_, v in g)
