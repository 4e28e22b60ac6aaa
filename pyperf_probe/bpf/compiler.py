"""Typed trees (bpf/typed.py) -> eBPF instructions.

Register use (the calling convention of instruction-set.rst, "Registers and calling convention"): R6 holds
the context for the whole program, R7-R9 hold the values of an expression being computed (a helper call
clobbers only R0-R5, so they survive the calls that reads and ``$PID`` make), R0-R5 are scratch within one
operation. When an operand needs more registers than are free, the value already computed waits in a stack
slot (:meth:`Compiler.value`, Sethi-Ullman's count of registers per subtree).

Every value is kept canonical: the 64-bit register holds the C value of the node's type, sign- or
zero-extended (:meth:`Compiler.canon`), so 64-bit instructions compute every narrower type exactly once the
result is narrowed again; comparisons and divisions pick the signed or unsigned instruction from the
operand type, as C does. The stack (512 bytes below R10) is handed out by :class:`Frame`.
"""
from __future__ import annotations

from pyperf_probe.bpf import ctype as C
from pyperf_probe.bpf import insn as I
from pyperf_probe.bpf.expr import ExprError

TEMPS = (I.R7, I.R8, I.R9)
CTX = I.R6
STACK_SIZE = 512

_ALU = {"+": I.ADD, "-": I.SUB, "*": I.MUL, "&": I.AND, "|": I.OR, "^": I.XOR, "<<": I.LSH}
_JMP_SIGNED = {"==": I.JEQ, "!=": I.JNE, "<": I.JSLT, "<=": I.JSLE, ">": I.JSGT, ">=": I.JSGE}
_JMP_UNSIGNED = {"==": I.JEQ, "!=": I.JNE, "<": I.JLT, "<=": I.JLE, ">": I.JGT, ">=": I.JGE}
_READ = {"user": I.HELPER_IDS["probe_read_user"], "any": I.HELPER_IDS["probe_read"],
         "kernel": I.HELPER_IDS["probe_read_kernel"]}
_READ_STR = {"user": I.HELPER_IDS["probe_read_user_str"], "any": I.HELPER_IDS["probe_read_str"],
             "kernel": I.HELPER_IDS["probe_read_kernel_str"]}


def fits_imm(value: int) -> bool:
    return -(1 << 31) <= value < (1 << 31)


class Frame:
    """The program's stack: 8-byte aligned areas below the frame pointer."""

    def __init__(self):
        self.used = 0

    def alloc(self, size: int, what: str = "") -> int:
        """The (negative) offset from R10 of a new area of ``size`` bytes."""
        self.used += (size + 7) & ~7
        if self.used > STACK_SIZE:
            raise ExprError(f"the program needs more than {STACK_SIZE} bytes of stack ({what or 'values'}): "
                            "use a smaller -z or fewer strings", 0)
        return -self.used


