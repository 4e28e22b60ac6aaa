"""How the instruction under a breakpoint runs after a hit (x86-64), decided once when it is placed.

The choice, and why. seed 001 describes the "conventional" ptrace way: put the original byte back,
single-step inline, put the int3 back, which is correct only while every other thread is stopped (else one
of them runs through the unprotected instruction and its hit is lost), and so costs a stop of every thread
per hit. Uprobes instead execute a copy of the instruction out of line (XOL) and fix up after a single
step. Here the copy is made *boosted*, as the kernel's kprobes and the later uprobes do for simple
instructions: the slot holds the instruction followed by an absolute jump back to the next original
instruction (``jmp *0(%rip); .quad next``), so a hit costs one stop (the int3) and one resume with %rip in
the slot, no single step, and no other thread is ever stopped: every thread runs through the same
read-only slot, and every hit of every thread is counted.

What cannot run from elsewhere is handled by kind:

* rip-relative operands (``mov 0x2d85(%rip),%rax``, common at function entry in -O1 leaf functions): the
  copy's 32-bit displacement is re-aimed at the same target, so the slot page is placed within +-2 GB of
  the code (xol.py);
* branches, calls and returns (relative or not) are emulated on the registers: their effect is only %rip,
  %rsp and the pushed return address (``emulate``);
* int3/int n/iret and anything capstone cannot decode are refused when the probe is placed.
"""
from __future__ import annotations

import struct
from typing import Callable, Optional

from pyperf_probe.errors import ProbeError

JMP_ABS = b"\xff\x25\x00\x00\x00\x00"  # jmp *0(%rip): the 8 bytes after it are the target
SLOT_SIZE = 32  # 15 (longest instruction) + 6 + 8, rounded up
INT3 = 0xCC
_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")

# capstone x86 instruction groups (capstone.x86_const)
_GRP_JUMP, _GRP_CALL, _GRP_RET, _GRP_INT, _GRP_IRET, _GRP_BRANCH_RELATIVE = 1, 2, 3, 4, 5, 7

_FLAG = {"CF": 0, "PF": 2, "ZF": 6, "SF": 7, "OF": 11}


def _cond(mnemonic: str) -> Optional[Callable[[int], bool]]:
    """The condition of a jcc on eflags (Intel SDM Vol. 2, Jcc)."""
    f = lambda flags, name: (flags >> _FLAG[name]) & 1  # noqa: E731
    table = {
        "jo": lambda e: f(e, "OF") == 1, "jno": lambda e: f(e, "OF") == 0,
        "jb": lambda e: f(e, "CF") == 1, "jae": lambda e: f(e, "CF") == 0,
        "je": lambda e: f(e, "ZF") == 1, "jne": lambda e: f(e, "ZF") == 0,
        "jbe": lambda e: f(e, "CF") == 1 or f(e, "ZF") == 1, "ja": lambda e: f(e, "CF") == 0 and f(e, "ZF") == 0,
        "js": lambda e: f(e, "SF") == 1, "jns": lambda e: f(e, "SF") == 0,
        "jp": lambda e: f(e, "PF") == 1, "jnp": lambda e: f(e, "PF") == 0,
        "jl": lambda e: f(e, "SF") != f(e, "OF"), "jge": lambda e: f(e, "SF") == f(e, "OF"),
        "jle": lambda e: f(e, "ZF") == 1 or f(e, "SF") != f(e, "OF"),
        "jg": lambda e: f(e, "ZF") == 0 and f(e, "SF") == f(e, "OF"),
    }
    return table.get(mnemonic)


class Step:
    """The instruction at a breakpoint and how it runs after a hit.

    ``code``: its bytes; ``size``; ``disp_at``: offset of a rip-relative disp32 in ``code`` (-1: none);
    ``emulate``: for branches, ``emulate(regs, mem)`` sets the registers (and writes a pushed return address)
    as the instruction would; ``at_func_entry``: ``push %rbp`` or ``endbr64``, where the kernel adds the
    return address at %rsp to a sample's frame-pointer chain (arch/x86/events/core.c
    ``is_uprobe_at_func_entry``), so the backend does too."""

    __slots__ = ("avma", "code", "size", "disp_at", "emulate", "at_func_entry", "text")

    def __init__(self, avma: int, code: bytes, disp_at: int, emulate, text: str):
        self.avma, self.code, self.size = avma, code, len(code)
        self.disp_at, self.emulate, self.text = disp_at, emulate, text
        self.at_func_entry = code[:1] == b"\x55" or code[:4] == b"\xf3\x0f\x1e\xfa"

    @property
    def out_of_line(self) -> bool:
        return self.emulate is None

    @property
    def next_avma(self) -> int:
        return self.avma + self.size

    def slot_bytes(self, slot_avma: int) -> bytes:
        """The copy for a slot at ``slot_avma``: the instruction (its rip-relative target kept) and the
        jump back. Raises ValueError when the target is out of a disp32's reach from the slot."""
        code = self.code
        if self.disp_at >= 0:
            (disp,) = _I32.unpack_from(code, self.disp_at)
            target = self.next_avma + disp
            new = target - (slot_avma + self.size)
            if not -(1 << 31) <= new < (1 << 31):
                raise ValueError("rip-relative target out of reach")
            code = code[:self.disp_at] + _I32.pack(new) + code[self.disp_at + 4:]
        return code + JMP_ABS + _U64.pack(self.next_avma)


def _disassembler():
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    return md


_MD = None


