"""The data section of a perf.data file as a stream of records, in chunks, in perf's time order.

``RecordStream(data_file).batches(ordered)`` reads the data section CHUNK_SIZE bytes at a time (more than
any record), so memory does not depend on the file's size:

* in file order (``ordered=False``) each record is decoded straight from the chunk: samples of a
  one-event file go to that event's compiled decoder (``perfdata.sample``), the others to
  ``perfdata.records``;
* in time order, the scan reads only each record's timestamp (perf's ``evlist__parse_sample_timestamp``:
  the sample's TIME, or the sample_id trailer's) and queues ``(time, type, misc, record bytes, offset)``
  entries in ``perfdata.ordered``; records are decoded when delivered, DECODE_BATCH at a time, so memory
  holds about two rounds of raw records (bench/read_only: 37 MiB peak RSS for 360K samples with call
  chains, 1.07x that of a file with a third of them);
* ``keyed_batches()`` (what report uses) delivers the same order, but samples as keys
  (``perfdata.sample_keys``): a scan (in C when it was built, else a generated loop) walks the chunk as
  u64 words and cuts each sample into its timestamp and key, anything else goes through the careful
  per-record path (``_keyed_record``), and the queue orders whole lists; runs of delivered keys come out
  as lists for the session to count.

Sizes are checked before anything is allocated. Damage is a warning, once per kind, through the ``pyperf``
logger, and the stream goes on: unknown record types are skipped; a corrupt record is skipped; a sample
whose id no event has is counted (``warn_summary``); a record size below 8 ends the stream; a file cut
short (a ``perf record`` killed mid-write) is read up to its last whole record.
"""
from __future__ import annotations

import gc
import mmap
import os
import stat
import struct
from itertools import chain

from pyperf_probe import lazylog as log
from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata import INCOMPATIBLE, incompatible  # noqa: F401 (INCOMPATIBLE: API)
from pyperf_probe.perfdata.format import U64, AttrFlag, EventAttr, RecordType, SampleType, sample_id_struct
from pyperf_probe.perfdata.ordered import NO_TIME, OrderedQueue
from pyperf_probe.perfdata.records import DECODERS, IGNORED, USER_RECORD_TYPES_START, side_record, side_spec
from pyperf_probe.perfdata.sample import BRANCH_HW_INDEX, CorruptRecord, Sample, SampleDecoder
from pyperf_probe.perfdata.sample_keys import KeyLayout
from pyperf_probe.perfdata.speedups import speedups

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterator

_TimeQueue = getattr(speedups, "TimeQueue", None)  # (C: ordered.OrderedQueue's list interface, fed by the scan)
HEADER = struct.Struct("<IHH")
DECODE_BATCH = 1024
VIEWED_SAMPLE_SIZE = 1024  # samples this large are queued as views of their chunk (_view_samples)
CHUNK_SIZE = 1 << 20  # > the largest record (perf_event_header.size is a u16)
# A mapped chunk's pages are mapped at once (MAP_POPULATE: one call maps the page cache's pages where the scan's
# first touch of each 16-page stretch faulted), and a file of DWARF samples (user stacks: the keyed scan reads
# their first bytes only) is mapped 16 MB at a time, 16x fewer mmap/munmap calls (its RSS is then that of the 16
# MB mapped, where perf maps the file: dwarf.data 217 MiB). dwarf.data (213 MB) -g none --no-children: 5254 ->
# 1786 page faults, 65 -> 55 ms. Other files keep CHUNK_SIZE: their scan reads every byte, and a bigger chunk
# is only more memory.
MAP_CHUNK_SIZE = 1 << 24
_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
FINISHED_ROUND = RecordType.FINISHED_ROUND


class ReadStats:
    """What ``records()`` met besides good records (perf's ``struct events_stats`` where it has one):
    ``nr_records`` every whole record read, decoded or not (perf's nr_events[0]); ``nr_skipped`` records
    of types read past without decoding; ``nr_unknown_id`` samples whose id no attr has;
    ``nr_unknown_type`` records of types not read; ``nr_corrupt`` records whose fields did not fit;
    ``truncated_bytes`` the bytes of a data section cut short."""

    __slots__ = ("nr_records", "nr_skipped", "nr_unknown_id", "nr_unknown_type", "nr_corrupt", "truncated_bytes")

    def __init__(self, nr_records: int = 0, nr_skipped: int = 0, nr_unknown_id: int = 0, nr_unknown_type: int = 0,
                 nr_corrupt: int = 0, truncated_bytes: int = 0):
        self.nr_records, self.nr_skipped, self.nr_unknown_id = nr_records, nr_skipped, nr_unknown_id
        self.nr_unknown_type, self.nr_corrupt, self.truncated_bytes = nr_unknown_type, nr_corrupt, truncated_bytes

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        return type(other) is type(self) and self._values() == other._values()

    __hash__ = None  # mutable, as the dataclass it was

    def __repr__(self) -> str:
        return f"ReadStats({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"


