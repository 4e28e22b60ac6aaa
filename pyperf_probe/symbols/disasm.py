"""Instruction boundaries, with capstone: is ``FUNC+OFF`` the start of an instruction?

perf accepts any offset, and a uprobe in the middle of an instruction corrupts it (the traced program then
crashes or computes garbage). x86 instructions have variable length, so the function is decoded from its
entry (linear sweep, which is how compilers lay out a function's code) up to the offset. Fixed-width ISAs
need only an alignment check. capstone is imported only when a probe has an offset.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional

from pyperf_probe.symbols.elf import EM_386, EM_AARCH64, EM_ARM, EM_X86_64, ElfImage

FIXED_WIDTH = {EM_AARCH64: 4}
MAX_DECODE = 1 << 20


@dataclasses.dataclass(frozen=True)
class Insn:
    """One decoded instruction: offset from the function entry, length, and its text."""

    offset: int
    size: int
    text: str


def decode(image: ElfImage, entry_svma: int, length: int) -> Optional[List[Insn]]:
    """Instructions from ``entry_svma`` covering ``length`` bytes; None when this architecture or these
    bytes cannot be decoded (no check is made then)."""
    if image.machine not in (EM_X86_64, EM_386):
        return None
    code = image.read_at_svma(entry_svma, min(length + 16, MAX_DECODE))
    if not code:
        return None
    import capstone
    mode = capstone.CS_MODE_64 if image.machine == EM_X86_64 else capstone.CS_MODE_32
    md = capstone.Cs(capstone.CS_ARCH_X86, mode)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT          # as perf annotate and objdump show x86 code
    out = []
    for address, size, mnemonic, op_str in md.disasm_lite(code, 0):
        out.append(Insn(address, size, f"{mnemonic} {op_str}".strip()))
        if address + size > length:
            break
    return out


def containing_insn(image: ElfImage, entry_svma: int, offset: int) -> Optional[Insn]:
    """The instruction that ``entry + offset`` falls strictly inside of, or None when the offset starts an
    instruction (or nothing can be said)."""
    if offset == 0:
        return None
    width = FIXED_WIDTH.get(image.machine)
    if width:
        return Insn(offset - offset % width, width, "") if offset % width else None
    if image.machine == EM_ARM:
        return None
    insns = decode(image, entry_svma, offset)
    if not insns:
        return None
    for insn in insns:
        if insn.offset == offset:
            return None
        if insn.offset < offset < insn.offset + insn.size:
            return insn
    return None
