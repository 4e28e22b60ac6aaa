"""Where the breakpoints go (a mixin of engine.Engine): the mappings of a process scanned for probed files,
an int3 at each probe's file offset in each executable mapping of its file, the SDT semaphores counted,
the dynamic linker's hook placed; and the out-of-line pages and slots, made at the first hit (xol.py)."""
from __future__ import annotations

import os
from typing import Optional

from pyperf_probe.errors import KernelError, ProbeError
from pyperf_probe.ptrace import inject, insn, procfs, xol
from pyperf_probe.ptrace.memory import MemoryError_
from pyperf_probe.ptrace.tracee import AddressSpace, Breakpoint, Process, Site, Thread
from pyperf_probe.ptrace.xol import free_page_near

SOLIB_HOOKS = ("_dl_debug_state", "_r_debug_state", "r_debug_state", "_rtld_debug_state")
AT_BASE = 7


class Placement:
    def _scan(self, proc: Process, th: Thread) -> None:
        """Read the process's mappings; report the new ones; put breakpoints in new mappings of probed
        files and count their semaphores. ``th`` is stopped (for the system calls of new pages)."""
        mm = proc.mm
        maps = procfs.read_maps(proc.pid)
        current = {(m.start, m.end, m.pgoff, m.ino, m.path) for m in maps}
        for key in mm.seen - current:  # unmapped (dlclose): its breakpoints went with the memory
            mm.seen.discard(key)
            for avma in [a for a in mm.breakpoints if key[0] <= a < key[1]]:
                del mm.breakpoints[avma]
        for m in maps:
            key = (m.start, m.end, m.pgoff, m.ino, m.path)
            if key in mm.seen:
                continue
            mm.seen.add(key)
            if mm.xol.contains(m.start):
                continue
            if "x" in m.perms or self.want_data_maps:
                self.sink.mmap(proc, m)
            if "x" in m.perms:
                for site in self.sites:
                    if site.matches(m) and m.pgoff <= site.file_offset < m.pgoff + (m.end - m.start):
                        self._place(proc, th, maps, site, m.start + site.file_offset - m.pgoff)
        for site in self.sites:
            if site.ref_ctr_offset:
                self._semaphore(mm, site, maps)

    def _place(self, proc: Process, th: Thread, maps, site: Site, avma: int) -> None:
        mm = proc.mm
        bp = mm.breakpoints.get(avma)
        if bp is None:
            try:
                bp = self._insert(proc, th, maps, avma, site.file_offset)
            except (ProbeError, ValueError, MemoryError_) as exc:
                self._warn(f"{site.name}: not placed in process {proc.pid} at {avma:#x}: {exc}")
                return
        if site.retprobe:
            if site not in bp.returns:
                bp.returns.append(site)
        elif site not in bp.entries:
            bp.entries.append(site)

    def _insert(self, proc: Process, th: Thread, maps, avma: int, file_offset: int) -> Breakpoint:
        """An int3 at ``avma`` (its out-of-line slot is made at its first hit, as uprobes does)."""
        mm = proc.mm
        code = mm.mem.read(avma, 16)
        if not code:
            raise MemoryError_(f"cannot read {avma:#x}")
        if code[0] == insn.INT3:
            raise ProbeError("there is already a breakpoint there (another debugger?)")
        step = insn.analyse(code, avma)
        bp = Breakpoint(avma, code[0], step, None, file_offset)
        mm.removed.discard(avma)
        mm.breakpoints[avma] = bp  # known before it is written: whatever happens next, the way out undoes it
        mm.mem.write(avma, bytes([insn.INT3]))
        return bp

    def _syscall_site(self, mm: AddressSpace, maps=None) -> int:
        if mm.syscall_site is None:
            mm.syscall_site = inject.find_syscall_site(maps or procfs.read_maps(next(iter(mm.users))), mm.mem)
            if mm.syscall_site is None:
                raise ProbeError("no vDSO in the process: cannot map an out-of-line page")
        return mm.syscall_site

    def _home(self, proc: Process, th: Thread) -> bool:
        """The address space's first page, mapped at its first probe hit as the kernel maps [uprobes]."""
        mm = proc.mm
        if mm.xol.pages:
            return True
        try:
            got = inject.mmap_hint(th.tid, self._syscall_site(mm), xol.MAX_ADDR - xol.PAGE, th.pending)
        except (ProbeError, KernelError) as exc:
            self._warn(f"process {proc.pid}: no out-of-line page: {exc}")
            return False
        if got < 0:
            self._warn(f"process {proc.pid}: no out-of-line page: {os.strerror(-got)}")
            return False
        mm.xol.set_home(got, mm.mem)
        self.sink.mmap(proc, _XolMap(got), "[uprobes]")
        return True

    def _slot(self, proc: Process, th: Thread, step) -> int:
        """A slot for ``step``'s copy: in a page within reach of its code, mapped now if needed."""
        mm = proc.mm
        maps = procfs.read_maps(proc.pid)
        site = self._syscall_site(mm, maps)
        limit = procfs.stack_limit(proc.pid)

        def alloc(target: int) -> Optional[int]:
            taken = [p.avma for p in mm.xol.pages]
            for cand in free_page_near(maps, target, taken, limit)[:8]:
                got = inject.mmap_xol(th.tid, site, cand, th.pending)
                if got == cand:
                    return cand
                if got >= 0:  # a kernel without MAP_FIXED_NOREPLACE put it elsewhere
                    inject.munmap(th.tid, site, got, xol.PAGE, th.pending)
            return None

        return mm.xol.place(step, mm.mem, alloc)

    def _no_slot(self, th: Thread, regs, bp: Breakpoint, why: str) -> None:
        """A probe whose instruction cannot run out of line here: put its byte back, run it in place."""
        mm = th.process.mm
        self._warn(f"process {th.process.pid}: probe at {bp.avma:#x} removed: {why}")
        try:
            mm.mem.write(bp.avma, bytes([bp.orig]))
        except MemoryError_:
            pass
        mm.breakpoints.pop(bp.avma, None)
        mm.removed.add(bp.avma)
        regs.rip = bp.avma

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)
            self.log.warning("%s", text)

    def _semaphore(self, mm: AddressSpace, site: Site, maps) -> None:
        """Increment the SDT marker's semaphore once per probe and address space (as uprobes'
        ref_ctr_offset does), in the writable mapping of the file that holds it."""
        for m in maps:
            if not site.matches(m) or "w" not in m.perms:
                continue
            if not m.pgoff <= site.ref_ctr_offset < m.pgoff + (m.end - m.start):
                continue
            key = (id(site), m.start)
            if key in mm.sem_done:
                return
            avma = m.start + site.ref_ctr_offset - m.pgoff
            try:
                value = int.from_bytes(mm.mem.read_exact(avma, 2), "little")
                mm.mem.write(avma, ((value + 1) & 0xFFFF).to_bytes(2, "little"))
            except MemoryError_ as exc:
                self.log.warning("%s: semaphore not incremented: %s", site.name, exc)
                return
            mm.sem_done.add(key)
            mm.semaphores[avma] = mm.semaphores.get(avma, 0) + 1
            return

    def _hook_solib(self, proc: Process, th: Thread) -> None:
        """A breakpoint on the dynamic linker's r_brk (found through AT_BASE), which rescans the mappings."""
        base = procfs.auxv(proc.pid, AT_BASE)
        if not base:
            return  # static: no dynamic linker, nothing is mapped later but by hand
        maps = procfs.read_maps(proc.pid)
        ld = next((m for m in maps if m.start == base and m.path.startswith("/")), None)
        if ld is None:
            return
        svma_off = self._hook_offset(ld.path)
        if svma_off is None:
            self.warnings.append(f"{ld.path}: no _dl_debug_state: libraries loaded later are not probed")
            return
        for m in maps:
            if m.path == ld.path and "x" in m.perms and m.pgoff <= svma_off < m.pgoff + (m.end - m.start):
                avma = m.start + svma_off - m.pgoff
                bp = proc.mm.breakpoints.get(avma)
                if bp is None:
                    try:
                        bp = self._insert(proc, th, maps, avma, svma_off)
                    except (ProbeError, ValueError, MemoryError_) as exc:
                        self.warnings.append(f"cannot follow dlopen in process {proc.pid}: {exc}")
                        return
                bp.internal = self._solib_event
                proc.mm.solib_hooked = True
                return

    def _solib_event(self, th: Thread) -> None:
        self._scan(th.process, th)

    def _hook_offset(self, path: str) -> Optional[int]:
        if path not in self._solib:
            self._solib[path] = procfs.symbol_file_offset(path, SOLIB_HOOKS)
        return self._solib[path]


class _XolMap:
    """A maps line for an out-of-line page (what the kernel's [uprobes] MMAP2 record says)."""

    def __init__(self, start: int):
        self.start, self.end, self.perms, self.pgoff = start, start + 4096, "r-xp", 0
        self.maj = self.min = self.ino = 0
        self.path = "[uprobes]"
