"""The Python renderer of tracepoint records: a format text's fields and ``print fmt``, evaluated as
libtraceevent evaluates them (src/event-parse.c of libtraceevent 1.7, the code perf 6.1 carries).

Used where ``libtraceevent.so.1`` cannot be loaded (:mod:`.events` chooses). The pieces follow the C
functions they stand for, so a difference can be traced to one of them:

* :func:`tokens` is ``__read_token`` (items, ops such as ``->``/``<<=``, delimiters, quoted strings with
  adjacent ``"a" "b"`` joined);
* :class:`FormatField` and :func:`parse_fields` are ``event_read_fields`` (type, name, array length,
  the ``TEP_FIELD_IS_*`` flags);
* :class:`_Parser` is ``process_arg``/``process_op`` and the helpers perf 6.1's copy knows
  (``__print_flags``, ``__print_symbolic``, ``__print_hex[_str]``, ``__print_array``, ``__get_str``,
  ``__get_bitmask``, ``__get_dynamic_array[_len]``, ``__builtin_expect``), casts, ``?:``, ``[]``, C's
  operators with libtraceevent's priorities and rotation;
* :meth:`Event.info` is ``pretty_print`` over the ``parse_args`` pieces of the format string
  (``print_arg_number``, ``print_arg_string``/``print_str_arg``, ``print_arg_pointer`` for ``%pS %pM %pI4
  %pI6 %pISpc %pU %ph``), ``eval_num_arg`` for numbers;
* :meth:`Event.fields_text` is ``tep_print_fields`` as perf 6.1 prints it (``print_field_raw``).

An event whose ``print fmt`` cannot be parsed prints ``[FAILED TO PARSE]`` and its fields, as perf does
(a helper function only a libtraceevent plugin defines, such as ``jiffies_to_msecs``, makes that happen, and
so do the helpers newer than perf's copy: ``__get_cpumask``, ``__get_sockaddr``, ``__get_rel_*``,
``sizeof``). Where perf's copy and libtraceevent 1.7 differ (:func:`library_differs`), this module follows
perf, and :mod:`.events` prints those events with it even when the library is loaded.
"""
from __future__ import annotations

import struct
from collections.abc import Callable

NONE, ITEM, OP, DELIM, DQUOTE, SQUOTE, NEWLINE, SPACE, ERROR = range(9)

# enum tep_format_flags
IS_ARRAY, IS_POINTER, IS_SIGNED, IS_STRING, IS_DYNAMIC, IS_LONG = 1, 2, 4, 8, 16, 32
IS_RELATIVE = 256

_U = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}
MASK64 = (1 << 64) - 1


class ParseError(Exception):
    """A format text libtraceevent would not parse (the event then prints ``[FAILED TO PARSE]``)."""


# ------------------------------------------------------------------------------------------- tokens

def _ctype(ch: str) -> int:
    """``get_type``."""
    if ch == "\n":
        return NEWLINE
    if ch.isspace():
        return SPACE
    if ch.isalnum() or ch == "_":
        return ITEM
    if ch == "'":
        return SQUOTE
    if ch == '"':
        return DQUOTE
    if not ch.isprintable():
        return NONE
    if ch in "(),":
        return DELIM
    return OP


