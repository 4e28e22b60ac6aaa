"""A DSO's CFI as a lookup table compiled lazily, one FDE at a time, kept in-process and on disk by build-id.

The table has two levels:

* the FDE index: ``fde_starts`` / ``fde_ends`` (``array('Q')``, ascending, non-overlapping) and
  ``fde_refs`` (which section, at which offset), made by one cheap walk of the sections
  (``cfi.fde_index``: no instruction is read). cc1: 45,201 FDEs, ~40 ms;
* the rows of the FDEs an unwind actually hit, compiled on first use (``cfa_program.fde_rows``, memoised
  on CIE + instructions + length, as compilers emit the same few programs again and again): cc1 sees
  ~1,200 of its 45K FDEs in a ``make`` build.

Lookup (``row_for``) is one ``bisect`` on the FDE starts, one on the FDE's row starts, memoised per svma.
``.eh_frame`` comes first; ``.debug_frame`` (of the binary or of its separate debug file) fills only the
ranges ``.eh_frame`` does not cover, as libunwind falls back to it. FDEs sorted by start keep the first of
overlapping ones (an FDE nested in the previous one's range is dropped); an address between FDEs, or in an
FDE whose program cannot be run, has ``NO_CFI_ROW``.

On-disk format (``<cache>/cfi-v3/<build-id>``, ``<build-id>.debug`` when a separate debug file's
``.debug_frame`` went in; ``cache_dir()`` says where): a ``cachefile`` entry (magic ``PYPFCFI``,
FORMAT_VERSION, CRC-32 and length of the payload) whose payload is, little-endian::

    n_fdes u32  n_blocks u32  n_block_rows u32  n_rows u32
    fde_starts u64[n_fdes] . fde_ends u64[n_fdes] . fde_refs u64[n_fdes]
    . block_fde u32[n_blocks] . block_len u32[n_blocks]        (the compiled FDEs, their row counts)
    . row_starts u64[n_block_rows] . row_ids u32[n_block_rows] . rows i32[n_rows * ROW_FIELDS]

The index is written when it is built; a process that compiled new FDEs rewrites the file at exit with
their rows (``flush``), so the next report on the same binaries compiles nothing. Files are written to a
unique temporary name and renamed (``cachefile.write``), so a reader sees a whole file or none; a file
that is not an intact entry, or whose sizes do not match, is ignored and rewritten.
"""
from __future__ import annotations

import atexit
import operator
import struct
import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence

from .. import cachefile
from .. import lazylog as log
from ..errors import ReportError
from .cfa_program import NO_CFI_ROW, ROW_FIELDS, Row, fde_rows
from .cfi import PARSE_ERRORS, Cie, CfiSection, Fde, fde_at, fde_index


FORMAT_VERSION = 3  # 3: the cachefile header, whose CRC covers the counts too
_MAGIC = b"PYPFCFI\0"
_COUNTS = struct.Struct("<IIII")  # n_fdes, n_blocks, n_block_rows, n_rows
_REF_SHIFT = 56  # fde_refs: section index << 56 | offset in the section

# The sections a table compiles from: ``.eh_frame`` (or None) first, then the ``.debug_frame`` ones.
Sections = list[CfiSection | None]
Block = tuple[Sequence[int], Sequence[Row]]  # row start svmas (ascending) and their rows, for one FDE


