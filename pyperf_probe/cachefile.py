"""The files of pyperf's disk caches (callchain/cfi_table.py's CFI tables, session/resolved_cache.py's
resolved names): where they live, and how an entry is written and read back so that a damaged, truncated
or half-written one is detected and never used. (perf report keeps no such cache: it recomputes.)

An entry is a header and a payload, little-endian::

    magic 8 bytes (one per cache)   version u32 (the cache's FORMAT_VERSION)
    crc32 u32 (of the payload)      length u64 (of the payload)      payload

:func:`unseal` gives the payload only when all four hold: a changed byte anywhere changes the CRC (CRC-32
detects every error burst up to 32 bits) or the header; a truncated or extended file, the length; a file
of another cache or format, the magic or version.

:func:`write` writes an entry whole under a temporary name no other writer uses (pid, thread, serial,
created with O_EXCL) and renames it onto the entry: rename(2) replaces atomically, so a reader sees the
old entry, the new one or none, never a part, whatever concurrent writers and killed processes do. Of
concurrent writers of one entry the last rename wins; the others' answers are computed again next time.
A writer killed mid-write leaves its ``.NAME.*.tmp`` file, which no reader opens.
"""
from __future__ import annotations

import os
import struct
import zlib
from _thread import get_ident  # not threading: a report imports nothing it does not need
from itertools import count

_HEADER = struct.Struct("<8sIIQ")  # magic, version, crc32 of the payload, length of the payload
_serial = count()


def base_dir() -> str:
    """``$PYPERF_CACHE_DIR``, else ``$XDG_CACHE_HOME/pyperf``, else ``~/.cache/pyperf``."""
    base = os.environ.get("PYPERF_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "pyperf")
    return base


def cache_dir(kind: str, version: int) -> str:
    """The directory of one cache's entries: ``<base>/<kind>-v<version>``."""
    return os.path.join(base_dir(), f"{kind}-v{version}")


def seal(magic: bytes, version: int, payload: bytes) -> bytes:
    """``payload`` with its header, as written."""
    return _HEADER.pack(magic, version, zlib.crc32(payload), len(payload)) + payload


def unseal(magic: bytes, version: int, blob: bytes) -> memoryview | None:
    """The payload of ``blob``, or None unless it is a whole, intact entry of this cache and version."""
    if len(blob) < _HEADER.size:
        return None
    got_magic, got_version, crc, length = _HEADER.unpack_from(blob)
    payload = memoryview(blob)[_HEADER.size:]
    if got_magic != magic or got_version != version or len(payload) != length or zlib.crc32(payload) != crc:
        return None
    return payload


def read(directory: str, name: str) -> bytes | None:
    """The bytes of entry ``name`` (None when it cannot be read); :func:`unseal` says whether to use them."""
    try:
        with open(os.path.join(directory, name), "rb") as f:
            return f.read()
    except OSError:
        return None


def write(directory: str, name: str, data: bytes, create: bool = True) -> bool:
    """Make ``data`` the entry ``name``, atomically (see the module docstring); False when it could not
    be written (read-only or full disk, directory removed meanwhile): best effort, a cache miss costs only
    the warm start. ``create`` makes the directory first."""
    try:
        if create:
            os.makedirs(directory, exist_ok=True)
        fd, tmp = _temporary(directory, name)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(directory, name))
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False
    return True


def _temporary(directory: str, name: str) -> tuple[int, str]:
    """A new file of a name no live writer uses (tempfile would import random into every cold report)."""
    while True:
        tmp = os.path.join(directory, f".{name}.{os.getpid()}.{get_ident()}.{next(_serial)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), tmp
        except FileExistsError:  # left by a killed process that had this pid
            continue
