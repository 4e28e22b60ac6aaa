"""The CFA at one address, for frame bases written as ``DW_OP_call_frame_cfa`` (GCC's default).

perf's probe-finder (``call_probe_finder``) asks libdw for the CFA rule at the probe address, first from the
``.eh_frame`` of the file that holds the DWARF (only when it is PROGBITS: a separate debug file has it as
NOBITS), then from its ``.debug_frame``. With neither, the frame base stays ``DW_OP_call_frame_cfa`` and
variables addressed through it are refused ("Sorry, we don't support this variable location yet."): that
is what perf 6.1 does for libc's debug file, and pyperf does the same.

Only probe-time questions come here (a handful of addresses per command). The FDE is found through the
binary search table of ``.eh_frame_hdr`` (LSB 5.0 "eh_frame_hdr") and only that entry is decoded by
pyelftools; without the table, every entry is decoded once. The unwinder in callchain/ has its own
compiled tables.
"""
from __future__ import annotations

import bisect
import struct
from typing import List, Optional, Tuple

from elftools.dwarf.callframe import FDE, CallFrameInfo

SHT_PROGBITS = "SHT_PROGBITS"
DW_EH_PE_DATAREL_SDATA4 = 0x3B  # the table encoding binutils and lld write


class CfaFinder:
    """CFA rules (register, offset) of one DWARF file, by svma."""

    def __init__(self, elffile, dwarfinfo):
        self._dwarfinfo = dwarfinfo
        self._eh = None
        eh = elffile.get_section_by_name(".eh_frame")
        if eh is not None and eh["sh_type"] == SHT_PROGBITS and dwarfinfo.has_EH_CFI():
            self._eh = eh
        self._hdr = elffile.get_section_by_name(".eh_frame_hdr") if self._eh is not None else None
        self._has_debug_frame = dwarfinfo.has_CFI()
        self._table: Optional[Tuple[List[int], List[int]]] = None
        self._all_fdes = None

    @property
    def available(self) -> bool:
        """perf's ``pf->cfi_eh != NULL || pf->cfi_dbg != NULL``."""
        return self._eh is not None or self._has_debug_frame

    def cfa_at(self, svma: int) -> Optional[Tuple[int, int]]:
        """(DWARF register number, offset) with CFA = register + offset at ``svma``, or None."""
        fde = self._fde_from_hdr(svma)
        if fde is None:
            fde = next((f for f in self._fdes() if _covers(f, svma)), None)
        return _rule_at(fde, svma) if fde is not None else None

    def _fde_from_hdr(self, svma: int):
        table = self._search_table()
        if not table:
            return None
        starts, fde_addrs = table
        i = bisect.bisect_right(starts, svma) - 1
        if i < 0:
            return None
        cfi = CallFrameInfo(stream=self._dwarfinfo.eh_frame_sec.stream, size=self._eh["sh_size"],
                            address=self._eh["sh_addr"], base_structs=self._dwarfinfo.structs, for_eh_frame=True)
        fde = cfi._parse_entry_at(fde_addrs[i] - self._eh["sh_addr"])  # one entry, not the section
        return fde if isinstance(fde, FDE) and _covers(fde, svma) else None

    def _search_table(self) -> Optional[Tuple[List[int], List[int]]]:
        """.eh_frame_hdr: version, eh_frame_ptr_enc, fde_count_enc, table_enc, eh_frame_ptr, fde_count,
        then sorted (initial_location, fde_address) pairs, both relative to the section (datarel sdata4)."""
        if self._table is None:
            self._table = ([], [])
            if self._hdr is not None:
                data = self._hdr.data()
                if len(data) >= 12 and data[0] == 1 and data[2] == 0x03 and data[3] == DW_EH_PE_DATAREL_SDATA4:
                    count = struct.unpack_from("<I", data, 8)[0]
                    base = self._hdr["sh_addr"]
                    pairs = struct.unpack_from(f"<{2 * count}i", data, 12)
                    self._table = ([base + v for v in pairs[0::2]], [base + v for v in pairs[1::2]])
        return self._table if self._table[0] else None

    def _fdes(self):
        if self._all_fdes is None:
            sources = []
            if self._eh is not None:
                sources.append(self._dwarfinfo.EH_CFI_entries)
            if self._has_debug_frame:
                sources.append(self._dwarfinfo.CFI_entries)
            self._all_fdes = [e for source in sources for e in source() if isinstance(e, FDE)]
        return self._all_fdes


def _covers(fde, svma: int) -> bool:
    start = fde.header["initial_location"]
    return start <= svma < start + fde.header["address_range"]


def _rule_at(fde, svma: int) -> Optional[Tuple[int, int]]:
    rule = None
    for row in fde.get_decoded().table:
        if row["pc"] > svma:
            break
        rule = row.get("cfa")
    if rule is None or rule.reg is None:
        return None
    return rule.reg, rule.offset
