"""The writing half of perfdata/ on hand-made bytes: feature encoders, synthesized records, TRACING_DATA,
the post-pass scan and the file writer (read back with the project's own reader)."""
import os
import random
import struct
import time

import pytest

from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata import data_scan, feature_writer as fw, synth, tracing_data
from pyperf_probe.perfdata.format import (AttrFlag, AttrType, EventAttr, Feature, FileHeader, RecordType,
                                          SampleType)
from pyperf_probe.perfdata import writer as writer_mod
from pyperf_probe.perfdata.writer import AttrEntry, PerfDataWriter

ST = int(SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU | SampleType.PERIOD | SampleType.RAW)
TRAILER = struct.pack("<IIQII", 0, 0, 0, 0, 0)  # sample_id for ST: pid, tid, time, cpu, res


# ------------------------------------------------------------------------------------- feature encoders

def test_string_is_padded_to_64_with_its_length_first():
    body = fw.string("vm")
    assert body[:4] == struct.pack("<I", 64)  # "vm\0" rounded up to NAME_ALIGN
    assert body[4:] == b"vm" + b"\0" * 62
    assert len(fw.string("x" * 64)) == 4 + 128  # 65 bytes with the NUL -> 128


def test_cmdline_nrcpus_sample_time():
    assert fw.cmdline(["/usr/bin/perf", "record"]) == struct.pack("<I", 2) + fw.string("/usr/bin/perf") + \
        fw.string("record")
    assert fw.nrcpus(4, 2) == struct.pack("<II", 4, 2)  # nr_cpus_avail, nr_cpus_online
    assert fw.sample_time(5, 9) == struct.pack("<QQ", 5, 9)


def test_event_desc_layout():
    attr = EventAttr(type=AttrType.TRACEPOINT, config=0x916, sample_type=ST)
    body = fw.event_desc([fw.EventDesc(attr, "g:e", (23, 24))])
    assert body[:8] == struct.pack("<II", 1, 128)  # nr events, attr size
    assert body[8:136] == attr.pack(128)
    assert body[136:140] == struct.pack("<I", 2)  # nr ids
    assert body[140:208] == fw.string("g:e")
    assert body[208:] == struct.pack("<QQ", 23, 24)


def test_build_id_record_as_perf_writes_it():
    bid = bytes.fromhex("d2370282e6598bda8ffe4f6be738521534946de9")
    body = fw.build_ids([("[vdso]", bid)])
    # header {type 0, misc USER|BUILD_ID_SIZE, size 100}, pid -1, build_id[20], u8 size 20, 3 pad, name[64]
    assert body[:8] == struct.pack("<IHH", 0, 0x8002, 100)
    assert body[8:12] == b"\xff\xff\xff\xff" and body[12:32] == bid and body[32:36] == b"\x14\0\0\0"
    assert body[36:] == b"[vdso]".ljust(64, b"\0")


def test_parse_cpu_list():
    assert fw.parse_cpu_list("0-2,5\n") == (0, 1, 2, 5)
    with pytest.raises(ValueError):
        fw.parse_cpu_list("a-b")


# ------------------------------------------------------------------------------------ synthesized records

def test_comm_exec_record_matches_perfs_bytes():
    # perf-formats.md §1.3: 03000000 0020 3000 | a00d0000 a00d0000 | "ls\0\0\0\0\0\0" | sample_id
    rec = synth.comm(0xda0, 0xda0, "ls", struct.pack("<IIQQ", 0xda0, 0xda0, 0x4cc74fb0e7, 0), exec_=True)
    assert rec.hex() == ("03000000" "0020" "3000" "a00d0000" "a00d0000" "6c73000000000000"
                         "a00d0000" "a00d0000" "e7b04fc74c000000" "0000000000000000")