class Compiler:
    """Emits the instructions of typed trees into an :class:`~pyperf_probe.bpf.insn.Asm`.

    ``saved_at``: where the return program copied the entry program's slots (a frame offset), for ``saved``
    leaves."""

    def __init__(self, asm: I.Asm, frame: Frame, *, saved_at: int = 0):
        self.asm = asm
        self.frame = frame
        self.free = list(TEMPS)
        self.saved_at = saved_at
        self._scratch = None

    # -- registers

    def alloc(self) -> int:
        if not self.free:
            raise ExprError("internal error: out of registers", 0)
        return self.free.pop(0)

    def release(self, reg: int) -> None:
        if reg in TEMPS and reg not in self.free:
            self.free.append(reg)
            self.free.sort()

    def scratch_slot(self) -> int:
        if self._scratch is None:
            self._scratch = self.frame.alloc(8, "a read")
        return self._scratch

    @staticmethod
    def need(t) -> int:
        """Registers needed to compute ``t`` without spilling (Sethi-Ullman)."""
        if not t.kids:
            return 1
        needs = [Compiler.need(k) for k in t.kids]
        if len(needs) == 1:
            return needs[0]
        a, b = needs[0], max(needs[1:])
        return max(a, b) if a != b else a + 1

    def emit(self, *insns, comment: str = "") -> None:
        self.asm.emit(*insns, comment=comment)

    def load_const(self, reg: int, value: int, comment: str = "") -> None:
        value = value & ((1 << 64) - 1)
        signed = value - (1 << 64) if value >> 63 else value
        if fits_imm(signed):
            self.emit(I.MOV64_IMM(reg, signed), comment=comment)
        else:
            self.emit(I.LD_IMM64(reg, value), comment=comment)

    def canon(self, reg: int, ctype: C.CType) -> None:
        """Narrow ``reg`` to ``ctype`` and extend it back to 64 bits (nothing for 64-bit types)."""
        if ctype.name in ("_Bool", "bool"):
            end = self.asm.label()
            self.asm.jump(I.JEQ, reg, 0, end)
            self.emit(I.MOV64_IMM(reg, 1))
            self.asm.place(end)
            return
        size = ctype.size if ctype.is_integer else 8
        if size >= 8:
            return
        if ctype.signed:
            shift = 64 - 8 * size
            self.emit(I.ALU64_IMM(I.LSH, reg, shift), I.ALU64_IMM(I.ARSH, reg, shift))
        elif size == 4:
            self.emit(I.MOV32_REG(reg, reg))
        else:
            self.emit(I.ALU64_IMM(I.AND, reg, (1 << (8 * size)) - 1))

    # -- values

    def value(self, t) -> int:
        """Compute ``t`` into a newly allocated register and return it."""
        method = getattr(self, "_" + t.op, None)
        if method is None:
            raise ExprError(f"internal error: no code for {t.op}", t.pos)
        return method(t)

    def _const(self, t):
        r = self.alloc()
        self.load_const(r, t.value)
        return r

    def _reg(self, t):
        from pyperf_probe.bpf.context import PT_REGS
        r = self.alloc()
        self.emit(I.LDX_MEM(I.DW, r, CTX, t.value), comment=f"pt_regs->{PT_REGS[t.value // 8]}")
        self.canon(r, t.ctype)
        return r

    def _ctx(self, t):
        offset, size = t.value
        if offset % size:
            raise ExprError(f"field at offset {offset} is not aligned to its size {size}", t.pos, t.end - t.pos)
        r = self.alloc()
        self.emit(I.LDX_MEM(I.BYTES_SIZE[size], r, CTX, offset), comment=f"field at +{offset}, {size} bytes")
        self.canon(r, t.ctype)
        return r

    def _saved(self, t):
        r = self.alloc()
        self.emit(I.LDX_MEM(I.DW, r, I.FP, self.saved_at + 8 * t.value), comment="saved at entry")
        self.canon(r, t.ctype)
        return r

    def _call_into(self, helper: str, comment: str = "") -> int:
        r = self.alloc()
        self.emit(I.CALL_HELPER(I.HELPER_IDS[helper]), comment=comment)
        self.emit(I.MOV64_REG(r, I.R0))
        return r

    def _ktime(self, t):
        return self._call_into("ktime_get_ns")

    def _pid(self, t):
        r = self._call_into("get_current_pid_tgid", "$PID")
        self.emit(I.ALU64_IMM(I.RSH, r, 32))
        return r

    def _tid(self, t):
        r = self._call_into("get_current_pid_tgid", "$TID")
        self.emit(I.MOV32_REG(r, r))
        return r

    def _cpu(self, t):
        return self._call_into("get_smp_processor_id")

    def _uid(self, t):
        r = self._call_into("get_current_uid_gid")
        self.emit(I.MOV32_REG(r, r))
        return r

    def _gid(self, t):
        r = self._call_into("get_current_uid_gid")
        self.emit(I.ALU64_IMM(I.RSH, r, 32))
        return r

    def _cast(self, t):
        r = self.value(t.kids[0])
        self.canon(r, t.ctype)
        return r

    def _neg(self, t):
        r = self.value(t.kids[0])
        self.emit(I.NEG64(r))
        self.canon(r, t.ctype)
        return r

    def _bnot(self, t):
        r = self.value(t.kids[0])
        self.emit(I.ALU64_IMM(I.XOR, r, -1))
        self.canon(r, t.ctype)
        return r

    def _lnot(self, t):
        r = self.value(t.kids[0])
        self.set_bool(r, I.JEQ, r, 0)
        return r

    def set_bool(self, dst: int, op: int, a: int, b, *, reg: bool = False) -> None:
        """``dst = (a OP b) ? 1 : 0``."""
        true, end = self.asm.label(), self.asm.label()
        self.asm.jump(op, a, b, true, reg=reg)
        self.emit(I.MOV64_IMM(dst, 0))
        self.asm.goto(end)
        self.asm.place(true)
        self.emit(I.MOV64_IMM(dst, 1))
        self.asm.place(end)

    def operands(self, a, b) -> tuple:
        """Both operands in registers, the first waiting on the stack if the second needs every register."""
        ra = self.value(a)
        if self.need(b) > len(self.free):
            slot = self.frame.alloc(8, "a spilled value")
            self.emit(I.STX_MEM(I.DW, I.FP, ra, slot), comment="spill")
            self.release(ra)
            rb = self.value(b)
            ra = self.alloc()
            self.emit(I.LDX_MEM(I.DW, ra, I.FP, slot), comment="reload")
            return ra, rb
        return ra, self.value(b)

    def _arith(self, t):
        op, optype = t.value
        a, b = t.kids
        if b.op == "const" and fits_imm(b.value) and op in ("+", "-", "*", "&", "|", "^", "<<", ">>"):
            r = self.value(a)
            self.emit(I.ALU64_IMM(self._alu(op, optype), r, b.value & 63 if op in ("<<", ">>") else b.value))
            self.canon(r, t.ctype)
            return r
        ra, rb = self.operands(a, b)
        if op in ("/", "%") and optype.signed:
            self.emit(I.SDIV64_REG(ra, rb) if op == "/" else I.SMOD64_REG(ra, rb))
        else:
            self.emit(I.ALU64_REG(self._alu(op, optype), ra, rb))
        self.release(rb)
        self.canon(ra, t.ctype)
        return ra

    @staticmethod
    def _alu(op: str, optype: C.CType) -> int:
        if op == ">>":
            return I.ARSH if optype.signed else I.RSH
        if op == "/":
            return I.DIV
        if op == "%":
            return I.MOD
        return _ALU[op]

    def _cmp(self, t):
        op, optype = t.value
        jumps = _JMP_SIGNED if optype.signed else _JMP_UNSIGNED
        a, b = t.kids
        if b.op == "const" and fits_imm(b.value):
            r = self.value(a)
            self.set_bool(r, jumps[op], r, b.value)
            return r
        ra, rb = self.operands(a, b)
        self.set_bool(ra, jumps[op], ra, rb, reg=True)
        self.release(rb)
        return ra

    def _land(self, t):
        return self._logic(t, short_value=0)

    def _lor(self, t):
        return self._logic(t, short_value=1)

    def _logic(self, t, short_value: int):
        """``a && b`` (short_value 0) and ``a || b`` (1), evaluated left to right with C's short circuit; the
        first operand's register is free again once it is tested."""
        done, end = self.asm.label(), self.asm.label()
        jump = I.JEQ if short_value == 0 else I.JNE
        r = self.value(t.kids[0])
        self.asm.jump(jump, r, 0, done)
        self.release(r)
        rb = self.value(t.kids[1])
        self.asm.jump(jump, rb, 0, done)
        self.emit(I.MOV64_IMM(rb, 1 - short_value))
        self.asm.goto(end)
        self.asm.place(done)
        self.emit(I.MOV64_IMM(rb, short_value))
        self.asm.place(end)
        return rb

    def _cond(self, t):
        """``c ? a : b``: both branches leave their value in the same register."""
        other, end = self.asm.label(), self.asm.label()
        r = self.value(t.kids[0])
        self.asm.jump(I.JEQ, r, 0, other)
        self.release(r)
        free_before = list(self.free)
        ra = self.value(t.kids[1])
        self.asm.goto(end)
        self.asm.place(other)
        self.free = list(free_before)
        rb = self.value(t.kids[2])
        if rb != ra:
            self.emit(I.MOV64_REG(ra, rb))
            self.release(rb)
            self.free.remove(ra)
        self.asm.place(end)
        return ra

    def _deref(self, t):
        r = self.value(t.kids[0])
        slot = self.scratch_slot()
        size = t.ctype.size
        self.emit(I.MOV64_REG(I.R1, I.FP), I.ALU64_IMM(I.ADD, I.R1, slot), I.MOV64_IMM(I.R2, size),
                  I.MOV64_REG(I.R3, r))
        self.emit(I.CALL_HELPER(_READ[t.value]), comment=f"*({t.ctype} *)")
        self.emit(I.LDX_MEM(I.BYTES_SIZE[size], r, I.FP, slot))
        self.canon(r, t.ctype)
        return r

    # -- strings

    def read_string(self, t, at: int, size: int) -> None:
        """Copy the string ``t`` (a string node, or a pointer read as a C string) into the zeroed ``size`` bytes
        at frame offset ``at``: at most ``size - 1`` characters and the NUL (interp.string_value)."""
        if t.op == "comm":
            self.emit(I.MOV64_REG(I.R1, I.FP), I.ALU64_IMM(I.ADD, I.R1, at), I.MOV64_IMM(I.R2, min(size, 16)))
            self.emit(I.CALL_HELPER(I.HELPER_IDS["get_current_comm"]), comment="$COMM")
            return
        if t.op == "ctxstr":
            offset, length = t.value
            self.emit(I.MOV64_REG(I.R3, CTX), I.ALU64_IMM(I.ADD, I.R3, offset))
            n = min(size, length + 1)
            how = "kernel"
        elif t.op == "dataloc":
            self.emit(I.LDX_MEM(I.W, I.R3, CTX, t.value), comment="__data_loc: offset | length << 16")
            self.emit(I.ALU64_IMM(I.AND, I.R3, 0xFFFF), I.ALU64_REG(I.ADD, I.R3, CTX))
            n = size
            how = "kernel"
        else:
            r = self.value(t)
            self.emit(I.MOV64_REG(I.R3, r))
            self.release(r)
            n = size
            how = "any" if t.op == "deref" and t.value == "any" else self._pointer_read
        self.emit(I.MOV64_REG(I.R1, I.FP), I.ALU64_IMM(I.ADD, I.R1, at), I.MOV64_IMM(I.R2, n))
        self.emit(I.CALL_HELPER(_READ_STR[how]), comment="string")

    _pointer_read = "user"

    def zero(self, at: int, size: int) -> None:
        for off in range(0, size, 8):
            self.emit(I.ST_MEM(I.DW, I.FP, at + off, 0))

    def _streq(self, t):
        lit, prefix = t.value
        size = len(lit) + 2
        at = self.frame.alloc(size, "a string comparison")
        self.zero(at, (size + 7) & ~7)
        self.read_string(t.kids[0], at, size)
        want = lit if prefix else lit + b"\0"
        r = self.alloc()
        no, end = self.asm.label(), self.asm.label()
        pos = 0
        while pos < len(want):
            width = next(w for w in (8, 4, 2, 1) if pos + w <= len(want))
            chunk = int.from_bytes(want[pos:pos + width], "little")
            self.emit(I.LDX_MEM(I.BYTES_SIZE[width], r, I.FP, at + pos))
            self.load_const(I.R1, chunk)
            self.asm.jump(I.JNE, r, I.R1, no, reg=True)
            pos += width
        self.emit(I.MOV64_IMM(r, 1))
        self.asm.goto(end)
        self.asm.place(no)
        self.emit(I.MOV64_IMM(r, 0))
        self.asm.place(end)
        return r


def log2_bucket(c: Compiler, r: int) -> None:
    """``r = bpf_log2l(r)`` (bcc's helpers.h): 1 for 0 and 1, else floor(log2(r)) + 1 — the log2 histogram's
    slot, by halving the search 32, 16, 8, 4, 2, 1 bits at a time."""
    idx = c.alloc()
    c.emit(I.MOV64_IMM(idx, 1), comment="log2 bucket")
    for bits in (32, 16, 8, 4, 2, 1):
        skip = c.asm.label()
        c.emit(I.MOV64_REG(I.R1, r), I.ALU64_IMM(I.RSH, I.R1, bits))
        c.asm.jump(I.JEQ, I.R1, 0, skip)
        c.emit(I.MOV64_REG(r, I.R1), I.ALU64_IMM(I.ADD, idx, bits))
        c.asm.place(skip)
    c.emit(I.MOV64_REG(r, idx))
    c.release(idx)
