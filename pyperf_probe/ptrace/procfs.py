"""What the tracer reads of its tracees in /proc (and two system calls about them): maps, threads, status
fields, the auxiliary vector, limits; and where a symbol of an ELF file is (the dynamic linker's hook)."""
from __future__ import annotations

import ctypes
import os
import struct
from typing import List, Optional, Sequence

from pyperf_probe.ptrace import syscalls as sc

SYS_KCMP, KCMP_VM = 312, 1


def read_maps(pid: int):
    from pyperf_probe.perfdata.synth import parse_maps_line
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.readlines()
    except OSError:
        return []
    return [m for m in (parse_maps_line(line) for line in lines) if m is not None]


def tasks(pid: int) -> List[int]:
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []


def status_field(tid: int, name: str) -> Optional[str]:
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split(None, 1)[1].strip()
    except OSError:
        pass
    return None


def tgid(tid: int) -> int:
    value = status_field(tid, "Tgid")
    return int(value) if value else tid


def ppid(pid: int) -> int:
    value = status_field(pid, "PPid")
    return int(value) if value else 0


def pending_mask(tid: int) -> int:
    mask = 0
    for name in ("SigPnd", "ShdPnd"):
        value = status_field(tid, name)
        mask |= int(value, 16) if value else 0
    return mask


def stack_limit(pid: int) -> int:
    """The tracee's RLIMIT_STACK soft limit (0: unlimited, or unknown)."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max stack size"):
                    value = line.split()[3]
                    return 0 if value == "unlimited" else int(value)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def readlink(path: str) -> Optional[str]:
    try:
        return os.readlink(path)
    except OSError:
        return None


def auxv(pid: int, key: int) -> int:
    try:
        with open(f"/proc/{pid}/auxv", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    for k, v in struct.iter_unpack("<QQ", data[:len(data) // 16 * 16]):
        if k == key:
            return v
    return 0


_libc = None


def same_vm(pid1: int, pid2: int) -> bool:
    """kcmp(KCMP_VM): whether two processes share one address space (a clone with CLONE_VM)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.syscall(SYS_KCMP, pid1, pid2, KCMP_VM, 0, 0) == 0


def waitpid_tid(tid: int):
    while True:
        try:
            return os.waitpid(tid, sc.WALL)
        except InterruptedError:
            continue


def symbol_file_offset(path: str, names: Sequence[str]) -> Optional[int]:
    """The file offset of the first of ``names`` in the ELF's .dynsym or .symtab."""
    from pyperf_probe.errors import SymbolError
    from pyperf_probe.symbols.elf import open_elf
    from pyperf_probe.symbols.symtab import read_elf_symbols
    try:
        image = open_elf(path)
        found = {}
        for section in (".dynsym", ".symtab"):
            for name, svma, _size, _type, _bind in read_elf_symbols(image, section):
                found.setdefault(name.split("@", 1)[0], svma)
        for name in names:
            if name in found:
                return image.svma_to_file_offset(found[name])
    except (SymbolError, OSError):
        return None
    return None
