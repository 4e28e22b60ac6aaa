"""perfdata/_speedups.c against the Python code each of its functions replaces:

* ``KeyScanner`` against ``sample_keys.KeyLayout.python_scanner``: for every keyable sample type and any
  bytes, the same stop word, timestamps and keys (with a timed layout, script's: (key, time) pairs); equal
  keys come back as one object (the scanner's hash table), also after the table starts again;
* ``run_extremes`` and ``time_order`` against ``ordered._py_extremes`` and ``ordered._py_time_order``;
* bad arguments raise, never crash.

The golden report and session.counts tests run with and without them (conftest's ``speedups_or_not``)."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import need_speedups
from pyperf_probe.perfdata import ordered
from pyperf_probe.perfdata.format import SampleType
from pyperf_probe.perfdata.reader import PerfDataFile
from pyperf_probe.perfdata.sample_keys import KeyLayout

from pyperf_probe.perfdata.speedups import speedups

KEYABLE_BITS = (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.ADDR, SampleType.ID,
                SampleType.STREAM_ID, SampleType.CPU, SampleType.PERIOD, SampleType.CALLCHAIN, SampleType.RAW)


@pytest.fixture(autouse=True)
def built():
    """These tests compare the C loops with the Python code: they need them built (CI requires them)."""
    need_speedups()


def both(layout: KeyLayout, buf: bytes, start: int = 0):
    """(stop word, times, keys) of the C scan and of the Python loop over ``buf``."""
    nw = len(buf) >> 3
    results = []
    c_scan = layout.scanner()
    assert isinstance(c_scan, speedups.KeyScanner)
    for scan in (c_scan, layout.python_scanner()):
        times: list = []
        keys: list = []
        with memoryview(buf) as view, view[:nw << 3].cast("Q") as words:
            stop = scan(buf, words, start, nw, times, keys)
        results.append((stop, times, keys))
    return results


def sample_record(layout: KeyLayout, time: int, words: list[int], misc: int = 2) -> bytes:
    """A PERF_RECORD_SAMPLE of ``layout``'s type: the header, then ``words`` (at least the fixed fields)
    with TIME at its place."""
    body = list(words)
    body[layout.time_word - 1] = time
    return struct.pack("<IHH", 9, misc, 8 + 8 * len(body)) + struct.pack(f"<{len(body)}Q", *body)


@st.composite
def layouts(draw):
    bits = draw(st.lists(st.sampled_from(KEYABLE_BITS), unique=True))
    sample_type = SampleType.TIME
    for bit in bits:
        sample_type |= bit
    return KeyLayout.of(sample_type, timed=draw(st.booleans()))


@st.composite
def chunks(draw):
    """A layout and a chunk: samples (few distinct bodies, so keys repeat), other records, short or odd-sized
    samples and raw junk, possibly cut anywhere."""
    layout = draw(layouts())
    fixed = layout.fixed_end // 8 - 1
    bodies = draw(st.lists(st.lists(st.integers(0, 2**64 - 1), min_size=fixed, max_size=fixed + 6),
                           min_size=1, max_size=4))
    parts = []
    for kind in draw(st.lists(st.sampled_from("sssssoxjc"), max_size=40)):
        if kind == "s":
            parts.append(sample_record(layout, draw(st.integers(0, 2**64 - 1)), draw(st.sampled_from(bodies)),
                                       draw(st.integers(0, 0xFFFF))))
        elif kind == "o":  # another record type
            parts.append(struct.pack("<IHH", draw(st.integers(1, 80)), 0, 16) + b"\0" * 8)
        elif kind == "x":  # a sample shorter than its fixed fields, or of a size that is not a multiple of 8
            size = draw(st.sampled_from([8, layout.fixed_end - 8, layout.fixed_end + 4]))
            parts.append(struct.pack("<IHH", 9, 0, size) + b"\xAA" * (max(size, 8) - 8))
        elif kind == "j":
            parts.append(draw(st.binary(min_size=8, max_size=40)))
        else:  # a sample that claims more words than the chunk holds
            parts.append(struct.pack("<IHH", 9, 0, 0xFFF8) + b"\0" * layout.fixed_end)
    buf = b"".join(parts)
    cut = draw(st.integers(0, len(buf)))
    return layout, buf[:cut]


@settings(max_examples=400, deadline=None)
@given(chunks())
def test_c_scan_is_the_python_loop(case):
    layout, buf = case
    c, python = both(layout, buf)
    assert c == python
    stop, times, keys = c
    assert stop <= len(buf) >> 3
    if layout.timed:  # (key, time): the time is the object in `times`
        assert all(pair[1] is time for pair, time in zip(keys, times))
        keys = [pair[0] for pair in keys]
    firsts = {}
    for key in keys:  # equal keys are one object
        assert firsts.setdefault(key, key) is key


@given(chunks(), st.integers(0, 8))
@settings(max_examples=100, deadline=None)
def test_from_any_start_word(case, start):
    layout, buf = case
    start = min(start, len(buf) >> 3)
    c, python = both(layout, buf, start)
    assert c == python


GOLDEN_DATA = os.path.join(os.path.dirname(__file__), "golden", "report", "data")


@pytest.mark.parametrize("name", ["mt.data", "make.data", "cxx.data", "py.data", "two.data", "nocg.data"])
def test_golden_files(name):
    """The data section of real perf files, scanned from every record the loops stop at."""
    path = os.path.join(GOLDEN_DATA, name)
    with PerfDataFile.open(path, force=True) as data:
        layout = data.key_layout
        start, size = data.header.data.offset, data.header.data.size
    if layout is None:  # two events of different sample types
        layout = KeyLayout.of(SampleType.IDENTIFIER | SampleType.IP | SampleType.TID | SampleType.TIME |
                              SampleType.PERIOD)
    with open(path, "rb") as f:
        f.seek(start)
        buf = f.read(size)
    word, total, nw = 0, 0, len(buf) >> 3
    while word < nw:
        c, python = both(layout, buf, word)
        assert c == python
        total += len(c[2])
        word = c[0] + (max(struct.unpack_from("<HH", buf, 8 * c[0] + 4)[1] >> 3, 1) if c[0] < nw else 0)
    assert total > 100


def test_intern_table_starts_again():
    """More distinct keys than the table holds (65,536): still right, and equal keys one object."""
    layout = KeyLayout.of(SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.PERIOD)
    n = 70_000
    buf = b"".join(sample_record(layout, t, [t % 66_000, 1, 0, 1]) for t in range(n))
    c, python = both(layout, buf)
    assert c == python and len(c[2]) == n
    keys = c[2]
    # keys 0 .. 65,535 filled the table; it started again at key 65,536, so the second key 0 is a new object
    assert keys[66_000] == keys[0] and keys[66_000] is not keys[0]
    assert keys[66_000] is not keys[66_001]


def test_intern_table_bytes_bound():
    """Large keys: the table starts again past 16 MiB of keys (memory stays bounded), and stays right."""
    layout = KeyLayout.of(SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.PERIOD |
                          SampleType.CALLCHAIN)
    big = [5000] + list(range(5000))  # a 5,000-entry call chain: a 40 KiB key
    buf = b"".join(sample_record(layout, t, [t % 500, 1, 0, 1] + big) for t in range(1000))
    c, python = both(layout, buf)
    assert c == python and len(c[2]) == 1000
    keys = c[2]
    assert keys[500] == keys[0] and keys[500] is not keys[0]  # 500 keys of 40 KiB > 16 MiB: started again


def test_timed_keys_keep_cpu():
    """A timed layout's key is the record without TIME (CPU kept) and comes with its time; its decoder
    gives the sample with its cpu."""
    st_ = SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.ID | SampleType.CPU | SampleType.PERIOD
    layout, plain = KeyLayout.of(st_, timed=True), KeyLayout.of(st_)
    record = sample_record(layout, 77, [0x10, 5 | 6 << 32, 0, 9, 3, 1])
    c, python = both(layout, record)
    assert c == python
    (key, time), = c[2]
    assert time == 77 and key == record[4:24] + record[32:]
    assert plain.key_of(record) == record[4:24] + record[32:40] + record[48:]
    assert layout.key_type == st_ & ~SampleType.TIME
    from pyperf_probe.perfdata.format import EventAttr
    sample = layout.decoder(EventAttr(type=1, config=0, sample_type=st_), 0)(key)
    assert (sample.ip, sample.pid, sample.tid, sample.id, sample.cpu, sample.time) == (0x10, 5, 6, 9, 3, None)


def test_bad_arguments_raise():
    layout = KeyLayout.of(SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.PERIOD)
    scan = speedups.KeyScanner(layout.time_word, layout.head_end, layout.mid_start, layout.mid_end,
                               layout.tail_start, layout.fixed_end)
    with pytest.raises(ValueError):
        scan(b"\0" * 16, None, 0, 3, [], [])
    with pytest.raises(ValueError):
        scan(b"\0" * 16, None, -1, 2, [], [])
    with pytest.raises(TypeError):
        scan("text", None, 0, 0, [], [])
    with pytest.raises(TypeError):
        scan(b"", None, 0, 0, (), [])
    with pytest.raises(ValueError):
        speedups.KeyScanner(2, 16, 24, 24, 24, 16)  # TIME past the fixed fields
    with pytest.raises(ValueError):
        speedups.KeyScanner(1, 12, 16, 16, 16, 24)  # a head that is not whole u64 words
    with pytest.raises(TypeError):
        speedups.run_extremes((1, 2))
    with pytest.raises(TypeError):
        speedups.time_order([1, None], [1, 2])
    with pytest.raises(OverflowError):
        speedups.time_order([1, 2**64], [1, 2])
    with pytest.raises(OverflowError):
        speedups.time_order([1, -1], [1, 2])
    with pytest.raises(ValueError):
        speedups.time_order([1, 2], [1])


def test_pure_python_switch():
    """PYPERF_PURE_PYTHON=1 keeps the Python code (and says nothing)."""
    code = ("from pyperf_probe.perfdata import ordered, sample_keys; "
            "print(sample_keys.speedups is None, ordered._time_order is ordered._py_time_order)")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYPERF_PURE_PYTHON="1"),
                         capture_output=True, text=True, check=True)
    assert out.stdout == "True True\n" and out.stderr == ""


U64S = st.integers(0, 2**64 - 1)


@st.composite
def queued_times(draw):
    """What a queue holds: a few non-decreasing runs (one per CPU buffer and round), or anything, with
    many equal times; sometimes None, 0, huge values."""
    if draw(st.booleans()):
        runs = draw(st.lists(st.lists(st.integers(0, 50), max_size=20).map(sorted), max_size=5))
        return [t for run in runs for t in run]
    return draw(st.lists(st.one_of(st.integers(0, 50), U64S), max_size=60))


@settings(max_examples=500, deadline=None)
@given(queued_times())
def test_time_order_is_a_stable_sort(times):
    items = [object() for _ in times]
    got_times, got_items = speedups.time_order(times, items)
    want_times, want_items = ordered._py_time_order(times, items)
    assert got_times == want_times and all(a is b for a, b in zip(got_items, want_items))
    assert len(got_items) == len(items)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(U64S, st.integers(0, 9), st.none(), st.integers(-5, -1), st.just(2**64), st.booleans()),
                min_size=1, max_size=30))
def test_run_extremes_is_sorted(times):
    want = ordered._py_extremes(times)
    assert ordered._c_extremes(times) == want
    got = speedups.run_extremes(times)
    if any(type(t) is not int or not 0 <= t < 2**64 for t in times):
        assert got is None  # the Python version decides (None among them, or not a u64 int)
    else:
        assert got == want


# --- walking layouts: keys of the fixed fields and RAW, past chains, branch stacks, registers, stacks -------

WALK_BITS = (SampleType.CALLCHAIN, SampleType.RAW, SampleType.BRANCH_STACK, SampleType.REGS_USER,
             SampleType.STACK_USER, SampleType.WEIGHT, SampleType.DATA_SRC, SampleType.REGS_INTR,
             SampleType.PHYS_ADDR)


@st.composite
def walked_chunks(draw):
    """A walking layout and a chunk of samples whose variable fields are well formed or not (sizes that
    overrun, a dyn_size past the stack's size), possibly cut anywhere."""
    fixed_bits = draw(st.lists(st.sampled_from(KEYABLE_BITS[:-2]), unique=True))
    var_bits = draw(st.lists(st.sampled_from(WALK_BITS), unique=True, min_size=1))
    sample_type = SampleType.TIME
    for bit in fixed_bits + var_bits:
        sample_type |= bit
    walk = (draw(st.integers(0, 3)), draw(st.integers(0, 2)), draw(st.booleans()))
    layout = KeyLayout.of(sample_type, timed=draw(st.booleans()), walk=walk, raw=draw(st.booleans()),
                          chain=draw(st.booleans()))
    fixed = layout.fixed_end // 8 - 1
    parts = []
    small = st.integers(0, 3)
    for _ in range(draw(st.integers(0, 12))):
        words = [draw(st.integers(0, 3)) for _ in range(fixed)]
        body = struct.pack(f"<{fixed}Q", *words)
        body = struct.pack("<IHH", 9, 2, 0) + body
        body = bytearray(body)
        struct.pack_into("<Q", body, 8 * layout.time_word, draw(st.integers(0, 99)))
        tail = b""
        for kind, param in layout.walk:
            lie = draw(st.integers(0, 40)) == 0  # a size that overruns the record
            if kind == 1:
                n = draw(small)
                tail += struct.pack("<Q", n + (1 << 20) * lie) + b"\1" * (8 * n)
            elif kind == 2:
                data = draw(st.binary(max_size=13))
                tail += struct.pack("<I", len(data) + 64 * lie) + data + b"\0" * (-(4 + len(data)) % 8)
            elif kind == 3:
                n = draw(small)
                tail += struct.pack("<Q", n + 99 * lie) + (b"\2" * 8 if param else b"") + b"\3" * (24 * n)
            elif kind == 4:
                abi = draw(st.integers(0, 2))
                tail += struct.pack("<Q", abi) + (b"\4" * (8 * param) if abi else b"") + (b"\4" * 8 if lie else b"")
                if lie and abi:
                    tail = tail[:-16]
            elif kind == 5:
                size = draw(st.sampled_from([0, 8, 16]))
                dyn = draw(st.integers(0, size + lie))
                tail += struct.pack("<Q", size) + (b"\5" * size + struct.pack("<Q", dyn) if size else b"")
            else:
                tail += b"\6" * (8 * param) if not lie else b""
        record = bytes(body) + tail
        struct.pack_into("<H", record := bytearray(record), 6, len(record))
        parts.append(bytes(record))
    buf = b"".join(parts)
    return layout, buf[:draw(st.integers(0, len(buf)))]


@settings(max_examples=400, deadline=None)
@given(walked_chunks())
def test_c_walk_is_the_python_walk(case):
    """Walking layouts: the C scan and the Python loop take the same records, stopping at the first whose
    fields overrun it, with the same keys; a record is walked iff the decoder reads it, and its key decodes
    to the fixed fields, RAW and call chain (each where the layout keeps it) the decoder reads."""
    layout, buf = case
    c, python = both(layout, buf)
    assert c == python
    from pyperf_probe.perfdata.format import EventAttr
    from pyperf_probe.perfdata.sample import BRANCH_HW_INDEX, CorruptRecord, SampleDecoder
    from pyperf_probe.perfdata.sample_keys import STEP_BRANCH, STEP_REGS
    regs = [param for kind, param in layout.walk if kind == STEP_REGS] + [0, 0]
    users = regs[0] if layout.sample_type & SampleType.REGS_USER else 0
    intrs = regs[1 if users or layout.sample_type & SampleType.REGS_USER else 0] \
        if layout.sample_type & SampleType.REGS_INTR else 0
    hw = any(kind == STEP_BRANCH and param for kind, param in layout.walk)
    attr = EventAttr(type=1, config=0, sample_type=layout.sample_type, sample_regs_user=(1 << users) - 1,
                     sample_regs_intr=(1 << intrs) - 1, branch_sample_type=BRANCH_HW_INDEX if hw else 0)
    whole = SampleDecoder(attr, 0).decode
    keyed = layout.decoder(attr, 0)
    keys = [k[0] if layout.timed else k for k in c[2]]
    off, taken = 0, 0
    while off + 8 <= len(buf):
        size = struct.unpack_from("<H", buf, off + 6)[0]
        if size < 8 or off + size > len(buf):
            break
        record = buf[off:off + size]
        key = layout.key_of(record) if size >= layout.fixed_end else None
        try:
            sample = whole(record, 8, size, 2, 0)
        except CorruptRecord:
            sample = None
        assert (key is None) == (sample is None or size < layout.fixed_end)
        if key is not None:
            got = keyed(key)
            kept_raw = layout.key_type & SampleType.RAW
            kept_chain = layout.key_type & SampleType.CALLCHAIN
            assert (got.ip, got.pid, got.tid, got.id, got.period, got.raw, got.callchain) == \
                (sample.ip, sample.pid, sample.tid, sample.id, sample.period, sample.raw if kept_raw else None,
                 sample.callchain if kept_chain else None)
            if taken < len(keys) and off < c[0] << 3:
                assert keys[taken] == key
                taken += 1
        off += size
    assert taken == len(keys)
