"""perfdata.frozen records keep the frozen dataclass's contract (they replaced dataclasses on report's
start-up path), and format's int constants keep the enum names messages print."""
import pickle

import pytest

from pyperf_probe.perfdata.format import EventAttr, Feature, FileHeader, FileSection, RecordType, SampleType
from pyperf_probe.perfdata.records import ExitRecord, ForkRecord


def test_equal_by_class_and_values():
    fork, exit_ = ForkRecord(1, 0, 1, 0, 5, 0, 9), ExitRecord(1, 0, 1, 0, 5, 0, 9)
    assert fork == ForkRecord(1, 0, 1, 0, 5, 0, 9) and hash(fork) == hash(ForkRecord(1, 0, 1, 0, 5, 0, 9))
    assert fork != exit_ and not fork == exit_ and fork != tuple(fork)
    assert {fork: 1}.get(ForkRecord(1, 0, 1, 0, 5, 0, 9)) == 1
    with pytest.raises(TypeError):
        fork < ForkRecord(2, 0, 1, 0, 5, 0, 9)


def test_immutable_with_replace_and_defaults():
    attr = EventAttr(type=2, sample_type=SampleType.TIME)
    assert (attr.sample_period, attr.size, attr.config) == (1, 128, 0)
    with pytest.raises(AttributeError):
        attr.config = 3
    changed = attr.replace(config=7)
    assert changed.config == 7 and attr.config == 0 and type(changed) is EventAttr
    with pytest.raises(TypeError, match="no field 'nope'"):
        attr.replace(nope=1)
    header = FileHeader(attr_size=136, attrs=FileSection(168, 136), data=FileSection(304, 8), features=1 << 2)
    assert header.event_types == FileSection(0, 0) and header.size == 104 and header.has_feature(Feature.BUILD_ID)


def test_repr_pickle_and_binary_round_trip():
    section = FileSection(offset=16, size=32)
    assert repr(section) == "FileSection(offset=16, size=32)"
    assert pickle.loads(pickle.dumps(section)) == section
    attr = EventAttr(type=1, config=9, sample_type=0x10087, flags=1 << 18, sample_regs_user=0xFF, size=136)
    assert EventAttr.unpack_from(attr.pack()) == attr
    assert EventAttr.unpack_from(attr.pack(64), size=64) == attr.replace(size=64, sample_regs_user=0)


def test_constants_name_of_and_members():
    assert RecordType.name_of(9) == "SAMPLE" and RecordType.name_of(1000) is None
    assert Feature.name_of(Feature.EVENT_DESC) == "EVENT_DESC"
    members = Feature.members()
    assert list(members)[:3] == ["TRACING_DATA", "BUILD_ID", "HOSTNAME"] and members["PMU_CAPS"] == 31
    assert SampleType.TIME | SampleType.CPU == 0x84 and type(SampleType.TIME) is int


