"""C variables turned into uprobe fetch arguments, as perf's probe-finder.c does it.

* ``convert_location``: ``convert_variable_location`` - the first operation of the DWARF location valid at
  the probe address (DWARFv5 2.6) becomes ``%reg``, ``OFF(%reg)``, ``@symbol+OFF`` or an immediate.
* ``convert_fields``: ``convert_variable_fields`` - ``var->member``, ``var.member``, ``var[N]``.
* ``convert_type``: ``convert_variable_type`` - ``s32``/``x64``/``b3@2/8``/``string``.
* ``type_name``: ``die_get_typename`` for ``perf probe -V`` (``char*``, ``struct point*``, ``size_t``).

Errors carry perf's messages and the errno perf returns; the caller (probe/) adds perf's final
"  Error: Failed to add events." line.
"""
from __future__ import annotations

import errno as E
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from pyperf_probe.errors import ProbeError
from pyperf_probe.symbols.dwarf import dies as D

# tools/perf/arch/x86/util/dwarf-regs.c x86_64_regstr_tbl: DWARF register number -> fetcharg register
X86_64_REGS = ("%ax", "%dx", "%cx", "%bx", "%si", "%di", "%bp", "%sp",
               "%r8", "%r9", "%r10", "%r11", "%r12", "%r13", "%r14", "%r15")
MAX_BASIC_TYPE_BITS = 64
_QUALIFIERS = ("DW_TAG_const_type", "DW_TAG_restrict_type", "DW_TAG_volatile_type", "DW_TAG_shared_type",
               "DW_TAG_atomic_type")
_SIGNED_ENCODINGS = (0x05, 0x06, 0x0D)  # DW_ATE_signed, DW_ATE_signed_char, DW_ATE_signed_fixed
_PLAIN_CASTS = (None, "string", "ustring", "x", "s", "u")


class NoLocation(ProbeError):
    """The variable has no location at this address (perf's -ENOENT from convert_variable_location):
    with several probe sites perf fills such an argument in from the others (``fill_empty_trace_arg``)."""


def not_found_message(name: str) -> str:
    """perf's ``print_var_not_found``."""
    return (f"Failed to find the location of the '{name}' variable at this address.\n"
            " Perhaps it has been optimized out.\n"
            f" Use -V with the --range option to show '{name}' location range.")


UNSUPPORTED = "Sorry, we don't support this variable location yet."


@dataclass
class TraceArg:
    """perf's ``probe_trace_arg``: a value and the dereferences applied to it, innermost first."""
    value: str
    refs: List[int] = field(default_factory=list)
    type: Optional[str] = None

    def fetcharg(self) -> str:
        """``synthesize_probe_trace_arg`` without the name: ``+8(-24(%bp))``, ``@var+0``."""
        refs = self.refs
        value = self.value
        if value.startswith("@") and refs:
            value = f"{value}{refs[0]:+d}"
            refs = refs[1:]
        text = "".join(f"{off:+d}(" for off in reversed(refs)) + value + ")" * len(refs)
        return text


@dataclass(frozen=True)
class Field:
    """One step of ``var->a.b[2]``: ``name`` (or ``[N]`` with ``index``) and whether written with ``->``."""
    name: str
    ref: bool
    index: int = 0


_FIELD_RE = re.compile(r"(->|\.)([A-Za-z_]\w*)|\[(\d+)\]")


def parse_var_expr(expr: str) -> Tuple[str, List[Field]]:
    """``pt->weights[2]`` -> (``pt``, fields) as perf's ``parse_perf_probe_arg`` splits them."""
    m = re.match(r"[A-Za-z_]\w*", expr)
    if m is None:
        raise ProbeError(f"Failed to parse the variable expression '{expr}'.", errno=E.EINVAL)
    var, pos, fields = m.group(0), m.end(), []
    while pos < len(expr):
        m = _FIELD_RE.match(expr, pos)
        if m is None:
            raise ProbeError(f"Failed to parse the variable expression '{expr}'.", errno=E.EINVAL)
        if m.group(3) is not None:
            fields.append(Field(f"[{m.group(3)}]", False, int(m.group(3))))
        else:
            fields.append(Field(m.group(2), m.group(1) == "->"))
        pos = m.end()
    return var, fields


