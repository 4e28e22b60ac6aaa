"""perfdata.reader: opening (perf's checks and messages), attrs and features, the record stream (time
order, rounds, truncation, damage reported once), on hand-made bytes (tests/perfdata_build.py) and on
files recorded by real perf (tests/golden/)."""
from __future__ import annotations

import logging
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import perfdata_build as pb
from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata.format import Feature, RecordType
from pyperf_probe.perfdata.reader import PerfDataFile
from pyperf_probe.perfdata.records import CommRecord, Mmap2Record
from pyperf_probe.perfdata.sample import Sample

GOLDEN = Path(__file__).parent / "golden"
RD_MT = GOLDEN / "reader" / "data" / "rd_mt.data"
RD_TWO = GOLDEN / "reader" / "data" / "rd_two.data"
PERF = shutil.which("perf") or "/usr/bin/perf"


def write(tmp_path, raw: bytes, name: str = "t.data") -> str:
    path = tmp_path / name
    path.write_bytes(raw)
    return str(path)


def samples(f: PerfDataFile, ordered: bool = True):
    return [r for r in f.records(ordered) if isinstance(r, Sample)]


# --- opening ------------------------------------------------------------------------------------------


def test_missing_file_default_path_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PerfDataError) as exc:
        PerfDataFile.open()
    assert str(exc.value) == "failed to open perf.data: No such file or directory  (try 'pyperf record' first)"
    with pytest.raises(PerfDataError) as exc:
        PerfDataFile.open("nope.data")
    assert str(exc.value) == "failed to open nope.data: No such file or directory"


def test_not_perf_data_empty_and_swapped(tmp_path):
    with pytest.raises(PerfDataError, match=r"^incompatible file format \(rerun with -v to learn more\)$"):
        PerfDataFile.open(write(tmp_path, b"this is not a perf.data file\n"))
    with pytest.raises(PerfDataError, match=r"^zero-sized data \(.*e.data\), nothing to do!$"):
        PerfDataFile.open(write(tmp_path, b"", "e.data"))
    raw = pb.perf_data([])
    with pytest.raises(PerfDataError, match="byte-swapped perf.data"):
        PerfDataFile.open(write(tmp_path, raw[:8][::-1] + raw[8:]))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_not_owned_needs_force(tmp_path):
    path = write(tmp_path, pb.perf_data([pb.sample(0x1000, 1, 1, 5)]))
    os.chown(path, 4242, 4242)
    with pytest.raises(PerfDataError) as exc:
        PerfDataFile.open(path)
    assert str(exc.value) == f"File {path} not owned by current user or root (use -f to override)"
    assert len(samples(PerfDataFile.open(path, force=True))) == 1


def test_bad_header_fields_are_incompatible(tmp_path):
    raw = bytearray(pb.perf_data([pb.sample(0x1000, 1, 1, 5)]))
    struct.pack_into("<Q", raw, 16, 7)  # attr_size that does not divide the attr section
    with pytest.raises(PerfDataError, match="incompatible"):
        PerfDataFile.open(write(tmp_path, bytes(raw)))
    raw = bytearray(pb.perf_data([]))
    struct.pack_into("<Q", raw, 32, 1 << 40)  # attr section size past the end
    with pytest.raises(PerfDataError, match="incompatible"):
        PerfDataFile.open(write(tmp_path, bytes(raw)))


# --- attrs and features of a real file ----------------------------------------------------------------


def test_real_file_attrs_and_features():
    f = PerfDataFile.open(str(RD_MT), force=True)
    (attr,) = f.attrs
    assert attr.name == "pyperf_t_reader:rd_leaf" and attr.attr.type == 2 and attr.attr.sample_type == 0x5a7
    assert len(attr.ids) == 2
    assert f.feature(Feature.VERSION) == "6.1.187" and f.feature(Feature.ARCH) == "x86_64"
    assert f.feature(Feature.CMDLINE)[:2] == ("/usr/bin/perf", "record")
    assert f.feature(Feature.NRCPUS).online >= 1 and f.feature(Feature.TOTAL_MEM) > 0
    (desc,) = f.feature(Feature.EVENT_DESC)
    assert desc.name == attr.name and desc.ids == attr.ids
    names = {e.filename for e in f.feature(Feature.BUILD_ID)}
    assert "/tmp/pyperf-golden-reader/bin/rd_threads" in names
    st = f.feature(Feature.SAMPLE_TIME)
    times = [s.time for s in samples(f)]
    assert (st.first, st.last) == (min(times), max(times))
    assert f.feature(Feature.BRANCH_STACK) is None


