"""A DSO's CFI compiled once into a compact lookup table, kept in-process and on disk by build-id.

The table is two sorted parallel arrays plus a small list of distinct rows (``cfa_program.Row``):

* ``starts``  ``array('Q')``: the svma where each row begins, ascending; a row runs to the next start;
* ``row_ids`` ``array('I')``: index into ``rows`` for each start;
* ``rows``: the distinct rule tuples (libc.so.6: 3713 FDEs, 28K rows, 304 distinct; cc1: 45K FDEs, 480K
  rows, 652 distinct: 5.8 MB on disk).

Gaps between FDEs get ``NO_CFI_ROW``. Lookup is one ``bisect`` on ``starts`` (C speed) and two indexings,
memoised per svma (``row_for``). ``.eh_frame`` comes first; ``.debug_frame`` (of the binary or of its
separate debug file) fills only the ranges ``.eh_frame`` does not cover, as libunwind falls back to it.

On-disk format (``<cache>/cfi-v1/<build-id>``, ``<build-id>.debug`` when a separate debug file's
``.debug_frame`` went in; ``cache_dir()`` says where), little-endian::

    magic  b"PYPFCFI\\0"   version u32 (=FORMAT_VERSION)   n_starts u32   n_rows u32   crc32 u32 (of payload)
    payload: starts u64[n_starts] . row_ids u32[n_starts] . rows i32[n_rows * ROW_FIELDS]

Files are written to a temporary name and renamed, so a reader sees a whole file or none; a file whose
magic, version, sizes or CRC do not match is ignored and rewritten.
"""
from __future__ import annotations

import logging
import os
import struct
import sys
import tempfile
import zlib
from array import array
from bisect import bisect_right
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import ReportError
from .cfa_program import NO_CFI_ROW, ROW_FIELDS, Row, fde_rows
from .cfi import CfiSection, Fde, iter_fdes

log = logging.getLogger("pyperf")

FORMAT_VERSION = 1
_MAGIC = b"PYPFCFI\0"
_HEADER = struct.Struct("<8sIIII")  # magic, version, n_starts, n_rows, crc32


class CfiTable:
    """The compiled unwind rows of one DSO, addressed by svma."""

    __slots__ = ("starts", "row_ids", "rows", "_memo")

    def __init__(self, starts: array, row_ids: array, rows: Sequence[Row]):
        self.starts = starts
        self.row_ids = row_ids
        self.rows: Tuple[Row, ...] = tuple(rows)
        self._memo: Dict[int, Row] = {}

    def __len__(self) -> int:
        return len(self.starts)

    def row_for(self, svma: int) -> Row:
        """The rule row covering ``svma`` (``NO_CFI_ROW`` outside every FDE); memoised per svma."""
        row = self._memo.get(svma)
        if row is None:
            i = bisect_right(self.starts, svma) - 1
            row = NO_CFI_ROW if i < 0 else self.rows[self.row_ids[i]]
            self._memo[svma] = row
        return row

    # -- serialisation ------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        flat = array("i", [v for row in self.rows for v in row])
        payload = _le_bytes(self.starts) + _le_bytes(self.row_ids) + _le_bytes(flat)
        header = _HEADER.pack(_MAGIC, FORMAT_VERSION, len(self.starts), len(self.rows), zlib.crc32(payload))
        return header + payload

    @classmethod
    def from_bytes(cls, blob: bytes) -> Optional["CfiTable"]:
        """The table stored in ``blob``, or None if it is not a whole, current, intact table file."""
        if len(blob) < _HEADER.size:
            return None
        magic, version, n_starts, n_rows, crc = _HEADER.unpack_from(blob, 0)
        size = _HEADER.size + n_starts * 12 + n_rows * ROW_FIELDS * 4
        if magic != _MAGIC or version != FORMAT_VERSION or len(blob) != size:
            return None
        payload = memoryview(blob)[_HEADER.size:]
        if zlib.crc32(payload) != crc:
            return None
        starts = _from_le("Q", payload[:n_starts * 8])
        row_ids = _from_le("I", payload[n_starts * 8:n_starts * 12])
        flat = _from_le("i", payload[n_starts * 12:])
        rows = [tuple(flat[i:i + ROW_FIELDS]) for i in range(0, len(flat), ROW_FIELDS)]
        if row_ids and max(row_ids) >= n_rows:
            return None
        return cls(starts, row_ids, rows)  # type: ignore[arg-type]


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


