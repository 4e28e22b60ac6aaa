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

from typing import Callable, List, Optional, Sequence, Tuple

from .cfa_program import (CFA_DEREF_REG_OFF, CFA_PLT, CFA_REG_OFF, FLAG_SIGNAL, NUM_REGS, REG_RBP, REG_RIP,
                          REG_RSP, RULE_AT_REG_OFF, RULE_OFFSET, RULE_REGISTER, RULE_SAME, RULE_UNDEFINED,
                          RULE_VAL_OFFSET, RULE_VAL_REG_OFF, Row)

ReadWord = Callable[[int], Optional[int]]
Lookup = Callable[[int], Optional[Row]]

# Why an unwind stopped (second element of ``unwind_with_reason``).
STOP_ROOT = "root"  # the return address rule is undefined (``_start``, ``clone3``): a complete chain
STOP_NO_CFI = "no-cfi"  # no map or no FDE for the pc
STOP_UNSUPPORTED = "unsupported"  # a CFA or register rule this unwinder cannot evaluate
STOP_MEMORY = "memory"  # a word outside the captured stack (the usual end of a truncated copy)
STOP_LOOP = "loop"  # the stack pointer did not move up: corrupt stack or CFI
STOP_MAX = "max-frames"
STOP_ZERO = "zero-pc"  # a zero return address (some runtimes end their chains this way)
STOP_NO_REGS = "no-regs"  # the sample has no ip or sp (REGS_USER with abi NONE: a kernel thread)

MASK64 = (1 << 64) - 1
DEFAULT_MAX_FRAMES = 1024


def lookup_avma(pc: int, is_return_address: bool) -> int:
    """The address whose CFI row applies to a frame: ``pc - 1`` for a return address (the call
    instruction's last byte), ``pc`` for the sampled ip and for a pc interrupted by a signal."""
    return pc - 1 if is_return_address else pc


def unwind(regs: Sequence[Optional[int]], read_word: ReadWord, lookup: Lookup,
           max_frames: int = DEFAULT_MAX_FRAMES) -> List[int]:
    """The frame addresses of a stack, innermost first: the sampled ip, then ``ra - 1`` for each return
    address (``ra`` itself for a pc interrupted by a signal).

    ``regs`` is indexed by DWARF register number (x86_64 psABI: 6 rbp, 7 rsp, 16 rip), None where unknown.
    """
    return unwind_with_reason(regs, read_word, lookup, max_frames)[0]


def unwind_with_reason(regs: Sequence[Optional[int]], read_word: ReadWord, lookup: Lookup,
                       max_frames: int = DEFAULT_MAX_FRAMES) -> Tuple[List[int], str]:
    """:func:`unwind` plus the reason it stopped (``STOP_*``); ``STOP_ROOT`` means a complete chain.

    One loop on purpose: it runs once per frame of every sample (240K frames for 13K cc1 samples), so the
    common rules (CFA = rsp/rbp + off, rip and rbp at CFA + off) are evaluated inline and only the rare ones
    go through ``_other_rule``.
    """
    pc = regs[REG_RIP]
    rsp = regs[REG_RSP]
    rbp = regs[REG_RBP]
    if pc is None or rsp is None:
        return [], STOP_NO_REGS
    frames = [pc]
    first = list(regs)  # every register is known in the sampled frame only
    while len(frames) < max_frames:
        row = lookup(pc)
        if row is None:
            return frames, STOP_NO_CFI
        ckind, creg, coff, caux, rkind, rreg, roff, bkind, breg, boff, flags = row
        # -- the CFA -------------------------------------------------------------------------------
        if ckind == CFA_REG_OFF or ckind == CFA_DEREF_REG_OFF:
            base = rsp if creg == REG_RSP else rbp if creg == REG_RBP else (
                first[creg] if first and creg < NUM_REGS else None)
            if base is None:
                return frames, STOP_UNSUPPORTED
            cfa = (base + coff) & MASK64
            if ckind == CFA_DEREF_REG_OFF:
                cfa = read_word(cfa)
                if cfa is None:
                    return frames, STOP_MEMORY
        elif ckind == CFA_PLT:
            cfa = rsp + coff + (8 if (pc & 15) >= caux else 0)
        else:
            return frames, (STOP_NO_CFI if ckind == 0 else STOP_UNSUPPORTED)
        # -- rip: the return address --------------------------------------------------------------
        if rkind == RULE_OFFSET:
            ra = read_word((cfa + roff) & MASK64)
        elif rkind == RULE_UNDEFINED:
            return frames, STOP_ROOT
        else:
            ra = _other_rule(rkind, rreg, roff, cfa, rsp, rbp, pc, first, read_word)
        if ra is None:
            return frames, STOP_MEMORY if rkind in (RULE_OFFSET, RULE_AT_REG_OFF) else STOP_UNSUPPORTED
        # -- rbp ----------------------------------------------------------------------------------
        if bkind == RULE_OFFSET:
            rbp = read_word((cfa + boff) & MASK64)
        elif bkind != RULE_SAME:
            rbp = None if bkind == RULE_UNDEFINED else _other_rule(bkind, breg, boff, cfa, rsp, rbp, pc,
                                                                    first, read_word)
        # -- sanity: the stack grows down, so a caller's frame is above its callee's -------------------
        if cfa <= rsp and not flags & FLAG_SIGNAL:
            return frames, STOP_LOOP
        if ra == 0:
            return frames, STOP_ZERO
        pc = lookup_avma(ra, not flags & FLAG_SIGNAL)
        frames.append(pc)
        rsp = cfa
        first = None
    return frames, STOP_MAX


def _other_rule(kind: int, reg: int, off: int, cfa: int, rsp: int, rbp: Optional[int], pc: int,
                first: Optional[List[Optional[int]]], read_word: ReadWord) -> Optional[int]:
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