def analyse(code: bytes, avma: int) -> Step:
    """Decode the instruction at ``avma`` (``code``: at least its bytes) and decide how it runs."""
    global _MD
    if _MD is None:
        _MD = _disassembler()
    insn = next(_MD.disasm(code[:16], avma, 1), None)
    if insn is None:
        raise ProbeError(f"cannot decode the instruction at {avma:#x} ({code[:16].hex()})")
    raw = bytes(insn.bytes)
    text = f"{insn.mnemonic} {insn.op_str}".strip()
    groups = set(insn.groups)
    if raw[0] == INT3 or (groups & {_GRP_INT, _GRP_IRET} and insn.mnemonic != "syscall"):
        raise ProbeError(f"cannot probe '{text}' at {avma:#x} with ptrace")
    emulate = _branch(insn, groups, avma + len(raw))
    disp_at = -1
    if emulate is None:
        from capstone.x86 import X86_OP_MEM, X86_REG_RIP
        if any(op.type == X86_OP_MEM and op.mem.base == X86_REG_RIP for op in insn.operands):
            disp_at = insn.disp_offset
    return Step(avma, raw, disp_at, emulate, text)


# ---- emulation of control transfers -------------------------------------------------------------------

def _reg_getter(reg_id: int) -> Callable:
    """Register of a capstone operand -> function(regs) giving its value (64-bit registers, and the 32-bit
    ones an address-size prefix uses, zero-extended)."""
    import capstone.x86 as X
    names = {X.X86_REG_RAX: "rax", X.X86_REG_RBX: "rbx", X.X86_REG_RCX: "rcx", X.X86_REG_RDX: "rdx",
             X.X86_REG_RSI: "rsi", X.X86_REG_RDI: "rdi", X.X86_REG_RBP: "rbp", X.X86_REG_RSP: "rsp",
             X.X86_REG_R8: "r8", X.X86_REG_R9: "r9", X.X86_REG_R10: "r10", X.X86_REG_R11: "r11",
             X.X86_REG_R12: "r12", X.X86_REG_R13: "r13", X.X86_REG_R14: "r14", X.X86_REG_R15: "r15"}
    low = {X.X86_REG_EAX: "rax", X.X86_REG_EBX: "rbx", X.X86_REG_ECX: "rcx", X.X86_REG_EDX: "rdx",
           X.X86_REG_ESI: "rsi", X.X86_REG_EDI: "rdi", X.X86_REG_EBP: "rbp", X.X86_REG_ESP: "rsp"}
    if reg_id in names:
        name = names[reg_id]
        return lambda regs: getattr(regs, name)
    if reg_id in low:
        name = low[reg_id]
        return lambda regs: getattr(regs, name) & 0xFFFFFFFF
    raise ProbeError(f"cannot emulate a branch through register {reg_id}")


def _target(insn, next_avma: int) -> Callable:
    """The branch target of operand 0 -> function(regs, mem) giving it."""
    import capstone.x86 as X
    op = insn.operands[0]
    if op.type == X.X86_OP_IMM:
        target = op.imm & 0xFFFFFFFFFFFFFFFF
        return lambda regs, mem: target
    if op.type == X.X86_OP_REG:
        get = _reg_getter(op.reg)
        return lambda regs, mem: get(regs)
    if op.type == X.X86_OP_MEM:
        m = op.mem
        if m.segment != X.X86_REG_INVALID:
            raise ProbeError(f"cannot emulate '{insn.mnemonic} {insn.op_str}' (segment override)")
        base = (lambda regs: next_avma) if m.base == X.X86_REG_RIP else (
            _reg_getter(m.base) if m.base != X.X86_REG_INVALID else (lambda regs: 0))
        index = _reg_getter(m.index) if m.index != X.X86_REG_INVALID else (lambda regs: 0)
        scale, disp = m.scale, m.disp
        return lambda regs, mem: mem.read_u64((base(regs) + index(regs) * scale + disp) & 0xFFFFFFFFFFFFFFFF)
    raise ProbeError(f"cannot emulate '{insn.mnemonic} {insn.op_str}'")


def _branch(insn, groups, next_avma: int):
    """An emulation function for a control transfer; None for anything else."""
    mn = insn.mnemonic
    if _GRP_RET in groups:
        pop = 8 + (insn.operands[0].imm if insn.operands else 0)

        def ret(regs, mem):
            regs.rip = mem.read_u64(regs.rsp)
            regs.rsp += pop
        return ret
    if _GRP_CALL in groups:
        target = _target(insn, next_avma)

        def call(regs, mem):
            dest = target(regs, mem)  # before %rsp moves: 'call *8(%rsp)' reads the old one
            regs.rsp -= 8
            mem.write_u64(regs.rsp, next_avma)
            regs.rip = dest
        return call
    if _GRP_JUMP not in groups and _GRP_BRANCH_RELATIVE not in groups:  # loop* are only "relative"
        return None
    target = _target(insn, next_avma)
    if mn == "jmp" or mn == "ljmp":
        def jmp(regs, mem):
            regs.rip = target(regs, mem)
        return jmp
    if mn in ("jrcxz", "jecxz"):
        mask = 0xFFFFFFFFFFFFFFFF if mn == "jrcxz" else 0xFFFFFFFF

        def jcxz(regs, mem):
            regs.rip = target(regs, mem) if regs.rcx & mask == 0 else next_avma
        return jcxz
    if mn in ("loop", "loope", "loopne"):
        def loop(regs, mem):
            regs.rcx = (regs.rcx - 1) & 0xFFFFFFFFFFFFFFFF
            zf = (regs.eflags >> _FLAG["ZF"]) & 1
            go = regs.rcx != 0 and (mn == "loop" or (mn == "loope") == bool(zf))
            regs.rip = target(regs, mem) if go else next_avma
        return loop
    cond = _cond(mn)
    if cond is None:
        raise ProbeError(f"cannot emulate '{insn.mnemonic} {insn.op_str}'")

    def jcc(regs, mem):
        regs.rip = target(regs, mem) if cond(regs.eflags) else next_avma
    return jcc
