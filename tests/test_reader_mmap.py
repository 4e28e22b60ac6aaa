"""The data section read through mapped chunks (perfdata.stream ``_map_chunk``: the keyed path's, and with
``map_all`` every path's) gives exactly what reading the chunks gives: the same records, keys, order, stats and warnings, whatever the chunk size (chunks then
start at many page offsets), on real recordings (call chains, DWARF user stacks, tracepoints, lost
records, two events) whole or cut short."""
from __future__ import annotations

import logging
import shutil
import struct
from pathlib import Path

import pytest

from pyperf_probe.perfdata import stream
from pyperf_probe.perfdata.reader import PerfDataFile

GOLDEN = Path(__file__).parent / "golden"
FILES = [GOLDEN / "reader" / "data" / "rd_two.data", GOLDEN / "reader" / "data" / "rd_mt.data",
         GOLDEN / "reader" / "data" / "rd_make.data", GOLDEN / "unwind" / "data" / "threads.data",
         GOLDEN / "export" / "data" / "cpu_dwarf.data", GOLDEN / "report" / "data" / "lost.data"]
# chunk sizes above the largest record (a u16 size); odd ones put the chunks at odd page offsets
CHUNKS = [stream.CHUNK_SIZE, (1 << 16) + 8, 100_003]


def _read_all(path: Path, mapped: bool) -> tuple:
    """Everything the reader gives for ``path``: each way of reading it, the stats after each."""
    out = []
    for how in ("ordered", "file", "keyed", "keyed-raw", "walk-timed", "entries"):
        data = PerfDataFile.open(str(path))
        try:
            data._stream._mappable = mapped and data._stream._mappable
            data._stream.map_all = mapped  # (by default only the keyed path maps: the others too here)
            if how == "ordered":
                got = list(data.records())
            elif how == "file":
                got = list(data.records(ordered=False))
            elif how == "keyed":
                got = data.keyed_batches(raw=False)
            elif how == "keyed-raw":
                got = data.keyed_batches()
            elif how == "walk-timed":
                got = data.keyed_batches(timed=True, walk=True)
            else:  # the ordered scan's entries in file order (a second pass's, as a corrupt key's warning reads)
                got = [entry for batch in data._stream._entry_batches() for entry in batch]
            got = [list(item) if type(item) is list else item for item in got] if got is not None else None
            out.append((how, got, data.stats, data.out_of_order if hasattr(data, "out_of_order") else None))
        finally:
            data.close()
    return tuple(out)


def _mapped_chunks(monkeypatch) -> list:
    calls = []
    real = stream.RecordStream._map_chunk

    def spy(self, pos, want):
        got = real(self, pos, want)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(stream.RecordStream, "_map_chunk", spy)
    return calls


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_mapped_chunks_read_the_same(path, chunk, monkeypatch, caplog):
    monkeypatch.setattr(stream, "CHUNK_SIZE", chunk)
    if chunk != CHUNKS[0]:  # (else the mapped chunks keep their own size, MAP_CHUNK_SIZE: these files fit in one)
        monkeypatch.setattr(stream, "MAP_CHUNK_SIZE", chunk)
    calls = _mapped_chunks(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="pyperf"):
        read = _read_all(path, mapped=False)
        read_log = [r.getMessage() for r in caplog.records]
        caplog.clear()
        assert not calls
        mapped = _read_all(path, mapped=True)
        mapped_log = [r.getMessage() for r in caplog.records]
    assert calls and all(calls)
    assert mapped == read
    assert mapped_log == read_log
    assert any(got for _how, got, _stats, _ooo in read)


@pytest.mark.parametrize("chunk", [stream.CHUNK_SIZE, (1 << 16) + 8])
@pytest.mark.parametrize("cut", [1, 8, 99, 4097, 70_001])
@pytest.mark.parametrize("name", ["rd_make.data", "threads.data"])
def test_mapped_chunks_of_a_file_cut_short(name, cut, chunk, tmp_path, monkeypatch, caplog):
    source = next(p for p in FILES if p.name == name)
    path = tmp_path / name
    shutil.copyfile(source, path)
    data_offset, data_size = struct.unpack_from("<QQ", source.read_bytes(), 40)
    with open(path, "r+b") as f:  # (the feature sections after the data go too)
        f.truncate(data_offset + data_size - cut)
    monkeypatch.setattr(stream, "CHUNK_SIZE", chunk)
    if chunk != CHUNKS[0]:  # (else the mapped chunks keep their own size, MAP_CHUNK_SIZE: these files fit in one)
        monkeypatch.setattr(stream, "MAP_CHUNK_SIZE", chunk)
    with caplog.at_level(logging.DEBUG, logger="pyperf"):
        read = _read_all(path, mapped=False)
        read_log = [r.getMessage() for r in caplog.records]
        caplog.clear()
        mapped = _read_all(path, mapped=True)
        mapped_log = [r.getMessage() for r in caplog.records]
    assert mapped == read
    assert mapped_log == read_log
    assert any("cut short" in m or "past the end" in m for m in read_log)


def test_unmappable_file_objects_are_read(tmp_path):
    """A file object without a descriptor (or not a regular file) is read chunk by chunk."""
    import io
    source = FILES[0].read_bytes()
    data = PerfDataFile(str(FILES[0]), io.BytesIO(source), len(source))
    assert data._stream._mappable is False
    with PerfDataFile.open(str(FILES[0])) as plain:
        assert list(data.records()) == list(plain.records())


def test_only_the_keyed_path_maps_by_default(monkeypatch):
    calls = _mapped_chunks(monkeypatch)
    with PerfDataFile.open(str(FILES[2])) as data:
        assert list(data.records()) and list(data.records(ordered=False))
        assert not calls
        assert list(data.keyed_batches())
        assert calls and all(calls)