class Tokens:
    """``__read_token``/``read_token``/``read_token_item`` over one text."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def _char(self) -> str:
        if self.pos >= len(self.text):
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def raw(self) -> tuple[int, str]:
        ch = self._char()
        if not ch:
            return NONE, ""
        kind = _ctype(ch)
        if kind in (NONE, NEWLINE, DELIM):
            return kind, ch
        if kind == OP:
            return kind, self._op(ch)
        if kind in (DQUOTE, SQUOTE):
            return self._quoted(ch, kind)
        out = ch
        while self._peek() and _ctype(self._peek()) == kind:
            out += self._char()
        return kind, out

    def _op(self, ch: str) -> str:
        buf = ch
        if ch == "-" and self._peek() == ">":
            return buf + self._char()
        if ch in "+-|&><":
            if self._peek() == ch:
                buf += self._char()
                if ch not in "<>":
                    return buf
            if self._peek() == "=":
                buf += self._char()
            return buf
        if ch in "!=" and self._peek() == "=":
            buf += self._char()
        return buf

    def _quoted(self, quote: str, kind: int) -> tuple[int, str]:
        out = []
        while True:
            last, ch = "", quote
            while True:
                last, ch = ch, self._char()
                if ch == "\\" and last == "\\":
                    out.append(ch)
                    last, ch = "", ""
                    continue
                if not ch:
                    return NONE, "".join(out)
                if ch == quote and last != "\\":  # perf 6.1's copy: any byte up to the quote (tabs too)
                    break
                out.append(ch)
            if kind != DQUOTE:
                return kind, "".join(out)
            save = self.pos
            while self._peek() and self._peek().isspace():
                self.pos += 1
            if self._peek() != '"':
                self.pos = save
                return kind, "".join(out)
            self.pos += 1

    def read(self) -> tuple[int, str]:
        """read_token: spaces skipped."""
        while True:
            kind, tok = self.raw()
            if kind != SPACE:
                return kind, tok

    def item(self) -> tuple[int, str]:
        """read_token_item: spaces and newlines skipped."""
        while True:
            kind, tok = self.raw()
            if kind not in (SPACE, NEWLINE):
                return kind, tok

    def expect(self, kind: int, text: str | None = None, newline_ok: bool = True) -> str:
        got_kind, tok = self.read() if newline_ok else self.item()
        if got_kind != kind or (text is not None and tok != text):
            raise ParseError(f"expected {text or kind!r}, read {tok!r}")
        return tok


# ------------------------------------------------------------------------------------------- fields

class FormatField:
    """``struct tep_format_field``: the C type, name, place, size and TEP_FIELD_IS_* flags."""

    __slots__ = ("type", "name", "offset", "size", "arraylen", "elementsize", "flags", "common")

    def __init__(self, type_: str, name: str, flags: int):
        self.type, self.name, self.flags = type_, name, flags
        self.offset = self.size = self.arraylen = self.elementsize = 0
        self.common = False

    def __repr__(self) -> str:
        return f"FormatField({self.type!r}, {self.name!r}, off={self.offset}, size={self.size}, flags={self.flags})"


_TYPE_SIZES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "s8": 1, "s16": 2, "s32": 4, "s64": 8, "char": 1}


def _read_field(tok: Tokens, long_size: int) -> FormatField | None:
    """One ``field:TYPE NAME;\\toffset:N;\\tsize:N;\\tsigned:N;`` line, None at the empty line that ends a
    block (``event_read_fields``)."""
    kind, text = tok.read()
    if kind == NEWLINE:
        return None
    if kind != ITEM or text != "field":
        raise ParseError(f"expected 'field', read {text!r}")
    tok.expect(OP, ":")
    last = tok.expect(ITEM)
    type_, flags, size_dynamic = None, 0, 0
    while True:
        kind, text = tok.read()
        if kind == ITEM or (kind == OP and text == "*"):
            if text == "*":
                flags |= IS_POINTER
            type_ = last if type_ is None else type_ + " " + last
            last = text
            continue
        if kind == DELIM and last == "__attribute__" and text == "(":
            type_ = (type_ + " " if type_ else "") + "__attribute__("
            depth, delim = 1, " "
            while True:
                kind, text = tok.read()
                if kind == NONE:
                    raise ParseError("unterminated __attribute__")
                if kind == DELIM:
                    depth += (text == "(") - (text == ")")
                    if not depth:
                        break
                    type_, delim = type_ + text, ""
                else:
                    type_, delim = type_ + delim + text, " "
                last = text
            continue
        break
    if type_ is None:
        raise ParseError("no type found")
    name, arraylen = last, 0
    if kind != OP:
        raise ParseError(f"expected an operator after {name!r}")
    if text == "[":
        flags |= IS_ARRAY
        brackets, last_kind = "[", kind
        kind, text = tok.read()
        arraylen = _strtoul(text) if kind == ITEM else 0
        while text != "]":
            brackets += (" " if last_kind == ITEM and kind == ITEM else "") + text
            last_kind = kind
            arraylen = _strtoul(text)
            kind, text = tok.read()
            if kind == NONE:
                raise ParseError("failed to find token")
        brackets += "]"
        kind, text = tok.read()
        if kind == ITEM:  # ``__data_loc char[] name``: the brackets belonged to the type
            type_ = type_ + " " + name + brackets
            size_dynamic = _TYPE_SIZES.get(name, 0)
            name = text
            kind, text = tok.read()
        else:
            type_ += brackets
    f = FormatField(type_, name, flags)
    if f.flags & IS_ARRAY and ("char" in type_ or "u8" in type_ or "s8" in type_):
        f.flags |= IS_STRING
    if type_.startswith("__data_loc"):
        f.flags |= IS_DYNAMIC
    if type_.startswith("__rel_loc"):
        f.flags |= IS_DYNAMIC | IS_RELATIVE
    if "long" in type_:
        f.flags |= IS_LONG
    if kind != OP or text != ";":
        raise ParseError(f"expected ';' after {name!r}")
    tok.expect(ITEM, "offset"), tok.expect(OP, ":")
    f.offset = _strtoul(tok.expect(ITEM))
    tok.expect(OP, ";"), tok.expect(ITEM, "size"), tok.expect(OP, ":")
    f.size = _strtoul(tok.expect(ITEM))
    if f.flags & IS_DYNAMIC and f.size == 2:
        f.flags |= IS_STRING | IS_ARRAY
    tok.expect(OP, ";")
    kind, text = tok.read()
    if kind != NEWLINE:
        if kind != ITEM or text != "signed":
            raise ParseError(f"expected 'signed', read {text!r}")
        tok.expect(OP, ":")
        if _strtoul(tok.expect(ITEM)):
            f.flags |= IS_SIGNED
        tok.expect(OP, ";")
        tok.expect(NEWLINE)
    f.arraylen = arraylen
    if f.flags & (IS_ARRAY | IS_DYNAMIC):
        if arraylen:
            f.elementsize = f.size // arraylen
        elif f.flags & IS_DYNAMIC:
            f.elementsize = size_dynamic
        elif f.flags & IS_STRING:
            f.elementsize = 1
        elif f.flags & IS_LONG:
            f.elementsize = long_size
    else:
        f.elementsize = f.size
    return f


def _strtoul(text: str) -> int:
    """strtoul(text, NULL, 0): the leading number (0x hex, 0 octal), 0 when there is none."""
    t = text.strip()
    try:
        if t[:2].lower() == "0x":
            digits = ""
            for ch in t[2:]:
                if ch not in "0123456789abcdefABCDEF":
                    break
                digits += ch
            return int(digits, 16) if digits else 0
        digits = ""
        for ch in t:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            return 0
        return int(digits, 8) if digits.startswith("0") and len(digits) > 1 else int(digits)
    except ValueError:
        return 0


def parse_fields(tok: Tokens, long_size: int) -> list[FormatField]:
    """The fields up to the empty line that ends their block."""
    out = []
    while True:
        f = _read_field(tok, long_size)
        if f is None:
            return out
        out.append(f)


# ------------------------------------------------------------------------------------------- args

class Arg:
    """``struct tep_print_arg``: ``kind`` names the union member in use, ``v`` holds its values."""

    __slots__ = ("kind", "v")

    def __init__(self, kind: str = "null", **v):
        self.kind, self.v = kind, v

    def become(self, other: Arg) -> None:
        self.kind, self.v = other.kind, other.v

    def __repr__(self) -> str:
        return f"Arg({self.kind}, {self.v})"


def _op_prio(op: str) -> int:
    """``get_op_prio``."""
    if len(op) == 1:
        return {"~": 4, "!": 4, "*": 6, "/": 6, "%": 6, "+": 7, "-": 7, "<": 9, ">": 9, "&": 11, "^": 12,
                "|": 13, "?": 16}.get(op, -1)
    return {"++": 3, "--": 3, ">>": 8, "<<": 8, ">=": 9, "<=": 9, "==": 10, "!=": 10, "&&": 14,
            "||": 15}.get(op, -1)


_BINARY = frozenset((">>", "<<", "&", "|", "&&", "||", "-", "+", "*", "^", "/", "%", "<", ">", "<=", ">=",
                     "==", "!="))


class _Parser:
    """``process_arg`` and its helpers over the print fmt's arguments."""

    def __init__(self, tok: Tokens, event: Event):
        self.tok, self.event = tok, event

    def arg(self, arg: Arg) -> tuple[int, str]:
        kind, text = self.tok.read()
        return self.arg_token(arg, kind, text)

    def arg_token(self, arg: Arg, kind: int, text: str) -> tuple[int, str]:
        if kind == ITEM:
            if text == "REC":
                return self.entry(arg)
            atom = text
            kind, text = self.tok.item()
            if kind == DELIM and text == "(":
                return self.function(arg, atom)
            while kind == ITEM:
                atom += " " + text
                kind, text = self.tok.item()
            arg.become(Arg("atom", atom=atom))
            return kind, text
        if kind in (DQUOTE, SQUOTE):
            arg.become(Arg("atom", atom=text))
            return self.tok.item()
        if kind == DELIM and text == "(":
            return self.paren(arg)
        if kind in (DELIM, OP):
            arg.become(Arg("op", op=text, left=None, right=None, prio=0))
            return self.op(arg, text)
        raise ParseError(f"unexpected token {text!r}")

    def entry(self, arg: Arg) -> tuple[int, str]:
        kind, text = self.tok.item()
        if kind != OP or text != "->":
            raise ParseError("expected '->' after REC")
        name = self.tok.expect(ITEM)
        field = self.event.find_any_field(name)
        arg.become(Arg("field", name=name, field=field))
        return self.tok.read()

    def field_arg(self, arg: Arg) -> tuple[int, str]:
        kind, text = self.arg(arg)
        while kind == OP:
            kind, text = self.op(arg, text)
        return kind, text

    def op(self, arg: Arg, token: str) -> tuple[int, str]:
        """``process_op``: ``arg`` holds the left side (or is a unary op); ``token`` the operator."""
        right = None
        if arg.kind == "op" and arg.v["left"] is None:
            if token not in ("~", "!", "+", "-"):
                raise ParseError(f"bad unary op {token!r}")
            arg.v["left"] = Arg("null")
            right = arg.v["right"] = Arg()
            kind, text = self.arg(right)
        elif token == "?":
            left = Arg(arg.kind, **arg.v)
            arg.become(Arg("op", op="?", left=left, right=None, prio=0))
            kind, text = self.cond(arg)
        elif token in _BINARY:
            left = Arg(arg.kind, **arg.v)
            arg.become(Arg("op", op=token, left=left, right=None, prio=0))
            arg.v["prio"] = 0 if left.kind == "null" else _op_prio(token)
            kind, text = self.tok.item()
            if token == "*" and kind == DELIM and text == ")":  # a cast to a pointer type: ``(char *)``
                if left.kind != "atom":
                    raise ParseError("bad pointer type")
                arg.become(Arg("atom", atom=left.v["atom"] + " *"))
                return kind, text
            right = Arg()
            kind, text = self.arg_token(right, kind, text)
            if right.kind == "op" and _op_prio(arg.v["op"]) < _op_prio(right.v["op"]):
                # rotate ops according to the priority (the C code swaps the two structs)
                arg.v["right"] = right.v["left"]
                mine = Arg(arg.kind, **arg.v)
                arg.become(right)
                right.become(mine)
                arg.v = dict(arg.v)
                arg.v["left"] = right
            else:
                arg.v["right"] = right
        elif token == "[":
            left = Arg(arg.kind, **arg.v)
            arg.become(Arg("op", op="[", left=left, right=None, prio=0))
            inner = Arg()
            kind, text = self.arg(inner)
            if kind != OP or text != "]":
                raise ParseError("expected ']'")
            arg.v["right"] = inner
            kind, text = self.tok.item()
        else:
            raise ParseError(f"unknown op {token!r}")
        if kind == OP and text != ":":
            if _op_prio(text) > arg.v.get("prio", 0):
                return self.op(arg, text)
            return self.op(right, text)
        return kind, text

    def cond(self, top: Arg) -> tuple[int, str]:
        left, right = Arg(), Arg()
        kind, text = self.arg(left)
        while kind == OP and text != ":":
            kind, text = self.op(left, text)
        if kind != OP or text != ":":
            raise ParseError("expected ':'")
        kind, text = self.arg(right)
        top.v["right"] = Arg("op", op=":", left=left, right=right, prio=0)
        return kind, text

    def paren(self, arg: Arg) -> tuple[int, str]:
        kind, text = self.arg(arg)
        if kind == OP:
            kind, text = self.op(arg, text)
        if kind != DELIM or text != ")":
            raise ParseError("expected ')'")
        kind, text = self.tok.item()
        if kind in (ITEM, DQUOTE, SQUOTE) or (kind == DELIM and text == "("):
            if arg.kind != "atom":
                raise ParseError("previous needed to be an atom")
            item = Arg()
            arg.become(Arg("type", type=arg.v["atom"], item=item))
            return self.arg_token(item, kind, text)
        return kind, text

    def delim_arg(self, end: str) -> Arg:
        """``alloc_and_process_delim``."""
        arg = Arg()
        kind, text = self.arg(arg)
        if kind == OP:
            kind, text = self.op(arg, text)
            _consolidate(arg)
        if kind != DELIM or text != end:
            raise ParseError(f"expected {end!r}")
        return arg

    def function(self, arg: Arg, name: str) -> tuple[int, str]:
        tok = self.tok
        if name == "__print_flags" or name == "__print_symbolic":
            field = Arg()
            kind, text = self.field_arg(field)
            if name == "__print_flags":
                while kind == OP:
                    kind, text = self.op(field, text)
            if kind != DELIM or text != ",":
                raise ParseError("expected ','")
            delim = None
            if name == "__print_flags":
                kind, text = tok.item()
                if kind in (ITEM, DQUOTE, SQUOTE):
                    delim = text
                    kind, text = tok.item()
                if kind != DELIM or text != ",":
                    raise ParseError("expected ','")
            pairs, (kind, text) = self.fields_list()
            if kind != DELIM or text != ")":
                raise ParseError("expected ')'")
            if name == "__print_flags":
                arg.become(Arg("flags", field=field, delim=delim, flags=pairs))
                _mark(field, "flag")
            else:
                arg.become(Arg("symbol", field=field, symbols=pairs))
                _mark(field, "symbolic")
            return tok.item()
        if name in ("__print_hex", "__print_hex_str"):
            field, size = self.delim_arg(","), self.delim_arg(")")
            arg.become(Arg("hex" if name == "__print_hex" else "hex_str", field=field, size=size))
            return tok.item()
        if name == "__print_array":
            field, count, el_size = self.delim_arg(","), self.delim_arg(","), self.delim_arg(")")
            arg.become(Arg("int_array", field=field, count=count, el_size=el_size))
            return tok.item()
        if name in ("__get_str", "__get_bitmask"):
            what = tok.expect(ITEM)
            tok.expect(DELIM, ")")
            kind = "string" if "str" in name else "bitmask"
            arg.become(Arg(kind, name=what, field=self.event.find_any_field(what)))
            return tok.read()
        if name == "__get_dynamic_array":
            kind, text = tok.read()
            field = self.event.find_field(text) if kind == ITEM else None
            if field is None:
                raise ParseError(f"{name}: no field {text!r}")
            arg.become(Arg("dynarray", field=field))
            tok.expect(DELIM, ")")
            kind, text = tok.item()
            if kind != OP or text != "[":
                return kind, text
            index = Arg()
            kind, text = self.arg(index)
            if kind == OP and text == "]":
                kind, text = tok.item()
            return kind, text
        if name == "__get_dynamic_array_len":
            what = tok.expect(ITEM)
            field = self.event.find_field(what)
            if field is None:
                raise ParseError(f"{name}: no field {what!r}")
            arg.become(Arg("dynarray_len", field=field))
            tok.expect(DELIM, ")")
            return tok.read()
        if name == "__builtin_expect":
            kind, text = self.arg(arg)
            if kind != DELIM or text != ",":
                raise ParseError("__builtin_expect: expected ','")
            tok.expect(ITEM)
            tok.expect(DELIM, ")")
            return tok.item()
        raise ParseError(f"function {name} not defined")

    def fields_list(self) -> tuple[list[tuple[str, str]], tuple[int, str]]:
        """``process_fields``: ``{ value, "name" }, ...``."""
        out = []
        while True:
            kind, text = self.tok.item()
            if kind != OP or text != "{":
                return out, (kind, text)
            value = Arg()
            kind, text = self.arg(value)
            if kind == OP:
                kind, text = self.op(value, text)
            if kind != DELIM or text != ",":
                raise ParseError("expected ',' in a {value, name} pair")
            name = Arg()
            kind, text = self.arg(name)
            if kind != OP or text != "}":
                raise ParseError("expected '}'")
            v, n = _arg_eval(value), _arg_eval(name)
            if v is None or n is None:
                raise ParseError("a {value, name} pair that is not constant")
            out.append((v, n))
            kind, text = self.tok.item()
            if kind != DELIM or text != ",":
                return out, (kind, text)


