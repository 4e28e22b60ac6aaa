"""Probe arguments as the kernel's uprobe events fetch and lay them out (kernel/trace/trace_probe.c,
trace_uprobe.c; Documentation/trace/uprobetracer.rst), so that a ptrace hit gives the same RAW bytes and
the event the same ``format`` text as the uprobe would.

FETCHARG: ``%REG``, ``@ADDR``, ``@+FILE_OFFSET``, ``$stackN``, ``$stack``, ``$retval``, ``$comm``,
``+|-[u]OFFS(FETCHARG)``, ``\\IMM``, ``\\"STR"``; TYPE: u8..u64, s8..s64, x8..x64 (the default: x64), char,
string, ustring, ``b<width>@<offset>/<container>``, ``TYPE[N]`` (not of strings). What this kernel refuses for
a uprobe (``$argN``, symbol, symstr) is refused too, so that a definition is good for both or for neither.
What pyperf probe makes of DWARF variables (``n=-20(%bp):s32``, ``name=+0(%si):string``) is in this grammar.

The record (``uprobe_trace_entry_head`` + data, __uprobe_perf_func): common fields (type u16, flags u8,
preempt_count u8, pid s32), then ``__probe_ip`` (entry) or ``__probe_func``/``__probe_ret_ip`` (return),
then each argument in its fixed slot (packed, no alignment; a string's slot is a u32 data_loc:
length << 16 | offset from the entry's start), then the strings; the whole padded with zeros so that
the u32 size perf puts before it plus the entry is a multiple of 8. A fetch from memory that faults
gives zeros (copy_from_user pads), a string that cannot be read a data_loc of length 0.
"""
from __future__ import annotations

import re
import struct
from typing import Callable, List, Optional, Sequence, Tuple

from pyperf_probe.errors import ProbeError

MAX_STRING_SIZE = 4096  # PATH_MAX: the longest string a fetch stores, its NUL included
COMMON = struct.Struct("<HBBi")  # common_type, common_flags, common_preempt_count, common_pid
PREEMPT_COUNT = 1  # __uprobe_perf_func fills the buffer with preemption disabled (seen in real records)
_U64 = struct.Struct("<Q")

REGISTERS = {"ax": "rax", "bx": "rbx", "cx": "rcx", "dx": "rdx", "si": "rsi", "di": "rdi", "bp": "rbp",
             "sp": "rsp", "ip": "rip", "flags": "eflags", "cs": "cs", "ss": "ss", "ds": "ds", "es": "es",
             "fs": "fs", "gs": "gs", "orig_ax": "orig_rax",
             **{f"r{n}": f"r{n}" for n in range(8, 16)}}


class FetchType:
    """A fetch type: ``name`` (as typed), ``size`` in bytes, ``field`` (the format's C type), ``fmt``
    (its printf conversion), ``signed``, ``string``."""

    def __init__(self, name: str, size: int, field: str, fmt: str, signed: bool = False, string: bool = False):
        self.name, self.size, self.field, self.fmt = name, size, field, fmt
        self.signed, self.string = signed, string


def _types():
    out = {}
    for bits in (8, 16, 32, 64):
        size, big = bits // 8, bits == 64
        out[f"u{bits}"] = FetchType(f"u{bits}", size, f"u{bits}", "%Lu" if big else "%u")
        out[f"s{bits}"] = FetchType(f"s{bits}", size, f"s{bits}", "%Ld" if big else "%d", signed=True)
        out[f"x{bits}"] = FetchType(f"x{bits}", size, f"u{bits}", "0x%Lx" if big else "0x%x")
    out["char"] = FetchType("char", 1, "u8", "'%c'")
    out["string"] = FetchType("string", 4, "__data_loc char[]", '\\"%s\\"', signed=True, string=True)
    out["ustring"] = FetchType("ustring", 4, "__data_loc char[]", '\\"%s\\"', signed=True, string=True)
    return out


