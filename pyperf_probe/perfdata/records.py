"""The records of a perf.data data section: one frozen record (``perfdata.frozen``: a frozen dataclass
without the start-up cost of ``dataclasses``) per record type the session uses, each decoding itself from
the bytes after its ``struct perf_event_header``.

Layouts: ``include/uapi/linux/perf_event.h`` (``enum perf_event_type``) and tools/perf/util/event.h for
perf's own records (>= 64); perf-formats.md §1.3. ``time`` on every record is the timestamp perf orders it
by: the sample_id trailer's TIME (``evlist__parse_sample_timestamp()``), None when the record has none.
Samples are ``sample.Sample`` tuples (the hot path), decoded by ``sample.SampleDecoder``.

Each ``decode(buf, pos, end, misc, time)`` reads the body between ``pos`` and ``end`` (``end`` excludes
the sample_id trailer) and raises ``CorruptRecord`` when a field does not fit.
"""
from __future__ import annotations

import struct

from pyperf_probe.perfdata import format as fmt
from pyperf_probe.perfdata.format import RecordType
from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.perfdata.sample import CorruptRecord, Regs, Sample, SampleDecoder  # noqa: F401 (re-export)


# The decoders of the records a session sees by the thousand (MMAP2, MMAP, COMM, FORK, EXIT) build their
# tuple at once, with their structs and flags bound here (no ``cls(...)`` call, no ``fmt.`` look-ups):
# tests/test_perfdata_frozen.py checks them against the records built field by field.
_new = tuple.__new__
_MMAP_SIZE, _MMAP_UNPACK = fmt.MMAP_HEAD.size, fmt.MMAP_HEAD.unpack_from
_MMAP2_SIZE, _MMAP2_UNPACK = fmt.MMAP2_HEAD.size, fmt.MMAP2_HEAD.unpack_from
_COMM_SIZE, _COMM_UNPACK = fmt.COMM_HEAD.size, fmt.COMM_HEAD.unpack_from
_FORK_EXIT_SIZE, _FORK_EXIT_UNPACK = fmt.FORK_EXIT.size, fmt.FORK_EXIT.unpack_from
_MISC_MMAP_BUILD_ID, _MISC_COMM_EXEC = fmt.MISC_MMAP_BUILD_ID, fmt.MISC_COMM_EXEC


def _need(pos: int, size: int, end: int, what: str) -> None:
    if pos + size > end:
        raise CorruptRecord(f"corrupt {what} record: {size} bytes of fields do not fit in the record")


def _cstring(buf, pos: int, end: int) -> str:
    """A NUL-terminated (and NUL-padded) string in [pos, end); an unterminated one ends at ``end``. (bytes,
    as the reader's records are, are searched in place; anything else is copied first.)"""
    if type(buf) is not bytes:
        buf = bytes(buf[pos:end])
        pos, end = 0, len(buf)
    nul = buf.find(b"\0", pos, end)
    return buf[pos:end if nul < 0 else nul].decode("utf-8", "replace")


class MmapRecord(Frozen):
    """PERF_RECORD_MMAP: ``{u32 pid, tid; u64 addr, len, pgoff; char filename[];}``.

    ``start``/``length`` are avmas of the mapping, ``pgoff`` its file offset. ``misc`` carries the cpumode
    (kernel maps have PERF_RECORD_MISC_KERNEL) and PERF_RECORD_MISC_MMAP_DATA."""

    __slots__ = ()
    _fields = ("pid", "tid", "start", "length", "pgoff", "filename", "misc", "time")

    def __new__(cls, pid: int, tid: int, start: int, length: int, pgoff: int, filename: str, misc: int,
                time: int | None):
        return tuple.__new__(cls, (pid, tid, start, length, pgoff, filename, misc, time))

    TYPE = RecordType.MMAP

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None) -> "MmapRecord":
        at = pos + _MMAP_SIZE
        if at > end:
            _need(pos, _MMAP_SIZE, end, "MMAP")
        return _new(cls, (*_MMAP_UNPACK(buf, pos), _cstring(buf, at, end), misc, time))

    @property
    def is_data(self) -> bool:
        return bool(self.misc & fmt.MISC_MMAP_DATA)


