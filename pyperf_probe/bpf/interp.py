"""The typed tree evaluated in Python, with the compiled program's exact semantics.

Used where no BPF program can be loaded (``pyperf argdist`` then counts from the ring buffer's samples), and
by the tests as the reference the kernel's results are compared with. Every operation does what its
instructions do (bpf/compiler.py): values are canonical (bpf/ctype.py ``canon``), a division by zero gives 0
and a remainder by zero the dividend (instruction-set.rst, "Arithmetic instructions"), shifts take their
count modulo 64, a failed read gives zeros (``bpf_probe_read_*`` clears the buffer), a string read stops at
its NUL or at the buffer's size less one.
"""
from __future__ import annotations

import struct

from pyperf_probe.bpf import ctype as C

MASK64 = (1 << 64) - 1


class Env:
    """What a program sees at one event. Subclasses (or the ring-buffer reader) fill these in."""

    regs: dict = {}          # pt_regs offset -> u64
    raw: bytes = b""         # the tracepoint's record
    saved: tuple = ()        # the entry program's slots (u64 each)
    ktime = pid = tid = cpu = uid = gid = 0
    comm: bytes = b""

    def read(self, addr: int, size: int) -> bytes | None:
        """``size`` bytes of the traced process's (or kernel's) memory at ``addr``; None if unreadable."""
        return None


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _arith(op: str, a: int, b: int, t: C.CType) -> int:
    if op == "+":
        return C.canon(a + b, t)
    if op == "-":
        return C.canon(a - b, t)
    if op == "*":
        return C.canon(a * b, t)
    if op == "&":
        return C.canon(a & b, t)
    if op == "|":
        return C.canon(a | b, t)
    if op == "^":
        return C.canon(a ^ b, t)
    if op == "<<":
        return C.canon(a << (b & 63), t)
    if op == ">>":
        return C.canon(a >> (b & 63), t)
    if op == "/":
        if b == 0:
            return 0
        return C.canon(_trunc_div(a, b) if t.signed else a // b, t)
    if op == "%":
        if b == 0:
            return a
        return C.canon(a - b * _trunc_div(a, b) if t.signed else a % b, t)
    raise ValueError(op)


_CMP = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_INT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


def _load(data: bytes | None, size: int, ctype: C.CType) -> int:
    if not data or len(data) < size:
        return 0
    return C.canon(struct.unpack_from(_INT[size], data)[0], ctype)


def evaluate(t, env: Env) -> int:
    op = t.op
    if op == "const":
        return t.value
    if op == "reg":
        return C.canon(env.regs.get(t.value, 0), t.ctype)
    if op == "ctx":
        offset, size = t.value
        return _load(env.raw[offset:offset + size], size, t.ctype)
    if op == "saved":
        return C.canon(env.saved[t.value] if t.value < len(env.saved) else 0, t.ctype)
    if op in ("ktime", "pid", "tid", "cpu", "uid", "gid"):
        return C.canon(getattr(env, op), t.ctype)
    if op == "cast":
        return C.canon(evaluate(t.kids[0], env), t.ctype)
    if op == "neg":
        return C.canon(-evaluate(t.kids[0], env), t.ctype)
    if op == "bnot":
        return C.canon(~evaluate(t.kids[0], env), t.ctype)
    if op == "lnot":
        return int(evaluate(t.kids[0], env) == 0)
    if op == "arith":
        sym, optype = t.value
        return C.canon(_arith(sym, evaluate(t.kids[0], env), evaluate(t.kids[1], env), optype), t.ctype)
    if op == "cmp":
        return int(_CMP[t.value[0]](evaluate(t.kids[0], env), evaluate(t.kids[1], env)))
    if op == "land":
        return int(evaluate(t.kids[0], env) != 0 and evaluate(t.kids[1], env) != 0)
    if op == "lor":
        return int(evaluate(t.kids[0], env) != 0 or evaluate(t.kids[1], env) != 0)
    if op == "cond":
        return evaluate(t.kids[1] if evaluate(t.kids[0], env) else t.kids[2], env)
    if op == "deref":
        addr = evaluate(t.kids[0], env) & MASK64
        return _load(env.read(addr, t.ctype.size), t.ctype.size, t.ctype)
    if op == "streq":
        lit, prefix = t.value
        text = string_value(t.kids[0], env, len(lit) + 2)
        return int(text.startswith(lit) if prefix else text == lit)
    raise ValueError(f"cannot evaluate {op}")


def _cut(data: bytes) -> bytes:
    return data.split(b"\0", 1)[0]


def _read_str(env: Env, addr: int, size: int) -> bytes:
    """``bpf_probe_read_*_str(buf, size, addr)``: at most size - 1 characters."""
    data = env.read(addr, size) if addr else None
    if data is None:
        # a string near the end of a mapping: read what can be read, byte by byte to the NUL
        out = bytearray()
        for i in range(size - 1):
            b = env.read(addr + i, 1) if addr else None
            if not b or b == b"\0":
                break
            out += b
        return bytes(out)
    return _cut(data[:size - 1])


def string_value(t, env: Env, size: int) -> bytes:
    """A string-valued node (or a pointer read as a C string) as the program's ``size``-byte buffer holds it,
    up to its NUL."""
    if t.op == "comm":
        return _cut(env.comm[:min(size, 16)])[:size - 1]
    if t.op == "ctxstr":
        offset, length = t.value
        return _cut(env.raw[offset:offset + min(length, size - 1)])
    if t.op == "dataloc":
        loc = _load(env.raw[t.value:t.value + 4], 4, C.UINT)
        start = loc & 0xFFFF
        return _cut(env.raw[start:start + (loc >> 16)])[:size - 1]
    return _read_str(env, evaluate(t, env) & MASK64, size)