def test_mmap2_from_a_maps_line():
    line = "7f2949583000-7f29495a9000 r-xp 00001000 fe:00 338944   /usr/lib/x86_64-linux-gnu/ld.so\n"
    m = synth.parse_maps_line(line)
    assert m == synth.MapLine(0x7f2949583000, 0x7f29495a9000, "r-xp", 0x1000, 0xfe, 0, 338944,
                              "/usr/lib/x86_64-linux-gnu/ld.so")
    rec = synth.mmap2(7, 7, m, TRAILER)
    rtype, misc, size = struct.unpack_from("<IHH", rec)
    assert (rtype, misc, size) == (RecordType.MMAP2, 2, len(rec)) and size % 8 == 0
    fields = struct.unpack_from("<iiQQQIIQQII", rec, 8)
    assert fields == (7, 7, 0x7f2949583000, 0x26000, 0x1000, 0xfe, 0, 338944, 0, 5, 2)  # r-x, MAP_PRIVATE
    assert rec[8 + 64:].startswith(b"/usr/lib/x86_64-linux-gnu/ld.so\0") and rec.endswith(TRAILER)
    data = synth.mmap2(7, 7, synth.parse_maps_line("7f00-7f10 rw-s 0 00:05 9 /dev/shm/x"), TRAILER)
    assert struct.unpack_from("<H", data, 4)[0] == 0x2002  # USER | MMAP_DATA
    assert synth.parse_maps_line("garbage") is None


def test_kernel_mmap_id_index_lost_samples():
    rec = synth.kernel_mmap(0xffffffff81000000, 0x12090c8, TRAILER)
    assert struct.unpack_from("<IHH", rec) == (1, 1, 0x58)  # MMAP, KERNEL, 88 bytes as perf's
    assert struct.unpack_from("<iiQQQ", rec, 8) == (-1, 0, 0xffffffff81000000, 0x12090c8, 0xffffffff81000000)
    idx = synth.id_index([(23, 0, 0, 11742), (24, 0, 1, 11742)])
    assert struct.unpack_from("<IHHQ", idx) == (69, 0, 0x50, 2)  # nr 2: 8 + 8 + 2 * 32 bytes
    lost = synth.lost_samples(39, TRAILER)
    assert struct.unpack_from("<IHHQ", lost) == (13, 0, 16 + len(TRAILER), 39)
    assert synth.FINISHED_ROUND == struct.pack("<IHH", 68, 0, 8)


# ---------------------------------------------------------------------------------------- TRACING_DATA

FMT = ("name: foo_work\nID: 2326\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
       "\n\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n\nprint fmt: \"(%lx)\", REC->__probe_ip\n")


def test_tracing_data_layout_and_round_trip():
    raw = tracing_data.encode(header_page=b"HP", header_event=b"HE", systems=[("probe_libfoo", [FMT.encode()])],
                              printk_formats=b"0x1 : \"x\"\n")
    expect = (b"\x17\x08\x44tracing" b"0.6\0" b"\0" b"\x08" + struct.pack("<I", 4096)
              + b"header_page\0" + struct.pack("<Q", 2) + b"HP" + b"header_event\0" + struct.pack("<Q", 2) + b"HE"
              + struct.pack("<I", 0)  # no ftrace formats
              + struct.pack("<I", 1) + b"probe_libfoo\0" + struct.pack("<I", 1) + struct.pack("<Q", len(FMT)) +
              FMT.encode()
              + struct.pack("<I", 0)  # kallsyms
              + struct.pack("<I", 10) + b"0x1 : \"x\"\n" + struct.pack("<Q", 0))  # printk, saved_cmdlines
    assert raw == expect
    parsed = tracing_data.parse(raw)
    assert parsed.event_name(2326) == "probe_libfoo:foo_work"
    assert parsed.events[2326].text == FMT and parsed.header_page == "HP" and parsed.page_size == 4096
    assert parsed.printk_formats == "0x1 : \"x\"\n"


def test_tracing_data_refuses_broken_input():
    raw = tracing_data.encode(header_page=b"HP", header_event=b"", systems=[])
    with pytest.raises(PerfDataError, match="bad magic"):
        tracing_data.parse(b"\x17\x08\x44tracinX" + raw[10:])
    with pytest.raises(PerfDataError, match="truncated"):
        tracing_data.parse(raw[:40])
    with pytest.raises(PerfDataError):
        tracing_data.encode(header_page=b"", header_event=b"", systems=[])


# ------------------------------------------------------------------------------------- post-pass scan