TYPES = _types()
DEFAULT_TYPE = "x64"
_BITFIELD = re.compile(r"b(\d+)@(\d+)/(\d+)\Z")
_ARRAY = re.compile(r"(.+)\[(\d+)\]\Z")


class Context:
    """What a fetch reads: the registers as the kernel's handler sees them (%ip is the probed address, or
    the return address of a return probe), the memory, the thread's comm, and where the probe is (for
    ``@+OFFSET``)."""

    __slots__ = ("regs", "mem", "comm", "probe_avma", "probe_file_offset")

    def __init__(self, regs, mem, comm: bytes, probe_avma: int, probe_file_offset: int):
        self.regs, self.mem, self.comm = regs, mem, comm
        self.probe_avma, self.probe_file_offset = probe_avma, probe_file_offset


# A value fetcher: ctx -> int (an address or a value), or bytes for a string/comm.
Fetcher = Callable[[Context], object]


def _parse_fetch(text: str, retprobe: bool) -> Tuple[Fetcher, str]:
    """FETCHARG -> (fetcher, kind): kind 'value' (a register or immediate: the value itself), 'memory' (a
    dereference or @ADDR: the fetcher gives the address the type, or a string, is read from), 'stack'
    ($stackN: an address to read, but no string's), 'comm' or 'immstr'."""
    if text.startswith("%"):
        name = REGISTERS.get(text[1:])
        if name is None:
            raise ProbeError(f"Unknown register '{text}'")
        return (lambda ctx: getattr(ctx.regs, name)), "value"
    if text == "$retval":
        if not retprobe:
            raise ProbeError("$retval is not available on probe")
        return (lambda ctx: ctx.regs.rax), "value"
    if text == "$stack":
        return (lambda ctx: ctx.regs.rsp), "value"
    if text == "$comm":
        return (lambda ctx: ctx.comm), "comm"
    m = re.fullmatch(r"\$stack(\d+)", text)
    if m:
        off = 8 * int(m.group(1))
        return (lambda ctx: ctx.regs.rsp + off), "stack"
    if re.fullmatch(r"\$arg\d+", text):  # the kernel takes $argN for kprobes/fprobes, not uprobes
        raise ProbeError(f"'{text}' is not available on uprobes (use %di, %si, %dx, %cx, %r8, %r9)")
    if text.startswith("@+"):
        off = _int(text[2:], text)
        return (lambda ctx: ctx.probe_avma - ctx.probe_file_offset + off), "memory"
    if text.startswith("@"):
        addr = _int(text[1:], text)
        return (lambda ctx: addr), "memory"
    if text.startswith("\\\"") and text.endswith("\"") and len(text) >= 3:
        data = text[2:-1].encode()
        return (lambda ctx: data), "immstr"
    if text.startswith("\\"):
        imm = _int(text[1:], text)
        return (lambda ctx: imm), "value"
    m = re.fullmatch(r"([+-])(u?)(0x[0-9a-fA-F]+|\d+)\((.*)\)", text)
    if m:
        off = int(m.group(3), 0) * (-1 if m.group(1) == "-" else 1)
        inner, kind = _parse_fetch(m.group(4), retprobe)
        if kind in ("memory", "stack"):  # a dereference inside: read the pointer first
            def base(ctx, inner=inner):
                return _read_u64(ctx, inner(ctx))
        elif kind == "value":
            base = inner
        else:
            raise ProbeError(f"Invalid dereference of '{m.group(4)}'")
        return (lambda ctx: (base(ctx) + off) & 0xFFFFFFFFFFFFFFFF), "memory"
    raise ProbeError(f"Invalid fetch argument '{text}'")


