"""The CFA at one address, for frame bases written as ``DW_OP_call_frame_cfa`` (GCC's default).

perf's probe-finder (``call_probe_finder``) asks libdw for the CFA rule at the probe address, first from the
``.eh_frame`` of the file that holds the DWARF (only when it is PROGBITS: a separate debug file has it as
NOBITS), then from its ``.debug_frame``. With neither, the frame base stays ``DW_OP_call_frame_cfa`` and
variables addressed through it are refused ("Sorry, we don't support this variable location yet."): that
is what perf 6.1 does for libc's debug file, and pyperf does the same.

Only probe-time questions come here (a handful of addresses per command), so pyelftools' CFI decoder is
good enough; the unwinder in callchain/ has its own compiled tables.
"""
from __future__ import annotations

from typing import Optional, Tuple

from elftools.dwarf.callframe import FDE

SHT_PROGBITS = "SHT_PROGBITS"


class CfaFinder:
    """CFA rules (register, offset) of one DWARF file, by svma."""

    def __init__(self, elffile, dwarfinfo):
        self._sources = []
        eh = elffile.get_section_by_name(".eh_frame")
        if eh is not None and eh["sh_type"] == SHT_PROGBITS and dwarfinfo.has_EH_CFI():
            self._sources.append(dwarfinfo.EH_CFI_entries)
        if dwarfinfo.has_CFI():
            self._sources.append(dwarfinfo.CFI_entries)
        self._fdes = None

    @property
    def available(self) -> bool:
        """perf's ``pf->cfi_eh != NULL || pf->cfi_dbg != NULL``."""
        return bool(self._sources)

    def _all_fdes(self):
        if self._fdes is None:
            self._fdes = [[e for e in source() if isinstance(e, FDE)] for source in self._sources]
        return self._fdes

    def cfa_at(self, svma: int) -> Optional[Tuple[int, int]]:
        """(DWARF register number, offset) with CFA = register + offset at ``svma``, or None."""
        for fdes in self._all_fdes():
            for fde in fdes:
                start = fde.header["initial_location"]
                if start <= svma < start + fde.header["address_range"]:
                    return _rule_at(fde, svma)
        return None


def _rule_at(fde, svma: int) -> Optional[Tuple[int, int]]:
    rule = None
    for row in fde.get_decoded().table:
        if row["pc"] > svma:
            break
        rule = row.get("cfa")
    if rule is None or rule.reg is None:
        return None
    return rule.reg, rule.offset
