"""Call chains of a stopped thread, as the kernel records them for a uprobe hit.

* Frame pointers (``-g``, PERF_SAMPLE_CALLCHAIN): arch/x86/events/core.c ``perf_callchain_user``:
  PERF_CONTEXT_USER, the sample's ip, then (when the probed instruction is ``push %rbp`` or ``endbr64``,
  a function's first) the return address at %rsp (``is_uprobe_at_func_entry``), then
  ``{next_fp, return_address}`` pairs from %rbp until a read fails or max_stack entries are stored. The
  walk does not check that frames go up the stack, as the kernel does not. Return addresses that pending
  return probes replaced by the trampoline are put back (kernel/events/callchain.c
  ``fixup_uretprobe_trampoline_entries``: the i-th trampoline met is the i-th innermost pending return).
* DWARF (``--call-graph dwarf``, PERF_SAMPLE_STACK_USER): ``size`` bytes copied from %rsp; ``dyn_size``
  is how many of them could be read (the copy stops at the first unmapped byte, as copy_from_user does);
  the rest of the buffer is zeros.
"""
from __future__ import annotations

import struct
from typing import List

from pyperf_probe.perfdata.format import PERF_CONTEXT_USER

PAGE = 4096
_FRAME = struct.Struct("<QQ")
_U64 = struct.Struct("<Q")


def max_stack() -> int:
    """/proc/sys/kernel/perf_event_max_stack (127 by default)."""
    try:
        with open("/proc/sys/kernel/perf_event_max_stack") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 127


class _Pages:
    """Reads of the stack within one sample, a page at a time (frames sit close together)."""

    __slots__ = ("mem", "pages")

    def __init__(self, mem):
        self.mem, self.pages = mem, {}

    def read(self, avma: int, size: int):
        page = avma & ~(PAGE - 1)
        if avma + size <= page + PAGE:
            data = self.pages.get(page)
            if data is None:
                data = self.pages[page] = self.mem.read(page, PAGE)
            off = avma - page
            return data[off:off + size] if off + size <= len(data) else None
        data = self.mem.read(avma, size)
        return data if len(data) == size else None


def fp_chain(mem, regs, ip: int, at_func_entry: bool, limit: int, trampoline: int = 0,
             pending=()) -> List[int]:
    """The callchain entries (context marker first) of a sample at ``ip`` with these registers;
    ``pending``: the original return addresses of the thread's pending return probes, innermost first."""
    out = [PERF_CONTEXT_USER, ip]
    pages = _Pages(mem)
    if at_func_entry:
        raw = pages.read(regs.rsp, 8)
        if raw is not None and len(out) - 1 < limit:
            out.append(_U64.unpack(raw)[0])
    fp = regs.rbp
    while len(out) - 1 < limit:
        if fp > 0x7FFFFFFFF000 - 16:  # valid_user_frame: beyond user space
            break
        raw = pages.read(fp, 16)
        if raw is None:
            break
        fp, ret = _FRAME.unpack(raw)
        out.append(ret)
    if trampoline and pending:
        it = iter(pending)
        for i in range(1, len(out)):
            if out[i] == trampoline:
                orig = next(it, None)
                if orig is None:
                    break
                out[i] = orig
    return out


def user_stack(mem, rsp: int, size: int):
    """(the ``size`` bytes from %rsp, zero-padded, and how many were read)."""
    if not rsp or rsp >= 0x7FFFFFFFF000:
        return bytes(size), 0
    data = mem.read(rsp, size)
    return data + bytes(size - len(data)), len(data)
