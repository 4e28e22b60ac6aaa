"""RecordStream._segments (keyed_batches' cutting of a chunk's delivered items into runs of keys and
records, now a list when nothing needs decoding, chained in C by itertools.chain) delivers what the
generator it replaced delivered, in the same order, with each entry decoded when it is reached (after
the items ahead of it are consumed), on random item lists, timed or not, with the C and the Python
nonkey_positions (and the C cut, key_segments, against the Python one)."""
from __future__ import annotations

import random
from itertools import chain

import pytest

from pyperf_probe.perfdata import stream


class _Layout:
    def __init__(self, timed: bool):
        self.timed = timed


def _former_segments(self, out):  # (the generator keyed_batches used before, for reference)
    if not self._entries_out and self._side is None:
        if out:
            yield out
        return
    start, n = 0, len(out)
    for stop in stream._nonkey_positions(out, self._keyed_layout.timed):
        if stop > start:
            yield out[start:stop]
        item = out[stop]
        if type(item) is tuple:
            self._entries_out -= 1
            _time, rtype, misc, raw, file_offset = item
            item = self._decode(raw, 0, rtype, misc, len(raw), file_offset)
            if item is not None:
                yield item
        else:
            yield item
        start = stop + 1
    if start < n:
        yield out[start:] if start else out


class _Rec(tuple):
    pass


def _stream(timed: bool, side, entries_out: int, log: list):
    s = stream.RecordStream.__new__(stream.RecordStream)
    s._keyed_layout = _Layout(timed)
    s._side = side
    s._entries_out = entries_out

    def decode(raw, off, rtype, misc, size, file_offset):
        log.append(("decode", file_offset))
        return None if rtype == 0 else _Rec((rtype, raw))
    s._decode = decode
    return s


def _items(rng: random.Random, timed: bool, with_entries: bool) -> list:
    out = []
    for i in range(rng.choice([0, 1, 3, 10, 40])):
        roll = rng.random()
        key = bytes([rng.randrange(4)])
        if roll < 0.7:
            out.append((key, rng.randrange(100)) if timed else key)
        elif roll < 0.85 or not with_entries:
            out.append(_Rec((i, "record")))
        else:
            out.append((rng.randrange(1, 99), rng.choice([0, 3, 10]), 0, b"raw", i))
    return out


def _consume(iterable, log: list) -> list:
    got = []
    for item in iterable:
        log.append(("got", len(got)))
        got.append(list(item) if type(item) is list else item)
    return got


@pytest.mark.parametrize("python_positions", [False, True])
@pytest.mark.parametrize("seed", range(60))
def test_segments_deliver_what_the_generator_did(seed, python_positions, monkeypatch):
    if python_positions:
        monkeypatch.setattr(stream, "_nonkey_positions", stream._py_nonkey_positions)
        monkeypatch.setattr(stream, "_key_segments", None)
    rng = random.Random(seed)
    timed = rng.random() < 0.5
    side = rng.choice([None, (16, 8, ())])
    chunks = [_items(rng, timed, rng.random() < 0.5) for _ in range(rng.randrange(1, 5))]
    entries = sum(type(x) is tuple and len(x) == 5 for c in chunks for x in c)
    extra = rng.choice([0, 0, 2])  # entries still queued for later chunks
    if entries and side is None and not extra:
        extra = 1
    results = []
    for segments in (_former_segments, stream.RecordStream._segments):
        log: list = []
        s = _stream(timed, side, entries + extra, log)
        got = _consume(chain.from_iterable(map(lambda out: segments(s, out), chunks)), log)
        results.append((got, log, s._entries_out))
    assert results[1] == results[0]


@pytest.mark.skipif(stream._key_segments is None, reason="no C accelerator")
@pytest.mark.parametrize("seed", range(200))
def test_c_key_segments_is_the_python_cut(seed, monkeypatch):
    rng = random.Random(seed)
    timed = rng.random() < 0.5
    out = _items(rng, timed, rng.random() < 0.5)
    entries = rng.choice([0, 1, 3])
    results = []
    for c in (True, False):
        if not c:
            monkeypatch.setattr(stream, "_key_segments", None)
        log: list = []
        s = _stream(timed, (16, 8, ()), entries, log)
        got = s._segments(out)
        results.append((type(got) is list, [x if type(x) is not list else (list(x), x is out) for x in got]
                        if type(got) is list else None))
    assert results[0] == results[1]
