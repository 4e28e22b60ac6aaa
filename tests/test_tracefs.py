"""kernel/tracefs: validation before anything reaches the kernel, and real uprobe_events round trips."""
import os

import pytest

from pyperf_probe.errors import KernelError
from pyperf_probe.kernel import tracefs

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


@pytest.mark.parametrize("line", [
    "p:probe_libc/malloc /usr/lib/x86_64-linux-gnu/libc.so.6:0x98930",
    "r:probe_libc/malloc__return /usr/lib/x86_64-linux-gnu/libc.so.6:0x98930 arg1=$retval",
    "p:sdt_tick/loop2 /tmp/tick:0x1151(0x4010) arg1=%ax:s32",
    "-:probe_libc/malloc",
])
def test_valid_definitions(line):
    assert tracefs.check_definition(line) == line


@pytest.mark.parametrize("line", [
    "p:probe_libc/malloc /tmp/a b:0x10",          # space in the path
    "p:probe_libc/malloc /tmp/x:0x10\n-:a/b",     # two commands in one
    "p:probe-libc/malloc /tmp/x:0x10",            # group is not an identifier
    "p:probe_libc/9malloc /tmp/x:0x10",           # event starts with a digit
    "p:probe_libc/malloc relative/x:0x10",        # relative path
    "p:probe_libc/malloc /tmp/x:10",              # offset not in hex
])
def test_invalid_definitions_never_reach_the_kernel(line):
    with pytest.raises(KernelError):
        tracefs.check_definition(line)


def _tracefs_ok():
    return os.geteuid() == 0 and os.path.exists(os.path.join(tracefs.TRACEFS, "uprobe_events"))


@pytest.mark.uprobes
@pytest.mark.skipif(not _tracefs_ok(), reason="needs root and tracefs with uprobe events")
def test_uprobe_events_round_trip():
    group, event = "pyperf_t_tracefs", "malloc_rt"
    try:
        tracefs.write_uprobe_events([f"p:{group}/{event} {LIBC}:0x1000"])
        assert f"p:{group}/{event} {LIBC}:0x0000000000001000" in tracefs.read_uprobe_events()
        assert tracefs.event_exists(group, event)
        assert tracefs.event_id(group, event) > 0
        assert (group, event) in tracefs.list_events(f"{group}:*")
        assert tracefs.event_format(group, event).startswith(f"name: {event}\n")
    finally:
        tracefs.write_uprobe_events([f"-:{group}/{event}"])
    assert not tracefs.event_exists(group, event)


@pytest.mark.uprobes
@pytest.mark.skipif(not _tracefs_ok(), reason="needs root and tracefs with uprobe events")
def test_kernel_refusal_is_explained():
    with pytest.raises(KernelError) as info:
        tracefs.write_uprobe_events(["p:pyperf_t_tracefs/nofile /nonexistent/file:0x10"])
    assert "Failed to find the given file" in info.value.message
    assert not tracefs.event_exists("pyperf_t_tracefs", "nofile")
