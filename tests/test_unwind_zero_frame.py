"""perf 6.1 ends some `--call-graph dwarf` chains with ``ffffffffffffffff [unknown]``: its libunwind reads a
word outside the stack copy through the maps (tools/perf/util/unwind-libunwind-local.c access_mem,
access_dso_mem) and gets 0 for one in ``[stack]`` or anonymous memory, a return address that perf stores as
``0 - 1`` (get_entries); the copy's last word is never read from the copy (``addr + 8 >= end``). pyperf:
callchain/dwarf_unwind.py. The texts are real perf's on the recording of tests/golden/rbreplay and on one
of 512-byte copies (tests/golden/unwind_zero/make_goldens.sh makes both), with the C unwinder and without."""
from __future__ import annotations

import lzma
import os
import struct

import pytest

import symfs_golden  # tests/symfs_golden.py

from pyperf_probe.callchain import dwarf_unwind, unwind
from pyperf_probe.callchain.dwarf_unwind import PERF_ZERO_FRAME, DwarfUnwinder, perf_copy
from pyperf_probe.callchain.unwind import STOP_MEMORY, STOP_ZERO, STOP_ZERO_SIGNAL, unwind_with_reason
from pyperf_probe.callchain.cfa_program import CFA_REG_OFF, FLAG_SIGNAL, RULE_OFFSET, RULE_SAME

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "unwind_zero")
SOURCE = os.path.join(HERE, "golden", "rbreplay")
RECORDED_AT = "/tmp/pyperf-golden-rbreplay"  # where ex_spin was recorded (the symfs holds it there)
RECORDED_512_AT = "/tmp/pyperf-golden-unwind-zero"  # the same for this directory's own recording


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """tests/golden/rbreplay's recording (2 KB copies)."""
    return symfs_golden.unpack(tmp_path_factory.mktemp("unwind_zero"), SOURCE, "spin", RECORDED_AT)


@pytest.fixture(scope="module")
def golden512(tmp_path_factory):
    """tests/golden/unwind_zero's recording (512-byte copies)."""
    return symfs_golden.unpack(tmp_path_factory.mktemp("unwind_zero512"), GOLDEN, "spin512", RECORDED_512_AT)


@pytest.fixture
def unwinder_c_or_not(monkeypatch, speedups_or_not):
    """The rest of the C paths off with conftest's python variant: the unwinder's too."""
    if speedups_or_not == "python":
        monkeypatch.setattr(dwarf_unwind, "_unwind_sample", None)
        monkeypatch.setattr(unwind, "_unwind_run", None)
    return speedups_or_not


def _run(golden, args, monkeypatch, capsys, name="spin") -> str:
    return symfs_golden.run(golden, args, monkeypatch, capsys, name, cache=True)


def test_script_equals_perf(golden, monkeypatch, capsys, utc, unwinder_c_or_not):
    with lzma.open(os.path.join(GOLDEN, "expected", "spin.script.xz"), "rt") as f:
        expected = f.read()
    assert "\tffffffffffffffff [unknown] ([unknown])\n" in expected
    assert _run(golden, ["script"], monkeypatch, capsys) == expected


def test_script_equals_perf_on_short_copies(golden512, monkeypatch, capsys, utc, unwinder_c_or_not):
    """512-byte copies: chains whose last return address read is the copy's last word, which perf reads as 0
    (so ``ffffffffffffffff``) and the copy holds: 13 of the 767 samples differ when the unwinders read that
    word from the copy; 736 differ without any of the fix (no 0 - 1 frame)."""
    with lzma.open(os.path.join(GOLDEN, "expected", "spin512.script.xz"), "rt") as f:
        expected = f.read()
    assert _run(golden512, ["script"], monkeypatch, capsys, "spin512") == expected


@pytest.mark.parametrize("name,args", symfs_golden.cases(GOLDEN))
def test_report_equals_perf(name, args, golden, monkeypatch, capsys, utc, unwinder_c_or_not):
    """perf prints the frame in graph mode and as a --children entry; flat and folded skip it (every ip at
    or above PERF_CONTEXT_MAX: hist.c __callchain__fprintf_flat / _folded)."""
    with open(os.path.join(GOLDEN, "expected", f"{name}.out")) as f:
        expected = f.read()
    out = _run(golden, ["report"] + args.split(), monkeypatch, capsys)
    assert "".join(line for line in out.splitlines(True) if not line.startswith("# (Tip:")) == expected


