"""Records ``pyperf record`` writes itself (perf's util/synthetic-events.c): what the kernel cannot tell about
threads that existed before the recording started (COMM, MMAP2 from /proc), the kernel map, the id index,
round markers and the lost-samples summary.

Every synthesized record carries a zeroed ``sample_id`` trailer when the attrs have sample_id_all, as perf's
do (its size is the attrs' id header size, perf-formats.md §1.3).
"""
from __future__ import annotations

import dataclasses
import os
import struct
from typing import Iterator, List, Optional, Sequence, Tuple

from pyperf_probe.perfdata.format import (COMM_HEAD, FORK_EXIT, ID_INDEX_ENTRY, LOST_SAMPLES, MISC_COMM_EXEC,
                                          MISC_KERNEL, MISC_MMAP_DATA, MISC_USER, MMAP2_HEAD, MMAP_HEAD,
                                          EventHeader, RecordType, align)

_PROT = {"r": 1, "w": 2, "x": 4}  # PROT_READ, PROT_WRITE, PROT_EXEC
MAP_SHARED, MAP_PRIVATE = 1, 2


def _record(rtype: int, misc: int, body: bytes, trailer: bytes) -> bytes:
    size = 8 + len(body) + len(trailer)
    return EventHeader(rtype, misc, size).pack() + body + trailer


def _cstr8(text: str) -> bytes:
    """A NUL-terminated string padded to a multiple of 8 (filenames, comms)."""
    raw = text.encode(errors="surrogateescape") + b"\0"
    return raw.ljust(align(len(raw)), b"\0")


def comm(pid: int, tid: int, name: str, trailer: bytes, exec_: bool = False) -> bytes:
    """PERF_RECORD_COMM (``perf_event__synthesize_comm``); the kernel truncates comms to 15 bytes."""
    return _record(RecordType.COMM, MISC_COMM_EXEC if exec_ else 0,
                   COMM_HEAD.pack(pid, tid) + _cstr8(name[:15]), trailer)


def fork(pid: int, ppid: int, tid: int, ptid: int, trailer: bytes) -> bytes:
    """PERF_RECORD_FORK with time 0."""
    return _record(RecordType.FORK, 0, FORK_EXIT.pack(pid, ppid, tid, ptid, 0), trailer)


def kernel_mmap(start: int, length: int, trailer: bytes) -> bytes:
    """The ``[kernel.kallsyms]_text`` PERF_RECORD_MMAP (pid -1, pgoff = address of _text), which tells perf
    report where the kernel is (``perf_event__synthesize_kernel_mmap``)."""
    body = MMAP_HEAD.pack(-1, 0, start, length, start) + _cstr8("[kernel.kallsyms]_text")
    return _record(RecordType.MMAP, MISC_KERNEL, body, trailer)


@dataclasses.dataclass(frozen=True)
class MapLine:
    """One line of /proc/PID/maps."""

    start: int
    end: int
    perms: str
    pgoff: int
    maj: int
    min: int
    ino: int
    path: str


def parse_maps_line(line: str) -> Optional[MapLine]:
    """``7f..-7f.. r-xp 00001000 fe:00 338944   /usr/lib/.../ld.so`` -> MapLine; None if malformed."""
    parts = line.split(None, 5)
    if len(parts) < 5:
        return None
    lo, _, hi = parts[0].partition("-")
    maj, _, mnr = parts[3].partition(":")
    try:
        return MapLine(int(lo, 16), int(hi, 16), parts[1], int(parts[2], 16), int(maj, 16), int(mnr, 16),
                       int(parts[4]), parts[5].strip() if len(parts) > 5 else "")
    except ValueError:
        return None


def mmap2(pid: int, tid: int, m: MapLine, trailer: bytes) -> bytes:
    """PERF_RECORD_MMAP2 for one /proc maps line (``perf_event__synthesize_mmap_events``): anonymous
    executable memory is ``//anon``; non-executable maps are flagged MMAP_DATA."""
    prot = sum(v for k, v in _PROT.items() if k in m.perms)
    flags = MAP_SHARED if m.perms[3:4] == "s" else MAP_PRIVATE
    name = m.path or "//anon"
    misc = MISC_USER | (0 if "x" in m.perms else MISC_MMAP_DATA)
    body = MMAP2_HEAD.pack(pid, tid, m.start, m.end - m.start, m.pgoff, m.maj, m.min, m.ino, 0, prot, flags)
    return _record(RecordType.MMAP2, misc, body + _cstr8(name), trailer)


