"""A parsed print fmt applied to a record's bytes, as libtraceevent prints it (src/event-parse.c
``pretty_print``, ``eval_num_arg``, ``print_str_arg``, ``print_arg_pointer``/``print_function``,
``eval_type_str``, ``eval_flag``; the copy perf 6.1 carries).

One :class:`Printer` per event holds what the values need besides the record: the file's long size, the
``%pS`` resolver (the session's kernel symbols) and the printk formats (``%s`` of a string's address).
"""
from __future__ import annotations

from pyperf_probe.traceevent import pointers
from pyperf_probe.traceevent.args import Arg
from pyperf_probe.traceevent.conversions import Piece, cformat
from pyperf_probe.traceevent.fields import IS_ARRAY, cstr, dynamic_span, read_number, signed
from pyperf_probe.traceevent.pointers import field_of
from pyperf_probe.traceevent.tokens import MASK64, strtoull, to_s64

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

_SOFTIRQ_FLAGS = {"HI_SOFTIRQ": 0, "TIMER_SOFTIRQ": 1, "NET_TX_SOFTIRQ": 2, "NET_RX_SOFTIRQ": 3,
                  "BLOCK_SOFTIRQ": 4, "IRQ_POLL_SOFTIRQ": 5, "TASKLET_SOFTIRQ": 6, "SCHED_SOFTIRQ": 7,
                  "HRTIMER_SOFTIRQ": 8, "RCU_SOFTIRQ": 9, "HRTIMER_NORESTART": 0, "HRTIMER_RESTART": 1}


def eval_flag(text: str) -> int:
    """``eval_flag``: a number, one of libtraceevent's few known names, else -1."""
    if text[:1].isdigit():
        return to_s64(strtoull(text))
    return _SOFTIRQ_FLAGS.get(text, -1)


