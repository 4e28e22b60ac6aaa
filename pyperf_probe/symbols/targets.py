"""What ``-x TARGET`` names: a path, a program on ``$PATH``, or a bare library name (``libc.so.6``).

perf 6.1 takes only paths (``opt_set_target`` in builtin-probe.c: ``realpath()``, else "Failed to get the
absolute path of X"). pyperf also resolves a bare name: first as a program on ``$PATH``, then through the
dynamic linker's cache ``/etc/ld.so.cache`` (glibc elf/cache.c, the "glibc-ld.so.cache1.1" layout),
preferring entries of the native architecture, the way ``ld.so`` itself would pick them.
"""
from __future__ import annotations

import os
import struct
from typing import List, NamedTuple, Optional

from pyperf_probe.errors import SymbolError

LD_SO_CACHE = "/etc/ld.so.cache"
CACHE_MAGIC_NEW = b"glibc-ld.so.cache1.1"
CACHE_MAGIC_OLD = b"ld.so-1.7.0"

# glibc sysdeps/generic/ldconfig.h: FLAG_ELF_LIBC6 | the architecture's FLAG_*_LIB64 "required" bits
FLAG_TYPE_MASK, FLAG_REQUIRED_MASK = 0x00FF, 0xFF00
FLAG_ELF_LIBC6 = 0x0003
NATIVE_REQUIRED = {"x86_64": 0x0300, "aarch64": 0x0A00, "ppc64le": 0x0500, "s390x": 0x0400,
                   "riscv64": 0x1000, "i686": 0x0000, "i386": 0x0000}


class CacheEntry(NamedTuple):
    """``struct file_entry_new`` of ld.so.cache: flags, key (soname), value (path), hwcap (FILE_ENTRY below).
    NamedTuples here keep ``pyperf probe -F`` start-up cheap (no dataclass code generation)."""

    flags: int
    soname: str
    path: str
    hwcap: int


# struct file_entry_new: int32 flags, uint32 key, uint32 value, uint32 osversion_unused, uint64 hwcap
FILE_ENTRY = struct.Struct("<iIIIQ")


# struct cache_file_new after the 20-byte magic+version: nlibs, len_strings, flags, pad[3], ext_offset, unused[3]
CACHE_HEADER = struct.Struct("<IIB3xI12x")


class Target(NamedTuple):
    """A resolved ``-x`` argument: the absolute path, and how it was found ('path', 'PATH', 'ld.so.cache')."""

    given: str
    path: str
    how: str


def _cstr(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    return data[offset:end if end >= 0 else len(data)].decode("utf-8", "replace")


def parse_ld_so_cache(data: bytes) -> List[CacheEntry]:
    """Entries of an ld.so.cache image (the new format, alone or after the old one)."""
    start = data.find(CACHE_MAGIC_NEW)
    if start < 0:
        raise SymbolError("ld.so.cache: no glibc-ld.so.cache1.1 section")
    nlibs, _len_strings, _flags, _ext = CACHE_HEADER.unpack_from(data, start + len(CACHE_MAGIC_NEW))
    first = start + len(CACHE_MAGIC_NEW) + CACHE_HEADER.size
    if first + nlibs * FILE_ENTRY.size > len(data):
        raise SymbolError("ld.so.cache: truncated")
    out = []
    for i in range(nlibs):
        flags, key, value, _os, hwcap = FILE_ENTRY.unpack_from(data, first + i * FILE_ENTRY.size)
        # offsets count from the start of the new-format section
        out.append(CacheEntry(flags, _cstr(data, start + key), _cstr(data, start + value), hwcap))
    return out


def _ldconfig_p() -> List[CacheEntry]:
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


def ld_cache_entries(cache_path: str = LD_SO_CACHE) -> List[CacheEntry]:
    try:
        with open(cache_path, "rb") as f:
            return parse_ld_so_cache(f.read())
    except (OSError, SymbolError, struct.error):
        return _ldconfig_p()


def native_required_flags() -> int:
    return NATIVE_REQUIRED.get(os.uname().machine, 0)


def which(name: str) -> Optional[str]:
    """An executable called ``name`` on $PATH (``shutil.which`` without importing shutil)."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(d or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def find_library(name: str, entries: Optional[List[CacheEntry]] = None) -> Optional[str]:
    """The path ld.so would load for soname ``name``: a native-architecture entry first, then any."""
    entries = ld_cache_entries() if entries is None else entries
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