def convert_location(var_die, svma: int, fb_ops, sp_die, check_only: bool = False) -> Optional[TraceArg]:
    """``convert_variable_location``. ``fb_ops`` is the frame base at ``svma`` (a list of ops, the
    ``("bregx", reg, off)`` CFA tuple, or None). Raises NoLocation / ProbeError."""
    name = D.diename(var_die) or ""
    if "DW_AT_external" in var_die.attributes:
        return TraceArg("@" + name, [0])
    const = var_die.attributes.get("DW_AT_const_value")
    if const is not None:
        if isinstance(const.value, int):
            return TraceArg(f"\\{_signed(const)}")
        return _block_constant(name, const, check_only)
    ops = D.location_at(var_die, "DW_AT_location", svma)
    if ops is None:
        raise NoLocation(not_found_message(name), errno=E.EINVAL)
    if not ops:
        ops = _fuzzed_entry_location(var_die, svma, sp_die)
    if not ops:
        raise NoLocation(not_found_message(name), errno=E.ENOENT)
    return _from_op(ops[0], name, fb_ops, check_only)


def _block_constant(name: str, const, check_only: bool) -> Optional[TraceArg]:
    """A DW_AT_const_value in a block form (GCC's LTO propagates a double argument so: 8 bytes). perf lists
    the variable (-V stops before reading the value), then reads it with ``dwarf_formsdata``, which fails
    on a block and leaves perf's ``snum`` uninitialized: -D prints whatever the stack held
    (``f=\\-7429207989180078080``). pyperf refuses that argument rather than invent a number."""
    if check_only:
        return None
    raise ProbeError(f"Sorry, the constant value of '{name}' is a {const.form} block, not an integer;\n"
                     " perf 6.1 would record an undefined number for it.", errno=E.EINVAL)


def _signed(const) -> int:
    value = const.value
    if const.form in ("DW_FORM_data1", "DW_FORM_data2", "DW_FORM_data4", "DW_FORM_data8"):
        bits = {"DW_FORM_data1": 8, "DW_FORM_data2": 16, "DW_FORM_data4": 32, "DW_FORM_data8": 64}[const.form]
        if value >= 1 << (bits - 1):
            value -= 1 << bits
    return value


def _fuzzed_entry_location(var_die, svma: int, sp_die) -> list:
    """A parameter without location at the function entry: perf looks for the first address after it
    that has one (the entry may be fuzzed by an mcount/fentry call)."""
    entry = D.entrypc(sp_die)
    if entry is None or svma != entry or var_die.tag != "DW_TAG_formal_parameter":
        return []
    high = D.highpc(sp_die)
    if high is None:
        return []
    value = var_die.attributes["DW_AT_location"]
    best = None
    for low, end, expr in D.location_list(var_die, value):
        first = max(low, svma + 1)
        if first < end and first <= high and (best is None or first < best[0]):
            best = (first, expr)
    return D.parse_expr(var_die.cu, best[1]) if best else []


def _from_op(op, name: str, fb_ops, check_only: bool) -> Optional[TraceArg]:
    opname, args = op.op_name, op.args
    if opname == "DW_OP_addr":
        return TraceArg("@" + name, [0])
    offs, is_ref = 0, False
    if opname == "DW_OP_fbreg":
        if fb_ops is None:
            raise ProbeError(UNSUPPORTED, errno=E.ENOTSUP)
        is_ref, offs = True, args[0]
        if isinstance(fb_ops, tuple):
            regn, offs = fb_ops[1], offs + fb_ops[2]
            return _register_arg(regn, offs, True, check_only)
        opname, args = fb_ops[0].op_name, fb_ops[0].args
    if opname.startswith("DW_OP_breg") and opname != "DW_OP_bregx":
        regn, offs, is_ref = int(opname[10:]), offs + args[0], True
    elif opname.startswith("DW_OP_reg") and opname != "DW_OP_regx":
        regn = int(opname[9:])
    elif opname == "DW_OP_bregx":
        regn, offs, is_ref = args[0], offs + args[1], True
    elif opname == "DW_OP_regx":
        regn = args[0]
    else:
        raise ProbeError(UNSUPPORTED, errno=E.ENOTSUP)
    return _register_arg(regn, offs, is_ref, check_only)