def _mark(field_arg: Arg, what: str) -> None:
    """``is_flag_field``/``is_symbolic_field``: nothing to keep (libtraceevent only sets a flag)."""


def _to_s64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def _arg_num_eval(arg: Arg):
    """``arg_num_eval``: the constant value of an expression of atoms, or None."""
    if arg.kind == "atom":
        return _to_s64(_strtoull(arg.v["atom"]))
    if arg.kind == "type":
        return _arg_num_eval(arg.v["item"])
    if arg.kind != "op":
        return None
    op, left_arg, right_arg = arg.v["op"], arg.v["left"], arg.v["right"]
    if op in ("-", "+") and left_arg is not None and left_arg.kind == "null":
        left = 0
    elif op == "~":
        left = 0
    else:
        left = _arg_num_eval(left_arg) if left_arg is not None else None
        if left is None:
            return None
    right = _arg_num_eval(right_arg) if right_arg is not None else None
    if right is None:
        return None
    table = {"|": lambda: left | right, "||": lambda: int(bool(left or right)), "&": lambda: left & right,
             "&&": lambda: int(bool(left and right)), "<": lambda: int(left < right),
             "<<": lambda: left << right, "<=": lambda: int(left <= right), ">": lambda: int(left > right),
             ">>": lambda: left >> right, ">=": lambda: int(left >= right), "==": lambda: int(left == right),
             "!=": lambda: int(left != right), "-": lambda: left - right, "+": lambda: left + right,
             "~": lambda: ~right}
    fn = table.get(op)
    return None if fn is None else _to_s64(fn())