def test_lazylog_imports_logging_only_to_show_a_message():
    import subprocess
    import sys
    code = ("import sys; from pyperf_probe import lazylog as log; log.debug('d %s', 1); log.info('i'); "
            "print('logging' in sys.modules); log.warning('w %s', 2); print('logging' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (proc.stdout, proc.stderr) == ("False\nTrue\n", "w 2\n")  # Python's last-resort handler: bare text
    code = ("import logging; logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(message)s'); "
            "from pyperf_probe import lazylog as log; log.debug('d %s', 1); log.error('e')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr == "DEBUG d 1\nERROR e\n"


def test_cstring_in_place_equals_the_copying_form():
    """records._cstring searches bytes in place; bytearray and memoryview are copied first: both give what
    decoding the copied range up to its first NUL gives, for every range of strings with and without NULs,
    and bytes that are not UTF-8."""
    from pyperf_probe.perfdata.records import _cstring

    def copied(buf, pos, end):
        raw = bytes(buf[pos:end])
        nul = raw.find(b"\0")
        return (raw if nul < 0 else raw[:nul]).decode("utf-8", "replace")

    for data in (b"", b"\0", b"abc", b"abc\0\0\0\0def", b"\0abc\0", b"/usr/lib/x\xff\xfe.so\0\0\0", b"a\0b\0c"):
        for pos in range(len(data) + 2):
            for end in range(len(data) + 3):
                want = copied(data, pos, end)
                for buf in (data, bytearray(data), memoryview(data)):
                    assert _cstring(buf, pos, end) == want, (data, pos, end, type(buf))


def test_record_decoders_build_what_the_constructors_build():
    """MMAP, MMAP2 (with and without a build-id), COMM (exec or not), FORK and EXIT decode to the records
    their constructors make from the fields (class, values, defaults), whatever precedes them in the buffer;
    a body too short for the fixed fields is a CorruptRecord."""
    import random

    from pyperf_probe.perfdata import format as fmt
    from pyperf_probe.perfdata.records import CommRecord, CorruptRecord, Mmap2Record, MmapRecord

    rng = random.Random(16)
    for _ in range(200):
        pad = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 24)))
        name = rng.choice([b"/usr/lib/libc.so.6", b"//anon", b"", b"x" * 40, b"caf\xc3\xa9\xff"])
        tail = name + b"\0" * rng.randrange(0, 9)
        misc, time = rng.randrange(1 << 16), rng.choice([None, rng.randrange(1 << 64)])
        pid, tid = rng.randrange(-1, 1 << 31), rng.randrange(-1, 1 << 31)
        start, length, pgoff = (rng.randrange(1 << 64) for _ in range(3))
        text = (name if b"\0" not in name else name[:name.index(b"\0")]).decode("utf-8", "replace")

        body = fmt.MMAP_HEAD.pack(pid, tid, start, length, pgoff) + tail
        got = MmapRecord.decode(pad + body, len(pad), len(pad) + len(body), misc, time)
        assert type(got) is MmapRecord and got == MmapRecord(pid, tid, start, length, pgoff, text, misc, time)

        rest = [rng.randrange(1 << 32), rng.randrange(1 << 32), rng.randrange(1 << 64), rng.randrange(1 << 64),
                rng.randrange(1 << 32), rng.randrange(1 << 32)]
        body = fmt.MMAP2_HEAD.pack(pid, tid, start, length, pgoff, *rest) + tail
        got = Mmap2Record.decode(pad + body, len(pad), len(pad) + len(body), misc & ~fmt.MISC_MMAP_BUILD_ID, time)
        assert type(got) is Mmap2Record and got.build_id is None
        assert got == Mmap2Record(pid, tid, start, length, pgoff, *rest, text, misc & ~fmt.MISC_MMAP_BUILD_ID, time)
        bid = bytes(rng.randrange(256) for _ in range(20))
        body = fmt.MMAP2_BUILD_ID_HEAD.pack(pid, tid, start, length, pgoff, 20, bid, rest[4], rest[5]) + tail
        got = Mmap2Record.decode(pad + body, len(pad), len(pad) + len(body), misc | fmt.MISC_MMAP_BUILD_ID, time)
        assert got == Mmap2Record(pid, tid, start, length, pgoff, 0, 0, 0, 0, rest[4], rest[5], text,
                                  misc | fmt.MISC_MMAP_BUILD_ID, time, bid)

        body = fmt.COMM_HEAD.pack(pid, tid) + tail
        got = CommRecord.decode(pad + body, len(pad), len(pad) + len(body), misc, time)
        assert type(got) is CommRecord
        assert got == CommRecord(pid, tid, text, bool(misc & fmt.MISC_COMM_EXEC), time)
        assert type(got.exec) is bool

        fields = [rng.randrange(1 << 32) for _ in range(4)] + [rng.randrange(1 << 64)]
        for cls in (ForkRecord, ExitRecord):
            body = fmt.FORK_EXIT.pack(*fields)
            got = cls.decode(pad + body + b"\0" * 8, len(pad), len(pad) + len(body), misc, time)
            assert type(got) is cls and got == cls(*fields, misc, time)

    for cls, head in ((MmapRecord, fmt.MMAP_HEAD), (Mmap2Record, fmt.MMAP2_HEAD), (CommRecord, fmt.COMM_HEAD),
                      (ForkRecord, fmt.FORK_EXIT), (ExitRecord, fmt.FORK_EXIT)):
        buf = bytes(head.size + 16)
        with pytest.raises(CorruptRecord):
            cls.decode(buf, 4, 4 + head.size - 1, 0, None)
        cls.decode(buf, 4, 4 + head.size, 0, None)
