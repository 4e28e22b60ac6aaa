"""perfdata/_speedups_records.c against the Python code it replaces, and the reader's use of it:

* ``side_record`` (C) against ``records.side_record`` on random MMAP, MMAP2 (with and without a build id),
  COMM, FORK and EXIT records and others: the same (time, record) or None, with equal record classes;
* ``KeyScanner(..., side)`` against ``KeyLayout.python_scanner(side)`` on chunks mixing samples and those
  records: the same stop word, times and items;
* ``nonkey_positions`` against ``stream._py_nonkey_positions``;
* ``keyed_batches`` delivers the same records, in the same places among the keys, whether the scan decodes
  them (``_side``) or the careful path queues them as entries (which fails if a record is dropped, moved
  or decoded differently).
"""
from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import need_speedups
from pyperf_probe.perfdata import records, stream
from pyperf_probe.perfdata.format import SampleType
from pyperf_probe.perfdata.reader import PerfDataFile
from pyperf_probe.perfdata.sample_keys import KeyLayout
from pyperf_probe.perfdata.speedups import speedups

DATA = Path(__file__).parent / "golden" / "report" / "data"
NO_TIME = 2**64 - 1
SIDE_TYPES = (1, 10, 3, 7, 4)


@pytest.fixture(autouse=True)
def built():
    need_speedups()


@st.composite
def specs(draw):
    words = draw(st.integers(1, 6))
    return 8 * words, 8 * draw(st.integers(0, words - 1))


@st.composite
def side_records(draw, spec):
    """One whole record (header included) of a side type or another, its body and trailer random."""
    trailer_size, time_at = spec
    rtype = draw(st.sampled_from(SIDE_TYPES + (2, 9, 68, 17)))
    misc = draw(st.sampled_from([0, 1, 2, 0x2000, 0x4000, 0x4002, 0x6001, 0xFFFF]))
    head = {1: 32, 10: 64, 3: 8, 7: 24, 4: 24}.get(rtype, 16)
    head = max(0, head + draw(st.sampled_from([0, 0, 0, -8, -4, -1])))
    body = draw(st.binary(min_size=head, max_size=head))
    if rtype == 10 and draw(st.booleans()):  # a build-id size beyond 20
        body = body[:32] + bytes([draw(st.integers(0, 255))]) + body[33:] if len(body) > 32 else body
    name = draw(st.one_of(st.binary(max_size=24), st.text(max_size=8).map(lambda s: s.encode())))
    if draw(st.booleans()):
        name += b"\0" * draw(st.integers(1, 9))
    time = draw(st.sampled_from([0, NO_TIME, 1, 2**63 + 5]) | st.integers(0, 2**64 - 1))
    trailer = bytearray(draw(st.binary(min_size=trailer_size, max_size=trailer_size)))
    trailer[time_at:time_at + 8] = struct.pack("<Q", time)
    payload = body + name
    if draw(st.integers(0, 4)):  # mostly u64-aligned, as perf writes them
        payload += b"\0" * (-(len(payload) + len(trailer)) % 8)
    if draw(st.integers(0, 6)) == 0:  # a record too short for its trailer
        trailer = trailer[:draw(st.integers(0, len(trailer)))]
    size = 8 + len(payload) + len(trailer)
    return struct.pack("<IHH", rtype, misc, size) + payload + bytes(trailer)


@st.composite
def spec_and_record(draw):
    spec = draw(specs())
    return spec, draw(side_records(spec))


def full_spec(spec):
    return records.side_spec(*spec)


@settings(max_examples=600, deadline=None)
@given(spec_and_record())
def test_c_side_record_is_the_python_one(case):
    spec, rec = case
    c = speedups.side_record(full_spec(spec), rec)
    python = records.side_record(full_spec(spec), rec, 0, len(rec))
    assert c == python
    if c is not None:
        assert type(c[1]) is type(python[1])
        assert type(c[1]) in records.SIDE_CLASSES
        assert [type(v) for v in c[1]] == [type(v) for v in python[1]]