def _register_arg(regn: int, offs: int, is_ref: bool, check_only: bool) -> Optional[TraceArg]:
    if check_only:
        return None
    if regn >= len(X86_64_REGS):
        raise ProbeError(f"Mapping for the register number {regn} missing on this architecture.\n"
                         + UNSUPPORTED, errno=E.ENOTSUP)
    return TraceArg(X86_64_REGS[regn], [offs] if is_ref else [])


def real_type(die, skip_typedef: bool = True):
    """``die_get_real_type`` (qualifiers and typedefs skipped) or ``__die_get_real_type`` (qualifiers only)."""
    cur = die
    while True:
        cur = D.ref(cur, "DW_AT_type") if "DW_AT_type" in cur.attributes else _integrated_type(cur)
        if cur is None:
            return None
        if cur.tag in _QUALIFIERS or (skip_typedef and cur.tag == "DW_TAG_typedef"):
            continue
        return cur


def _integrated_type(die):
    for via in ("DW_AT_abstract_origin", "DW_AT_specification"):
        if via in die.attributes:
            origin = die.get_DIE_from_attribute(via)
            return D.ref(origin, "DW_AT_type") if "DW_AT_type" in origin.attributes else _integrated_type(origin)
    return None


def byte_size(die) -> int:
    """``dwarf_bytesize``: DW_AT_byte_size, else DW_AT_bit_size rounded up, else -1."""
    value = D.attr_integrate(die, "DW_AT_byte_size")
    if value is not None:
        return value.value
    bits = D.attr_integrate(die, "DW_AT_bit_size")
    return (bits.value + 7) // 8 if bits is not None else -1


def convert_type(var_die, arg: TraceArg, cast: Optional[str], warn=None) -> None:
    """``convert_variable_type``: sets ``arg.type`` (and adds the dereference a ``string`` cast needs).
    ``warn`` receives perf's "X exceeds max-bitwidth. Cut down to 64 bits." note."""
    name = D.diename(var_die) or ""
    if cast not in _PLAIN_CASTS:
        arg.type = cast
        return
    bits = D.attr_integrate(var_die, "DW_AT_bit_size")
    if bits is not None and bits.value > 0:
        arg.type = _bitfield_type(var_die, bits.value)
        return
    typ = real_type(var_die)
    if typ is None:
        raise ProbeError(f"Failed to get a type information of {name}.", errno=E.ENOENT)
    if cast in ("string", "ustring"):
        _string_cast(var_die, typ, arg, cast)
        return
    if cast in ("u", "s", "x"):
        prefix = cast
    else:
        enc = D.attr_integrate(typ, "DW_AT_encoding")
        prefix = "s" if enc is not None and enc.value in _SIGNED_ENCODINGS else "x"
    size = byte_size(typ)
    if size <= 0:
        return
    if size * 8 > MAX_BASIC_TYPE_BITS and warn is not None:
        warn(f"{D.diename(typ)} exceeds max-bitwidth. Cut down to {MAX_BASIC_TYPE_BITS} bits.\n")
    arg.type = f"{prefix}{min(size * 8, MAX_BASIC_TYPE_BITS)}"


def _bitfield_type(var_die, bits: int) -> str:
    offset = D.attr_integrate(var_die, "DW_AT_bit_offset")
    total = byte_size(var_die)
    if offset is None or total < 0:
        raise ProbeError("", errno=E.ENOENT)
    return f"b{bits}@{offset.value}/{total * 8}"


def _string_cast(var_die, typ, arg: TraceArg, cast: str) -> None:
    name = D.diename(var_die) or ""
    if typ.tag not in ("DW_TAG_pointer_type", "DW_TAG_array_type"):
        raise ProbeError(f"Failed to cast into string: {name}({D.diename(typ)}) is not a pointer nor array.",
                         errno=E.EINVAL)
    elem = real_type(typ)
    if elem is None:
        raise ProbeError("Failed to get a type information.", errno=E.ENOENT)
    if typ.tag == "DW_TAG_pointer_type":
        arg.refs.append(0)
    if D.diename(elem) not in ("char", "unsigned char"):
        raise ProbeError(f"Failed to cast into string: {name} is not (unsigned) char *.", errno=E.EINVAL)
    arg.type = cast


