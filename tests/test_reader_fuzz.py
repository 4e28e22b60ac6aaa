"""Hypothesis fuzzing of the reader and session: a real perf.data (tests/golden/reader/data/rd_two.data,
two events, call chains, every feature perf 6.1 writes) corrupted in its header, attr entries, feature
table and bodies (TRACING_DATA, EVENT_DESC, ...), record sizes and record bodies, or cut anywhere. Every
case must end in a PerfDataError or a normal end of stream (with warnings), never another exception, and
memory must stay bounded (tracemalloc peak far below what a size field taken at face value would
allocate). PYPERF_FUZZ_EXAMPLES sets the number of cases (300 by default; 3000 pass)."""
from __future__ import annotations

import logging
import os
import struct
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata.format import Feature
from pyperf_probe.perfdata.reader import PerfDataFile
from pyperf_probe.session import Session

SOURCE = (Path(__file__).parent / "golden" / "reader" / "data" / "rd_two.data").read_bytes()
DATA_OFFSET, DATA_SIZE = struct.unpack_from("<QQ", SOURCE, 40)
MEMORY_LIMIT = 64 << 20  # bytes; the file is 60 KB


def _record_offsets():
    out, pos = [], DATA_OFFSET
    while pos < DATA_OFFSET + DATA_SIZE:
        out.append(pos)
        pos += struct.unpack_from("<H", SOURCE, pos + 6)[0]
    return out


RECORDS = _record_offsets()


def _feature_sections():
    nbits = bin(int.from_bytes(SOURCE[72:104], "little")).count("1")
    table = DATA_OFFSET + DATA_SIZE
    return [struct.unpack_from("<QQ", SOURCE, table + 16 * i) for i in range(nbits)]


FEATURES = [s for s in _feature_sections() if s[1] >= 8]
U64_EDGES = st.sampled_from([0, 1, 7, 8, 0xFF, 0xFFFF, 1 << 31, 1 << 32, 1 << 62, (1 << 64) - 1,
                             len(SOURCE), len(SOURCE) - 8, DATA_OFFSET])


@st.composite
def corrupted(draw):
    raw = bytearray(SOURCE)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["header", "attr", "record_size", "record_body", "byte", "feature",
                                     "feature_body"]))
        if kind == "header":  # sizes and offsets of the file header
            struct.pack_into("<Q", raw, draw(st.sampled_from([8, 16, 24, 32, 40, 48, 72])), draw(U64_EDGES))
        elif kind == "attr":  # attr size, sample_type, read_format, id section of an attr entry
            base = struct.unpack_from("<Q", SOURCE, 24)[0] + 144 * draw(st.integers(0, 1))
            off, fmt = draw(st.sampled_from([(4, "<I"), (24, "<Q"), (32, "<Q"), (128, "<Q"), (136, "<Q")]))
            struct.pack_into(fmt, raw, base + off, draw(U64_EDGES) & (0xFFFFFFFF if fmt == "<I" else -1))
        elif kind == "record_size":
            struct.pack_into("<H", raw, draw(st.sampled_from(RECORDS)) + 6, draw(st.integers(0, 0xFFFF)))
        elif kind == "record_body":  # e.g. a callchain nr, a raw size, a COMM's pid
            at = draw(st.sampled_from(RECORDS)) + 8 + 8 * draw(st.integers(0, 8))
            if at + 8 <= len(raw):
                struct.pack_into("<Q", raw, at, draw(U64_EDGES))
        elif kind == "byte":
            at = draw(st.integers(0, len(raw) - 1))
            raw[at] = draw(st.integers(0, 255))
        elif kind == "feature_body":  # sizes and counts inside a feature section (TRACING_DATA, EVENT_DESC...)
            section = draw(st.sampled_from(FEATURES))
            at = section[0] + 4 * draw(st.integers(0, max(0, section[1] // 4 - 2)))
            struct.pack_into("<I", raw, at, draw(U64_EDGES) & 0xFFFFFFFF)
        else:  # the feature section table's offsets and sizes
            table = DATA_OFFSET + DATA_SIZE + 16 * draw(st.integers(0, 16))
            if table + 16 <= len(raw):
                struct.pack_into("<Q", raw, table + 8 * draw(st.integers(0, 1)), draw(U64_EDGES))
    if draw(st.booleans()):  # and maybe cut short anywhere
        del raw[draw(st.integers(0, len(raw) - 1)):]
    return bytes(raw)


def _consume(path: str) -> None:
    data = PerfDataFile.open(path)
    for feature in Feature.members().values():
        try:
            data.feature(feature)
        except PerfDataError:
            pass
    for _ in data.records(ordered=False):
        pass
    for _ in Session(data).samples():
        pass


@settings(max_examples=int(os.environ.get("PYPERF_FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=corrupted())
def test_corrupt_files_fail_cleanly(raw, tmp_path, caplog):
    path = tmp_path / "fuzz.data"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        with caplog.at_level(logging.CRITICAL, logger="pyperf"):
            _consume(str(path))
    except PerfDataError as exc:
        assert str(exc)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT


@pytest.mark.parametrize("cut", [0, 8, 103, 104, DATA_OFFSET, DATA_OFFSET + 1, DATA_OFFSET + DATA_SIZE - 1,
                                 len(SOURCE) - 1])
def test_cut_at_boundaries(cut, tmp_path):
    path = tmp_path / "cut.data"
    path.write_bytes(SOURCE[:cut])
    try:
        _consume(str(path))
    except PerfDataError as exc:
        assert str(exc)