def test_side_record_fields():
    """An MMAP2 with a build id and an EXIT record, field by field (fails if a field is misread)."""
    spec = records.side_spec(16, 8)
    trailer = struct.pack("<IIQ", 5, 6, 1234)
    body = struct.pack("<iiQQQB3x20sII", -1, 7, 0x1000, 0x2000, 0x30, 3, b"\xAB\xCD\xEF" + b"\0" * 17, 5, 2)
    name = b"/usr/lib/\xff.so\0\0\0"
    rec = struct.pack("<IHH", 10, 0x4002, 8 + len(body) + len(name) + len(trailer)) + body + name + trailer
    for got in (speedups.side_record(spec, rec), records.side_record(spec, rec, 0, len(rec))):
        time, mmap2 = got
        assert time == 1234
        assert type(mmap2) is records.Mmap2Record
        assert (mmap2.pid, mmap2.tid, mmap2.start, mmap2.length, mmap2.pgoff) == (-1, 7, 0x1000, 0x2000, 0x30)
        assert (mmap2.prot, mmap2.flags, mmap2.misc, mmap2.time) == (5, 2, 0x4002, 1234)
        assert mmap2.build_id == b"\xAB\xCD\xEF" and mmap2.filename == "/usr/lib/\ufffd.so"
    exit_body = struct.pack("<IIIIQ", 2**32 - 1, 1, 3, 4, 99)
    rec = struct.pack("<IHH", 4, 0, 8 + len(exit_body) + len(trailer)) + exit_body + trailer
    for time, ex in (speedups.side_record(spec, rec), records.side_record(spec, rec, 0, len(rec))):
        assert type(ex) is records.ExitRecord
        assert tuple(ex) == (2**32 - 1, 1, 3, 4, 99, 0, 1234)


def sample_record(layout: KeyLayout, time: int, words: list[int]) -> bytes:
    body = list(words)
    body[layout.time_word - 1] = time
    return struct.pack("<IHH", 9, 2, 8 + 8 * len(body)) + struct.pack(f"<{len(body)}Q", *body)


@st.composite
def mixed_chunks(draw):
    bits = draw(st.lists(st.sampled_from((SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.CPU,
                                          SampleType.PERIOD, SampleType.RAW)), unique=True))
    sample_type = SampleType.TIME
    for bit in bits:
        sample_type |= bit
    layout = KeyLayout.of(sample_type, timed=draw(st.booleans()))
    spec = draw(specs())
    fixed = layout.fixed_end // 8 - 1
    parts = []
    for kind in draw(st.lists(st.sampled_from("ssrrj"), max_size=30)):
        if kind == "s":
            words = draw(st.lists(st.integers(0, 2**64 - 1), min_size=fixed, max_size=fixed + 3))
            parts.append(sample_record(layout, draw(st.integers(0, 2**64 - 1)), words))
        elif kind == "r":
            parts.append(draw(side_records(spec)))
        else:
            parts.append(draw(st.binary(min_size=8, max_size=24)))
    buf = b"".join(parts)
    return layout, spec, buf[:draw(st.integers(0, len(buf)))]


@settings(max_examples=400, deadline=None)
@given(mixed_chunks(), st.integers(0, 4))
def test_c_scan_with_side_is_the_python_loop(case, start):
    layout, spec, buf = case
    nw = len(buf) >> 3
    start = min(start, nw)
    results = []
    for scan in (layout.scanner(full_spec(spec)), layout.python_scanner(full_spec(spec))):
        times: list = []
        items: list = []
        with memoryview(buf) as view, view[:nw << 3].cast("Q") as words:
            stop = scan(buf, words, start, nw, times, items)
        results.append((stop, times, items, [type(item) for item in items]))
    assert results[0] == results[1]


@given(st.lists(st.sampled_from([b"k", b"", (b"k", 1), (1, 2, 3, 4, 5), records.FINISHED_ROUND, None, 3,
                                 bytearray(b"k"), (b"k",)]), max_size=30), st.booleans())
def test_nonkey_positions(items, timed):
    assert speedups.nonkey_positions(items, timed) == stream._py_nonkey_positions(items, timed)


def delivered(path: Path, side: bool, monkeypatch, **kwargs) -> list:
    """What keyed_batches delivers: keys as they are, records as (class, fields)."""
    if not side:
        monkeypatch.setattr(stream, "side_spec", lambda *args: None)
    out = []
    with PerfDataFile.open(str(path)) as data:
        for item in data.keyed_batches(**kwargs):
            if type(item) is list:
                out.append(("keys", list(item)))
            else:
                out.append((type(item).__name__, tuple(item)))
        stats = data.stats
    monkeypatch.undo()
    return out, stats


@pytest.mark.parametrize("name", ["make.data", "mt.data", "two.data", "lost.data", "cxx.data"])
@pytest.mark.parametrize("kwargs", [{}, {"timed": True}])
def test_keyed_batches_same_with_side(name, kwargs, monkeypatch):
    path = DATA / name
    with PerfDataFile.open(str(path)) as data:
        if data.keyed_layout(**kwargs) is None:
            pytest.skip("no keyed layout")
    plain, plain_stats = delivered(path, False, monkeypatch, **kwargs)
    side, side_stats = delivered(path, True, monkeypatch, **kwargs)
    assert side == plain
    assert side_stats == plain_stats
    assert any(kind in ("Mmap2Record", "MmapRecord", "CommRecord") for kind, _ in side)