def find_member(struct_die, name: str):
    """``die_find_member``: a member by name, looking into unnamed struct/union members."""
    for child in struct_die.iter_children():
        if child.tag != "DW_TAG_member":
            continue
        child_name = D.diename(child)
        if child_name == name:
            return child
        if child_name is None:
            inner = D.ref(child, "DW_AT_type")
            if inner is not None and find_member(inner, name) is not None:
                return child
    return None


def member_offset(member, name: str) -> int:
    """``die_get_data_member_location``: a constant or a lone DW_OP_plus_uconst."""
    value = member.attributes.get("DW_AT_data_member_location")
    if value is None:
        raise ProbeError(f"Failed to get the offset of {name}.", errno=E.ENOENT)
    if isinstance(value.value, int):
        return value.value
    ops = D.parse_expr(member.cu, value.value)
    if len(ops) != 1 or ops[0].op_name != "DW_OP_plus_uconst":
        raise ProbeError(f"Failed to get the offset of {name}.", errno=E.ENOTSUP)
    return ops[0].args[0]


def convert_fields(var_die, varname: str, fields: List[Field], arg: TraceArg):
    """``convert_variable_fields``: follow ``->``, ``.`` and ``[N]`` from ``var_die``, adding dereferences
    to ``arg``; returns the DIE whose type the result has (a member, or the array/pointer type)."""
    die = var_die
    for i, fld in enumerate(fields):
        die = _one_field(die, varname if i == 0 else fields[i - 1].name, fld, arg, named=i == 0)
    return die


def _one_field(die, varname: str, fld: Field, arg: TraceArg, named: bool):
    typ = real_type(die)
    if typ is None:
        raise ProbeError(f"Failed to get the type of {varname}.", errno=E.ENOENT)
    tag = typ.tag
    if fld.name.startswith("[") and tag in ("DW_TAG_array_type", "DW_TAG_pointer_type"):
        elem = real_type(typ)
        if elem is None:
            raise ProbeError(f"Failed to get the type of {varname}.", errno=E.ENOENT)
        if tag == "DW_TAG_pointer_type" or not arg.refs:
            arg.refs.append(0)
        arg.refs[-1] += byte_size(elem) * fld.index
        return typ
    if tag == "DW_TAG_pointer_type":
        if not fld.ref:
            raise ProbeError(f"Semantic error: {fld.name} must be referred by '->'", errno=E.EINVAL)
        typ = real_type(typ)
        if typ is None:
            raise ProbeError(f"Failed to get the type of {varname}.", errno=E.ENOENT)
        _require_struct(typ, varname)
        arg.refs.append(0)
    else:
        _require_struct(typ, varname)
        if fld.name.startswith("["):
            raise ProbeError(f"Semantic error: {varname} is not a pointer nor array.", errno=E.EINVAL)
        if fld.ref and D.diename(die) is not None:
            raise ProbeError(f"Semantic error: {fld.name} must be referred by '.'", errno=E.EINVAL)
        if not arg.refs:
            raise ProbeError("Structure on a register is not supported yet.", errno=E.ENOTSUP)
    return _member(typ, varname, fld, arg)


def _require_struct(typ, varname: str) -> None:
    if typ.tag not in ("DW_TAG_structure_type", "DW_TAG_union_type"):
        raise ProbeError(f"{varname} is not a data structure nor a union.", errno=E.EINVAL)


def _member(typ, varname: str, fld: Field, arg: TraceArg):
    member = find_member(typ, fld.name)
    if member is None:
        raise ProbeError(f"{varname}(type:{D.diename(typ)}) has no member {fld.name}.", errno=E.EINVAL)
    offset = 0 if typ.tag == "DW_TAG_union_type" else member_offset(member, fld.name)
    arg.refs[-1] += offset
    if D.diename(member) is None:
        # an unnamed struct/union member: look for the field again inside it (perf recurses the same way)
        return _member(real_type(member), varname, fld, arg)
    return member


