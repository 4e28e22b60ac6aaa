"""The way out (a mixin of engine.Engine): every remaining thread stopped, each address space put back as
it was (breakpoint bytes, return addresses, semaphores, threads inside a slot moved to the original code,
the pages unmapped), then every thread detached with the signal it had pending."""
from __future__ import annotations

import os
import signal
from typing import Sequence

from pyperf_probe.errors import KernelError
from pyperf_probe.ptrace import inject, procfs
from pyperf_probe.ptrace import syscalls as sc
from pyperf_probe.ptrace.memory import MemoryError_
from pyperf_probe.ptrace.tracee import AddressSpace, Thread


class Detach:
    def shutdown(self) -> None:
        """Stop every remaining thread, restore every address space, detach; then the signal handlers of
        before ``catch_signals``."""
        try:
            self._shutdown()
        finally:
            self._restore_signals()

    def _shutdown(self) -> None:
        if not self.threads:
            return
        self.stopping = True
        for th in list(self.threads.values()):
            if th.state in ("running", "listening", "new"):
                try:
                    sc.interrupt(th.tid)
                except sc.PtraceError:
                    pass
        while any(th.state != "stopped" for th in self.threads.values()):
            try:
                tid, status = os.waitpid(-1, sc.WALL)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            try:
                self._dispatch(tid, status)
            except Exception as exc:  # (the consumer failing, say) the thread is held all the same
                self.log.warning("while detaching thread %d: %s", tid, exc)
                if tid in self.threads and os.WIFSTOPPED(status):
                    self.threads[tid].state = "stopped"
        spaces = {}
        for proc in self.processes.values():
            spaces.setdefault(id(proc.mm), (proc.mm, []))[1].append(proc)
        for mm, procs in spaces.values():
            threads = [th for p in procs for th in p.threads.values()]
            try:
                self._restore(mm, threads)
            except (OSError, sc.PtraceError, KernelError) as exc:
                self.log.warning("restoring process %s: %s", procs[0].pid, exc)
        for th in list(self.threads.values()):
            sig = th.pending.pop(0) if th.pending else 0
            try:
                sc.detach(th.tid, sig)
            except sc.PtraceError:
                pass
            th.close()
        for mm, _ in spaces.values():
            mm.close()
        self.threads.clear()

    def _restore(self, mm: AddressSpace, threads: Sequence[Thread]) -> None:
        mem = mm.mem
        for th in threads:
            try:
                regs = sc.getregs(th.tid)
            except sc.PtraceError:
                continue
            changed = False
            for ri in reversed(th.returns):  # put back the return addresses the trampoline took
                try:
                    if mem.read_u64(ri.stack) == mm.xol.trampoline():
                        mem.write_u64(ri.stack, ri.orig_ret)
                except MemoryError_:
                    pass
            th.returns = []
            if th.resume_at is not None:  # a hit whose handling failed: it goes on where it trapped
                regs.rip, th.resume_at = th.resume_at, None
                changed = True
            slot = mm.xol.slot_start(regs.rip)
            if slot is not None:  # in a slot: the copy not run yet (its start), or run (its jump back)
                bp = next((b for b in mm.breakpoints.values() if b.slot == slot), None)
                if bp is not None:
                    regs.rip = bp.avma if regs.rip == slot else bp.step.next_avma
                    changed = True
            if changed:
                sc.setregs(th.tid, regs)
        for avma, bp in list(mm.breakpoints.items()):
            try:
                mem.write(avma, bytes([bp.orig]))
            except MemoryError_:
                pass
        mm.breakpoints.clear()
        for avma, count in mm.semaphores.items():
            try:
                value = int.from_bytes(mem.read_exact(avma, 2), "little")
                mem.write(avma, ((value - count) & 0xFFFF).to_bytes(2, "little"))
            except MemoryError_:
                pass
        mm.semaphores.clear()
        if mm.xol.pages and mm.syscall_site is not None and threads:
            th = threads[0]
            for page in mm.xol.pages:
                inject.munmap(th.tid, mm.syscall_site, page.avma, 4096, th.pending)
            mm.xol.pages = []

    def _trap_pending(self, th: Thread) -> bool:
        """Whether an interrupted thread has its int3's SIGTRAP still queued (it stopped for the interrupt
        between the trap and its delivery)."""
        try:
            regs = sc.getregs(th.tid)
        except sc.PtraceError:
            return False
        mm = th.process.mm
        if regs.rip - 1 not in mm.breakpoints and not (mm.xol.pages and regs.rip - 1 == mm.xol.trampoline()):
            return False
        return bool(procfs.pending_mask(th.tid) & (1 << (signal.SIGTRAP - 1)))
