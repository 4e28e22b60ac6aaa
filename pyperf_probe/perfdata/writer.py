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
import mmap
import os
import queue
import threading
from typing import Mapping, Sequence, Tuple

from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata.format import EventAttr, FileHeader, FileSection, align

HEADER_SIZE = 104
ATTR_SIZE = 128  # perf 6.1 writes PERF_ATTR_SIZE_VER7 attrs
BLOCK = 4 << 20  # data is copied into blocks of this size and written by a background thread
MAX_BLOCKS = 512  # at most 2 GB waiting for the disk before the drain has to wait for it


@dataclasses.dataclass(frozen=True)
class AttrEntry:
    """One event of the file: its attr and the kernel ids of its fds (one per CPU/thread fd)."""

    attr: EventAttr
    ids: Tuple[int, ...]


def temp_path_for(path: str) -> str:
    directory, base = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{base}.pyperf-{os.getpid()}.tmp")


class BlockWriter:
    """Appends bytes to an fd from a background thread, so that draining ring buffers runs at memory speed
    while the disk catches up (a page-cache write here ran at 0.2-0.4 GB/s, a copy at several GB/s; dwarf
    recordings produce over 1 GB/s). Data is copied into 4 MB blocks that are recycled once written."""

    def __init__(self, fd: int, offset: int):
        self.fd, self.offset = fd, offset
        self._full: "queue.Queue" = queue.Queue()
        self._free: "queue.SimpleQueue" = queue.SimpleQueue()
        self._cur, self._fill, self._allocated = bytearray(BLOCK), 0, 1
        self.error = None
        self._thread = threading.Thread(target=self._run, name="pyperf-writer", daemon=True)
        self._thread.start()

    def write(self, chunk) -> None:
        view = memoryview(chunk).cast("B")
        done, size = 0, len(view)
        while done < size:
            n = min(size - done, BLOCK - self._fill)
            self._cur[self._fill:self._fill + n] = view[done:done + n]
            self._fill += n
            done += n
            if self._fill == BLOCK:
                self._hand_off()

    def _hand_off(self) -> None:
        self._full.put((self._cur, self._fill))
        try:
            self._cur = self._free.get_nowait()
        except queue.Empty:
            if self._allocated < MAX_BLOCKS:
                self._cur = bytearray(BLOCK)
                self._allocated += 1
            else:
                self._cur = self._free.get()  # the disk is far behind: wait for a block
        self._fill = 0

    def _run(self) -> None:
        while True:
            item = self._full.get()
            if item is None:
                self._full.task_done()
                return
            buf, size = item
            try:
                if self.error is None:
                    self._write_all(memoryview(buf)[:size])
            except OSError as exc:
                self.error = exc
            self._free.put(buf)
            self._full.task_done()

    def _write_all(self, view) -> None:
        while len(view):
            n = os.pwrite(self.fd, view, self.offset)
            self.offset += n
            view = view[n:]

    def flush(self) -> None:
        """Write out everything (the partial block too) and wait for it."""
        if self._fill:
            self._full.put((self._cur, self._fill))
            self._cur, self._fill = bytearray(BLOCK), 0
        self._full.join()
        if self.error is not None:
            raise PerfDataError(f"failed to write perf data: {os.strerror(self.error.errno or 0)}")

    def close(self) -> None:
        self._full.put(None)
        self._thread.join()


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
    def data_end(self) -> int:
        return self.data_offset + self.data_size

    def map_data(self) -> memoryview:
        """The data written so far, mapped read-only (for the post-pass that finds the DSOs with hits)."""
        self._data.flush()
        if not self.data_size:
            return memoryview(b"")
        mm = mmap.mmap(self._fd, self.data_end, prot=mmap.PROT_READ)
        return memoryview(mm)[self.data_offset:self.data_end]

    def finish(self, features: Mapping[int, bytes]) -> int:
        """Append the feature table and bodies (bit -> body), then write the header; returns the file size."""
        self._data.flush()
        self._data.close()
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
        if self._data is not None:
            self._data.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        try:
            os.unlink(self.tmp_path)
        except FileNotFoundError:
            pass