# --- SampleCodec: sample.SampleDecoder's C loop -----------------------------------------------------------

C_BITS = (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.TIME, SampleType.ADDR, SampleType.ID,
          SampleType.STREAM_ID, SampleType.CPU, SampleType.PERIOD, SampleType.CALLCHAIN, SampleType.RAW,
          SampleType.REGS_USER, SampleType.STACK_USER, SampleType.WEIGHT, SampleType.DATA_SRC,
          SampleType.TRANSACTION, SampleType.PHYS_ADDR, SampleType.CGROUP, SampleType.DATA_PAGE_SIZE,
          SampleType.CODE_PAGE_SIZE, SampleType.WEIGHT_STRUCT)


@st.composite
def codec_cases(draw):
    """An attr of C-decodable fields and a record body: well formed (fields drawn per sample_type) or cut,
    padded or garbled."""
    from pyperf_probe.perfdata.format import EventAttr
    bits = draw(st.lists(st.sampled_from(C_BITS), unique=True, max_size=8))
    sample_type = 0
    for bit in bits:
        sample_type |= bit
    mask = draw(st.sampled_from([0, 1, 0xFF0FFF, 2**64 - 1]))
    attr = EventAttr(type=1, sample_type=sample_type, sample_regs_user=mask,
                     sample_period=draw(st.integers(0, 2**64 - 1)))
    body = b""
    u64 = st.integers(0, 2**64 - 1)
    for bit in (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.TIME, SampleType.ADDR,
                SampleType.ID, SampleType.STREAM_ID, SampleType.CPU, SampleType.PERIOD):
        if sample_type & bit:
            body += struct.pack("<Q", draw(u64))
    if sample_type & SampleType.CALLCHAIN:
        chain = draw(st.lists(u64, max_size=5))
        body += struct.pack(f"<Q{len(chain)}Q", len(chain), *chain)
    if sample_type & SampleType.RAW:
        data = draw(st.binary(max_size=20))
        raw = struct.pack("<I", len(data)) + data
        body += raw + b"\0" * (-len(raw) % 8)
    if sample_type & SampleType.REGS_USER:
        abi = draw(st.sampled_from([0, 2]))
        body += struct.pack("<Q", abi)
        if abi:
            body += struct.pack(f"<{bin(mask).count('1')}Q", *[draw(u64) for _ in range(bin(mask).count("1"))])
    if sample_type & SampleType.STACK_USER:
        size = draw(st.sampled_from([0, 8, 16]))
        body += struct.pack("<Q", size)
        if size:
            body += draw(st.binary(min_size=size, max_size=size)) + struct.pack("<Q", draw(st.integers(0, size + 1)))
    for bit in (SampleType.WEIGHT | SampleType.WEIGHT_STRUCT, SampleType.DATA_SRC, SampleType.TRANSACTION,
                SampleType.PHYS_ADDR, SampleType.CGROUP, SampleType.DATA_PAGE_SIZE, SampleType.CODE_PAGE_SIZE):
        if sample_type & bit:
            body += struct.pack("<Q", draw(u64))
    damage = draw(st.sampled_from(["none", "none", "cut", "pad", "garble"]))
    if damage == "cut":
        body = body[:draw(st.integers(0, len(body)))]
    elif damage == "pad":
        body += draw(st.binary(max_size=16))
    elif damage == "garble" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1:]
    record = struct.pack("<IHH", 9, 0, (8 + len(body)) & 0xFFFF) + body
    return attr, record, draw(st.integers(0, 0xFFFF)), draw(st.sampled_from([None, 0, 12345]))


def outcome(decode, *args):
    from pyperf_probe.perfdata.sample import CorruptRecord
    try:
        sample = decode(*args)
    except CorruptRecord as exc:
        return "corrupt", str(exc)
    return type(sample), tuple(sample), [type(v) for v in sample], \
        [type(v) for v in sample.regs_user] if sample.regs_user is not None else None


