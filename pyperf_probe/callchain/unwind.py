"""A pure x86_64 DWARF unwinder: registers + a memory reader + a rule lookup in, frame addresses out.

Nothing here knows about perf.data, ELF files or maps. The caller injects

* ``read_word(avma) -> int | None``: an 8-byte little-endian word of the sampled thread's memory, None when
  it was not captured (outside the STACK_USER copy);
* ``lookup(avma) -> Row | None``: the ``cfa_program`` rule row covering a code address, None when no map
  or no CFI holds it.

so that the same code unwinds a ``perf.data`` sample and a test's hand-written list of words (the framehop
design). Each step follows DWARF 5 §6.4.4 (call frame calling address): find the row for the frame's pc,
compute the CFA, restore rip and rbp from their rules, and continue with rsp = CFA.

Return addresses point after the call, possibly into the next function or past a noreturn call's end, so
a caller is looked up at ``ra - 1`` (``lookup_avma``); the frame after a signal trampoline ('S'
augmentation) holds the interrupted pc itself, which is looked up as is. The chain returned holds these
lookup addresses: exactly what perf 6.1 stores for a dwarf sample (``frame_callback`` in
tools/perf/util/unwind-libdw.c decrements the pc of every frame that is not an activation) and where
symbols and inline frames are to be resolved.
"""
from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Sequence

from .cfa_program import (CFA_DEREF_REG_OFF, CFA_NONE, CFA_PLT, CFA_REG_OFF, FLAG_SIGNAL, NO_CFI_ROW, NUM_REGS,
                          REG_RBP, REG_RIP, REG_RSP, RULE_AT_REG_OFF, RULE_OFFSET, RULE_REGISTER, RULE_SAME,
                          RULE_UNDEFINED, RULE_VAL_OFFSET, RULE_VAL_REG_OFF, Row)

ReadWord = Callable[[int], int | None]
Lookup = Callable[[int], Row | None]

# Why an unwind stopped (second element of ``unwind_with_reason``).
STOP_ROOT = "root"  # the return address rule is undefined (``_start``, ``clone3``): a complete chain
STOP_NO_CFI = "no-cfi"  # no map or no FDE for the pc
STOP_UNSUPPORTED = "unsupported"  # a CFA or register rule this unwinder cannot evaluate
STOP_MEMORY = "memory"  # a word outside the captured stack (the usual end of a truncated copy)
STOP_LOOP = "loop"  # the stack pointer did not move up: corrupt stack or CFI
STOP_MAX = "max-frames"
STOP_ZERO = "zero-pc"  # a zero return address (some runtimes end their chains this way; perf 6.1 stores it
# as 0 - 1: dwarf_unwind adds that frame)
STOP_ZERO_SIGNAL = "zero-pc-signal"  # a zero pc interrupted by a signal (perf stores 0 and prints nothing)
STOP_NO_REGS = "no-regs"  # the sample has no ip or sp (REGS_USER with abi NONE: a kernel thread)

MASK64 = (1 << 64) - 1
_U64 = struct.Struct("<Q")
DEFAULT_MAX_FRAMES = 1024


def lookup_avma(pc: int, is_return_address: bool) -> int:
    """The address whose CFI row applies to a frame: ``pc - 1`` for a return address (the call
    instruction's last byte), ``pc`` for the sampled ip and for a pc interrupted by a signal."""
    return pc - 1 if is_return_address else pc


def unwind(regs: Sequence[int | None], read_word: ReadWord, lookup: Lookup,
           max_frames: int = DEFAULT_MAX_FRAMES) -> list[int]:
    """The frame addresses of a stack, innermost first: the sampled ip, then ``ra - 1`` for each return
    address (``ra`` itself for a pc interrupted by a signal).

    ``regs`` is indexed by DWARF register number (x86_64 psABI: 6 rbp, 7 rsp, 16 rip), None where unknown.
    """
    return unwind_with_reason(regs, read_word, lookup, max_frames)[0]


