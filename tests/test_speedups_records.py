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
