"""A whole print fmt as one Python function, for the formats made only of what it can print exactly.

``flat_plan(event)`` turns a parsed ``printfmt.Event`` whose pieces are all

* literal text,
* a number (``%d %u %x %lu %08lx``...) of a field, or of casts of a field (``(unsigned long)(REC->x)``),
* a plain ``%s`` of a char array field (``REC->comm``) or of ``__get_str(field)``, or a plain ``%p`` of
  such a number,

into ``render(data) -> str``: one ``struct`` unpack of the fields (little-endian, at their fixed offsets)
and one ``%`` formatting of the whole line, with each value masked and signed as :mod:`.compiled` (and
the printer) compute it. A record too short for its fields gets ``slow(data)``: the caller's renderer
(the printer's text, which reads a missing field as 0, unless another is given). Anything else (helpers, flags and symbols, ``%pS``, a ``*``
width, ``#``, dynamic arrays, overlapping fields) has no plan: None, and the event prints as before.

This is the path of the records of a system-wide recording (``sys_enter_*``, ``sched_wakeup``...: a
RAW record is rarely seen twice), where a call into libtraceevent costs several times the formatting;
tests/test_traceevent_paths.py checks that a plan prints what the printer prints on every format of the
machine, whole and cut short, and tests/test_traceevent_formats.py that pyperf script prints what perf
prints on every format with the plans in use.
"""
from __future__ import annotations

import struct
from collections.abc import Callable

from pyperf_probe.traceevent.fields import IS_ARRAY, cstr, dynamic_span
from pyperf_probe.traceevent.tokens import MASK64

_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}
_INT_CONVERSIONS = {"d": "d", "i": "d", "u": "d", "x": "x", "X": "X", "o": "o"}


class _Plan:
    """What the pieces need: the fields to unpack (offset -> (size, variable)), the values' expressions
    and the format's text."""

    def __init__(self):
        self.fields: dict[int, tuple[int, str]] = {}
        self.values: list[str] = []
        self.text: list[str] = []
        self.helpers: dict[str, Callable] = {}
        self.end = 0

    def field(self, f) -> str | None:
        """The variable holding the unsigned value of field ``f`` (None: not a plain number field)."""
        if f is None or f.size not in _CODES or f.flags & IS_ARRAY:
            return None
        got = self.fields.get(f.offset)
        if got is not None:
            return got[1] if got[0] == f.size else None
        name = f"v{len(self.fields)}"
        self.fields[f.offset] = (f.size, name)
        self.end = max(self.end, f.offset + f.size)
        return name


def flat_plan(event, slow: Callable[[bytes], str] | None = None) -> Callable[..., str] | None:
    """``render(data, cpu=0)`` printing what ``event.info(data)`` prints (the cpu is not printed: it makes
    the function a renderer ``TraceEvents`` routes to as it is), or None (see the module docstring);
    ``slow(data)`` prints a record too short for the fields (``event.info`` unless given)."""
    if event.failed is not None:
        return None
    plan = _Plan()
    for piece in event.pieces:
        if piece.type == "string":
            plan.text.append(piece.format.replace("%", "%%"))
            continue
        if piece.len_arg is not None:
            return None
        if piece.type == "digit":
            ok = _digit(piece, plan)
        elif piece.type == "str":
            ok = _string(piece, plan)
        else:
            ok = _pointer(piece, plan)
        if not ok:
            return None
    return _compile(plan, event, slow or event.info)


def _number(arg, plan: _Plan) -> tuple[str, int] | None:
    """The expression of a field or of casts of one (compiled._number) and how many bits its value may
    have (a mask as wide is left out); None for anything else."""
    from pyperf_probe.traceevent.printer import eval_type
    if arg.kind == "field":
        name = plan.field(arg.v["field"])
        return None if name is None else (name, 8 * arg.v["field"].size)
    if arg.kind == "type":
        inner = _number(arg.v["item"], plan)
        if inner is None:
            return None
        mask = eval_type(MASK64, arg.v["type"], False)  # eval_type_str masks (or keeps) the value
        return _masked(inner, mask.bit_length())
    return None