def unwind_with_reason(regs: Sequence[int | None], read_word: ReadWord | None, lookup: Lookup,
                       max_frames: int = DEFAULT_MAX_FRAMES, stack: bytes = b"", stack_avma: int = 0,
                       plans: dict[int, tuple] | None = None) -> tuple[list[int], str]:
    """:func:`unwind` plus the reason it stopped (``STOP_*``); ``STOP_ROOT`` means a complete chain.

    Two optional fast paths for the caller that unwinds many samples (``dwarf_unwind``), same results:

    * ``stack``: a copy of the memory at ``stack_avma`` (perf's STACK_USER, from the sampled rsp), read
      in place, one ``unpack_from`` per word (28 words per sample on average: unpacking the 8 KB copy
      at once, or a ``memoryview.cast('Q')``, measured no faster); ``read_word`` (may be None: nothing
      else is readable) only for words outside it;
    * ``plans``: a memo of ``lookup`` (pc -> ``_plan(row)``), shared by the samples of one address
      space: ``lookup`` is called once per distinct pc.

    One loop on purpose: it runs once per frame of every sample (270K frames for 15K samples of a
    ``make`` build). Where the C accelerator was built, its ``unwind_run`` takes the frames of the common
    rows (below) as long as it can, and this loop the frame it stops at (the same steps: tests/test_unwind.py
    compares the two). The rows nearly every frame has (CFA = rsp or rbp + off, rip and maybe rbp saved at
    CFA + off, no signal frame: ``_plan`` code > 0) take a short path with the stack reads inline; the
    others go through the general rule evaluation (``_other_rule`` for the rare register rules).
    """
    pc = regs[REG_RIP]
    rsp = regs[REG_RSP]
    rbp = regs[REG_RBP]
    if pc is None or rsp is None:
        return [], STOP_NO_REGS
    if plans is None:
        plans = {}
    plans_get = plans.get
    limit = len(stack) - 8
    unpack = _U64.unpack_from

    def read(avma: int) -> int | None:  # the rare reads (CFA deref, expression rules)
        off = avma - stack_avma
        if 0 <= off <= limit:
            return unpack(stack, off)[0]
        return read_word(avma) if read_word is not None else None

    frames = [pc]
    append = frames.append
    mask = MASK64
    plan_rsp, plan_rbp = _PLAN_RSP, _PLAN_RBP
    first = regs  # every register is known in the sampled frame only
    left = max_frames - 1
    fast = _unwind_run if isinstance(stack, (bytes, memoryview)) else None
    while left > 0:
        if fast is not None:
            got = fast(stack, stack_avma, pc, rsp, rbp, plans, left, frames)
            if got[3] != left:
                pc, rsp, rbp, left = got
                first = None
                if not left:
                    break
        left -= 1
        plan = plans_get(pc)
        if plan is None:
            plan = plans[pc] = _plan(lookup(pc) or NO_CFI_ROW)
        code, coff, roff, boff = plan
        if code > _PLAN_RBP:  # -- the rows that end every chain: the outermost frame, no CFI -----------
            return frames, (STOP_ROOT if code == _PLAN_ROOT else STOP_NO_CFI)
        if code:  # -- the common rows ----------------------------------------------------------------
            if code == plan_rbp:
                if rbp is None:
                    return frames, STOP_UNSUPPORTED
                cfa = (rbp + coff) & mask
            else:
                cfa = (rsp + coff) & mask
            off = ((cfa + roff) & mask) - stack_avma
            if 0 <= off <= limit:
                ra = unpack(stack, off)[0]
            else:
                ra = read_word(off + stack_avma) if read_word is not None else None
                if ra is None:
                    return frames, STOP_MEMORY
            if code != plan_rsp:  # rbp saved at CFA + off
                off = ((cfa + boff) & mask) - stack_avma
                if 0 <= off <= limit:
                    rbp = unpack(stack, off)[0]
                else:
                    rbp = read_word(off + stack_avma) if read_word is not None else None
            if cfa <= rsp:  # the stack grows down: a caller's frame is above its callee's
                return frames, STOP_LOOP
            if ra == 0:
                return frames, STOP_ZERO
            pc = ra - 1  # a return address: the call is the byte before (lookup_avma)
        else:  # -- any row ---------------------------------------------------------------------------
            ckind, creg, coff, caux, rkind, rreg, roff, bkind, breg, boff, flags = coff  # the row
            if ckind == CFA_REG_OFF or ckind == CFA_DEREF_REG_OFF:
                base = rsp if creg == REG_RSP else rbp if creg == REG_RBP else (
                    first[creg] if first and creg < NUM_REGS else None)
                if base is None:
                    return frames, STOP_UNSUPPORTED
                cfa = (base + coff) & MASK64
                if ckind == CFA_DEREF_REG_OFF:
                    cfa = read(cfa)
                    if cfa is None:
                        return frames, STOP_MEMORY
            elif ckind == CFA_PLT:
                cfa = rsp + coff + (8 if (pc & 15) >= caux else 0)
            else:
                return frames, (STOP_NO_CFI if ckind == 0 else STOP_UNSUPPORTED)
            if rkind == RULE_OFFSET:
                ra = read((cfa + roff) & MASK64)
            elif rkind == RULE_UNDEFINED:
                return frames, STOP_ROOT
            else:
                ra = _other_rule(rkind, rreg, roff, cfa, rsp, rbp, pc, first, read)
            if ra is None:
                return frames, STOP_MEMORY if rkind in (RULE_OFFSET, RULE_AT_REG_OFF) else STOP_UNSUPPORTED
            if bkind == RULE_OFFSET:
                rbp = read((cfa + boff) & MASK64)
            elif bkind != RULE_SAME:
                rbp = None if bkind == RULE_UNDEFINED else _other_rule(bkind, breg, boff, cfa, rsp, rbp, pc,
                                                                        first, read)
            signal = flags & FLAG_SIGNAL  # the next pc was interrupted, not a return address: no ra - 1
            if cfa <= rsp and not signal:
                return frames, STOP_LOOP
            if ra == 0:
                return frames, (STOP_ZERO_SIGNAL if signal else STOP_ZERO)
            pc = lookup_avma(ra, not signal)
        append(pc)
        rsp = cfa
        first = None
    return frames, STOP_MAX


