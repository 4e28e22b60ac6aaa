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

import errno as errno_mod
import logging
import os
import signal
from typing import Callable, Dict, List, Optional, Sequence

from pyperf_probe.errors import KernelError, ProbeError
from pyperf_probe.ptrace import inject, procfs
from pyperf_probe.ptrace import syscalls as sc
from pyperf_probe.ptrace.detach import Detach
from pyperf_probe.ptrace.memory import MemoryError_
from pyperf_probe.ptrace.placement import Placement
from pyperf_probe.ptrace.tracee import AddressSpace, Breakpoint, Process, ReturnInstance, Site, Thread

log = logging.getLogger("pyperf")

MAX_URETPROBE_DEPTH = 64  # kernel/events/uprobes.c: deeper return probes are not taken
STOP_SIGNALS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)


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


class Engine(Placement, Detach):
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
        self.log = log

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
        try:
            mm = AddressSpace(pid)
        except OSError as exc:
            if exc.errno == errno_mod.ENOENT:  # perf's words for a pid that is not there
                raise KernelError("Couldn't create thread/CPU maps: No such process", errno=errno_mod.ESRCH) from None
            raise KernelError(f"Cannot trace process {pid}: {exc.strerror}", errno=exc.errno) from None
        proc = Process(pid, procfs.ppid(pid), mm)
        self.processes[pid] = proc
        self.roots.append(pid)
        seen: set = set()
        while True:
            tids = [t for t in procfs.tasks(pid) if t not in seen]
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
        proc.exe = procfs.readlink(f"/proc/{pid}/exe")
        self._scan(proc, lead)
        self._hook_solib(proc, lead)
        for th in list(proc.threads.values()):
            if th.state == "stopped":
                self._resume(th)

    def _wait_stopped(self, th: Thread) -> None:
        """Wait for an attached thread's interrupt stop (handling what comes first)."""
        while th.state != "stopped" and th.tid in self.threads:
            tid, status = procfs.waitpid_tid(th.tid)
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
        self.catch_signals()
        try:
            while self.threads and self.stop_signal is None and not done():
                try:
                    tid, status = os.waitpid(-1, sc.WALL)
                except ChildProcessError:
                    break
                self._dispatch(tid, status)
        finally:
            self.shutdown()

    def catch_signals(self) -> None:
        """SIGINT, SIGTERM and SIGHUP stop the tracing (from now: call it before attaching, so that ^C
        never lands between two steps of placing a breakpoint); ``shutdown`` puts the old handlers back."""
        if self._old_handlers:
            return
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
            self._handle(th, sig, event)
        except inject.ThreadGone as gone:  # it died while waited for alone (a system call run in it)
            self._gone(self.threads.get(gone.tid, th), gone.status)
        except sc.PtraceError as exc:
            if exc.errno != errno_mod.ESRCH:  # the thread died under us: its exit status comes next
                raise

    def _handle(self, th: Thread, sig: int, event: int) -> None:
        """One stop of a known thread."""
        if event == 0:
            if sig == signal.SIGTRAP and self._trap(th):
                return
            self._resume(th, sig)  # a signal for the program: delivered
        elif event == sc.EVENT_STOP:
            self._event_stop(th, sig)
        elif event in (sc.EVENT_FORK, sc.EVENT_VFORK, sc.EVENT_CLONE):
            self._new_task(th, event)
        elif event == sc.EVENT_EXEC:
            self._exec(th)
        else:
            self._resume(th)

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
        th.resume_at = bp.avma  # until its registers are set: where the way out puts it if this fails
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
        th.resume_at = None
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
            regs.rip = th.resume_at = group[0].orig_ret
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
        th.resume_at = None
        self._resume(th)

    # ---- tasks -------------------------------------------------------------------------------------

    def _new_task(self, th: Thread, event: int) -> None:
        child_tid = sc.eventmsg(th.tid)
        parent = th.process
        tgid = procfs.tgid(child_tid)
        if event == sc.EVENT_CLONE and tgid == parent.pid:
            child = Thread(child_tid, parent)
        else:
            shared = event == sc.EVENT_VFORK or (event == sc.EVENT_CLONE and procfs.same_vm(parent.pid, child_tid))
            try:
                mm = parent.mm if shared else parent.mm.fork_copy(child_tid)
            except OSError:  # gone already (its memory with it): its exit status is all that comes
                self._resume(th)
                return
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
        proc.exe = procfs.readlink(f"/proc/{proc.pid}/exe")
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
            status = inject.wait_stop(th.tid)
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