def _masked(value: tuple[str, int], bits: int) -> tuple[str, int]:
    """``value & ((1 << bits) - 1)`` (bits: the mask's width; the masks here are all low bits)."""
    expr, width = value
    return value if width <= bits else (f"({expr} & {(1 << bits) - 1:#x})", bits)


def _digit(piece, plan: _Plan) -> bool:
    """compiled._digit's conversion and value, as a format and an expression."""
    spec = piece.format
    conv = spec[-1]
    body = spec[1:-1]
    flags = ""
    while body and body[0] in "-+ #0":
        flags += body[0]
        body = body[1:]
    if "#" in flags or "*" in body or conv not in _INT_CONVERSIONS:
        return False
    body = body.rstrip("hlLzZjt")
    if "." in body:
        flags = flags.replace("0", "")  # C ignores 0 with a precision
    number = _number(piece.arg, plan)
    if number is None:
        return False
    if "z" in spec or "Z" in spec:  # an int read as a size_t: the zero-extended low half
        value = _masked(number, 32)[0]
    else:
        bits = {-2: 8, -1: 16, 0: 32}.get(piece.ls, 64)
        value, width = _masked(number, bits)
        if conv in "di" and width == bits:  # (narrower: its top bit is 0, the value is its own)
            top = 1 << (bits - 1)
            value = f"(({value} ^ {top:#x}) - {top:#x})"
    plan.text.append("%" + flags + body + _INT_CONVERSIONS[conv])
    plan.values.append(value)
    return True


def _string(piece, plan: _Plan) -> bool:
    """A plain ``%s`` of a char array field, or of a dynamic string (compiled._string)."""
    if piece.format != "%s" or piece.arg.kind not in ("field", "string"):
        return False
    f = piece.arg.v.get("field")
    if f is None:
        return False
    if piece.arg.kind == "string":
        name = f"s{len(plan.helpers)}"

        def dynamic(data: bytes, f=f) -> str:
            offset, length = dynamic_span(f, data)
            return cstr(data[offset:]) if length else ""
        plan.helpers[name] = dynamic
        plan.text.append("%s")
        plan.values.append(f"{name}(data)")
        return True
    if not f.flags & IS_ARRAY or not f.size:
        return False
    plan.end = max(plan.end, f.offset + f.size)
    plan.text.append("%s")
    plan.values.append(f"cstr(data[{f.offset}:{f.offset + f.size}])")
    return True


def _pointer(piece, plan: _Plan) -> bool:
    """A plain ``%p`` of a number: ``(nil)`` or ``0x...``."""
    if piece.format != "%p" or piece.arg.kind == "bstring":
        return False
    number = _number(piece.arg, plan)
    if number is None:
        return False
    value = number[0]
    plan.text.append("%s")
    plan.values.append(f"(('0x%x' % {value}) if {value} else '(nil)')")
    return True


def _compile(plan: _Plan, event, slow: Callable[[bytes], str]) -> Callable[[bytes], str] | None:
    """The render function's source: the record's length checked, the fields unpacked by one Struct (pad
    bytes between them), the text formatted once."""
    fmt = "".join(plan.text)
    namespace: dict = {"cstr": cstr, "slow": slow, **plan.helpers}
    if not plan.values:
        text = fmt % ()
        return lambda data, cpu=0: text
    lines = ["def render(data, cpu=0):", f"    if len(data) < {plan.end}:", "        return slow(data)"]
    if plan.fields:
        codes, names, at = ["<"], [], 0
        for offset in sorted(plan.fields):
            size, name = plan.fields[offset]
            if offset < at:  # overlapping fields
                return None
            codes.append(f"{offset - at}x" if offset > at else "")
            codes.append(_CODES[size])
            names.append(name)
            at = offset + size
        namespace["unpack"] = struct.Struct("".join(codes)).unpack_from
        lines.append(f"    {', '.join(names)}, = unpack(data)")
    namespace["FMT"] = fmt
    lines.append(f"    return FMT % ({', '.join(plan.values)},)")
    exec(compile("\n".join(lines) + "\n", f"<print fmt plan {event.system}:{event.name}>", "exec"), namespace)
    return namespace["render"]
