"""Execute an FDE's call frame instructions (DWARF 5 §6.4.2) into rows of x86_64 unwind rules.

A row says, for the code from its svma to the next row's, how to find the caller's frame:

* the CFA (canonical frame address = the caller's rsp), as ``register + offset``, ``*(register + offset)``
  (``DW_CFA_def_cfa_expression: DW_OP_bregN off; DW_OP_deref``: stack-realigning prologues and signal
  trampolines) or the PLT expression that binutils emits for ``.plt`` entries;
* the rule of the return address column (rip) and of rbp, the only registers a CFA rule depends on in
  practice (System V x86_64 ABI §3.7: rbx and r12-r15 are never a CFA base).

Rules of the other registers are decoded and dropped. The row is a plain tuple of ints (see ``ROW_FIELDS``)
so that ``cfi_table`` can deduplicate and store rows compactly, and ``unwind`` can read them without
attribute lookups.
"""
from __future__ import annotations

import functools

from ..errors import ReportError
from .cfi import Cie, Fde
from .leb128 import sleb, uleb

# DWARF register numbers of the x86_64 psABI (Figure 3.36).
REG_RBP = 6
REG_RSP = 7
REG_RIP = 16  # the return address column
NUM_REGS = 17

# CFA kinds (row field 0).
CFA_NONE = 0  # no CFI covers the address
CFA_REG_OFF = 1  # cfa = reg + off
CFA_DEREF_REG_OFF = 2  # cfa = *(reg + off)
CFA_PLT = 3  # cfa = rsp + off + (((rip & 15) >= aux) << 3)
CFA_UNSUPPORTED = 4

# Register rule kinds (rows fields 4 and 7), DWARF 5 §6.4.1 "register rules".
RULE_SAME = 0  # same value (also: no rule given, which x86_64 callee-saved registers mean)
RULE_UNDEFINED = 1
RULE_OFFSET = 2  # value = *(cfa + off)
RULE_VAL_OFFSET = 3  # value = cfa + off
RULE_AT_REG_OFF = 4  # DW_CFA_expression DW_OP_bregN off: value = *(regN + off)
RULE_VAL_REG_OFF = 5  # DW_CFA_val_expression DW_OP_bregN off: value = regN + off
RULE_REGISTER = 6  # value = regN
RULE_UNSUPPORTED = 7

FLAG_SIGNAL = 1  # the CIE has the 'S' augmentation: a signal trampoline

# (cfa_kind, cfa_reg, cfa_off, cfa_aux, ra_kind, ra_reg, ra_off, bp_kind, bp_reg, bp_off, flags)
ROW_FIELDS = 11
Row = tuple  # of ROW_FIELDS ints
NO_CFI_ROW: Row = (CFA_NONE, 0, 0, 0, RULE_UNDEFINED, 0, 0, RULE_SAME, 0, 0, 0)

# DW_OP_* used by the recognised expressions (DWARF 5 §7.7.1).
_OP_DEREF = 0x06
_OP_AND = 0x1A
_OP_PLUS = 0x22
_OP_SHL = 0x24
_OP_GE = 0x2A
_OP_LIT0 = 0x30
_OP_BREG0 = 0x70


def _breg(expr: bytes, pos: int) -> tuple[int | None, int, int]:
    """``DW_OP_bregN sleb`` at ``pos``: ``(N, offset, next_pos)``; N is None if the op is something else."""
    if pos < len(expr) and _OP_BREG0 <= expr[pos] <= _OP_BREG0 + 31:
        offset, end = sleb(expr, pos + 1)
        return expr[pos] - _OP_BREG0, offset, end
    return None, 0, pos


def cfa_expression_rule(expr: bytes) -> tuple[int, int, int, int]:
    """Recognise the CFA expressions compilers and linkers emit: ``(kind, reg, off, aux)``.

    * ``bregN off`` -> reg + off; ``bregN off; deref`` -> *(reg + off) (gcc's realigned ``main``,
      glibc's ``__restore_rt``);
    * binutils' PLT rule ``breg7 off; breg16 0; lit15; and; litK; ge; lit3; shl; plus``: each 16-byte PLT
      entry pushes once at byte K (11 for lazy ``.plt``, 10 for ``.plt.sec`` / IBT), as framehop and
      libunwind recognise it.
    Anything else is ``CFA_UNSUPPORTED`` and stops the unwinder there.
    """
    reg, off, pos = _breg(expr, 0)
    if reg is None:
        return CFA_UNSUPPORTED, 0, 0, 0
    rest = expr[pos:]
    if not rest:
        return CFA_REG_OFF, reg, off, 0
    if rest == bytes([_OP_DEREF]):
        return CFA_DEREF_REG_OFF, reg, off, 0
    reg2, off2, pos2 = _breg(expr, pos)
    tail = expr[pos2:]
    if (reg == REG_RSP and reg2 == REG_RIP and off2 == 0 and len(tail) == 7
            and tail[0] == _OP_LIT0 + 15 and tail[1] == _OP_AND and _OP_LIT0 <= tail[2] <= _OP_LIT0 + 31
            and tail[3:] == bytes([_OP_GE, _OP_LIT0 + 3, _OP_SHL, _OP_PLUS])):
        return CFA_PLT, REG_RSP, off, tail[2] - _OP_LIT0
    return CFA_UNSUPPORTED, 0, 0, 0


