"""The compiled CFI tables of real binaries against GNU readelf's interpretation (``readelf -wF``).

For every row readelf prints (every FDE, every location), the CFA rule, the return address rule and
rbp's rule of pyperf's table at that svma must say the same thing. readelf prints ``u`` for a register
it has no rule for (and for DW_CFA_undefined), ``c-16`` for "saved at CFA-16", ``exp`` for expressions.
"""
import os
import re
import shutil
import subprocess

import pytest

from pyperf_probe.callchain.cfa_program import (CFA_DEREF_REG_OFF, CFA_PLT, CFA_REG_OFF, CFA_UNSUPPORTED,
                                                RULE_AT_REG_OFF, RULE_OFFSET, RULE_REGISTER, RULE_SAME,
                                                RULE_UNDEFINED, RULE_VAL_REG_OFF)
from pyperf_probe.callchain.cfi import CfiSection
from pyperf_probe.callchain.cfi_table import compile_table
from pyperf_probe.symbols.elf import open_elf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBSTDCXX = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
WORKLOAD = os.path.join(ROOT, "build", "workloads", "uw_threads")
REG_NAMES = dict(enumerate(["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp"] + [f"r{n}" for n in range(8, 16)]))

pytestmark = pytest.mark.skipif(shutil.which("readelf") is None, reason="GNU readelf (binutils) is missing")


def readelf_rows(path):
    """{svma: {"CFA": ..., "ra": ..., "rbp": ...}} from ``readelf -wF`` (.eh_frame only)."""
    out = subprocess.run(["readelf", "-wF", path], capture_output=True, text=True).stdout  # rc 1: no .debug_frame
    out = out.split("Contents of the .debug_frame")[0]
    rows = {}
    columns = None
    in_fde = False
    for line in out.splitlines():
        if " FDE " in line or " CIE " in line:
            in_fde = " FDE " in line  # a CIE's rows are its initial rules, at no address
            columns = None
        elif line.strip().startswith("LOC"):
            columns = line.split()
        elif in_fde and columns and re.match(r"^[0-9a-f]{16} ", line):
            values = re.sub(r"(r\d+) \(\w+\)", r"\1", line).split()  # DW_CFA_register: "r3 (rbx)"
            rows[int(values[0], 16)] = dict(zip(columns[1:], values[1:]))
    return rows


def describe(row):
    """A pyperf row in readelf's words."""
    ckind, creg, coff, _aux, rkind, rreg, roff, bkind, breg, boff, _flags = row
    if ckind == CFA_REG_OFF:
        cfa = f"{REG_NAMES.get(creg, f'r{creg}')}{coff:+d}"
    elif ckind in (CFA_DEREF_REG_OFF, CFA_PLT, CFA_UNSUPPORTED):
        cfa = "exp"
    else:
        cfa = "?"

    def rule(kind, reg, off):
        if kind == RULE_OFFSET:
            return f"c{off:+d}"
        if kind in (RULE_SAME, RULE_UNDEFINED):
            return "u"
        if kind == RULE_REGISTER:
            return f"r{reg}"
        return "exp" if kind in (RULE_AT_REG_OFF, RULE_VAL_REG_OFF) else "?"

    return {"CFA": cfa, "ra": rule(rkind, rreg, roff), "rbp": rule(bkind, breg, boff)}


@pytest.mark.parametrize("path", [LIBC, LIBSTDCXX, WORKLOAD])
def test_rows_equal_readelf(path):
    if not os.path.exists(path):
        pytest.skip(f"{path} is missing (run `make workloads`)")
    image = open_elf(path)
    shdr = image.section(".eh_frame")
    table = compile_table(CfiSection(bytes(image.section_bytes(shdr)), shdr.svma, True), [])
    expected = readelf_rows(path)
    assert len(expected) > 20
    mismatches = []
    for svma, cols in expected.items():
        got = describe(table.row_for(svma))
        want = {"CFA": cols["CFA"], "ra": cols.get("ra", "u"), "rbp": cols.get("rbp", "u")}
        if got != want:
            mismatches.append((hex(svma), got, want))
    assert not mismatches[:20], f"{len(mismatches)} of {len(expected)} rows differ"
