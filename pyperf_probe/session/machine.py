"""Threads, processes and their maps, rebuilt from COMM/MMAP/MMAP2/FORK/EXIT records as perf's
``struct machine`` does (tools/perf/util/machine.c, thread.c).

* A thread is found or created by (pid, tid) (``machine__findnew_thread``); a new thread of an existing
  process shares the process's ``Maps`` (``thread__init_maps``); until a COMM names it, its comm is
  ``:<tid>`` (``thread__new``).
* COMM sets the comm from then on (records are processed in time order, so "the comm at sample time" is
  the current one); an exec COMM does not clear the maps: the exec'd image's MMAPs replace what they
  overlap (``maps__fixup_overlappings``), as in perf.
* FORK: a tid seen before is a new thread now (the old one is dropped); the child takes the parent's comm
  and, when it is a new process (pid != ppid), a copy of the parent's maps (``thread__fork``); a new thread
  of the same process shares them.
* MMAP/MMAP2 of user space go into the process's maps; kernel maps (cpumode KERNEL, pid -1) make the
  kernel's image and modules (session.kernel). Anonymous memory (``//anon``, ``[heap]``, ``[stack]``...) maps addresses to themselves, and
  when it is executable its dso is the JIT's ``/tmp/perf-PID.map`` (perf's ``map__new``).
"""
from __future__ import annotations

from _functools import partial  # functools' own (the C type it re-exports), without functools' imports

from pyperf_probe.perfdata.format import MISC_CPUMODE_MASK, MISC_KERNEL, MISC_MMAP_DATA
from pyperf_probe.perfdata.records import ForkRecord, Mmap2Record
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.records import field
from pyperf_probe.session.dsos import Dsos
from pyperf_probe.session.maps import Map, Maps


class ThreadComm(tuple):
    """(pid, tid, comm): a thread as it was named at some time. Interned by ``Machine``, so every sample
    of a thread under one name shares one object."""

    __slots__ = ()

    pid = field(0)  # (C accessors, as records' fields: the report reads them per group, sys.data 40K times)
    tid = field(1)
    comm = field(2)

    def __repr__(self) -> str:
        return f"ThreadComm(pid={self[0]}, tid={self[1]}, comm={self[2]!r})"


class Thread:
    """One thread (``struct thread``): its process's maps and its current comm."""

    __slots__ = ("pid", "tid", "ppid", "maps", "comm", "comm_set", "exited", "state")

    def __init__(self, pid: int, tid: int, maps: Maps):
        self.pid, self.tid, self.ppid, self.maps = pid, tid, -1, maps
        self.comm = f":{tid}"
        self.comm_set = False
        self.exited = False
        self.state: ThreadComm | None = None  # the interned (pid, tid, comm) for the current comm


