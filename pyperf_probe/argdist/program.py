"""The BPF programs of one argdist probe, in the shape of the C bcc's argdist generates (``generate_text``)::

    tgid check (-p, or the command's process) -> [return probe: the entry's saved values, or nothing to do]
    -> if (!(FILTER)) return 0 -> the key (hist: bpf_log2l of the value; freq: the struct of values)
    -> count it in the map -> return 0

Returning 0 also tells the kernel not to write a sample anywhere (``trace_call_bpf``), so an event costs the
program and nothing else. The maps: a per-CPU array of 65 log2 slots (``-H``) or a per-CPU hash from the
key struct to a count (``-C``), summed over the CPUs when read; for return probes that need the entry's
values (``$entry(x)``, ``$latency``), a hash from the thread id to the saved values, which the return
program takes and deletes.
"""
from __future__ import annotations

from pyperf_probe.bpf import insn as I
from pyperf_probe.bpf.compiler import CTX, Compiler, Frame, log2_bucket
from pyperf_probe.records import Record, field

HIST_SLOTS = 65          # bcc's log2_index_max: bpf_log2l gives 1..64
ENTRY_MAP_SIZE = 10240   # bcc's BPF_HASH default size
COUNT_MAP_SIZE = 10240


class KeyField(Record):
    """One field of a frequency count's key struct: its C type, offset and size, a string or not."""

    __slots__ = ()
    _fields = ("ctype", "offset", "size", "is_string")

    def __new__(cls, ctype, offset: int, size: int, is_string: bool):
        return tuple.__new__(cls, (ctype, offset, size, is_string))

    ctype = field(0)
    offset = field(1)
    size = field(2)
    is_string = field(3)


