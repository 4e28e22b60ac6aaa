"""A print fmt's arguments as expression trees, as libtraceevent parses them (src/event-parse.c
``event_read_print_args``, ``process_arg``, ``process_op`` and the helpers perf 6.1's copy knows:
``__print_flags``, ``__print_symbolic``, ``__print_hex[_str]``, ``__print_array``, ``__get_str``,
``__get_bitmask``, ``__get_dynamic_array[_len]``, ``__builtin_expect``), with casts, ``?:``, ``[]`` and C's
operators at libtraceevent's priorities, rotated as it rotates them; constant sub-trees folded
(``consolidate_op_arg``, ``arg_num_eval``).

Each node is an :class:`Arg` whose ``kind`` names the ``struct tep_print_arg`` union member in use (atom,
field, op, type, flags, symbol, hex, int_array, string, bitmask, dynarray, dynarray_len).
"""
from __future__ import annotations

from pyperf_probe.traceevent.tokens import (DELIM, DQUOTE, ERROR, ITEM, NEWLINE, NONE, OP, SQUOTE, ParseError,
                                            Tokens, strtoull, to_s64)


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


class ArgParser:
    """``process_arg`` and its helpers over the print fmt's arguments."""

    def __init__(self, tok: Tokens, event):
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
            consolidate(arg)
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
            v, n = arg_eval(value), arg_eval(name)
            if v is None or n is None:
                raise ParseError("a {value, name} pair that is not constant")
            out.append((v, n))
            kind, text = self.tok.item()
            if kind != DELIM or text != ",":
                return out, (kind, text)


def _mark(field_arg: Arg, what: str) -> None:
    """``is_flag_field``/``is_symbolic_field``: nothing to keep (libtraceevent only sets a flag)."""


def arg_num_eval(arg: Arg):
    """``arg_num_eval``: the constant value of an expression of atoms, or None."""
    if arg.kind == "atom":
        return to_s64(strtoull(arg.v["atom"]))
    if arg.kind == "type":
        return arg_num_eval(arg.v["item"])
    if arg.kind != "op":
        return None
    op, left_arg, right_arg = arg.v["op"], arg.v["left"], arg.v["right"]
    if op in ("-", "+") and left_arg is not None and left_arg.kind == "null":
        left = 0
    elif op == "~":
        left = 0
    else:
        left = arg_num_eval(left_arg) if left_arg is not None else None
        if left is None:
            return None
    right = arg_num_eval(right_arg) if right_arg is not None else None
    if right is None:
        return None
    table = {"|": lambda: left | right, "||": lambda: int(bool(left or right)), "&": lambda: left & right,
             "&&": lambda: int(bool(left and right)), "<": lambda: int(left < right),
             "<<": lambda: left << right, "<=": lambda: int(left <= right), ">": lambda: int(left > right),
             ">>": lambda: left >> right, ">=": lambda: int(left >= right), "==": lambda: int(left == right),
             "!=": lambda: int(left != right), "-": lambda: left - right, "+": lambda: left + right,
             "~": lambda: ~right}
    fn = table.get(op)
    return None if fn is None else to_s64(fn())


def arg_eval(arg: Arg) -> str | None:
    """``arg_eval``: the text of a constant argument."""
    if arg.kind == "atom":
        return arg.v["atom"]
    if arg.kind == "type":
        return arg_eval(arg.v["item"])
    if arg.kind == "op":
        val = arg_num_eval(arg)
        return None if val is None else str(val)
    return None


def consolidate(arg: Arg) -> None:
    """``consolidate_op_arg``: an op on two atoms becomes one atom."""
    if arg.kind != "op":
        return
    left, right = arg.v["left"], arg.v["right"]
    if left is not None:
        consolidate(left)
    if right is not None:
        consolidate(right)
    if left is None or right is None or left.kind != "atom" or right.kind != "atom":
        return
    a, b, op = strtoull(left.v["atom"]), strtoull(right.v["atom"]), arg.v["op"]
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
    arg.become(Arg("atom", atom=str(to_s64(int(val)))))


def read_print_args(tok: Tokens, event) -> list[Arg]:
    """``event_read_print_args``: the arguments after the format string, each a tree of ``Arg``
    (``event`` finds the fields they name: ``find_field``, ``find_any_field``)."""
    parser, out = ArgParser(tok, event), []
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
                consolidate(arg)
            elif not (kind == DELIM and text == ","):
                break
        if kind == NONE:
            break
    return out  # (libtraceevent only warns about a token after the last argument)