# --- perf's reads, on hand-made stacks -----------------------------------------------------------------

class _Map:
    def __init__(self, start, end, pgoff=0, filename="//anon", identity=True):
        self.start, self.end, self.pgoff, self.filename, self.build_id = start, end, pgoff, filename, None
        self.identity, self.dso = identity, None


def _finder(*maps):
    def find(avma):
        return next((m for m in maps if m.start <= avma < m.end), None)
    return find


def test_perf_copy_leaves_out_the_last_word():
    """A word at ``addr`` comes from the copy when ``addr + 8 < sp + size``: the last byte never does."""
    stack = memoryview(struct.pack("<4Q", 1, 2, 3, 4))
    copy = perf_copy(stack)
    assert len(copy) == 31 and isinstance(copy, memoryview) and perf_copy(b"") == b"" and perf_copy(None) == b""
    read = dwarf_unwind.stack_reader(0x7000, copy)
    assert [read(0x7000 + 8 * i) for i in range(4)] == [1, 2, 3, None]


def test_reads_outside_the_copy(tmp_path):
    """No map: the read fails; [stack] and anonymous memory: 0; a file: its word at the map's offset, 0 past
    its end; an address whose last byte would wrap: fails."""
    data = tmp_path / "table.bin"
    data.write_bytes(struct.pack("<3Q", 0x11, 0x22, 0x33))
    stack = _Map(0x7000, 0x9000, filename="[stack]")
    file_map = _Map(0x20000, 0x21000, pgoff=0x8, filename=str(data), identity=False)
    read = DwarfUnwinder()._perf_reader(_finder(stack, file_map))
    assert read(0x6000) is None and read(0x8ff8) == 0
    assert read(0x20000) == 0x22 and read(0x20008) == 0x33 and read(0x20010) == 0
    assert read((1 << 64) - 8) is None
    assert DwarfUnwinder(symfs=str(tmp_path / "nothing"))._perf_reader(_finder(file_map))(0x20000) == 0


AT_ENTRY = (CFA_REG_OFF, 7, 8, 0, RULE_OFFSET, 0, -8, RULE_SAME, 0, 0, 0)  # cfa = rsp + 8, ra at cfa - 8
SIGNAL = AT_ENTRY[:-1] + (FLAG_SIGNAL,)


def _regs(pc, rsp):
    regs = [None] * 17
    regs[16], regs[7] = pc, rsp
    return regs


def test_a_return_address_past_the_copy_in_the_stack_map_is_perfs_zero_frame():
    """The ra one word past the copy: pyperf stops there (nothing read); perf reads 0 through [stack] and
    DwarfUnwinder ends the chain with 0 - 1 (without a map the chain ends as before)."""
    lookup = {0x1000: AT_ENTRY}.get
    copy = perf_copy(struct.pack("<Q", 0x1234))  # the ra is the copy's last word: perf does not read it
    hook = DwarfUnwinder()
    for find, frames, stop in [(_finder(_Map(0x7000, 0x9000, filename="[stack]")), [0x1000, PERF_ZERO_FRAME],
                                STOP_ZERO), (_finder(), [0x1000], STOP_MEMORY)]:
        got, why = unwind_with_reason(_regs(0x1000, 0x7000), hook._perf_reader(find), lookup, 10, copy, 0x7000)
        if why == STOP_ZERO:
            got.append(PERF_ZERO_FRAME)
        assert (got, why) == (frames, stop)


def test_a_zero_pc_after_a_signal_frame_is_no_frame():
    """perf stores the interrupted pc as is (0) and get_entries skips a 0: no frame, not 0 - 1."""
    stack = struct.pack("<2Q", 0, 0)
    got = unwind_with_reason(_regs(0x1000, 0x7000), None, {0x1000: SIGNAL}.get, 10, stack, 0x7000)
    assert got == ([0x1000], STOP_ZERO_SIGNAL)
