"""A whole print fmt as one Python function, for the formats made only of what it can print exactly.

``flat_plan(event)`` turns a parsed ``printfmt.Event`` whose pieces are all

* literal text,
* a number (``%d %u %x %lu %08lx``...) of a field, or of casts of a field (``(unsigned long)(REC->x)``),
* a plain ``%s`` of a char array field (``REC->comm``) or of ``__get_str(field)``, or a plain ``%p`` of
  such a number,
* numbers computed from fields and constants (``eval_num_arg``'s operators, ``?:``, casts: the device
  numbers of block events, ``REC->pfn != -1UL ? ... : 0``), and, through a plain ``%s``, constant strings,
  ``cond ? "a" : "b"``, ``__print_flags`` and ``__print_symbolic`` of such numbers (``print_str_arg``:
  sched_switch's ``prev_state``, softirq's ``action``), each written as a Python expression that computes
  what the printer computes (a name list for flags, a dict for symbols),
* ``%ps %pS %pf %pF`` of such a number: the printer's ``_function`` (the kernel symbol its resolver finds
  then: workqueue_activate_work's ``function``),

into ``render(data) -> str``: one ``struct`` unpack of the fields (little-endian, at their fixed offsets)
and one ``%`` formatting of the whole line, with each value masked and signed as :mod:`.compiled` (and
the printer: :mod:`.printer`'s ``num``, ``str_arg`` and ``_flags``, libtraceevent's ``eval_num_arg`` and
``print_str_arg``) compute it. Where every piece is one it prints, the plan is a ``_speedups.TracePlan``
(C) with that function as its twin and fallback; a computed value is a program there (``PROG_*``, its
Python twin ``eval_prog``). A record too short for its fields gets ``slow(data)``: the caller's renderer
(the printer's text, which reads a missing field as 0, unless another is given). Anything else (helpers,
``%pS`` of what is no number, a ``*`` width, ``#``, dynamic arrays, array indexes, overlapping fields) has
no plan: None, and the event prints as before.

This is the path of the records of a system-wide recording (``sys_enter_*``, ``sched_wakeup``...: a
RAW record is rarely seen twice), where a call into libtraceevent costs several times the formatting;
tests/test_traceevent_paths.py checks that a plan prints what the printer prints on every format of the
machine, whole and cut short, and tests/test_traceevent_formats.py that pyperf script prints what perf
prints on every format with the plans in use.
"""
from __future__ import annotations

import struct

from pyperf_probe.traceevent.fields import IS_ARRAY, IS_RELATIVE, cstr, dynamic_span
from pyperf_probe.traceevent.tokens import MASK64, strtoull, to_s64

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}
# TracePlan's programs (a tuple of ints, postfix, on a stack of unsigned 64-bit values: _speedups_script.c's
# eval_prog is their twin with plan_value below): a field's bytes, a constant, an operator of _OPS (its index
# in PROG_OPS) on the top two values, !, ~, and cond ? yes : no of the top three
PROG_FIELD, PROG_CONST, PROG_OP, PROG_NOT, PROG_INV, PROG_SELECT = 1, 2, 3, 4, 5, 6
PROG_OPS = ("|", "&", "^", "||", "&&", "<", "<=", ">", ">=", "==", "!=", "<<", ">>", "-", "+", "*", "/", "%")
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
        # the pieces as _speedups.TracePlan prints them (None: some piece it does not print), and the
        # expressions that are a field's value with low-bit masks only: expression -> (offset, size)
        self.c: list | None = []
        self.simple: dict[str, tuple[int, int, int]] = {}  # expression -> (offset, size, AND mask)
        self.consts: dict[str, int] = {}  # constant expressions -> value
        # every number expression as TracePlan computes it (a program: see prog_of), for the values that are
        # no field's bits under a mask (computed values: the block events' device numbers)
        self.progs: dict[str, tuple] = {}
        self.arg_helpers: dict[int, Callable] = {}  # id(flags or symbol Arg) -> its helper

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
        self.simple[name] = (f.offset, f.size, (1 << 8 * f.size) - 1)
        self.progs[name] = (PROG_FIELD, f.offset, f.size)
        return name

    def source(self, expr: str) -> tuple | None:
        """Where TracePlan reads the value of ``expr``: (offset, size, AND mask) of a field's bits, or (program,
        0, AND mask) of a computed value (see ``PROG_*``); None where it cannot compute it."""
        field = self.simple.get(expr)
        if field is not None:
            return field
        prog = self.progs.get(expr)
        return None if prog is None else (prog, 0, MASK64)

    def derive(self, expr: str, *parts) -> None:
        """Note the program of ``expr``: the programs of the operand expressions among ``parts`` (strings)
        followed by the ops among them (tuples), unless an operand has none (then ``expr`` has none)."""
        prog: tuple = ()
        for part in parts:
            if isinstance(part, str):
                got = self.progs.get(part)
                if got is None:
                    return
                prog += got
            else:
                prog += part
        self.progs.setdefault(expr, prog)

    def c_piece(self, piece: tuple | None) -> None:
        """The C pieces go on with ``piece``, or stop (None: TracePlan does not print this one)."""
        if self.c is not None:
            if piece is None:
                self.c = None
            else:
                self.c.append(piece)


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
            plan.c_piece((0, piece.format) if piece.format.isascii() else None)
            continue
        if piece.len_arg is not None:
            return None
        if piece.type == "digit":
            ok = _digit(piece, plan)
        elif piece.type == "str":
            ok = _string(piece, plan)
        else:
            ok = _pointer(piece, plan, event.printer)
        if not ok:
            return None
    return _compile(plan, event, slow or event.info)