def _arg_eval(arg: Arg) -> str | None:
    """``arg_eval``: the text of a constant argument."""
    if arg.kind == "atom":
        return arg.v["atom"]
    if arg.kind == "type":
        return _arg_eval(arg.v["item"])
    if arg.kind == "op":
        val = _arg_num_eval(arg)
        return None if val is None else str(val)
    return None


def _strtoull(text: str) -> int:
    """strtoull(text, NULL, 0) with a leading sign."""
    t = text.strip()
    neg = t.startswith("-")
    if t[:1] in "+-":
        t = t[1:]
    v = _strtoul(t)
    return (-v) & MASK64 if neg else v


def _consolidate(arg: Arg) -> None:
    """``consolidate_op_arg``: an op on two atoms becomes one atom."""
    if arg.kind != "op":
        return
    left, right = arg.v["left"], arg.v["right"]
    if left is not None:
        _consolidate(left)
    if right is not None:
        _consolidate(right)
    if left is None or right is None or left.kind != "atom" or right.kind != "atom":
        return
    a, b, op = _strtoull(left.v["atom"]), _strtoull(right.v["atom"]), arg.v["op"]
    fns = {">>": lambda: a >> b, ">=": lambda: a >= b, ">": lambda: a > b, "<<": lambda: a << b,
           "<=": lambda: a <= b, "<": lambda: a < b, "&&": lambda: a and b, "&": lambda: a & b,
           "||": lambda: a or b, "|": lambda: a | b, "-": lambda: a - b, "+": lambda: a + b,
           "*": lambda: a * b, "^": lambda: a ^ b, "/": lambda: a // b if b else None,
           "%": lambda: a % b if b else None, "==": lambda: a == b, "!=": lambda: a != b}
    fn = fns.get(op) or fns.get(op[:1])
    if fn is None:
        return
    val = fn()
    if val is None:
        return
    arg.become(Arg("atom", atom=str(_to_s64(int(val)))))


# ------------------------------------------------------------------------------------------- printing