def _sample(pid, ip, time):
    body = struct.pack("<QIIQII", ip, pid, pid, time, 0, 0) + struct.pack("<Q", 1) + struct.pack("<I", 4) + b"\0" * 4
    return struct.pack("<IHH", 9, 2, 8 + len(body)) + body


def _stream():
    exe = synth.MapLine(0x1000, 0x2000, "r-xp", 0, 0, 0, 1, "/bin/prog")
    vdso = synth.MapLine(0x9000, 0xa000, "r-xp", 0, 0, 0, 0, "[vdso]")
    data_map = synth.MapLine(0x5000, 0x6000, "rw-p", 0, 0, 0, 1, "/bin/data")
    return b"".join([
        synth.mmap2(10, 10, exe, TRAILER), synth.mmap2(10, 10, vdso, TRAILER), synth.mmap2(10, 10, data_map, TRAILER),
        synth.fork(11, 10, 11, 10, TRAILER),  # a child process: inherits pid 10's maps
        _sample(10, 0x1100, 500), _sample(11, 0x1200, 300), _sample(11, 0x5500, 900),  # data map: no hit
        struct.pack("<IHHQQ", 2, 0, 32, 7, 3) + TRAILER[:8], synth.FINISHED_ROUND,
    ])


def test_scan_counts_times_lost_and_hit_dsos():
    res = data_scan.scan(memoryview(_stream()), ST)
    assert (res.samples, res.first_time, res.last_time) == (3, 300, 900)
    assert (res.lost_records, res.lost_events) == (1, 3)
    assert res.hit_dsos == ("/bin/prog", "[vdso]")  # vdso is always listed, as perf does


def test_scan_fed_in_random_pieces_equals_one_pass():
    stream = _stream() * 50
    whole = data_scan.scan(stream, ST)
    rnd = random.Random(7)
    for _ in range(20):
        scanner, pos = data_scan.Scanner(ST), 0
        while pos < len(stream):
            n = rnd.choice([1, 2, 5, 8, 13, 64, 500])
            scanner.feed(memoryview(stream)[pos:pos + n])
            pos += n
        assert scanner.result() == whole


# ------------------------------------------------------------------------------------------- the writer

ATTR = EventAttr(type=AttrType.TRACEPOINT, config=2326, sample_type=ST,
                 flags=int(AttrFlag.SAMPLE_ID_ALL | AttrFlag.EXCLUDE_KERNEL))


# events/header_page and header_event as tracefs gives them (libtraceevent parses them)
HEADER_PAGE = (b"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
               b"\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
               b"\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
               b"\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n")
HEADER_EVENT = (b"# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n"
                b"\tarray       :   32 bits\n\n\tpadding     : type == 29\n\ttime_extend : type == 30\n"
                b"\ttime_stamp : type == 31\n\tdata max type_len  == 28\n")


def _early():
    """What the recorder knows at the start: perf needs TRACING_DATA to read the file at all."""
    return {Feature.TRACING_DATA: tracing_data.encode(header_page=HEADER_PAGE, header_event=HEADER_EVENT,
                                                      systems=[("probe_libfoo", [FMT.encode()])]),
            Feature.HOSTNAME: fw.string("vm"),
            Feature.EVENT_DESC: fw.event_desc([fw.EventDesc(ATTR, "a:b", (23, 24))])}


def _write_file(path, data=b"", late=None):
    w = PerfDataWriter(str(path))
    w.begin([AttrEntry(ATTR, (23, 24))], _early())
    w.write(data)
    w.flush()
    w.finish(late if late is not None else {Feature.SAMPLE_TIME: fw.sample_time(5, 9)})
    return ATTR


