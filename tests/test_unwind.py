"""The pure unwinder on hand-written stacks and rule rows (no files, no perf.data).

Each test lays out a stack as {avma: word} and the rules of a few "functions" as rows; ``lookup`` records
every address it is asked about, so the tests also check that callers are looked up at ``ra - 1`` and
pcs interrupted by a signal at the pc itself.
"""
import struct

from pyperf_probe.callchain.cfa_program import (CFA_DEREF_REG_OFF, CFA_NONE, CFA_PLT, CFA_REG_OFF,
                                                CFA_UNSUPPORTED, FLAG_SIGNAL, NUM_REGS, RULE_AT_REG_OFF,
                                                RULE_OFFSET, RULE_REGISTER, RULE_SAME, RULE_UNDEFINED,
                                                RULE_VAL_OFFSET)
from pyperf_probe.callchain.dwarf_unwind import perf_regs_to_dwarf, stack_reader
from pyperf_probe.callchain.unwind import (STOP_LOOP, STOP_MAX, STOP_MEMORY, STOP_NO_CFI, STOP_NO_REGS, STOP_ROOT,
                                           STOP_UNSUPPORTED, STOP_ZERO, unwind, unwind_with_reason)

# Rows: (cfa_kind, cfa_reg, cfa_off, cfa_aux, ra_kind, ra_reg, ra_off, bp_kind, bp_reg, bp_off, flags)
AT_ENTRY = (CFA_REG_OFF, 7, 8, 0, RULE_OFFSET, 0, -8, RULE_SAME, 0, 0, 0)          # cfa=rsp+8, ra at cfa-8
FRAME_32 = (CFA_REG_OFF, 7, 32, 0, RULE_OFFSET, 0, -8, RULE_SAME, 0, 0, 0)         # sub $24,%rsp
RBP_FRAME = (CFA_REG_OFF, 6, 16, 0, RULE_OFFSET, 0, -8, RULE_OFFSET, 0, -16, 0)    # push rbp; mov rsp,rbp
ROOT = (CFA_REG_OFF, 7, 8, 0, RULE_UNDEFINED, 0, 0, RULE_SAME, 0, 0, 0)           # _start: rip undefined
PLT = (CFA_PLT, 7, 8, 11, RULE_OFFSET, 0, -8, RULE_SAME, 0, 0, 0)                 # binutils .plt
# __restore_rt: cfa=*(rsp+160), rip=*(rsp+168), rbp=*(rsp+120) (glibc's sigaction.c offsets)
SIGRETURN = (CFA_DEREF_REG_OFF, 7, 160, 0, RULE_AT_REG_OFF, 7, 168, RULE_AT_REG_OFF, 7, 120, FLAG_SIGNAL)


class Code:
    """Functions as (start, end, row) ranges; records each looked-up address."""

    def __init__(self, *ranges):
        self.ranges = ranges
        self.asked = []

    def __call__(self, avma):
        self.asked.append(avma)
        for start, end, row in self.ranges:
            if start <= avma < end:
                return row
        return None


def regs(rip, rsp, rbp=None, **others):
    values = [None] * NUM_REGS
    values[16], values[7], values[6] = rip, rsp, rbp
    for number, value in others.items():
        values[int(number[1:])] = value
    return values


def memory(words):
    return words.get


def test_two_frames_to_the_root():
    # leaf at entry (0x1000) called from mid (0x2000-0x2100, frame of 32) called from _start (0x3000-)
    stack = {0x7000: 0x2051,                 # [rsp] the return address into mid
             0x7020: 0x3009}                 # mid's frame: 24 bytes of locals, then its return address
    code = Code((0x1000, 0x1100, AT_ENTRY), (0x2000, 0x2100, FRAME_32), (0x3000, 0x3010, ROOT))
    frames, why = unwind_with_reason(regs(0x1000, 0x7000), memory(stack), code)
    assert frames == [0x1000, 0x2050, 0x3008] and why == STOP_ROOT
    assert code.asked == [0x1000, 0x2050, 0x3008]  # callers are looked up at ra - 1