def key_layout(types: list, string_size: int) -> tuple:
    """bcc's ``struct X_key_t { T0 v0; T1 v1; ... }`` laid out as C lays it out (natural alignment, a
    ``char *`` field being ``struct __string_t { char s[SIZE]; }``) -> (fields, size)."""
    fields, at, align = [], 0, 1
    for ctype in types:
        if ctype.is_char_pointer:
            size, a = string_size, 1
        else:
            size = ctype.size
            a = size
        at = (at + a - 1) // a * a
        fields.append(KeyField(ctype, at, size, ctype.is_char_pointer))
        at += size
        align = max(align, a)
    size = max(1, (at + align - 1) // align * align)
    return fields, size


class Gate:
    """Which process is counted: ``pid`` (a constant, for -p), or the first slot of the array ``map_fd``
    (the command's process, written there when it execs), or everything."""

    def __init__(self, pid: int | None = None, map_fd: int | None = None):
        self.pid, self.map_fd = pid, map_fd

    def emit(self, asm: I.Asm, frame: Frame, out) -> None:
        if self.pid is None and self.map_fd is None:
            return
        asm.emit(I.CALL_HELPER(I.HELPER_IDS["get_current_pid_tgid"]), I.ALU64_IMM(I.RSH, I.R0, 32),
                 comment="tgid")
        if self.pid is not None:
            asm.jump(I.JNE, I.R0, self.pid, out, comment="-p")
            return
        asm.emit(I.MOV64_REG(I.R7, I.R0))
        slot = frame.alloc(4, "the gate's key")
        asm.emit(I.ST_MEM(I.W, I.FP, slot, 0), I.LD_MAP_FD(I.R1, self.map_fd), I.MOV64_REG(I.R2, I.FP),
                 I.ALU64_IMM(I.ADD, I.R2, slot), I.CALL_HELPER(I.HELPER_IDS["map_lookup_elem"]),
                 comment="the command's process")
        asm.jump(I.JEQ, I.R0, 0, out)
        asm.emit(I.LDX_MEM(I.W, I.R1, I.R0, 0))
        asm.jump(I.JNE, I.R1, I.R7, out, reg=True)


def _prologue(asm: I.Asm, frame: Frame, gate: Gate, out) -> None:
    asm.emit(I.MOV64_REG(CTX, I.R1), comment="the context")
    gate.emit(asm, frame, out)


def _epilogue(asm: I.Asm, out) -> list:
    asm.place(out)
    asm.emit(I.MOV64_IMM(I.R0, 0), I.EXIT(), comment="return 0: no sample")
    return asm.finish()


def _tid_key(asm: I.Asm, frame: Frame) -> int:
    slot = frame.alloc(4, "the thread id")
    asm.emit(I.CALL_HELPER(I.HELPER_IDS["get_current_pid_tgid"]), I.STX_MEM(I.W, I.FP, I.R0, slot),
             comment="key: the thread id")
    return slot


def entry_program(leaves: list, entry_map: int, gate: Gate, read: str = "user") -> list:
    """The function's entry, for a return probe: save ``leaves`` (8 bytes each) under the thread id."""
    asm, frame = I.Asm(), Frame()
    out = asm.label("out")
    _prologue(asm, frame, gate, out)
    record = frame.alloc(8 * len(leaves), "saved values")
    c = Compiler(asm, frame)
    c._pointer_read = read
    for i, leaf in enumerate(leaves):
        r = c.value(leaf)
        asm.emit(I.STX_MEM(I.DW, I.FP, r, record + 8 * i), comment=f"slot {i}")
        c.release(r)
    key = _tid_key(asm, frame)
    asm.emit(I.LD_MAP_FD(I.R1, entry_map), I.MOV64_REG(I.R2, I.FP), I.ALU64_IMM(I.ADD, I.R2, key),
             I.MOV64_REG(I.R3, I.FP), I.ALU64_IMM(I.ADD, I.R3, record), I.MOV64_IMM(I.R4, I.BPF_ANY),
             I.CALL_HELPER(I.HELPER_IDS["map_update_elem"]), comment="entry[tid] = slots")
    return _epilogue(asm, out)


def _take_saved(asm: I.Asm, frame: Frame, n: int, entry_map: int, out) -> int:
    """The return's prologue: the entry's slots copied to the stack, the map's element deleted; nothing is
    counted for a return whose entry was not seen."""
    key = _tid_key(asm, frame)
    saved = frame.alloc(8 * n, "saved values")
    asm.emit(I.LD_MAP_FD(I.R1, entry_map), I.MOV64_REG(I.R2, I.FP), I.ALU64_IMM(I.ADD, I.R2, key),
             I.CALL_HELPER(I.HELPER_IDS["map_lookup_elem"]), comment="entry[tid]")
    asm.jump(I.JEQ, I.R0, 0, out)
    for i in range(n):
        asm.emit(I.LDX_MEM(I.DW, I.R1, I.R0, 8 * i), I.STX_MEM(I.DW, I.FP, I.R1, saved + 8 * i))
    asm.emit(I.LD_MAP_FD(I.R1, entry_map), I.MOV64_REG(I.R2, I.FP), I.ALU64_IMM(I.ADD, I.R2, key),
             I.CALL_HELPER(I.HELPER_IDS["map_delete_elem"]), comment="delete entry[tid]")
    return saved


def _filter(c: Compiler, typed_filter, out) -> None:
    if typed_filter is None:
        return
    r = c.value(typed_filter)
    c.asm.jump(I.JEQ, r, 0, out, comment="filter")
    c.release(r)


def _count(asm: I.Asm, map_fd: int, key_slot: int, out, *, hash_map: bool, one: int = 0) -> None:
    """``map[key] += 1``: a per-CPU value, so a plain add; a new key of a hash is inserted with 1, and if
    another CPU inserted it meanwhile (the insertion fails), it is looked up once more and added to."""

    def lookup_add(missing):
        asm.emit(I.LD_MAP_FD(I.R1, map_fd), I.MOV64_REG(I.R2, I.FP), I.ALU64_IMM(I.ADD, I.R2, key_slot),
                 I.CALL_HELPER(I.HELPER_IDS["map_lookup_elem"]), comment="map[key]")
        asm.jump(I.JEQ, I.R0, 0, missing)
        asm.emit(I.LDX_MEM(I.DW, I.R1, I.R0, 0), I.ALU64_IMM(I.ADD, I.R1, 1), I.STX_MEM(I.DW, I.R0, I.R1, 0),
                 comment="+= 1")

    if not hash_map:
        lookup_add(out)
        return
    insert = asm.label("insert")
    lookup_add(insert)
    asm.goto(out)
    asm.place(insert)
    asm.emit(I.ST_MEM(I.DW, I.FP, one, 1), I.LD_MAP_FD(I.R1, map_fd), I.MOV64_REG(I.R2, I.FP),
             I.ALU64_IMM(I.ADD, I.R2, key_slot), I.MOV64_REG(I.R3, I.FP), I.ALU64_IMM(I.ADD, I.R3, one),
             I.MOV64_IMM(I.R4, I.BPF_NOEXIST), I.CALL_HELPER(I.HELPER_IDS["map_update_elem"]),
             comment="insert with 1")
    asm.jump(I.JEQ, I.R0, 0, out)
    lookup_add(out)         # another CPU inserted it first


def probe_program(*, typed_exprs: list, typed_filter, kind: str, count_map: int, gate: Gate,
                  key_fields: list = (), key_size: int = 0, entry_map: int | None = None, saved_slots: int = 0,
                  read: str = "user") -> list:
    """The program run at each event of the probe (see the module docstring). ``kind``: 'hist' or 'freq'."""
    asm, frame = I.Asm(), Frame()
    out = asm.label("out")
    _prologue(asm, frame, gate, out)
    saved_at = _take_saved(asm, frame, saved_slots, entry_map, out) if saved_slots else 0
    c = Compiler(asm, frame, saved_at=saved_at)
    c._pointer_read = read
    _filter(c, typed_filter, out)
    if kind == "hist":
        r = c.value(typed_exprs[0])
        log2_bucket(c, r)
        slot = frame.alloc(4, "the bucket")
        asm.emit(I.STX_MEM(I.W, I.FP, r, slot), comment="key: the bucket")
        c.release(r)
        _count(asm, count_map, slot, out, hash_map=False)
        return _epilogue(asm, out)
    one = frame.alloc(8, "the count of a new key")
    key = frame.alloc(key_size, "the key")
    c.zero(key, (key_size + 7) & ~7)
    for t, kf in zip(typed_exprs, key_fields):
        if kf.is_string:
            c.read_string(t, key + kf.offset, kf.size)
            continue
        r = c.value(t)
        asm.emit(I.STX_MEM(I.BYTES_SIZE[kf.size], I.FP, r, key + kf.offset), comment=f"key field ({kf.ctype})")
        c.release(r)
    _count(asm, count_map, key, out, hash_map=True, one=one)
    return _epilogue(asm, out)


def exec_gate_program(child_pid: int, gate_map: int) -> list:
    """At ``sched:sched_process_exec``: when the command's process execs, its pid goes into the gate, so the
    probes count from its first instruction on (and nothing of pyperf's forked child before the exec)."""
    asm, frame = I.Asm(), Frame()
    out = asm.label("out")
    _prologue(asm, frame, Gate(pid=child_pid), out)
    slot = frame.alloc(8, "the gate")
    asm.emit(I.ST_MEM(I.W, I.FP, slot, 0), I.ST_MEM(I.W, I.FP, slot + 4, child_pid),
             I.LD_MAP_FD(I.R1, gate_map), I.MOV64_REG(I.R2, I.FP), I.ALU64_IMM(I.ADD, I.R2, slot),
             I.MOV64_REG(I.R3, I.FP), I.ALU64_IMM(I.ADD, I.R3, slot + 4), I.MOV64_IMM(I.R4, I.BPF_ANY),
             I.CALL_HELPER(I.HELPER_IDS["map_update_elem"]), comment="gate[0] = pid")
    return _epilogue(asm, out)


def string_size_ok(size: int) -> int:
    if not 1 <= size <= 256:
        from pyperf_probe.errors import UsageError
        raise UsageError(f"-z {size}: the string size must be between 1 and 256 (the BPF stack holds 512 bytes)")
    return size