class Mmap2Record(Frozen):
    """PERF_RECORD_MMAP2: MMAP's fields, then ``{u32 maj, min; u64 ino, ino_generation}`` or, with
    PERF_RECORD_MISC_MMAP_BUILD_ID, ``{u8 build_id_size; u8 pad[3]; u8 build_id[20]}``; then
    ``u32 prot, flags; char filename[];``."""

    __slots__ = ()
    _fields = ("pid", "tid", "start", "length", "pgoff", "maj", "min", "ino", "ino_generation", "prot", "flags",
               "filename", "misc", "time", "build_id")

    def __new__(cls, pid: int, tid: int, start: int, length: int, pgoff: int, maj: int, min: int, ino: int,
                ino_generation: int, prot: int, flags: int, filename: str, misc: int, time: int | None,
                build_id: bytes | None = None):
        return tuple.__new__(cls, (pid, tid, start, length, pgoff, maj, min, ino, ino_generation, prot, flags,
                                   filename, misc, time, build_id))

    TYPE = RecordType.MMAP2

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None) -> "Mmap2Record":
        at = pos + _MMAP2_SIZE
        if at > end:
            _need(pos, _MMAP2_SIZE, end, "MMAP2")
        filename = _cstring(buf, at, end)
        if not misc & _MISC_MMAP_BUILD_ID:
            return _new(cls, (*_MMAP2_UNPACK(buf, pos), filename, misc, time, None))
        pid, tid, start, length, pgoff, bid_size, bid, prot, flags = fmt.MMAP2_BUILD_ID_HEAD.unpack_from(buf, pos)
        return cls(pid, tid, start, length, pgoff, 0, 0, 0, 0, prot, flags, filename, misc, time,
                   bid[:min(bid_size, 20)])

    @property
    def is_data(self) -> bool:
        return bool(self.misc & fmt.MISC_MMAP_DATA)


class CommRecord(Frozen):
    """PERF_RECORD_COMM: ``{u32 pid, tid; char comm[];}``; ``exec`` is PERF_RECORD_MISC_COMM_EXEC."""

    __slots__ = ()
    _fields = ("pid", "tid", "comm", "exec", "time")

    def __new__(cls, pid: int, tid: int, comm: str, exec: bool, time: int | None):
        return tuple.__new__(cls, (pid, tid, comm, exec, time))

    TYPE = RecordType.COMM

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None) -> "CommRecord":
        if pos + _COMM_SIZE > end:
            _need(pos, _COMM_SIZE, end, "COMM")
        pid, tid = _COMM_UNPACK(buf, pos)
        return _new(cls, (pid, tid, _cstring(buf, pos + 8, end), bool(misc & _MISC_COMM_EXEC), time))


class ForkRecord(Frozen):
    """PERF_RECORD_FORK: ``{u32 pid, ppid, tid, ptid; u64 time;}`` (``event_time`` is that body field)."""

    __slots__ = ()
    _fields = ("pid", "ppid", "tid", "ptid", "event_time", "misc", "time")

    def __new__(cls, pid: int, ppid: int, tid: int, ptid: int, event_time: int, misc: int, time: int | None):
        return tuple.__new__(cls, (pid, ppid, tid, ptid, event_time, misc, time))

    TYPE = RecordType.FORK

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None):
        if pos + _FORK_EXIT_SIZE > end:
            _need(pos, _FORK_EXIT_SIZE, end, cls.__name__)
        return _new(cls, (*_FORK_EXIT_UNPACK(buf, pos), misc, time))


class ExitRecord(ForkRecord):
    """PERF_RECORD_EXIT: the same body as FORK."""

    __slots__ = ()

    TYPE = RecordType.EXIT