# Printer._num_op's operators over unsigned 64-bit values, as Python expressions of a and b; those whose
# result may leave 64 bits are masked (MASK64), as num() masks every operator's result.
_OPS = {"|": ("({a} | {b})", False), "&": ("({a} & {b})", False), "^": ("({a} ^ {b})", False),
        "||": ("(1 if ({a} or {b}) else 0)", False), "&&": ("(1 if ({a} and {b}) else 0)", False),
        "<": ("(1 if {a} < {b} else 0)", False), "<=": ("(1 if {a} <= {b} else 0)", False),
        ">": ("(1 if {a} > {b} else 0)", False), ">=": ("(1 if {a} >= {b} else 0)", False),
        "==": ("(1 if {a} == {b} else 0)", False), "!=": ("(1 if {a} != {b} else 0)", False),
        "<<": ("({a} << ({b} & 63))", True), ">>": ("({a} >> ({b} & 63))", False),
        "-": ("({a} - {b})", True), "+": ("({a} + {b})", True), "*": ("({a} * {b})", True),
        "/": ("(({a} // {b}) if {b} else 0)", False), "%": ("(({a} % {b}) if {b} else 0)", False)}


def _number(arg, plan: _Plan) -> tuple[str, int] | None:
    """The expression of ``Printer.num(arg)`` (an unsigned 64-bit value: a field, a cast of one, a constant,
    an operator or ``?:`` of those) and how many bits its value may have (a mask as wide is left out);
    None for anything else (an index, a dynamic array's length...)."""
    from pyperf_probe.traceevent.printer import eval_type
    kind = arg.kind
    if kind == "field":
        name = plan.field(arg.v["field"])
        return None if name is None else (name, 8 * arg.v["field"].size)
    if kind == "type":
        inner = _number(arg.v["item"], plan)
        if inner is None:
            return None
        mask = eval_type(MASK64, arg.v["type"], False)  # eval_type_str masks (or keeps) the value
        got = _masked(inner, mask.bit_length(), plan)
        field = plan.simple.get(inner[0])
        if field is not None:
            plan.simple[got[0]] = field[:2] + (field[2] & ((1 << got[1]) - 1),)
        return got
    if kind == "atom":
        value = strtoull(arg.v["atom"])  # (names of kernel symbols count 0, as in the printer)
        plan.consts[f"{value:#x}"] = value
        plan.progs[f"{value:#x}"] = (PROG_CONST, value)
        return f"{value:#x}", value.bit_length()
    if kind == "null":
        plan.progs["0"] = (PROG_CONST, 0)
        return "0", 0
    if kind != "op":
        return None
    op = arg.v["op"]
    if op == "?":
        cond = _number(arg.v["left"], plan)
        branches = arg.v["right"]
        if cond is None or branches is None or branches.kind != "op":
            return None
        yes, no = _number(branches.v["left"], plan), _number(branches.v["right"], plan)
        if yes is None or no is None:
            return None
        expr = f"({yes[0]} if {cond[0]} else {no[0]})"
        plan.derive(expr, cond[0], yes[0], no[0], (PROG_SELECT,))
        return expr, max(yes[1], no[1])
    plan.progs["0"] = (PROG_CONST, 0)
    left = _number(arg.v["left"], plan) if arg.v["left"] is not None else ("0", 0)
    right = _number(arg.v["right"], plan) if arg.v["right"] is not None else ("0", 0)
    if left is None or right is None:
        return None
    if op == "!":
        plan.derive(f"(0 if {right[0]} else 1)", right[0], (PROG_NOT,))
        return _const(f"(0 if {right[0]} else 1)", 1, plan, right[0])
    if op == "~":
        plan.derive(f"({right[0]} ^ {MASK64:#x})", right[0], (PROG_INV,))
        return _const(f"({right[0]} ^ {MASK64:#x})", 64, plan, right[0])
    got = _OPS.get(op)
    if got is None:
        return None  # ("[" and anything _num_op does not know)
    text, wide = got
    expr = text.format(a=left[0], b=right[0])
    plan.derive(expr, left[0], right[0], (PROG_OP, PROG_OPS.index(op)))
    if wide:  # (64-bit arithmetic wraps in C: the mask is the program's own)
        plan.derive(f"({expr} & {MASK64:#x})", expr)
    if left[0] in plan.consts and right[0] in plan.consts:  # (a constant: known to TracePlan's masks)
        return _const(f"({expr} & {MASK64:#x})" if wide else expr, 64, plan, left[0], right[0])
    if op == "&":  # a field's value under an AND mask (sched_switch's prev_state & 0xff)
        for one, other in ((left[0], right[0]), (right[0], left[0])):
            if one in plan.simple and other in plan.consts:
                field = plan.simple[one]
                plan.simple[expr] = field[:2] + (field[2] & plan.consts[other],)
    return (f"({expr} & {MASK64:#x})", 64) if wide else (expr, 64 if op in ("|", "&", "^", ">>", "/", "%")
                                                          else 1)


