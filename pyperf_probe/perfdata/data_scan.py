"""The post-pass ``pyperf record`` makes over the data it wrote (perf's ``process_buildids``): count samples
and lost records, find the first and last sample time (SAMPLE_TIME) and the DSOs that samples hit (BUILD_ID).

It reads only record headers, the fixed head of each SAMPLE (ip, pid, time) and the MMAP/MMAP2/FORK/LOST
records, in one pass over the stream as it is written (``Scanner.feed``, while the workload runs; ``scan``
for a whole buffer): samples are reduced to their distinct (pid, ip) pairs, which are resolved against the
maps only once each, at the end. Maps are kept per process in file order; a process without its own map for
an address looks in its fork parent's (a forked child inherits the maps without new MMAP records), then in
the kernel's (pid -1).
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
    records: int = 0  # every record, samples included (perf report's "Processed N events")
    lost_records: int = 0  # PERF_RECORD_LOST records (chunks the kernel could not write)
    lost_events: int = 0  # events counted in them
    first_time: int = 0
    last_time: int = 0
    hit_dsos: Tuple[str, ...] = ()  # filenames of DSOs with sample hits, plus [vdso] when mapped
    all_dsos: Tuple[str, ...] = ()  # every DSO perf's session would know, kernel first (record --buildid-all)


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


KERNEL_DSO = "[kernel.kallsyms]"


class _Maps:
    """Executable maps per pid, in file order (few per process: a linear search from the newest is enough
    for the handful of distinct sample addresses a uprobe recording has). The kernel's maps (pid -1) serve
    every process. DSO names are remembered in order of first appearance, data maps included
    (``note``): perf writes its build-id table in the order its session created the DSOs, one per map
    name whatever the map's protection."""

    def __init__(self):
        self.by_pid: Dict[int, List[Tuple[int, int, str]]] = {}
        self.parent: Dict[int, int] = {}
        self.order: Dict[str, int] = {}

    def add(self, pid: int, start: int, length: int, name: str) -> None:
        self.by_pid.setdefault(pid, []).append((start, start + length, self.note(name)))

    def note(self, name: str) -> str:
        """Remember the DSO a map names; returns the DSO's name."""
        if name.startswith(KERNEL_DSO):
            name = KERNEL_DSO  # "[kernel.kallsyms]_text": the map's name, not the DSO's
        self.order.setdefault(name, len(self.order))
        return name

    def find(self, pid: int, avma: int) -> Optional[str]:
        seen = set()
        while pid is not None and pid not in seen:
            seen.add(pid)
            for start, end, name in reversed(self.by_pid.get(pid, ())):
                if start <= avma < end:
                    return name
            pid = self.parent.get(pid, -1 if pid != -1 else None)
        return None


def _filename(buf, start: int, end: int) -> str:
    raw = bytes(buf[start:end])
    return raw[:raw.find(b"\0")].decode(errors="surrogateescape") if b"\0" in raw else raw.decode(errors="replace")


class Scanner:
    """The post-pass, fed incrementally: ``feed(chunk)`` takes the data stream in pieces of any size (a
    record cut at the end of a piece is kept and completed by the next one), so ``pyperf record`` scans
    what it writes while the workload runs and only the last piece at the end. ``result()`` at the end."""

    def __init__(self, sample_type: int):
        self._head, self._i_ip, self._i_pid, self._i_time = sample_head(sample_type)
        self.res, self.maps, self.pairs = ScanResult(), _Maps(), set()
        self.first, self.last = 1 << 64, 0
        self._carry = b""

    def feed(self, chunk) -> None:
        while self._carry and self._carry_need() > 0:  # complete the cut record: header, then body
            if not len(chunk):
                return
            take = bytes(chunk[:self._carry_need()])
            self._carry += take
            chunk = chunk[len(take):]
        if self._carry:
            self._scan(self._carry)
            self._carry = b""
        done = self._scan(chunk)
        if done < len(chunk):
            self._carry = bytes(chunk[done:])

    def _carry_need(self) -> int:
        """Bytes still missing from the record in the carry (its header first, then its body)."""
        if len(self._carry) < 8:
            return 8 - len(self._carry)
        size = _HEADER.unpack_from(self._carry, 0)[2]
        return max(size, 8) - len(self._carry)

    def _scan(self, buf) -> int:
        """Scan the complete records of ``buf``; returns the bytes consumed."""
        i_ip, i_pid, i_time = self._i_ip, self._i_pid, self._i_time
        unpack_header, unpack_head = _HEADER.unpack_from, self._head.unpack_from
        res, maps, pairs = self.res, self.maps, self.pairs
        first, last, samples, records = self.first, self.last, 0, 0
        off, end = 0, len(buf)
        while off + 8 <= end:
            rtype, misc, size = unpack_header(buf, off)
            if size < 8:
                off = end  # corrupt: never loop forever
                break
            if off + size > end:
                break  # cut: the rest comes with the next chunk
            if rtype == 9:  # SAMPLE: the hot path
                f = unpack_head(buf, off + 8)
                pairs.add((f[i_pid], f[i_ip]))
                t = f[i_time]
                if t < first:
                    first = t
                if t > last:
                    last = t
                samples += 1
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
            records += 1
        res.samples += samples
        res.records += records
        self.first, self.last = first, last
        return off

    def result(self) -> ScanResult:
        res = self.res
        if res.samples and self._i_time >= 0:
            res.first_time, res.last_time = self.first, self.last
        res.hit_dsos = _hit_dsos(self.pairs, self.maps, self._i_ip >= 0 and self._i_pid >= 0)
        res.all_dsos = _all_dsos(self.maps)
        return res


def scan(buf, sample_type: int) -> ScanResult:
    """One pass over a whole data section ``buf`` (all attrs share the head layout given by ``sample_type``)."""
    scanner = Scanner(sample_type)
    scanner.feed(buf)
    return scanner.result()


def _add_map(buf, off: int, rtype: int, size: int, maps: _Maps) -> None:
    if rtype == RecordType.MMAP2:
        pid, _tid, start, length, _pgoff, *_rest, prot, _flags = MMAP2_HEAD.unpack_from(buf, off + 8)
        name_at = off + 8 + MMAP2_HEAD.size
        if not prot & 4:  # PROT_EXEC: data maps never hold a sample ip, but they make a DSO
            maps.note(_filename(buf, name_at, off + size))
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
    if "[vdso]" in maps.order:
        names.add("[vdso]")  # perf writes the vdso's build-id whether hit or not (__dsos__write_buildid_table)
    return tuple(sorted(names, key=maps.order.__getitem__))



def _all_dsos(maps: _Maps) -> Tuple[str, ...]:
    """``dsos__hit_all``: every DSO of the session, in the order it was created: the kernel's first (perf's
    session makes it before reading any record), then each file and the ``[vdso]`` in the order their maps
    came. Anonymous and special maps (``//anon``, ``[heap]``, ``[stack]``) have no build-id: left out."""
    names = [n for n in maps.order if n[:1] == "/" and n[:2] != "//" or n in ("[vdso]", KERNEL_DSO)]
    if KERNEL_DSO in names:
        names.remove(KERNEL_DSO)
    return (KERNEL_DSO, *names)