def test_two_events_samples_map_to_their_attr():
    f = PerfDataFile.open(str(RD_TWO), force=True)
    assert [a.name for a in f.attrs] == ["pyperf_t_reader:rd_leaf", "pyperf_t_reader:rd_compute"]
    got = samples(f)
    assert {s.evsel for s in got} == {0, 1}
    for s in got:  # the RAW record's common_type is the tracepoint id, i.e. the attr's config
        assert struct.unpack_from("<H", s.raw)[0] == f.attrs[s.evsel].attr.config


def test_records_of_a_real_file_in_time_order():
    f = PerfDataFile.open(str(RD_MT), force=True)
    recs = list(f.records())
    timed = [r.time for r in recs if r.time]
    assert timed == sorted(timed)
    assert sum(isinstance(r, Sample) for r in recs) == 901
    assert any(isinstance(r, CommRecord) and r.exec for r in recs)
    assert any(isinstance(r, Mmap2Record) and r.filename.endswith("rd_threads") for r in recs)
    assert f.stats.nr_unknown_type == 0 and f.stats.nr_corrupt == 0


# --- ordering -----------------------------------------------------------------------------------------

ROUNDS = [pb.comm(1, 1, "synth", 0), pb.sample(0x10, 1, 1, 10), pb.sample(0x30, 1, 1, 30),
          pb.sample(0x20, 1, 1, 20), pb.finished_round(),
          pb.sample(0x15, 1, 1, 15), pb.sample(0x40, 1, 1, 40), pb.sample(0x41, 1, 1, 40),
          pb.finished_round(), pb.sample(0x05, 1, 1, 5), pb.sample(0x50, 1, 1, 50)]
# perf: a round is flushed up to the previous round's largest time; equal times keep file order; the
# sample at 5 arrives after 10..30 were delivered and is delivered late, not dropped.
ROUNDS_ORDER = [0x10, 0x15, 0x20, 0x30, 0x05, 0x40, 0x41, 0x50]


def test_round_ordering(tmp_path):
    f = PerfDataFile.open(write(tmp_path, pb.perf_data(ROUNDS)))
    assert [s.ip for s in samples(f)] == ROUNDS_ORDER
    assert f.out_of_order == 1
    assert [s.ip for s in samples(f, ordered=False)] == [0x10, 0x30, 0x20, 0x15, 0x40, 0x41, 0x05, 0x50]


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="needs real perf")
def test_round_ordering_is_perfs(tmp_path):
    path = write(tmp_path, pb.perf_data(ROUNDS))
    out = subprocess.run([PERF, "script", "-f", "-i", path, "-F", "ip"], capture_output=True, text=True,
                         check=True).stdout
    assert [int(x, 16) for x in out.split()] == ROUNDS_ORDER


def test_without_rounds_the_queue_is_bounded(tmp_path):
    from pyperf_probe.perfdata import ordered
    q = ordered.OrderedQueue(max_queued=10)
    sizes = []
    for entry in q.reorder((t, 9) for t in [5, 3, 4] + list(range(6, 101)) + [1, 2]):
        sizes.append(len(q._queue))
    assert max(sizes) <= 11 and q.out_of_order == 2
    recs = [pb.sample(0x1000 + t, 1, 1, t) for t in range(1, 101)]
    f = PerfDataFile.open(write(tmp_path, pb.perf_data(recs)))
    assert [r.time for r in f.records()] == list(range(1, 101))


# --- damage -------------------------------------------------------------------------------------------