class CfiTable:
    """The unwind rows of one DSO, addressed by svma; an FDE's rows are compiled when first looked up.

    ``sections_fn()`` gives the sections the ``fde_refs`` point into; it is called at most once, the first
    time an FDE that is not compiled yet is hit (never, on a warm start that hits only cached FDEs)."""

    __slots__ = ("fde_starts", "fde_ends", "fde_refs", "_blocks", "_memo", "_sections_fn", "_sections",
                 "_cies", "_rows_of", "new_blocks", "key", "directory")

    def __init__(self, fde_starts: array, fde_ends: array, fde_refs: array,
                 sections_fn: Callable[[], Sections], blocks: dict[int, Block] | None = None):
        self.fde_starts = fde_starts
        self.fde_ends = fde_ends
        self.fde_refs = fde_refs
        self._blocks: dict[int, Block] = blocks if blocks is not None else {}
        self._memo: dict[int, Row] = {}
        self._sections_fn = sections_fn
        self._sections: Sections | None = None
        self._cies: list[dict[int, Cie | None]] = []
        self._rows_of = _RowsMemo()
        self.new_blocks = 0  # FDEs compiled by this process (the disk copy lacks them)
        self.key: str | None = None  # build-id key and cache directory, when the table is cached
        self.directory: str | None = None

    def __len__(self) -> int:
        return len(self.fde_starts)

    def row_for(self, svma: int) -> Row:
        """The rule row covering ``svma`` (``NO_CFI_ROW`` outside every FDE); memoised per svma."""
        row = self._memo.get(svma)
        if row is None:
            i = bisect_right(self.fde_starts, svma) - 1
            if i < 0 or svma >= self.fde_ends[i]:
                row = NO_CFI_ROW
            else:
                block = self._blocks.get(i)
                if block is None:
                    block = self._compile(i)
                starts, rows = block
                j = bisect_right(starts, svma) - 1
                row = rows[j] if j >= 0 else NO_CFI_ROW
            self._memo[svma] = row
        return row

    def _compile(self, i: int) -> Block:
        """Run the program of FDE ``i`` (no rows when it cannot be parsed or run: the unwinder stops in
        that function, as perf's would)."""
        if self._sections is None:
            try:
                self._sections = self._sections_fn()
            except PARSE_ERRORS:
                self._sections = []
            self._cies = [{} for _ in self._sections]
        ref = self.fde_refs[i]
        index, offset = ref >> _REF_SHIFT, ref & ((1 << _REF_SHIFT) - 1)
        section = self._sections[index] if index < len(self._sections) else None
        rows: list[tuple[int, Row]] = []
        if section is not None:
            try:
                fde = fde_at(section, offset, self._cies[index])
                if fde is not None:
                    rows = self._rows_of(fde)
            except PARSE_ERRORS as exc:
                log.debug(f"CFI entry at {offset:#x}: {exc}")
        block: Block = (array("Q", [svma for svma, _ in rows]), tuple(row for _, row in rows))
        self._blocks[i] = block
        self.new_blocks += 1
        return block

    def flatten(self) -> tuple[list[int], list[Row]]:
        """Every row of the table, compiling every FDE: ``(starts, rows)`` where ``rows[k]`` holds from
        ``starts[k]`` to ``starts[k + 1]``, a gap after each FDE that the next one does not start at
        (``NO_CFI_ROW``). For tests and tools: an unwind never needs it."""
        starts: list[int] = []
        rows: list[Row] = []
        n = len(self.fde_starts)
        for i in range(n):
            block = self._blocks.get(i) or self._compile(i)
            start, end = self.fde_starts[i], self.fde_ends[i]
            if starts and starts[-1] == start:  # the previous FDE's gap: this one starts right there
                starts.pop()
                rows.pop()
            if not block[0] or block[0][0] != start:
                starts.append(start)
                rows.append(NO_CFI_ROW)
            starts.extend(block[0])
            rows.extend(block[1])
            if i + 1 == n or self.fde_starts[i + 1] > end:
                starts.append(end)
                rows.append(NO_CFI_ROW)
        return starts, rows

    # -- serialisation ------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        block_ids = sorted(self._blocks)
        lens = array("I", (len(self._blocks[i][0]) for i in block_ids))
        row_starts = array("Q")
        ids = array("I")
        index: dict[Row, int] = {}
        intern = index.setdefault
        for i in block_ids:
            starts, rows = self._blocks[i]
            row_starts.extend(starts)
            ids.extend(intern(row, len(index)) for row in rows)
        flat = array("i", [v for row in index for v in row])
        counts = _COUNTS.pack(len(self.fde_starts), len(block_ids), len(row_starts), len(index))
        payload = b"".join([counts] + [_le_bytes(a) for a in (self.fde_starts, self.fde_ends, self.fde_refs,
                                                              array("I", block_ids), lens, row_starts, ids, flat)])
        return cachefile.seal(_MAGIC, FORMAT_VERSION, payload)

    @classmethod
    def from_bytes(cls, blob: bytes, sections_fn: Callable[[], Sections] = lambda: []) -> "CfiTable" | None:
        """The table stored in ``blob``, or None if it is not a whole, current, intact table file."""
        payload = cachefile.unseal(_MAGIC, FORMAT_VERSION, blob)
        if payload is None or len(payload) < _COUNTS.size:
            return None
        n_fdes, n_blocks, n_brows, n_rows = _COUNTS.unpack_from(payload, 0)
        sizes = (n_fdes * 8, n_fdes * 8, n_fdes * 8, n_blocks * 4, n_blocks * 4, n_brows * 8, n_brows * 4,
                 n_rows * ROW_FIELDS * 4)
        if len(payload) != _COUNTS.size + sum(sizes):
            return None
        parts = []
        pos = _COUNTS.size
        for typecode, size in zip("QQQIIQIi", sizes):
            parts.append(_from_le(typecode, payload[pos:pos + size]))
            pos += size
        starts, ends, refs, block_ids, lens, row_starts, ids, flat = parts
        rows = [tuple(flat[i:i + ROW_FIELDS]) for i in range(0, len(flat), ROW_FIELDS)]
        if (ids and max(ids) >= n_rows) or sum(lens) != n_brows or (block_ids and max(block_ids) >= n_fdes):
            return None
        blocks: dict[int, Block] = {}
        at = 0
        for i, n in zip(block_ids, lens):
            blocks[i] = (row_starts[at:at + n], tuple(rows[k] for k in ids[at:at + n]))
            at += n
        return cls(starts, ends, refs, sections_fn, blocks)  # type: ignore[arg-type]


