"""One compilation unit, parsed on demand, with what perf's probe-finder asks of a CU DIE."""
from __future__ import annotations

import bisect
from typing import List, Optional

from pyperf_probe.symbols.dwarf import dies as D
from pyperf_probe.symbols.dwarf.lines import LineTable, file_names


class Unit:
    """A pyelftools CU plus its file names, line table and optimization flag, each computed once."""

    def __init__(self, dwarfinfo, cu):
        self.dwarfinfo = dwarfinfo
        self.cu = cu
        self.offset = cu.cu_offset
        self.die = cu.get_top_DIE()
        self.name = D.diename(self.die) or ""
        self._files: Optional[List[Optional[str]]] = None
        self._lines: Optional[LineTable] = None
        self._optimized: Optional[bool] = None
        self._func_spans = None
        self._func_lows: List[int] = []

    @property
    def comp_dir(self) -> Optional[str]:
        value = self.die.attributes.get("DW_AT_comp_dir")
        return value.value.decode("utf-8", "replace") if value is not None else None

    @property
    def files(self) -> List[Optional[str]]:
        """``dwarf_getsrcfiles``: file names by DW_AT_decl_file / DW_AT_call_file index."""
        if self._files is None:
            self._files = unit_files(self.dwarfinfo, self.cu)
        return self._files

    @property
    def lines(self) -> LineTable:
        if self._lines is None:
            self._lines = LineTable.for_cu(self.dwarfinfo, self.cu)
        return self._lines

    def file_at(self, index) -> Optional[str]:
        if index is None:
            return None
        files = self.files
        return files[index] if 0 <= index < len(files) else None

    def decl_file(self, die) -> Optional[str]:
        """``dwarf_decl_file``: the index counts in the file table of the unit that holds the attribute
        (libdw 0.188 reads it there: asked through libdw.so.1, lto_prog_O2's lto_scale is declared in
        lto_util.c), which for a DIE of GCC's LTO unit is the source's unit its DW_AT_abstract_origin points
        into, not this one."""
        found = D.attr_integrate_at(die, "DW_AT_decl_file")
        if found is None:
            return None
        holder, value = found
        if holder.cu.cu_offset == self.offset:
            return self.file_at(value.value)
        files = unit_files(self.dwarfinfo, holder.cu)
        return files[value.value] if 0 <= value.value < len(files) else None

    @staticmethod
    def decl_file_index(die) -> Optional[int]:
        value = D.attr_integrate(die, "DW_AT_decl_file")
        return value.value if value is not None else None

    @staticmethod
    def decl_line(die) -> Optional[int]:
        """``dwarf_decl_line``."""
        value = D.attr_integrate(die, "DW_AT_decl_line")
        return value.value if value is not None else None

    def call_file(self, die) -> Optional[str]:
        value = die.attributes.get("DW_AT_call_file")
        return self.file_at(value.value) if value is not None else None

    @property
    def optimized(self) -> bool:
        """perf's ``die_is_optimized_target``: some variable of the unit has a location list."""
        if self._optimized is None:
            self._optimized = any(D.has_location_list(die) for die in D.walk(self.die))
        return self._optimized

    def realfunc(self, svma: int):
        """perf's ``die_find_realfunc``: the first subprogram (``dwarf_getfuncs`` order) holding ``svma``,
        through intervals sorted once per unit."""
        if self._func_spans is None:
            spans = [(low, high, order, func) for order, func in enumerate(D.getfuncs(self.die))
                     for low, high in D.ranges(func)]
            spans.sort(key=lambda s: (s[0], s[2]))
            self._func_spans = spans
            self._func_lows = [s[0] for s in spans]
        i = bisect.bisect_right(self._func_lows, svma)
        best = None
        for low, high, order, func in self._func_spans[max(0, i - 64):i]:
            if low <= svma < high and (best is None or order < best[0]):
                best = (order, func)
        return best[1] if best else None

    def lineinfo(self, svma: int):
        """perf 6.1's ``cu_find_lineinfo``: (file, line) of ``svma`` - a function's declaration line at its
        entry, else the statement row ``cu_getsrc_die`` finds; None without a usable line."""
        func = self.realfunc(svma)
        if func is not None and D.die_entrypc(func) == svma:
            fname, line = self.decl_file(func), self.decl_line(func)
        else:
            row = self.lines.stmt_row_at(svma)
            fname, line = (row.file, row.line) if row is not None else (None, 0)
        return (fname, line) if fname and line else None

    def die_at(self, offset: int):
        return self.cu.get_DIE_from_refaddr(offset)


def unit_files(dwarfinfo, cu) -> List[Optional[str]]:
    """The file names of a pyelftools CU's line program (``dwarf_getsrcfiles``), [] without one; kept on
    the CU, which pyelftools keeps once per offset."""
    files = getattr(cu, "_pyperf_files", None)
    if files is None:
        prog = dwarfinfo.line_program_for_CU(cu)
        comp_dir = cu.get_top_DIE().attributes.get("DW_AT_comp_dir")
        comp_dir = comp_dir.value.decode("utf-8", "replace") if comp_dir is not None else None
        files = cu._pyperf_files = file_names(prog, comp_dir) if prog is not None else []
    return files
