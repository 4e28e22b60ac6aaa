"""The out-of-line pages of one address space: where the copies of probed instructions run (insn.py), and
the return-probe trampoline.

Each page is one anonymous PROT_READ|PROT_EXEC page mapped in the tracee (inject.py), written by the tracer
through /proc/PID/mem and only executed by the tracee. Layout: the first 32 bytes are int3s, the first of
them the trampoline return probes put in place of a return address (as the kernel's ``[uprobes]`` page
holds ``uretprobe_trampoline``); then 127 slots of 32 bytes.

Where the pages go, and when. The first page ("home") is mapped at the address space's first probe hit,
with the very call the kernel makes for its ``[uprobes]`` page at the first uprobe hit (an mmap hinted at
TASK_SIZE - PAGE_SIZE, which the kernel turns into the highest free page below the mmap base): in a run
without ASLR it lands where the kernel's did, at the moment the kernel's did, so nothing mapped later
(libraries, malloc arenas) moves, and a return address seen through the trampoline is the same number.
A copied instruction that addresses memory relative to %rip keeps its target only within +-2 GB (a
disp32); when the home page is out of reach (an executable at 0x55..., libraries at 0x7f...) a page is
placed in a free gap near the code, preferring the places the kernel's allocators do not use soon: below
a PIE executable, or between the mmap base and the stack's growth limit. A forked child has a copy of
the pages (the bookkeeping is copied with it); an exec drops them with the rest of the address space.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

from pyperf_probe.ptrace.insn import SLOT_SIZE, Step

PAGE = 4096
SLOTS_PER_PAGE = PAGE // SLOT_SIZE - 1
REACH = (1 << 31) - (1 << 24)  # keep 16 MB from the disp32 limit
MIN_ADDR = 0x10000  # vm.mmap_min_addr's usual value
MAX_ADDR = 0x7FFFFFFFF000  # TASK_SIZE on x86-64 with 4-level pages


class Page:
    __slots__ = ("avma", "used")

    def __init__(self, avma: int, used: int = 0):
        self.avma, self.used = avma, used

    @property
    def trampoline(self) -> int:
        return self.avma

    def full(self) -> bool:
        return self.used >= SLOTS_PER_PAGE


class XolArea:
    """The pages of one address space (the home page first); ``alloc(near)`` maps a new one (returns its
    avma or None)."""

    def __init__(self):
        self.pages: List[Page] = []

    def copy(self) -> "XolArea":
        out = XolArea()
        out.pages = [Page(p.avma, p.used) for p in self.pages]
        return out

    def set_home(self, avma: int, mem) -> None:
        mem.write(avma, b"\xcc" * SLOT_SIZE)
        self.pages.insert(0, Page(avma))

    def contains(self, avma: int) -> bool:
        return any(p.avma <= avma < p.avma + PAGE for p in self.pages)

    def slot_start(self, avma: int) -> Optional[int]:
        """The start of the slot holding ``avma``, if it is in a slot."""
        for p in self.pages:
            if p.avma + SLOT_SIZE <= avma < p.avma + PAGE:
                return avma - (avma - p.avma) % SLOT_SIZE
        return None

    def trampoline(self) -> Optional[int]:
        return self.pages[0].trampoline if self.pages else None

    def place(self, step: Step, mem, alloc: Callable[[int], Optional[int]]) -> int:
        """Write ``step``'s copy into a free slot within reach of its code (a new page if needed); returns
        the slot's avma. Raises ValueError when no page can be placed within reach."""
        for page in self.pages:
            if page.full() or abs(page.avma - step.avma) > REACH:
                continue
            slot = page.avma + SLOT_SIZE * (page.used + 1)
            try:
                code = step.slot_bytes(slot)
            except ValueError:
                continue
            mem.write(slot, code)
            page.used += 1
            return slot
        if not self.add_page(step.avma, mem, alloc):
            raise ValueError("no free address within 2 GB of the probe for an out-of-line page")
        return self.place(step, mem, lambda near: None)

    def add_page(self, near: int, mem, alloc: Callable[[int], Optional[int]]) -> bool:
        """Map one more page near ``near``; its first slot is the trampoline (int3s)."""
        avma = alloc(near)
        if avma is None:
            return False
        mem.write(avma, b"\xcc" * SLOT_SIZE)
        self.pages.append(Page(avma))
        return True


def free_page_near(maps: Sequence, near: int, taken: Sequence[int] = (), stack_limit: int = 8 << 20) -> List[int]:
    """Candidate page addresses in the gaps of ``maps`` (sorted /proc maps lines) within reach of ``near``:
    first the quiet place below the stack's growth limit (``stack_limit``: RLIMIT_STACK) when in reach,
    then the ends of the other gaps, nearest first; never the page right below [stack] or right above
    [heap] (where those grow)."""
    out, first = [], []
    stack = next((m for m in maps if m.path == "[stack]"), None)
    if stack is not None and stack_limit:
        quiet = (stack.end - stack_limit - (2 << 20)) & ~(PAGE - 1)
        free = all(not (m.start < quiet + PAGE and quiet < m.end) for m in maps)
        if free and abs(quiet - near) <= REACH and quiet not in taken:
            first.append(quiet)
    spans = [(m.start, m.end, m.path) for m in maps if m.end <= MAX_ADDR]
    bounds = [(None, MIN_ADDR, "")] + spans + [(MAX_ADDR, None, "")]
    for (_, lo, lo_name), (hi, _, hi_name) in zip(bounds, bounds[1:]):
        if lo is None or hi is None or hi - lo < PAGE:
            continue
        ends = ([] if hi_name == "[stack]" else [hi - PAGE]) + ([] if lo_name == "[heap]" else [lo])
        out += [cand for cand in ends if abs(cand - near) <= REACH and cand not in taken]
    return first + sorted(set(out) - set(first), key=lambda a: abs(a - near))
