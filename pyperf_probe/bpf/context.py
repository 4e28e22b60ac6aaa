"""What the names of an expression mean at a probe: where each value is when the program runs.

A BPF program's context is a described record (the seed's point), and each name is a load from it:

* a tracepoint's program gets the raw record, whose layout ``events/GROUP/NAME/format`` gives
  (:class:`TracepointContext`: ``args->count`` is ``*(u64 *)(ctx + 32)`` for ``syscalls:sys_enter_write``);
* a uprobe's program gets the user registers, ``struct pt_regs`` (:data:`PT_REGS`), and a function's parameters
  are in the registers the x86-64 System V ABI assigns them (:class:`FunctionContext`: the n-th integer or
  pointer parameter in rdi, rsi, rdx, rcx, r8, r9, then on the stack above the return address);
* an SDT marker's arguments are the operands its note names (``-4@%edi``, ``8@-16(%rbp)``, ``4@$5``):
  :class:`SdtContext`.

Each context turns a name into a leaf of the typed tree (bpf/typed.py) or raises ExprError at its position.
"""
from __future__ import annotations

import re

from pyperf_probe.bpf import ctype as C
from pyperf_probe.bpf.expr import ExprError

# arch/x86/include/uapi/asm/ptrace.h, struct pt_regs (x86-64): one unsigned long per register, in this order
PT_REGS = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
           "orig_ax", "ip", "cs", "flags", "sp", "ss")


def pt_regs_offset(reg: str) -> int:
    """Offset of a register's slot in ``struct pt_regs``."""
    return 8 * PT_REGS.index(reg)


# System V x86-64 ABI 3.2.3: INTEGER class arguments in rdi, rsi, rdx, rcx, r8, r9; the result in rax
ARG_REGS = ("di", "si", "dx", "cx", "r8", "r9")
RETURN_REG = "ax"


class Leaf:
    """Constructors of the typed tree's leaves (so contexts need not import typed.py's internals)."""

    @staticmethod
    def make(op: str, ctype: C.CType, value=None, node=None, kids=()):
        from pyperf_probe.bpf.typed import TNode
        pos, end = (node.pos, node.end) if node is not None else (0, 0)
        return TNode(op, ctype, tuple(kids), value, pos, end)


class Context:
    """Names common to every probe; subclasses add theirs. ``read`` is how pointers are read ('user' for
    user-space probes, 'any' where an address may be either: the kernel's compat helpers decide by the
    address)."""

    read = "user"
    kind = "p"

    def name(self, node):
        raise ExprError(f"unknown name '{node.value}'", node.pos, node.end - node.pos)

    def field(self, node):
        raise ExprError("args->FIELD names a tracepoint's field: this probe is not a tracepoint (t:)",
                        node.pos, node.end - node.pos)

    def entry(self, node):
        raise ExprError("$entry(...) is for return probes (r:)", node.pos, node.end - node.pos)

    def retval(self, node):
        raise ExprError("$retval is for return probes (r:)", node.pos, node.end - node.pos)

    def latency(self, node):
        raise ExprError("$latency is for return probes (r:)", node.pos, node.end - node.pos)


def parse_signature(signature: str) -> list:
    """bcc's ``_parse_signature``: ``size_t size, const char *name`` -> [(name, CType)], the type being what
    comes before the last '*' or blank."""
    params = []
    for param in (p.strip() for p in signature.split(",")):
        if not param:
            continue
        index = param.rfind("*")
        index = index if index != -1 else param.rfind(" ")
        type_text, name = param[:index + 1].strip(), param[index + 1:].strip()
        ctype = C.parse_type(type_text) if type_text else None
        if ctype is None or not re.fullmatch(r"[A-Za-z_]\w*", name or ""):
            raise ValueError(f"cannot read the parameter '{param}' (a C type and a name: 'size_t size', "
                             "'const char *path')")
        if ctype.size == 0:
            raise ValueError(f"parameter '{param}': {ctype} is passed in memory, not in a register")
        params.append((name, ctype))
    return params


