"""``perf_event_open(2)`` through ctypes, its ioctls, and ``read()`` of counters.

The attr bytes come from ``perfdata.format.EventAttr.pack`` (fixed-width little-endian fields, exactly what
``struct perf_event_attr`` is on every 64-bit Linux ABI we run on), so the kernel sees the same bytes that
``pyperf record`` writes into perf.data. Syscall numbers and ioctl encodings are per architecture
(``arch/*/include/uapi/asm/unistd*.h``, ``include/uapi/asm-generic/ioctl.h``); no ``c_ulong`` stands for a
``__u64``.

Kernel reference: include/uapi/linux/perf_event.h, kernel/events/core.c (``perf_read_one``,
``perf_read_group``); perf's wording for open errors: tools/perf/util/evsel.c ``evsel__open_strerror``.
"""
from __future__ import annotations

import ctypes
import dataclasses
import errno as errno_mod
import fcntl
import os
import platform
import struct
from typing import Optional, Tuple

from pyperf_probe.errors import KernelError
from pyperf_probe.perfdata.format import EventAttr, ReadFormat

# perf_event_open(2) flags
PERF_FLAG_FD_NO_GROUP = 1 << 0
PERF_FLAG_FD_OUTPUT = 1 << 1
PERF_FLAG_PID_CGROUP = 1 << 2
PERF_FLAG_FD_CLOEXEC = 1 << 3

# ioctl flag: apply ENABLE/DISABLE/RESET to the whole group
PERF_IOC_FLAG_GROUP = 1

# __NR_perf_event_open by `platform.machine()`
_SYSCALL_NR = {
    "x86_64": 298, "amd64": 298,
    "i386": 336, "i486": 336, "i586": 336, "i686": 336,
    "aarch64": 241, "arm64": 241, "riscv64": 241, "loongarch64": 241,
    "armv7l": 364, "armv6l": 364, "armv8l": 364,
    "ppc64le": 319, "ppc64": 319, "ppc": 319,
    "s390x": 331,
    "mips64": 5296,  # n64 ABI
}

# _IOC encoding: (dir_none, dir_write, dir_read, dir_shift, size_bits). asm-generic is used by x86, arm,
# arm64, riscv, s390, loongarch; powerpc, mips and sparc use 3 direction bits at bit 29 and 13 size bits.
_IOC_GENERIC = (0, 1, 2, 30, 14)
_IOC_OLD = (1, 4, 2, 29, 13)


def _ioc_layout(machine: str):
    return _IOC_OLD if machine.startswith(("ppc", "mips", "sparc")) else _IOC_GENERIC


def _ioc(direction: int, nr: int, size: int, machine: Optional[str] = None) -> int:
    """``_IOC(dir, '$', nr, size)`` for the running (or named) architecture."""
    _, _, _, dir_shift, _ = _ioc_layout(machine or platform.machine())
    return (direction << dir_shift) | (size << 16) | (ord("$") << 8) | nr


def _ioctl_numbers(machine: str):
    none, write, read, _, _ = _ioc_layout(machine)
    return {
        "ENABLE": _ioc(none, 0, 0, machine),
        "DISABLE": _ioc(none, 1, 0, machine),
        "REFRESH": _ioc(none, 2, 0, machine),
        "RESET": _ioc(none, 3, 0, machine),
        "PERIOD": _ioc(write, 4, 8, machine),
        "SET_OUTPUT": _ioc(none, 5, 0, machine),
        "SET_FILTER": _ioc(write, 6, 8, machine),  # _IOW('$', 6, char *)
        "ID": _ioc(read, 7, 8, machine),  # _IOR('$', 7, __u64 *)
        "PAUSE_OUTPUT": _ioc(write, 9, 4, machine),
    }


_MACHINE = platform.machine()
IOC = _ioctl_numbers(_MACHINE)

_libc = None


def syscall_number(machine: Optional[str] = None) -> int:
    machine = machine or _MACHINE
    try:
        return _SYSCALL_NR[machine]
    except KeyError:
        raise KernelError(f"perf_event_open: unknown syscall number for architecture '{machine}'",
                          errno=errno_mod.ENOSYS) from None


def _syscall():
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        libc.syscall.argtypes = [ctypes.c_long, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_ulong]
        _libc = libc
    return _libc.syscall