class LostRecord(Frozen):
    """PERF_RECORD_LOST: ``{u64 id, lost;}``: the kernel dropped ``lost`` records of event ``id``."""

    __slots__ = ()
    _fields = ("id", "lost", "time")

    def __new__(cls, id: int, lost: int, time: int | None):
        return tuple.__new__(cls, (id, lost, time))

    TYPE = RecordType.LOST

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None) -> "LostRecord":
        _need(pos, fmt.LOST.size, end, "LOST")
        return cls(*fmt.LOST.unpack_from(buf, pos), time)


class LostSamplesRecord(Frozen):
    """PERF_RECORD_LOST_SAMPLES: ``{u64 lost;}``: samples lost (the sum is report's Total Lost Samples)."""

    __slots__ = ()
    _fields = ("lost", "time")

    def __new__(cls, lost: int, time: int | None):
        return tuple.__new__(cls, (lost, time))

    TYPE = RecordType.LOST_SAMPLES

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None) -> "LostSamplesRecord":
        _need(pos, fmt.LOST_SAMPLES.size, end, "LOST_SAMPLES")
        return cls(fmt.LOST_SAMPLES.unpack_from(buf, pos)[0], time)


class KsymbolRecord(Frozen):
    """PERF_RECORD_KSYMBOL: ``{u64 addr; u32 len; u16 ksym_type, flags; char name[];}``: kernel code that
    appeared (a BPF program's JIT image, a trampoline) or, with ``flags & PERF_RECORD_KSYMBOL_FLAGS_UNREGISTER``,
    went away."""

    __slots__ = ()
    _fields = ("addr", "len", "ksym_type", "flags", "name", "time")

    def __new__(cls, addr: int, len: int, ksym_type: int, flags: int, name: str, time: int | None):
        return tuple.__new__(cls, (addr, len, ksym_type, flags, name, time))

    TYPE = RecordType.KSYMBOL
    UNREGISTER = 1
    TYPE_OOL = 2                        # PERF_RECORD_KSYMBOL_TYPE_OOL: out-of-line code

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None) -> "KsymbolRecord":
        _need(pos, fmt.KSYMBOL_HEAD.size, end, "KSYMBOL")
        addr, length, ksym_type, flags = fmt.KSYMBOL_HEAD.unpack_from(buf, pos)
        return cls(addr, length, ksym_type, flags, _cstring(buf, pos + fmt.KSYMBOL_HEAD.size, end), time)


class FinishedRoundRecord(Frozen):
    """PERF_RECORD_FINISHED_ROUND (perf's own, no body): nothing after it is older than what came before
    the previous one, so the ordered queue may flush (tools/perf/util/ordered-events.c)."""

    __slots__ = ()
    _fields = ("time",)

    def __new__(cls, time: int | None = None):
        return tuple.__new__(cls, (time,))

    TYPE = RecordType.FINISHED_ROUND

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None) -> "FinishedRoundRecord":
        return FINISHED_ROUND


FINISHED_ROUND = FinishedRoundRecord()


class IdIndexEntry(Frozen):
    """``struct id_index_entry {u64 id, idx, cpu, tid;}``: event ``id`` is attr number ``idx``."""

    __slots__ = ()
    _fields = ("id", "idx", "cpu", "tid")

    def __new__(cls, id: int, idx: int, cpu: int, tid: int):
        return tuple.__new__(cls, (id, idx, cpu, tid))


class IdIndexRecord(Frozen):
    """PERF_RECORD_ID_INDEX: ``{u64 nr; struct id_index_entry entries[nr];}``."""

    __slots__ = ()
    _fields = ("entries", "time")

    def __new__(cls, entries: tuple[IdIndexEntry, ...], time: int | None = None):
        return tuple.__new__(cls, (entries, time))

    TYPE = RecordType.ID_INDEX

    @classmethod
    def decode(cls, buf, pos: int, end: int, misc: int, time: int | None) -> "IdIndexRecord":
        _need(pos, 8, end, "ID_INDEX")
        nr = fmt.U64.unpack_from(buf, pos)[0]
        if nr > (end - pos - 8) // fmt.ID_INDEX_ENTRY.size:
            raise CorruptRecord(f"corrupt ID_INDEX record: {nr} entries do not fit in the record")
        entries = tuple(IdIndexEntry(*fmt.ID_INDEX_ENTRY.unpack_from(buf, pos + 8 + 32 * i)) for i in range(nr))
        return cls(entries, time)