class FunctionContext(Context):
    """A uprobe at a function's entry (``p:``) or return (``r:``): parameters from the signature, in the
    ABI's registers at entry. A return probe reads them through ``$entry(name)``: the entry program saves
    them (``saved``: the names, in slot order; slot 0 is the entry time when ``$latency`` is used)."""

    def __init__(self, params: list, retprobe: bool, *, at_entry_of_return: bool = False):
        self.params = dict(params)
        self.order = [name for name, _ in params]
        self.retprobe = retprobe
        self.kind = "r" if retprobe else "p"
        self.saved: list = []           # "__latency" or a parameter name, per slot of the entry program's record

    def param_leaf(self, name: str, node=None):
        """The parameter's value at the function's entry."""
        ctype = self.params[name]
        index = self.order.index(name)
        if index < len(ARG_REGS):
            return Leaf.make("reg", ctype, pt_regs_offset(ARG_REGS[index]), node)
        # on the stack: above the return address, 8 bytes each (ABI 3.2.3, "Passing")
        slot = 8 * (index - len(ARG_REGS) + 1)
        sp = Leaf.make("reg", C.ULONG, pt_regs_offset("sp"), node)
        addr = Leaf.make("arith", C.pointer_to(ctype), ("+", C.ULONG), node,
                         (sp, Leaf.make("const", C.ULONG, slot, node)))
        return Leaf.make("deref", ctype, "user", node, (addr,))

    def name(self, node):
        if node.value not in self.params:
            return super().name(node)
        if self.retprobe:
            raise ExprError(f"'{node.value}' is a parameter: at the return, read it as $entry({node.value})",
                            node.pos, node.end - node.pos)
        return self.param_leaf(node.value, node)

    def _slot(self, what: str) -> int:
        if what not in self.saved:
            self.saved.append(what)
        return self.saved.index(what)

    def entry(self, node):
        if not self.retprobe:
            return super().entry(node)
        if node.value not in self.params:
            raise ExprError(f"$entry({node.value}): no such param", node.pos, node.end - node.pos)
        return Leaf.make("saved", self.params[node.value], self._slot(node.value), node)

    def retval(self, node):
        if not self.retprobe:
            return super().retval(node)
        # bcc's PT_REGS_RC(ctx): the unsigned long in ax
        return Leaf.make("reg", C.ULONG, pt_regs_offset(RETURN_REG), node)

    def latency(self, node):
        if not self.retprobe:
            return super().latency(node)
        start = Leaf.make("saved", C.ULLONG, self._slot("__latency"), node)
        now = Leaf.make("ktime", C.ULLONG, None, node)
        return Leaf.make("arith", C.ULLONG, ("-", C.ULLONG), node, (now, start))

    def entry_leaves(self) -> list:
        """What the entry program stores, slot by slot (8 bytes each)."""
        out = []
        for what in self.saved:
            if what == "__latency":
                out.append(Leaf.make("ktime", C.ULLONG))
            else:
                out.append(self.param_leaf(what))
        return out


class TracepointContext(Context):
    """A tracepoint: ``args->field`` at the offset its format gives (the fields as libtraceevent parses them,
    traceevent/printfmt.py ``FormatField``)."""

    read = "any"
    kind = "t"

    def __init__(self, fields: list):
        self.fields = {f.name: f for f in fields}

    def field(self, node):
        from pyperf_probe.traceevent import printfmt as P
        f = self.fields.get(node.value)
        if f is None:
            known = ", ".join(n for n in self.fields if not n.startswith("common_"))
            raise ExprError(f"no field '{node.value}' in this tracepoint's format (it has: {known})",
                            node.pos, node.end - node.pos)
        if f.offset < 8:
            # tp_prog_is_valid_access (kernel/trace/bpf_trace.c): the common header is not the program's
            raise ExprError(f"args->{f.name} is in the record's common header, which BPF programs cannot read: "
                            "use $PID, $TID or $COMM", node.pos, node.end - node.pos)
        if f.flags & P.IS_DYNAMIC:
            if f.flags & P.IS_STRING:
                return Leaf.make("dataloc", C.array_of(C.CHAR, 0)._replace(name="__data_loc char[]"),
                                 f.offset, node)
            raise ExprError(f"args->{f.name} is a dynamic array ({f.type}): only strings are supported",
                            node.pos, node.end - node.pos)
        if f.flags & P.IS_ARRAY:
            if f.flags & P.IS_STRING:
                return Leaf.make("ctxstr", C.array_of(C.CHAR, f.size), (f.offset, f.size), node)
            raise ExprError(f"args->{f.name} is an array ({f.type}): only char arrays are supported",
                            node.pos, node.end - node.pos)
        if f.size not in (1, 2, 4, 8):
            raise ExprError(f"args->{f.name} has {f.size} bytes: not an integer", node.pos, node.end - node.pos)
        return Leaf.make("ctx", field_type(f), (f.offset, f.size), node)


def field_type(f) -> C.CType:
    """The C type of a scalar format field: its declared type when argdist knows it and its size agrees
    (syscall arguments are declared ``unsigned int fd`` but stored in 8 bytes), else an integer of the
    field's size and signedness; pointers keep what they point to."""
    from pyperf_probe.traceevent import printfmt as P
    declared = C.parse_type(f.type)
    if declared is not None and declared.size == f.size:
        return declared
    signed = bool(f.flags & P.IS_SIGNED)
    by_size = {1: (C.SCHAR, C.UCHAR), 2: (C.SHORT, C.USHORT), 4: (C.INT, C.UINT), 8: (C.LONG, C.ULONG)}
    return by_size[f.size][0 if signed else 1]


# --- SDT arguments ------------------------------------------------------------------------------------------