class RecordStream:
    """The records of one open ``PerfDataFile`` (its file object, header, attrs, stats and warnings)."""

    def __init__(self, data):
        self.path = data.path
        self._file = data._file
        self.file_size = data.file_size
        self._fileno = _regular_fileno(self._file)
        self._mappable = self._fileno is not None
        # Only the keyed path maps its chunks (_keyed: report's and script's keys, which skip most bytes of a
        # DWARF sample): the paths that decode whole samples measured slower mapped than read (script -i
        # dwarf.data 330 -> 350 ms, 3x the page faults). map_all maps theirs too (tests: the same records).
        self.map_all = False
        self.header = data.header
        self.attrs = data.attrs
        self.stats = data.stats
        self._warn_once = data._warn_once
        self._warned = data._warned
        self._queue: OrderedQueue | None = None
        self._decoders = self._compile_decoders()
        self._id_to_evsel = {i: a.index for a in self.attrs for i in a.ids}
        self._id_pos = _id_pos(self.attrs[0].attr.sample_type)
        self._sample_time_pos = self._common_time_pos()
        # --call-graph dwarf samples (several KB each) are queued as views of the chunk, not copies
        # (_entry_chunk): a copy per sample was a fresh page or two, dearer than decoding it. Their
        # decoder copies RAW out of the view (sample.py), so that tracepoint data stays bytes.
        self._view_samples = any(a.attr.sample_type & SampleType.STACK_USER for a in self.attrs)
        self._trailer_time = self._trailer_time_pos()
        # events with different trailers: a known IDENTIFIER -> (trailer size, TIME's offset in it or None)
        self._id_trailers: dict[int, tuple[int, int | None]] = {}
        # The key layout of the events that sample: a dummy event (perf record -a adds one, with its own
        # sample_type, for the side-band records) never does.
        sampling = [a.attr for a in self.attrs if not _never_samples(a.attr)]
        types = {attr.sample_type for attr in sampling}
        self._keyed_type = types.pop() if len(types) == 1 else None  # the one sample_type of sampling events
        # what a walking layout needs to know of those events: all the same, or no walking layout
        walks = {(bin(attr.sample_regs_user).count("1"), bin(attr.sample_regs_intr).count("1"),
                  bool(attr.branch_sample_type & BRANCH_HW_INDEX)) for attr in sampling}
        self._walk = walks.pop() if len(walks) == 1 else None
        self.key_layout: KeyLayout | None = KeyLayout.of(self._keyed_type) if self._keyed_type is not None else None
        self._keyed_layout = self.key_layout  # the layout of the keys being delivered (timed or not)
        self._key_decoders: list | None = None

    def _compile_decoders(self) -> list[SampleDecoder]:
        try:
            return [SampleDecoder(a.attr, a.index) for a in self.attrs]
        except PerfDataError as exc:
            raise incompatible(f"{self.path}: {exc}") from None

    def batches(self, ordered: bool = True) -> Iterator[list]:
        """The records as lists, time-ordered as perf delivers them, or in file order."""
        if not ordered:
            return _fewer_collections(self._file_batches())
        self._queue = OrderedQueue()
        return _fewer_collections(self._decode_batches(self._ordered_batches(self._queue)))

    @property
    def out_of_order(self) -> int:
        return self._queue.out_of_order if self._queue is not None else 0

    def _data_end(self, quiet: bool = False) -> int:
        h = self.header
        end = h.data.offset + h.data.size if h.data.size else self.file_size
        if end > self.file_size and quiet:  # a second pass: counted and warned already
            return self.file_size
        if end > self.file_size:
            self.stats.truncated_bytes = end - self.file_size
            self._warn_once("truncated", f"{self.path}: the data section ends {end - self.file_size} bytes "
                                         "past the end of the file (cut short?): reading up to the last "
                                         "whole record")
            end = self.file_size
        return end

    def _chunked(self, end: int, read_chunk, quiet: bool = False, mapped: bool = False) -> Iterator:
        """The one read loop of the data section (up to ``end``): ``read_chunk(buf, pos, start) -> (result,
        used)`` on each chunk (CHUNK_SIZE bytes at most, more than any record, at file offset ``pos``: the
        bytes ``buf[start:]``), and ``result`` yielded; the next chunk starts at the first record the last one
        did not hold whole (``pos + used``), unless ``_chunk_end_ok`` says the data stops there (``quiet``: a
        second pass). With ``mapped`` (and ``map_all``) a chunk is the file's pages mapped (``_map_chunk``),
        else the bytes read."""
        pos = self.header.data.offset
        while pos < end:
            got = None
            if self._mappable and (mapped or self.map_all):
                size = MAP_CHUNK_SIZE if self._view_samples else CHUNK_SIZE
                got = self._map_chunk(pos, min(size, end - pos))
            if got is None:
                size = CHUNK_SIZE
                self._file.seek(pos)
                buf, start = self._file.read(min(size, end - pos)), 0
            else:
                buf, start = got
            result, used = read_chunk(buf, pos, start)
            yield result
            pos += used
            if pos >= end or not self._chunk_end_ok(buf, start, used, pos, end, quiet, size):
                return

    def _map_chunk(self, pos: int, want: int) -> tuple | None:
        """The ``want`` bytes at file offset ``pos`` as ``(mmap, start)``: the pages from the one holding
        ``pos`` mapped read-only, the chunk at ``start`` in them (perf's reader maps its data section too).
        No copy is made, and a chunk's pages go when nothing uses the mapping any more (its records'
        views), so memory stays that of a chunk. None (then the chunk is read) for an offset that is not a
        multiple of 8 (the scans walk u64 words from the chunk's start) or a file that cannot be mapped."""
        if pos & 7:
            return None
        start = pos % mmap.ALLOCATIONGRANULARITY
        try:
            return mmap.mmap(self._fileno, start + want, flags=_MAP_FLAGS, prot=mmap.PROT_READ, offset=pos - start), start
        except (OSError, ValueError, OverflowError):
            self._mappable = False
            return None

    def _file_batches(self) -> Iterator[list]:
        """Decode records chunk by chunk, in file order: one list of records per chunk."""
        yield from self._chunked(self._data_end(), self._decoded_chunk)

    def _decoded_chunk(self, buf: bytes, pos: int, start: int = 0) -> tuple[list, int]:
        """The records of one chunk (``buf[start:]``, at file offset ``pos``), decoded, and how many bytes
        its whole records take. The hot loop: samples of a one-event file go straight to its compiled
        decoder."""
        unpack_header = HEADER.unpack_from
        decode_one = self._decoders[0].decode if len(self._decoders) == 1 else None
        n, off = len(buf), start
        pos -= start  # the file offset of buf[0]
        out: list = []
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
        self.stats.nr_records += count
        return out, off - start

    def _entry_batches(self, quiet: bool = False) -> Iterator[list]:
        """The ordered path's scan, in file order: per chunk, one entry ``(time, type, misc, record bytes,
        file_offset)`` per record the reader decodes (``ordered.OrderedQueue``'s entries). Only the
        timestamp is read here (perf's ``evlist__parse_sample_timestamp``); records are decoded once
        delivered (``_decode_batches``). ``quiet``: a second pass (stats and warnings left alone)."""
        stats = ReadStats() if quiet else self.stats
        yield from self._chunked(self._data_end(quiet),
                                 lambda buf, pos, start: self._entry_chunk(buf, pos, stats, quiet, start), quiet)

    def _entry_chunk(self, buf: bytes, pos: int, stats: ReadStats, quiet: bool, start: int = 0) -> tuple[list, int]:
        """The entries of one chunk (``_entry_batches``; ``buf[start:]``, at file offset ``pos``) and how
        many bytes its whole records take."""
        unpack_header = HEADER.unpack_from
        u64 = U64.unpack_from
        sample_time_pos = self._sample_time_pos
        n, off = len(buf), start
        pos -= start  # the file offset of buf[0]
        out: list = []
        append = out.append
        count = 0
        view = memoryview(buf) if self._view_samples and not quiet else None
        while off + 8 <= n:
            rtype, misc, size = unpack_header(buf, off)
            if size < 8 or off + size > n:
                break
            count += 1
            if rtype == 9:
                tp = sample_time_pos if sample_time_pos is not None else self._time_pos_of(buf, off, size)
                time = u64(buf, off + tp)[0] if tp is not None and tp + 8 <= size else None
                if view is not None and size >= VIEWED_SAMPLE_SIZE:
                    append((time, rtype, misc, view[off:off + size], pos + off))
                    off += size
                    continue
            elif rtype in DECODERS:
                time = self._entry_time(buf, off, size, rtype)
            else:
                off += self._skip_record(buf, off, size, rtype, pos, stats, quiet)
                continue
            append((time, rtype, misc, buf[off:off + size], pos + off))
            off += size
        stats.nr_records += count
        return out, off - start

    def _ordered_batches(self, queue: OrderedQueue) -> Iterator[list]:
        """The ordered path: what ``queue`` delivers, chunk by chunk, then at the end (entries, and the
        records the scan decoded). The same as reordering ``_entry_batches``' entries (``reorder_batches``),
        without a Python step per record: ``_ordered_chunk`` queues each chunk as two lists."""
        trailer_size, time_at = self._trailer_time
        side = side_spec(trailer_size, time_at) if time_at is not None and time_at >= 0 else None
        time_word = (self._sample_time_pos or 0) >> 3
        view_min = VIEWED_SAMPLE_SIZE if self._view_samples else 0
        for out in self._chunked(self._data_end(),
                                 lambda buf, pos, start: self._ordered_chunk(buf, pos, queue, time_word, view_min,
                                                                             side, start)):
            if out:
                yield out
        out: list = []
        queue.finish(out)
        yield out

    def _ordered_chunk(self, buf: bytes, pos: int, queue: OrderedQueue, time_word: int, view_min: int,
                       side: tuple | None, start: int = 0) -> tuple[list, int]:
        """Queue the records of one chunk: runs of samples (and with ``side``, of the records it decodes) by
        ``_entry_scan``, any other record one at a time as ``_entry_chunk`` makes its entry, a
        FINISHED_ROUND by flushing, a record without a time delivered at once (``reorder_batches``'s
        rules); return what the queue delivered meanwhile and how many bytes the chunk's whole records take
        (the chunk: ``buf[start:]``, at file offset ``pos``; ``start`` a multiple of 8)."""
        unpack_header = HEADER.unpack_from
        scan = _entry_scan
        n = len(buf)
        nw = n >> 3
        out: list = []
        times: list = []
        items: list = []
        off, count = start, 0
        pos -= start  # the file offset of buf[0]
        view = memoryview(buf) if view_min else None
        while True:
            if not off & 7:
                before = len(items)
                off = scan(buf, view, off >> 3, nw, pos, time_word, view_min, side, times, items) << 3
                count += len(items) - before
            if off + 8 > n:
                break
            rtype, misc, size = unpack_header(buf, off)
            if size < 8 or off + size > n:
                break
            count += 1
            if rtype == 9:
                tp = self._sample_time_pos
                if tp is None:
                    tp = self._time_pos_of(buf, off, size)
                time = U64.unpack_from(buf, off + tp)[0] if tp is not None and tp + 8 <= size else None
                raw = view[off:off + size] if view is not None and size >= view_min else buf[off:off + size]
            elif rtype == FINISHED_ROUND:
                queue.push(times, items, out)
                del times[:], items[:]
                queue.finish_round(out)
                off += size
                continue
            elif rtype in DECODERS:
                time = self._entry_time(buf, off, size, rtype)
                raw = buf[off:off + size]
            else:
                off += self._skip_record(buf, off, size, rtype, pos, self.stats)
                continue
            entry = (time, rtype, misc, raw, pos + off)
            if time and time != NO_TIME:
                times.append(time)
                items.append(entry)
            else:  # delivered at once, after what was queued before it
                queue.push(times, items, out)
                del times[:], items[:]
                out.append(entry)
            off += size
        self.stats.nr_records += count
        queue.push(times, items, out)
        return out, off - start

    def _entry_time(self, buf, off: int, size: int, rtype: int) -> int | None:
        """The timestamp of a non-sample record: its sample_id trailer's TIME, or None."""
        trailer_size, trailer_time = self._trailer_time
        if rtype >= USER_RECORD_TYPES_START or trailer_time is None:
            return None
        if trailer_time == -1:  # events with different trailers
            got = self._id_trailer(buf, off, size)
            if got is None or got[1] is None or got[0] > size - 8:
                return self._record_time(buf, off, size, rtype)
            return U64.unpack_from(buf, off + size - got[0] + got[1])[0]
        if size - 8 >= trailer_size:
            return U64.unpack_from(buf, off + size - trailer_size + trailer_time)[0]
        return None

    def _skip_record(self, buf, off: int, size: int, rtype: int, pos: int, stats: ReadStats,
                     quiet: bool = False) -> int:
        """A record the reader does not decode: counted (and said once), its size returned."""
        stats.nr_skipped += 1
        if not quiet:
            self._skip(rtype, pos + off)
        if rtype == RecordType.AUXTRACE and size >= 16:  # its payload follows the record
            size += struct.unpack_from("<Q", buf, off + 8)[0]
        return size

    def _decode_batches(self, batches: Iterator[list]) -> Iterator[list]:
        """Delivered entries -> records (the samples of a one-event file straight to its decoder), at most
        DECODE_BATCH at a time: a flushed round stays in its compact queued form until it is consumed.
        With the decoder's C loop (``SampleDecoder.decode_run``), the runs of samples and of records the
        scan decoded go through it, the rest (and what it does not take) one by one."""
        decoder = self._decoders[0] if len(self._decoders) == 1 else None
        decode_one = decoder.decode if decoder is not None else None
        decode_run = decoder.decode_run if decoder is not None else None
        for batch in batches:
            for start in range(0, len(batch), DECODE_BATCH):
                entries = batch[start:start + DECODE_BATCH]
                out: list = []
                append = out.append
                i, n = 0, len(entries)
                while i < n:
                    if decode_run is not None:
                        i = decode_run(entries, i, out)
                        if i >= n:
                            break
                    entry = entries[i]
                    i += 1
                    if type(entry) is not tuple:  # a record the scan decoded
                        append(entry)
                        continue
                    _time, rtype, misc, raw, file_offset = entry
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

    # --- samples as keys (perfdata.sample_keys) --------------------------------------------------------

    def keyed_layout(self, timed: bool = False, walk: bool = False, raw: bool = True,
                     chain: bool = False) -> KeyLayout | None:
        """The layout ``keyed_batches(timed, walk, raw, chain)`` would key the samples with, or None."""
        walk = walk or not raw or chain
        if self._keyed_type is None or (walk and self._walk is None):
            return None
        return KeyLayout.of(self._keyed_type, timed=timed, walk=self._walk if walk else None, raw=raw, chain=chain)

    def keyed_batches(self, timed: bool = False, walk: bool = False, raw: bool = True,
                      chain: bool = False) -> Iterator:
        """The records in perf's delivery order, with the samples as keys (``keyed_layout(timed, walk)``
        must not be None): yields lists of sample keys (bytes, in delivery order) and, between them, every
        other record decoded. ``decode_key`` turns a key into a ``Sample``. ``timed``: the keys keep CPU and
        each sample comes as the pair ``(key, time)`` (``KeyLayout.of(..., timed=True)``: script's walk);
        ``walk``: the keys hold the fixed fields and RAW alone (a walking ``KeyLayout``: script without
        call chains); ``raw=False``: a walking layout whose keys leave RAW out too; ``chain=True``: a walking
        layout whose keys keep the call chain."""
        layout = self.keyed_layout(timed, walk, raw, chain)
        if layout != self._keyed_layout:
            self._keyed_layout, self._key_decoders = layout, None
        self._entries_out = 0  # entries (records other than keys) made and not yet delivered
        trailer_size, time_at = self._trailer_time
        # with one trailer for every event, the scan decodes the MMAP, MMAP2, COMM, FORK and EXIT records too
        # (records.side_record): they are queued decoded, among the keys
        self._side = side_spec(trailer_size, time_at) if time_at is not None and time_at >= 0 else None
        scan = layout.scanner(self._side)
        # The C scan queues each record itself into the C queue (_TimeQueue: no times list, no Python step a
        # round); else the scan's lists go to ordered.OrderedQueue, its Python twin
        fused = _TimeQueue is not None and hasattr(scan, "queue_scan")
        self._queue = _TimeQueue() if fused else OrderedQueue()
        return self._keyed(layout, scan, self._queue)

    def _keyed(self, layout: KeyLayout, scan, queue: OrderedQueue) -> Iterator:
        """``keyed_batches``' iterator: each chunk's delivered items as ``_segments`` cuts them, chained by
        ``itertools.chain`` (C), so an item costs the consumer's loop no generator step of ours (sys.data:
        24K items)."""
        return chain.from_iterable(chain(map(self._segments, self._keyed_chunks(layout, scan, queue)),
                                         self._keyed_tail(queue)))

    def _keyed_chunks(self, layout: KeyLayout, scan, queue: OrderedQueue) -> Iterator:
        """What the queue delivers chunk by chunk (the data section's end found, and warned about, when the
        iteration starts, as before)."""
        yield from self._chunked(self._data_end(),
                                 lambda buf, pos, start: self._keyed_chunk(buf, pos, layout, scan, queue, start),
                                 mapped=True)

    def _keyed_tail(self, queue: OrderedQueue) -> Iterator:
        """What the queue still holds once the chunks are read, cut by ``_segments`` (one item, made when
        the chunks are done)."""
        out: list = []
        queue.finish(out)
        yield self._segments(out)

    def _keyed_chunk(self, buf: bytes, pos: int, layout: KeyLayout, scan, queue: OrderedQueue,
                     start: int = 0) -> tuple[list, int]:
        """Queue the records of one chunk (``buf[start:]``, at file offset ``pos``; ``start`` a multiple of
        8) (samples as keys, by ``scan``; any other record, or a sample ``scan`` stops at, one at a time by
        ``_keyed_record``); return what the queue delivered meanwhile and how many bytes the chunk's whole
        records take."""
        out: list = []
        n = len(buf)
        nw = n >> 3
        times: list = []
        items: list = []
        off, count = start, 0
        pos -= start  # the file offset of buf[0]
        if type(queue) is not OrderedQueue:  # (the C scan into the C queue)
            queue_scan = scan.queue_scan
            while True:
                if not off & 7:
                    i, taken = queue_scan(buf, off >> 3, nw, queue, out)
                    off, count = i << 3, count + taken
                if off + 8 > n:
                    break
                size = self._keyed_record(buf, off, pos, layout, times, items, queue, out)
                if not size:
                    break
                if times:  # (queued now, before the records the scan takes next)
                    queue.push(times, items, out)
                    del times[:], items[:]
                count += 1
                off += size
            self.stats.nr_records += count
            return out, off - start
        with memoryview(buf) as view, view[:nw << 3].cast("Q") as words:
            while True:
                if not off & 7:
                    before = len(items)
                    off = scan(buf, words, off >> 3, nw, times, items) << 3
                    count += len(items) - before
                if off + 8 > n:
                    break
                size = self._keyed_record(buf, off, pos, layout, times, items, queue, out)
                if not size:
                    break
                count += 1
                off += size
        self.stats.nr_records += count
        queue.push(times, items, out)
        return out, off - start

    def _keyed_record(self, buf: bytes, off: int, pos: int, layout: KeyLayout, times: list, items: list,
                      queue: OrderedQueue, out: list) -> int:
        """One record at ``off`` (the careful path): queued as a key, or as an entry ``(time, type, misc,
        record bytes, file_offset)`` decoded when delivered; its size, 0 if it is not whole in ``buf``."""
        rtype, misc, size = HEADER.unpack_from(buf, off)
        if size < 8 or off + size > len(buf):
            return 0
        key = layout.key_of(buf[off:off + size]) if rtype == 9 and size >= layout.fixed_end else None
        if key is not None:
            time = U64.unpack_from(buf, off + 8 * layout.time_word)[0]
            times.append(time)
            items.append((key, time) if layout.timed else key)
            return size
        if rtype == 9:  # too short for its fields (or a walked field overruns it): decoding it says so
            tp = 8 * layout.time_word
            time = U64.unpack_from(buf, off + tp)[0] if tp + 8 <= size else None
        elif rtype == FINISHED_ROUND:
            queue.push(times, items, out)
            del times[:], items[:]
            queue.finish_round(out)
            return size
        elif rtype in DECODERS:
            time = self._entry_time(buf, off, size, rtype)
        else:
            return self._skip_record(buf, off, size, rtype, pos, self.stats)
        entry = (time, rtype, misc, buf[off:off + size], pos + off)
        self._entries_out += 1
        if time and time != NO_TIME:
            times.append(time)
            items.append(entry)
        else:  # delivered at once, after what was queued before it
            queue.push(times, items, out)
            del times[:], items[:]
            out.append(entry)
        return size

    def _segments(self, out: list):
        """Delivered items -> runs of sample keys (lists) and the other records, decoded. Most flushes
        deliver keys only: when no entry is on its way (``_entries_out``) and the scan decodes no records
        (``_side``), ``out`` is not searched. Keys are bytes, a timed layout's the pairs (key, time); the
        rest are entries (5-tuples, decoded here) and the records the scan decoded. A list when ``out``
        holds no entry (nothing to decode: cutting it now or when delivered is the same), else a generator
        that decodes each entry when it is delivered (a record's decoding may warn, or learn ids that
        ``decode_key`` uses: not before the items ahead of it are handled)."""
        if not self._entries_out and self._side is None:
            return [out] if out else []
        if _key_segments is not None:  # (C: the cut below in one call; None: an entry is among them)
            got = _key_segments(out, self._keyed_layout.timed, bool(self._entries_out))
            if got is not None:
                return got
        positions = _nonkey_positions(out, self._keyed_layout.timed)
        if self._entries_out:
            for stop in positions:
                if type(out[stop]) is tuple:
                    return self._decoding_segments(out, positions)
        if not positions:
            return [out] if out else []
        segments: list = []
        append = segments.append
        start = 0
        for stop in positions:
            if stop > start:
                append(out[start:stop])
            append(out[stop])
            start = stop + 1
        if start < len(out):
            append(out[start:])
        return segments

    def _decoding_segments(self, out: list, positions: list) -> Iterator:
        """``_segments`` of items among which are entries, decoded one by one as they are delivered."""
        start, n = 0, len(out)
        for stop in positions:
            if stop > start:
                yield out[start:stop]
            item = out[stop]
            if type(item) is tuple:
                self._entries_out -= 1
                _time, rtype, misc, raw, file_offset = item
                item = self._decode(raw, 0, rtype, misc, len(raw), file_offset)
                if item is not None:
                    yield item
            else:
                yield item
            start = stop + 1
        if start < n:
            yield out[start:] if start else out

    def key_evsel(self, key: bytes) -> int | None:
        """The event of a delivered key, when ``decode_key`` would decode it without a word (its id is an
        event's, and that event samples); None otherwise (``decode_key`` then counts and warns)."""
        evsel = 0
        layout = self._keyed_layout
        if len(self.attrs) > 1 and layout.id_offset is not None:
            sample_id = U64.unpack_from(key, layout.id_offset)[0]
            evsel = self._id_to_evsel.get(sample_id) if sample_id else 0
            if evsel is None:
                return None
        return evsel if self.attrs[evsel].attr.sample_type == layout.sample_type else None

    def decode_key(self, key: bytes, count: int = 1) -> Sample | None:
        """The ``Sample`` (time, cpu and file_offset None) that ``count`` delivered samples share, or None
        when they are dropped: no event has their id, or they are corrupt (counted as perf counts them,
        with the reader's warning for the first)."""
        layout = self._keyed_layout
        if self._key_decoders is None:
            self._key_decoders = [layout.decoder(a.attr, a.index) if a.attr.sample_type == layout.sample_type
                                  else None for a in self.attrs]
        evsel = 0
        if len(self.attrs) > 1 and layout.id_offset is not None:
            sample_id = U64.unpack_from(key, layout.id_offset)[0]
            evsel = self._id_to_evsel.get(sample_id) if sample_id else 0
            if evsel is None:
                self.stats.nr_unknown_id += count
                return None
        decode = self._key_decoders[evsel]
        if decode is None:  # a sample of an event that was not expected to sample (dummy): not readable as a key
            self.stats.nr_unknown_id += count
            self._warn_once(("keyless", evsel), f"{self.path}: skipping samples of event {evsel}, which was "
                                                "not expected to sample")
            return None
        try:
            return decode(key)
        except CorruptRecord:
            self.stats.nr_corrupt += count
            if ("corrupt", 9) not in self._warned:
                self._warn_corrupt_key(key, evsel)
            return None

    def _warn_corrupt_key(self, key: bytes, evsel: int) -> None:
        """The reader's warning for the first corrupt sample delivered, which has this key: its offset
        and the decoder's words come from the record itself, found by a second (quiet) ordered pass."""
        layout = self._keyed_layout
        for batch in OrderedQueue().reorder_batches(self._entry_batches(quiet=True)):
            for _time, rtype, misc, raw, file_offset in batch:
                if rtype == 9 and len(raw) >= layout.fixed_end and layout.key_of(raw) == key:
                    try:
                        self._decoders[evsel].decode(raw, 8, len(raw), misc, file_offset)
                    except CorruptRecord as exc:
                        self._warn_once(("corrupt", 9), f"{self.path}: skipping a corrupt record at offset "
                                                        f"{file_offset:#x}: {exc}")
                    return

    def _chunk_end_ok(self, buf: bytes, start: int, off: int, pos: int, end: int, quiet: bool = False,
                      size: int = CHUNK_SIZE) -> bool:
        """After a chunk (``buf[start:]``, of ``size`` bytes unless the data ended first) whose whole records
        stopped ``off`` bytes into it, short of the data's end: may reading go on at ``pos``?"""
        n = len(buf) - start
        bad_size = off + 8 <= n and HEADER.unpack_from(buf, start + off)[2] < 8
        cut_short = n < size or off == 0  # the file ends inside this record
        if quiet:  # a second pass: warned and counted already
            return not (bad_size or cut_short)
        if bad_size:
            self._warn_once("size", f"{self.path}: record of size {HEADER.unpack_from(buf, start + off)[2]} at offset "
                                    f"{pos:#x}: the rest of the data section is unreadable")
            self.stats.nr_corrupt += 1
            return False
        if cut_short:
            self._cut_short(pos, end)
            return False
        return True

    def _record_time(self, buf, off: int, size: int, rtype: int) -> int | None:
        try:
            return self._sample_id(buf, off, size, rtype)[1]
        except CorruptRecord:
            return None  # delivered at once; decoding it will say what is wrong

    def _time_pos_of(self, buf, off: int, size: int) -> int | None:
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

    def _sample_evsel(self, buf, off: int, size: int) -> int | None:
        """perf's evlist__id2evsel: one event, or id 0, means the first; otherwise look the id up."""
        if len(self.attrs) == 1:
            return 0
        id_pos = self._id_pos
        if id_pos is None or off + 8 + id_pos + 8 > off + size:
            return 0
        sample_id = struct.unpack_from("<Q", buf, off + 8 + id_pos)[0]
        return self._id_to_evsel.get(sample_id) if sample_id else 0

    def _common_time_pos(self) -> int | None:
        """The samples' TIME offset when every attr puts it at the same place, else None (per record)."""
        positions = {_sample_time_pos(a.attr.sample_type) for a in self.attrs}
        return positions.pop() if len(positions) == 1 else None

    def _trailer_time_pos(self) -> tuple[int, int | None]:
        """(sample_id trailer size, offset of its TIME in it) for non-sample records; TIME None without
        sample_id_all or TIME (those records are delivered at once, as perf does). (0, -1) when the
        events' trailers differ: each record's own IDENTIFIER then says which attr it follows. Events whose
        sample_types differ only outside the trailer (``format.sample_id_fields``: a system-wide recording's
        tracepoints and its dummy event, which has no RAW) share one trailer: which of them a record
        follows (perf's ``evlist__event2evsel``) does not change where its TIME is."""
        if len({(a.attr.sample_type & TRAILER_BITS, a.attr.flags & AttrFlag.SAMPLE_ID_ALL)
                for a in self.attrs}) > 1:
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

    def _id_trailer(self, buf, off: int, size: int) -> tuple[int, int | None] | None:
        """Where the events' trailers differ: (trailer size, TIME's offset in it or None) of the event
        whose IDENTIFIER ends this record, when the id is an event's (``_trailer_attr``'s answer, kept per
        id); None otherwise."""
        if size < 16:
            return None
        sample_id = U64.unpack_from(buf, off + size - 8)[0]
        got = self._id_trailers.get(sample_id)
        if got is None:
            evsel = self._id_to_evsel.get(sample_id)
            if evsel is None:  # (an id ID_INDEX may name later: not kept)
                return None
            attr = self.attrs[evsel].attr
            has_time = attr.flags & AttrFlag.SAMPLE_ID_ALL and attr.sample_type & SampleType.TIME
            time_at = (8 if attr.sample_type & SampleType.TID else 0) if has_time else None
            got = self._id_trailers[sample_id] = (_trailer(attr.sample_type).size, time_at)
        return got

    def _sample_id(self, buf, off: int, size: int, rtype: int) -> tuple[int, int | None]:
        """The body end (trailer excluded) and the trailer's time, for a non-sample record."""
        if self._trailer_time[1] == -1 and rtype < USER_RECORD_TYPES_START:
            got = self._id_trailer(buf, off, size)
            if got is not None and got[1] is not None and got[0] <= size - 8:
                return off + size - got[0], U64.unpack_from(buf, off + size - got[0] + got[1])[0]
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
        name = RecordType.name_of(rtype)
        known = name or f"type {rtype}"
        why = "not supported (pipe mode or perf record -z)" if name else "unknown record type"
        self._warn_once(("type", rtype), f"{self.path}: skipping {known} records ({why}), first at offset "
                                         f"{file_offset:#x}")