def type_name(var_die) -> Optional[str]:
    """``die_get_typename`` of perf 6.1: typedef names kept, ``*`` per pointer or array level,
    ``struct``/``union``/``enum`` prefixes, ``(function_type)`` for function pointers; None when unknown
    (a ``void*`` too: 6.1 predates perf's "void*" fix and shows ``(unknown_type)``)."""
    typ = real_type(var_die, skip_typedef=False)
    if typ is None:
        return None
    tag = typ.tag
    if tag == "DW_TAG_subroutine_type":
        return "(function_type)"
    if tag in ("DW_TAG_array_type", "DW_TAG_pointer_type"):
        inner = type_name(typ)
        return None if inner is None else inner + "*"
    name = D.diename(typ)
    if name is None:
        return None
    prefix = {"DW_TAG_union_type": "union ", "DW_TAG_structure_type": "struct ",
              "DW_TAG_enumeration_type": "enum "}.get(tag, "")
    return prefix + name


def var_line(var_die) -> str:
    """``die_get_varname``: "type<TAB>name" as ``perf probe -V`` lists it, ``(unknown_type)`` when the
    type has no name."""
    typ = type_name(var_die)
    if typ is None:
        typ = "(unknown_type)"
    name = D.diename(var_die)
    return f"{typ}\t{'(null)' if name is None else name}"


def range_status(var_die, svma: int, fb_ops, sp_die) -> Optional[str]:
    """``convert_variable_location`` without a result, under ``--range``: "VAL" when the variable has a
    location at ``svma``, "INV" for a local variable that only gets one later in the function (perf's
    -ERANGE), None when perf does not list it."""
    if "DW_AT_external" in var_die.attributes or "DW_AT_const_value" in var_die.attributes:
        return "VAL"
    ops = D.location_at(var_die, "DW_AT_location", svma)
    if ops is None:
        return None
    status = "VAL"
    if not ops:
        entry = D.entrypc(sp_die)
        if entry is None:
            return None
        if var_die.tag == "DW_TAG_variable":
            status = "INV"
        elif svma != entry or var_die.tag != "DW_TAG_formal_parameter":
            return None
        high = D.highpc(sp_die)
        ops = _first_location_after(var_die, svma, high) if high is not None else []
        if not ops:
            return None
    try:
        _from_op(ops[0], "", fb_ops, check_only=True)
    except ProbeError:
        return None
    return status


def _first_location_after(var_die, svma: int, high: int) -> list:
    """The expression valid at the first address in (svma, high] that has one (perf's byte-by-byte walk)."""
    best = None
    for low, end, expr in D.location_list(var_die, var_die.attributes["DW_AT_location"]):
        first = max(low, svma + 1)
        if first < end and first <= high and (best is None or first < best[0]):
            best = (first, expr)
    return D.parse_expr(var_die.cu, best[1]) if best else []


_U64_MASK = (1 << 64) - 1


def var_range_text(sp_die, var_die) -> Optional[str]:
    """perf's ``die_get_var_range``: ``@<func+[start-end,...]>`` relative to the function's entry (as
    unsigned 64-bit numbers), from the location list, or from the enclosing scope's ranges for a single
    location (``die_get_var_innermost_scope``); None when perf drops the variable."""
    entry = D.die_entrypc(sp_die)
    name = D.diename(sp_die)
    value = var_die.attributes.get("DW_AT_location")
    if entry is None or name is None or value is None:
        return None
    if value.form in ("DW_FORM_exprloc",) or value.form.startswith("DW_FORM_block"):
        parent = var_die.get_parent()
        spans = D.ranges(parent) if parent is not None else []
    else:
        spans = [(low, end) for low, end, _expr in D.location_list(var_die, value)]
    if not spans:
        return ""
    parts = ",".join(f"{(low - entry) & _U64_MASK}-{(end - entry) & _U64_MASK}" for low, end in spans)
    return f"@<{name}+[{parts}]>"
