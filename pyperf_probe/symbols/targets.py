"""What ``-x TARGET`` names: a path, a program on ``$PATH``, or a bare library name (``libc.so.6``).

perf 6.1 takes only paths (``opt_set_target`` in builtin-probe.c: ``realpath()``, else "Failed to get the
absolute path of X"). pyperf also resolves a bare name: first as a program on ``$PATH``, then through the
dynamic linker's cache ``/etc/ld.so.cache`` (glibc elf/cache.c, the "glibc-ld.so.cache1.1" layout),
preferring entries of the native architecture, the way ``ld.so`` itself would pick them.
"""
from __future__ import annotations

import os
import sys
from itertools import compress

from pyperf_probe.errors import SymbolError
from pyperf_probe.records import Record, field

LD_SO_CACHE = "/etc/ld.so.cache"
CACHE_MAGIC_NEW = b"glibc-ld.so.cache1.1"
CACHE_MAGIC_OLD = b"ld.so-1.7.0"

# glibc sysdeps/generic/ldconfig.h: FLAG_ELF_LIBC6 | the architecture's FLAG_*_LIB64 "required" bits
FLAG_TYPE_MASK, FLAG_REQUIRED_MASK = 0x00FF, 0xFF00
FLAG_ELF_LIBC6 = 0x0003
NATIVE_REQUIRED = {"x86_64": 0x0300, "aarch64": 0x0A00, "ppc64le": 0x0500, "s390x": 0x0400,
                   "riscv64": 0x1000, "i686": 0x0000, "i386": 0x0000}


class CacheEntry(Record):
    """``struct file_entry_new`` of ld.so.cache: flags, key (soname), value (path), hwcap (FILE_ENTRY below).
    A light immutable record (records.py): ``pyperf probe -F -x libc.so.6`` cannot pay typing's or
    dataclasses' import at start-up (bench/probe_funcs)."""

    __slots__ = ()
    _fields = ("flags", "soname", "path", "hwcap")

    def __new__(cls, flags: int, soname: str, path: str, hwcap: int):
        return tuple.__new__(cls, (flags, soname, path, hwcap))

    flags = field(0, "FLAG_* type and required bits")
    soname = field(1, "the key: the library's soname")
    path = field(2, "the value: the file")
    hwcap = field(3, "hardware capabilities the entry needs")


# ld.so.cache is written by ldconfig in the host's byte order (glibc elf/cache.c), and read so here.
# struct file_entry_new: int32 flags @0, uint32 key @4, uint32 value @8, uint32 osversion_unused @12,
# uint64 hwcap @16
FILE_ENTRY_SIZE = 24
# struct cache_file_new after the 20-byte magic+version: uint32 nlibs @0, uint32 len_strings @4, uint8 flags,
# pad[3], uint32 extension_offset, uint32 unused[3]
CACHE_HEADER_SIZE = 28


class Target(Record):
    """A resolved ``-x`` argument: the absolute path, and how it was found ('path', 'PATH', 'ld.so.cache').
    (A light immutable record, as CacheEntry.)"""

    __slots__ = ()
    _fields = ("given", "path", "how")

    def __new__(cls, given: str, path: str, how: str):
        return tuple.__new__(cls, (given, path, how))

    given = field(0, "the argument as given")
    path = field(1, "the absolute real path")
    how = field(2, "'path', 'PATH' or 'ld.so.cache'")