class Machine:
    """The host seen through the records (see the module docstring)."""

    def __init__(self, dsos: Dsos, kernel_options=None, arch=None):
        self.dsos = dsos
        self.threads: dict[int, Thread] = {}
        self.kernel_maps = Maps()
        from pyperf_probe.session.kernel import KernelOptions, KernelSpace
        self.kernel = KernelSpace(self.kernel_maps, dsos, kernel_options or KernelOptions(), arch)
        if hasattr(dsos, "space"):
            dsos.space = self.kernel
        self._states: dict[tuple[int, int, str], ThreadComm] = {}
        self._file_dsos: dict[str, list] = {}  # a user-space mmap's file name -> [identity, its dso or None]
        self.pid_updates = 0  # threads whose unknown pid a sample made known (callers caching lookups)
        if _mmap_handle is not None:  # the C handler: the common MMAP2 in C, the rest by _process_mmap
            self.process_mmap = partial(_mmap_handle, self._process_mmap, self._file_dsos, self.threads, Map,
                                        Mmap2Record)
        if _fork_handle is not None:  # the C handler: a new process's FORK in C, the rest by _process_fork
            self.process_fork = partial(_fork_handle, self._process_fork, self.threads, Thread, Maps, ForkRecord)
        # perf_session__register_idle_thread (report, script): thread 0 is "swapper" before any record
        self._set_comm(self.findnew_thread(0, 0), "swapper")

    # --- threads ----------------------------------------------------------------------------------------

    def findnew_thread(self, pid: int, tid: int) -> Thread:
        """``machine__findnew_thread``: the thread is found by tid alone (a known thread keeps its pid,
        whatever pid is asked for, unless its pid was unknown: ``machine__update_thread_pid``)."""
        thread = self.threads.get(tid)
        if thread is not None:
            if thread.pid == -1 and pid != -1:
                self.pid_updates += 1
                thread.pid = pid
                thread.state = None
                if pid != tid:
                    thread.maps = self.findnew_thread(pid, pid).maps
            return thread
        if pid == tid or pid == -1:
            maps = Maps()
        else:
            maps = self.findnew_thread(pid, pid).maps
        thread = Thread(pid, tid, maps)
        self.threads[tid] = thread
        return thread

    def thread_state(self, thread: Thread) -> ThreadComm:
        """The interned (pid, tid, comm) of the thread's current comm."""
        state = thread.state
        if state is None:
            key = (thread.pid, thread.tid, thread.comm)
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = ThreadComm(key)
            thread.state = state
        return state

    def _set_comm(self, thread: Thread, comm: str) -> None:
        thread.comm = comm
        thread.comm_set = True
        thread.state = None

    # --- records ----------------------------------------------------------------------------------------

    def process_comm(self, rec) -> None:
        pid, tid, comm = rec[:3]
        thread = self.threads.get(tid)
        if thread is None or thread.pid == -1 and pid != -1:  # (findnew_thread's cases but the first)
            thread = self.findnew_thread(pid, tid)
        thread.comm = comm
        thread.comm_set = True
        thread.state = None

    def process_fork(self, rec) -> None:
        """``machine__process_fork_event`` (the fields unpacked once and a known parent found by one
        look-up: a system-wide recording has thousands of FORKs, sys.data 1.8K). With the C accelerator an
        instance's ``process_fork`` is ``_speedups.fork_handle`` (``__init__``): a new process's FORK made
        there, any other given to this method, ``_process_fork``, its twin (tests/test_machine_mmap.py)."""
        pid, ppid, tid, ptid = rec[:4]
        threads = self.threads
        parent = threads.get(ptid)
        if parent is None or parent.pid == -1 and ppid != -1:  # (findnew_thread's cases but the first)
            parent = self.findnew_thread(ppid, ptid)
        if parent.pid != ppid:  # a stale thread under that tid: start the parent over
            del threads[ptid]
            parent = self.findnew_thread(ppid, ptid)
        threads.pop(tid, None)
        if pid == parent.pid:
            child = self.findnew_thread(pid, tid)
        else:
            child = threads[tid] = Thread(pid, tid, parent.maps.copy() if pid == tid else
                                          self.findnew_thread(pid, pid).maps)
        if parent.comm_set:
            child.comm = parent.comm
            child.comm_set = True
            child.state = None
        child.ppid = parent.tid

    _process_fork = process_fork  # (the C handler's fallback, whatever an instance's process_fork is)

    def process_exit(self, rec) -> None:
        thread = self.threads.get(rec.tid)
        if thread is not None:
            thread.exited = True

    def process_mmap(self, rec) -> None:
        """MMAP and MMAP2 (``machine__process_mmap2_event``, ``map__new``). A file's dso and whether its
        memory is anonymous are found once per name (``_file_dsos``: ``Dsos.findnew`` keeps one dso per
        name for good, made with the build id of its first MMAP2, so later answers for the name are that
        dso whatever the build id); a system-wide recording maps the same files thousands of times
        (sys.data: 9.4K MMAP2 of 119 names). With the C accelerator, an instance's ``process_mmap`` is
        ``_speedups.mmap_handle`` bound to the machine (``__init__``): it makes the common MMAP2's change
        itself (a known name's dso, a known thread, a range that overlaps no map: the Map inserted as
        ``Maps.insert`` does) and gives any other record to this method, ``_process_mmap``, its twin
        (tests/test_machine_mmap.py)."""
        if type(rec) is Mmap2Record:
            pid, tid, start, length, pgoff, _, _, _, _, prot, flags, filename, misc, _, build_id = rec
        else:  # MMAP has no prot: perf takes code unless MMAP_DATA says data
            pid, tid, start, length, pgoff, filename, misc = rec[:7]
            prot = PROT_READ if misc & MISC_MMAP_DATA else PROT_EXEC
            flags, build_id = 0, None
        if misc & MISC_CPUMODE_MASK == MISC_KERNEL:
            self.kernel.process_mmap(rec)
            return
        got = self._file_dsos.get(filename)
        if got is None:
            identity = filename in _IDENTITY_NAMES or filename.startswith(_IDENTITY_PREFIXES)
            got = self._file_dsos[filename] = [identity, None]
        identity, dso = got
        if identity and prot & PROT_EXEC:  # JIT code: perf looks for the JIT's /tmp/perf-PID.map
            dso = self.dsos.findnew(f"/tmp/perf-{pid}.map", build_id)
        elif dso is None:
            dso = got[1] = self.dsos.findnew(filename, build_id)
        thread = self.threads.get(tid)
        if thread is None or thread.pid == -1 and pid != -1:  # (findnew_thread's cases but the first)
            thread = self.findnew_thread(pid, tid)
        thread.maps.insert(Map(start, start + length, pgoff, dso, prot, flags, identity))

    _process_mmap = process_mmap  # (the C handler's fallback, whatever an instance's process_mmap is)


PROT_READ, PROT_EXEC = 0x1, 0x4

# _speedups.mmap_handle (C) when it was built: Machine.process_mmap's common case (see there).
_mmap_handle = getattr(speedups, "mmap_handle", None)
# _speedups.fork_handle (C): Machine.process_fork's common case (a new process), Machine._process_fork its twin
_fork_handle = getattr(speedups, "fork_handle", None)


_IDENTITY_NAMES = ("//anon", "[heap]")  # _is_anon or _is_no_dso, by one test each (process_mmap's per MMAP)
_IDENTITY_PREFIXES = ("/dev/zero", "/anon_hugepage", "[stack", "/SYSV")


def _is_anon(filename: str) -> bool:
    """perf's ``is_anon_memory``."""
    return filename == "//anon" or filename.startswith("/dev/zero") or filename.startswith("/anon_hugepage")


def _is_no_dso(filename: str) -> bool:
    """perf's ``is_no_dso_memory``."""
    return filename.startswith("[stack") or filename.startswith("/SYSV") or filename == "[heap]"