def _int(text: str, whole: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ProbeError(f"Invalid fetch argument '{whole}'") from None


def _read_u64(ctx: Context, avma: int) -> int:
    data = ctx.mem.read(avma, 8)
    return _U64.unpack(data)[0] if len(data) == 8 else 0


class Arg:
    """One argument: its name, type, element count (0: not an array), fixed offset in the entry, and how
    it is fetched."""

    def __init__(self, name: str, ftype: FetchType, count: int, fetch: Fetcher, kind: str,
                 bitfield: Optional[Tuple[int, int]] = None):
        self.name, self.type, self.count = name, ftype, count
        self.fetch, self.kind, self.bitfield = fetch, kind, bitfield
        self.offset = 0

    @property
    def size(self) -> int:
        return self.type.size * (self.count or 1)

    def field_line(self) -> str:
        t = self.type
        name = f"{self.name}[]" if self.count else self.name  # the kernel's: "u32 a[];", size 12
        return (f"\tfield:{t.field} {name};\toffset:{self.offset};\tsize:{self.size};"
                f"\tsigned:{int(t.signed)};\n")


def parse_args(args: Sequence, retprobe: bool) -> List[Arg]:
    """TraceArgs (probe/args.py: value, name, type) -> Args with their offsets; unnamed ones are argN as
    the kernel names them (position, 1-based)."""
    out: List[Arg] = []
    offset = 24 if retprobe else 16
    for i, a in enumerate(args):
        name = a.name or f"arg{i + 1}"
        value, type_text = _split_type(a.value, a.type)
        fetch, kind = _parse_fetch(value, retprobe)
        arg = _typed(name, type_text, fetch, kind)
        arg.offset = offset
        offset += arg.size
        out.append(arg)
    return out


def _split_type(value: str, type_text: Optional[str]) -> Tuple[str, Optional[str]]:
    """``+0(%di):string`` -> (``+0(%di)``, ``string``): the type after the last ':' (a definition read back
    from uprobe_events text keeps it in the value)."""
    if type_text is None and not value.endswith('"'):
        head, sep, tail = value.rpartition(":")
        if sep and head:
            return head, tail
    return value, type_text


def _typed(name: str, type_text: Optional[str], fetch: Fetcher, kind: str) -> Arg:
    count = 0
    text = type_text or ("string" if kind in ("comm", "immstr") else DEFAULT_TYPE)
    m = _ARRAY.match(text)
    if m:
        text, count = m.group(1), int(m.group(2))
        if count <= 0 or kind not in ("memory", "stack"):
            raise ProbeError(f"Invalid array '{type_text}': arrays are read from memory")
    m = _BITFIELD.match(text)
    if m:
        width, bitoff, container = (int(g) for g in m.groups())
        ftype = TYPES.get(f"u{container}")
        if ftype is None or width + bitoff > container:
            raise ProbeError(f"Invalid bitfield type '{text}'")
        return Arg(name, ftype, count, fetch, kind, (width, bitoff))
    ftype = TYPES.get(text)
    if ftype is None:
        raise ProbeError(f"Unsupported argument type '{text}' for a ptrace probe")
    if ftype.string and count:
        raise ProbeError("String arrays are not supported for ptrace probes")
    if kind in ("comm", "immstr") and not ftype.string:
        raise ProbeError(f"'{name}' is a string: it takes the string type")
    if ftype.string and kind in ("value", "stack"):  # trace_probe.c: BAD_STRING
        raise ProbeError(f"'{name}': a string is fetched through a dereference (+0(%reg):string), "
                         "@ADDR, $comm or an immediate string")
    return Arg(name, ftype, count, fetch, kind)


# ---- the format text and the record ------------------------------------------------------------------

_COMMON_FIELDS = ("\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
                  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
                  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
                  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n")


def format_text(event: str, event_id: int, retprobe: bool, args: Sequence[Arg]) -> str:
    """The event's ``format`` file as tracefs shows it for the uprobe."""
    if retprobe:
        head = ("\tfield:unsigned long __probe_func;\toffset:8;\tsize:8;\tsigned:0;\n"
                "\tfield:unsigned long __probe_ret_ip;\toffset:16;\tsize:8;\tsigned:0;\n")
    else:
        head = "\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n"
    return (f"name: {event}\nID: {event_id}\nformat:\n" + _COMMON_FIELDS + head
            + "".join(a.field_line() for a in args) + "\nprint fmt: " + print_fmt(retprobe, args) + "\n")


def print_fmt(retprobe: bool, args: Sequence[Arg]) -> str:
    """trace_probe.c ``__set_print_fmt``."""
    fmt = "(%lx <- %lx)" if retprobe else "(%lx)"
    rec = ", REC->__probe_func, REC->__probe_ret_ip" if retprobe else ", REC->__probe_ip"
    text = '"' + fmt
    for a in args:
        text += f" {a.name}="
        text += "{" + ",".join([a.type.fmt] * a.count) + "}" if a.count else a.type.fmt
    text += '"' + rec
    for a in args:
        getter = "__get_str(%s)" if a.type.string else "REC->%s"
        if a.count:
            text += "".join(", " + getter % f"{a.name}[{j}]" for j in range(a.count))
        else:
            text += ", " + getter % a.name
    return text


class Layout:
    """The RAW bytes of one event's hits."""

    def __init__(self, event_id: int, retprobe: bool, args: Sequence[Arg]):
        self.event_id, self.retprobe, self.args = event_id, retprobe, list(args)
        self.fixed_end = (24 if retprobe else 16) + sum(a.size for a in self.args)
        self.head = struct.Struct("<HBBiQQ" if retprobe else "<HBBiQ")

    def raw(self, tid: int, ctx: Optional[Context], ip: int, ret_ip: int = 0) -> bytes:
        """The entry for a hit: ``ip`` is __probe_ip (entry) or __probe_func (return), ``ret_ip``
        __probe_ret_ip; padded so that 4 + len is a multiple of 8 (what perf stores as RAW)."""
        if self.retprobe:
            out = bytearray(self.head.pack(self.event_id, 0, PREEMPT_COUNT, tid, ip, ret_ip))
        else:
            out = bytearray(self.head.pack(self.event_id, 0, PREEMPT_COUNT, tid, ip))
        if self.args:
            out += bytes(self.fixed_end - len(out))
            dyn = bytearray()
            for a in self.args:
                self._store(a, ctx, out, dyn)
            out += dyn
        pad = (-(len(out) + 4)) % 8
        return bytes(out) + bytes(pad)

    def _store(self, a: Arg, ctx: Context, out: bytearray, dyn: bytearray) -> None:
        if a.type.string:
            data = self._string(a, ctx)
            where = self.fixed_end + len(dyn)
            if data is None:
                length = 0
            else:
                data = data[:MAX_STRING_SIZE - 1] + b"\0"
                dyn += data
                length = len(data)
            struct.pack_into("<I", out, a.offset, (length << 16) | where)
            return
        size, n = a.type.size, a.count or 1
        if a.kind in ("memory", "stack"):
            raw = ctx.mem.read(a.fetch(ctx), size * n)
            raw = raw + bytes(size * n - len(raw))  # a fault reads as zeros
        else:
            raw = (a.fetch(ctx) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")[:size]
        if a.bitfield is not None:
            width, bitoff = a.bitfield
            bits = size * 8
            value = int.from_bytes(raw, "little")
            value = ((value << (bits - width - bitoff)) & ((1 << bits) - 1)) >> (bits - width)
            raw = value.to_bytes(size, "little")
        out[a.offset:a.offset + size * n] = raw

    @staticmethod
    def _string(a: Arg, ctx: Context) -> Optional[bytes]:
        if a.kind in ("comm", "immstr"):
            return a.fetch(ctx)
        # +0(%si):string: the kernel turns the last dereference into the string's store, so the string is
        # read at the address the dereference computes (%si + 0), not through a pointer stored there
        return ctx.mem.read_cstring(a.fetch(ctx), MAX_STRING_SIZE)