def _regular_fileno(fileobj) -> int | None:
    """The descriptor of a regular file (whose chunks ``_map_chunk`` may map), else None."""
    try:
        fileno = fileobj.fileno()
        return fileno if stat.S_ISREG(os.fstat(fileno).st_mode) else None
    except (AttributeError, OSError, ValueError):  # (io.UnsupportedOperation is an OSError and a ValueError)
        return None


_TRAILERS: dict[int, struct.Struct] = {}


def _trailer(sample_type: int) -> struct.Struct:
    st = _TRAILERS.get(sample_type)
    if st is None:
        st = _TRAILERS[sample_type] = sample_id_struct(sample_type)
    return st


# The sample_type bits of the sample_id trailer (format.sample_id_fields).
TRAILER_BITS = (SampleType.TID | SampleType.TIME | SampleType.ID | SampleType.STREAM_ID | SampleType.CPU |
                SampleType.IDENTIFIER)
GC_THRESHOLD0 = 50000


def _fewer_collections(batches: Iterator[list]) -> Iterator[list]:
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


def _py_nonkey_positions(items: list, timed: bool) -> list[int]:
    """The indices of ``items`` that are not sample keys (bytes; with ``timed``, (key, time) pairs)."""
    if timed:
        return [i for i, item in enumerate(items) if type(item) is not tuple or len(item) != 2]
    return [i for i, kind in enumerate(map(type, items)) if kind is not bytes]


