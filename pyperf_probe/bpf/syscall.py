"""bpf(2) through ctypes: maps and program loading, and attaching a program to a perf event.

``union bpf_attr`` (include/uapi/linux/bpf.h) is packed here per command, field by field, into a zeroed
buffer of the size passed to the kernel (which requires the bytes it does not know to be zero). Every
``__u64`` is packed as ``Q``, every pointer as a ``__u64`` (``ptr_to_u64``), never a ``c_ulong``.
"""
from __future__ import annotations

import ctypes
import errno as errno_mod
import fcntl
import os
import platform
import struct

from pyperf_probe.errors import BpfError

# __NR_bpf per architecture (arch/*/include/uapi/asm/unistd*.h, include/uapi/asm-generic/unistd.h)
_SYSCALL_NR = {"x86_64": 321, "amd64": 321, "aarch64": 280, "arm64": 280, "riscv64": 280, "loongarch64": 280,
               "ppc64le": 361, "ppc64": 361, "s390x": 351, "i386": 357, "i686": 357}

# enum bpf_cmd
MAP_CREATE, MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM, MAP_GET_NEXT_KEY, PROG_LOAD = range(6)
# enum bpf_map_type
MAP_TYPE_HASH, MAP_TYPE_ARRAY, MAP_TYPE_PERCPU_HASH, MAP_TYPE_PERCPU_ARRAY = 1, 2, 5, 6
MAP_TYPE_NAMES = {MAP_TYPE_HASH: "hash", MAP_TYPE_ARRAY: "array", MAP_TYPE_PERCPU_HASH: "percpu_hash",
                  MAP_TYPE_PERCPU_ARRAY: "percpu_array"}
PERCPU_TYPES = (MAP_TYPE_PERCPU_HASH, MAP_TYPE_PERCPU_ARRAY)
# enum bpf_prog_type
PROG_TYPE_KPROBE, PROG_TYPE_TRACEPOINT = 2, 5
BPF_F_NO_PREALLOC = 1

ATTR_SIZE = 128      # covers every field used here; the kernel checks that the bytes after its own are zero
OBJ_NAME_LEN = 16

# PERF_EVENT_IOC_SET_BPF = _IOW('$', 8, __u32) (include/uapi/linux/perf_event.h), asm-generic _IOC layout
PERF_EVENT_IOC_SET_BPF = (1 << 30) | (4 << 16) | (ord("$") << 8) | 8

_libc = None


def _syscall():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]
    return _libc.syscall


