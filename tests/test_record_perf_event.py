"""kernel/perf_event.py: ioctl encodings, read() layouts, and counting for real on a kernel tracepoint."""
import os
import subprocess

import pytest

from pyperf_probe.errors import KernelError
from pyperf_probe.kernel import perf_event as pe
from pyperf_probe.perfdata.format import AttrFlag, AttrType, EventAttr, ReadFormat

ROOT = os.geteuid() == 0 and os.path.isdir("/sys/kernel/tracing/events/sched")


def test_ioctl_numbers_match_uapi():
    # include/uapi/linux/perf_event.h, as the x86_64 kernel headers expand them
    x86 = pe._ioctl_numbers("x86_64")
    assert x86["ENABLE"] == 0x2400 and x86["DISABLE"] == 0x2401
    assert x86["SET_FILTER"] == 0x40082406 and x86["ID"] == 0x80082407
    ppc = pe._ioctl_numbers("ppc64le")  # 3 direction bits at bit 29: _IOW = 0x8..., _IOR = 0x4...
    assert ppc["ENABLE"] == 0x20002400 and ppc["SET_FILTER"] == 0x80082406 and ppc["ID"] == 0x40082407


def test_syscall_numbers():
    assert pe.syscall_number("x86_64") == 298 and pe.syscall_number("aarch64") == 241
    with pytest.raises(KernelError):
        pe.syscall_number("vax")


def test_read_size():
    te, tr, ident, lost, group = (ReadFormat.TOTAL_TIME_ENABLED, ReadFormat.TOTAL_TIME_RUNNING,
                                  ReadFormat.ID, ReadFormat.LOST, ReadFormat.GROUP)
    assert pe.read_size(0) == 8
    assert pe.read_size(te | tr) == 24
    assert pe.read_size(ident | lost) == 24
    assert pe.read_size(group | te | tr | ident, 3) == 8 * (1 + 2 + 3 * 2)


def test_count_scaled():
    assert pe.Count(100, 200, 100).scaled() == 200
    assert pe.Count(100, 200, 200).scaled() == 100
    assert pe.Count(7).scaled() == 7


def test_open_errors_have_hints():
    err = pe.open_error(13, "probe_x:y")
    assert "No permission to enable probe_x:y event" in err.message and "perf_event_paranoid" in err.hint
    assert pe.open_error(24, "a:b").hint.startswith("Hint:")


@pytest.mark.uprobes
@pytest.mark.skipif(not ROOT, reason="needs root and tracefs")
def test_counting_a_tracepoint_with_inherit():
    from pyperf_probe.kernel import tracefs
    rf = ReadFormat.TOTAL_TIME_ENABLED | ReadFormat.TOTAL_TIME_RUNNING | ReadFormat.ID
    attr = EventAttr(type=AttrType.TRACEPOINT, config=tracefs.event_id("sched", "sched_process_exec"),
                     read_format=rf, flags=AttrFlag.DISABLED | AttrFlag.INHERIT)
    fd = pe.open_event(attr, os.getpid(), -1, name="sched:sched_process_exec")
    try:
        pe.enable(fd)
        for _ in range(3):
            subprocess.run(["/bin/true"], check=True)
        pe.disable(fd)
        count = pe.read_count(fd, rf)
        assert count.value == 3
        assert count.time_enabled >= count.time_running > 0
        assert count.id == pe.event_id(fd)
        with pytest.raises(KernelError, match='failed to set filter "bogus ==" on event'):
            pe.set_filter(fd, "bogus ==")
        pe.set_filter(fd, "common_pid != 0")
    finally:
        pe.close(fd)


@pytest.mark.uprobes
@pytest.mark.skipif(not ROOT, reason="needs root and tracefs")
def test_open_error_for_a_missing_thread():
    attr = EventAttr(type=AttrType.TRACEPOINT, config=1, flags=AttrFlag.DISABLED)
    with pytest.raises(KernelError) as info:
        pe.open_event(attr, 2 ** 22 + 17, -1, name="x:y")  # above pid_max: no such process
    assert info.value.errno in (3, 22)


@pytest.mark.uprobes
@pytest.mark.skipif(not ROOT, reason="needs root and tracefs")
def test_threads_that_exited_are_skipped_for_pid_targets():
    """-p lists the threads, then opens them: one that exited in between is skipped, as perf does."""
    from pyperf_probe.kernel import tracefs
    from pyperf_probe.record.events import Event
    from pyperf_probe.record.fds import EventFds
    attr = EventAttr(type=AttrType.TRACEPOINT, config=tracefs.event_id("sched", "sched_process_exec"),
                     flags=AttrFlag.DISABLED)
    gone = 2 ** 22 + 17  # above pid_max: never a live thread
    fds = EventFds()
    try:
        fds.open([Event("sched:sched_process_exec", attr)], [0], [os.getpid(), gone], 1, {},
                 ignore_missing_threads=True)
        assert [f.tid for f in fds.fds] == [os.getpid()] and len(fds.rings) == 1
    finally:
        fds.close()
    with pytest.raises(KernelError, match="Couldn't create thread/CPU maps: No such process"):
        fds.open([Event("sched:sched_process_exec", attr)], [0], [gone], 1, {}, ignore_missing_threads=True)
    fds.close()
