"""Writing a perf.data (PERFILE2) file: header, ids, attrs, the data stream, and the feature sections, so
that the file is a valid perf.data at every moment of the recording, and a recording killed by SIGKILL (the
OOM killer, a lost SSH session) leaves a file that perf and pyperf read up to its last flushed round.

Layout (perf 6.1 record's, tools/perf/util/header.c ``perf_session__write_header``, perf-formats.md §1.1,
with the feature bodies known at the start moved before the data)::

    @0      struct perf_file_header (104 bytes)
    @104    the u64 id arrays of every attr, one after the other
    ...     the attr entries: perf_event_attr (attr_size) + perf_file_section ids {offset, size}
    ...     the feature bodies known when the recording starts (TRACING_DATA, EVENT_DESC, CMDLINE, ...)
    ...     data: records, streamed in as they arrive (8-aligned start)
    ...     the feature section table {u64 offset, u64 size} per feature bit (perf reads it at
            data.offset + data.size), then the bodies known only at the end (BUILD_ID, SAMPLE_TIME)

perf finds the table at the end of the data and reads each body wherever its entry points, so the bodies
can sit before the data. That is what lets the file be readable while it grows: perf itself writes its
header at the end, and a killed ``perf record`` leaves "data size field is 0", which perf then refuses.

**How a killed recording stays readable.** A round of the stream (a drain of the ring buffers) may end with
a FINISHED_ROUND record that carries, as its body, a feature table (a *marker*): its own first 16 bytes
stand for the entry of feature bit 0 (perf's HEADER_RESERVED, which perf never reads: no ``feat_ops``
entry), the rest are the entries of the bodies written before the data. While recording, the header's
bitmap is those features plus bit 0, and its data size ends just before the last marker wholly on disk:
the reader finds the table there, and the records before it. When a later marker is on disk, one
``pwrite`` of the header (in the first page: a signal cannot cut it) moves the end past the older one,
which becomes an ordinary FINISHED_ROUND (perf ignores a round's body), and onto the newer. Nothing already
committed is ever rewritten, so at every instant the file reads as the rounds flushed up to a marker. A
round ends with a marker when MARK_BYTES of stream or MARK_SECONDS have passed since the last one (so a
kill loses at most that much of what reached the disk), else with perf's 8-byte FINISHED_ROUND: a
recorder that drains thousands of small rounds a second does not grow the file by a table each.
``finish`` writes the full table and the late bodies after the data, then the final header in one ``pwrite``.
Alternatives considered: a record straddling data.size (perf 6.1 maps the data section exactly and loses or
garbles the queued samples when it remaps), rewriting the table in place after each flush (a kill between
the two writes leaves garbage), ``pyperf report -i .tmp`` of a leftover file (perf could not read it).
There is no fsync: a killed process loses nothing it wrote, a crashed machine may lose what the page cache
held, as with perf.

**The name.** The file is written under its final name from the start, as perf does: an existing non-empty
regular file becomes ``<name>.old`` first (replacing an older ``.old``, perf's ``check_backup``), so a
killed recording is where ``pyperf report`` and ``perf report`` look by default. ``abort()`` (a recording
that failed before it began) removes the new file and moves ``.old`` back.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import stat
import time
from typing import Deque, Dict, List, Mapping, Optional, Sequence, Tuple

from pyperf_probe import lazylog as log
from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata.format import EventAttr, EventHeader, FileHeader, FileSection, RecordType, align

HEADER_SIZE = 104
ATTR_SIZE = 128  # perf 6.1 writes PERF_ATTR_SIZE_VER7 attrs
RESERVED_FEATURE = 0  # perf's HEADER_RESERVED: set while recording, its table entry is a round's header
MARK_BYTES = 256 << 10  # a round ends with a marker (a commit point) after this much stream...
MARK_SECONDS = 0.05  # ...or this long since the last marker
BLOCK = 4 << 20  # data is copied into blocks of this size and written out when the rings are empty
FREE_BLOCKS = 64  # written blocks kept for reuse (256 MB)


@dataclasses.dataclass(frozen=True)
class AttrEntry:
    """One event of the file: its attr and the kernel ids of its fds (one per CPU/thread fd)."""

    attr: EventAttr
    ids: Tuple[int, ...]


class BlockWriter:
    """Appends bytes to an fd through a backlog of 4 MB blocks in memory, so that the recorder can drain
    ring buffers at memory speed and write to the disk when the buffers are empty (``pump``): a page-cache
    write here ran at 0.2-0.4 GB/s and a copy at several GB/s, and dwarf recordings produce over 1 GB/s.

    No thread: a writer thread that holds the GIL between two writes, preempted on a loaded machine, stalls
    the drain for as long as the scheduler keeps it off the CPU (measured: drains 5x slower). Written
    blocks are recycled, so the backlog's memory is reused."""

    def __init__(self, fd: int, offset: int):
        self.fd, self.offset = fd, offset
        self._full: Deque[Tuple[bytearray, int]] = collections.deque()
        self._free: List[bytearray] = []
        self._cur, self._fill = bytearray(BLOCK), 0
        self._head_done = 0  # bytes of _full[0] already written
        self.backlog = 0  # bytes copied but not yet written
        self.observer = None  # called with each piece of the stream as it goes to the disk

    def write(self, chunk) -> None:
        view = memoryview(chunk).cast("B")
        done, size = 0, len(view)
        while done < size:
            n = min(size - done, BLOCK - self._fill)
            self._cur[self._fill:self._fill + n] = view[done:done + n]
            self._fill += n
            done += n
            if self._fill == BLOCK:
                self._full.append((self._cur, self._fill))
                self._cur = self._free.pop() if self._free else bytearray(BLOCK)
                self._fill = 0
        self.backlog += size

    def pump(self, max_bytes: int) -> int:
        """Write up to ``max_bytes`` of the backlog (the partial block too); returns the bytes written."""
        if not self._full and self._fill:
            self._full.append((self._cur, self._fill))
            self._cur = self._free.pop() if self._free else bytearray(BLOCK)
            self._fill = 0
        written = 0
        while self._full and written < max_bytes:
            buf, size = self._full[0]
            n = min(size - self._head_done, max_bytes - written)
            piece = memoryview(buf)[self._head_done:self._head_done + n]
            self._write_all(piece)
            if self.observer is not None:
                self.observer(piece)
            self._head_done += n
            written += n
            if self._head_done == size:
                self._full.popleft()
                self._head_done = 0
                if len(self._free) < FREE_BLOCKS:
                    self._free.append(buf)
        self.backlog -= written
        return written

    def _write_all(self, view) -> None:
        try:
            while len(view):
                n = os.pwrite(self.fd, view, self.offset)
                self.offset += n
                view = view[n:]
        except OSError as exc:
            raise PerfDataError(f"failed to write perf data: {os.strerror(exc.errno or 0)}") from exc

    def flush(self) -> None:
        """Write out the whole backlog."""
        while self.backlog:
            self.pump(self.backlog)