class Printer:
    """``pretty_print`` and the evaluation of arguments for one event (see the module docstring)."""

    def __init__(self, long_size: int, resolve: Callable | None = None, printk: dict | None = None):
        self.long_size, self.resolve, self.printk = long_size, resolve, printk or {}

    def num(self, arg: Arg, data: bytes) -> int:
        """``eval_num_arg`` (unsigned 64-bit result)."""
        k = arg.kind
        if k == "null":
            return 0
        if k == "atom":
            return strtoull(arg.v["atom"])  # names of kernel symbols (test_for_symbol) count 0 here
        if k == "field":
            f = arg.v["field"]
            if f is None or f.offset + f.size > len(data):
                return 0
            return read_number(data, f.offset, f.size)
        if k == "type":
            return eval_type(self.num(arg.v["item"], data), arg.v["type"], False)
        if k == "dynarray_len":
            return dynamic_span(arg.v["field"], data)[1]
        if k == "op":
            return self._num_op(arg, data) & MASK64
        return 0

    def _num_op(self, arg: Arg, data: bytes) -> int:
        op = arg.v["op"]
        if op == "[":
            return self._index(arg, data)
        if op == "?":
            branches = arg.v["right"]
            pick = branches.v["left"] if self.num(arg.v["left"], data) else branches.v["right"]
            return self.num(pick, data)
        left = self.num(arg.v["left"], data) if arg.v["left"] is not None else 0
        right = self.num(arg.v["right"], data) if arg.v["right"] is not None else 0
        if op == "!":
            return int(not right)
        if op == "~":
            return ~right
        fns = {"!=": lambda: left != right, "|": lambda: left | right, "||": lambda: bool(left or right),
               "&": lambda: left & right, "&&": lambda: bool(left and right), "<": lambda: left < right,
               "<<": lambda: left << (right & 63), "<=": lambda: left <= right, ">": lambda: left > right,
               ">>": lambda: left >> (right & 63), ">=": lambda: left >= right, "==": lambda: left == right,
               "-": lambda: left - right, "+": lambda: left + right, "*": lambda: left * right,
               "/": lambda: left // right if right else 0, "%": lambda: left % right if right else 0,
               "^": lambda: left ^ right}
        fn = fns.get(op)
        return int(fn()) if fn else 0

    def _index(self, arg: Arg, data: bytes) -> int:
        right = self.num(arg.v["right"], data)
        larg, typearg = arg.v["left"], None
        while larg.kind == "type":
            typearg = typearg or larg
            larg = larg.v["item"]
        size = self.long_size
        if larg.kind == "dynarray":
            field = larg.v["field"]
            offset = dynamic_span(field, data)[0] + right
            size = field.elementsize or size
        elif larg.kind == "field" and larg.v["field"] is not None:
            field = larg.v["field"]
            size = field.elementsize
            offset = field.offset + right * field.elementsize
        else:
            return self._num_op(Arg("op", op="+", left=arg.v["left"], right=arg.v["right"]), data)
        if offset + size > len(data):
            return 0
        val = read_number(data, offset, size)
        return eval_type(val, typearg.v["type"], True) if typearg is not None else val

    def print_pieces(self, pieces: list[Piece], data: bytes) -> str:
        """``pretty_print`` of a parsed print fmt (TEP_PRINT_INFO) over one record."""
        out = []
        for piece in pieces:
            self._print_piece(piece, data, out)
        return "".join(out)

    def print_compiled(self, compiled: list, data: bytes) -> str:
        """``pretty_print`` over pieces specialised by :func:`.compiled.compile_pieces` (same text)."""
        return "".join([p if type(p) is str else p(data) for p in compiled])

    def piece_text(self, piece: Piece, data: bytes) -> str:
        """One piece's text."""
        out: list = []
        self._print_piece(piece, data, out)
        return out[0]

    def _print_piece(self, piece: Piece, data: bytes, out: list) -> None:
        width = None
        if piece.len_arg is not None:
            width = signed(self.num(piece.len_arg, data), 32)
        if piece.type == "string":
            out.append(piece.format)
        elif piece.type == "digit":
            out.append(self._digit(piece, data, width))
        elif piece.type == "str":
            out.append(self.str_arg(piece.arg, data, piece.format, width))
        else:
            out.append(self._pointer(piece, data, width))

    def _digit(self, piece: Piece, data: bytes, width: int | None) -> str:
        val = self.num(piece.arg, data)
        bits = {-2: 8, -1: 16, 0: 32}.get(piece.ls, 64)
        conv = piece.format[-1]
        if "z" in piece.format or "Z" in piece.format:  # an int read as a size_t: the zero-extended low half
            val &= 0xFFFFFFFF
        else:
            val = signed(val, bits) if conv in "di" else val & ((1 << bits) - 1)
        return cformat(piece.format, val, width)

    def _pointer(self, piece: Piece, data: bytes, width: int | None) -> str:
        arg = piece.arg
        if arg.kind == "bstring":
            return arg.v["string"]
        spec = piece.format[piece.format.index("p") + 1:]
        c = spec[:1]
        if c and c in "FfSs":
            return self._function(spec, self.num(arg, data))
        if c and c in "Mm":
            return pointers.mac(spec, arg, data)
        if c and c in "Ii":
            return pointers.ip(spec, arg, data)
        if c == "h":
            return pointers.raw_buff(spec, arg, data, width)
        if c == "U":
            return pointers.uuid(spec, arg, data)
        val = self.num(arg, data)
        return "(nil)" if not val else "0x%x" % val

    def _function(self, spec: str, val: int) -> str:
        """``print_function``: the kernel symbol (``+0xOFF`` for S/F), else the number."""
        got = self.resolve(val) if self.resolve is not None else None
        if got is not None:
            name, start = got[0], got[1]
            return name + ("+0x%x" % (val - start) if spec[0] in "FS" else "")
        return "0x%x" % val

    def str_arg(self, arg: Arg, data: bytes, fmt: str, width: int | None) -> str:
        """``print_str_arg``: an argument printed through a ``%s`` conversion."""
        k = arg.kind
        if k == "atom":
            return cformat(fmt, arg.v["atom"], width)
        if k == "field":
            f = arg.v["field"]
            if f is None:
                return ""
            if not f.flags & IS_ARRAY and f.size == self.long_size:
                addr = read_number(data, f.offset, f.size)
                return self.printk.get(addr, "%x" % addr)
            length = f.size or len(data) - f.offset
            return cformat(fmt, cstr(data[f.offset:f.offset + length]), width)
        if k == "flags":
            return self._flags(arg, data, fmt, width)
        if k == "symbol":
            val = to_s64(self.num(arg.v["field"], data))
            for value, name in arg.v["symbols"]:
                if val == eval_flag(value):
                    return cformat(fmt, name, width)
            return "0x%x" % (val & MASK64)
        if k in ("hex", "hex_str"):
            buf = self._array_bytes(arg.v["field"], data)
            if buf is None:
                return ""
            n = signed(self.num(arg.v["size"], data), 32)
            return (" " if k == "hex" else "").join("%02x" % x for x in buf[:max(n, 0)])
        if k == "int_array":
            return self._int_array(arg, data)
        if k == "string":
            f = arg.v["field"]
            if f is None:
                return ""
            offset, length = dynamic_span(f, data)
            if not length:
                return ""
            return cformat(fmt, cstr(data[offset:]), width)
        if k == "bitmask":
            return self._bitmask(arg, data, fmt, width)
        if k == "op" and arg.v["op"] == "?":
            branches = arg.v["right"]
            pick = branches.v["left"] if self.num(arg.v["left"], data) else branches.v["right"]
            return self.str_arg(pick, data, fmt, width)
        return ""

    def _flags(self, arg: Arg, data: bytes, fmt: str, width: int | None) -> str:
        val = to_s64(self.num(arg.v["field"], data))
        delim, out, printed = arg.v["delim"], [], False
        for value, name in arg.v["flags"]:
            fval = eval_flag(value)
            if not val and fval < 0:
                out.append(cformat(fmt, name, width))
                break
            if fval > 0 and (val & fval) == fval:
                if printed and delim:
                    out.append(delim)
                out.append(cformat(fmt, name, width))
                printed = True
                val &= ~fval
        if val:
            if printed and delim:
                out.append(delim)
            out.append("0x%x" % (val & MASK64))
        return "".join(out)

    def _array_bytes(self, field_arg: Arg, data: bytes) -> bytes | None:
        if field_arg.kind == "dynarray":
            offset = dynamic_span(field_arg.v["field"], data)[0]
            return data[offset:]
        f = field_of(field_arg)
        return None if f is None else data[f.offset:]

    def _int_array(self, arg: Arg, data: bytes) -> str:
        buf = self._array_bytes(arg.v["field"], data)
        if buf is None:
            return ""
        count = signed(self.num(arg.v["count"], data), 32)
        el_size = signed(self.num(arg.v["el_size"], data), 32)
        out, pos = [], 0
        for _ in range(max(count, 0)):
            if el_size in (1, 2, 4, 8):
                out.append("%d" % read_number(buf, pos, el_size))
            else:
                out.append("BAD SIZE:%d 0x%x" % (el_size, buf[pos] if pos < len(buf) else 0))
                el_size = 1
            pos += el_size
        return " ".join(out)

    def _bitmask(self, arg: Arg, data: bytes, fmt: str, width: int | None) -> str:
        f = arg.v["field"]
        if f is None:
            return ""
        offset, size = dynamic_span(f, data)
        buf = data[offset:offset + size]
        words = []
        for i in range(0, size, 4):  # 32-bit groups, most significant first, comma-separated
            words.append("".join("%02x" % buf[j] for j in reversed(range(i, min(i + 4, size)))))
        return cformat(fmt, ",".join(reversed(words)), width)

    # --- raw fields -------------------------------------------------------------------------------------


def eval_type(val: int, type_: str, pointer: bool) -> int:
    """``eval_type_str``: a cast's effect on the value."""
    if len(type_) < 2:
        return val
    if pointer:
        if type_[-1] != "*":
            return val
        return eval_type(val, type_[:-2], False)
    if type_[-1] == "*" or type_.startswith("struct"):
        return val
    masks = {"u8": 0xFF, "u16": 0xFFFF, "u32": 0xFFFFFFFF, "s8": 0xFF, "s16": 0xFFFF, "s32": 0xFFFFFFFF}
    if type_ in masks:
        return val & masks[type_]
    if type_ in ("u64", "s64"):
        return val
    if type_.startswith("unsigned "):
        type_ = type_[9:]
    return val & {"char": 0xFF, "short": 0xFFFF, "int": 0xFFFFFFFF}.get(type_, MASK64)
