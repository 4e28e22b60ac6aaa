"""Feature sections of perf.data (the ``HEADER_*`` bits of the file header): their table and decoders.

The table sits at ``data.offset + data.size``: one ``struct perf_file_section`` per set bit, in ascending
bit order (tools/perf/util/header.c, ``perf_header__process_sections``); perf-formats.md §1.5. Only the
table is trusted for positions, never contiguity. Each decoder takes the section's bytes and returns a
plain value; ``PerfDataFile.feature()`` calls them lazily.

Strings are ``struct perf_header_string {u32 len; char string[len];}`` (NUL-padded, perf pads len to 64).
"""
from __future__ import annotations

import struct

from pyperf_probe.perfdata.format import (BUILD_ID_RECORD_HEAD, MISC_BUILD_ID_SIZE, U32, U64, EventAttr,
                                          Feature)
from pyperf_probe.perfdata.frozen import Frozen


class Cursor:
    """Bounds-checked little-endian reads over one section's bytes."""

    def __init__(self, data: bytes, what: str):
        self.data, self.pos, self.what = data, 0, what

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise _corrupt_record(f"corrupt {self.what} feature section: {size} bytes at {self.pos} "
                                f"overrun its {len(self.data)} bytes")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def u32(self) -> int:
        return U32.unpack(self.take(4))[0]

    def u64(self) -> int:
        return U64.unpack(self.take(8))[0]

    def string(self) -> str:
        """``struct perf_header_string``."""
        raw = self.take(self.u32())
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def count(self, per_item_min: int) -> int:
        """A u32 item count, refused if that many items of ``per_item_min`` bytes cannot fit."""
        nr = self.u32()
        if nr * per_item_min > len(self.data) - self.pos:
            raise _corrupt_record(f"corrupt {self.what} feature section: {nr} entries cannot fit")
        return nr


class NrCpus(Frozen):
    """HEADER_NRCPUS: ``{u32 nr_cpus_avail; u32 nr_cpus_online;}``."""

    __slots__ = ()
    _fields = ("available", "online")

    def __new__(cls, available: int, online: int):
        return tuple.__new__(cls, (available, online))


class EventDesc(Frozen):
    """One HEADER_EVENT_DESC entry: the attr, the event's name and its ids."""

    __slots__ = ()
    _fields = ("attr", "name", "ids")

    def __new__(cls, attr: EventAttr, name: str, ids: tuple[int, ...]):
        return tuple.__new__(cls, (attr, name, ids))


class BuildIdEntry(Frozen):
    """One HEADER_BUILD_ID record: ``struct perf_record_header_build_id`` {header, pid, build_id[20]
    (u8 size + 3 pad when misc has PERF_RECORD_MISC_BUILD_ID_SIZE), filename[] NUL-padded}."""

    __slots__ = ()
    _fields = ("pid", "build_id", "filename", "cpumode")

    def __new__(cls, pid: int, build_id: bytes, filename: str, cpumode: int):
        return tuple.__new__(cls, (pid, build_id, filename, cpumode))


class GroupDesc(Frozen):
    """One HEADER_GROUP_DESC entry: a group of more than one event (``write_group_desc``): its name
    (``{anon_group}`` for ``{a,b}``, NAME for ``NAME{a,b}``), the leader's index among the attrs and the
    number of events in the group, the leader included; the members are the attrs that follow the leader."""

    __slots__ = ()
    _fields = ("name", "leader_idx", "nr_members")

    def __new__(cls, name: str, leader_idx: int, nr_members: int):
        return tuple.__new__(cls, (name, leader_idx, nr_members))


class SampleTime(Frozen):
    """HEADER_SAMPLE_TIME: ``{u64 first_sample_time, last_sample_time;}`` in ns."""

    __slots__ = ()
    _fields = ("first", "last")

    def __new__(cls, first: int, last: int):
        return tuple.__new__(cls, (first, last))


def _string(data: bytes) -> str:
    return Cursor(data, "string").string()


def _nrcpus(data: bytes) -> NrCpus:
    cur = Cursor(data, "NRCPUS")
    return NrCpus(available=cur.u32(), online=cur.u32())


def _total_mem(data: bytes) -> int:
    return Cursor(data, "TOTAL_MEM").u64()