def _const(expr: str, width: int, plan: _Plan, *operands: str) -> tuple[str, int]:
    """An operator's (expression, width); noted as a constant when its operands are (the expression holds
    only literals and operators)."""
    if all(operand in plan.consts for operand in operands):
        prog = plan.progs.get(expr)  # (its program: the value without compiling the expression)
        plan.consts[expr] = eval_prog(prog, b"") if prog is not None else eval(expr, {"__builtins__": {}})
    return expr, width


def _masked(value: tuple[str, int], bits: int, plan: _Plan | None = None) -> tuple[str, int]:
    """``value & ((1 << bits) - 1)`` (bits: the mask's width; the masks here are all low bits); its program
    noted in ``plan``."""
    expr, width = value
    if width <= bits:
        return value
    masked = f"({expr} & {(1 << bits) - 1:#x})"
    if plan is not None:
        plan.derive(masked, expr, (PROG_CONST, (1 << bits) - 1, PROG_OP, PROG_OPS.index("&")))
    return masked, bits


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
    field = plan.source(number[0])
    sign = 0
    if "z" in spec or "Z" in spec:  # an int read as a size_t: the zero-extended low half
        value, width = _masked(number, 32)
    else:
        bits = {-2: 8, -1: 16, 0: 32}.get(piece.ls, 64)
        value, width = _masked(number, bits)
        if conv in "di" and width == bits:  # (narrower: its top bit is 0, the value is its own)
            top = 1 << (bits - 1)
            value = f"(({value} ^ {top:#x}) - {top:#x})"
            sign = bits
    plan.text.append("%" + flags + body + _INT_CONVERSIONS[conv])
    plan.values.append(value)
    # C's printf prints what Python's % prints but for a precision (C prints no digit for %.0d of 0) and
    # the + and space flags of unsigned conversions (Python's %d of a %u honours them)
    if field is None or "." in body or (conv not in "di" and ("+" in flags or " " in flags)):
        plan.c_piece(None)
    else:
        cfmt = "%" + flags + body + ("lld" if conv in "di" else "ll" + conv)
        plan.c_piece((1, field[0], field[1], field[2] & ((1 << width) - 1), sign, cfmt.encode()))
    return True


def _string(piece, plan: _Plan) -> bool:
    """A plain ``%s`` of what ``_text`` prints."""
    if piece.format != "%s":
        return False
    value = _text(piece.arg, plan)
    if value is None:
        return False
    plan.text.append("%s")
    plan.values.append(value)
    plan.c_piece(_c_text(piece.arg, plan))
    return True


