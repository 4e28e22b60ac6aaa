"""What the tracer knows of its tracees (after python-ptrace's model: the debugger owns processes, a
process its threads; breakpoints belong to the address space, which processes share after vfork).

* ``Site``: a probe as the engine places it (a file by device and inode, as uprobes identify it, and a
  file offset), with the event it feeds.
* ``Breakpoint``: one int3 at an avma, the byte it replaced, how its instruction runs (insn.Step and its
  out-of-line slot), and the entry and return probes there.
* ``AddressSpace``: an mm: its /proc/PID/mem, breakpoints, out-of-line pages, the mappings already seen,
  the SDT semaphores incremented, and the processes using it.
* ``Process`` and ``Thread``; a thread has its pending return-probe instances (the return addresses it
  had when it entered probed functions, innermost last).
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Set, Tuple

from pyperf_probe.ptrace.memory import Memory
from pyperf_probe.ptrace.xol import XolArea


class Site:
    """One probe: ``index`` of its event, the file (``path``, ``dev`` (major, minor), ``ino``),
    ``file_offset``, ``retprobe``, ``ref_ctr_offset`` (an SDT semaphore's file offset, 0: none), ``name``
    (GROUP:EVENT). ``layout`` is filled by the consumer of hits (the RAW bytes of its records)."""

    def __init__(self, index: int, name: str, path: str, file_offset: int, retprobe: bool = False,
                 ref_ctr_offset: int = 0, args=()):
        st = os.stat(path)
        self.index, self.name, self.path = index, name, path
        self.dev, self.ino = (os.major(st.st_dev), os.minor(st.st_dev)), st.st_ino
        self.file_offset, self.retprobe, self.ref_ctr_offset = file_offset, retprobe, ref_ctr_offset
        self.args = tuple(args)
        self.layout = None

    def matches(self, m) -> bool:
        """Whether a /proc maps line maps this probe's file: its inode on its device, as uprobes match;
        else its path (an overlay file system shows the lower layer's device and inode in maps; a file
        replaced since it was mapped shows as "PATH (deleted)")."""
        return (m.ino == self.ino and (m.maj, m.min) == self.dev) or m.path == self.path


class Breakpoint:
    __slots__ = ("avma", "orig", "step", "slot", "entries", "returns", "internal", "file_offset")

    def __init__(self, avma: int, orig: int, step, slot: Optional[int], file_offset: int):
        self.avma, self.orig, self.step, self.slot, self.file_offset = avma, orig, step, slot, file_offset
        self.entries: List[Site] = []
        self.returns: List[Site] = []
        self.internal = None  # a callable(thread) run on a hit (the dynamic linker's r_brk)

    def copy(self) -> "Breakpoint":
        out = Breakpoint(self.avma, self.orig, self.step, self.slot, self.file_offset)
        out.entries, out.returns, out.internal = list(self.entries), list(self.returns), self.internal
        return out


class AddressSpace:
    def __init__(self, pid: int):
        self.mem = Memory(pid)
        self.breakpoints: Dict[int, Breakpoint] = {}
        self.removed: Set[int] = set()  # avmas of breakpoints taken out while a trap may be pending
        self.xol = XolArea()
        self.seen: Set[Tuple] = set()  # maps lines already handled (start, end, pgoff, ino, path)
        self.semaphores: Dict[int, int] = {}  # avma -> increments made there
        self.sem_done: Set[Tuple[int, int]] = set()  # (site id, mapping start) already counted
        self.syscall_site: Optional[int] = None
        self.users: Set[int] = set()  # pids of the processes using it
        self.solib_hooked = False

    def fork_copy(self, pid: int) -> "AddressSpace":
        """The child's address space after fork: a copy of the memory, so of the bookkeeping."""
        out = AddressSpace(pid)
        out.breakpoints = {a: b.copy() for a, b in self.breakpoints.items()}
        out.removed = set(self.removed)
        out.xol = self.xol.copy()
        out.seen = set(self.seen)
        out.semaphores = dict(self.semaphores)
        out.sem_done = set(self.sem_done)
        out.syscall_site, out.solib_hooked = self.syscall_site, self.solib_hooked
        return out

    def close(self) -> None:
        self.mem.close()


class Process:
    def __init__(self, pid: int, ppid: int, mm: AddressSpace):
        self.pid, self.ppid, self.mm = pid, ppid, mm
        self.threads: Dict[int, "Thread"] = {}
        mm.users.add(pid)
        self.exe: Optional[str] = None


class ReturnInstance:
    """A return address replaced by the trampoline: the probe's breakpoint, the original return address,
    the stack pointer at entry (where the address is), chained (a tail call from a probed function whose
    return was already taken: its original return address is the previous instance's)."""

    __slots__ = ("bp", "orig_ret", "stack", "chained")

    def __init__(self, bp: Breakpoint, orig_ret: int, stack: int, chained: bool):
        self.bp, self.orig_ret, self.stack, self.chained = bp, orig_ret, stack, chained


class Thread:
    """``state``: 'new' (created, first stop not seen), 'running', 'stopped' (in a ptrace-stop we hold),
    'listening' (group-stop after PTRACE_LISTEN)."""

    def __init__(self, tid: int, process: Process):
        self.tid, self.process = tid, process
        self.state = "new"
        self.returns: List[ReturnInstance] = []
        self.pending: List[int] = []  # signals to deliver when it goes on
        self.comm: Optional[str] = None
        self.resume_at: Optional[int] = None  # a hit being handled: where it goes on if handling fails
        self._stat_fd = -1
        process.threads[tid] = self

    def stat(self) -> Tuple[Optional[str], int]:
        """(comm, CPU it last ran on) from /proc/PID/task/TID/stat, one pread on a file kept open."""
        if self._stat_fd < 0:
            try:
                self._stat_fd = os.open(f"/proc/{self.process.pid}/task/{self.tid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None, 0
        try:
            data = os.pread(self._stat_fd, 1024, 0)
        except OSError:
            return None, 0
        open_, close = data.find(b"("), data.rfind(b")")
        fields = data[close + 2:].split(b" ", 37)
        cpu = int(fields[36]) if len(fields) > 37 else 0  # field 39, 'processor'
        return data[open_ + 1:close].decode(errors="replace"), cpu

    def close(self) -> None:
        if self._stat_fd >= 0:
            os.close(self._stat_fd)
            self._stat_fd = -1
