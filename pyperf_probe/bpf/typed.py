"""The typed tree: a parsed expression with every name resolved (bpf/context.py) and C's types applied.

Each :class:`TNode` says what to compute and in which C type its value is (bpf/ctype.py); the compiler
(bpf/compiler.py) and the interpreter (bpf/interp.py) both walk it, so the kernel's and user space's results
come from one description.

Operations: ``const``; leaves ``reg`` (a ``pt_regs`` slot), ``ctx`` (a tracepoint field: offset, size),
``saved`` (a value the entry program kept), ``ktime``, ``pid``, ``tid``, ``cpu``, ``uid``, ``gid``; strings
``comm``, ``ctxstr`` (a ``char[N]`` field), ``dataloc`` (a ``__data_loc char[]`` field); ``cast``, ``neg``,
``bnot``, ``lnot``, ``arith`` ((op, operand type): ``+ - * / % & | ^ << >>``), ``cmp`` ((op, operand type)),
``land``, ``lor``, ``cond``, ``deref`` (how: 'user'/'any'), ``streq`` ((bytes, prefix only)).
"""
from __future__ import annotations

from pyperf_probe.bpf import ctype as C
from pyperf_probe.bpf.expr import ExprError, Node
from pyperf_probe.records import Record, field

STRING_OPS = ("comm", "ctxstr", "dataloc")
COMM_LEN = 16           # TASK_COMM_LEN


class TNode(Record):
    __slots__ = ()
    _fields = ("op", "ctype", "kids", "value", "pos", "end")

    def __new__(cls, op: str, ctype: C.CType, kids: tuple = (), value=None, pos: int = 0, end: int = 0):
        return tuple.__new__(cls, (op, ctype, tuple(kids), value, pos, end))

    op = field(0)
    ctype = field(1)
    kids = field(2)
    value = field(3)
    pos = field(4)
    end = field(5)

    @property
    def is_string(self) -> bool:
        return self.op in STRING_OPS

    def walk(self):
        yield self
        for kid in self.kids:
            yield from kid.walk()


def _err(node, message: str) -> ExprError:
    return ExprError(message, node.pos, max(1, node.end - node.pos))


def _make(op, ctype, node, kids=(), value=None) -> TNode:
    return TNode(op, ctype, tuple(kids), value, node.pos, node.end)


def const_type(value: int, suffix: str) -> C.CType:
    """C11 6.4.4.1: the first of the suffix's list of types that can hold the constant (decimal constants
    without 'u' skip the unsigned ones)."""
    if suffix == "char":
        return C.INT
    unsigned = "u" in suffix
    longs = suffix.count("l")
    candidates = [C.INT, C.UINT, C.LONG, C.ULONG] if not longs else [C.LONG, C.ULONG]
    if unsigned:
        candidates = [t for t in candidates if not t.signed]
    for t in candidates:
        if C.canon(value, t) == value:
            return t
    return C.ULONG