def compile_table(eh_frame: Optional[CfiSection], debug_frames: Iterable[CfiSection]) -> CfiTable:
    """Compile every FDE of ``eh_frame`` and, for ranges it leaves uncovered, of the ``debug_frames``."""
    blocks: List[Tuple[int, int, List[Tuple[int, Row]]]] = []
    rows_of = _RowsMemo()
    errors: List[str] = []
    if eh_frame is not None:
        blocks = [(f.start, f.end, rows_of(f)) for f in iter_fdes(eh_frame, errors)]
    blocks.sort(key=lambda b: b[0])
    covered = array("Q", (b[0] for b in blocks))
    ends = [b[1] for b in blocks]
    extra = []
    for section in debug_frames:
        for fde in iter_fdes(section, errors):
            if not _covered(covered, ends, fde):
                extra.append((fde.start, fde.end, rows_of(fde)))
    if extra:
        blocks = sorted(blocks + extra, key=lambda b: b[0])
    if errors:  # shown with -v: the unwinder stops in those functions, as perf's would
        log.debug(f"CFI: {len(errors)} entries skipped, first: {errors[0]}")
    return _pack(blocks)


class _RowsMemo:
    """``fde_rows`` memoised on what determines them apart from the start address: the CIE, the
    instruction bytes and the length. Compilers emit the same few programs for most functions (cc1: 45K
    FDEs, a fraction of distinct programs), so most FDEs cost one dict lookup."""

    def __init__(self):
        self._memo: Dict[Tuple[int, bytes, int], List[Tuple[int, Row]]] = {}

    def __call__(self, fde: Fde) -> List[Tuple[int, Row]]:
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


def _covered(starts: array, ends: List[int], fde: Fde) -> bool:
    i = bisect_right(starts, fde.start) - 1
    return i >= 0 and fde.start < ends[i]


def _pack(blocks: List[Tuple[int, int, List[Tuple[int, Row]]]]) -> CfiTable:
    """Flatten FDE row blocks into the sorted arrays, closing each block with a gap row (one pass, no
    per-row calls: cc1 has 480K rows)."""
    starts: List[int] = []
    ids: List[int] = []
    index: Dict[Row, int] = {}
    intern = index.setdefault
    last_end = -1
    for n, (start, end, block) in enumerate(blocks):
        if start < last_end:
            continue  # an FDE nested in the previous one's range: keep the first (sorted order)
        if starts and starts[-1] == start:  # the previous block's gap row starts here: replace it
            starts.pop()
            ids.pop()
        for svma, row in block:
            starts.append(svma)
            ids.append(intern(row, len(index)))
        last_end = end
        if n + 1 == len(blocks) or blocks[n + 1][0] > end:
            starts.append(end)
            ids.append(intern(NO_CFI_ROW, len(index)))
    return CfiTable(array("Q", starts), array("I", ids), list(index))


# -- the caches -----------------------------------------------------------------------------------------
_TABLES: Dict[str, CfiTable] = {}


def cache_dir() -> str:
    """``$PYPERF_CACHE_DIR`` or ``$XDG_CACHE_HOME/pyperf`` or ``~/.cache/pyperf``, plus ``cfi-v<N>``."""
    base = os.environ.get("PYPERF_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "pyperf")
    return os.path.join(base, f"cfi-v{FORMAT_VERSION}")


def load_cached(build_id: str) -> Optional[CfiTable]:
    """The table of ``build_id`` from memory, else from disk (None if absent or damaged)."""
    table = _TABLES.get(build_id)
    if table is not None:
        return table
    try:
        with open(os.path.join(cache_dir(), build_id), "rb") as f:
            table = CfiTable.from_bytes(f.read())
    except OSError:
        return None
    if table is not None:
        _TABLES[build_id] = table
    return table


def store(build_id: str, table: CfiTable) -> None:
    """Keep ``table`` in memory and write it atomically to the disk cache (best effort: a read-only or
    full disk costs only the warm start)."""
    _TABLES[build_id] = table
    directory = cache_dir()
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{build_id}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(table.to_bytes())
            os.replace(tmp, os.path.join(directory, build_id))
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def table_for(build_id: Optional[str], compile_fn) -> CfiTable:
    """The table of a DSO: cached by ``build_id`` when it has one, else compiled by ``compile_fn()``."""
    if build_id:
        table = load_cached(build_id)
        if table is None:
            table = compile_fn()
            store(build_id, table)
        return table
    return compile_fn()


def safe_compile(compile_fn) -> CfiTable:
    """``compile_fn()``, or an empty table when the CFI is malformed (the unwinder then stops in that DSO,
    as perf does, instead of failing the report)."""
    try:
        return compile_fn()
    except (ReportError, IndexError, struct.error, ValueError):
        return CfiTable(array("Q"), array("I"), ())