def reg_expression_rule(expr: bytes, is_value: bool) -> tuple[int, int, int]:
    """``DW_CFA_expression``/``DW_CFA_val_expression`` of the form ``bregN off``: ``(kind, reg, off)``."""
    reg, off, pos = _breg(expr, 0)
    if reg is None or pos != len(expr):
        return RULE_UNSUPPORTED, 0, 0
    return (RULE_VAL_REG_OFF if is_value else RULE_AT_REG_OFF), reg, off


class _State:
    """The register-rule state of DWARF 5 §6.4.2 restricted to the CFA, rip and rbp; a flat list
    ``[cfa_kind, cfa_reg, cfa_off, cfa_aux, ra_kind, ra_reg, ra_off, bp_kind, bp_reg, bp_off, flags]``."""

    __slots__ = ("row", "initial", "stack")

    def __init__(self, flags: int):
        self.row: list[int] = [CFA_UNSUPPORTED, 0, 0, 0, RULE_UNDEFINED, 0, 0, RULE_SAME, 0, 0, flags]
        self.initial: list[int] = []
        self.stack: list[list[int]] = []

    def set_reg(self, reg: int, kind: int, reg2: int, off: int) -> None:
        if reg == REG_RIP:
            self.row[4:7] = [kind, reg2, off]
        elif reg == REG_RBP:
            self.row[7:10] = [kind, reg2, off]

    def restore(self, reg: int) -> None:
        if not self.initial:  # DW_CFA_restore in a CIE's own instructions: nothing to go back to
            return
        if reg == REG_RIP:
            self.row[4:7] = self.initial[4:7]
        elif reg == REG_RBP:
            self.row[7:10] = self.initial[7:10]


def _execute(program: bytes, cie: Cie, state: _State, loc: int, rows: list[tuple[int, Row]]) -> None:
    """Run ``program`` from ``loc``, appending ``(svma, row)`` before every location advance."""
    data = program
    pos = 0
    limit = len(data)
    caf = cie.code_align
    daf = cie.data_align
    row = state.row
    while pos < limit:
        op = data[pos]
        pos += 1
        high = op & 0xC0
        if high:
            low = op & 0x3F
            if high == 0x40:  # DW_CFA_advance_loc (inlined _advance: the most frequent instruction)
                if low:
                    rows.append((loc, tuple(row)))  # type: ignore[arg-type]
                    loc += low * caf
            elif high == 0x80:  # DW_CFA_offset
                off, pos = uleb(data, pos)
                state.set_reg(low, RULE_OFFSET, 0, off * daf)
            else:  # DW_CFA_restore
                state.restore(low)
            continue
        if op == 0x0E:  # DW_CFA_def_cfa_offset
            off, pos = uleb(data, pos)
            row[2] = off
        elif op == 0x0C:  # DW_CFA_def_cfa
            reg, pos = uleb(data, pos)
            off, pos = uleb(data, pos)
            row[0:4] = [CFA_REG_OFF, reg, off, 0]
        elif op == 0x0D:  # DW_CFA_def_cfa_register
            reg, pos = uleb(data, pos)
            row[0:2] = [CFA_REG_OFF, reg]
        elif op in (0x02, 0x03, 0x04):  # DW_CFA_advance_loc1/2/4
            size = 1 << (op - 2)
            delta = int.from_bytes(data[pos:pos + size], "little")
            pos += size
            loc = _advance(rows, state, loc, delta * caf)
        elif op == 0x0A:  # DW_CFA_remember_state
            state.stack.append(row[:10])
        elif op == 0x0B:  # DW_CFA_restore_state
            if not state.stack:
                raise ReportError("DW_CFA_restore_state without remember_state")
            row[:10] = state.stack.pop()
        else:
            pos = _execute_rare(op, data, pos, state, daf)
            if op == 0x01:  # DW_CFA_set_loc: absolute address (only .debug_frame uses it)
                new_loc = int.from_bytes(data[pos - 8:pos], "little")
                loc = _advance(rows, state, loc, new_loc - loc)
    rows.append((loc, tuple(row)))  # type: ignore[arg-type]


