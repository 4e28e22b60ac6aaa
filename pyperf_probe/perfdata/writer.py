"""Writing a perf.data (PERFILE2) file: header, ids, attrs, the data stream, and the feature sections.

Layout, as perf 6.1 record writes it (tools/perf/util/header.c ``perf_session__write_header``,
perf-formats.md §1.1)::

    @0      struct perf_file_header (104 bytes; written last, when the sizes are known)
    @104    the u64 id arrays of every attr, one after the other
    ...     the attr entries: perf_event_attr (attr_size) + perf_file_section ids {offset, size}
    ...     data: records, streamed in as they arrive (8-aligned start)
    ...     feature section table {u64 offset, u64 size} per feature bit, then the feature bodies

The file is written under a temporary name beside the target, mode 0600, and only ``commit()`` moves it into
place (an existing non-empty target becomes ``<target>.old`` first, as perf's ``check_backup`` does), so a
failed or interrupted recording never leaves a half-written file under the user's name.
"""
from __future__ import annotations

import dataclasses
import collections
import os
from typing import Deque, List, Mapping, Sequence, Tuple

from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata.format import EventAttr, FileHeader, FileSection, align

HEADER_SIZE = 104
ATTR_SIZE = 128  # perf 6.1 writes PERF_ATTR_SIZE_VER7 attrs
BLOCK = 4 << 20  # data is copied into blocks of this size and written out when the rings are empty
FREE_BLOCKS = 64  # written blocks kept for reuse (256 MB)


@dataclasses.dataclass(frozen=True)
class AttrEntry:
    """One event of the file: its attr and the kernel ids of its fds (one per CPU/thread fd)."""

    attr: EventAttr
    ids: Tuple[int, ...]


def temp_path_for(path: str) -> str:
    directory, base = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{base}.pyperf-{os.getpid()}.tmp")


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


class PerfDataWriter:
    """Streams one perf.data. Use: ``w = PerfDataWriter(path)`` (checks the directory is writable),
    ``w.begin(entries)``, ``w.write(bytes_or_memoryview)``..., ``w.finish(features)``, ``w.commit()``;
    ``w.abort()`` on any failure removes the temporary file."""

    def __init__(self, path: str):
        self.path = path
        self.tmp_path = temp_path_for(path)
        try:
            self._fd = os.open(self.tmp_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise PerfDataError(f"failed to open {path} : {os.strerror(exc.errno)}\n"
                                "Perf session creation failed.") from exc
        self._data = None
        self.data_offset = 0
        self.data_size = 0
        self._entries: Tuple[AttrEntry, ...] = ()
        self._done = False

    def _pwrite(self, blob: bytes, offset: int) -> None:
        try:
            view = memoryview(blob)
            while len(view):
                n = os.pwrite(self._fd, view, offset)
                offset += n
                view = view[n:]
        except OSError as exc:
            raise PerfDataError(f"failed to write {self.path}: {os.strerror(exc.errno)}") from exc

    def begin(self, entries: Sequence[AttrEntry]) -> None:
        """Write the id arrays and attr entries; the data stream starts after them."""
        self._entries = tuple(entries)
        ids_offset = HEADER_SIZE
        ids_blob, sections = bytearray(), []
        for entry in self._entries:
            sections.append(FileSection(ids_offset + len(ids_blob), 8 * len(entry.ids)))
            ids_blob += b"".join(i.to_bytes(8, "little") for i in entry.ids)
        attrs_blob = b"".join(e.attr.pack(ATTR_SIZE) + s.pack() for e, s in zip(self._entries, sections))
        self.attrs_offset = align(ids_offset + len(ids_blob))
        self.data_offset = align(self.attrs_offset + len(attrs_blob))
        self._pwrite(b"\0" * HEADER_SIZE + bytes(ids_blob).ljust(self.attrs_offset - ids_offset, b"\0")
                     + attrs_blob.ljust(self.data_offset - self.attrs_offset, b"\0"), 0)
        self._data = BlockWriter(self._fd, self.data_offset)

    def write(self, chunk) -> None:
        """Append raw record bytes (bytes or a memoryview of a ring buffer, copied before returning)."""
        self._data.write(chunk)
        self.data_size += len(chunk)

    @property
    def backlog(self) -> int:
        """Bytes written to this writer that are not on disk yet."""
        return self._data.backlog

    def pump(self, max_bytes: int) -> int:
        """Move up to ``max_bytes`` of the backlog to the disk (the recorder calls this when it is idle)."""
        return self._data.pump(max_bytes)

    @property
    def data_end(self) -> int:
        return self.data_offset + self.data_size

    def observe(self, callback) -> None:
        """Have ``callback(memoryview)`` see the data stream, in order, as it is written (the recorder's
        post-pass scans the records then, while the workload runs, instead of after it)."""
        self._data.observer = callback

    def flush(self) -> None:
        """Write the whole backlog (the observer sees all of it)."""
        self._data.flush()

    def finish(self, features: Mapping[int, bytes]) -> int:
        """Append the feature table and bodies (bit -> body), then write the header; returns the file size."""
        self._data.flush()
        bits = sorted(features)
        table_offset = self.data_end
        body_offset = table_offset + 16 * len(bits)
        table, bodies = [], []
        for bit in bits:
            body = features[bit]
            table.append(FileSection(body_offset, len(body)).pack())
            bodies.append(body)
            body_offset += len(body)
        self._pwrite(b"".join(table) + b"".join(bodies), table_offset)
        header = FileHeader(attr_size=ATTR_SIZE + 16,
                            attrs=FileSection(self.attrs_offset, (ATTR_SIZE + 16) * len(self._entries)),
                            data=FileSection(self.data_offset, self.data_size),
                            features=sum(1 << b for b in bits))
        self._pwrite(header.pack(), 0)
        os.ftruncate(self._fd, body_offset)
        os.close(self._fd)
        self._fd = -1
        self._done = True
        return body_offset

    def commit(self) -> None:
        """Move the finished file into place; an existing non-empty target becomes ``<target>.old``."""
        if not self._done:
            raise PerfDataError("internal error: commit() before finish()")
        try:
            if os.path.isfile(self.path) and os.path.getsize(self.path) > 0:
                os.replace(self.path, self.path + ".old")
            os.replace(self.tmp_path, self.path)
        except OSError as exc:
            self.abort()
            raise PerfDataError(f"failed to rename {self.tmp_path} to {self.path}: {os.strerror(exc.errno)}") from exc

    def abort(self) -> None:
        """Drop the temporary file (nothing under the user's name is touched)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        try:
            os.unlink(self.tmp_path)
        except FileNotFoundError:
            pass
