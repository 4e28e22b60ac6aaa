"""The compiler against the kernel: expressions compiled by pyperf, checked by the verifier, run by the kernel
at ``syscalls:sys_enter_write`` (a write this test makes), give what the Python interpreter (bpf/interp.py)
gives for the same record. Hand-picked cases for each operation, then random expressions (hypothesis).

Each program stores expression i in slot i of an array map. Maps, programs and perf events are closed on
every path (``bpftool prog list`` shows none of them afterwards)."""
import ctypes
import os
import struct

import pytest

from pyperf_probe.bpf import ctype as C
from pyperf_probe.bpf import insn as I
from pyperf_probe.bpf import syscall as S
from pyperf_probe.bpf.compiler import CTX, Compiler, Frame
from pyperf_probe.bpf.context import TracepointContext
from pyperf_probe.bpf.expr import parse
from pyperf_probe.bpf.interp import Env, evaluate
from pyperf_probe.bpf.typed import check

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loading BPF programs needs root")


def _fields():
    from pyperf_probe.kernel import tracefs
    from pyperf_probe.traceevent.printfmt import Event
    ev = Event.parse(tracefs.event_format("syscalls", "sys_enter_write"), "syscalls")
    return ev.common_fields + ev.fields


class MemEnv(Env):
    """The record this process's write produces, and this process's memory."""

    def __init__(self, fields, fd, addr, count):
        by_name = {f.name: f for f in fields}
        raw = bytearray(64)
        for name, value in (("fd", fd), ("buf", addr), ("count", count)):
            f = by_name[name]
            raw[f.offset:f.offset + f.size] = value.to_bytes(f.size, "little")
        self.raw = bytes(raw)
        self.pid = self.tid = os.getpid()

    def read(self, addr, size):
        return ctypes.string_at(addr, size) if addr else None


def run_in_kernel(texts, *, count, data: bytes):
    """(kernel results, interpreter results) of ``texts`` at one write(fd, data, count) of this process."""
    fields = _fields()
    ctx = TracepointContext(fields)
    trees = [check(parse(t), ctx) for t in texts]
    buf = ctypes.create_string_buffer(data, max(len(data), count, 1))
    fd = os.open("/dev/null", os.O_WRONLY)
    fds = []
    try:
        array = S.map_create(S.MAP_TYPE_ARRAY, 4, 8, len(texts), name="test_exprs")
        fds.append(array)
        asm, frame = I.Asm(), Frame()
        out = asm.label()
        asm.emit(I.MOV64_REG(CTX, I.R1), I.CALL_HELPER(14), I.ALU64_IMM(I.RSH, I.R0, 32))
        asm.jump(I.JNE, I.R0, os.getpid(), out)
        key = frame.alloc(4)
        c = Compiler(asm, frame)
        c._pointer_read = "any"
        for i, t in enumerate(trees):
            r = c.value(t)
            asm.emit(I.ST_MEM(I.W, I.FP, key, i), *I.LD_MAP_FD(I.R1, array), I.MOV64_REG(I.R2, I.FP),
                     I.ALU64_IMM(I.ADD, I.R2, key), I.CALL_HELPER(1))
            skip = asm.label()
            asm.jump(I.JEQ, I.R0, 0, skip)
            asm.emit(I.STX_MEM(I.DW, I.R0, r, 0))
            asm.place(skip)
            c.release(r)
        asm.place(out)
        asm.emit(I.MOV64_IMM(I.R0, 0), I.EXIT())
        prog, _ = S.prog_load(S.PROG_TYPE_TRACEPOINT, I.encode(asm.finish()), name="test_exprs")
        fds.append(prog)
        from pyperf_probe.kernel import perf_event, tracefs
        from pyperf_probe.perfdata.format import EventAttr
        pfd = perf_event.open_event(EventAttr(type=2, config=tracefs.event_id("syscalls", "sys_enter_write"),
                                              sample_period=1), -1, 0)
        fds.append(pfd)
        S.attach_perf_event(pfd, prog)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.write(fd, buf, ctypes.c_size_t(count))
        got = [struct.unpack("<q", S.map_lookup(array, struct.pack("<I", i), 8))[0] for i in range(len(texts))]
    finally:
        for x in reversed(fds):
            S.close(x)
        os.close(fd)
    env = MemEnv(fields, fd, ctypes.addressof(buf), count)
    want = [C.canon(evaluate(t, env), C.LLONG) for t in trees]
    return got, want