@settings(max_examples=600, deadline=None)
@given(codec_cases())
def test_sample_codec_is_the_python_decoder(case):
    from pyperf_probe.perfdata.sample import SampleDecoder
    attr, record, misc, file_offset = case
    decoder = SampleDecoder(attr, 3)
    assert isinstance(decoder.decode, speedups.SampleCodec)
    args = (record, 8, len(record), misc, file_offset)
    assert outcome(decoder.decode, *args) == outcome(decoder.python_decode, *args)
    if attr.sample_type & SampleType.STACK_USER:  # the reader's viewed samples
        view = memoryview(record)
        args = (view, 8, len(record), misc, file_offset)
        assert outcome(decoder.decode, *args) == outcome(decoder.python_decode, *args)
    # decode_run: the entries of those records (and a decoded record between them) as _decode_batches has them
    entries = [(1, 9, misc, record, file_offset), records.FINISHED_ROUND, (2, 9, misc, record, 7),
               (3, 3, 0, b"", 9), (4, 9, misc, record, 8)]
    out: list = []
    stop = decoder.decode_run(entries, 0, out)
    expected: list = []
    for entry in entries:
        if type(entry) is not tuple:
            expected.append(entry)
            continue
        if entry[1] != 9 or outcome(decoder.python_decode, entry[3], 8, len(entry[3]), entry[2], entry[4])[0] \
                == "corrupt":
            break
        expected.append(decoder.python_decode(entry[3], 8, len(entry[3]), entry[2], entry[4]))
    assert out == expected
    assert stop == len(expected)


@st.composite
def entry_chunks(draw):
    spec = draw(specs())
    time_word = draw(st.integers(0, 3))
    parts = []
    for kind in draw(st.lists(st.sampled_from("ssrjx"), max_size=20)):
        if kind == "s":
            words = draw(st.lists(st.integers(0, 2**64 - 1), min_size=0, max_size=6))
            if time_word and len(words) >= time_word and draw(st.booleans()):
                words[time_word - 1] = draw(st.sampled_from([0, NO_TIME, 5]))
            parts.append(struct.pack("<IHH", 9, draw(st.integers(0, 0xFFFF)), 8 + 8 * len(words)) +
                         struct.pack(f"<{len(words)}Q", *words))
        elif kind == "r":
            parts.append(draw(side_records(spec)))
        elif kind == "x":
            parts.append(struct.pack("<IHH", 9, 0, draw(st.integers(0, 40))) + bytes(8))
        else:
            parts.append(draw(st.binary(min_size=8, max_size=24)))
    buf = b"".join(parts)
    return buf[:draw(st.integers(0, len(buf)))], spec, time_word


@settings(max_examples=400, deadline=None)
@given(entry_chunks(), st.integers(0, 3), st.booleans(), st.sampled_from([0, 16, 1024]), st.booleans())
def test_c_entry_scan_is_the_python_one(case, start, viewed, view_min, with_side):
    buf, spec, time_word = case
    nw = len(buf) >> 3
    start = min(start, nw)
    side = full_spec(spec) if with_side else None
    results = []
    for scan in (speedups.entry_scan, stream._py_entry_scan):
        view = memoryview(buf) if viewed else None
        times: list = []
        items: list = []
        stop = scan(buf, view, start, nw, 4096, time_word, view_min, side, times, items)
        results.append((stop, times, [tuple(bytes(v) if isinstance(v, memoryview) else v for v in item)
                                      if type(item) is tuple else item for item in items],
                        [type(item[3]) if type(item) is tuple else type(item) for item in items]))
    assert results[0] == results[1]


def batches_of(path: Path, monkeypatch, c: bool) -> tuple:
    """record_batches' records (memoryviews as bytes) and stats, with the C loops or with the Python code."""
    from pyperf_probe.perfdata import sample
    if not c:
        monkeypatch.setattr(sample, "speedups", None)
        monkeypatch.setattr(stream, "_entry_scan", stream._py_entry_scan)
    out = []
    with PerfDataFile.open(str(path)) as data:
        if c:
            assert isinstance(data._stream._decoders[0].decode, speedups.SampleCodec) or \
                len(data._stream._decoders) > 1
        for batch in data.record_batches():
            out.append([(type(rec).__name__, tuple(bytes(v) if isinstance(v, memoryview) else v for v in rec))
                        for rec in batch])
        stats = data.stats
    monkeypatch.undo()
    return out, stats


@pytest.mark.parametrize("name", ["make.data", "mt.data", "two.data", "lost.data", "cxx.data", "py.data"])
def test_record_batches_same_with_c(name, monkeypatch):
    """The ordered path with the C scan and decoder delivers what the Python code delivers (fails if a
    record is lost, moved or decoded differently)."""
    path = DATA / name
    c, c_stats = batches_of(path, monkeypatch, True)
    python, python_stats = batches_of(path, monkeypatch, False)
    assert c == python
    assert c_stats == python_stats
