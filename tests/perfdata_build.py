"""Hand-made perf.data bytes for the reader tests: a header, attr entries with their id arrays, the records
given, and optional feature sections, laid out as perf 6.1 lays them (perf-formats.md §1.1). Each helper
says which field it writes; nothing here is validated, so tests can write broken files on purpose."""
from __future__ import annotations

import struct
from typing import Dict, Sequence, Tuple

from pyperf_probe.perfdata.format import (MAGIC, AttrFlag, AttrType, EventAttr, FileHeader, FileSection,
                                          RecordType, SampleType)

# A software event (cpu-clock): real perf reads it without TRACING_DATA, so perf can check these files too.
SW_SAMPLE_TYPE = SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU | SampleType.PERIOD


def sw_attr(sample_type: int = SW_SAMPLE_TYPE, flags: int = AttrFlag.SAMPLE_ID_ALL | AttrFlag.EXCLUDE_KERNEL,
            **kw) -> EventAttr:
    return EventAttr(type=AttrType.SOFTWARE, config=0, sample_period=1, sample_type=sample_type, flags=flags,
                     size=128, **kw)


def record(rtype: int, misc: int, body: bytes) -> bytes:
    """struct perf_event_header {u32 type; u16 misc; u16 size} + body padded to 8."""
    body = body + b"\0" * (-len(body) % 8)
    return struct.pack("<IHH", rtype, misc, 8 + len(body)) + body


def trailer(pid: int, tid: int, time: int, cpu: int = 0) -> bytes:
    """sample_id for SW_SAMPLE_TYPE: pid, tid (u32), time (u64), cpu, res (u32)."""
    return struct.pack("<IIQII", pid, tid, time, cpu, 0)


def sample(ip: int, pid: int, tid: int, time: int, cpu: int = 0, period: int = 1, misc: int = 2) -> bytes:
    """SAMPLE for SW_SAMPLE_TYPE: ip, pid/tid, time, cpu/res, period."""
    return record(RecordType.SAMPLE, misc, struct.pack("<QIIQIIQ", ip, pid, tid, time, cpu, 0, period))


def comm(pid: int, tid: int, name: str, time: int, exec_: bool = False) -> bytes:
    name_b = name.encode() + b"\0"
    name_b += b"\0" * (-len(name_b) % 8)
    return record(RecordType.COMM, 0x2000 if exec_ else 0,
                  struct.pack("<II", pid, tid) + name_b + trailer(pid, tid, time))


def mmap2(pid: int, start: int, length: int, pgoff: int, path: str, time: int, prot: int = 5) -> bytes:
    name_b = path.encode() + b"\0"
    name_b += b"\0" * (-len(name_b) % 8)
    body = struct.pack("<iiQQQIIQQII", pid, pid, start, length, pgoff, 0, 0, 0, 0, prot, 2)
    return record(RecordType.MMAP2, 2, body + name_b + trailer(pid, pid, time))


def finished_round() -> bytes:
    return record(RecordType.FINISHED_ROUND, 0, b"")


def perf_data(records: Sequence[bytes], attrs: Sequence[Tuple[EventAttr, Sequence[int]]] = ((sw_attr(), (7,)),),
              features: Dict[int, bytes] = None, data_size: int = None) -> bytes:
    """header @0, id arrays @104, attr entries, data, feature table, feature bodies."""
    features = features or {}
    ids_blob, id_sections, off = b"", [], 104
    for _attr, ids in attrs:
        id_sections.append(FileSection(off, 8 * len(ids)))
        ids_blob += struct.pack(f"<{len(ids)}Q", *ids)
        off += 8 * len(ids)
    attr_off = off
    attr_blob = b"".join(a.pack(128) + s.pack() for (a, _), s in zip(attrs, id_sections))
    data_off = attr_off + len(attr_blob)
    data = b"".join(records)
    feat_table_off = data_off + len(data)
    bodies, table, body_off = b"", b"", feat_table_off + 16 * len(features)
    for bit in sorted(features):
        table += FileSection(body_off + len(bodies), len(features[bit])).pack()
        bodies += features[bit]
    bitmap = sum(1 << b for b in features)
    header = FileHeader(attr_size=144, attrs=FileSection(attr_off, len(attr_blob)),
                        data=FileSection(data_off, len(data) if data_size is None else data_size), features=bitmap)
    raw = header.pack()
    assert raw[:8] == MAGIC
    return raw + ids_blob + attr_blob + data + table + bodies


def header_string(text: str) -> bytes:
    """struct perf_header_string: u32 len (padded to 64) + NUL-padded bytes."""
    raw = text.encode() + b"\0"
    raw += b"\0" * (-len(raw) % 64)
    return struct.pack("<I", len(raw)) + raw


CC_SAMPLE_TYPE = SW_SAMPLE_TYPE | SampleType.CALLCHAIN


def sample_cc(ip: int, pid: int, tid: int, time: int, chain: Sequence[int], misc: int = 2) -> bytes:
    """SAMPLE for CC_SAMPLE_TYPE: ip, pid/tid, time, cpu/res, period, then u64 nr + the chain entries."""
    body = struct.pack("<QIIQIIQ", ip, pid, tid, time, 0, 0, 1) + struct.pack(f"<Q{len(chain)}Q", len(chain), *chain)
    return record(RecordType.SAMPLE, misc, body)


def fork(pid: int, ppid: int, tid: int, ptid: int, time: int) -> bytes:
    """FORK: pid, ppid, tid, ptid (u32), time (u64), then the sample_id trailer."""
    return record(RecordType.FORK, 0, struct.pack("<IIIIQ", pid, ppid, tid, ptid, time) + trailer(pid, tid, time))


def lost(count: int, time: int) -> bytes:
    return record(RecordType.LOST, 0, struct.pack("<QQ", 7, count) + trailer(0, 0, time))


def lost_samples(count: int, time: int) -> bytes:
    return record(RecordType.LOST_SAMPLES, 0, struct.pack("<Q", count) + trailer(0, 0, time))


def kernel_mmap(start: int, length: int) -> bytes:
    """MMAP of [kernel.kallsyms]_text (cpumode KERNEL, pid -1), as perf synthesizes it (time 0)."""
    name = b"[kernel.kallsyms]_text\0"
    name += b"\0" * (-len(name) % 8)
    return record(RecordType.MMAP, 1, struct.pack("<iiQQQ", -1, 0, start, length, start) + name + trailer(0, 0, 0))