def test_truncated_file_reads_whole_records_and_warns(tmp_path, caplog):
    raw = RD_MT.read_bytes()
    f = PerfDataFile.open(str(RD_MT), force=True)
    offsets = [s.file_offset for s in samples(f, ordered=False)]
    cut = offsets[500] + 20  # in the middle of the 501st sample
    with caplog.at_level(logging.WARNING, logger="pyperf"):
        g = PerfDataFile.open(write(tmp_path, raw[:cut]))
        got = samples(g)
    assert len(got) == 500
    assert [m.split(": ", 1)[1] for m in caplog.messages[:2]] == [
        "the feature section table is missing (file cut short?): header features ignored",
        f"the data section ends {g.header.data.offset + g.header.data.size - cut} bytes past the end of "
        "the file (cut short?): reading up to the last whole record"]
    assert caplog.messages[2].endswith(f"the last record (at offset {offsets[500]:#x}) is cut short: "
                                       "ignored 20 bytes")
    assert g.stats.truncated_bytes > 0


def test_unknown_records_skipped_with_one_warning(tmp_path, caplog):
    odd = pb.record(200, 0, b"x" * 16)
    recs = [pb.sample(0x10, 1, 1, 10), odd, odd, pb.record(RecordType.COMPRESSED, 0, b"z" * 8),
            pb.sample(0x20, 1, 1, 20), odd]
    with caplog.at_level(logging.WARNING, logger="pyperf"):
        f = PerfDataFile.open(write(tmp_path, pb.perf_data(recs)))
        assert [s.ip for s in samples(f)] == [0x10, 0x20]
    assert caplog.messages == [
        f"{f.path}: skipping type 200 records (unknown record type), first at offset 0x130",
        f"{f.path}: skipping COMPRESSED records (not supported (pipe mode or perf record -z)), "
        "first at offset 0x160"]
    assert f.stats.nr_unknown_type == 4


def test_corrupt_callchain_is_refused_before_allocating(tmp_path, caplog):
    attr = pb.sw_attr(pb.SW_SAMPLE_TYPE | 0x20)  # + CALLCHAIN
    body = struct.pack("<QIIQIIQQ", 0x10, 1, 1, 10, 0, 0, 1, 1 << 60) + b"\0" * 8  # nr = 2^60
    with caplog.at_level(logging.WARNING, logger="pyperf"):
        f = PerfDataFile.open(write(tmp_path, pb.perf_data([pb.record(9, 2, body)] * 3, [(attr, (7,))])))
        assert samples(f) == []
    assert len(caplog.messages) == 1 and "callchain overruns the record" in caplog.messages[0]
    assert f.stats.nr_corrupt == 3


def test_record_size_below_header_stops_with_warning(tmp_path, caplog):
    bad = struct.pack("<IHH", 9, 2, 4) + b"\0" * 4
    with caplog.at_level(logging.WARNING, logger="pyperf"):
        f = PerfDataFile.open(write(tmp_path, pb.perf_data([pb.sample(0x10, 1, 1, 10), bad])))
        assert [s.ip for s in samples(f)] == [0x10]
    assert "record of size 4" in caplog.messages[0]


def test_data_size_zero_reads_to_end_of_file(tmp_path, caplog):
    raw = pb.perf_data([pb.sample(0x10, 1, 1, 10), pb.sample(0x20, 1, 1, 20)], data_size=0)
    with caplog.at_level(logging.WARNING, logger="pyperf"):
        f = PerfDataFile.open(write(tmp_path, raw))
        assert [s.ip for s in samples(f)] == [0x10, 0x20]
    assert "data size field is 0" in caplog.messages[0]


def test_feature_sections_decoded_and_unknown_kept_raw(tmp_path, caplog):
    feats = {Feature.HOSTNAME: pb.header_string("box"), Feature.NRCPUS: struct.pack("<II", 4, 2),
             Feature.CPU_TOPOLOGY: b"\1\2\3\4"}
    f = PerfDataFile.open(write(tmp_path, pb.perf_data([pb.sample(0x10, 1, 1, 10)], features=feats)))
    assert f.feature(Feature.HOSTNAME) == "box"
    assert (f.feature(Feature.NRCPUS).available, f.feature(Feature.NRCPUS).online) == (4, 2)
    with caplog.at_level(logging.WARNING, logger="pyperf"):
        assert f.feature(Feature.CPU_TOPOLOGY) == b"\1\2\3\4"
        f.feature(Feature.CPU_TOPOLOGY)
    assert len(caplog.messages) == 1 and "CPU_TOPOLOGY" in caplog.messages[0]