def _advance(rows: list[tuple[int, Row]], state: _State, loc: int, delta: int) -> int:
    """Close the row valid at ``loc`` (DWARF 5 §6.4.2.1: a new row is created at loc + delta)."""
    if delta:
        rows.append((loc, tuple(state.row)))  # type: ignore[arg-type]
    return loc + delta


def _execute_rare(op: int, data: bytes, pos: int, state: _State, daf: int) -> int:
    """The less frequent instructions; returns the position after the operands."""
    row = state.row
    if op == 0x00:  # DW_CFA_nop
        return pos
    if op == 0x01:  # DW_CFA_set_loc (address_size 8)
        return pos + 8
    if op in (0x05, 0x11, 0x14, 0x15, 0x2F):  # offset_extended(_sf), val_offset(_sf), GNU_neg_offset_ext
        reg, pos = uleb(data, pos)
        if op in (0x11, 0x15):
            off, pos = sleb(data, pos)
        else:
            off, pos = uleb(data, pos)
        off = -off if op == 0x2F else off
        kind = RULE_VAL_OFFSET if op in (0x14, 0x15) else RULE_OFFSET
        state.set_reg(reg, kind, 0, off * daf)
        return pos
    if op in (0x06, 0x07, 0x08):  # restore_extended, undefined, same_value
        reg, pos = uleb(data, pos)
        if op == 0x06:
            state.restore(reg)
        else:
            state.set_reg(reg, RULE_UNDEFINED if op == 0x07 else RULE_SAME, 0, 0)
        return pos
    if op == 0x09:  # DW_CFA_register
        reg, pos = uleb(data, pos)
        reg2, pos = uleb(data, pos)
        state.set_reg(reg, RULE_REGISTER, reg2, 0)
        return pos
    if op in (0x12, 0x13):  # def_cfa_sf, def_cfa_offset_sf: factored by data_align
        if op == 0x12:
            reg, pos = uleb(data, pos)
            row[0:2] = [CFA_REG_OFF, reg]
        off, pos = sleb(data, pos)
        row[2] = off * daf
        return pos
    if op == 0x0F:  # DW_CFA_def_cfa_expression
        size, pos = uleb(data, pos)
        row[0:4] = list(cfa_expression_rule(bytes(data[pos:pos + size])))
        return pos + size
    if op in (0x10, 0x16):  # DW_CFA_expression, DW_CFA_val_expression
        reg, pos = uleb(data, pos)
        size, pos = uleb(data, pos)
        kind, reg2, off = reg_expression_rule(bytes(data[pos:pos + size]), op == 0x16)
        state.set_reg(reg, kind, reg2, off)
        return pos + size
    if op == 0x2E:  # DW_CFA_GNU_args_size
        _, pos = uleb(data, pos)
        return pos
    raise ReportError(f"unknown call frame instruction {op:#x}")


def fde_rows(fde: Fde) -> list[tuple[int, Row]]:
    """The rows of one FDE, ``(start svma, row)`` in address order; the last row runs to ``fde.end``.

    The CIE's initial instructions run first (DWARF 5 §6.4.1 item 9); DW_CFA_restore goes back to what
    they set.
    """
    cie = fde.cie
    if cie.ra_register != REG_RIP:
        raise ReportError(f"CIE return address register {cie.ra_register} is not rip")
    state = _State(0)
    state.initial = list(_initial_row(cie.instructions, cie.code_align, cie.data_align, cie.signal_frame))
    state.row = list(state.initial)
    rows: list[tuple[int, Row]] = []
    _execute(fde.instructions, cie, state, fde.start, rows)
    # Rows past the FDE's end (a stray advance) cannot be looked up; rows with the same start keep the last.
    out: list[tuple[int, Row]] = []
    for svma, row in rows:
        if svma >= fde.end:
            break
        if out and out[-1][0] == svma:
            out[-1] = (svma, row)
        elif not out or out[-1][1] != row:
            out.append((svma, row))
    return out


@functools.lru_cache(maxsize=1024)
def _initial_row(instructions: bytes, code_align: int, data_align: int, signal: bool) -> Row:
    """The rules a CIE's initial instructions set (one CIE serves thousands of FDEs)."""
    state = _State(FLAG_SIGNAL if signal else 0)
    cie = Cie(0, 1, "", code_align, data_align, REG_RIP, 0, False, signal, instructions)
    _execute(instructions, cie, state, 0, [])
    return tuple(state.row)  # type: ignore[return-value]