def _c_unwind_run():
    """``_speedups.unwind_run`` (the common rows' frames in C), or None without the accelerator."""
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "unwind_run", None)


_unwind_run = _c_unwind_run()

# ``_plan`` codes: 0 = evaluate the row in general; the common forms of the row, read without unpacking it.
_PLAN_RSP = 1  # cfa = rsp + off, rip at cfa + off, rbp unchanged
_PLAN_RSP_BP = 2  # cfa = rsp + off, rip and rbp at cfa + off
_PLAN_RBP = 3  # cfa = rbp + off, rip and rbp at cfa + off
_PLAN_ROOT = 4  # cfa = rsp + off, rip undefined: the outermost frame (``_start``, ``clone3``): STOP_ROOT
_PLAN_NO_CFI = 5  # no map or no FDE for the pc: STOP_NO_CFI


@functools.lru_cache(maxsize=4096)
def _plan(row: Row) -> tuple:
    """How the unwinder evaluates ``row``: ``(code, cfa off, rip off, rbp off)`` for the common forms
    (gcc's prologues: ``sub rsp`` / ``push`` frames and ``push rbp; mov rsp, rbp`` ones), ``(code, 0, 0,
    0)`` for the rows that end a chain whatever the registers (the outermost frame's, where the CFA is
    rsp + off and so always computable; no CFI), else ``(0, row, 0, 0)``. Rows are few distinct tuples
    (cc1: 652), so this is computed once per row."""
    ckind, creg, coff, _aux, rkind, _rreg, roff, bkind, _breg, boff, flags = row
    if ckind == CFA_NONE:
        return _PLAN_NO_CFI, 0, 0, 0
    if ckind == CFA_REG_OFF and creg == REG_RSP and rkind == RULE_UNDEFINED:
        return _PLAN_ROOT, 0, 0, 0
    if ckind == CFA_REG_OFF and rkind == RULE_OFFSET and not flags & FLAG_SIGNAL:
        if creg == REG_RSP and bkind == RULE_SAME:
            return _PLAN_RSP, coff, roff, 0
        if bkind == RULE_OFFSET and creg in (REG_RSP, REG_RBP):
            return (_PLAN_RSP_BP if creg == REG_RSP else _PLAN_RBP), coff, roff, boff
    return 0, row, 0, 0


def _other_rule(kind: int, reg: int, off: int, cfa: int, rsp: int, rbp: int | None, pc: int,
                first: list[int | None] | None, read_word: ReadWord) -> int | None:
    """The less common register rules (DWARF 5 §6.4.1): val_offset, expression/val_expression of the
    form ``bregN off``, register, same value. Registers other than rsp/rbp/rip are known only in the
    sampled frame."""
    if kind == RULE_VAL_OFFSET:
        return (cfa + off) & MASK64
    if kind in (RULE_AT_REG_OFF, RULE_VAL_REG_OFF, RULE_REGISTER):
        value = rsp if reg == REG_RSP else rbp if reg == REG_RBP else pc if reg == REG_RIP else (
            first[reg] if first is not None and reg < NUM_REGS else None)
        if value is None or kind == RULE_REGISTER:
            return value
        address = (value + off) & MASK64
        return address if kind == RULE_VAL_REG_OFF else read_word(address)
    return None
