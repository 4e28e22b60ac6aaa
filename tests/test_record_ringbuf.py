"""kernel/ringbuf.py against the running kernel: a 1-page ring buffer that wraps around many times is
drained into whole, contiguous records, none lost, none torn."""
import os

import pytest

from pyperf_probe.errors import KernelError
from pyperf_probe.kernel import perf_event, ringbuf
from pyperf_probe.perfdata import data_scan
from pyperf_probe.perfdata.format import AttrFlag, AttrType, EventAttr, ReadFormat, SampleType

EVENT = "/sys/kernel/tracing/events/syscalls/sys_enter_getpid/id"
ST = int(SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.RAW)


def test_pages_must_be_a_power_of_two():
    assert ringbuf.check_pages(128) == 128
    for bad in (0, 3, 100):
        with pytest.raises(KernelError, match="power of two"):
            ringbuf.check_pages(bad)


@pytest.mark.uprobes
@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(EVENT), reason="needs root and syscall tracepoints")
def test_one_page_ring_wraps_without_tearing_records():
    with open(EVENT) as f:
        config = int(f.read())
    attr = EventAttr(type=AttrType.TRACEPOINT, config=config, sample_type=ST,
                     read_format=ReadFormat.ID | ReadFormat.LOST, flags=int(AttrFlag.DISABLED))
    fd = perf_event.open_event(attr, os.getpid(), -1, name="syscalls:sys_enter_getpid")
    ring = ringbuf.RingBuffer(fd, 1)
    try:
        scanner, pieces, calls = data_scan.Scanner(ST), [], 0
        perf_event.enable(fd)
        for _ in range(60):
            for _ in range(25):  # ~50-byte samples: a 4 KB ring holds ~80, so it wraps every few rounds
                os.getpid()
                calls += 1
            ring.drain(lambda piece: (pieces.append(len(piece)), scanner.feed(piece)))
        perf_event.disable(fd)
        ring.drain(scanner.feed)
        result = scanner.result()
        assert result.samples == calls and result.lost_records == 0
        assert perf_event.read_count(fd, ReadFormat.ID | ReadFormat.LOST).lost == 0
        assert ring.bytes_read > 10 * ring.data_size  # it really wrapped, many times
        assert len(pieces) > 60  # and some drains came in two pieces (tail of the area, then its start)
    finally:
        ring.close()
        perf_event.close(fd)
