"""One unit's line table as libdw presents it (``dwarf_getsrclines``), and perf's prologue skipping.

libdw keeps every row the line program emits (DWARFv5 6.2), end-of-sequence rows included, sorted by
address; at one address an end-of-sequence row sorts first, otherwise rows keep their order
(elfutils libdw/dwarf_getsrclines.c ``compare_lines``). File names are joined to their directory the way
``dwarf_filesrc`` returns them (``./malloc/malloc.c`` for glibc, an absolute path for our workloads).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import List, Optional, Tuple


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
        rows = []
        for entry in lineprog.get_entries():
            st = entry.state
            if st is None:
                continue
            fname = names[st.file] if 0 <= st.file < len(names) else None
            rows.append(LineRow(st.address, fname or "", st.line, bool(st.is_stmt), bool(st.end_sequence),
                                bool(st.prologue_end)))
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