def _c_text(arg, plan: _Plan) -> tuple | None:
    """``_text``'s piece as TracePlan prints it (see _speedups_script.c), or None: a char array, constant
    text, ``cond ? "a" : "b"``, __print_flags or __print_symbolic of a field's value under a mask, and
    ``v ? flags(v) : "text"`` of one such value (sched_switch's prev_state)."""
    kind = arg.kind
    if kind == "field":
        f = arg.v["field"]
        return (2, f.offset, f.size)  # (a char array: _text took it)
    if kind == "string":  # __get_str: fields.dynamic_span's string (a __data_loc of 4 or 2 bytes)
        f = arg.v["field"]
        return (6, f.offset, f.size, 1 if f.flags & IS_RELATIVE else 0) if f.size in (2, 4) else None
    if kind == "atom":
        return (0, arg.v["atom"]) if arg.v["atom"].isascii() else None
    if kind == "flags" or kind == "symbol":
        value = _number(arg.v["field"], plan)
        field = plan.source(value[0]) if value is not None else None
        helper = plan.arg_helpers.get(id(arg))
        if field is None or helper is None:
            return None
        return (5, field[0], field[1], field[2] & ((1 << value[1]) - 1) if value[1] < 64 else field[2], helper,
                helper.kept, None)
    if kind == "op" and arg.v["op"] == "?":
        cond = _number(arg.v["left"], plan)
        field = plan.source(cond[0]) if cond is not None else None
        branches = arg.v["right"]
        if field is None:
            return None
        yes, no = _c_text(branches.v["left"], plan), _c_text(branches.v["right"], plan)
        if yes is None or no is None or no[0] != 0:
            return None
        mask = field[2] & ((1 << cond[1]) - 1) if cond[1] < 64 else field[2]
        if yes[0] == 0:
            return (4, field[0], field[1], mask, yes[1], no[1])
        if yes[0] == 5 and yes[1:4] == (field[0], field[1], mask) and yes[6] is None:
            return yes[:6] + (no[1],)  # (the value is the condition: 0 prints the other text)
    return None


def _text(arg, plan: _Plan) -> str | None:
    """The expression of ``Printer.str_arg(arg, data, "%s", None)`` for a char array field, a dynamic
    string (compiled._string), a constant, ``cond ? x : y`` of those, ``__print_flags`` and
    ``__print_symbolic``; None for anything else."""
    kind = arg.kind
    if kind == "atom":
        return repr(arg.v["atom"])
    if kind == "op":
        if arg.v["op"] != "?":
            return None
        cond = _number(arg.v["left"], plan)
        branches = arg.v["right"]
        if cond is None or branches is None or branches.kind != "op":
            return None
        yes, no = _text(branches.v["left"], plan), _text(branches.v["right"], plan)
        if yes is None or no is None:
            return None
        return f"({yes} if {cond[0]} else {no})"
    if kind == "flags" or kind == "symbol":
        value = _number(arg.v["field"], plan)
        if value is None:
            return None
        name = f"s{len(plan.helpers)}"
        plan.helpers[name] = plan.arg_helpers[id(arg)] = _flags(arg.v["flags"], arg.v["delim"]) \
            if kind == "flags" else _symbolic(arg.v["symbols"])
        return f"{name}({value[0]})"
    f = arg.v.get("field")
    if f is None:
        return None
    if kind == "string":
        name = f"s{len(plan.helpers)}"

        def dynamic(data: bytes, f=f) -> str:
            offset, length = dynamic_span(f, data)
            return cstr(data[offset:]) if length else ""
        plan.helpers[name] = dynamic
        return f"{name}(data)"
    if kind != "field" or not f.flags & IS_ARRAY or not f.size:
        return None
    plan.end = max(plan.end, f.offset + f.size)
    return f"data[{f.offset}:{f.offset + f.size}].partition(b'\\0')[0].decode('utf-8', 'replace')"  # (cstr)


KEPT_NAMES = 4096  # flag texts a plan keeps per value (then it computes the others each time)


def _flags(pairs: list, delim: str | None) -> Callable[[int], str]:
    """``Printer._flags`` of an unsigned value with the pairs' values evaluated once (``eval_flag``), the
    text kept per value (flags take few values: a task's state)."""
    from pyperf_probe.traceevent.printer import eval_flag
    table = [(eval_flag(value), name) for value, name in pairs]
    kept: dict[int, str] = {}

    def flags(value: int) -> str:
        text = kept.get(value)
        if text is not None:
            return text
        val = to_s64(value)
        out, printed = [], False
        for fval, name in table:
            if not val and fval < 0:
                out.append(name)
                break
            if fval > 0 and (val & fval) == fval:
                if printed and delim:
                    out.append(delim)
                out.append(name)
                printed = True
                val &= ~fval
        if val:
            if printed and delim:
                out.append(delim)
            out.append("0x%x" % (val & MASK64))
        text = "".join(out)
        if len(kept) < KEPT_NAMES:
            kept[value] = text
        return text
    flags.kept = kept  # (what _speedups.TracePlan looks up first)
    return flags


