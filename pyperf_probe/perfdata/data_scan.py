"""The post-pass ``pyperf record`` makes over the data it wrote (perf's ``process_buildids``): count samples
and lost records, find the first and last sample time (SAMPLE_TIME) and the DSOs that samples hit (BUILD_ID).

It reads only record headers, the fixed head of each SAMPLE (ip, pid, time) and the MMAP/MMAP2/FORK
records, in one pass over the mapped file: samples are reduced to their distinct (pid, ip) pairs, which are
resolved against the maps only once each, at the end. Maps are kept per process in file order; a process
without its own map for an address looks in its fork parent's (a forked child inherits the maps without new
MMAP records).
"""
from __future__ import annotations

import dataclasses
import struct
from typing import Dict, List, Optional, Set, Tuple

from pyperf_probe.perfdata.format import (FORK_EXIT, LOST, MMAP2_HEAD, MMAP_HEAD, RecordType, SampleType)

_HEADER = struct.Struct("<IHH")


@dataclasses.dataclass
class ScanResult:
    samples: int = 0
    lost_records: int = 0  # PERF_RECORD_LOST records (chunks the kernel could not write)
    lost_events: int = 0  # events counted in them
    first_time: int = 0
    last_time: int = 0
    hit_dsos: Tuple[str, ...] = ()  # filenames of DSOs with sample hits, plus [vdso] when mapped


def sample_head(sample_type: int) -> Tuple[struct.Struct, int, int, int]:
    """(struct, index of ip, of pid, of time) for the fixed head of a SAMPLE of this sample_type;
    index -1 when the field is absent (perf_event.h: IDENTIFIER, IP, TID, TIME come first, in that order)."""
    codes, idx = "<", {}
    if sample_type & SampleType.IDENTIFIER:
        codes += "Q"
    for bit, name, code in ((SampleType.IP, "ip", "Q"), (SampleType.TID, "pid", "Ii"), (SampleType.TIME, "time", "Q")):
        if sample_type & bit:
            idx[name] = len(codes) - 1
            codes += code
    return struct.Struct(codes), idx.get("ip", -1), idx.get("pid", -1), idx.get("time", -1)


class _Maps:
    """Executable maps per pid, in file order (few per process: a linear search from the newest is enough
    for the handful of distinct sample addresses a uprobe recording has)."""

    def __init__(self):
        self.by_pid: Dict[int, List[Tuple[int, int, str]]] = {}
        self.parent: Dict[int, int] = {}

    def add(self, pid: int, start: int, length: int, name: str) -> None:
        self.by_pid.setdefault(pid, []).append((start, start + length, name))

    def find(self, pid: int, avma: int) -> Optional[str]:
        seen = set()
        while pid is not None and pid not in seen:
            seen.add(pid)
            for start, end, name in reversed(self.by_pid.get(pid, ())):
                if start <= avma < end:
                    return name
            pid = self.parent.get(pid)
        return None


def _filename(buf, start: int, end: int) -> str:
    raw = bytes(buf[start:end])
    return raw[:raw.find(b"\0")].decode(errors="surrogateescape") if b"\0" in raw else raw.decode(errors="replace")


def scan(buf, sample_type: int) -> ScanResult:
    """One pass over the data section ``buf`` (all attrs share the head layout given by ``sample_type``)."""
    head, i_ip, i_pid, i_time = sample_head(sample_type)
    unpack_header, unpack_head = _HEADER.unpack_from, head.unpack_from
    res, maps, pairs = ScanResult(), _Maps(), set()
    first, last = 1 << 64, 0
    off, end = 0, len(buf)
    while off + 8 <= end:
        rtype, misc, size = unpack_header(buf, off)
        if size < 8:
            break  # corrupt: never loop forever
        if rtype == 9:  # SAMPLE: the hot path
            f = unpack_head(buf, off + 8)
            pairs.add((f[i_pid], f[i_ip]))
            t = f[i_time]
            if t < first:
                first = t
            if t > last:
                last = t
            res.samples += 1
        elif rtype == 10 or rtype == 1:  # MMAP2, MMAP
            _add_map(buf, off, rtype, size, maps)
        elif rtype == 7:  # FORK
            pid, ppid = FORK_EXIT.unpack_from(buf, off + 8)[:2]
            if pid != ppid:
                maps.parent[pid] = ppid
        elif rtype == 2:  # LOST
            res.lost_records += 1
            res.lost_events += LOST.unpack_from(buf, off + 8)[1]
        off += size
    if res.samples and i_time >= 0:
        res.first_time, res.last_time = first, last
    res.hit_dsos = _hit_dsos(pairs, maps, i_ip >= 0 and i_pid >= 0)
    return res


def _add_map(buf, off: int, rtype: int, size: int, maps: _Maps) -> None:
    if rtype == RecordType.MMAP2:
        pid, _tid, start, length, _pgoff, *_rest, prot, _flags = MMAP2_HEAD.unpack_from(buf, off + 8)
        name_at = off + 8 + MMAP2_HEAD.size
        if not prot & 4:  # PROT_EXEC: data maps never hold a sample ip
            return
    else:
        pid, _tid, start, length, _pgoff = MMAP_HEAD.unpack_from(buf, off + 8)
        name_at = off + 8 + MMAP_HEAD.size
    maps.add(pid, start, length, _filename(buf, name_at, off + size))


def _hit_dsos(pairs: Set[Tuple[int, int]], maps: _Maps, have_ips: bool) -> Tuple[str, ...]:
    names = set()
    if have_ips:
        for pid, avma in pairs:
            name = maps.find(pid, avma)
            if name:
                names.add(name)
    if any(name == "[vdso]" for entries in maps.by_pid.values() for _s, _e, name in entries):
        names.add("[vdso]")  # perf writes the vdso's build-id whether hit or not (__dsos__write_buildid_table)
    return tuple(sorted(names, key=lambda n: (n == "[vdso]", n)))

