"""Reading perf.data (PERFILE2) files: header, attrs, feature sections, and a streaming record iterator.

``PerfDataFile.open(path)`` checks the file as ``perf report`` does (tools/perf/util/data.c
``open_file_read``, util/header.c ``perf_session__read_header``) and fails with perf's messages; then:

* ``.header``: the ``FileHeader``; ``.attrs``: one ``FileAttr`` per event (attr, ids, name);
* ``.feature(Feature.X)``: a feature section, decoded on first use (``perfdata.features``);
* ``.records()``: every record of the data section, streamed in chunks, reordered by time as perf does
  (``perfdata.ordered``); ``.records(ordered=False)`` gives file order; ``.record_batches()`` the same
  records as lists, for loops over millions of records.

Time order costs little memory: the scan reads only each record's timestamp and queues its bytes; records
are decoded when the queue delivers them (1024 at a time), so memory holds about two rounds of raw
records, not the file (bench/read_only: 37 MiB peak RSS for 360K samples with call chains, 1.07x that of
a third of the file).

Bad input never raises anything but ``PerfDataError``. Sizes come from the file and are checked before
anything is allocated. Damage inside the data section is reported once per kind through the ``pyperf``
logger and skipped: unknown record types, corrupt records, samples of unknown ids; a file cut short (a
``perf record`` killed mid-write) is read up to its last whole record.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import gc
import itertools
import logging
import os
import struct
from typing import Dict, Iterator, List, Optional, Tuple

from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata import features as feat
from pyperf_probe.perfdata.format import (MAGIC, MAGIC_SWAPPED, U64, AttrFlag, AttrType, EventAttr,
                                          FileHeader, FileSection, RecordType, SampleType, sample_id_struct)
from pyperf_probe.perfdata.ordered import OrderedQueue
from pyperf_probe.perfdata.records import DECODERS, IGNORED, USER_RECORD_TYPES_START
from pyperf_probe.perfdata.sample import CorruptRecord, SampleDecoder

log = logging.getLogger("pyperf")

DEFAULT_PATH = "perf.data"
INCOMPATIBLE = "incompatible file format (rerun with -v to learn more)"
HEADER = struct.Struct("<IHH")
DECODE_BATCH = 1024
CHUNK_SIZE = 1 << 20  # > the largest record (perf_event_header.size is a u16)


@dataclasses.dataclass(frozen=True)
class FileAttr:
    """One event of the file: its ``perf_event_attr``, the ids its samples carry, and its name
    (EVENT_DESC's, else ``system:name`` from TRACING_DATA for tracepoints, else None)."""

    index: int
    attr: EventAttr
    ids: Tuple[int, ...]
    name: Optional[str]


@dataclasses.dataclass
class ReadStats:
    """What ``records()`` met besides good records (perf's ``struct events_stats`` where it has one)."""

    nr_records: int = 0  # every whole record read, decoded or not (perf's nr_events[0])
    nr_skipped: int = 0  # records of types read past without decoding
    nr_unknown_id: int = 0
    nr_unknown_type: int = 0
    nr_corrupt: int = 0
    truncated_bytes: int = 0


def _incompatible(reason: str) -> PerfDataError:
    log.debug(reason)
    return PerfDataError(INCOMPATIBLE)


def check_path(path: Optional[str], force: bool = False) -> Tuple[str, os.stat_result]:
    """perf's checks before reading (util/data.c): the file exists, is owned by us or root unless
    ``force``, and is not empty. Returns the path and its stat."""
    shown = path or DEFAULT_PATH
    try:
        st = os.stat(shown)
    except OSError as exc:
        hint = "  (try 'perf record' first)" if not path or path == DEFAULT_PATH else ""
        raise PerfDataError(f"failed to open {shown}: {os.strerror(exc.errno)}{hint}",
                            errno=exc.errno if exc.errno != errno_mod.ENOENT else None) from None
    if os.path.isdir(shown):
        raise PerfDataError(f"{shown} is a directory: directory-format perf.data (perf record --threads) "
                            "is not supported")
    if not force and st.st_uid and st.st_uid != os.geteuid():
        raise PerfDataError(f"File {shown} not owned by current user or root (use -f to override)")
    if not st.st_size:
        raise PerfDataError(f"zero-sized data ({shown}), nothing to do!")
    return shown, st


class PerfDataFile:
    """An open perf.data file. Use ``PerfDataFile.open(path)``; close it (or use ``with``) when done."""

    def __init__(self, path: str, fileobj, file_size: int):
        self.path = path
        self._file = fileobj
        self.file_size = file_size
        self.stats = ReadStats()
        self._warned: set = set()
        self._features: Dict[int, object] = {}
        self.header = self._read_header()
        self._sections = self._read_feature_table()
        self.attrs = self._read_attrs()
        self._decoders = self._compile_decoders()
        self._id_to_evsel = {i: a.index for a in self.attrs for i in a.ids}
        self._id_pos = _id_pos(self.attrs[0].attr.sample_type)
        self._sample_time_pos = self._common_time_pos()
        self._trailer_time = self._trailer_time_pos()

    def _compile_decoders(self) -> List[SampleDecoder]:
        try:
            return [SampleDecoder(a.attr, a.index) for a in self.attrs]
        except PerfDataError as exc:
            raise _incompatible(f"{self.path}: {exc}") from None

    @classmethod
    def open(cls, path: Optional[str] = None, force: bool = False) -> "PerfDataFile":
        """Open and check ``path`` (default ``perf.data``) with perf's messages and rules."""
        shown, st = check_path(path, force)
        try:
            fileobj = open(shown, "rb")
        except OSError as exc:
            raise PerfDataError(f"failed to open {shown}: {os.strerror(exc.errno)}") from None
        try:
            return cls(shown, fileobj, st.st_size)
        except BaseException:
            fileobj.close()
            raise

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PerfDataFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- header, attrs, features ----------------------------------------------------------------------

    def _pread(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        data = self._file.read(size)
        if len(data) != size:
            raise _incompatible(f"{self.path}: {size} bytes at offset {offset} are past the end of the file")
        return data

    def _read_header(self) -> FileHeader:
        if self.file_size < 8:
            raise _incompatible(f"{self.path}: too short for a perf.data header")
        magic = self._pread(0, 8)
        if magic == MAGIC_SWAPPED:
            raise PerfDataError(f"{self.path}: byte-swapped perf.data (recorded on a big-endian host) "
                                "is not supported")
        if magic != MAGIC:
            raise _incompatible(f"{self.path}: bad magic {magic!r} (not a PERFILE2 perf.data file)")
        if self.file_size < FileHeader.STRUCT.size:
            raise _incompatible(f"{self.path}: too short for a perf.data header")
        header = FileHeader.unpack_from(self._pread(0, FileHeader.STRUCT.size))
        if header.size != FileHeader.STRUCT.size:
            raise _incompatible(f"{self.path}: header size {header.size} (pipe-mode or unknown layout)")
        if header.attrs.offset + header.attrs.size > self.file_size:
            raise _incompatible(f"{self.path}: the attrs section is past the end of the file")
        if header.attr_size < EventAttr.SIZE_VER0 + 16 or header.attrs.size % header.attr_size:
            raise _incompatible(f"{self.path}: attr entry size {header.attr_size} "
                                f"does not divide the attr section ({header.attrs.size} bytes)")
        if not header.data.size:
            log.warning(f"WARNING: The {self.path} file's data size field is 0 which is unexpected.\n"
                        "Was the 'perf record' command properly terminated?")
        return header

    def _read_attrs(self) -> Tuple[FileAttr, ...]:
        h = self.header
        nr = h.attrs.size // h.attr_size
        if not nr:
            raise _incompatible(f"{self.path}: no event attributes")
        table = self._pread(h.attrs.offset, h.attrs.size)
        entries = []
        for index in range(nr):
            base = index * h.attr_size
            attr_size = struct.unpack_from("<I", table, base + 4)[0]
            if not EventAttr.SIZE_VER0 <= attr_size <= h.attr_size - 16:
                raise _incompatible(f"{self.path}: attr {index} has size {attr_size}")
            attr = EventAttr.unpack_from(table, base, attr_size)
            ids_section = FileSection.unpack_from(table, base + h.attr_size - 16)
            entries.append((attr, self._read_ids(ids_section, index)))
        _check_sample_types([a for a, _ in entries], self.path)
        return tuple(FileAttr(i, attr, ids, self._event_name(i, attr, ids, nr))
                     for i, (attr, ids) in enumerate(entries))

    def _read_ids(self, section: FileSection, index: int) -> Tuple[int, ...]:
        if section.size % 8 or section.offset + section.size > self.file_size:
            raise _incompatible(f"{self.path}: the id array of attr {index} is outside the file")
        return struct.unpack(f"<{section.size // 8}Q", self._pread(section.offset, section.size))

    def _event_name(self, index: int, attr: EventAttr, ids: Tuple[int, ...], nr_attrs: int) -> Optional[str]:
        """EVENT_DESC's name for the event its ids[0] belongs to (perf: evlist__set_event_name through
        evlist__id2evsel, which answers the first event for a one-event file or id 0), else the tracepoint's
        ``system:name`` from TRACING_DATA, else perf's "unknown tracepoint" for a tracepoint."""
        for desc in self._safe_feature(feat.Feature.EVENT_DESC) or ():
            first_id = desc.ids[0] if desc.ids else 0
            owner = 0 if nr_attrs == 1 or not first_id else (index if first_id in ids else None)
            if owner == index and desc.name:
                return desc.name
        if attr.type == AttrType.TRACEPOINT:
            tracing = self._safe_feature(feat.Feature.TRACING_DATA)
            events = getattr(tracing, "events", None)
            if events is not None and attr.config in events:
                return tracing.event_name(attr.config)
            return "unknown tracepoint"
        return None

    def _read_feature_table(self) -> Dict[int, FileSection]:
        """The section table after the data: one entry per set bit, ascending (header.c)."""
        bits = [b for b in range(256) if self.header.has_feature(b)]
        start = self.header.data.offset + self.header.data.size
        if not bits:
            return {}
        size = 16 * len(bits)
        if start + size > self.file_size or not self.header.data.size:
            self._warn_once("features", f"{self.path}: the feature section table is missing "
                                        "(file cut short?): header features ignored")
            return {}
        table = self._pread(start, size)
        return {bit: FileSection.unpack_from(table, 16 * i) for i, bit in enumerate(bits)}

    @property
    def features(self) -> Tuple[int, ...]:
        """The feature bits present in the section table."""
        return tuple(self._sections)

    def feature(self, feature: int):
        """The decoded feature section, None when absent (see ``perfdata.features`` for the types)."""
        if feature not in self._features:
            self._features[feature] = self._decode_feature(feature)
        return self._features[feature]

    def feature_bytes(self, feature: int) -> Optional[bytes]:
        section = self._sections.get(feature)
        if section is None:
            return None
        if section.offset + section.size > self.file_size:
            raise PerfDataError(f"{self.path}: feature section {_feature_name(feature)} "
                                "is past the end of the file")
        return self._pread(section.offset, section.size)

    def _decode_feature(self, feature: int):
        data = self.feature_bytes(feature)
        if data is None:
            return None
        if feature not in feat.DECODERS:
            self._warn_once(("feature", feature), f"{self.path}: skipping feature section "
                                                  f"{_feature_name(feature)}: not decoded by pyperf")
            return data
        try:
            return feat.decode(feature, data)
        except PerfDataError as exc:
            raise PerfDataError(f"{self.path}: {exc}") from None
        except (struct.error, ValueError, IndexError, KeyError) as exc:
            raise PerfDataError(f"{self.path}: corrupt {_feature_name(feature)} feature section ({exc})") \
                from None

    def _safe_feature(self, feature: int):
        """A feature needed while opening: a damaged one is a warning there, not a failure."""
        try:
            return self.feature(feature)
        except PerfDataError as exc:
            self._warn_once(("bad-feature", feature), f"{exc}: ignored")
            self._features[feature] = None
            return None

    # --- records --------------------------------------------------------------------------------------

    def records(self, ordered: bool = True) -> Iterator:
        """Every record of the data section: ``Sample`` tuples and ``records.*Record`` objects, in perf's
        delivery order (time-ordered per round) or, with ``ordered=False``, in file order."""
        return itertools.chain.from_iterable(self.record_batches(ordered))

    def record_batches(self, ordered: bool = True) -> Iterator[List]:
        """``records()`` as lists (one per decoded chunk or flushed round): the same records in the same
        order, for consumers that loop over many records (one generator step per batch, not per record)."""
        if not ordered:
            return _fewer_collections(self._file_batches())
        self._queue = OrderedQueue()
        return _fewer_collections(self._decode_batches(self._queue.reorder_batches(self._entry_batches())))

    def _data_end(self) -> int:
        h = self.header
        end = h.data.offset + h.data.size if h.data.size else self.file_size
        if end > self.file_size:
            self.stats.truncated_bytes = end - self.file_size
            self._warn_once("truncated", f"{self.path}: the data section ends {end - self.file_size} bytes "
                                         "past the end of the file (cut short?): reading up to the last "
                                         "whole record")
            end = self.file_size
        return end

    def _file_batches(self) -> Iterator[List]:
        """Decode records chunk by chunk (CHUNK_SIZE, more than any record), in file order: one list of
        records per chunk.

        The hot loop: samples of a one-event file go straight to its compiled decoder."""
        pos, end = self.header.data.offset, self._data_end()
        unpack_header = HEADER.unpack_from
        decode_one = self._decoders[0].decode if len(self._decoders) == 1 else None
        stats = self.stats
        while pos < end:
            self._file.seek(pos)
            buf = self._file.read(min(CHUNK_SIZE, end - pos))
            n, off = len(buf), 0
            out: List = []
            append = out.append
            count = 0
            while off + 8 <= n:
                rtype, misc, size = unpack_header(buf, off)
                if size < 8 or off + size > n:
                    break
                count += 1
                if rtype == 9 and decode_one is not None:
                    try:
                        rec = decode_one(buf, off + 8, off + size, misc, pos + off)
                    except CorruptRecord as exc:
                        rec = self._corrupt(exc, rtype, pos + off)
                else:
                    rec = self._decode(buf, off, rtype, misc, size, pos + off)
                    if rtype == RecordType.AUXTRACE and size >= 16:  # its payload follows the record
                        size += struct.unpack_from("<Q", buf, off + 8)[0]
                off += size
                if rec is not None:
                    append(rec)
            stats.nr_records += count
            yield out
            pos += off
            if pos >= end or not self._chunk_end_ok(buf, n, off, pos, end):
                return

    def _entry_batches(self) -> Iterator[List]:
        """The ordered path's scan, in file order: per chunk, one entry ``(time, type, misc, record bytes,
        file_offset)`` per record the reader decodes (``ordered.OrderedQueue``'s entries). Only the
        timestamp is read here (perf's ``evlist__parse_sample_timestamp``); records are decoded once
        delivered (``_decode_batches``)."""
        pos, end = self.header.data.offset, self._data_end()
        unpack_header = HEADER.unpack_from
        u64 = U64.unpack_from
        sample_time_pos = self._sample_time_pos
        trailer_size, trailer_time = self._trailer_time
        stats = self.stats
        while pos < end:
            self._file.seek(pos)
            buf = self._file.read(min(CHUNK_SIZE, end - pos))
            n, off = len(buf), 0
            out: List = []
            append = out.append
            count = 0
            while off + 8 <= n:
                rtype, misc, size = unpack_header(buf, off)
                if size < 8 or off + size > n:
                    break
                count += 1
                if rtype == 9:
                    tp = sample_time_pos if sample_time_pos is not None else self._time_pos_of(buf, off, size)
                    time = u64(buf, off + tp)[0] if tp is not None and tp + 8 <= size else None
                elif rtype in DECODERS:
                    time = None
                    if rtype < USER_RECORD_TYPES_START and trailer_time is not None:
                        if trailer_time == -1:  # events with different trailers
                            time = self._record_time(buf, off, size, rtype)
                        elif size - 8 >= trailer_size:
                            time = u64(buf, off + size - trailer_size + trailer_time)[0]
                else:
                    stats.nr_skipped += 1
                    self._skip(rtype, pos + off)
                    if rtype == RecordType.AUXTRACE and size >= 16:  # its payload follows the record
                        size += struct.unpack_from("<Q", buf, off + 8)[0]
                    off += size
                    continue
                append((time, rtype, misc, buf[off:off + size], pos + off))
                off += size
            stats.nr_records += count
            yield out
            pos += off
            if pos >= end or not self._chunk_end_ok(buf, n, off, pos, end):
                return

    def _decode_batches(self, batches: Iterator[List]) -> Iterator[List]:
        """Delivered entries -> records (the samples of a one-event file straight to its decoder), at most
        DECODE_BATCH at a time: a flushed round stays in its compact queued form until it is consumed."""
        decode_one = self._decoders[0].decode if len(self._decoders) == 1 else None
        for batch in batches:
            for start in range(0, len(batch), DECODE_BATCH):
                entries = batch[start:start + DECODE_BATCH]
                out: List = []
                append = out.append
                for _time, rtype, misc, raw, file_offset in entries:
                    if rtype == 9 and decode_one is not None:
                        try:
                            append(decode_one(raw, 8, len(raw), misc, file_offset))
                        except CorruptRecord as exc:
                            self._corrupt(exc, rtype, file_offset)
                        continue
                    rec = self._decode(raw, 0, rtype, misc, len(raw), file_offset)
                    if rec is not None:
                        append(rec)
                if out:
                    yield out

    def _chunk_end_ok(self, buf: bytes, n: int, off: int, pos: int, end: int) -> bool:
        """After a chunk that stopped at ``off`` short of the data's end: may reading go on at ``pos``?"""
        if off + 8 <= n and HEADER.unpack_from(buf, off)[2] < 8:
            self._warn_once("size", f"{self.path}: record of size {HEADER.unpack_from(buf, off)[2]} at offset "
                                    f"{pos:#x}: the rest of the data section is unreadable")
            self.stats.nr_corrupt += 1
            return False
        if n < CHUNK_SIZE or off == 0:  # the file ends inside this record
            self._cut_short(pos, end)
            return False
        return True

    def _record_time(self, buf, off: int, size: int, rtype: int) -> Optional[int]:
        try:
            return self._sample_id(buf, off, size, rtype)[1]
        except CorruptRecord:
            return None  # delivered at once; decoding it will say what is wrong

    def _time_pos_of(self, buf, off: int, size: int) -> Optional[int]:
        """The TIME offset (from the record start) of a sample whose attr is known only by its id."""
        evsel = self._sample_evsel(buf, off, size)
        return None if evsel is None else _sample_time_pos(self.attrs[evsel].attr.sample_type)

    def _cut_short(self, pos: int, end: int):
        self.stats.truncated_bytes += end - pos
        self._warn_once("truncated-record", f"{self.path}: the last record (at offset {pos:#x}) is cut short: "
                                            f"ignored {end - pos} bytes")

    def _decode(self, buf, off: int, rtype: int, misc: int, size: int, file_offset: int):
        try:
            if rtype == RecordType.SAMPLE:
                return self._decode_sample(buf, off, misc, size, file_offset)
            decoder = DECODERS.get(rtype)
            if decoder is None:
                self.stats.nr_skipped += 1
                self._skip(rtype, file_offset)
                return None
            body_end, time = self._sample_id(buf, off, size, rtype)
            rec = decoder(buf, off + 8, body_end, misc, time)
        except CorruptRecord as exc:
            return self._corrupt(exc, rtype, file_offset)
        if rtype == RecordType.ID_INDEX:
            self._learn_ids(rec)
        return rec

    def _learn_ids(self, rec) -> None:
        """ID_INDEX (perf_event__process_id_index): ids the attr sections lack still name their event."""
        for entry in rec.entries:
            if entry.idx < len(self.attrs):
                self._id_to_evsel.setdefault(entry.id, entry.idx)

    def _corrupt(self, exc: CorruptRecord, rtype: int, file_offset: int) -> None:
        self.stats.nr_corrupt += 1
        self._warn_once(("corrupt", rtype), f"{self.path}: skipping a corrupt record at offset "
                                            f"{file_offset:#x}: {exc}")

    def _decode_sample(self, buf, off: int, misc: int, size: int, file_offset: int):
        evsel = self._sample_evsel(buf, off, size)
        if evsel is None:
            self.stats.nr_unknown_id += 1
            return None
        return self._decoders[evsel].decode(buf, off + 8, off + size, misc, file_offset)

    def _sample_evsel(self, buf, off: int, size: int) -> Optional[int]:
        """perf's evlist__id2evsel: one event, or id 0, means the first; otherwise look the id up."""
        if len(self.attrs) == 1:
            return 0
        id_pos = self._id_pos
        if id_pos is None or off + 8 + id_pos + 8 > off + size:
            return 0
        sample_id = struct.unpack_from("<Q", buf, off + 8 + id_pos)[0]
        return self._id_to_evsel.get(sample_id) if sample_id else 0

    def _common_time_pos(self) -> Optional[int]:
        """The samples' TIME offset when every attr puts it at the same place, else None (per record)."""
        positions = {_sample_time_pos(a.attr.sample_type) for a in self.attrs}
        return positions.pop() if len(positions) == 1 else None

    def _trailer_time_pos(self) -> Tuple[int, Optional[int]]:
        """(sample_id trailer size, offset of its TIME in it) for non-sample records; TIME None without
        sample_id_all or TIME (those records are delivered at once, as perf does). (0, -1) when the
        events' trailers differ: each record's own IDENTIFIER then says which attr it follows."""
        if len({a.attr.sample_type for a in self.attrs}) > 1:
            return 0, -1
        attr = self.attrs[0].attr
        if not attr.flags & AttrFlag.SAMPLE_ID_ALL or not attr.sample_type & SampleType.TIME:
            return 0, None
        return _trailer(attr.sample_type).size, 8 if attr.sample_type & SampleType.TID else 0

    def _trailer_attr(self, buf, off: int, size: int) -> EventAttr:
        """The attr whose sample_id layout a non-sample record carries (``evlist__event2evsel``): the
        first event's, unless the events differ, when the trailer ends with IDENTIFIER."""
        if self._trailer_time[1] != -1 or size < 16:
            return self.attrs[0].attr
        evsel = self._id_to_evsel.get(struct.unpack_from("<Q", buf, off + size - 8)[0], 0)
        return self.attrs[evsel].attr

    def _sample_id(self, buf, off: int, size: int, rtype: int) -> Tuple[int, Optional[int]]:
        """The body end (trailer excluded) and the trailer's time, for a non-sample record."""
        attr = self._trailer_attr(buf, off, size)
        if rtype >= USER_RECORD_TYPES_START or not attr.flags & AttrFlag.SAMPLE_ID_ALL:
            return off + size, None
        trailer = _trailer(attr.sample_type)
        if trailer.size > size - 8:
            raise CorruptRecord(f"record of {size} bytes cannot hold its {trailer.size}-byte sample_id")
        if not attr.sample_type & SampleType.TIME:
            return off + size - trailer.size, None
        time_at = 8 if attr.sample_type & SampleType.TID else 0
        time = struct.unpack_from("<Q", buf, off + size - trailer.size + time_at)[0]
        return off + size - trailer.size, time

    def _skip(self, rtype: int, file_offset: int) -> None:
        if rtype in IGNORED:
            return
        self.stats.nr_unknown_type += 1
        known = RecordType(rtype).name if rtype in RecordType._value2member_map_ else f"type {rtype}"
        why = "not supported (pipe mode or perf record -z)" if rtype in RecordType._value2member_map_ \
            else "unknown record type"
        self._warn_once(("type", rtype), f"{self.path}: skipping {known} records ({why}), first at offset "
                                         f"{file_offset:#x}")

    def _warn_once(self, kind, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message)

    @property
    def out_of_order(self) -> int:
        """Records older than what was already delivered, in the last ``records()`` (perf's
        nr_unordered_events)."""
        queue = getattr(self, "_queue", None)
        return queue.out_of_order if queue else 0

    def warn_summary(self) -> None:
        """perf's end-of-session warnings for what ``records()`` skipped (session.c
        ``perf_session__warn_about_errors``)."""
        if self.stats.nr_unknown_id:
            log.warning(f"{self.stats.nr_unknown_id} samples with id not present in the header")


_TRAILERS: Dict[int, struct.Struct] = {}


def _trailer(sample_type: int) -> struct.Struct:
    st = _TRAILERS.get(sample_type)
    if st is None:
        st = _TRAILERS[sample_type] = sample_id_struct(sample_type)
    return st


GC_THRESHOLD0 = 50000


def _fewer_collections(batches: Iterator[List]) -> Iterator[List]:
    """Iterate with a larger generation-0 collector threshold (restored when the iteration ends or is
    dropped): a queued round holds tens of thousands of young tuples without cycles, and the default
    threshold (700) makes the collector scan them again and again (20% of the time on 360K samples,
    bench/read_only)."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_THRESHOLD0), *old[1:])
    try:
        yield from batches
    finally:
        gc.set_threshold(*old)


def _sample_time_pos(sample_type: int) -> Optional[int]:
    """Offset of TIME from the start of a SAMPLE record (header included), None without TIME."""
    if not sample_type & SampleType.TIME:
        return None
    return 8 + 8 * sum(bool(sample_type & b) for b in (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID))


def _id_pos(sample_type: int) -> Optional[int]:
    """Byte offset of the id in a SAMPLE body (evsel.c ``__perf_evsel__calc_id_pos``); None without one."""
    if sample_type & SampleType.IDENTIFIER:
        return 0
    if not sample_type & SampleType.ID:
        return None
    return 8 * sum(bool(sample_type & b) for b in (SampleType.IP, SampleType.TID, SampleType.TIME,
                                                    SampleType.ADDR))


def _check_sample_types(attrs: List[EventAttr], path: str) -> None:
    """perf refuses events whose samples cannot be told apart (evlist.c ``evlist__valid_sample_type``):
    with several events each must carry ID or IDENTIFIER, at the same place."""
    if len(attrs) < 2:
        return
    first = attrs[0].sample_type
    if any(not a.sample_type & (SampleType.ID | SampleType.IDENTIFIER) for a in attrs):
        raise _incompatible(f"{path}: several events but samples without PERF_SAMPLE_ID")
    if not first & SampleType.IDENTIFIER and any(a.sample_type != first for a in attrs):
        raise _incompatible(f"{path}: non matching sample_type")


def _feature_name(feature: int) -> str:
    try:
        return feat.Feature(feature).name
    except ValueError:
        return f"feature {feature}"
