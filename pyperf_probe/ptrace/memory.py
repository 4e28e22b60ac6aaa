"""A traced process's memory through ``/proc/PID/mem``: one pread or pwrite per access, whatever its length.

Writes go through read-only text and the out-of-line pages too (the kernel's FOLL_FORCE: a private copy of
the page, as a debugger's breakpoint makes), so a breakpoint costs one 1-byte pwrite. The file belongs to
the address space it was opened on: after an exec it is reopened (``Memory.reopen``).
"""
from __future__ import annotations

import os
import struct

_U64 = struct.Struct("<Q")


class MemoryError_(OSError):
    """An address the process does not map (the underscore: not Python's MemoryError)."""


class Memory:
    """``/proc/PID/mem`` of one address space; ``read`` may return fewer bytes than asked when the range
    runs into unmapped memory, ``read_exact`` raises instead."""

    def __init__(self, pid: int):
        self.pid = pid
        self.fd = os.open(f"/proc/{pid}/mem", os.O_RDWR | os.O_CLOEXEC)

    def reopen(self, pid: int) -> None:
        self.close()
        self.pid = pid
        self.fd = os.open(f"/proc/{pid}/mem", os.O_RDWR | os.O_CLOEXEC)

    def read(self, avma: int, size: int) -> bytes:
        try:
            return os.pread(self.fd, size, avma)
        except OSError:
            return b""

    def read_exact(self, avma: int, size: int) -> bytes:
        data = self.read(avma, size)
        if len(data) != size:
            raise MemoryError_(f"cannot read {size} bytes at {avma:#x} in process {self.pid}")
        return data

    def read_u64(self, avma: int) -> int:
        return _U64.unpack(self.read_exact(avma, 8))[0]

    def write(self, avma: int, data: bytes) -> None:
        try:
            done = os.pwrite(self.fd, data, avma)
        except OSError as exc:
            raise MemoryError_(f"cannot write {len(data)} bytes at {avma:#x} in process {self.pid}: "
                               f"{exc.strerror}") from None
        if done != len(data):
            raise MemoryError_(f"short write at {avma:#x} in process {self.pid}")

    def write_u64(self, avma: int, value: int) -> None:
        self.write(avma, _U64.pack(value & 0xFFFFFFFFFFFFFFFF))

    def read_cstring(self, avma: int, limit: int) -> bytes | None:
        """The NUL-terminated string at ``avma`` (without its NUL), at most ``limit - 1`` bytes; None when
        the first byte cannot be read."""
        out = b""
        while len(out) < limit:
            chunk = self.read(avma + len(out), min(256, limit - len(out)))
            if not chunk:
                return out if out else None
            end = chunk.find(b"\0")
            if end >= 0:
                return (out + chunk[:end])[:limit - 1]
            out += chunk
        return out[:limit - 1]

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