def _le_bytes(values: array) -> bytes:
    if sys.byteorder != "little":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_le(typecode: str, raw) -> array:
    values = array(typecode)
    values.frombytes(raw)
    if sys.byteorder != "little":
        values.byteswap()
    return values


def compile_table(eh_frame: CfiSection | None, debug_frames: Iterable[CfiSection]) -> CfiTable:
    """The table of ``eh_frame`` and, for ranges it leaves uncovered, of the ``debug_frames``: the FDE
    index now, the rows on demand."""
    sections: Sections = [eh_frame] + list(debug_frames)
    return build_table(sections, lambda: sections)


def build_table(sections: Sections, sections_fn: Callable[[], Sections]) -> CfiTable:
    """Index the FDEs of ``sections`` (``.eh_frame`` or None, then ``.debug_frame`` ones); the table asks
    ``sections_fn`` for them again when it compiles an FDE."""
    errors: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    refs: list[int] = []
    if sections and sections[0] is not None:
        starts, ends, refs = fde_index(sections[0], errors)
    if len(sections) > 1:
        order = sorted(range(len(starts)), key=starts.__getitem__)
        covered = array("Q", map(starts.__getitem__, order))
        covered_ends = list(map(ends.__getitem__, order))
        for n, section in enumerate(sections[1:], 1):
            if section is None:
                continue
            for start, end, offset in zip(*fde_index(section, errors)):
                i = bisect_right(covered, start) - 1
                if not (i >= 0 and start < covered_ends[i]):
                    starts.append(start)
                    ends.append(end)
                    refs.append(n << _REF_SHIFT | offset)
    if errors:  # shown with -v: the unwinder stops in those functions, as perf's would
        log.debug(f"CFI: {len(errors)} entries skipped, first: {errors[0]}")
    order = sorted(range(len(starts)), key=starts.__getitem__)  # stable: file order for equal starts
    starts = list(map(starts.__getitem__, order))
    ends = list(map(ends.__getitem__, order))
    refs = list(map(refs.__getitem__, order))
    if all(map(operator.le, ends, starts[1:])):  # disjoint (the usual case): nothing to drop
        return CfiTable(array("Q", starts), array("Q", ends), array("Q", refs), sections_fn)
    starts_out, ends_out, refs_out = array("Q"), array("Q"), array("Q")
    last_end = -1
    for start, end, ref in zip(starts, ends, refs):
        if start < last_end:
            continue  # an FDE nested in the previous one's range: keep the first (sorted order)
        starts_out.append(start)
        ends_out.append(end)
        refs_out.append(ref)
        last_end = end
    return CfiTable(starts_out, ends_out, refs_out, sections_fn)