CASES = [
    "args->count", "args->fd", "args->count + 7", "args->count - 1000", "(int)args->count - 1000",
    "args->count * 3 / 2", "(long)args->count / -3", "(long)args->count % -3", "-(long)args->count % 7",
    "args->count << 40", "(int)args->count << 28", "(char)args->count", "(unsigned char)args->count",
    "(short)(args->count * 1000)", "(int)args->count >> 2", "-(int)args->count >> 2", "~args->count",
    "!args->count", "!!args->count", "args->count > 100", "(int)args->count - 500 < 0",
    "args->count - 500 < 0", "args->count == 321 && args->fd > 2", "args->count == 1 || args->fd > 2",
    "args->count > 300 ? args->count : -1", "args->count & 0xf0", "args->count | 0x100000000",
    "args->count ^ 0xffffffffffffffff", "args->count / 0", "args->count % 0", "(_Bool)args->count",
    "*(char *)args->buf", "*(unsigned char *)args->buf", "*(int *)args->buf", "*(long *)args->buf",
    "((char *)args->buf)[3]", "*((short *)args->buf + 1)", "*(unsigned int *)(args->buf + 4)",
    'STRCMP("hel", (char *)args->buf)', '(char *)args->buf == "hello"', '(char *)args->buf == "hell"',
    '(char *)args->buf != "hello world, and more"', "$PID > 0", "$TID > 0", "$cpu < 4096",
    "(args->count + 1) * (args->count + 2) * (args->count + 3) * (args->count + 4)",
    "args->count - (args->count - (args->count - (args->count - (args->count - 1))))",
    "((args->count * 2) + (args->count * 3)) * ((args->count * 4) + (args->count * 5)) + "
    "((args->count * 6) + (args->count * 7)) * ((args->count * 8) + (args->count * 9))",
]


@pytest.mark.parametrize("count", [0, 1, 321, 4096])
def test_operations(count):
    got, want = run_in_kernel(CASES, count=count, data=b"hello\xff\x80\x01world")
    assert dict(zip(CASES, got)) == dict(zip(CASES, want))


def test_random_expressions():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    leaves = st.sampled_from(["args->count", "args->fd", "(int)args->count", "(short)args->fd", "0", "1", "-1",
                              "7", "0x7fffffff", "0xffffffff", "-2147483648", "4294967296", "*(char *)args->buf",
                              "*(unsigned short *)args->buf", "$TID"])
    ops = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "<", ">=", "==", "!=", "&&", "||"]
    casts = ["", "(int)", "(unsigned int)", "(char)", "(unsigned char)", "(long)", "(unsigned long)", "(short)"]

    def extend(children):
        binary = st.tuples(children, st.sampled_from(ops), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        unary = st.tuples(st.sampled_from(casts + ["-", "~", "!"]), children).map(lambda t: f"{t[0]}({t[1]})")
        cond = st.tuples(children, children, children).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})")
        return binary | unary | cond

    exprs = st.recursive(leaves, extend, max_leaves=12)

    @hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
    @hypothesis.given(st.lists(exprs, min_size=1, max_size=8), st.integers(0, 5000))
    def check_batch(texts, count):
        got, want = run_in_kernel(texts, count=count, data=bytes(range(200, 256)) * 4)
        assert dict(zip(texts, got)) == dict(zip(texts, want))

    check_batch()