def process_mmaps(pid: int, trailer: bytes, with_data: bool = False) -> List[bytes]:
    """MMAP2 records of a running process's executable maps (and data maps with ``with_data``)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.readlines()
    except OSError:
        return []
    out = []
    for line in lines:
        m = parse_maps_line(line)
        if m is None or ("x" not in m.perms and not with_data):
            continue
        out.append(mmap2(pid, pid, m, trailer))
    return out


def read_comm(pid: int, tid: Optional[int] = None) -> Optional[str]:
    path = f"/proc/{pid}/task/{tid}/comm" if tid else f"/proc/{pid}/comm"
    try:
        with open(path) as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def tasks(pid: int) -> List[int]:
    """Thread ids of a process (main thread first)."""
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []
    return sorted(tids, key=lambda t: t != pid)


def _status_field(pid: int, field: str) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def thread_group(tid: int) -> Optional[int]:
    """The process (Tgid) a thread belongs to."""
    return _status_field(tid, "Tgid")


def synthesize_process(pid: int, trailer: bytes, with_data: bool = False,
                       only_tids: Optional[Sequence[int]] = None, with_fork: bool = False) -> Iterator[bytes]:
    """COMM of the main thread, its MMAP2s, then COMM of each other thread (what perf 6.1 writes for -p).
    ``with_fork`` (system-wide, perf's ``__event__synthesize_thread`` in full mode) puts a FORK before each
    COMM: the main thread forked from its parent (PPid), the other threads from the main thread. Kernel
    threads have no maps."""
    ppid = _status_field(pid, "PPid") if with_fork else None
    user = not is_kernel_thread(pid)
    for tid in tasks(pid):
        if only_tids is not None and tid not in only_tids and tid != pid:
            continue
        name = read_comm(pid, tid)
        if name is None:
            continue
        if with_fork:
            parent = (ppid or 0) if tid == pid else pid
            yield fork(pid, parent, tid, parent, trailer)
        yield comm(pid, tid, name, trailer)
        if tid == pid and user:
            yield from process_mmaps(pid, trailer, with_data)


def all_processes() -> List[int]:
    return sorted(int(d) for d in os.listdir("/proc") if d.isdigit())


def is_kernel_thread(pid: int) -> bool:
    """Kernel threads have no mm: an empty /proc/PID/maps (perf skips their maps)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return not f.read(1)
    except OSError:
        return True


def _kallsyms_address(data: bytes, name: bytes) -> Optional[int]:
    """The address on the line ``ADDR T NAME`` of /proc/kallsyms text (found with bytes.find, not parsed)."""
    at = data.find(b" " + name + b"\n")
    while at >= 0:
        start = data.rfind(b"\n", 0, at) + 1
        fields = data[start:at].split()
        if len(fields) == 2 and len(fields[1]) == 1:  # "ADDR T": not a module symbol "NAME\t[mod]"
            return int(fields[0], 16)
        at = data.find(b" " + name + b"\n", at + 1)
    return None


def kernel_text_range() -> Optional[Tuple[int, int]]:
    """(address of _text, _etext - _text) from /proc/kallsyms; None when hidden (kptr_restrict, not root).
    The file is ~5 MB: read at once and searched, not parsed line by line."""
    try:
        with open("/proc/kallsyms", "rb") as f:
            data = f.read()
    except OSError:
        return None
    text, etext = _kallsyms_address(data, b"_text"), _kallsyms_address(data, b"_etext")
    if not text or not etext or etext <= text:
        return None
    return text, etext - text


def id_index(entries: Sequence[Tuple[int, int, int, int]]) -> bytes:
    """PERF_RECORD_ID_INDEX: u64 nr, then {id, idx (attr index), cpu, tid} per fd (no sample_id)."""
    body = struct.pack("<Q", len(entries)) + b"".join(ID_INDEX_ENTRY.pack(*e) for e in entries)
    return _record(RecordType.ID_INDEX, 0, body, b"")


def lost_samples(lost: int, trailer: bytes) -> bytes:
    """PERF_RECORD_LOST_SAMPLES (what perf writes from the fds' PERF_FORMAT_LOST counts at the end)."""
    return _record(RecordType.LOST_SAMPLES, 0, LOST_SAMPLES.pack(lost), trailer)


FINISHED_ROUND = EventHeader(RecordType.FINISHED_ROUND, 0, 8).pack()