def test_rbp_based_frame_restores_rbp():
    stack = {0x7000: 0x2011,                 # leaf's return address
             0x7100: 0x7300,                 # mid saved the caller's rbp at cfa-16
             0x7108: 0x3009}                 # mid's return address at cfa-8 (cfa = rbp + 16 = 0x7110)
    code = Code((0x1000, 0x1100, AT_ENTRY), (0x2000, 0x2100, RBP_FRAME), (0x3000, 0x3010, ROOT))
    frames, why = unwind_with_reason(regs(0x1000, 0x7000, rbp=0x7100), memory(stack), code)
    assert frames == [0x1000, 0x2010, 0x3008] and why == STOP_ROOT


def test_plt_entry_cfa_depends_on_the_pc():
    # in a 16-byte PLT entry the push comes at byte 11 (lazy .plt): before it cfa=rsp+8, after it rsp+16
    stack = {0x7000: 0x2001, 0x7008: 0x2001}
    code = Code((0x500, 0x600, PLT), (0x2000, 0x2100, ROOT))
    assert unwind(regs(0x506, 0x7000), memory(stack), code) == [0x506, 0x2000]
    stack2 = {0x7000: 0x1234, 0x7008: 0x2001}  # at 0x50b the GOT index was pushed: ra is one word up
    assert unwind(regs(0x50B, 0x7000), memory(stack2), code) == [0x50B, 0x2000]


def test_signal_frame():
    # handler (entry) <- __restore_rt <- interrupted pc 0x4444 in worker (frame of 32) <- _start
    ucontext = 0x7008                         # rsp of __restore_rt's frame (after the handler returns)
    stack = {0x7000: 0x9001,                  # handler's return address: __restore_rt + 1 (nop before it)
             ucontext + 120: 0x1111,          # saved rbp
             ucontext + 160: 0x7800,          # saved rsp
             ucontext + 168: 0x4444,          # saved rip: the interrupted instruction
             0x7800 + 24: 0x3009}             # worker's return address (cfa = 0x7800 + 32)
    code = Code((0x1000, 0x1100, AT_ENTRY), (0x9000, 0x9010, SIGRETURN), (0x4000, 0x5000, FRAME_32),
                (0x3000, 0x3010, ROOT))
    frames, why = unwind_with_reason(regs(0x1000, 0x7000), memory(stack), code)
    assert frames == [0x1000, 0x9000, 0x4444, 0x3008] and why == STOP_ROOT
    assert code.asked == [0x1000, 0x9000, 0x4444, 0x3008]  # the interrupted pc is not decremented


def test_stops_at_an_unreadable_word():
    code = Code((0x1000, 0x1100, AT_ENTRY), (0x2000, 0x2100, FRAME_32))
    frames, why = unwind_with_reason(regs(0x1000, 0x7000), memory({0x7000: 0x2001}), code)
    assert frames == [0x1000, 0x2000] and why == STOP_MEMORY  # 0x7020 was not copied


def test_stops_without_cfi_or_map():
    stack = {0x7000: 0x8001}
    frames, why = unwind_with_reason(regs(0x1000, 0x7000), memory(stack), Code((0x1000, 0x1100, AT_ENTRY)))
    assert frames == [0x1000, 0x8000] and why == STOP_NO_CFI
    gap = Code((0x1000, 0x1100, (CFA_NONE, 0, 0, 0, RULE_UNDEFINED, 0, 0, RULE_SAME, 0, 0, 0)))
    assert unwind_with_reason(regs(0x1000, 0x7000), memory(stack), gap) == ([0x1000], STOP_NO_CFI)


def test_loop_protection():
    # a "caller" whose CFA is not above the callee's: a corrupt stack would spin forever
    stuck = (CFA_REG_OFF, 7, 0, 0, RULE_OFFSET, 0, 0, RULE_SAME, 0, 0, 0)
    frames, why = unwind_with_reason(regs(0x1000, 0x7000), memory({0x7000: 0x1001}), Code((0x1000, 0x1100, stuck)))
    assert frames == [0x1000] and why == STOP_LOOP
    # a chain that really recurses is bounded by max_frames
    stack = {0x7000 + 8 * i: 0x1001 for i in range(100)}
    frames, why = unwind_with_reason(regs(0x1000, 0x7000), memory(stack), Code((0x1000, 0x1100, AT_ENTRY)),
                                     max_frames=10)
    assert len(frames) == 10 and why == STOP_MAX