def test_writer_layout(tmp_path):
    """header, ids, attrs, the early feature bodies, data, the table, the late bodies; no bit 0 at the end."""
    path = tmp_path / "perf.data"
    stream = synth.comm(10, 10, "prog", TRAILER, exec_=True) + _sample(10, 0x1100, 5)
    attr = _write_file(path, stream)
    raw = path.read_bytes()
    hdr = FileHeader.unpack_from(raw)
    assert raw[:8] == b"PERFILE2" and hdr.size == 104 and hdr.attr_size == 144
    assert raw[104:120] == struct.pack("<QQ", 23, 24)  # the ids, right after the header (as perf 6.1)
    assert (hdr.attrs.offset, hdr.attrs.size) == (120, 144)
    assert raw[120:248] == attr.pack(128) and raw[248:264] == struct.pack("<QQ", 104, 16)
    early = _early()
    bodies = b"".join(early[bit] for bit in sorted(early))  # from 264 on, before the data
    assert raw[264:264 + len(bodies)] == bodies and hdr.data.offset == (264 + len(bodies) + 7) // 8 * 8
    assert raw[hdr.data.offset:hdr.data.offset + hdr.data.size] == stream
    bits = [b for b in range(256) if hdr.features >> b & 1]
    assert bits == [Feature.TRACING_DATA, Feature.HOSTNAME, Feature.EVENT_DESC, Feature.SAMPLE_TIME]
    table = hdr.data.offset + hdr.data.size
    sections = [struct.unpack_from("<QQ", raw, table + 16 * i) for i in range(4)]
    assert sections[0] == (264, len(early[Feature.TRACING_DATA])) and raw[slice(sections[1][0], sum(sections[1]))] \
        == fw.string("vm")
    assert sections[3] == (table + 64, 16) and sum(sections[-1]) == len(raw)  # the late body after the table
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_writer_output_reads_back_with_the_reader(tmp_path):
    from pyperf_probe.perfdata.reader import PerfDataFile
    path = tmp_path / "perf.data"
    _write_file(path, synth.comm(10, 10, "prog", TRAILER, exec_=True) + _sample(10, 0x1100, 5))
    with PerfDataFile.open(str(path)) as f:
        assert [a.ids for a in f.attrs] == [(23, 24)]
        assert f.feature(Feature.HOSTNAME) == "vm"
        assert f.feature(Feature.EVENT_DESC)[0].name == "a:b"
        assert f.feature(Feature.SAMPLE_TIME) is not None
        kinds = [type(r).__name__ for r in f.records()]
    assert kinds.count("CommRecord") == 1 and len(kinds) == 2


def test_round_marker_is_a_finished_round_and_a_feature_table():
    """Its first 16 bytes are the entry of bit 0 (HEADER_RESERVED, which perf never reads): the record
    header (type 68, size) and 8 zero bytes; the other entries follow."""
    entries = struct.pack("<QQQQ", 264, 30, 294, 68)
    marker = writer_mod.round_marker(entries)
    assert marker == struct.pack("<IHH", 68, 0, 48) + bytes(8) + entries


def test_markers_only_every_mark_bytes_or_seconds(tmp_path):
    """A round ends with a marker when mark_bytes of stream passed since the last one (the first round
    always), else with perf's 8-byte FINISHED_ROUND; mark_seconds does the same in time."""
    w = PerfDataWriter(str(tmp_path / "perf.data"), mark_bytes=1000, mark_seconds=float("inf"))
    w.begin([AttrEntry(ATTR, (23, 24))], _early())
    last = None
    for _ in range(30):
        w.write(_sample(10, 0x1100, 5))
        end = w.data_end
        marked = w.end_round()
        assert marked == (last is None or end - last >= 1000)
        assert w.data_end - end == (len(w._marker) if marked else 8)
        last = end if marked else last
    w.abort()
    w = PerfDataWriter(str(tmp_path / "perf.data"), mark_bytes=1 << 30, mark_seconds=0.01)
    w.begin([])
    assert w.end_round() and not w.end_round()
    time.sleep(0.02)
    assert w.end_round()
    w.abort()