def open_event(attr: EventAttr, pid: int, cpu: int, group_fd: int = -1, flags: int = PERF_FLAG_FD_CLOEXEC,
               *, name: str = "") -> int:
    """``perf_event_open(&attr, pid, cpu, group_fd, flags)``; returns the new fd.

    ``name`` (``GROUP:EVENT``) only makes error messages say which event failed.
    """
    raw = attr.pack()
    fd = _syscall()(syscall_number(), raw, pid, cpu, group_fd, flags)
    if fd < 0:
        err = ctypes.get_errno()
        raise open_error(err, name or f"type {attr.type} config {attr.config}", pid=pid, cpu=cpu)
    return fd


def _paranoid() -> str:
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            return f.read().strip()
    except OSError:
        return "?"


def open_error(err: int, name: str, *, pid: int = -1, cpu: int = -1) -> KernelError:
    """A perf_event_open failure as ``evsel__open_strerror`` words it, with a hint on what to do."""
    if err in (errno_mod.EACCES, errno_mod.EPERM):
        return KernelError(
            f"Error:\nNo permission to enable {name} event.\n\n"
            "Access to performance monitoring and observability operations is limited.",
            errno=err,
            hint=("Run as root, or lower /proc/sys/kernel/perf_event_paranoid (now "
                  f"{_paranoid()}; -1 allows all events to all users), or give the program CAP_PERFMON.\n"
                  "Tracepoint and uprobe events also need read access to /sys/kernel/tracing."))
    if err == errno_mod.ESRCH:
        return KernelError(f"Error:\nThe sys_perf_event_open() syscall returned with 3 (No such process) "
                           f"for event ({name}).\nThread {pid} does not exist (any more).", errno=err)
    if err in (errno_mod.ENOENT, errno_mod.ENODEV, errno_mod.EOPNOTSUPP):
        return KernelError(f"Error:\nThe {name} event is not supported.", errno=err,
                           hint="The event may have been removed from tracefs since it was looked up, or this "
                                "kernel does not support it (CONFIG_UPROBE_EVENTS, CONFIG_PERF_EVENTS).")
    if err == errno_mod.EMFILE:
        return KernelError("Error:\nToo many events are opened.\nProbably the maximum number of open file "
                           "descriptors has been reached.", errno=err,
                           hint="Hint: Try again after reducing the number of events.\n"
                                "Hint: Try increasing the limit with 'ulimit -n <limit>'")
    if err == errno_mod.ENOSYS:
        return KernelError("Error:\nThe sys_perf_event_open() syscall is not available in this kernel "
                           "(CONFIG_PERF_EVENTS is not set).", errno=err)
    if err == errno_mod.EBUSY:
        return KernelError(f"Error:\nThe {name} event is busy (another tool holds it exclusively).", errno=err)
    cpu_text = f" on CPU {cpu}" if cpu >= 0 else ""
    return KernelError(f"Error:\nThe sys_perf_event_open() syscall returned with {err} ({os.strerror(err)}) "
                       f"for event ({name}){cpu_text}.", errno=err,
                       hint="/bin/dmesg | grep -i perf may provide additional information.")


def _ioctl(fd: int, request: str, arg=0):
    try:
        return fcntl.ioctl(fd, IOC[request], arg)
    except OSError as exc:
        raise KernelError(f"ioctl(PERF_EVENT_IOC_{request}) failed: {os.strerror(exc.errno)}",
                          errno=exc.errno) from exc


def enable(fd: int, group: bool = False) -> None:
    """``PERF_EVENT_IOC_ENABLE``."""
    _ioctl(fd, "ENABLE", PERF_IOC_FLAG_GROUP if group else 0)


def disable(fd: int, group: bool = False) -> None:
    """``PERF_EVENT_IOC_DISABLE``."""
    _ioctl(fd, "DISABLE", PERF_IOC_FLAG_GROUP if group else 0)


def set_output(fd: int, target_fd: int) -> None:
    """``PERF_EVENT_IOC_SET_OUTPUT``: records of ``fd`` go to ``target_fd``'s ring buffer (same CPU)."""
    _ioctl(fd, "SET_OUTPUT", target_fd)