def test_zero_return_address_ends_the_chain():
    frames, why = unwind_with_reason(regs(0x1000, 0x7000), memory({0x7000: 0}), Code((0x1000, 0x1100, AT_ENTRY)))
    assert frames == [0x1000] and why == STOP_ZERO


def test_cfa_from_another_register_only_in_the_first_frame():
    # gcc's realigning prologue: cfa = r10 + 0 for a few instructions (only the sampled frame knows r10)
    drap = (CFA_REG_OFF, 10, 0, 0, RULE_OFFSET, 0, -8, RULE_SAME, 0, 0, 0)
    code = Code((0x1000, 0x1100, drap), (0x2000, 0x2100, drap))
    stack = {0x7ff8: 0x2001}
    frames, why = unwind_with_reason(regs(0x1000, 0x7000, r10=0x8000), memory(stack), code)
    assert frames == [0x1000, 0x2000] and why == STOP_UNSUPPORTED  # r10 is unknown in the caller


def test_other_register_rules():
    # ra held in a register (DW_CFA_register rip, rdx) and rbp as a value offset from the CFA
    odd = (CFA_REG_OFF, 7, 8, 0, RULE_REGISTER, 1, 0, RULE_VAL_OFFSET, 0, -64, 0)
    code = Code((0x1000, 0x1100, odd), (0x2000, 0x2100, ROOT))
    frames, why = unwind_with_reason(regs(0x1000, 0x7000, r1=0x2001), memory({}), code)
    assert frames == [0x1000, 0x2000] and why == STOP_ROOT
    bad = (CFA_UNSUPPORTED, 0, 0, 0, RULE_OFFSET, 0, -8, RULE_SAME, 0, 0, 0)
    assert unwind_with_reason(regs(0x1000, 0x7000), memory({}), Code((0x1000, 0x1100, bad)))[1] == STOP_UNSUPPORTED


def test_missing_registers():
    assert unwind_with_reason(regs(None, 0x7000), memory({}), Code()) == ([], STOP_NO_REGS)


def test_perf_regs_and_stack_reader():
    # REGS_USER for mask 0xff0fff: AX BX CX DX SI DI BP SP IP FLAGS CS SS R8..R15 (perf_regs.h order)
    values = list(range(100, 120))
    dwarf = perf_regs_to_dwarf(0xFF0FFF, values)
    assert dwarf[0] == 100 and dwarf[3] == 101 and dwarf[2] == 102 and dwarf[1] == 103  # rax rbx rcx rdx
    assert dwarf[6] == 106 and dwarf[7] == 107 and dwarf[16] == 108                     # rbp rsp rip
    assert dwarf[8] == 112 and dwarf[15] == 119                                         # r8, r15
    assert perf_regs_to_dwarf(0x1C0, [1, 2, 3])[6:8] == (1, 2) and perf_regs_to_dwarf(0x1C0, [1, 2, 3])[16] == 3
    copy = struct.pack("<3Q", 11, 22, 33)  # the stack from sp upward
    assert perf_regs_to_dwarf(0x1C0, [1, 2]) == (None,) * NUM_REGS  # fewer values than the mask: damaged
    assert perf_regs_to_dwarf(0, []) == (None,) * NUM_REGS
    read = stack_reader(0x7000, copy)
    assert read(0x7000) == 11 and read(0x7010) == 33 and read(0x7008) == 22
    assert read(0x6FF8) is None and read(0x7018) is None and read(0x7011) is None  # outside the copy


class _Sample:
    """The two fields of a perfdata Sample the session hook reads."""

    def __init__(self, regs_user, stack_user):
        self.regs_user, self.stack_user = regs_user, stack_user


class _NoMaps:
    @staticmethod
    def find(avma):
        return None