def test_corrupt_feature_section_is_a_perfdata_error(tmp_path):
    feats = {Feature.CMDLINE: struct.pack("<I", 1 << 30)}
    f = PerfDataFile.open(write(tmp_path, pb.perf_data([pb.sample(0x10, 1, 1, 10)], features=feats)))
    with pytest.raises(PerfDataError, match="CMDLINE"):
        f.feature(Feature.CMDLINE)


# --- events whose layouts differ (IDENTIFIER) ---------------------------------------------------------

ST_A = 0x10007  # IDENTIFIER|IP|TID|TIME
ST_B = 0x10187  # IDENTIFIER|IP|TID|TIME|CPU|PERIOD


def _mixed_file() -> bytes:
    attrs = ((pb.sw_attr(ST_A), (11,)), (pb.sw_attr(ST_B).replace(config=1), (22,)))
    comm_a = pb.record(RecordType.COMM, 0, struct.pack("<II", 5, 5) + b"aaa\0\0\0\0\0" +
                       struct.pack("<IIQQ", 5, 5, 30, 11))
    comm_b = pb.record(RecordType.COMM, 0, struct.pack("<II", 6, 6) + b"bbb\0\0\0\0\0" +
                       struct.pack("<IIQIIQ", 6, 6, 10, 0, 0, 22))

    def sample_a(ip, time):
        return pb.record(RecordType.SAMPLE, 2, struct.pack("<QQIIQ", 11, ip, 5, 5, time))

    def sample_b(ip, time):
        return pb.record(RecordType.SAMPLE, 2, struct.pack("<QQIIQIIQ", 22, ip, 6, 6, time, 0, 0, 1))

    recs = [comm_a, comm_b, sample_a(0xA1, 40), sample_b(0xB1, 20), pb.finished_round(),
            sample_b(0xB2, 35), sample_a(0xA2, 50), pb.finished_round()]
    return pb.perf_data(recs, attrs)


def test_events_with_different_sample_id_layouts(tmp_path):
    f = PerfDataFile.open(write(tmp_path, _mixed_file()))
    recs = list(f.records())
    assert [(type(r).__name__, r.time) for r in recs] == [
        ("CommRecord", 10), ("Sample", 20), ("CommRecord", 30), ("Sample", 35), ("Sample", 40),
        ("Sample", 50)]
    assert [(r.evsel, r.ip) for r in recs if isinstance(r, Sample)] == [(1, 0xB1), (1, 0xB2), (0, 0xA1),
                                                                        (0, 0xA2)]
    assert [r.comm for r in recs if isinstance(r, CommRecord)] == ["bbb", "aaa"]


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="needs real perf")
def test_events_with_different_sample_id_layouts_as_perf(tmp_path):
    path = write(tmp_path, _mixed_file())
    out = subprocess.run([PERF, "script", "-f", "-i", path, "-F", "comm,ip"], capture_output=True, text=True,
                         check=True).stdout
    assert [line.split() for line in out.splitlines()] == [["bbb", "b1"], ["bbb", "b2"], ["aaa", "a1"],
                                                            ["aaa", "a2"]]


def test_id_index_names_ids_missing_from_the_attr_section(tmp_path):
    """Samples whose id is only in PERF_RECORD_ID_INDEX (perf 6.1's first record) map to that event."""
    attrs = ((pb.sw_attr(pb.SW_SAMPLE_TYPE | 0x40), (11,)), (pb.sw_attr(pb.SW_SAMPLE_TYPE | 0x40), (22,)))
    id_index = pb.record(RecordType.ID_INDEX, 0, struct.pack("<QQQQQ", 1, 33, 1, 0, 0))

    def sample(ip, time, sample_id):  # IP, TID, TIME, ID, CPU, PERIOD
        return pb.record(RecordType.SAMPLE, 2, struct.pack("<QIIQQIIQ", ip, 1, 1, time, sample_id, 0, 0, 1))

    f = PerfDataFile.open(write(tmp_path, pb.perf_data(
        [id_index, sample(0xA, 1, 11), sample(0xB, 2, 33), sample(0xC, 3, 44)], attrs)))
    assert [(s.ip, s.evsel) for s in samples(f)] == [(0xA, 0), (0xB, 1)]
    assert f.stats.nr_unknown_id == 1