def sys_bpf(cmd: int, attr) -> int:
    """``bpf(cmd, &attr, sizeof attr)``; returns the result or raises OSError with the errno."""
    nr = _SYSCALL_NR.get(platform.machine())
    if nr is None:
        raise BpfError(f"bpf(2): unknown syscall number for architecture '{platform.machine()}'",
                       errno=errno_mod.ENOSYS)
    ret = _syscall()(nr, cmd, ctypes.addressof(attr), ctypes.sizeof(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def _attr(*pieces) -> ctypes.Array:
    """A zeroed ``union bpf_attr`` with ``(offset, struct format, values...)`` pieces packed in."""
    buf = ctypes.create_string_buffer(ATTR_SIZE)
    for offset, fmt, *values in pieces:
        struct.pack_into(fmt, buf, offset, *values)
    return buf


def _name(text: str) -> bytes:
    """An object name as the kernel takes it: at most 15 characters of [A-Za-z0-9_.], NUL-terminated."""
    clean = "".join(c if c.isalnum() or c in "_." else "_" for c in text)
    return clean.encode()[:OBJ_NAME_LEN - 1]


def map_create(map_type: int, key_size: int, value_size: int, max_entries: int, *, flags: int = 0,
               name: str = "") -> int:
    """``BPF_MAP_CREATE``: {u32 map_type, key_size, value_size, max_entries, map_flags, inner_map_fd,
    numa_node; char map_name[16]} -> the map's fd."""
    attr = _attr((0, "<5I", map_type, key_size, value_size, max_entries, flags),
                 (28, f"{OBJ_NAME_LEN}s", _name(name)))
    try:
        return sys_bpf(MAP_CREATE, attr)
    except OSError as exc:
        raise error(exc, f"Failed to create the BPF {MAP_TYPE_NAMES.get(map_type, map_type)} map {name}") from None


def _elem_attr(fd: int, key, value, flags: int = 0):
    """{u32 map_fd; u64 key; u64 value (or next_key); u64 flags} (the u32 is padded to 8 bytes)."""
    return _attr((0, "<I", fd), (8, "<QQQ", key, value, flags))


def map_lookup(fd: int, key: bytes, value_size: int):
    """The value bytes, or None when the key is absent."""
    kbuf = ctypes.create_string_buffer(key, len(key))
    vbuf = ctypes.create_string_buffer(value_size)
    try:
        sys_bpf(MAP_LOOKUP_ELEM, _elem_attr(fd, ctypes.addressof(kbuf), ctypes.addressof(vbuf)))
    except OSError as exc:
        if exc.errno == errno_mod.ENOENT:
            return None
        raise error(exc, "BPF map lookup failed") from None
    return vbuf.raw


def map_update(fd: int, key: bytes, value: bytes, flags: int = 0) -> None:
    kbuf = ctypes.create_string_buffer(key, len(key))
    vbuf = ctypes.create_string_buffer(value, len(value))
    try:
        sys_bpf(MAP_UPDATE_ELEM, _elem_attr(fd, ctypes.addressof(kbuf), ctypes.addressof(vbuf), flags))
    except OSError as exc:
        raise error(exc, "BPF map update failed") from None


def map_delete(fd: int, key: bytes) -> bool:
    kbuf = ctypes.create_string_buffer(key, len(key))
    try:
        sys_bpf(MAP_DELETE_ELEM, _elem_attr(fd, ctypes.addressof(kbuf), 0))
    except OSError as exc:
        if exc.errno == errno_mod.ENOENT:
            return False
        raise error(exc, "BPF map delete failed") from None
    return True


def map_keys(fd: int, key_size: int):
    """Every key of a hash map (``BPF_MAP_GET_NEXT_KEY`` from no key)."""
    out = []
    nbuf = ctypes.create_string_buffer(key_size)
    key_addr = 0
    kbuf = ctypes.create_string_buffer(key_size)
    while True:
        try:
            sys_bpf(MAP_GET_NEXT_KEY, _elem_attr(fd, key_addr, ctypes.addressof(nbuf)))
        except OSError as exc:
            if exc.errno == errno_mod.ENOENT:
                return out
            raise error(exc, "BPF map iteration failed") from None
        out.append(nbuf.raw)
        ctypes.memmove(kbuf, nbuf, key_size)
        key_addr = ctypes.addressof(kbuf)


def prog_load(prog_type: int, code: bytes, *, name: str = "", license: str = "GPL", log_level: int = 0,
              log_size: int = 1 << 20):
    """``BPF_PROG_LOAD``: {u32 prog_type, insn_cnt; u64 insns, license; u32 log_level, log_size; u64 log_buf;
    u32 kern_version, prog_flags; char prog_name[16]} -> (fd, the verifier's log). A refusal raises
    :class:`BpfError` carrying the log (the load is retried with a log when none was asked for)."""
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(log_size if log_level else 1)

    def attempt(level: int) -> int:
        attr = _attr((0, "<II", prog_type, len(code) // 8), (8, "<QQ", ctypes.addressof(insns), ctypes.addressof(lic)),
                     (24, "<II", level, log_size if level else 0), (32, "<Q", ctypes.addressof(log) if level else 0),
                     (48, f"{OBJ_NAME_LEN}s", _name(name)))
        return sys_bpf(PROG_LOAD, attr)

    try:
        fd = attempt(log_level)
    except OSError as exc:
        if not log_level:
            log = ctypes.create_string_buffer(log_size)
            try:
                attempt(1)
            except OSError:
                pass
        text = log.value.decode(errors="replace")
        raise error(exc, f"The kernel refused BPF program {name}", log=text) from None
    return fd, log.value.decode(errors="replace") if log_level else ""


def attach_perf_event(perf_fd: int, prog_fd: int, name: str = "") -> None:
    """``PERF_EVENT_IOC_SET_BPF``: run the program at each hit of the tracepoint or uprobe event."""
    try:
        fcntl.ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF, prog_fd)
    except OSError as exc:
        raise error(exc, f"Failed to attach the BPF program to {name or 'the event'}") from None


def error(exc: OSError, what: str, log: str = "") -> BpfError:
    err = exc.errno or errno_mod.EIO
    hint = None
    if err in (errno_mod.EPERM, errno_mod.EACCES):
        hint = ("Loading BPF programs and creating maps needs root or CAP_BPF with CAP_PERFMON; "
                "without them pyperf argdist counts in user space (from the ring buffer).")
    elif err == errno_mod.E2BIG or (err == errno_mod.ENOMEM and "map" in what):
        hint = "The map is too large for the locked-memory limit (ulimit -l) or the kernel's."
    return BpfError(f"{what}: {os.strerror(err)}", errno=err, hint=hint, log=log)


def possible_cpus() -> int:
    """The number of possible CPUs (``/sys/devices/system/cpu/possible``, e.g. ``0-3``): a per-CPU map's
    value as read from user space holds one slot for each."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
    except OSError:
        return os.cpu_count() or 1
    count = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
