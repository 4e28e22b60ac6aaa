"""The tracer: breakpoints in every process and thread of a workload (or of processes attached with -p),
one ``waitpid(-1, __WALL)`` loop for all of them, and a clean way out on every path.

Following tasks: PTRACE_SEIZE with TRACEFORK/VFORK/CLONE/EXEC, so every thread and process the tracee
starts is traced from its first instruction. A fork child has a copy of its parent's memory, breakpoints
and out-of-line pages included, so it gets a copy of the bookkeeping; a vfork child (or a clone with
CLONE_VM) shares it; a thread shares its process's. An exec drops the address space: the new image's
mappings are scanned for probed files (device and inode, as uprobes match), and a breakpoint is placed on
the dynamic linker's debugger hook (``_dl_debug_state``, the ``r_brk`` of ``struct r_debug`` that gdb
uses), which ld.so calls after it maps the program's libraries and at every dlopen/dlclose; each of its
hits rescans the mappings, so libraries loaded later get their breakpoints before any of their code runs.

Each hit of a probe: the thread stops on its int3, the consumer (``Sink``) is given the registers as the
kernel's handler would see them (%rip = the probed address), the instruction runs from its out-of-line
slot or is emulated (insn.py), the thread goes on. Return probes replace the return address on the stack
with the trampoline at the start of the out-of-line page, as uprobes do (kernel/events/uprobes.c
``prepare_uretprobe``/``handle_trampoline``, their chained and longjmp cases and their depth limit).

The way out (``shutdown``): every thread is stopped (PTRACE_INTERRUPT), each breakpoint's byte is put back,
each replaced return address restored, threads inside an out-of-line slot moved to the equivalent place in
the original code, SDT semaphores decremented, the pages unmapped, then every thread is detached with the
signal it had pending: the processes go on as if never traced. ``run`` calls it on every exit, a Python
error included; SIGINT, SIGTERM and SIGHUP end the loop. A workload pyperf started is traced with
PTRACE_O_EXITKILL: if pyperf is killed with SIGKILL it dies with it (its breakpoints could not be
removed); processes attached with -p are not, and the kernel detaches them.
"""
from __future__ import annotations

import ctypes
import errno as errno_mod
import logging
import os
import signal
from typing import Callable, Dict, List, Optional, Sequence

from pyperf_probe.errors import KernelError, ProbeError
from pyperf_probe.ptrace import inject, insn, xol
from pyperf_probe.ptrace import syscalls as sc
from pyperf_probe.ptrace.memory import MemoryError_
from pyperf_probe.ptrace.tracee import AddressSpace, Breakpoint, Process, ReturnInstance, Site, Thread
from pyperf_probe.ptrace.xol import free_page_near

log = logging.getLogger("pyperf")

MAX_URETPROBE_DEPTH = 64  # kernel/events/uprobes.c: deeper return probes are not taken
STOP_SIGNALS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
SOLIB_HOOKS = ("_dl_debug_state", "_r_debug_state", "r_debug_state", "_rtld_debug_state")
AT_BASE = 7
SYS_KCMP, KCMP_VM = 312, 1


class Sink:
    """What the engine tells its consumer (the recorder, the counter). Every method is optional."""

    def entry(self, thread: Thread, site: Site, regs, bp: Breakpoint) -> None:
        """A hit of entry probe ``site``: ``regs`` as the handler sees them (rip = the probed avma)."""

    def ret(self, thread: Thread, site: Site, regs, func: int, ret_ip: int) -> None:
        """A return of the probed function at ``func`` to ``ret_ip`` (regs.rip = ret_ip)."""

    def task(self, kind: str, thread: Thread, parent: Optional[Thread]) -> None:
        """kind 'fork' (a new process or thread, its creator ``parent``), 'exit', 'exec', 'attach'."""

    def mmap(self, process: Process, mapping, name: Optional[str] = None) -> None:
        """A mapping (a /proc maps line) seen for the first time; ``name`` overrides its path."""


