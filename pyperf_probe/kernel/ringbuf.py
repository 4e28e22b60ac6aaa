"""The perf mmap ring buffer: one control page (``struct perf_event_mmap_page``) + 2^n data pages.

Draining copies the raw bytes between ``data_tail`` and ``data_head`` to the output without looking at the
records (perf's ``perf_mmap__push``), in at most two pieces when the region wraps around the end of the data
area (a record may straddle it; the copy keeps it whole in the file).

Memory order (include/uapi/linux/perf_event.h, comment above ``data_head``; kernel/events/ring_buffer.c): the
reader must load ``data_head`` and then issue ``smp_rmb()`` before reading the data, and issue ``smp_mb()``
after reading the data and before storing ``data_tail`` (the kernel may then overwrite that space).
``data_head``/``data_tail`` are read and written here as single aligned 64-bit accesses through ctypes
(``c_uint64.from_buffer``), never torn. On x86-64 (TSO) loads are not reordered with other loads, nor
stores with earlier loads, so program order already gives both barriers (what the kernel's ``smp_rmb`` and
``smp_load_acquire`` compile to there: a compiler barrier only; CPython does not reorder these accesses).
On weakly ordered CPUs we take and drop a lock around the accesses: glibc implements that with
acquire/release atomics, which order the head load before the data loads and the data loads before the
tail store.
"""
from __future__ import annotations

import ctypes
import mmap
import platform
import threading

from pyperf_probe.errors import KernelError

# struct perf_event_mmap_page offsets
DATA_HEAD = 1024
DATA_TAIL = 1032
DATA_OFFSET = 1040
DATA_SIZE = 1048

_STRONGLY_ORDERED = platform.machine() in ("x86_64", "amd64", "i386", "i486", "i586", "i686")
_fence_lock = threading.Lock()
# Fault the whole buffer in at mmap time: the drain then never takes a page fault per 4 KB page.
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


def _fence() -> None:
    """A full barrier on weakly ordered CPUs (see the module docstring); nothing on x86."""
    if not _STRONGLY_ORDERED:
        with _fence_lock:
            pass


def check_pages(data_pages: int) -> int:
    """The data area must be 2^n pages (perf: "--mmap_pages/-m value must be a power of two")."""
    if data_pages < 1 or data_pages & (data_pages - 1):
        raise KernelError(f"--mmap_pages/-m value must be a power of two. ({data_pages})", errno=22)
    return data_pages


class RingBuffer:
    """One mmap'd ring buffer of an event fd (all fds of that CPU may be redirected here by SET_OUTPUT)."""

    def __init__(self, fd: int, data_pages: int, page_size: int = mmap.PAGESIZE):
        check_pages(data_pages)
        self.fd = fd
        length = (data_pages + 1) * page_size
        try:
            self._mm = mmap.mmap(fd, length, mmap.MAP_SHARED | _POPULATE, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            raise KernelError(_mmap_error(exc.errno, data_pages, page_size), errno=exc.errno) from exc
        self._head = ctypes.c_uint64.from_buffer(self._mm, DATA_HEAD)
        self._tail = ctypes.c_uint64.from_buffer(self._mm, DATA_TAIL)
        self.data_offset = ctypes.c_uint64.from_buffer(self._mm, DATA_OFFSET).value or page_size
        self.data_size = ctypes.c_uint64.from_buffer(self._mm, DATA_SIZE).value or data_pages * page_size
        self._view = memoryview(self._mm)[self.data_offset:self.data_offset + self.data_size]
        self._mask = self.data_size - 1
        self.tail = self._tail.value
        self.bytes_read = 0

    def pending(self) -> int:
        """Bytes the kernel has written and we have not consumed."""
        return self._head.value - self.tail

    def drain(self, write) -> int:
        """Copy everything between tail and head to ``write(memoryview)``, then release it to the kernel.
        Returns the number of bytes copied."""
        head = self._head.value
        _fence()  # smp_rmb(): the head load before the data loads
        size = head - self.tail
        if size <= 0:
            return 0
        start = self.tail & self._mask
        end = start + size
        if end <= self.data_size:
            write(self._view[start:end])
        else:  # wrapped: the tail end of the area, then its beginning
            write(self._view[start:])
            write(self._view[:end - self.data_size])
        _fence()  # smp_mb(): the data loads before the tail store
        self._tail.value = head
        self.tail = head
        self.bytes_read += size
        return size

    def close(self) -> None:
        # ctypes objects exported from the mapping must go before it can be closed
        del self._head, self._tail
        self._view.release()
        try:
            self._mm.close()
        except BufferError:
            pass


def _mmap_error(err: int, data_pages: int, page_size: int) -> str:
    if err == 1:  # EPERM: over perf_event_mlock_kb without CAP_IPC_LOCK
        return (f"Permission error mapping pages.\nConsider increasing /proc/sys/kernel/perf_event_mlock_kb,\n"
                f"or try again with a smaller value of -m/--mmap_pages.\n(current value: {data_pages},0)")
    if err == 12:
        return f"Cannot allocate {data_pages + 1} pages of {page_size} bytes for a ring buffer (ENOMEM)."
    import os
    return f"failed to mmap with {err} ({os.strerror(err)})"