def test_session_hook_without_registers_or_for_32_bit_processes():
    from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder
    from pyperf_probe.perfdata.sample import Regs
    hook = DwarfUnwinder()
    assert hook(_Sample(None, b""), _NoMaps) == () and hook.last_stop == STOP_NO_REGS
    assert hook(_Sample(Regs(0, 0xFF0FFF, ()), b""), _NoMaps) == ()  # abi NONE: a kernel thread
    values = tuple(range(100, 120))  # IP (perf reg 8) is the 9th value
    assert hook(_Sample(Regs(1, 0xFF0FFF, values), b""), _NoMaps) == (108,) and hook.last_stop == STOP_UNSUPPORTED
    # 64-bit, no map for the ip: the ip alone, "no-cfi" (the Python loop, then C with the plan it made)
    for _ in range(2):
        assert hook(_Sample(Regs(2, 0xFF0FFF, values), b"\0" * 64), _NoMaps) == (108,)
        assert hook.last_stop == STOP_NO_CFI


# --- the C accelerator's unwind_run against this loop ------------------------------------------------------

import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

from pyperf_probe.callchain import unwind as unwind_module  # noqa: E402

_ROWS = [AT_ENTRY, FRAME_32, RBP_FRAME, ROOT, PLT, SIGRETURN,
         (CFA_REG_OFF, 7, 16, 0, RULE_OFFSET, 0, -8, RULE_OFFSET, 0, -16, 0),          # push rbp frame (rsp)
         (CFA_REG_OFF, 6, 24, 0, RULE_OFFSET, 0, -8, RULE_OFFSET, 0, -24, 0)]          # rbp + 24


@st.composite
def stacks(draw):
    """Random code (rows over 16 functions of 0x100 bytes at 0x1000..), a stack of words that are mostly
    return addresses into them or small values, and registers pointing around it."""
    rows = [draw(st.sampled_from(_ROWS + _ROWS[:3] * 3 + [None])) for _ in range(16)]
    code = Code(*[(0x1000 + 0x100 * i, 0x1100 + 0x100 * i, row) for i, row in enumerate(rows) if row])
    base = 0x7000
    nwords = draw(st.integers(0, 80))
    ret = st.integers(0x1001, 0x1fff)  # mostly return addresses into the code, so that chains go on
    word = st.one_of(ret, ret, ret, ret, st.integers(0, 0x10), st.integers(base, base + 8 * 48),
                     st.integers(0, 2**64 - 1))
    words = [draw(word) for _ in range(nwords)]
    stack = struct.pack(f"<{nwords}Q", *words)
    rsp = base + 8 * draw(st.integers(-2, 4))
    rbp = draw(st.one_of(st.none(), st.integers(base - 16, base + 8 * 48)))
    pc = draw(st.integers(0x1000, 0x1fff))
    return code, stack, base, pc, rsp, rbp, draw(st.integers(1, 64))


_C_UNWIND_RUN = unwind_module._unwind_run


@settings(max_examples=500, deadline=None)
@given(case=stacks(), read_outside=st.booleans())
def test_c_unwind_run_is_the_python_loop(case, read_outside):
    """With and without the C accelerator's unwind_run: the same frames and reason, every row kind (plans
    made once, general rows, signal frames), reads outside the copy (a reader or none), rbp unknown."""
    if _C_UNWIND_RUN is None:
        pytest.skip("the C accelerator (pyperf_probe/perfdata/_speedups.c) was not built")
    code, stack, base, pc, rsp, rbp, max_frames = case
    outside = (lambda avma: avma & 0xFFFF) if read_outside else None
    results = []
    try:
        for fast in (_C_UNWIND_RUN, None):
            unwind_module._unwind_run = fast
            results.append(unwind_with_reason(regs(pc, rsp, rbp), outside, code, max_frames, stack, base, {}))
    finally:
        unwind_module._unwind_run = _C_UNWIND_RUN
    assert results[0] == results[1]


# --- the C accelerator's unwind_sample (a whole sample, DwarfUnwinder's fast path) against this loop --------

from pyperf_probe.callchain import dwarf_unwind as dwarf_unwind_module  # noqa: E402

_C_UNWIND_SAMPLE = dwarf_unwind_module._unwind_sample
_MASK = 0xFF0FFF  # perf's x86_64 user registers (AX..R15 without the segment registers): IP is value 8


def _perf_values(pc: int, rsp: int, rbp: int | None) -> tuple[tuple[int, ...], int]:
    """REGS_USER values and the mask for these registers (others 0x5A); rbp None: BP not sampled."""
    mask = _MASK if rbp is not None else _MASK & ~(1 << 6)
    given = {6: rbp, 7: rsp, 8: pc}
    return tuple(given.get(bit, 0x5A) for bit in range(24) if mask >> bit & 1), mask


