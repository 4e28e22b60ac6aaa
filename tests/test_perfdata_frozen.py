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
