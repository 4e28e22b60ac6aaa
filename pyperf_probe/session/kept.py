"""What a record makes stale among answers kept per sample key (``session.counts``, ``report.script_keys``).

Between two records that change the machine, a sample's resolution depends only on its key; readers that
keep answers per key would drop them all at every COMM, MMAP or FORK, and a system-wide recording has
thousands of those (every process that starts maps a dozen files). An answer depends on less:

* the thread its tid finds (its comm, its pid): a COMM changes its thread's comm; a FORK makes the child's
  tid a new thread, and the parent's too when perf's fork finds a stale thread under that tid;
* that thread's maps, unless the sample is in kernel mode without a call chain (or the reader does not
  use the addresses): a user-space MMAP changes one process's maps;
* the kernel's maps and symbols: a kernel MMAP, a KSYMBOL, or a resolution that loads the kernel.

``Dependents`` notes, for each kept key, its thread and maps, and after each record tells which keys
to drop (or that everything goes: any record it does not know, and a record that made a thread's
unknown pid known). LOST, LOST_SAMPLES and EXIT records change nothing a resolution reads.
"""
from __future__ import annotations

from _functools import partial  # functools' own (the C type it re-exports), without functools' imports

from pyperf_probe.perfdata.format import MISC_CPUMODE_MASK, MISC_KERNEL
from pyperf_probe.perfdata.records import (CommRecord, ExitRecord, ForkRecord, LostRecord, LostSamplesRecord,
                                           Mmap2Record, MmapRecord)
from pyperf_probe.perfdata.speedups import speedups

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

STATELESS = (LostRecord, LostSamplesRecord, ExitRecord)
# _speedups.mmap_follow (C) when it was built: _after_mmap for the common MMAP2 (see Dependents.__init__)
_mmap_follow = getattr(speedups, "mmap_follow", None)


class Dependents:
    """Kept keys by the thread (tid: the Thread and its keys) and the maps they depend on. ``drop(keys)``
    is the owner's: it removes those keys from its tables; ``forget()`` there clears everything."""

    def __init__(self, machine, drop: Callable[[list], None], forget: Callable[[], None]):
        self.machine = machine
        self.drop = drop
        self.forget = forget
        self.pid_updates = machine.pid_updates
        self.by_tid: dict[int, tuple] = {}
        self.by_maps: dict[object, list] = {}
        self._followers = {**dict.fromkeys(STATELESS), MmapRecord: self._after_mmap, Mmap2Record: self._after_mmap,
                           CommRecord: self._after_comm, ForkRecord: self._after_fork}
        if _mmap_follow is not None:  # (C: _after_mmap's common case, the most frequent record of all)
            self._followers[Mmap2Record] = partial(_mmap_follow, self, machine, machine.threads, self.by_maps,
                                                   drop, self._after_mmap, Mmap2Record)

    def clear(self) -> None:
        self.by_tid.clear()
        self.by_maps.clear()

    def note(self, key, sample, uses_maps: bool = True) -> None:
        """``key`` was kept for ``sample`` (decoded, just resolved): it depends on the thread of its tid
        and, if ``uses_maps`` and the sample is not in kernel mode without a chain, on its maps."""
        tid = sample.tid
        thread = self.machine.threads.get(-1 if tid is None else tid)
        if thread is None:  # (not made by the resolution: a tid the reader did not decode)
            return
        self.note_thread(key, thread)
        if uses_maps and (sample.misc & MISC_CPUMODE_MASK != MISC_KERNEL or sample.callchain):
            self.note_maps(key, thread)

    def note_maps(self, key, thread) -> None:
        """``key`` was kept for a sample that used the maps of ``thread``."""
        self.by_maps.setdefault(thread.maps, []).append(key)

    def note_thread(self, key, thread) -> None:
        """``key`` was kept for a sample of ``thread`` (the one its tid finds), which used no maps."""
        got = self.by_tid.get(thread.tid)
        if got is None or got[0] is not thread:
            if got is not None:  # (a thread made again under this tid without a record: its old keys go)
                self.drop(got[1])
            got = self.by_tid[thread.tid] = (thread, [])
        got[1].append(key)

    def pid_learnt(self) -> bool:
        """Whether a thread's unknown pid became known since the last look (then everything was forgotten):
        after a resolution (perf's machine__update_thread_pid) or a record."""
        if self.machine.pid_updates == self.pid_updates:
            return False
        self.pid_updates = self.machine.pid_updates
        self.forget()
        return True

    def after_record(self, rec) -> None:
        """Drop what a record the machine has just processed made stale (see the module docstring)."""
        kind = type(rec)
        if kind in STATELESS:
            return
        after = self._followers.get(kind)
        if after is not None:
            after(rec)
        elif not self.pid_learnt():
            self.forget()

    def followers(self) -> dict:
        """Record type -> ``after_record`` for records of that type (None: nothing to drop), for a caller
        that dispatches on the type anyway (``counts.sample_groups``); a type not in it: ``after_record``."""
        return self._followers

    def _after_mmap(self, rec) -> None:  # (the most frequent: a process's every image)
        if self.machine.pid_updates != self.pid_updates and self.pid_learnt():
            return
        if rec.misc & MISC_CPUMODE_MASK == MISC_KERNEL:
            self.forget()
            return
        thread = self.machine.threads.get(rec.tid)
        if thread is None:
            self.forget()
            return
        keys = self.by_maps.pop(thread.maps, None)
        if keys:
            self.drop(keys)

    def _after_comm(self, rec) -> None:
        if self.machine.pid_updates != self.pid_updates and self.pid_learnt():
            return
        self._drop_thread(rec.tid)

    def _after_fork(self, rec) -> None:
        if self.machine.pid_updates != self.pid_updates and self.pid_learnt():
            return
        self._drop_thread(rec.tid)
        self._drop_thread(rec.ptid, unless_same=True)

    def _drop_thread(self, tid: int, unless_same: bool = False) -> None:
        """Drop the keys of thread ``tid``; ``unless_same``: only if it is not the Thread they were made
        with (fork's parent: the same thread unless perf's fork made it again)."""
        got = self.by_tid.get(tid)
        if got is not None and not (unless_same and self.machine.threads.get(tid) is got[0]):
            del self.by_tid[tid]
            self.drop(got[1])