def _cstr(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    return data[offset:end if end >= 0 else len(data)].decode("utf-8", "replace")


def _cache_table(data: bytes) -> tuple[int, int]:
    """(start of the new-format section, number of entries), checked against the file's size."""
    start = data.find(CACHE_MAGIC_NEW)
    if start < 0:
        raise SymbolError("ld.so.cache: no glibc-ld.so.cache1.1 section")
    head = start + len(CACHE_MAGIC_NEW)
    if head + CACHE_HEADER_SIZE > len(data):
        raise SymbolError("ld.so.cache: truncated")
    nlibs = int.from_bytes(data[head:head + 4], sys.byteorder)
    if head + CACHE_HEADER_SIZE + nlibs * FILE_ENTRY_SIZE > len(data):
        raise SymbolError("ld.so.cache: truncated")
    return start, nlibs


def _entry(data: bytes, start: int, i: int) -> CacheEntry:
    """Entry ``i``; key and value offsets count from the start of the new-format section."""
    at = start + len(CACHE_MAGIC_NEW) + CACHE_HEADER_SIZE + i * FILE_ENTRY_SIZE
    flags = int.from_bytes(data[at:at + 4], sys.byteorder, signed=True)
    key = int.from_bytes(data[at + 4:at + 8], sys.byteorder)
    value = int.from_bytes(data[at + 8:at + 12], sys.byteorder)
    hwcap = int.from_bytes(data[at + 16:at + 24], sys.byteorder)
    return CacheEntry(flags, _cstr(data, start + key), _cstr(data, start + value), hwcap)


def parse_ld_so_cache(data: bytes) -> list[CacheEntry]:
    """Entries of an ld.so.cache image (the new format, alone or after the old one)."""
    start, nlibs = _cache_table(data)
    return [_entry(data, start, i) for i in range(nlibs)]


def _entries_named(data: bytes, soname: str) -> list[CacheEntry]:
    """The entries whose key is ``soname``, without decoding the others: every place where the string
    "soname\\0" lies in the file is a key it can have (a key may point into the tail of a longer string:
    ldconfig shares tails), and the entries with one of those keys are picked in one pass."""
    start, nlibs = _cache_table(data)
    want = soname.encode() + b"\0"
    keys_wanted, at = set(), data.find(want, start)
    while at >= 0:
        keys_wanted.add(at - start)
        at = data.find(want, at + 1)
    first = start + len(CACHE_MAGIC_NEW) + CACHE_HEADER_SIZE
    keys = memoryview(data[first:first + nlibs * FILE_ENTRY_SIZE]).cast("I")[1::FILE_ENTRY_SIZE // 4]
    return [_entry(data, start, i) for i in compress(range(nlibs), map(keys_wanted.__contains__, keys))]


def _ldconfig_p() -> list[CacheEntry]:
    """Fallback: ``ldconfig -p`` lines ``\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6``."""
    import subprocess
    ldconfig = which("ldconfig") or "/sbin/ldconfig"
    try:
        text = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    out = []
    for line in text.splitlines()[1:]:
        name, sep, path = line.strip().partition(" => ")
        if sep:
            soname, _, desc = name.partition(" (")
            native = "x86-64" in desc or "AArch64" in desc or "64bit" in desc
            out.append(CacheEntry(FLAG_ELF_LIBC6 | (0x0300 if native else 0), soname, path, 0))
    return out


def ld_cache_entries(cache_path: str = LD_SO_CACHE) -> list[CacheEntry]:
    try:
        with open(cache_path, "rb") as f:
            return parse_ld_so_cache(f.read())
    except (OSError, SymbolError):
        return _ldconfig_p()


def _ld_cache_entries_named(soname: str, cache_path: str = LD_SO_CACHE) -> list[CacheEntry]:
    try:
        with open(cache_path, "rb") as f:
            return _entries_named(f.read(), soname)
    except (OSError, SymbolError):
        return [e for e in _ldconfig_p() if e.soname == soname]


def native_required_flags() -> int:
    return NATIVE_REQUIRED.get(os.uname().machine, 0)


def which(name: str) -> str | None:
    """An executable called ``name`` on $PATH (``shutil.which`` without importing shutil)."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(d or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def find_library(name: str, entries: list[CacheEntry] | None = None) -> str | None:
    """The path ld.so would load for soname ``name``: a native-architecture entry first, then any."""
    entries = _ld_cache_entries_named(name) if entries is None else entries
    native = native_required_flags()
    matches = [e for e in entries if e.soname == name and os.path.exists(e.path)]
    for e in matches:
        if (e.flags & FLAG_REQUIRED_MASK) == native:
            return e.path
    return matches[0].path if matches else None


def resolve_target(given: str) -> Target:
    """Resolve ``-x TARGET`` to an absolute real path (perf shows and probes ``realpath(TARGET)``)."""
    if os.path.exists(given):
        return Target(given, os.path.realpath(given), "path")
    if "/" not in given:
        prog = which(given)
        if prog:
            return Target(given, os.path.realpath(prog), "PATH")
        lib = find_library(given)
        if lib:
            return Target(given, os.path.realpath(lib), "ld.so.cache")
    raise SymbolError(f"Failed to get the absolute path of {given}: No such file or directory", errno=2)