class Engine:
    def __init__(self, sites: Sequence[Site], sink: Sink, *, want_data_maps: bool = False):
        self.sites = list(sites)
        self.sink = sink
        self.want_data_maps = want_data_maps
        self.threads: Dict[int, Thread] = {}
        self.processes: Dict[int, Process] = {}
        self.early: Dict[int, int] = {}  # stops of tasks seen before their creator's event
        self.stopping = False
        self.stop_signal: Optional[int] = None
        self.roots: List[int] = []  # the workload, or the attached processes
        self.root_status: Dict[int, int] = {}
        self.warnings: List[str] = []
        self._solib: Dict[str, Optional[int]] = {}
        self._old_handlers = {}

    # ---- starting ----------------------------------------------------------------------------------

    def spawn(self, pid: int) -> None:
        """Trace a forked child that has not exec'd yet (record.workload holds it on a pipe): its exec
        will stop it with the new image mapped."""
        sc.seize(pid, sc.FOLLOW | sc.O_EXITKILL)
        proc = Process(pid, os.getpid(), AddressSpace(pid))
        self.processes[pid] = proc
        th = Thread(pid, proc)
        th.state = "running"
        self.threads[pid] = th
        self.roots.append(pid)

    def attach(self, pid: int) -> None:
        """-p: trace every thread of a running process (threads created meanwhile included), place the
        breakpoints while all of them are stopped, let them go."""
        proc = Process(pid, _ppid(pid), AddressSpace(pid))
        self.processes[pid] = proc
        self.roots.append(pid)
        seen: set = set()
        while True:
            tids = [t for t in _tasks(pid) if t not in seen]
            if not tids:
                break
            for tid in tids:
                seen.add(tid)
                if tid in self.threads:  # created by a thread already traced: followed by TRACECLONE
                    continue
                try:
                    sc.seize(tid, sc.FOLLOW)
                    sc.interrupt(tid)
                except sc.PtraceError as exc:
                    if exc.errno == errno_mod.ESRCH:
                        continue
                    raise KernelError(f"Cannot trace process {pid} (thread {tid}): {os.strerror(exc.errno)}"
                                      + (": ptrace needs the same user, or CAP_SYS_PTRACE"
                                         if exc.errno == errno_mod.EPERM else ""), errno=exc.errno) from None
                th = Thread(tid, proc)
                self.threads[tid] = th
        if not proc.threads:
            raise KernelError(f"Problems finding threads of monitor (process {pid})", errno=errno_mod.ESRCH)
        for th in list(proc.threads.values()):
            self._wait_stopped(th)
        for th in proc.threads.values():
            self.sink.task("attach", th, None)
        lead = proc.threads.get(pid) or next(iter(proc.threads.values()))
        proc.exe = _readlink(f"/proc/{pid}/exe")
        self._scan(proc, lead)
        self._hook_solib(proc, lead)
        for th in list(proc.threads.values()):
            if th.state == "stopped":
                self._resume(th)

    def _wait_stopped(self, th: Thread) -> None:
        """Wait for an attached thread's interrupt stop (handling what comes first)."""
        while th.state != "stopped" and th.tid in self.threads:
            tid, status = _waitpid(th.tid)
            if os.WIFSTOPPED(status) and sc.stop_event(status) == sc.EVENT_STOP:
                th.state = "stopped"
            elif os.WIFSTOPPED(status) and sc.stop_event(status) == 0:
                th.pending.append(os.WSTOPSIG(status))  # a signal before the interrupt: later
                th.state = "stopped"
                sc.cont(th.tid, 0)
                th.state = "running"
            else:
                self._dispatch(tid, status)

    # ---- the loop ----------------------------------------------------------------------------------

    def run(self, done: Callable[[], bool]) -> None:
        """Trace until ``done()`` (say, the workload has exited) or a stop signal; then detach from what
        is left. Always detaches, whatever ends the loop."""
        self._install_signals()
        try:
            while self.threads and self.stop_signal is None and not done():
                try:
                    tid, status = os.waitpid(-1, sc.WALL)
                except ChildProcessError:
                    break
                self._dispatch(tid, status)
        finally:
            self._restore_signals()
            self.shutdown()

    def _install_signals(self) -> None:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            if s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN:
                continue
            self._old_handlers[s] = signal.signal(s, self._on_signal)

    def _restore_signals(self) -> None:
        for s, h in self._old_handlers.items():
            signal.signal(s, h)
        self._old_handlers = {}

    def _on_signal(self, signum, _frame) -> None:
        """Stop the loop: interrupt a tracee that runs, whose stop wakes waitpid (a handler that only set a
        flag would leave waitpid blocked: Python retries it; one that raised could lose the status waitpid
        just returned). When none runs, the loop is not blocked: it sees the flag after this event."""
        self.stop_signal = signum
        for th in self.threads.values():
            if th.state in ("running", "listening", "new"):
                try:
                    sc.interrupt(th.tid)
                    return
                except sc.PtraceError:
                    continue

    def _dispatch(self, tid: int, status: int) -> None:
        th = self.threads.get(tid)
        if th is None:
            if os.WIFSTOPPED(status):
                self.early[tid] = status  # a new task stopping before its creator's event is seen
            return
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            self._gone(th, status)
            return
        th.state = "stopped"
        sig, event = os.WSTOPSIG(status), sc.stop_event(status)
        try:
            if event == 0:
                if sig == signal.SIGTRAP and self._trap(th):
                    return
                self._resume(th, sig)
            elif event == sc.EVENT_STOP:
                self._event_stop(th, sig)
            elif event in (sc.EVENT_FORK, sc.EVENT_VFORK, sc.EVENT_CLONE):
                self._new_task(th, event)
            elif event == sc.EVENT_EXEC:
                self._exec(th)
            else:
                self._resume(th)
        except sc.PtraceError as exc:
            if exc.errno != errno_mod.ESRCH:  # the thread died under us: its exit status comes next
                raise

    def _resume(self, th: Thread, sig: int = 0) -> None:
        if self.stopping:
            if sig:
                th.pending.append(sig)
            return
        if not sig and th.pending:
            sig = th.pending.pop(0)
        sc.cont(th.tid, sig)
        th.state = "running"

    def _event_stop(self, th: Thread, sig: int) -> None:
        if sig in STOP_SIGNALS and not self.stopping:
            sc.listen(th.tid)  # a group-stop (^Z): stay stopped, report when it ends
            th.state = "listening"
            return
        if self.stopping and self._trap_pending(th):
            sc.cont(th.tid, 0)  # its int3's SIGTRAP comes first: take the hit, then hold it
            th.state = "running"
            return
        self._resume(th)

    # ---- hits --------------------------------------------------------------------------------------

    def _trap(self, th: Thread) -> bool:
        """A SIGTRAP: a probe's int3, the return trampoline, or a breakpoint removed meanwhile (the
        instruction runs again, now restored); False when it is not ours (the program's own)."""
        regs = sc.getregs(th.tid)
        mm = th.process.mm
        addr = regs.rip - 1
        bp = mm.breakpoints.get(addr)
        if bp is not None:
            self._hit(th, regs, bp)
            return True
        if mm.xol.pages and addr == mm.xol.trampoline():
            self._return(th, regs)
            return True
        if addr in mm.removed:
            regs.rip = addr
            sc.setregs(th.tid, regs)
            self._resume(th)
            return True
        return False

    def _hit(self, th: Thread, regs, bp: Breakpoint) -> None:
        regs.rip = bp.avma
        mm = th.process.mm
        if bp.internal is not None:
            bp.internal(th)
        if (bp.entries or bp.returns) and not mm.xol.pages:
            self._home(th.process, th)
        for site in bp.entries:
            self.sink.entry(th, site, regs, bp)
        if bp.returns:
            self._prepare_return(th, regs, bp)
        step = bp.step
        if step.emulate is not None:
            step.emulate(regs, mm.mem)
        else:
            if bp.slot is None:
                try:
                    bp.slot = self._slot(th.process, th, step)
                except (ValueError, ProbeError, KernelError, MemoryError_) as exc:
                    self._no_slot(th, regs, bp, str(exc))
            if bp.slot is not None:
                regs.rip = bp.slot
        sc.setregs(th.tid, regs)
        self._resume(th)

    def _prepare_return(self, th: Thread, regs, bp: Breakpoint) -> None:
        """prepare_uretprobe: replace the return address at %rsp by the trampoline."""
        mm = th.process.mm
        tramp = mm.xol.trampoline()
        if tramp is None:
            return
        sp = regs.rsp
        stack = th.returns
        while stack and not sp < stack[-1].stack:  # frames left by longjmp (RP_CHECK_CALL)
            stack.pop()
        if len(stack) >= MAX_URETPROBE_DEPTH:
            return
        try:
            orig = mm.mem.read_u64(sp)
        except MemoryError_:
            return
        chained = orig == tramp
        if chained:
            if not stack:
                return
            orig = stack[-1].orig_ret
        try:
            mm.mem.write_u64(sp, tramp)
        except MemoryError_:
            return
        stack.append(ReturnInstance(bp, orig, sp, chained))

    def _return(self, th: Thread, regs) -> None:
        """handle_trampoline: the probed function returned; report each instance of the chain."""
        stack = th.returns
        while stack:
            group = [stack.pop()]
            while group[-1].chained and stack:
                group.append(stack.pop())
            valid = not stack or regs.rsp <= stack[-1].stack
            regs.rip = group[0].orig_ret
            if valid:
                for ri in group:
                    for site in ri.bp.returns:
                        self.sink.ret(th, site, regs, ri.bp.avma, ri.orig_ret)
                break
        else:
            # no instance: a copied stack or a stray jump; the kernel sends SIGILL
            log.warning("thread %d returned through the trampoline without a pending return probe", th.tid)
            self._resume(th, signal.SIGILL)
            return
        sc.setregs(th.tid, regs)
        self._resume(th)

    # ---- tasks -------------------------------------------------------------------------------------

    def _new_task(self, th: Thread, event: int) -> None:
        child_tid = sc.eventmsg(th.tid)
        parent = th.process
        tgid = _tgid(child_tid)
        if event == sc.EVENT_CLONE and tgid == parent.pid:
            child = Thread(child_tid, parent)
        else:
            shared = event == sc.EVENT_VFORK or (event == sc.EVENT_CLONE and _same_vm(parent.pid, child_tid))
            mm = parent.mm if shared else parent.mm.fork_copy(child_tid)
            proc = Process(child_tid, parent.pid, mm)
            proc.exe = parent.exe
            self.processes[child_tid] = proc
            child = Thread(child_tid, proc)
            # dup_utask: the child has its creator's stack, so its replaced return addresses too
            child.returns = [ReturnInstance(r.bp, r.orig_ret, r.stack, r.chained) for r in th.returns]
        self.threads[child_tid] = child
        self.sink.task("fork", child, th)
        status = self.early.pop(child_tid, None)
        if status is not None:
            self._dispatch(child_tid, status)
        self._resume(th)

    def _exec(self, th: Thread) -> None:
        """The process has a new image (and only this thread, now with the process's pid)."""
        proc = th.process
        former = sc.eventmsg(th.tid)
        for other in list(proc.threads.values()):
            if other is not th and other.tid != former:
                self.sink.task("exit", other, None)
            if other is not th:
                self._forget(other)
        old = proc.mm
        old.users.discard(proc.pid)
        if not old.users:
            old.close()
        proc.mm = AddressSpace(proc.pid)
        proc.mm.users.add(proc.pid)
        proc.exe = _readlink(f"/proc/{proc.pid}/exe")
        th.returns = []
        th.close()
        self.sink.task("exec", th, None)
        self._leave_syscall(th)
        self._scan(proc, th)
        self._hook_solib(proc, th)
        self._resume(th)

    def _leave_syscall(self, th: Thread) -> None:
        """Step a thread out of the execve it stopped in (an exec event stop is inside the system call,
        whose return value would overwrite a register set now): the step traps at the system call's exit,
        before the first instruction of the new image (SYSCALL_EXIT_TRAP)."""
        rip = sc.getregs(th.tid).rip
        for _ in range(4):
            sc.singlestep(th.tid)
            _, status = _waitpid(th.tid)
            if not os.WIFSTOPPED(status):
                raise KernelError(f"process {th.tid} ended at its exec")
            if os.WSTOPSIG(status) == signal.SIGTRAP and not sc.stop_event(status):
                if sc.getregs(th.tid).rip != rip:
                    raise KernelError(f"process {th.tid} ran past its entry point while pyperf set it up")
                return
            if not sc.stop_event(status):
                th.pending.append(os.WSTOPSIG(status))
        raise KernelError(f"could not stop process {th.tid} after its exec")

    def _gone(self, th: Thread, status: int) -> None:
        self.sink.task("exit", th, None)
        proc = th.process
        if th.tid in self.roots and th.tid == proc.pid:
            self.root_status[th.tid] = status
        self._forget(th)
        if not proc.threads:
            self.processes.pop(proc.pid, None)
            proc.mm.users.discard(proc.pid)
            if not proc.mm.users:
                proc.mm.close()

    def _forget(self, th: Thread) -> None:
        th.close()
        th.process.threads.pop(th.tid, None)
        self.threads.pop(th.tid, None)

    def roots_alive(self) -> bool:
        return any(pid not in self.root_status and pid in self.processes for pid in self.roots)

    # ---- mappings and breakpoints ------------------------------------------------------------------

    def _scan(self, proc: Process, th: Thread) -> None:
        """Read the process's mappings; report the new ones; put breakpoints in new mappings of probed
        files and count their semaphores. ``th`` is stopped (for the system calls of new pages)."""
        mm = proc.mm
        maps = _read_maps(proc.pid)
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
        mm.mem.write(avma, bytes([insn.INT3]))
        mm.removed.discard(avma)
        mm.breakpoints[avma] = bp
        return bp

    def _syscall_site(self, mm: AddressSpace, maps=None) -> int:
        if mm.syscall_site is None:
            mm.syscall_site = inject.find_syscall_site(maps or _read_maps(next(iter(mm.users))), mm.mem)
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
        maps = _read_maps(proc.pid)
        site = self._syscall_site(mm, maps)
        limit = _stack_limit(proc.pid)

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
        mm.mem.write(bp.avma, bytes([bp.orig]))
        mm.breakpoints.pop(bp.avma, None)
        mm.removed.add(bp.avma)
        regs.rip = bp.avma

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)
            log.warning("%s", text)

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
                log.warning("%s: semaphore not incremented: %s", site.name, exc)
                return
            mm.sem_done.add(key)
            mm.semaphores[avma] = mm.semaphores.get(avma, 0) + 1
            return

    def _hook_solib(self, proc: Process, th: Thread) -> None:
        """A breakpoint on the dynamic linker's r_brk (found through AT_BASE), which rescans the mappings."""
        base = _auxv(proc.pid, AT_BASE)
        if not base:
            return  # static: no dynamic linker, nothing is mapped later but by hand
        maps = _read_maps(proc.pid)
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
            self._solib[path] = _symbol_file_offset(path, SOLIB_HOOKS)
        return self._solib[path]

    # ---- the way out -------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every remaining thread, restore every address space, detach."""
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
            self._dispatch(tid, status)
        spaces = {}
        for proc in self.processes.values():
            spaces.setdefault(id(proc.mm), (proc.mm, []))[1].append(proc)
        for mm, procs in spaces.values():
            threads = [th for p in procs for th in p.threads.values()]
            try:
                self._restore(mm, threads)
            except (OSError, sc.PtraceError, KernelError) as exc:
                log.warning("restoring process %s: %s", procs[0].pid, exc)
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
            if mm.xol.pages and regs.rip == mm.xol.trampoline() + 1:
                pass  # cannot happen: a trampoline trap is always taken before a stop is held
            slot = mm.xol.slot_start(regs.rip)
            if slot is not None:
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
        return bool(_pending_mask(th) & (1 << (signal.SIGTRAP - 1)))