class _RowsMemo:
    """``fde_rows`` memoised on what determines them apart from the start address: the CIE, the
    instruction bytes and the length. Compilers emit the same few programs for most functions (cc1: 45K
    FDEs, a fraction of distinct programs), so most FDEs cost one dict lookup."""

    def __init__(self):
        self._memo: dict[tuple[int, bytes, int], list[tuple[int, Row]]] = {}

    def __call__(self, fde: Fde) -> list[tuple[int, Row]]:
        key = (fde.cie.offset, fde.instructions, fde.end - fde.start)
        relative = self._memo.get(key)
        if relative is None:
            try:
                rows = fde_rows(fde)
            except ReportError:  # an instruction we cannot run: no rows, the unwinder stops in this function
                rows = []
            relative = self._memo[key] = [(svma - fde.start, row) for svma, row in rows]
        start = fde.start
        return [(start + delta, row) for delta, row in relative]


# -- the caches -----------------------------------------------------------------------------------------
_TABLES: dict[str, CfiTable] = {}


def cache_dir() -> str:
    """``cachefile.base_dir()`` plus ``cfi-v<N>``."""
    return cachefile.cache_dir("cfi", FORMAT_VERSION)


def load_cached(build_id: str, sections_fn: Callable[[], Sections] = lambda: []) -> CfiTable | None:
    """The table of ``build_id`` from memory, else from disk (None if absent or damaged)."""
    table = _TABLES.get(build_id)
    if table is not None:
        return table
    directory = cache_dir()
    blob = cachefile.read(directory, build_id)
    table = CfiTable.from_bytes(blob, sections_fn) if blob is not None else None
    if table is not None:
        table.key, table.directory = build_id, directory
        _TABLES[build_id] = table
    return table


def store(build_id: str, table: CfiTable) -> None:
    """Keep ``table`` in memory and write it to the disk cache; ``flush`` rewrites it at exit if this
    process compiles FDEs the file lacks."""
    table.key, table.directory = build_id, cache_dir()
    _TABLES[build_id] = table
    _write(table, create=True)


def _write(table: CfiTable, create: bool) -> None:
    """Write ``table`` atomically under its key (best effort: a read-only or full disk, or a cache
    directory removed meanwhile, costs only the warm start)."""
    directory, key = table.directory, table.key
    if directory and key and cachefile.write(directory, key, table.to_bytes(), create):
        table.new_blocks = 0


@atexit.register
def flush() -> None:
    """Write back every cached table that compiled FDEs since it was read or written (at exit: a report
    compiles its FDEs as it goes, the next one finds them on disk)."""
    for table in list(_TABLES.values()):
        if table.new_blocks:
            _write(table, create=False)


def table_for(build_id: str | None, sections_fn: Callable[[], Sections]) -> CfiTable:
    """The table of a DSO: cached by ``build_id`` when it has one (memory, then disk, else built and
    stored), else built. ``sections_fn()`` reads the DSO's sections: only for a table not on disk, or for
    an FDE the disk copy has not compiled."""
    if build_id:
        table = load_cached(build_id, sections_fn)
        if table is None:
            table = safe_build(sections_fn)
            store(build_id, table)
        return table
    return safe_build(sections_fn)


def safe_build(sections_fn: Callable[[], Sections]) -> CfiTable:
    """The table of ``sections_fn()``'s sections, or an empty one when they are malformed (the unwinder
    then stops in that DSO, as perf does, instead of failing the report)."""
    try:
        sections = sections_fn()
        return build_table(sections, lambda: sections)
    except PARSE_ERRORS:
        return empty_table()


def safe_compile(compile_fn) -> CfiTable:
    """``compile_fn()``, or an empty table when the CFI is malformed."""
    try:
        return compile_fn()
    except PARSE_ERRORS:
        return empty_table()


def empty_table() -> CfiTable:
    return CfiTable(array("Q"), array("Q"), array("Q"), lambda: [])
