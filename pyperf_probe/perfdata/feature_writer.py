"""Encoders for the feature sections ``pyperf record`` writes (tools/perf/util/header.c ``write_*``).

Each function returns the section body; ``writer.PerfDataWriter.finish`` lays them out behind the data with
the section table, in ascending feature-bit order (perf-formats.md §1.5).
"""
from __future__ import annotations

import dataclasses
import os
import struct
from typing import Iterable, Sequence, Tuple

from pyperf_probe.perfdata.format import (BUILD_ID_RECORD_HEAD, MISC_BUILD_ID_SIZE, MISC_KERNEL, MISC_USER, U32, U64,
                                          EventAttr, align)

NAME_ALIGN = 64  # header.c: do_write_string pads to NAME_ALIGN


def string(text: str) -> bytes:
    """``do_write_string``: u32 len (with the NUL, rounded up to 64) + the string NUL-padded to len."""
    raw = text.encode() + b"\0"
    size = align(len(raw), NAME_ALIGN)
    return U32.pack(size) + raw.ljust(size, b"\0")


def nrcpus(avail: int, online: int) -> bytes:
    """``write_nrcpus``: u32 nr_cpus_avail (max present), u32 nr_cpus_online."""
    return struct.pack("<II", avail, online)


def cmdline(argv: Sequence[str]) -> bytes:
    """``write_cmdline``: u32 nr + nr strings; argv[0] is the absolute path of the recorder."""
    return U32.pack(len(argv)) + b"".join(string(a) for a in argv)


@dataclasses.dataclass(frozen=True)
class EventDesc:
    """One EVENT_DESC entry: the attr, its name, the ids of its fds."""

    attr: EventAttr
    name: str
    ids: Tuple[int, ...]


def event_desc(events: Sequence[EventDesc], attr_size: int = 128) -> bytes:
    """``write_event_desc``: u32 nr, u32 attr_size, then per event attr, u32 nr_ids, name, u64 ids[]."""
    parts = [struct.pack("<II", len(events), attr_size)]
    for ev in events:
        parts += [ev.attr.pack(attr_size), U32.pack(len(ev.ids)), string(ev.name),
                  struct.pack(f"<{len(ev.ids)}Q", *ev.ids)]
    return b"".join(parts)


def group_desc(groups: Sequence[Tuple[str, int, int]]) -> bytes:
    """``write_group_desc``: u32 nr_groups, then per group of more than one event its name
    (``{anon_group}`` when it has none), u32 leader_idx, u32 nr_members."""
    return U32.pack(len(groups)) + b"".join(string(name) + struct.pack("<II", leader, nr)
                                            for name, leader, nr in groups)


def build_ids(entries: Iterable[Tuple[str, bytes]]) -> bytes:
    """``write_build_id``: one ``struct perf_record_header_build_id`` per DSO: header {type 0,
    misc cpumode|BUILD_ID_SIZE (KERNEL for ``[kernel.kallsyms]``, else USER), size}, pid -1, build_id[20],
    u8 size, 3 pad, filename NUL-padded to 64."""
    out = []
    for filename, build_id in entries:
        name = filename.encode() + b"\0"
        name = name.ljust(align(len(name), NAME_ALIGN), b"\0")
        size = BUILD_ID_RECORD_HEAD.size + len(name)
        cpumode = MISC_KERNEL if filename == "[kernel.kallsyms]" else MISC_USER
        out.append(BUILD_ID_RECORD_HEAD.pack(0, MISC_BUILD_ID_SIZE | cpumode, size, -1,
                                             build_id[:20].ljust(20, b"\0"), len(build_id)) + name)
    return b"".join(out)


def sample_time(first: int, last: int) -> bytes:
    """``write_sample_time``: u64 first, u64 last sample time (ns)."""
    return U64.pack(first) + U64.pack(last)


def system_strings() -> Tuple[str, str, str]:
    """(hostname, os release, arch) as ``uname`` gives them (HOSTNAME, OSRELEASE, ARCH)."""
    u = os.uname()
    return u.nodename, u.release, u.machine


def cpu_counts() -> Tuple[int, int]:
    """(nr_cpus_avail, nr_cpus_online): max present CPU + 1, and CPUs online (sysfs, as perf reads them)."""
    def count(path: str) -> int:
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            return os.cpu_count() or 1
        cpus = 0
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            cpus = max(cpus, int(hi or lo) + 1)
        return cpus

    return count("/sys/devices/system/cpu/present"), len(online_cpus())


def online_cpus() -> Tuple[int, ...]:
    """CPU numbers from /sys/devices/system/cpu/online ("0-3,6")."""
    try:
        with open("/sys/devices/system/cpu/online") as f:
            return parse_cpu_list(f.read())
    except OSError:
        return tuple(range(os.cpu_count() or 1))


def parse_cpu_list(text: str) -> Tuple[int, ...]:
    """"0-2,5" -> (0, 1, 2, 5); raises ValueError on bad syntax."""
    cpus = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return tuple(sorted(cpus))
