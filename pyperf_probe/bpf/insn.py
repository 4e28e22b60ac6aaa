"""The eBPF instruction set: encoding, named constructors and a disassembler.

Documentation/bpf/standardization/instruction-set.rst: an instruction is 64 bits, little-endian here::

    opcode:8  dst_reg:4  src_reg:4  offset:16 (signed)  imm:32 (signed)

and the 64-bit immediate load (``LD | DW | IMM``) takes two slots, the second holding the upper half of the
constant in its ``imm``. The opcode is ``class | size | mode`` for loads and stores, ``class | source | op``
for arithmetic and jumps. The constructors are named as the kernel's samples name them
(``BPF_MOV64_REG(BPF_REG_6, BPF_REG_1)`` is ``MOV64_REG(R6, R1)`` here), so a generated program reads like the
assembly the verifier's log prints; :func:`disasm` prints one the way ``bpftool prog dump xlated`` does.

:class:`Asm` is the assembler: instructions with symbolic jump targets (labels) resolved into offsets.
"""
from __future__ import annotations

import struct

from pyperf_probe.records import Record, field

# registers: R0 return value, R1-R5 arguments (clobbered by calls), R6-R9 callee-saved, R10 frame pointer
R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)
FP = R10

# instruction classes
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
# size (loads and stores)
W, H, B, DW = 0x00, 0x08, 0x10, 0x18
SIZE_BYTES = {W: 4, H: 2, B: 1, DW: 8}
BYTES_SIZE = {4: W, 2: H, 1: B, 8: DW}
# mode
IMM, ABS, IND, MEM, MEMSX, ATOMIC = 0x00, 0x20, 0x40, 0x60, 0x80, 0xC0
# source operand
K, X = 0x00, 0x08
# arithmetic operations
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR, MOV, ARSH, END = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0)
# jump operations
JA, JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE, CALL, EXIT_OP, JLT, JLE, JSLT, JSLE = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0)

PSEUDO_MAP_FD = 1          # src_reg of LD_IMM64: imm is a map's file descriptor

_STRUCT = struct.Struct("<BBhi")


class Insn(Record):
    """``struct bpf_insn``: opcode, registers, 16-bit offset, 32-bit immediate (and a comment for -v)."""

    __slots__ = ()
    _fields = ("code", "dst", "src", "off", "imm", "comment")

    def __new__(cls, code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0, comment: str = ""):
        return tuple.__new__(cls, (code, dst, src, off, imm, comment))

    code = field(0, "opcode: class | size | mode, or class | source | operation")
    dst = field(1, "destination register")
    src = field(2, "source register (or a pseudo source for LD_IMM64)")
    off = field(3, "signed 16-bit offset: memory displacement or jump distance")
    imm = field(4, "signed 32-bit immediate")
    comment = field(5, "what the instruction is for (printed under -v, not encoded)")

    def encode(self) -> bytes:
        return _STRUCT.pack(self.code, (self.src << 4) | self.dst, self.off, self.imm)

    def with_comment(self, text: str) -> "Insn":
        return Insn(self.code, self.dst, self.src, self.off, self.imm, text)


