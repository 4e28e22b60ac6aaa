"""One unit's line table as libdw presents it (``dwarf_getsrclines``), and perf's prologue skipping.

libdw keeps every row the line program emits (DWARFv5 6.2), end-of-sequence rows included, sorted by
address; at one address an end-of-sequence row sorts first, otherwise rows keep their order
(elfutils libdw/dwarf_getsrclines.c ``compare_lines``). File names are joined to their directory the way
``dwarf_filesrc`` returns them (``./malloc/malloc.c`` for glibc, an absolute path for our workloads).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import List, Optional

from pyperf_probe.symbols.leb128 import sleb, uleb


@dataclass(frozen=True)
class LineRow:
    """One row of the line-number matrix (DWARFv5 6.2.2): only the registers perf reads."""
    svma: int
    file: str
    line: int
    is_stmt: bool
    end_sequence: bool
    prologue_end: bool


def _text(raw) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def file_names(lineprog, comp_dir: Optional[str]) -> List[Optional[str]]:
    """``dwarf_filesrc`` for every file index of the program (index 0 is unused before DWARF 5, where
    directory 0 is the unit's DW_AT_comp_dir)."""
    header = lineprog.header
    version = header["version"]
    dirs = [_text(d) for d in header["include_directory"]]
    if version < 5:
        dirs = [comp_dir] + dirs
    names: List[Optional[str]] = [] if version >= 5 else [None]
    for entry in header["file_entry"]:
        name = _text(entry.name)
        if not name.startswith("/") and entry.dir_index < len(dirs) and dirs[entry.dir_index]:
            name = dirs[entry.dir_index] + "/" + name
        names.append(name)
    return names


class LineTable:
    """Rows of one CU sorted by address, with the lookups perf's probe-finder makes."""

    def __init__(self, rows: List[LineRow]):
        keyed = sorted(enumerate(rows), key=lambda ir: (ir[1].svma, not ir[1].end_sequence, ir[0]))
        self.rows = [r for _, r in keyed]
        self._svmas = [r.svma for r in self.rows]

    @classmethod
    def for_cu(cls, dwarfinfo, cu) -> "LineTable":
        lineprog = dwarfinfo.line_program_for_CU(cu)
        if lineprog is None:
            return cls([])
        comp_dir = cu.get_top_DIE().attributes.get("DW_AT_comp_dir")
        names = file_names(lineprog, _text(comp_dir.value) if comp_dir is not None else None)
        try:
            states = decode_program(lineprog)
        except (IndexError, ValueError):  # an opcode this decoder does not know: pyelftools' decoder
            states = [(e.state.address, e.state.file, e.state.line, e.state.is_stmt, e.state.end_sequence,
                       e.state.prologue_end) for e in lineprog.get_entries() if e.state is not None]
        rows = []
        for address, file, line, is_stmt, end_sequence, prologue_end in states:
            fname = names[file] if 0 <= file < len(names) else None
            rows.append(LineRow(address, fname or "", line, bool(is_stmt), bool(end_sequence), bool(prologue_end)))
        return cls(rows)

    def first_index_at(self, svma: int) -> Optional[int]:
        """perf's ``die_search_idx``: the first row whose address equals ``svma``."""
        i = bisect.bisect_left(self._svmas, svma)
        return i if i < len(self.rows) and self._svmas[i] == svma else None

    def stmt_row_at(self, svma: int) -> Optional[LineRow]:
        """perf's ``cu_getsrc_die`` (dwarf-aux.c): from the last row at or before ``svma``, back to the first
        row of that address, then forward to the first statement row, unless that passes ``svma``. Like
        perf, finds nothing when the group starts at the table's first row."""
        rows = self.rows
        i = bisect.bisect_right(self._svmas, svma) - 1
        if i < 0:
            return None
        while True:
            i -= 1
            if i < 0:
                return None
            if rows[i].svma != svma:
                break
        i += 1
        while i < len(rows):
            row = rows[i]
            i += 1
            if row.svma > svma:
                return None
            if row.is_stmt:
                return row
        return None


def decode_program(lineprog) -> List[tuple]:
    """The rows of a line-number program (DWARFv5 6.2.5), decoded from the section bytes with the header
    pyelftools parsed: (address, file, line, is_stmt, end_sequence, prologue_end) per row emitted.
    VLIW op_index is not tracked (x86_64 has maximum_operations_per_instruction 1)."""
    header = lineprog.header
    data = bytes(lineprog.stream.getbuffer()[lineprog.program_start_offset:lineprog.program_end_offset])
    min_len = header["minimum_instruction_length"]
    line_base, line_range, opcode_base = header["line_base"], header["line_range"], header["opcode_base"]
    std_lengths = list(header["standard_opcode_lengths"])
    default_is_stmt = bool(header["default_is_stmt"])
    file0 = 1
    rows: List[tuple] = []
    address, file, line, is_stmt, prologue_end = 0, file0, 1, default_is_stmt, False
    pos, end = 0, len(data)
    while pos < end:
        op = data[pos]
        pos += 1
        if op >= opcode_base:                       # special opcode
            adjusted = op - opcode_base
            address += (adjusted // line_range) * min_len
            line += line_base + adjusted % line_range
            rows.append((address, file, line, is_stmt, False, prologue_end))
            prologue_end = False
        elif op == 0:                               # extended opcode
            length, pos = uleb(data, pos)
            sub, body = data[pos], pos + 1
            pos += length
            if sub == 1:                            # DW_LNE_end_sequence
                rows.append((address, file, line, is_stmt, True, prologue_end))
                address, file, line, is_stmt, prologue_end = 0, file0, 1, default_is_stmt, False
            elif sub == 2:                          # DW_LNE_set_address
                address = int.from_bytes(data[body:pos], "little")
        elif op == 1:                               # DW_LNS_copy
            rows.append((address, file, line, is_stmt, False, prologue_end))
            prologue_end = False
        elif op == 2:                               # DW_LNS_advance_pc
            value, pos = uleb(data, pos)
            address += value * min_len
        elif op == 3:                               # DW_LNS_advance_line
            value, pos = sleb(data, pos)
            line += value
        elif op == 4:                               # DW_LNS_set_file
            file, pos = uleb(data, pos)
        elif op == 6:                               # DW_LNS_negate_stmt
            is_stmt = not is_stmt
        elif op == 8:                               # DW_LNS_const_add_pc
            address += ((255 - opcode_base) // line_range) * min_len
        elif op == 9:                               # DW_LNS_fixed_advance_pc
            address += int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        elif op == 10:                              # DW_LNS_set_prologue_end
            prologue_end = True
        else:                                       # 5 set_column, 7 basic_block, 11, 12 and unknown ones
            for _ in range(std_lengths[op - 1]):
                _, pos = uleb(data, pos)
    return rows




def postprologue_svma(table: LineTable, entry_svma: int, high_svma: int) -> Optional[int]:
    """perf's ``die_skip_prologue`` (dwarf-aux.c): the address of the line row after the entry row.

    Starting at the first row at the entry: stop at the first later row (or at a row past the function,
    one with ``prologue_end``, or on another line); if that address is past the function, take the row
    before it."""
    start = table.first_index_at(entry_svma)
    if start is None:
        return None
    rows = table.rows
    entry_line = rows[start].line
    i = start
    while i < len(rows):
        row = rows[i]
        if row.svma >= high_svma or row.prologue_end or row.line != entry_line or i != start:
            break
        i += 1
    if i >= len(rows):
        i = len(rows) - 1
    svma = rows[i].svma
    if svma >= high_svma:
        svma = rows[i - 1].svma
    return svma