# What the reader decodes; every other known type is skipped silently (IGNORED), unknown ones with a warning.
DECODERS = {rec.TYPE: rec.decode for rec in (MmapRecord, Mmap2Record, CommRecord, ForkRecord, ExitRecord,
                                              LostRecord, LostSamplesRecord, FinishedRoundRecord, IdIndexRecord,
                                              KsymbolRecord)}

# Known records a report does not need (perf report's tool callbacks for them are stubs or out of scope).
IGNORED = frozenset({
    RecordType.THROTTLE, RecordType.UNTHROTTLE, RecordType.READ, RecordType.AUX, RecordType.ITRACE_START,
    RecordType.SWITCH, RecordType.SWITCH_CPU_WIDE, RecordType.NAMESPACES, RecordType.BPF_EVENT,
    RecordType.CGROUP, RecordType.TEXT_POKE, RecordType.AUX_OUTPUT_HW_ID,
    RecordType.THREAD_MAP, RecordType.CPU_MAP, RecordType.STAT_CONFIG, RecordType.STAT, RecordType.STAT_ROUND,
    RecordType.EVENT_UPDATE, RecordType.TIME_CONV, RecordType.FINISHED_INIT, RecordType.AUXTRACE_INFO,
    RecordType.AUXTRACE_ERROR, RecordType.AUXTRACE,
})

# Kernel records (< 64) carry the sample_id trailer when attr.sample_id_all is set; perf's own do not.
USER_RECORD_TYPES_START = 64

# The records the key scan decodes as it goes (``side_record``; _speedups_records.c in C), in the order of
# the classes of its spec: the ones a session meets by the thousand.
SIDE_CLASSES = (MmapRecord, Mmap2Record, CommRecord, ForkRecord, ExitRecord)
_SIDE_BY_TYPE = {cls.TYPE: cls for cls in SIDE_CLASSES}
_NO_TIME = 0xFFFFFFFFFFFFFFFF
_TYPE_MISC = struct.Struct("<IH")  # perf_event_header's type and misc


def side_spec(trailer_size: int, time_at: int) -> tuple:
    """The spec of ``side_record`` (and of ``_speedups.KeyScanner``'s ``side``) for a file whose events
    share a sample_id trailer of ``trailer_size`` bytes with TIME at ``time_at`` in it."""
    return trailer_size, time_at, SIDE_CLASSES


def side_record(spec: tuple, buf, off: int, size: int) -> tuple | None:
    """``(time, record)`` for the whole record of ``size`` bytes at ``off`` in ``buf`` when it is one of
    SIDE_CLASSES' types, its size a multiple of 8 holding the trailer, its trailer's TIME neither 0 nor
    (u64)-1, and its fields fit (the record its decoder gives, with that time); None otherwise, for the
    reader's careful path (which queues an untimed record to be delivered at once, and warns about a
    corrupt one). _speedups.side_record gives the same (tests/test_speedups.py)."""
    trailer_size, time_at, _classes = spec
    rtype, misc = _TYPE_MISC.unpack_from(buf, off)
    cls = _SIDE_BY_TYPE.get(rtype)
    if cls is None or size & 7 or size - 8 < trailer_size:
        return None
    end = off + size - trailer_size
    time = fmt.U64.unpack_from(buf, end + time_at)[0]
    if not time or time == _NO_TIME:
        return None
    try:
        return time, cls.decode(buf, off + 8, end, misc, time)
    except CorruptRecord:
        return None