class _XolMap:
    """A maps line for an out-of-line page (what the kernel's [uprobes] MMAP2 record says)."""

    def __init__(self, start: int):
        self.start, self.end, self.perms, self.pgoff = start, start + 4096, "r-xp", 0
        self.maj = self.min = self.ino = 0
        self.path = "[uprobes]"


# ---- /proc ---------------------------------------------------------------------------------------------


def _read_maps(pid: int):
    from pyperf_probe.perfdata.synth import parse_maps_line
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.readlines()
    except OSError:
        return []
    return [m for m in (parse_maps_line(line) for line in lines) if m is not None]


def _tasks(pid: int) -> List[int]:
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []


def _status_field(tid: int, name: str) -> Optional[str]:
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split(None, 1)[1].strip()
    except OSError:
        pass
    return None


def _tgid(tid: int) -> int:
    value = _status_field(tid, "Tgid")
    return int(value) if value else tid


def _ppid(pid: int) -> int:
    value = _status_field(pid, "PPid")
    return int(value) if value else 0


def _pending_mask(th: Thread) -> int:
    mask = 0
    for name in ("SigPnd", "ShdPnd"):
        value = _status_field(th.tid, name)
        mask |= int(value, 16) if value else 0
    return mask


def _stack_limit(pid: int) -> int:
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


def _readlink(path: str) -> Optional[str]:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _auxv(pid: int, key: int) -> int:
    import struct
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


def _same_vm(pid1: int, pid2: int) -> bool:
    """kcmp(KCMP_VM): whether two processes share one address space (a clone with CLONE_VM)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.syscall(SYS_KCMP, pid1, pid2, KCMP_VM, 0, 0) == 0


def _waitpid(tid: int):
    while True:
        try:
            return os.waitpid(tid, sc.WALL)
        except InterruptedError:
            continue


def _symbol_file_offset(path: str, names: Sequence[str]) -> Optional[int]:
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
