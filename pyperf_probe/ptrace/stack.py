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


def fp_chain(mem, regs, ip: int, at_func_entry: bool, limit: int, trampoline: int = 0,
             pending=()) -> List[int]:
    """The callchain entries (context marker first) of a sample at ``ip`` with these registers;
    ``pending``: the original return addresses of the thread's pending return probes, innermost first.
    The stack is read a page at a time (frames sit close together), the two pages from %rsp's in one
    read, which holds most chains."""
    out = [PERF_CONTEXT_USER, ip]
    base = regs.rsp & ~(PAGE - 1)
    window = mem.read(base, 2 * PAGE)
    end = base + len(window)
    extra = {}

    def read(avma: int, size: int):
        if base <= avma and avma + size <= end:
            return window[avma - base:avma - base + size]
        page = avma & ~(PAGE - 1)
        if avma + size > page + PAGE:
            data = mem.read(avma, size)
            return data if len(data) == size else None
        data = extra.get(page)
        if data is None:
            data = extra[page] = mem.read(page, PAGE)
        off = avma - page
        return data[off:off + size] if off + size <= len(data) else None

    if at_func_entry and limit > 1:
        raw = read(regs.rsp, 8)
        if raw is not None:
            out.append(_U64.unpack(raw)[0])
    fp, unpack = regs.rbp, _FRAME.unpack
    while len(out) <= limit:
        if fp > 0x7FFFFFFFF000 - 16:  # valid_user_frame: beyond user space
            break
        raw = read(fp, 16)
        if raw is None:
            break
        fp, ret = unpack(raw)
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
