"""The ptrace(2) requests the backend makes, over python-ptrace's binding (``ptrace.binding.func``).

python-ptrace gives the raw ``ptrace()`` call with its error handling, the ``user_regs_struct`` layout and
the GETREGS/SETREGS/CONT/SINGLESTEP/DETACH/SETOPTIONS wrappers; they are used as they are. Its debugger layer
(``ptrace.debugger``: PtraceDebugger, PtraceProcess, Breakpoint) is not, for measured and structural
reasons. Measured (bench/ptrace, "python-ptrace"): a hit handled through it, the classic way its Breakpoint
offers (put the byte back, single-step, put the int3 back), costs several times this backend's per hit.
Structural: that inline single-step loses the hits of every other thread while the byte is back (seed
001's objection; a thread per process is all it handles correctly); with more than one traced task its
``waitProcessEvent`` polls every pid with WNOHANG and sleeps between rounds (1 ms doubling to 0.5 s) where
a blocking ``waitpid(-1, __WALL)`` wakes at once; it attaches with PTRACE_ATTACH (a SIGSTOP per task, no
PTRACE_INTERRUPT to stop a running thread on the way out) and writes memory a word at a time with
POKETEXT. So the backend keeps one blocking waitpid loop for all tasks and a debugger/process/thread/
breakpoint model of its own (engine.py, tracee.py), after the library's design. Added here: the requests
python-ptrace 0.9 lacks (PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_LISTEN, PTRACE_O_EXITKILL) and GETEVENTMSG
into an unsigned long (the library's reads the kernel's ``unsigned long`` into a C int).
"""
from __future__ import annotations

import ctypes
import os

from ptrace.binding import func as _pt
from ptrace.error import PtraceError

__all__ = ["PtraceError"]

PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208

O_TRACESYSGOOD = _pt.PTRACE_O_TRACESYSGOOD
O_TRACEFORK = _pt.PTRACE_O_TRACEFORK
O_TRACEVFORK = _pt.PTRACE_O_TRACEVFORK
O_TRACECLONE = _pt.PTRACE_O_TRACECLONE
O_TRACEEXEC = _pt.PTRACE_O_TRACEEXEC
O_EXITKILL = 0x100000

EVENT_FORK = _pt.PTRACE_EVENT_FORK
EVENT_VFORK = _pt.PTRACE_EVENT_VFORK
EVENT_CLONE = _pt.PTRACE_EVENT_CLONE
EVENT_EXEC = _pt.PTRACE_EVENT_EXEC
EVENT_VFORK_DONE = _pt.PTRACE_EVENT_VFORK_DONE
EVENT_EXIT = _pt.PTRACE_EVENT_EXIT
EVENT_STOP = 128

WALL = 0x40000000  # __WALL: threads and processes alike

FOLLOW = O_TRACEFORK | O_TRACEVFORK | O_TRACECLONE | O_TRACEEXEC

Regs = _pt.ptrace_registers_t  # struct user_regs_struct (rip, rsp, rbp, orig_rax, eflags, ...)

getregs = _pt.ptrace_getregs
setregs = _pt.ptrace_setregs
cont = _pt.ptrace_cont
singlestep = _pt.ptrace_singlestep
detach = _pt.ptrace_detach
setoptions = _pt.ptrace_setoptions
raw = _pt.ptrace


def seize(tid: int, options: int) -> None:
    """PTRACE_SEIZE: trace ``tid`` without stopping it (no SIGSTOP); group-stops are reported as such."""
    raw(PTRACE_SEIZE, tid, 0, options)


def interrupt(tid: int) -> None:
    """PTRACE_INTERRUPT: make a seized task stop (it reports PTRACE_EVENT_STOP)."""
    raw(PTRACE_INTERRUPT, tid, 0, 0)


def listen(tid: int) -> None:
    """PTRACE_LISTEN: leave a task in its group-stop, but let the tracer hear when it leaves it."""
    raw(PTRACE_LISTEN, tid, 0, 0)


def eventmsg(tid: int) -> int:
    """PTRACE_GETEVENTMSG: the new task of a fork/clone event, the former tid of an exec event."""
    value = ctypes.c_ulong()
    raw(_pt.PTRACE_GETEVENTMSG, tid, 0, ctypes.addressof(value))
    return value.value


def copy_regs(regs: Regs) -> Regs:
    out = Regs()
    ctypes.memmove(ctypes.addressof(out), ctypes.addressof(regs), ctypes.sizeof(Regs))
    return out


def stop_event(status: int) -> int:
    """The PTRACE_EVENT_* of a stop status (0: a signal-delivery stop)."""
    return status >> 16


def stop_signal(status: int) -> int:
    return os.WSTOPSIG(status)
