"""What a DSO's addresses resolved to, kept on disk so that the next report starts warm (as the CFI
tables are: callchain/cfi_table.py).

Resolving a file offset (``Dso.resolve``) makes the symbol layer sort and demangle the whole symbol
table on first use, and an inline lookup (``Dso.inline_names``) opens the DWARF: ~0.25 s of a warm
``report`` of a make build (bench/unwind), for a few thousand distinct addresses. This cache keeps, per
build-id, ``file offset -> (printed name, symbol start svma, data object?)`` (or None: no symbol) and ``file offset ->
inline names``, and answers them without loading either.

Validity: an answer is a function of the files read and of pyperf's own code, so each part carries a
signature that must equal the live one, else that part is ignored (and rewritten at exit):

* resolved part: the image and the symbol source the symbol layer picks *now* (``Dso._load`` runs the
  live selection; it is cheap: the expensive work is the lazy sort), each as (path, size, mtime_ns),
  and the ``--symfs`` directory;
* inline part: every path ``symbols.dwarf.open.candidates`` lists for the image (perf's debug file
  order: which one holds the DWARF depends only on these files), as (path, size, mtime_ns) or
  (path, None) when absent, and the file whose ELF symbols name the innermost frame (perf's
  ``symsrc_filename``, ``Dso._inline_symbols``);
* both: ``FORMAT_VERSION`` and the (name, size, mtime_ns) of the modules that compute the answers
  (``pyperf_probe/symbols/*.py`` and ``symbols/dwarf/*.py``, ``session/dsos.py`` and this file).

Format (``<cache>/resolved-v<N>/<build-id>``): a ``cachefile`` entry (magic ``PYPFRES``, FORMAT_VERSION,
CRC-32 and length of the payload) whose payload is the ``marshal`` of ``(code, sym_signature,
{offset: (name, start, object) | None}, dwarf_signature, {offset: [names]})``. A file that is not a whole, intact
entry of that shape is never used: its answers are computed again and the file rewritten. Writes are
atomic (``cachefile.write``: a unique temporary name, then rename) and best effort, at exit, only for DSOs
that resolved something new.
"""
from __future__ import annotations

import atexit
import marshal
import os

from pyperf_probe import cachefile

FORMAT_VERSION = 3  # 2: the cachefile header (1 had none: flipped bytes gave wrong names); 3: STT_OBJECT flag
_MAGIC = b"PYPFRES\0"
_SESSION_DIR = os.path.dirname(os.path.abspath(__file__))
_CODE_FILES = (os.path.join(_SESSION_DIR, "dsos.py"), os.path.abspath(__file__))
_code_signature: tuple | None = None
_LOADED: dict[str, "DsoCache"] = {}  # build-id -> this process's cache
_PENDING: dict[str, "DsoCache"] = {}  # build-id -> cache with answers the disk lacks (written at exit)


def cache_dir() -> str:
    """``cachefile.base_dir()`` (the CFI cache's too) plus ``resolved-v<N>``."""
    return cachefile.cache_dir("resolved", FORMAT_VERSION)


def file_signature(path: str | None) -> tuple:
    """(path, size, mtime_ns), or (path, None) when it cannot be stat'ed."""
    if not path:
        return (path, None)
    try:
        st = os.stat(path)
    except OSError:
        return (path, None)
    return (path, st.st_size, st.st_mtime_ns)


def code_signature() -> tuple:
    """The modules whose code computes the cached answers, by (name, size, mtime_ns): editing one
    invalidates every entry."""
    global _code_signature
    if _code_signature is None:
        symbols = os.path.join(os.path.dirname(_SESSION_DIR), "symbols")
        files = []
        for folder in (symbols, os.path.join(symbols, "dwarf")):
            try:
                files += sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".py"))
            except OSError:
                pass
        files += _CODE_FILES
        _code_signature = (FORMAT_VERSION,) + tuple(file_signature(p) for p in files)
    return _code_signature


class DsoCache:
    """The cached answers of one DSO (by build-id), shared by the sessions of a process (``load``).

    ``resolved_for(signature)`` and ``inlines_for(signature)`` give the answer dict that holds for the
    live signature; the caller adds its new answers to that dict and calls ``changed()``. The dicts of
    the latest signature are the ones written at exit."""

    __slots__ = ("build_id", "sym_signature", "resolved", "dwarf_signature", "inlines", "_stored", "dirty")

    def __init__(self, build_id: str, stored: tuple | None):
        self.build_id = build_id
        self._stored = stored  # (sym_sig, resolved, dwarf_sig, inlines) as read, or None
        self.sym_signature = self.dwarf_signature = None
        self.resolved: dict | None = None
        self.inlines: dict | None = None
        self.dirty = False

    @classmethod
    def load(cls, build_id: str) -> "DsoCache":
        """The cache of ``build_id``: this process's, else the file read (not yet validated), else empty."""
        cache = _LOADED.get(build_id)
        if cache is not None:
            return cache
        cache = _LOADED[build_id] = cls(build_id, stored_entry(cachefile.read(cache_dir(), build_id)))
        return cache

    def resolved_for(self, signature: tuple) -> dict:
        """offset -> (name, start, object) | None, for the files as ``signature`` describes them now."""
        if self.resolved is None or self.sym_signature != signature:
            stored = self._stored
            self.resolved = dict(stored[1]) if stored is not None and stored[0] == signature else {}
            self.sym_signature = signature
        return self.resolved

    def inlines_for(self, signature: tuple) -> dict:
        """offset -> inline names, for the DWARF candidates as ``signature`` describes them now."""
        if self.inlines is None or self.dwarf_signature != signature:
            stored = self._stored
            self.inlines = dict(stored[3]) if stored is not None and stored[2] == signature else {}
            self.dwarf_signature = signature
        return self.inlines

    def changed(self) -> None:
        """New answers were added: write this cache at exit."""
        if not self.dirty:
            self.dirty = True
            _PENDING[self.build_id] = self

    def to_bytes(self) -> bytes:
        """This cache as written: a part never asked for in this process keeps what the disk had."""
        stored = self._stored or (None, {}, None, {})
        sym = (self.sym_signature, self.resolved) if self.resolved is not None else stored[:2]
        dwarf = (self.dwarf_signature, self.inlines) if self.inlines is not None else stored[2:]
        payload = marshal.dumps((code_signature(), sym[0], sym[1], dwarf[0], dwarf[1]))
        return cachefile.seal(_MAGIC, FORMAT_VERSION, payload)


def stored_entry(blob: bytes | None) -> tuple | None:
    """(sym_signature, resolved, dwarf_signature, inlines) of a cache file's bytes, or None unless they
    are a whole, intact entry of this format written by this code."""
    payload = cachefile.unseal(_MAGIC, FORMAT_VERSION, blob) if blob is not None else None
    if payload is None:
        return None
    try:
        data = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    if type(data) is tuple and len(data) == 5 and data[0] == code_signature() and \
            type(data[2]) is dict and type(data[4]) is dict:
        return data[1:]
    return None


def write(cache: DsoCache) -> None:
    """Write ``cache`` atomically (best effort: a read-only or full disk costs only the warm start)."""
    if cachefile.write(cache_dir(), cache.build_id, cache.to_bytes()):
        cache.dirty = False


@atexit.register
def flush() -> None:
    """Write every cache that got new answers (at exit: the next report finds them on disk)."""
    for cache in list(_PENDING.values()):
        if cache.dirty:
            write(cache)
    _PENDING.clear()