def _cmdline(data: bytes) -> tuple[str, ...]:
    cur = Cursor(data, "CMDLINE")
    return tuple(cur.string() for _ in range(cur.count(4)))


def _event_desc(data: bytes) -> tuple[EventDesc, ...]:
    """``u32 nr, attr_size; {attr[attr_size], u32 nr_ids, string name, u64 ids[nr_ids]}[nr]``."""
    cur = Cursor(data, "EVENT_DESC")
    nr, attr_size = cur.count(8), cur.u32()
    if attr_size < EventAttr.SIZE_VER0:
        raise _corrupt_record(f"corrupt EVENT_DESC feature section: attr size {attr_size}")
    events: list[EventDesc] = []
    for _ in range(nr):
        attr = EventAttr.unpack_from(cur.take(attr_size), 0, attr_size)
        nr_ids = cur.u32()
        name = cur.string()
        ids = struct.unpack(f"<{nr_ids}Q", cur.take(8 * nr_ids))
        events.append(EventDesc(attr, name, ids))
    return tuple(events)


def _build_ids(data: bytes) -> tuple[BuildIdEntry, ...]:
    """A sequence of build-id records, each sized by its own header (tools/perf/util/header.c,
    ``perf_header__read_build_ids``)."""
    entries: list[BuildIdEntry] = []
    pos = 0
    while pos + BUILD_ID_RECORD_HEAD.size <= len(data):
        _type, misc, size, pid, bid, bid_size = BUILD_ID_RECORD_HEAD.unpack_from(data, pos)
        if size < BUILD_ID_RECORD_HEAD.size or pos + size > len(data):
            raise _corrupt_record(f"corrupt BUILD_ID feature section: record size {size} at {pos}")
        name = data[pos + BUILD_ID_RECORD_HEAD.size:pos + size].split(b"\0", 1)[0].decode("utf-8", "replace")
        length = bid_size if misc & MISC_BUILD_ID_SIZE and 0 < bid_size <= 20 else 20
        entries.append(BuildIdEntry(pid, bid[:length], name, misc & 7))
        pos += size
    return tuple(entries)


def _group_desc(data: bytes) -> tuple[GroupDesc, ...]:
    """``u32 nr_groups; {string name, u32 leader_idx, u32 nr_members}[nr_groups]``."""
    cur = Cursor(data, "GROUP_DESC")
    return tuple(GroupDesc(cur.string(), cur.u32(), cur.u32()) for _ in range(cur.count(12)))


def _sample_time(data: bytes) -> SampleTime:
    cur = Cursor(data, "SAMPLE_TIME")
    return SampleTime(first=cur.u64(), last=cur.u64())


def _tracing_data(data: bytes):
    """HEADER_TRACING_DATA through ``perfdata.tracing_data.parse`` when that module exists (written by the
    record side); the raw bytes otherwise."""
    try:
        from pyperf_probe.perfdata import tracing_data
    except ImportError:
        return data
    return tracing_data.parse(data)


DECODERS = {  # feature -> decoder(section bytes)
    Feature.TRACING_DATA: _tracing_data,
    Feature.BUILD_ID: _build_ids,
    Feature.HOSTNAME: _string,
    Feature.OSRELEASE: _string,
    Feature.VERSION: _string,
    Feature.ARCH: _string,
    Feature.NRCPUS: _nrcpus,
    Feature.CPUDESC: _string,
    Feature.CPUID: _string,
    Feature.TOTAL_MEM: _total_mem,
    Feature.CMDLINE: _cmdline,
    Feature.EVENT_DESC: _event_desc,
    Feature.GROUP_DESC: _group_desc,
    Feature.SAMPLE_TIME: _sample_time,
}


def decode(feature: int, data: bytes) -> object | None:
    """The decoded section, or the raw bytes for a feature without a decoder here."""
    decoder = DECODERS.get(feature)
    return decoder(data) if decoder else data


def _corrupt_record(message: str):
    """A ``sample.CorruptRecord``, imported when one is raised: opening a file needs nothing else of the
    sample decoder's module."""
    from pyperf_probe.perfdata.sample import CorruptRecord
    return CorruptRecord(message)