_SOFTIRQ_FLAGS = {"HI_SOFTIRQ": 0, "TIMER_SOFTIRQ": 1, "NET_TX_SOFTIRQ": 2, "NET_RX_SOFTIRQ": 3,
                  "BLOCK_SOFTIRQ": 4, "IRQ_POLL_SOFTIRQ": 5, "TASKLET_SOFTIRQ": 6, "SCHED_SOFTIRQ": 7,
                  "HRTIMER_SOFTIRQ": 8, "RCU_SOFTIRQ": 9, "HRTIMER_NORESTART": 0, "HRTIMER_RESTART": 1}


def _eval_flag(text: str) -> int:
    """``eval_flag``: a number, one of libtraceevent's few known names, else -1."""
    if text[:1].isdigit():
        return _to_s64(_strtoull(text))
    return _SOFTIRQ_FLAGS.get(text, -1)


def _cstr(data: bytes) -> str:
    """A C string: the bytes up to the first NUL."""
    return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


class _Piece:
    """``struct tep_print_parse``: literal text, or one conversion with its argument."""

    __slots__ = ("type", "format", "arg", "len_arg", "ls")

    def __init__(self, type_: str, fmt: str, arg: Arg | None = None, len_arg: Arg | None = None, ls: int = 0):
        self.type, self.format, self.arg, self.len_arg, self.ls = type_, fmt, arg, len_arg, ls


def _pointer_suffix(fmt: str, i: int) -> int:
    """``parse_arg_format_pointer``: how many characters after ``%p`` belong to the conversion."""
    c = fmt[i] if i < len(fmt) else ""
    at = lambda k: fmt[i + k] if i + k < len(fmt) else ""  # noqa: E731
    if c in "FSfs":
        return 1
    if c in "Mm":
        return 2 if at(1) in ("R", "F") and at(1) else 1
    if c in "Ii":
        ret, index = 0, 2
        if at(1) == "S":
            while at(index) in ("p", "f", "s") and at(index):
                ret += 1
                index += 1
        if at(1) in ("S", "4"):
            if at(index) in ("h", "n", "l", "b") and at(index):
                ret += 1
                index += 1
            if at(1) == "4":
                return ret + 2
        if at(1) in ("S", "4", "6"):
            if at(index) == "c":
                ret += 1
            ret += 1
        return ret + 1
    if c == "U":
        return (2 if at(1) in ("L", "l", "B", "b") and at(1) else 1)
    if c == "h":
        return (2 if at(1) in ("C", "D", "N") and at(1) else 1)
    return 0


def _parse_pieces(fmt: str, args: list[Arg]) -> list[_Piece]:
    """``parse_args``: the format string cut into literal text and conversions, each with its argument."""
    pieces: list[_Piece] = []
    args = list(args)
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and fmt[i + 1:i + 2] != "%":
            i = _parse_conversion(fmt, i, args, pieces)
        else:
            i = _parse_text(fmt, i, pieces)
    return pieces


def _parse_text(fmt: str, i: int, pieces: list[_Piece]) -> int:
    out = []
    while i < len(fmt):
        ch = fmt[i]
        if ch == "\\" and i + 1 < len(fmt):
            i += 1
            out.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(fmt[i], fmt[i]))
        elif ch == "%":
            if fmt[i + 1:i + 2] == "%":
                out.append("%")
                i += 1
            else:
                break
        else:
            out.append(ch)
        i += 1
    pieces.append(_Piece("string", "".join(out)))
    return i


def _parse_conversion(fmt: str, start: int, args: list[Arg], pieces: list[_Piece]) -> int:
    i, ls, len_arg = start + 1, 0, None
    while i < len(fmt):
        ch = fmt[i]
        if ch == "#" or ch == "." or ch.isdigit() or ch == "-":
            pass
        elif ch == "h":
            ls -= 1
        elif ch == "l":
            ls += 1
        elif ch == "L":
            ls = 2
        elif ch in "zZ":
            pass  # perf 6.1's copy: %zu takes an int (libtraceevent >= 1.2 a long)
        elif ch == "*":
            if not args or len_arg is not None:
                raise ParseError("no argument match")
            len_arg = args.pop(0)
        elif ch == "p":
            if not args:
                raise ParseError("no argument match")
            i += _pointer_suffix(fmt, i + 1)
            pieces.append(_Piece("pointer", fmt[start:i + 1], args.pop(0), len_arg, ls))
            return i + 1
        elif ch in "duixXo":
            if not args:
                raise ParseError("no argument match")
            if ls < -2 or ls > 2:
                raise ParseError(f"bad count ({ls})")
            pieces.append(_Piece("digit", fmt[start:i + 1], args.pop(0), len_arg, ls))
            return i + 1
        elif ch == "s":
            if not args:
                raise ParseError("no matching argument")
            pieces.append(_Piece("str", fmt[start:i + 1], args.pop(0), len_arg, 0))
            return i + 1
        else:
            pieces.append(_Piece("string", f">{ch}<"))
            return i + 1
        i += 1
    return i


def cformat(spec: str, value, width: int | None = None) -> str:
    """C's printf of one conversion (``%-08.3lx``, ``%*d``...) for an int or str value, in Python."""
    conv = spec[-1]
    body = spec[1:-1].replace("*", str(width) if width is not None else "")
    flags = ""
    while body and body[0] in "-+ #0":
        flags += body[0]
        body = body[1:]
    body = body.rstrip("hlLzZjt")
    if conv == "s":
        flags = flags.replace("0", "").replace("#", "")
        return ("%" + flags + body + "s") % value
    if conv == "p":
        return ("%" + flags.replace("#", "") + body + "s") % ("(nil)" if not value else "0x%x" % value)
    pyconv = {"u": "d", "i": "d"}.get(conv, conv)
    if "#" in flags and (value == 0 or conv == "o"):  # C: %#x of 0 is "0"; %#o is "0NNN", not "0oNNN"
        flags = flags.replace("#", "")
        if conv == "o" and value:
            return cformat("%" + flags + body + "s", "0%o" % value)
    if "." in body and conv in "duixXo":
        flags = flags.replace("0", "")  # C ignores 0 with a precision
    try:
        return ("%" + flags + body + pyconv) % value
    except (TypeError, ValueError):
        return str(value)


def _num(data: bytes, offset: int, size: int) -> int:
    """``tep_read_number`` (little-endian; sizes other than 1/2/4/8 read as 0)."""
    code = _U.get(size)
    if code is None or offset < 0 or offset + size > len(data):
        return 0
    return struct.unpack_from(code, data, offset)[0]


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