def _symbolic(pairs: list) -> Callable[[int], str]:
    """``str_arg``'s ``__print_symbolic``: the name of the first pair whose value (``eval_flag``) is the
    value read as signed, else the value in hex."""
    from pyperf_probe.traceevent.printer import eval_flag
    names: dict[int, str] = {}
    for value, name in pairs:
        names.setdefault(eval_flag(value), name)
    get = names.get
    kept: dict[int, str] = {}

    def symbolic(value: int) -> str:
        name = get(to_s64(value))
        text = name if name is not None else "0x%x" % value
        if len(kept) < KEPT_NAMES:
            kept[value] = text
        return text
    symbolic.kept = kept  # (what _speedups.TracePlan looks up first)
    return symbolic


def _pointer(piece, plan: _Plan, printer=None) -> bool:
    """A plain ``%p`` of a number: ``(nil)`` or ``0x...``; ``%ps %pS %pf %pF`` of a number: the printer's
    ``_function`` (the kernel symbol the resolver of the moment finds, else the number; never kept)."""
    function = piece.format in ("%ps", "%pS", "%pf", "%pF") and printer is not None
    if (piece.format != "%p" and not function) or piece.arg.kind == "bstring":
        return False
    number = _number(piece.arg, plan)
    if number is None:
        return False
    value = number[0]
    plan.text.append("%s")
    field = plan.source(value)
    mask = field[2] & ((1 << number[1]) - 1) if field is not None and number[1] < 64 else \
        (field[2] if field is not None else 0)
    if function:
        name = f"s{len(plan.helpers)}"
        spec, name_of = piece.format[2:], printer._function
        plan.helpers[name] = helper = lambda val, spec=spec: name_of(spec, val)
        plan.values.append(f"{name}({value})")
        plan.c_piece((7, field[0], field[1], mask, helper) if field is not None else None)
        return True
    plan.values.append(f"(('0x%x' % {value}) if {value} else '(nil)')")
    plan.c_piece((3, field[0], field[1], mask) if field is not None else None)
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
    render = namespace["render"]
    trace_plan = _trace_plan_type()
    if plan.c is not None and trace_plan is not None:
        try:
            return trace_plan(plan.end, tuple(plan.c), render)  # (render: its twin, and its short records)
        except ValueError:  # (a program TracePlan does not take: a constant past 64 bits, a deep stack)
            return render
    return render


def eval_prog(prog: tuple, data: bytes) -> int:
    """The value of a TracePlan program (``PROG_*``) on ``data`` (which holds its fields): the Python twin of
    _speedups_script.c's eval_prog (tests/test_traceevent_paths.py checks both against the expressions)."""
    stack: list[int] = []
    k = 0
    while k < len(prog):
        op = prog[k]
        if op == PROG_FIELD:
            stack.append(int.from_bytes(data[prog[k + 1]:prog[k + 1] + prog[k + 2]], "little"))
            k += 3
        elif op == PROG_CONST:
            stack.append(prog[k + 1])
            k += 2
        elif op == PROG_OP:
            b = stack.pop()
            stack.append(_OP_FUNCS[prog[k + 1]](stack.pop(), b) & MASK64)
            k += 2
        elif op == PROG_NOT:
            stack.append(0 if stack.pop() else 1)
            k += 1
        elif op == PROG_INV:
            stack.append(stack.pop() ^ MASK64)
            k += 1
        else:
            no, yes, cond = stack.pop(), stack.pop(), stack.pop()
            stack.append(yes if cond else no)
            k += 1
    return stack[0]


# PROG_OPS's operators on unsigned 64-bit values (eval_prog masks what they give to 64 bits)
_OP_FUNCS = (lambda a, b: a | b, lambda a, b: a & b, lambda a, b: a ^ b, lambda a, b: 1 if a or b else 0,
             lambda a, b: 1 if a and b else 0, lambda a, b: 1 if a < b else 0, lambda a, b: 1 if a <= b else 0,
             lambda a, b: 1 if a > b else 0, lambda a, b: 1 if a >= b else 0, lambda a, b: 1 if a == b else 0,
             lambda a, b: 1 if a != b else 0, lambda a, b: a << (b & 63), lambda a, b: a >> (b & 63),
             lambda a, b: a - b, lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a // b if b else 0,
             lambda a, b: a % b if b else 0)


def _trace_plan_type():
    """``_speedups.TracePlan`` (the plans of numbers and char arrays printed in C), or None without the
    accelerator."""
    from pyperf_probe.perfdata.speedups import speedups
    get = getattr(speedups, "trace_plan_type", None)
    return None if get is None else get()
