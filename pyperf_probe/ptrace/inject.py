"""Running a system call inside a stopped tracee (mmap and munmap of the out-of-line pages).

The thread's registers are saved, set to the call (``orig_rax = -1``, so that an interrupted system call
the thread was in is not restarted into ours), its %rip to a ``syscall`` instruction of the process's
vDSO, and it is single-stepped over that one instruction; then the registers are put back. Nothing in the
tracee's memory is modified, so other threads may run meanwhile. Two single-step details of Linux: a
thread stopped at the end of a system call (an exec event) reports the step trap before executing
anything (SYSCALL_EXIT_TRAP), and a signal may arrive first; both are stepped again, and such a signal is
handed back to be delivered later.
"""
from __future__ import annotations

import os
import signal
from typing import List, Optional

from pyperf_probe.errors import KernelError
from pyperf_probe.ptrace import syscalls as sc

SYS_MMAP, SYS_MUNMAP = 9, 11
PROT_READ, PROT_EXEC = 1, 4
MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE = 0x02, 0x20, 0x100000
_MAX_STEPS = 16


class ThreadGone(Exception):
    """The thread ended while the tracer waited for it alone: ``status`` is its exit status, which the
    engine's own loop will not see again."""

    def __init__(self, tid: int, status: int):
        super().__init__(f"thread {tid} ended")
        self.tid, self.status = tid, status


def find_syscall_site(maps_lines, mem) -> Optional[int]:
    """The address of a ``syscall`` instruction (0f 05) in the process's [vdso]."""
    for m in maps_lines:
        if m.path == "[vdso]":
            data = mem.read(m.start, m.end - m.start)
            at = data.find(b"\x0f\x05")
            return m.start + at if at >= 0 else None
    return None


def syscall(tid: int, site: int, nr: int, args: List[int], pending: List[int]) -> int:
    """Run system call ``nr`` in stopped thread ``tid`` through the instruction at ``site``; returns its
    result (a negative errno on failure). Signals that arrived meanwhile are appended to ``pending``."""
    saved = sc.getregs(tid)
    regs = sc.copy_regs(saved)
    regs.rax, regs.orig_rax, regs.rip = nr, 0xFFFFFFFFFFFFFFFF, site
    for name, value in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
        setattr(regs, name, value & 0xFFFFFFFFFFFFFFFF)
    sc.setregs(tid, regs)
    try:
        for _ in range(_MAX_STEPS):
            sc.singlestep(tid)
            status = wait_stop(tid)
            sig = os.WSTOPSIG(status)
            if sig != signal.SIGTRAP or sc.stop_event(status):
                if not sc.stop_event(status):
                    pending.append(sig)
                continue
            now = sc.getregs(tid)
            if now.rip == site + 2:
                result = now.rax
                return result - (1 << 64) if result >= 1 << 63 else result
        raise KernelError(f"could not run system call {nr} in thread {tid}")
    finally:
        sc.setregs(tid, saved)


def wait_stop(tid: int) -> int:
    while True:
        try:
            pid, status = os.waitpid(tid, sc.WALL)
        except InterruptedError:
            continue
        if os.WIFSTOPPED(status):
            return status
        raise ThreadGone(tid, status)


def mmap_xol(tid: int, site: int, hint: int, pending: List[int]) -> int:
    """A page of PROT_READ|PROT_EXEC anonymous memory at ``hint`` exactly (MAP_FIXED_NOREPLACE); returns
    its address or a negative errno."""
    return syscall(tid, site, SYS_MMAP, [hint, 4096, PROT_READ | PROT_EXEC,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0], pending)


def mmap_hint(tid: int, site: int, hint: int, pending: List[int]) -> int:
    """A page of PROT_READ|PROT_EXEC anonymous memory where the kernel puts a hinted mapping (the call
    kernel/events/uprobes.c ``xol_add_vma`` makes for the [uprobes] page); its address or -errno."""
    return syscall(tid, site, SYS_MMAP, [hint, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0],
                   pending)


def munmap(tid: int, site: int, avma: int, size: int, pending: List[int]) -> int:
    return syscall(tid, site, SYS_MUNMAP, [avma, size], pending)