FINISHED_ROUND = EventHeader(RecordType.FINISHED_ROUND, 0, 8).pack()


def round_marker(entries: bytes) -> bytes:
    """A FINISHED_ROUND whose bytes are a feature table: its header and 8 zero bytes make the entry of
    RESERVED_FEATURE, ``entries`` (16 bytes per feature) the others'. Its size fits the u16 header size:
    at most 1 + 31 known feature bits, 512 bytes."""
    return EventHeader(RecordType.FINISHED_ROUND, 0, 16 + len(entries)).pack() + bytes(8) + entries


def _backup(path: str) -> Optional[str]:
    """perf's ``check_backup``: a non-empty regular file at ``path`` becomes ``path.old`` (an older
    ``.old`` is replaced); returns the backup's name, None when nothing was moved."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or not st.st_size:
        return None
    old = path + ".old"
    try:
        os.replace(path, old)
    except OSError as exc:
        raise PerfDataError(f"Can't move data: {os.strerror(exc.errno)} ({path} to {old})") from exc
    return old


class PerfDataWriter:
    """Streams one perf.data under its final name. Use: ``w = PerfDataWriter(path)`` (moves an existing file
    to ``.old``, opens the new one: an unwritable path fails here), ``w.begin(entries, features)`` with the
    feature bodies known at the start, then ``w.write(bytes_or_memoryview)``... and ``w.end_round()`` after
    each drain of the buffers, ``w.pump(n)``/``w.flush()`` to move them to the disk (the rounds wholly on disk
    become readable), and ``w.finish(features)`` with the bodies known at the end. ``w.abort()`` undoes a
    recording that never began (the new file goes, ``.old`` comes back); ``w.close()`` leaves the file as
    last flushed (a recording stopped by an error keeps what it flushed, as a killed one does)."""

    def __init__(self, path: str, mark_bytes: int = MARK_BYTES, mark_seconds: float = MARK_SECONDS):
        self.path = path
        self._mark_bytes, self._mark_seconds = mark_bytes, mark_seconds
        self._last_mark, self._last_mark_time = -mark_bytes, float("-inf")
        self.backup = _backup(path)
        self._existed = os.path.lexists(path)  # an empty file or a device: abort() leaves it there
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            self._restore()
            raise PerfDataError(f"failed to open {path} : {os.strerror(exc.errno)}\n"
                                "Perf session creation failed.") from exc
        self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
        self._data: Optional[BlockWriter] = None
        self.attrs_offset = self.data_offset = HEADER_SIZE
        self.data_size = 0
        self.committed = 0  # the data size the header on disk gives (0: nothing readable yet)
        self._entries: Tuple[AttrEntry, ...] = ()
        self._early: Dict[int, FileSection] = {}  # feature bodies written by begin(), before the data
        self._marker = round_marker(b"")
        self._marks: Deque[int] = collections.deque()  # file offsets of round markers not committed yet

    def _pwrite(self, blob: bytes, offset: int) -> None:
        try:
            view = memoryview(blob)
            while len(view):
                n = os.pwrite(self._fd, view, offset)
                offset += n
                view = view[n:]
        except OSError as exc:
            raise PerfDataError(f"failed to write {self.path}: {os.strerror(exc.errno)}") from exc

    def _header(self, data_size: int, features: int) -> bytes:
        return FileHeader(attr_size=ATTR_SIZE + 16,
                          attrs=FileSection(self.attrs_offset, (ATTR_SIZE + 16) * len(self._entries)),
                          data=FileSection(self.data_offset, data_size), features=features).pack()

    def begin(self, entries: Sequence[AttrEntry], features: Optional[Mapping[int, bytes]] = None) -> None:
        """Write the id arrays, the attr entries and the feature bodies known now (bit -> body); the data
        stream starts after them. The header says data size 0 until the first round is flushed (what a
        ``perf record`` killed at once leaves)."""
        self._entries = tuple(entries)
        ids_offset = HEADER_SIZE
        ids_blob, sections = bytearray(), []
        for entry in self._entries:
            sections.append(FileSection(ids_offset + len(ids_blob), 8 * len(entry.ids)))
            ids_blob += b"".join(i.to_bytes(8, "little") for i in entry.ids)
        attrs_blob = b"".join(e.attr.pack(ATTR_SIZE) + s.pack() for e, s in zip(self._entries, sections))
        self.attrs_offset = align(ids_offset + len(ids_blob))
        offset, bodies = self.attrs_offset + len(attrs_blob), []
        for bit, body in sorted((features or {}).items()):
            self._early[bit] = FileSection(offset, len(body))
            bodies.append(body)
            offset += len(body)
        self.data_offset = align(offset)
        self._marker = round_marker(b"".join(section.pack() for _, section in sorted(self._early.items())))
        self._pwrite(self._header(0, 0) + bytes(ids_blob).ljust(self.attrs_offset - ids_offset, b"\0")
                     + (attrs_blob + b"".join(bodies)).ljust(self.data_offset - self.attrs_offset, b"\0"), 0)
        self._data = BlockWriter(self._fd, self.data_offset)

    def write(self, chunk) -> None:
        """Append raw record bytes (bytes or a memoryview of a ring buffer, copied before returning)."""
        self._data.write(chunk)
        self.data_size += len(chunk)

    def end_round(self) -> bool:
        """End a round of the stream with a FINISHED_ROUND (nothing after it is older than what came before
        it, so readers may sort by time up to it); a marker (the feature table of a file cut here, True) when
        ``mark_bytes`` or ``mark_seconds`` have passed since the last one."""
        end, now = self.data_offset + self.data_size, time.monotonic()
        if end - self._last_mark < self._mark_bytes and now - self._last_mark_time < self._mark_seconds:
            self.write(FINISHED_ROUND)
            return False
        self._marks.append(end)
        self._last_mark, self._last_mark_time = end, now
        self.write(self._marker)
        return True

    @property
    def backlog(self) -> int:
        """Bytes written to this writer that are not on disk yet."""
        return self._data.backlog

    def pump(self, max_bytes: int) -> int:
        """Move up to ``max_bytes`` of the backlog to the disk (the recorder calls this when it is idle), and
        make the rounds now wholly on disk readable; returns the bytes written."""
        written = self._data.pump(max_bytes)
        if self._marks and self._marks[0] + len(self._marker) <= self._data.offset:
            self._commit()
        return written

    def flush(self) -> None:
        """Write the whole backlog (the observer sees all of it) and make every ended round readable."""
        self._data.flush()
        if self._marks:
            self._commit()

    def _commit(self) -> None:
        """Point the header's data size at the last round marker wholly on disk: one pwrite in the first
        page, so the header on disk is the old one or the new one, never a mix."""
        end, size = self._data.offset - len(self._marker), None
        while self._marks and self._marks[0] <= end:
            size = self._marks.popleft() - self.data_offset
        if size is None or size == self.committed:
            return
        self._pwrite(self._header(size, sum(1 << bit for bit in self._early) | 1 << RESERVED_FEATURE), 0)
        self.committed = size
        log.debug("flushed: %s data size %d", self.path, size)

    @property
    def data_end(self) -> int:
        return self.data_offset + self.data_size

    def observe(self, callback) -> None:
        """Have ``callback(memoryview)`` see the data stream, in order, as it is written (the recorder's
        post-pass scans the records then, while the workload runs, instead of after it)."""
        self._data.observer = callback

    def finish(self, features: Mapping[int, bytes]) -> int:
        """Write the rest of the stream, the feature table (the bodies given to ``begin`` where they are,
        these after the table) and the final header, and close; returns the file size."""
        self._data.flush()
        twice = set(features) & set(self._early)
        if twice:
            raise PerfDataError(f"internal error: feature sections {sorted(twice)} given twice")
        bits = sorted(set(features) | set(self._early))
        table_offset = self.data_end  # past the last round marker: the file read so far stays valid
        body_offset = table_offset + 16 * len(bits)
        table, bodies = [], []
        for bit in bits:
            section = self._early.get(bit)
            if section is None:
                section = FileSection(body_offset, len(features[bit]))
                bodies.append(features[bit])
                body_offset += section.size
            table.append(section.pack())
        self._pwrite(b"".join(table) + b"".join(bodies), table_offset)
        self._pwrite(self._header(self.data_size, sum(1 << b for b in bits)), 0)  # until this write
        if self._regular:
            os.ftruncate(self._fd, body_offset)
        self.close()
        return body_offset

    def close(self) -> None:
        """Close the file as it stands (readable up to the last flushed round)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def abort(self) -> None:
        """Undo a recording that never began: remove the new file and move ``.old`` back to the name."""
        if self._existed:
            if self._fd >= 0 and self._regular:
                os.ftruncate(self._fd, 0)
            self.close()
            return
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self._restore()

    def _restore(self) -> None:
        if self.backup is not None:
            try:
                os.replace(self.backup, self.path)
            except OSError as exc:
                log.warning(f"could not move {self.backup} back to {self.path}: {os.strerror(exc.errno)}")
            self.backup = None