def test_existing_file_becomes_old_at_once_and_abort_puts_it_back(tmp_path):
    """perf's check_backup when the writer opens; a recording that never began changes nothing, and one
    that stops on an error (close) keeps its file."""
    path = tmp_path / "perf.data"
    path.write_bytes(b"previous")
    (tmp_path / "perf.data.old").write_bytes(b"older")
    w = PerfDataWriter(str(path))
    assert (tmp_path / "perf.data.old").read_bytes() == b"previous" and path.read_bytes() == b""
    w.begin([])
    w.write(b"x" * 8)
    w.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perf.data"] and path.read_bytes() == b"previous"
    _write_file(path)
    assert (tmp_path / "perf.data.old").read_bytes() == b"previous" and path.read_bytes()[:8] == b"PERFILE2"
    w = PerfDataWriter(str(tmp_path / "other.data"))
    w.begin([])
    w.abort()
    empty = tmp_path / "empty.data"
    empty.write_bytes(b"")
    w = PerfDataWriter(str(empty))  # an empty file is not backed up (perf: st_size 0), and stays
    w.begin([])
    w.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.data", "perf.data", "perf.data.old"]
    w = PerfDataWriter(str(tmp_path / "stopped.data"))
    w.begin([AttrEntry(ATTR, (23, 24))], _early())
    w.write(_sample(10, 0x1100, 5))
    w.end_round()
    w.flush()
    w.close()
    assert FileHeader.unpack_from((tmp_path / "stopped.data").read_bytes()).data.size == len(_sample(10, 0x1100, 5))


def test_unwritable_directory():
    with pytest.raises(PerfDataError, match=r"failed to open /nonexistent/perf.data : No such file"):
        PerfDataWriter("/nonexistent/perf.data")


def test_block_backlog_is_written_in_order(tmp_path):
    path = tmp_path / "perf.data"
    chunks = [bytes([i % 251]) * random.Random(i).randrange(1, 3 << 20) for i in range(12)]
    w = PerfDataWriter(str(path))
    w.begin([])
    seen = []
    w.observe(lambda piece: seen.append(bytes(piece)))
    for c in chunks:
        w.write(memoryview(c))
        w.pump(1 << 20)
    w.flush()
    assert w.backlog == 0
    w.finish({})
    raw = path.read_bytes()
    hdr = FileHeader.unpack_from(raw)
    assert raw[hdr.data.offset:hdr.data.offset + hdr.data.size] == b"".join(chunks) == b"".join(seen)