# _speedups.nonkey_positions (C) when it was built: the same list.
_nonkey_positions = speedups.nonkey_positions if speedups is not None else _py_nonkey_positions
# _speedups.key_segments (C): _segments' cut, when no entry is to be decoded among the items (None: Python's)
_key_segments = getattr(speedups, "key_segments", None)


def _py_entry_scan(buf, view, i: int, nw: int, pos: int, time_word: int, view_min: int, side: tuple | None,
                   times: list, items: list) -> int:
    """The ordered path's scan of a chunk (``buf``, read at file offset ``pos``, ``nw`` its whole u64 words)
    from word ``i``: a sample whose size is a multiple of 8, whole in the chunk, with its TIME at word
    ``time_word`` (0: samples are not taken) neither 0 nor (u64)-1 goes to ``times`` and ``items`` as
    its entry ``(time, 9, misc, record, file_offset)``, the record a slice of ``view`` when ``view`` is
    given and the record is at least ``view_min`` bytes, else bytes; with ``side``, the records
    ``records.side_record`` takes go as (time, record). Stops at anything else; returns its word
    index. _speedups.entry_scan (C) gives the same."""
    while i < nw:
        off = i << 3
        rtype, misc, size = HEADER.unpack_from(buf, off)
        words = size >> 3
        if rtype == 9 and not size & 7:
            if not time_word or words < time_word + 1 or words > nw - i:
                break
            time = U64.unpack_from(buf, off + 8 * time_word)[0]
            if not time or time == NO_TIME:
                break
            raw = view[off:off + size] if view is not None and size >= view_min else buf[off:off + size]
            times.append(time)
            items.append((time, 9, misc, raw, pos + off))
        else:
            if side is None or not words or words > nw - i or size & 7:
                break
            got = side_record(side, buf, off, size)
            if got is None:
                break
            times.append(got[0])
            items.append(got[1])
        i += words
    return i


# _speedups.entry_scan (C) when it was built: the same entries.
_entry_scan = getattr(speedups, "entry_scan", None) or _py_entry_scan


def _sample_time_pos(sample_type: int) -> int | None:
    """Offset of TIME from the start of a SAMPLE record (header included), None without TIME."""
    if not sample_type & SampleType.TIME:
        return None
    return 8 + 8 * sum(bool(sample_type & b) for b in (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID))


def _id_pos(sample_type: int) -> int | None:
    """Byte offset of the id in a SAMPLE body (evsel.c ``__perf_evsel__calc_id_pos``); None without one."""
    if sample_type & SampleType.IDENTIFIER:
        return 0
    if not sample_type & SampleType.ID:
        return None
    return 8 * sum(bool(sample_type & b) for b in (SampleType.IP, SampleType.TID, SampleType.TIME,
                                                    SampleType.ADDR))


PERF_COUNT_SW_DUMMY = 9


def _never_samples(attr) -> bool:
    """A software dummy event (``PERF_COUNT_SW_DUMMY``) counts nothing, so it never overflows into a sample."""
    return attr.type == 1 and attr.config == PERF_COUNT_SW_DUMMY
