"""Hypothesis-driven bad input for the CFI compiler and the unwinder: damaged .eh_frame bytes compile to a
table or an empty one (never a traceback: a report must not die on one broken DSO), and any stack with any
rules ends within ``max_frames`` with a stop reason."""
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyperf_probe.callchain.cfa_program import NUM_REGS
from pyperf_probe.callchain.cfi_table import CfiTable, compile_table, safe_compile
from pyperf_probe.callchain.unwind import unwind_with_reason

from test_cfi import EH_FRAME, eh_section


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_eh_frame_never_raises(data):
    raw = bytearray(EH_FRAME)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    table = safe_compile(lambda: compile_table(eh_section(bytes(raw[:cut])), []))
    assert isinstance(table, CfiTable)
    for svma in (0, 0x1000, 0x1003, 0x103F, 0x1040):
        assert len(table.row_for(svma)) == 11


@given(st.binary(max_size=200))
def test_random_bytes_compile_or_empty(blob):
    assert isinstance(safe_compile(lambda: compile_table(eh_section(blob), [])), CfiTable)


rows = st.tuples(st.integers(0, 5), st.integers(0, 20), st.integers(-64, 64), st.integers(0, 16),
                 st.integers(0, 8), st.integers(0, 20), st.integers(-64, 64),
                 st.integers(0, 8), st.integers(0, 20), st.integers(-64, 64), st.integers(0, 1))


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, min_size=1, max_size=4), st.lists(st.integers(0, 2**64 - 1), max_size=32),
       st.integers(0, 2**64 - 1))
def test_any_rules_and_stack_terminate(rules, words, rip):
    sp = 0x7000
    stack = struct.pack(f"<{len(words)}Q", *words)

    def read_word(avma):
        off = avma - sp
        return struct.unpack_from("<Q", stack, off)[0] if 0 <= off <= len(stack) - 8 else None

    def lookup(avma):
        return rules[avma % len(rules)]

    regs = [None] * NUM_REGS
    regs[16], regs[7], regs[6] = rip, sp, sp + 16
    frames, why = unwind_with_reason(regs, read_word, lookup, max_frames=50)
    assert 1 <= len(frames) <= 50 and isinstance(why, str)


@settings(max_examples=400, deadline=None)
@given(st.lists(rows, min_size=1, max_size=4), st.lists(st.integers(0, 2**64 - 1), max_size=32),
       st.integers(0, 2**64 - 1), st.sampled_from([0x7000, 0x7004]), st.booleans())
def test_fast_paths_equal_the_general_evaluation(drawn, words, rip, sp, outside):
    """The short path for common rows and the in-place stack reads give what the general rule evaluation
    with an injected ``read_word`` gives, on any rules and stack (aligned or not, words beyond the copy
    readable or not)."""
    import pyperf_probe.callchain.unwind as unwind_mod
    rules = [tuple(r[:4]) + ((r[4] % 2) + 1,) + r[5:10] + (r[10],) for r in drawn]  # rip at CFA+off
    rules += [(1, 7, 8 * k, 0, 2, 0, -8, 0, 0, 0, 0) for k in range(1, 3)]  # plain rsp frames
    rules += [(1, 6, 16, 0, 2, 0, -8, 2, 0, -16, 0)]  # rbp frame
    stack = struct.pack(f"<{len(words)}Q", *words)
    extra = {sp + len(stack) + 8 * i: 0x1000 + i for i in range(4)} if outside else {}

    def read_word(avma):
        off = avma - sp
        if 0 <= off <= len(stack) - 8:
            return struct.unpack_from("<Q", stack, off)[0]
        return extra.get(avma)

    def lookup(avma):
        return rules[avma % len(rules)]

    regs = [None] * NUM_REGS
    regs[16], regs[7], regs[6] = rip, sp, sp + 16
    fast = unwind_with_reason(regs, extra.get if outside else None, lookup, 50, stack, sp)
    general = unwind_mod._plan
    try:
        unwind_mod._plan = lambda row: (0, row, 0, 0)
        slow = unwind_with_reason(regs, read_word, lookup, 50)
    finally:
        unwind_mod._plan = general
    assert fast == slow