def event_id(fd: int) -> int:
    """``PERF_EVENT_IOC_ID``: the kernel's id for this fd (what samples carry in ID/IDENTIFIER)."""
    buf = bytearray(8)
    _ioctl(fd, "ID", buf)
    return struct.unpack("<Q", buf)[0]


def set_filter(fd: int, expr: str, *, name: str = "") -> None:
    """``PERF_EVENT_IOC_SET_FILTER`` with a tracepoint filter (``common_pid != 42 && n > 3``).

    A rejected filter raises with perf's wording (``record.c``: "failed to set filter ...").
    """
    try:
        fcntl.ioctl(fd, IOC["SET_FILTER"], expr.encode() + b"\0")
    except OSError as exc:
        raise KernelError(f"failed to set filter \"{expr}\" on event {name or fd} with "
                          f"{exc.errno} ({os.strerror(exc.errno)})", errno=exc.errno,
                          hint="The filter syntax is the kernel's (Documentation/trace/events.rst, "
                               "'Event filtering'), on the fields of the event's format file.") from exc


@dataclasses.dataclass(frozen=True)
class Count:
    """One counter as ``read()`` returns it (``struct read_format``); fields absent from read_format are None."""

    value: int
    time_enabled: Optional[int] = None
    time_running: Optional[int] = None
    id: Optional[int] = None
    lost: Optional[int] = None

    def scaled(self) -> int:
        """The value scaled for multiplexing, as perf stat does: value * enabled / running."""
        if not self.time_enabled or not self.time_running or self.time_running >= self.time_enabled:
            return self.value
        return int(self.value * self.time_enabled / self.time_running + 0.5)


def read_size(read_format: int, nr_members: int = 1) -> int:
    """Bytes ``read()`` returns for this read_format (and group size)."""
    per_value = 1 + bool(read_format & ReadFormat.ID) + bool(read_format & ReadFormat.LOST)
    times = bool(read_format & ReadFormat.TOTAL_TIME_ENABLED) + bool(read_format & ReadFormat.TOTAL_TIME_RUNNING)
    if read_format & ReadFormat.GROUP:
        return 8 * (1 + times + nr_members * per_value)
    return 8 * (times + per_value)


def _read_exact(fd: int, size: int) -> bytes:
    try:
        data = os.read(fd, size)
    except OSError as exc:
        raise KernelError(f"read() of a perf event counter failed: {os.strerror(exc.errno)}",
                          errno=exc.errno) from exc
    if len(data) != size:
        raise KernelError(f"read() of a perf event counter returned {len(data)} bytes, expected {size}",
                          errno=errno_mod.EIO)
    return data


def read_count(fd: int, read_format: int) -> Count:
    """``read()`` one counter (read_format without GROUP):
    ``{value; [time_enabled]; [time_running]; [id]; [lost]}``."""
    if read_format & ReadFormat.GROUP:
        raise KernelError("read_count: read_format has PERF_FORMAT_GROUP; use read_group", errno=errno_mod.EINVAL)
    words = iter(struct.unpack(f"<{read_size(read_format) // 8}Q", _read_exact(fd, read_size(read_format))))
    value = next(words)
    enabled = next(words) if read_format & ReadFormat.TOTAL_TIME_ENABLED else None
    running = next(words) if read_format & ReadFormat.TOTAL_TIME_RUNNING else None
    ident = next(words) if read_format & ReadFormat.ID else None
    lost = next(words) if read_format & ReadFormat.LOST else None
    return Count(value, enabled, running, ident, lost)


def read_group(fd: int, read_format: int, nr_members: int) -> Tuple[Count, ...]:
    """``read()`` a group leader with PERF_FORMAT_GROUP:
    ``{nr; [time_enabled]; [time_running]; {value; [id]; [lost]} cntr[nr]}``."""
    size = read_size(read_format, nr_members)
    words = iter(struct.unpack(f"<{size // 8}Q", _read_exact(fd, size)))
    nr = next(words)
    enabled = next(words) if read_format & ReadFormat.TOTAL_TIME_ENABLED else None
    running = next(words) if read_format & ReadFormat.TOTAL_TIME_RUNNING else None
    counts = []
    for _ in range(nr):
        value = next(words)
        ident = next(words) if read_format & ReadFormat.ID else None
        lost = next(words) if read_format & ReadFormat.LOST else None
        counts.append(Count(value, enabled, running, ident, lost))
    return tuple(counts)


def close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