def _killed_states(tmp_path, monkeypatch, seed):
    """Write rounds of samples with pumps of random sizes, and copy the file after every pwrite (and in the
    middle of every pwrite but the header's, as a kill during a write would leave it): the states a
    SIGKILL could leave. Returns (states, rounds, samples): rounds[i] = (marker offset, samples before it)
    for the rounds that ended with a marker (every one, or one per ``mark_bytes`` of stream)."""
    rnd = random.Random(seed)
    path = tmp_path / "perf.data"
    states = []
    real_pwrite = os.pwrite

    def pwrite(fd, data, offset):
        view = memoryview(data)
        if offset and len(view) > 1:  # not the header: a kill may cut it
            half = real_pwrite(fd, view[:len(view) // 2], offset)
            states.append(path.read_bytes())
            return half
        n = real_pwrite(fd, view, offset)
        states.append(path.read_bytes())
        return n

    monkeypatch.setattr(os, "pwrite", pwrite)
    w = PerfDataWriter(str(path), mark_bytes=rnd.choice([0, 0, 500, 2000]), mark_seconds=float("inf"))
    w.begin([AttrEntry(ATTR, (23, 24))], _early())
    w.write(synth.comm(10, 10, "prog", TRAILER, exec_=True))
    rounds, samples = [], 0
    for _ in range(rnd.randrange(3, 16)):
        for _ in range(rnd.randrange(1, 40)):
            w.write(_sample(10, 0x1100, 1000 + samples))
            samples += 1
        end = w.data_end
        if w.end_round():
            rounds.append((end, samples))
        for _ in range(rnd.randrange(0, 3)):
            w.pump(rnd.choice([7, 48, 100, 1000, 5000]))
            # every round wholly on disk is readable as soon as pump returns
            done = [off for off, _ in rounds if off + len(w._marker) <= w._data.offset]
            assert w.committed == (done[-1] - w.data_offset if done else 0)
    w.write(_sample(10, 0x1100, 1000 + samples))  # after the last round: only the complete file has it
    w.flush()
    w.finish({Feature.SAMPLE_TIME: fw.sample_time(1000, 1000 + samples)})
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    return states, rounds, samples + 1


@pytest.mark.parametrize("seed", range(8))
def test_every_state_a_kill_can_leave_reads_as_the_rounds_flushed(tmp_path, monkeypatch, seed):
    """No state of the file on disk is unreadable or invents a sample: each reads as exactly the samples
    of the rounds its header commits (0 before the first), and the count never goes down."""
    from pyperf_probe.perfdata.reader import PerfDataFile
    states, rounds, total = _killed_states(tmp_path, monkeypatch, seed)
    before = {off: n for off, n in rounds}
    last = 0
    for i, raw in enumerate(states):
        hdr = FileHeader.unpack_from(raw) if len(raw) >= 104 and raw[:8] == b"PERFILE2" else None
        if hdr is None or not hdr.data.size:
            assert last == 0, i  # the header is only ever rewritten whole, never back to 0
            continue
        state = tmp_path / f"state{i}.data"
        state.write_bytes(raw)
        with PerfDataFile.open(str(state)) as f:
            times = [r.time for r in f.records() if type(r).__name__ == "Sample"]
            assert f.feature(Feature.EVENT_DESC)[0].name == "a:b"
        expect = total if i == len(states) - 1 else before[hdr.data.offset + hdr.data.size]
        assert times == list(range(1000, 1000 + expect)) and expect >= last, i
        last = expect
        state.unlink()
    assert last == total


@pytest.mark.skipif(not os.path.exists("/usr/bin/perf"), reason="needs /usr/bin/perf")
def test_perf_reads_every_state_a_kill_can_leave(tmp_path, monkeypatch):
    import subprocess
    states, rounds, total = _killed_states(tmp_path, monkeypatch, 3)
    before = {off: n for off, n in rounds}
    for i, raw in enumerate(states):
        hdr = FileHeader.unpack_from(raw) if len(raw) >= 104 else None
        if hdr is None or not hdr.data.size:
            continue
        state = tmp_path / "state.data"
        state.write_bytes(raw)
        proc = subprocess.run(["/usr/bin/perf", "script", "-i", str(state), "-F", "time"], capture_output=True,
                              text=True)
        assert proc.returncode == 0 and proc.stderr == "", (i, proc.stderr)
        expect = total if i == len(states) - 1 else before[hdr.data.offset + hdr.data.size]
        assert len(proc.stdout.split()) == expect, i


def test_synthesize_a_running_process_as_perf_does():
    """-a: FORK before each COMM (main thread from its parent, threads from the main thread), the main
    thread's executable maps after its COMM; -p: the same without FORKs."""
    import threading
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        pid = os.getpid()
        recs = list(synth.synthesize_process(pid, TRAILER, with_fork=True))
        plain = list(synth.synthesize_process(pid, TRAILER))
    finally:
        stop.set()
        worker.join()
    kinds = [struct.unpack_from("<I", r)[0] for r in recs]
    assert kinds[:2] == [RecordType.FORK, RecordType.COMM] and RecordType.MMAP2 in kinds
    assert struct.unpack_from("<IIII", recs[0], 8) == (pid, os.getppid(), pid, os.getppid())
    thread_fork = recs[kinds.index(RecordType.FORK, 1)]
    assert struct.unpack_from("<IIII", thread_fork, 8)[:2] == (pid, pid)  # a thread: forked from the main one
    assert kinds[2:kinds.index(RecordType.FORK, 1)] == [RecordType.MMAP2] * (kinds.index(RecordType.FORK, 1) - 2)
    assert [r for r in recs if struct.unpack_from("<I", r)[0] != RecordType.FORK] == plain


def test_kallsyms_lookup_ignores_modules_and_longer_names():
    text = (b"0000000000000000 A fixed_percpu_data\n"
            b"ffffffff81000000 T _stext\n"
            b"ffffffffc0000000 t my_text\t[mod]\n"
            b"ffffffff81000000 T _text\n"
            b"ffffffff822090c8 T _etext\n")
    assert synth._kallsyms_address(text, b"_text") == 0xffffffff81000000
    assert synth._kallsyms_address(text, b"_etext") == 0xffffffff822090c8
    assert synth._kallsyms_address(text, b"_end") is None