class Event:
    """One parsed format: name, common and event fields, print fmt pieces (or the reason they failed)."""

    def __init__(self, name: str, system: str, event_id: int, long_size: int,
                 resolve: Callable | None = None, printk: dict | None = None):
        self.name, self.system, self.id, self.long_size = name, system, event_id, long_size
        self.common_fields: list[FormatField] = []
        self.fields: list[FormatField] = []
        self.print_fmt: str | None = None
        self.args: list[Arg] = []
        self.pieces: list[_Piece] = []
        self.failed: str | None = None
        self.resolve = resolve
        self.printk = printk or {}

    # --- parsing ----------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, system: str = "", long_size: int = 8, resolve: Callable | None = None,
              printk: dict | None = None) -> Event:
        """A format text (``name:``, ``ID:``, ``format:`` with the fields, ``print fmt:``); a print fmt that
        does not parse leaves ``failed`` set (the fields still print)."""
        tok = Tokens(text)
        tok.expect(ITEM, "name", newline_ok=False)
        tok.expect(OP, ":")
        name = tok.expect(ITEM)
        tok.expect(ITEM, "ID", newline_ok=False)
        tok.expect(OP, ":")
        event_id = _strtoul(tok.expect(ITEM))
        ev = cls(name, system, event_id, long_size, resolve, printk)
        tok.expect(ITEM, "format", newline_ok=False)
        tok.expect(OP, ":")
        tok.expect(NEWLINE)
        ev.common_fields = parse_fields(tok, long_size)
        for f in ev.common_fields:
            f.common = True
        ev.fields = parse_fields(tok, long_size)
        try:
            ev._parse_print(tok)
        except (ParseError, IndexError, KeyError, RecursionError) as exc:
            ev.failed = str(exc) or type(exc).__name__
        return ev

    def _parse_print(self, tok: Tokens) -> None:
        tok.expect(ITEM, "print", newline_ok=False)
        tok.expect(ITEM, "fmt")
        tok.expect(OP, ":")
        fmt = tok.expect(DQUOTE)
        kind, text = tok.item()
        while kind == DQUOTE:
            fmt += text
            kind, text = tok.item()
        self.print_fmt = fmt
        if kind != NONE:
            if kind != DELIM or text != ",":
                raise ParseError("expected ',' after the format string")
            self.args = self._parse_args(tok)
        self.pieces = _parse_pieces(fmt, self.args)

    def _parse_args(self, tok: Tokens) -> list[Arg]:
        """``event_read_print_args``."""
        parser, out = _Parser(tok, self), []
        kind = ERROR
        while True:  # do { ... } while (type != TEP_EVENT_NONE)
            if kind == NEWLINE:
                kind, text = tok.item()
            else:
                arg = Arg()
                kind, text = parser.arg(arg)
                out.append(arg)
                if kind == OP:
                    kind, text = parser.op(arg, text)
                    _consolidate(arg)
                elif not (kind == DELIM and text == ","):
                    break
            if kind == NONE:
                break
        return out  # (libtraceevent only warns about a token after the last argument)

    def find_field(self, name: str) -> FormatField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def find_any_field(self, name: str) -> FormatField | None:
        for f in self.common_fields:
            if f.name == name:
                return f
        return self.find_field(name)

    # --- evaluation -------------------------------------------------------------------------------------

    def _dyn(self, field: FormatField, data: bytes) -> tuple[int, int]:
        """``dynamic_offset_field``: (offset, length) of a __data_loc/__rel_loc field's bytes."""
        size = len(data)
        if field.offset + field.size > size:
            return 0, 0
        val = _num(data, field.offset, field.size)
        o = val & 0xFFFF
        length = size - o if field.size == 2 else (val >> 16) & 0xFFFF
        offset = 0 if o > size else o
        length = 0 if o + length > size else length
        if field.flags & IS_RELATIVE:
            offset += field.offset + field.size
        return offset, length

    def num(self, arg: Arg, data: bytes) -> int:
        """``eval_num_arg`` (unsigned 64-bit result)."""
        k = arg.kind
        if k == "null":
            return 0
        if k == "atom":
            return _strtoull(arg.v["atom"])  # names of kernel symbols (test_for_symbol) count 0 here
        if k == "field":
            f = arg.v["field"]
            if f is None or f.offset + f.size > len(data):
                return 0
            return _num(data, f.offset, f.size)
        if k == "type":
            return _eval_type(self.num(arg.v["item"], data), arg.v["type"], False)
        if k == "dynarray_len":
            return self._dyn(arg.v["field"], data)[1]
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
            offset = self._dyn(field, data)[0] + right
            size = field.elementsize or size
        elif larg.kind == "field" and larg.v["field"] is not None:
            field = larg.v["field"]
            size = field.elementsize
            offset = field.offset + right * field.elementsize
        else:
            return self._num_op(Arg("op", op="+", left=arg.v["left"], right=arg.v["right"]), data)
        if offset + size > len(data):
            return 0
        val = _num(data, offset, size)
        return _eval_type(val, typearg.v["type"], True) if typearg is not None else val

    def info(self, data: bytes) -> str:
        """``pretty_print`` (TEP_PRINT_INFO)."""
        if self.failed is not None:
            return "[FAILED TO PARSE]" + self.fields_text(data)
        out = []
        for piece in self.pieces:
            self._print_piece(piece, data, out)
        return "".join(out)

    def _print_piece(self, piece: _Piece, data: bytes, out: list) -> None:
        width = None
        if piece.len_arg is not None:
            width = _signed(self.num(piece.len_arg, data), 32)
        if piece.type == "string":
            out.append(piece.format)
        elif piece.type == "digit":
            out.append(self._digit(piece, data, width))
        elif piece.type == "str":
            out.append(self.str_arg(piece.arg, data, piece.format, width))
        else:
            out.append(self._pointer(piece, data, width))

    def _digit(self, piece: _Piece, data: bytes, width: int | None) -> str:
        val = self.num(piece.arg, data)
        bits = {-2: 8, -1: 16, 0: 32}.get(piece.ls, 64)
        conv = piece.format[-1]
        if "z" in piece.format or "Z" in piece.format:  # an int read as a size_t: the zero-extended low half
            val &= 0xFFFFFFFF
        else:
            val = _signed(val, bits) if conv in "di" else val & ((1 << bits) - 1)
        return cformat(piece.format, val, width)

    def _pointer(self, piece: _Piece, data: bytes, width: int | None) -> str:
        arg = piece.arg
        if arg.kind == "bstring":
            return arg.v["string"]
        spec = piece.format[piece.format.index("p") + 1:]
        c = spec[:1]
        if c and c in "FfSs":
            return self._function(spec, self.num(arg, data))
        if c and c in "Mm":
            return self._mac(spec, arg, data)
        if c and c in "Ii":
            return self._ip(spec, arg, data)
        if c == "h":
            return self._raw_buff(spec, arg, data, width)
        if c == "U":
            return self._uuid(spec, arg, data)
        val = self.num(arg, data)
        return "(nil)" if not val else "0x%x" % val

    def _function(self, spec: str, val: int) -> str:
        """``print_function``: the kernel symbol (``+0xOFF`` for S/F), else the number."""
        got = self.resolve(val) if self.resolve is not None else None
        if got is not None:
            name, start = got[0], got[1]
            return name + ("+0x%x" % (val - start) if spec[0] in "FS" else "")
        return "0x%x" % val

    def _field_of(self, arg: Arg) -> FormatField | None:
        while arg.kind == "type":
            arg = arg.v["item"]
        return arg.v.get("field") if arg.kind == "field" else None

    def _mac(self, spec: str, arg: Arg, data: bytes) -> str:
        field = self._field_of(arg)
        if field is None:
            return "ARG TYPE NOT FIELD BUT %d" % 0
        if field.size != 6:
            return "INVALIDMAC"
        b = data[field.offset:field.offset + 6]
        if len(spec) > 1 and spec[1] == "R":
            b = b[::-1]
        sep = "" if spec[0] == "m" else "-" if spec[1:2] == "F" else ":"
        return sep.join("%02x" % x for x in b)

    def _ip(self, spec: str, arg: Arg, data: bytes) -> str:
        i, kind = spec[0], spec[1:2]
        field = self._field_of(arg)
        if kind == "4":
            if field is None:
                return "ARG TYPE NOT FIELD BUT 0"
            if field.size != 4:
                return "INVALIDIPv4"
            b = data[field.offset:field.offset + 4]
            if spec[2:3] in ("h", "l"):
                b = b[::-1]
            return ".".join(("%03d" if i == "i" else "%d") % x for x in b)
        if kind == "6":
            if field is None:
                return "ARG TYPE NOT FIELD BUT 0"
            if field.size != 16:
                return "INVALIDIPv6"
            b = data[field.offset:field.offset + 16]
            if i == "I" and spec[2:3] == "c":
                return _ip6_compressed(b)
            return (":" if i == "I" else "").join("%02x%02x" % (b[j], b[j + 1]) for j in range(0, 16, 2))
        if kind == "S":
            return self._ipsa(spec, arg, data)
        return "%" + "p" + i

    def _ipsa(self, spec: str, arg: Arg, data: bytes) -> str:
        """``print_ipsa_arg``: a sockaddr (``__get_sockaddr`` or a field): AF_INET / AF_INET6."""
        have_p = "p" in spec[2:]
        if arg.kind == "dynarray":
            offset, length = self._dyn(arg.v["field"], data)
            buf = data[offset:offset + length]
        else:
            field = self._field_of(arg)
            if field is None:
                return "ARG TYPE NOT FIELD BUT 0"
            buf = data[field.offset:field.offset + field.size]
        if len(buf) < 2:
            return "INVALIDIPv4"
        family = struct.unpack_from("<H", buf)[0]
        if family == 2:  # AF_INET
            if len(buf) < 16:
                return "INVALIDIPv4"
            out = ".".join("%d" % x for x in buf[4:8])
            return out + (":%d" % struct.unpack_from(">H", buf, 2)[0] if have_p else "")
        if family == 10:  # AF_INET6
            if len(buf) < 28:
                return "INVALIDIPv6"
            addr = buf[8:24]
            text = _ip6_compressed(addr) if "c" in spec[2:] else ":".join(
                "%02x%02x" % (addr[j], addr[j + 1]) for j in range(0, 16, 2))
            if have_p:
                return "[" + text + "]:%d" % struct.unpack_from(">H", buf, 2)[0]
            return text
        return ""

    def _uuid(self, spec: str, arg: Arg, data: bytes) -> str:
        """``print_uuid_arg``: 16 bytes as 8-4-4-4-12 hex (``%pUl``/``%pUL``: the first three groups
        little-endian; capitals for ``L``/``B``)."""
        field = self._field_of(arg)
        if field is None:
            return "ARG TYPE NOT FIELD BUT 0"
        if field.size != 16:
            return "INVALIDUUID"
        b = data[field.offset:field.offset + 16]
        index = (3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15) if spec[1:2] in ("L", "l") else range(16)
        fmt = "%02X" if spec[1:2] in ("L", "B") else "%02x"
        out = ""
        for n, i in enumerate(index):
            out += fmt % b[i]
            if n in (3, 5, 7, 9):
                out += "-"
        return out

    def _raw_buff(self, spec: str, arg: Arg, data: bytes, width: int | None) -> str:
        """``print_raw_buff_arg``: ``%*ph`` bytes of a dynamic array, separated per the suffix."""
        sep = {"C": ":", "D": "-", "N": ""}.get(spec[1:2], " ")
        if arg.kind != "dynarray":
            return "ARG NOT DYNAMIC ARRAY"
        offset, length = self._dyn(arg.v["field"], data)
        n = width if width is not None and width >= 0 else 1
        n = min(n, length)
        return sep.join("%02x" % x for x in data[offset:offset + n])

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
                addr = _num(data, f.offset, f.size)
                return self.printk.get(addr, "%x" % addr)
            length = f.size or len(data) - f.offset
            return cformat(fmt, _cstr(data[f.offset:f.offset + length]), width)
        if k == "flags":
            return self._flags(arg, data, fmt, width)
        if k == "symbol":
            val = _to_s64(self.num(arg.v["field"], data))
            for value, name in arg.v["symbols"]:
                if val == _eval_flag(value):
                    return cformat(fmt, name, width)
            return "0x%x" % (val & MASK64)
        if k in ("hex", "hex_str"):
            buf = self._array_bytes(arg.v["field"], data)
            if buf is None:
                return ""
            n = _signed(self.num(arg.v["size"], data), 32)
            return (" " if k == "hex" else "").join("%02x" % x for x in buf[:max(n, 0)])
        if k == "int_array":
            return self._int_array(arg, data)
        if k == "string":
            f = arg.v["field"]
            if f is None:
                return ""
            offset, length = self._dyn(f, data)
            if not length:
                return ""
            return cformat(fmt, _cstr(data[offset:]), width)
        if k == "bitmask":
            return self._bitmask(arg, data, fmt, width)
        if k == "op" and arg.v["op"] == "?":
            branches = arg.v["right"]
            pick = branches.v["left"] if self.num(arg.v["left"], data) else branches.v["right"]
            return self.str_arg(pick, data, fmt, width)
        return ""

    def _flags(self, arg: Arg, data: bytes, fmt: str, width: int | None) -> str:
        val = _to_s64(self.num(arg.v["field"], data))
        delim, out, printed = arg.v["delim"], [], False
        for value, name in arg.v["flags"]:
            fval = _eval_flag(value)
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
            offset = self._dyn(field_arg.v["field"], data)[0]
            return data[offset:]
        f = self._field_of(field_arg)
        return None if f is None else data[f.offset:]

    def _int_array(self, arg: Arg, data: bytes) -> str:
        buf = self._array_bytes(arg.v["field"], data)
        if buf is None:
            return ""
        count = _signed(self.num(arg.v["count"], data), 32)
        el_size = _signed(self.num(arg.v["el_size"], data), 32)
        out, pos = [], 0
        for _ in range(max(count, 0)):
            if el_size in (1, 2, 4, 8):
                out.append("%d" % _num(buf, pos, el_size))
            else:
                out.append("BAD SIZE:%d 0x%x" % (el_size, buf[pos] if pos < len(buf) else 0))
                el_size = 1
            pos += el_size
        return " ".join(out)

    def _bitmask(self, arg: Arg, data: bytes, fmt: str, width: int | None) -> str:
        f = arg.v["field"]
        if f is None:
            return ""
        offset, size = self._dyn(f, data)
        buf = data[offset:offset + size]
        words = []
        for i in range(0, size, 4):  # 32-bit groups, most significant first, comma-separated
            words.append("".join("%02x" % buf[j] for j in reversed(range(i, min(i + 4, size)))))
        return cformat(fmt, ",".join(reversed(words)), width)

    # --- raw fields -------------------------------------------------------------------------------------

    def fields_text(self, data: bytes) -> str:
        """``tep_print_fields`` of perf 6.1: `` name=value`` for every non-common field."""
        return "".join(f" {f.name}=" + self.field_raw(f, data) for f in self.fields)

    def field_raw(self, f: FormatField, data: bytes) -> str:
        """``print_field_raw``."""
        if f.flags & IS_ARRAY:
            if f.flags & IS_DYNAMIC:
                offset, length = self._dyn(f, data)
            else:
                offset, length = f.offset, f.size
            buf = data[offset:offset + length]
            if f.flags & IS_STRING and _printable(buf):
                return _cstr(data[offset:])
            f.flags &= ~IS_STRING  # (sic) libtraceevent forgets the field is a string from then on
            return "ARRAY[" + ", ".join("%02x" % b for b in buf) + "]"
        val = _num(data, f.offset, f.size)
        if f.flags & IS_POINTER:
            return "0x%x" % val
        if f.flags & IS_SIGNED:
            if f.size == 4:
                return "0x%x" % _signed(val, 32) if f.flags & IS_LONG else "%d" % _signed(val, 32)
            if f.size == 2:
                return "%2d" % _signed(val, 16)
            if f.size == 1:
                return "%1d" % _signed(val, 8)
            return "%d" % _signed(val, 64)
        return "0x%x" % val if f.flags & IS_LONG else "%d" % val