class Checker:
    def __init__(self, ctx):
        self.ctx = ctx

    def check(self, node: Node) -> TNode:
        method = getattr(self, "_" + node.kind)
        return method(node)

    def scalar(self, node: Node) -> TNode:
        """A value usable as a number (integer or pointer)."""
        t = self.check(node)
        if t.is_string:
            raise _err(node, f"{_what(t)} is a string: compare it with == \"...\" or collect it as char*")
        if t.op == "str":
            raise _err(node, "a string literal is only usable in == / != with a string, or in STRCMP")
        return t

    # -- leaves

    def _num(self, node):
        value, suffix = node.value
        t = const_type(value, suffix)
        return _make("const", t, node, value=C.canon(value, t))

    def _str(self, node):
        return _make("str", C.pointer_to(C.CHAR), node, value=node.value)

    def _name(self, node):
        return self.ctx.name(node)

    def _field(self, node):
        return self.ctx.field(node)

    def _entry(self, node):
        return self.ctx.entry(node)

    def _dollar(self, node):
        name = node.value
        if name == "$retval":
            return self.ctx.retval(node)
        if name == "$latency":
            return self.ctx.latency(node)
        if name == "$PID":        # bcc: (bpf_get_current_pid_tgid() >> 32)
            return _make("pid", C.ULLONG, node)
        if name == "$TID":
            return _make("tid", C.UINT, node)
        if name == "$COMM":
            return _make("comm", C.array_of(C.CHAR, COMM_LEN), node)
        if name in ("$cpu", "$CPU"):
            return _make("cpu", C.UINT, node)
        if name in ("$UID", "$uid"):
            return _make("uid", C.UINT, node)
        if name in ("$GID", "$gid"):
            return _make("gid", C.UINT, node)
        raise _err(node, f"unknown name '{name}' (known: $retval, $latency, $entry(param), $PID, $TID, $COMM, "
                         "$cpu, $UID, $GID)")

    def _member(self, node):
        raise ExprError(f"'->{node.value}': argdist does not know the layout of the struct behind this pointer; "
                        "read the member through a cast, *(long *)((char *)ptr + OFFSET)",
                        node.kids[0].end, node.end - node.kids[0].end)

    # -- operators

    def _unary(self, node):
        op = node.value
        x = self.scalar(node.kids[0])
        if op == "*":
            return self.deref(node, x)
        if op == "!":
            return _make("lnot", C.INT, node, (x,))
        if not x.ctype.is_integer:
            raise _err(node, f"'{op}' needs an integer operand, not {x.ctype}")
        t = C.promote(x.ctype)
        x = self.convert(x, t)
        if op == "+":
            return x
        if x.op == "const":
            return _make("const", t, node, value=C.canon(-x.value if op == "-" else ~x.value, t))
        return _make("neg" if op == "-" else "bnot", t, node, (x,))

    def deref(self, node, p: TNode) -> TNode:
        if not p.ctype.is_pointer:
            raise _err(node, f"'*' needs a pointer, not {p.ctype}")
        target = p.ctype.pointee
        if not (target.is_integer or target.is_pointer) or target.size not in (1, 2, 4, 8):
            raise _err(node, f"cannot read a {target} through a pointer (integers and pointers only)")
        how = "user" if self.ctx.read == "user" else "any"
        return _make("deref", target, node, (p,), how)

    def convert(self, t: TNode, ctype: C.CType) -> TNode:
        if t.ctype == ctype:
            return t
        if t.op == "const":
            return t._replace(ctype=ctype, value=C.canon(t.value, ctype))
        return TNode("cast", ctype, (t,), None, t.pos, t.end)

    def _binary(self, node):
        op = node.value
        if op in ("==", "!=") and any(k.kind == "str" for k in node.kids):
            return self.string_compare(node)
        a, b = self.scalar(node.kids[0]), self.scalar(node.kids[1])
        if op in ("&&", "||"):
            return _make("land" if op == "&&" else "lor", C.INT, node, (a, b))
        if op in ("<<", ">>"):
            self.need_integers(node, a, b)
            t = C.promote(a.ctype)
            return _make("arith", t, node, (self.convert(a, t), self.convert(b, C.promote(b.ctype))), (op, t))
        pa, pb = a.ctype.is_pointer, b.ctype.is_pointer
        if op in ("+", "-") and (pa or pb):
            return self.pointer_arith(node, op, a, b)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            t = C.ULONG if (pa or pb) else C.common(a.ctype, b.ctype)
            return _make("cmp", C.INT, node, (self.convert(a, t), self.convert(b, t)), (op, t))
        self.need_integers(node, a, b)
        t = C.common(a.ctype, b.ctype)
        return _make("arith", t, node, (self.convert(a, t), self.convert(b, t)), (op, t))

    def need_integers(self, node, *xs):
        for x in xs:
            if not x.ctype.is_integer:
                raise _err(node, f"'{node.value}' needs integer operands, not {x.ctype}")

    def pointer_arith(self, node, op, a, b):
        if a.ctype.is_pointer and b.ctype.is_pointer:
            if op == "+":
                raise _err(node, "cannot add two pointers")
            size = max(1, a.ctype.pointee.size)
            diff = _make("arith", C.LONG, node, (self.convert(a, C.LONG), self.convert(b, C.LONG)), ("-", C.LONG))
            return _make("arith", C.LONG, node, (diff, _make("const", C.LONG, node, value=size)), ("/", C.LONG))
        if b.ctype.is_pointer:
            if op == "-":
                raise _err(node, "cannot subtract a pointer from an integer")
            a, b = b, a
        size = max(1, a.ctype.pointee.size)          # void * and struct *: byte steps, as GNU C
        scaled = self.convert(b, C.LONG)
        if size != 1:
            scaled = _make("arith", C.LONG, node, (scaled, _make("const", C.LONG, node, value=size)), ("*", C.LONG))
        return _make("arith", a.ctype, node, (self.convert(a, C.ULONG), self.convert(scaled, C.ULONG)), (op, C.ULONG))

    def string_compare(self, node):
        lit = next(k for k in node.kids if k.kind == "str")
        other = next((k for k in node.kids if k is not lit), None)
        if other is None or other.kind == "str":
            raise _err(node, "compare a string literal with a string value")
        s = self.string_operand(other)
        eq = _make("streq", C.INT, node, (s,), (lit.value.encode(), False))
        return eq if node.value == "==" else _make("lnot", C.INT, node, (eq,))

    def string_operand(self, node: Node) -> TNode:
        t = self.check(node)
        if t.is_string or t.ctype.is_pointer or t.ctype.is_integer:
            return t
        raise _err(node, "not a string")

    def _strcmp(self, node):
        s = self.string_operand(node.kids[0])
        return _make("streq", C.INT, node, (s,), (node.value.encode(), True))

    def _cast(self, node):
        target = C.parse_type(node.value)
        if target is None:
            raise ExprError(f"unknown type '{node.value}'", node.pos + 1, len(node.value))
        x = self.scalar(node.kids[0])
        return TNode("cast", target, (x,), None, node.pos, node.end)

    def _index(self, node):
        p = self.scalar(node.kids[0])
        i = self.scalar(node.kids[1])
        if not p.ctype.is_pointer:
            raise _err(node, f"'[]' needs a pointer, not {p.ctype}")
        if not i.ctype.is_integer:
            raise _err(node.kids[1], f"an index is an integer, not {i.ctype}")
        return self.deref(node, self.pointer_arith(node, "+", p, i))

    def _cond(self, node):
        c = self.scalar(node.kids[0])
        a, b = self.scalar(node.kids[1]), self.scalar(node.kids[2])
        if a.ctype.is_pointer or b.ctype.is_pointer:
            t = a.ctype if a.ctype.is_pointer else b.ctype
        else:
            t = C.common(a.ctype, b.ctype)
        return _make("cond", t, node, (c, self.convert(a, t), self.convert(b, t)))


def _what(t: TNode) -> str:
    return {"comm": "$COMM", "dataloc": "this field", "ctxstr": "this field"}.get(t.op, "this")


def check(node: Node, ctx) -> TNode:
    """The typed tree of a parsed expression in a probe's context; ExprError where a name or an operation is
    not supported."""
    return Checker(ctx).check(node)


def check_value(node: Node, ctx, ctype: C.CType) -> TNode:
    """An expression collected as ``ctype`` (the spec's type): strings stay strings for ``char*``; numbers
    are converted as C assigns them."""
    checker = Checker(ctx)
    if ctype.is_char_pointer:
        t = checker.string_operand(node)
        return t
    t = checker.scalar(node)
    if t.ctype.is_pointer or ctype.is_pointer:
        return checker.convert(t, ctype if ctype.is_integer else C.ULONG._replace(name=ctype.name))
    return checker.convert(t, ctype)