# gas x86-64 register -> (pt_regs slot, bit shift): %eax, %ax, %al are the low bits of rax, %ah bits 8-15
_GAS_REGS = {}
for _r in ("ax", "bx", "cx", "dx"):
    _GAS_REGS.update({f"r{_r}": (_r, 0), f"e{_r}": (_r, 0), _r: (_r, 0), f"{_r[0]}l": (_r, 0),
                      f"{_r[0]}h": (_r, 8)})
for _r in ("si", "di", "bp", "sp"):
    _GAS_REGS.update({f"r{_r}": (_r, 0), f"e{_r}": (_r, 0), _r: (_r, 0), f"{_r}l": (_r, 0)})
for _n in range(8, 16):
    _GAS_REGS.update({f"r{_n}{w}": (f"r{_n}", 0) for w in ("", "d", "w", "b")})
_GAS_REGS["rip"] = ("ip", 0)

_SDT_TYPES = {1: C.UCHAR, -1: C.SCHAR, 2: C.USHORT, -2: C.SHORT, 4: C.UINT, -4: C.INT, 8: C.ULLONG,
              -8: C.LLONG}
_MEM = re.compile(r"(?P<disp>[-+]?(?:0x[0-9a-fA-F]+|\d+)?)?(?P<sym>[A-Za-z_.$][\w.$@]*(?:[-+]\d+)?)?"
                  r"\((?P<base>%\w+)?(?:,(?P<index>%\w+)(?:,(?P<scale>\d+))?)?\)\Z")


class SdtContext(Context):
    """An SDT marker (``u:``): ``arg1``..``argN`` as the note's operands say (size@operand, gas syntax)."""

    kind = "u"

    def __init__(self, args: list, *, symbol_svma=None, pc_svma: int = 0):
        self.args = args
        self.symbol_svma = symbol_svma     # name -> svma, for %rip-relative operands
        self.pc_svma = pc_svma

    def name(self, node):
        m = re.fullmatch(r"arg(\d+)", node.value)
        if not m:
            return super().name(node)
        n = int(m.group(1))
        if not 1 <= n <= len(self.args):
            raise ExprError(f"{node.value}: this marker has {len(self.args)} argument(s)", node.pos,
                            node.end - node.pos)
        try:
            return self.operand(self.args[n - 1], node)
        except ValueError as exc:
            raise ExprError(f"{node.value} ({self.args[n - 1]}): {exc}", node.pos, node.end - node.pos) from None

    def _reg(self, name: str, node):
        reg, shift = _GAS_REGS.get(name.lstrip("%"), (None, 0))
        if reg is None:
            raise ValueError(f"unknown register {name}")
        leaf = Leaf.make("reg", C.ULONG, pt_regs_offset(reg), node)
        if shift:
            leaf = Leaf.make("arith", C.ULONG, (">>", C.ULONG), node, (leaf, Leaf.make("const", C.ULONG, shift)))
        return leaf

    def operand(self, spec: str, node):
        size_text, at, op = spec.rpartition("@")
        size = int(size_text) if at else 8
        ctype = _SDT_TYPES.get(size)
        if ctype is None:
            raise ValueError(f"unsupported argument size {size}")
        if op.startswith("$"):
            return Leaf.make("const", ctype, C.canon(int(op[1:], 0), ctype), node)
        if op.startswith("%"):
            return Leaf.make("cast", ctype, None, node, (self._reg(op, node),))
        m = _MEM.match(op)
        if not m:
            raise ValueError("operand not understood")
        disp = int(m.group("disp"), 0) if m.group("disp") not in (None, "", "+", "-") else 0
        addr = Leaf.make("const", C.ULONG, disp & ((1 << 64) - 1), node)
        if m.group("sym"):
            if m.group("base") != "%rip" or self.symbol_svma is None:
                raise ValueError("a symbolic operand is supported only %rip-relative")
            sym, _, plus = re.match(r"([^-+]+)(([-+]\d+)?)", m.group("sym")).group(1, 2, 3)
            svma = self.symbol_svma(sym)
            if svma is None:
                raise ValueError(f"no symbol {sym} in the binary")
            # at the marker, ip is the marker's runtime address: sym's address = ip - pc + sym's svma
            delta = (svma + int(plus or 0) + disp - self.pc_svma) & ((1 << 64) - 1)
            ip = self._reg("%rip", node)
            addr = Leaf.make("arith", C.ULONG, ("+", C.ULONG), node, (ip, Leaf.make("const", C.ULONG, delta)))
        else:
            if m.group("base"):
                addr = Leaf.make("arith", C.ULONG, ("+", C.ULONG), node, (addr, self._reg(m.group("base"), node)))
            if m.group("index"):
                scale = int(m.group("scale") or 1)
                index = Leaf.make("arith", C.ULONG, ("*", C.ULONG), node,
                                  (self._reg(m.group("index"), node), Leaf.make("const", C.ULONG, scale)))
                addr = Leaf.make("arith", C.ULONG, ("+", C.ULONG), node, (addr, index))
        return Leaf.make("deref", ctype, "user", node, (Leaf.make("cast", C.pointer_to(ctype), None, node, (addr,)),))