def _s32(value: int) -> int:
    """A constant as the signed 32-bit immediate the instruction holds (the kernel sign-extends it)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


# --- constructors ------------------------------------------------------------------------------------------

def ALU64_REG(op: int, dst: int, src: int) -> Insn:
    return Insn(ALU64 | op | X, dst, src)


def ALU64_IMM(op: int, dst: int, imm: int) -> Insn:
    return Insn(ALU64 | op | K, dst, 0, 0, _s32(imm))


def ALU32_REG(op: int, dst: int, src: int) -> Insn:
    return Insn(ALU | op | X, dst, src)


def ALU32_IMM(op: int, dst: int, imm: int) -> Insn:
    return Insn(ALU | op | K, dst, 0, 0, _s32(imm))


def SDIV64_REG(dst: int, src: int) -> Insn:
    """Signed division (offset 1: instruction-set.rst "SDIV"), kernel 6.6+."""
    return Insn(ALU64 | DIV | X, dst, src, 1)


def SMOD64_REG(dst: int, src: int) -> Insn:
    return Insn(ALU64 | MOD | X, dst, src, 1)


def MOV64_REG(dst: int, src: int) -> Insn:
    return ALU64_REG(MOV, dst, src)


def MOV64_IMM(dst: int, imm: int) -> Insn:
    return ALU64_IMM(MOV, dst, imm)


def MOV32_REG(dst: int, src: int) -> Insn:
    """32-bit move: the upper half of ``dst`` becomes zero (a zero extension)."""
    return ALU32_REG(MOV, dst, src)


def NEG64(dst: int) -> Insn:
    return Insn(ALU64 | NEG | K, dst)


def LD_IMM64(dst: int, imm: int, src: int = 0) -> list:
    """The two-slot 64-bit constant load."""
    imm &= (1 << 64) - 1
    return [Insn(LD | DW | IMM, dst, src, 0, _s32(imm)), Insn(0, 0, 0, 0, _s32(imm >> 32))]


def LD_MAP_FD(dst: int, map_fd: int) -> list:
    """``dst`` = the map whose file descriptor is ``map_fd`` (the verifier turns it into the map's address)."""
    return LD_IMM64(dst, map_fd, PSEUDO_MAP_FD)


def LDX_MEM(size: int, dst: int, src: int, off: int) -> Insn:
    return Insn(LDX | size | MEM, dst, src, off)


def STX_MEM(size: int, dst: int, src: int, off: int) -> Insn:
    return Insn(STX | size | MEM, dst, src, off)


def ST_MEM(size: int, dst: int, off: int, imm: int) -> Insn:
    return Insn(ST | size | MEM, dst, 0, off, _s32(imm))


def ATOMIC_ADD(size: int, dst: int, src: int, off: int) -> Insn:
    """``*(size *)(dst + off) += src`` atomically (instruction-set.rst "Atomic operations", imm = ADD)."""
    return Insn(STX | size | ATOMIC, dst, src, off, ADD)


def JMP_REG(op: int, dst: int, src: int, off: int) -> Insn:
    return Insn(JMP | op | X, dst, src, off)


def JMP_IMM(op: int, dst: int, imm: int, off: int) -> Insn:
    return Insn(JMP | op | K, dst, 0, off, _s32(imm))


def JA_(off: int) -> Insn:
    return Insn(JMP | JA, 0, 0, off)


def CALL_HELPER(helper: int) -> Insn:
    return Insn(JMP | CALL, 0, 0, 0, helper)


def EXIT() -> Insn:
    return Insn(JMP | EXIT_OP)


# --- helpers (include/uapi/linux/bpf.h, enum bpf_func_id) ---------------------------------------------------

HELPERS = {
    1: "map_lookup_elem", 2: "map_update_elem", 3: "map_delete_elem", 4: "probe_read", 5: "ktime_get_ns",
    8: "get_smp_processor_id", 14: "get_current_pid_tgid", 15: "get_current_uid_gid",
    16: "get_current_comm", 45: "probe_read_str", 112: "probe_read_user", 113: "probe_read_kernel",
    114: "probe_read_user_str", 115: "probe_read_kernel_str",
}
HELPER_IDS = {name: number for number, name in HELPERS.items()}

# map_update_elem flags
BPF_ANY, BPF_NOEXIST, BPF_EXIST = 0, 1, 2


# --- the assembler ------------------------------------------------------------------------------------------

class Label:
    """A jump target, placed by :meth:`Asm.place`."""

    __slots__ = ("name", "at")

    def __init__(self, name: str):
        self.name = name
        self.at = None


class Asm:
    """A program under construction: instructions, and jumps to labels resolved by :meth:`finish`."""

    def __init__(self):
        self.insns: list = []
        self._fixups: list = []       # (index of the jump, Label)

    def emit(self, *items, comment: str = "") -> None:
        """Append instructions (an ``Insn`` or a list of them, as ``LD_IMM64`` gives); ``comment`` goes on the
        first one."""
        first = True
        for item in items:
            for insn in (item if isinstance(item, list) else [item]):
                if comment and first:
                    insn = insn.with_comment(comment)
                first = False
                self.insns.append(insn)

    def label(self, name: str = "") -> Label:
        return Label(name)

    def place(self, label: Label) -> None:
        label.at = len(self.insns)

    def jump(self, op: int, dst: int, operand, label: Label, *, reg: bool = False, comment: str = "") -> None:
        """A conditional jump to ``label`` (``operand`` is a register if ``reg``, else an immediate)."""
        insn = JMP_REG(op, dst, operand, 0) if reg else JMP_IMM(op, dst, operand, 0)
        self._fixups.append((len(self.insns), label))
        self.emit(insn, comment=comment)

    def goto(self, label: Label, comment: str = "") -> None:
        self._fixups.append((len(self.insns), label))
        self.emit(JA_(0), comment=comment)

    def finish(self) -> list:
        """The instructions, each jump's offset counted from the instruction after it."""
        insns = list(self.insns)
        for index, label in self._fixups:
            if label.at is None:
                raise ValueError(f"label {label.name or '?'} was never placed")
            j = insns[index]
            insns[index] = Insn(j.code, j.dst, j.src, label.at - index - 1, j.imm, j.comment)
        return insns


def encode(insns) -> bytes:
    return b"".join(i.encode() for i in insns)


# --- disassembly (the verifier's notation) ------------------------------------------------------------------

_ALU_SYM = {ADD: "+=", SUB: "-=", MUL: "*=", DIV: "/=", OR: "|=", AND: "&=", LSH: "<<=", RSH: ">>=",
            MOD: "%=", XOR: "^=", MOV: "=", ARSH: "s>>="}
_JMP_SYM = {JEQ: "==", JGT: ">", JGE: ">=", JSET: "&", JNE: "!=", JSGT: "s>", JSGE: "s>=", JLT: "<",
            JLE: "<=", JSLT: "s<", JSLE: "s<="}
_SIZE_NAME = {W: "u32", H: "u16", B: "u8", DW: "u64"}


def _one(insn: Insn, nxt) -> str:
    cls, code = insn.code & 7, insn.code
    if cls in (ALU, ALU64):
        r = "r" if cls == ALU64 else "w"
        op = code & 0xF0
        src = f"{r}{insn.src}" if code & X else str(insn.imm)
        if op == NEG:
            return f"{r}{insn.dst} = -{r}{insn.dst}"
        sym = _ALU_SYM.get(op, f"alu{op:#x}")
        if insn.off == 1 and op in (DIV, MOD):
            sym = "s" + sym
        return f"{r}{insn.dst} {sym} {src}"
    if cls == LDX:
        return f"r{insn.dst} = *({_SIZE_NAME[code & 0x18]} *)(r{insn.src} {insn.off:+d})"
    if cls == STX and code & 0xE0 == ATOMIC:
        return f"lock *({_SIZE_NAME[code & 0x18]} *)(r{insn.dst} {insn.off:+d}) += r{insn.src}"
    if cls == STX:
        return f"*({_SIZE_NAME[code & 0x18]} *)(r{insn.dst} {insn.off:+d}) = r{insn.src}"
    if cls == ST:
        return f"*({_SIZE_NAME[code & 0x18]} *)(r{insn.dst} {insn.off:+d}) = {insn.imm}"
    if code == LD | DW | IMM:
        value = (insn.imm & 0xFFFFFFFF) | ((nxt.imm & 0xFFFFFFFF) << 32 if nxt else 0)
        if insn.src == PSEUDO_MAP_FD:
            return f"r{insn.dst} = map[fd {insn.imm}] ll"
        return f"r{insn.dst} = {value:#x} ll"
    if cls == JMP:
        op = code & 0xF0
        if op == CALL:
            return f"call {HELPERS.get(insn.imm, insn.imm)}#{insn.imm}"
        if op == EXIT_OP:
            return "exit"
        if op == JA:
            return f"goto pc{insn.off:+d}"
        src = f"r{insn.src}" if code & X else str(insn.imm)
        return f"if r{insn.dst} {_JMP_SYM.get(op, hex(op))} {src} goto pc{insn.off:+d}"
    return f"(code {code:#04x})"


def disasm(insns) -> list:
    """One line per instruction slot as ``bpftool prog dump xlated`` prints it (``  3: (b7) r0 = 0``), with
    the instruction's comment after it."""
    lines, i = [], 0
    while i < len(insns):
        insn = insns[i]
        nxt = insns[i + 1] if i + 1 < len(insns) else None
        text = f"{i:4d}: ({insn.code:02x}) {_one(insn, nxt)}"
        if insn.comment:
            text = f"{text:<48} ; {insn.comment}"
        lines.append(text)
        i += 2 if insn.code == LD | DW | IMM else 1
    return lines