@settings(max_examples=500, deadline=None)
@given(case=stacks())
def test_c_unwind_sample_is_the_python_loop(case):
    """Once the Python loop made the plans of a sample's frames, unwind_sample gives its frames and reason
    (or None, leaving the sample to that loop, only at a frame of another row than the common ones)."""
    if _C_UNWIND_SAMPLE is None:
        pytest.skip("the C accelerator (pyperf_probe/perfdata/_speedups.c) was not built")
    code, stack, base, pc, rsp, rbp, max_frames = case
    plans: dict = {}
    frames, stop = unwind_with_reason(regs(pc, rsp, rbp), None, code, max_frames, stack[rsp - base:] if rsp >= base
                                      else b"", rsp, plans)
    values, mask = _perf_values(pc, rsp, rbp)
    ip_i, sp_i, bp_i, _needed = dwarf_unwind_module._c_indices(mask)
    got = _C_UNWIND_SAMPLE(values, ip_i, sp_i, bp_i, stack[rsp - base:] if rsp >= base else b"", plans, max_frames)
    if got is None:
        assert any(plans[f][0] == 0 for f in frames if f in plans)
    else:
        assert got == (tuple(frames), dwarf_unwind_module._C_STOPS.index(stop))


def test_c_unwind_sample_takes_the_common_chains():
    """Chains of the common rows: to the root, cut by max_frames, ended outside the copy; C takes them
    whole (the property test above would also pass if it never did)."""
    if _C_UNWIND_SAMPLE is None:
        pytest.skip("the C accelerator (pyperf_probe/perfdata/_speedups.c) was not built")
    code = Code((0x1000, 0x1100, FRAME_32), (0x1100, 0x1200, RBP_FRAME), (0x1200, 0x1300, ROOT))
    # rsp 0x7000 in the leaf (sub $24): ra at 0x7018 -> 0x1150; then cfa = rbp + 16: ra at rbp + 8 -> 0x1250
    words = [0] * 16
    words[3] = 0x1150
    words[6], words[7] = 0x7100, 0x1250  # at rbp 0x7030: the saved rbp, the return address
    stack = struct.pack("<16Q", *words)
    cases = [(0x7030, 64, (0x1010, 0x114F, 0x124F), STOP_ROOT), (0x7030, 2, (0x1010, 0x114F), STOP_MAX),
             (0x7100, 64, (0x1010, 0x114F), STOP_MEMORY)]  # rbp 0x7100: the caller's ra outside the copy
    for rbp, max_frames, frames, stop in cases:
        plans: dict = {}
        assert unwind_with_reason(regs(0x1010, 0x7000, rbp), None, code, max_frames, stack, 0x7000, plans) == \
            (list(frames), stop)
        values, mask = _perf_values(0x1010, 0x7000, rbp)
        got = _C_UNWIND_SAMPLE(values, *dwarf_unwind_module._c_indices(mask)[:3], stack, plans, max_frames)
        assert got == (frames, dwarf_unwind_module._C_STOPS.index(stop))


# --- --call-graph dwarf samples read in place --------------------------------------------------------------

@pytest.mark.parametrize("name", ["cxx", "threads"])
def test_dwarf_samples_queued_as_views_decode_as_copies(name):
    """The reader queues --call-graph dwarf samples (no RAW) as views of their chunk and their STACK_USER
    as views of the record: the records delivered are those of copies, in the same order."""
    import os
    from pyperf_probe.perfdata.reader import PerfDataFile
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "unwind", "data", f"{name}.data")
    viewed = PerfDataFile.open(path)
    assert viewed._stream._view_samples
    copied = PerfDataFile.open(path)
    copied._stream._view_samples = False
    a = [rec for batch in viewed.record_batches() for rec in batch]
    b = [rec for batch in copied.record_batches() for rec in batch]
    assert a == b and any(isinstance(getattr(r, "stack_user", None), memoryview) and
                          isinstance(r.stack_user.obj, bytes) and len(r.stack_user.obj) > 65536 for r in a)
    assert all(type(r.raw) is bytes for r in a if getattr(r, "raw", None) is not None)  # tracepoint data: bytes