def _printable(buf: bytes) -> bool:
    """``is_printable_array``: every byte up to the first NUL is printable or a space."""
    for b in buf:
        if not b:
            break
        ch = chr(b)
        if not (0x20 <= b < 0x7F or ch in " \t\n\v\f\r"):
            return False
    return True


def _eval_type(val: int, type_: str, pointer: bool) -> int:
    """``eval_type_str``: a cast's effect on the value."""
    if len(type_) < 2:
        return val
    if pointer:
        if type_[-1] != "*":
            return val
        return _eval_type(val, type_[:-2], False)
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


def _ip6_compressed(b: bytes) -> str:
    """``print_ip6c_addr``: RFC 5952 text (the longest run of zero words as ``::``)."""
    import ipaddress
    return str(ipaddress.IPv6Address(bytes(b)))


def parse_printk_formats(text: str) -> dict[int, str]:
    """``ADDR : "fmt"`` lines: address -> the text after ``": "`` (perf's ``parse_ftrace_printk``)."""
    out = {}
    for line in text.split("\n"):
        addr, sep, fmt = line.partition(":")
        if not sep:
            continue
        try:
            out[int(addr.strip(), 16)] = fmt[1:]
        except ValueError:
            continue
    return out


_NEWER_HELPERS = ("__get_cpumask", "__get_rel_", "__get_sockaddr", "sizeof")


def library_differs(text: str) -> bool:
    """Whether libtraceevent 1.7 prints this format's records otherwise than perf 6.1's copy: a ``%zu``-style
    conversion (an int there, a long in 1.7), a tab in the format string (perf's tokenizer takes any byte
    up to the quote, 1.7 stops), or a helper perf's copy does not know (1.7 prints it, perf prints
    ``[FAILED TO PARSE]`` and the fields)."""
    line = text[text.find("print fmt:"):]
    if any(h in line for h in _NEWER_HELPERS):
        return True
    fmt = line.split('"', 2)[1] if line.count('"') >= 2 else ""
    if "\t" in line or any(not ch.isprintable() and ch != "\n" for ch in fmt):
        return True
    pos = fmt.find("%")
    while pos >= 0:
        end = pos + 1
        while end < len(fmt) and fmt[end] in "-+ #0123456789.*hlLzZjt":
            end += 1
        if "z" in fmt[pos + 1:end] or "Z" in fmt[pos + 1:end]:
            return True
        pos = fmt.find("%", end + 1 if end < len(fmt) and fmt[end] == "%" else end)
    return False
