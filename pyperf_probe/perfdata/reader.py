"""Reading perf.data (PERFILE2) files: header, attrs, feature sections, and a streaming record iterator.

``PerfDataFile.open(path)`` checks the file as ``perf report`` does (tools/perf/util/data.c
``open_file_read``, util/header.c ``perf_session__read_header``) and fails with perf's messages; then:

* ``.header``: the ``FileHeader``; ``.attrs``: one ``FileAttr`` per event (attr, ids, name);
* ``.feature(Feature.X)``: a feature section, decoded on first use (``perfdata.features``);
* ``.records()``: every record of the data section, streamed in chunks, reordered by time as perf does;
  ``.records(ordered=False)`` gives file order; ``.record_batches()`` the same records as lists, for
  loops over millions of records (``perfdata.stream`` reads them, ``perfdata.ordered`` orders them);
  ``.keyed_batches()`` the same order with runs of samples as lists of keys, for a reader that only
  counts them (``perfdata.sample_keys``; ``.decode_key(key)`` gives the ``Sample``).

Bad input never raises anything but ``PerfDataError``. Sizes come from the file and are checked before
anything is allocated; damage inside the data section is a warning (``perfdata.stream``).
"""
from __future__ import annotations

import errno as errno_mod
import itertools
import os
import struct

from pyperf_probe import lazylog as log
from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata import features as feat
from pyperf_probe.perfdata.format import (MAGIC, MAGIC_SWAPPED, AttrType, EventAttr, FileHeader, FileSection,
                                          SampleType)
from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.perfdata import INCOMPATIBLE  # noqa: F401 (API)
from pyperf_probe.perfdata import incompatible as _incompatible

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterator


DEFAULT_PATH = "perf.data"


class FileAttr(Frozen):
    """One event of the file: its ``perf_event_attr``, the ids its samples carry, and its name
    (EVENT_DESC's, else ``system:name`` from TRACING_DATA for tracepoints, else None)."""

    __slots__ = ()
    _fields = ("index", "attr", "ids", "name")

    def __new__(cls, index: int, attr: EventAttr, ids: tuple[int, ...], name: str | None):
        return tuple.__new__(cls, (index, attr, ids, name))


def check_path(path: str | None, force: bool = False) -> tuple[str, os.stat_result]:
    """perf's checks before reading (util/data.c): the file exists, is owned by us or root unless
    ``force``, and is not empty. Returns the path and its stat."""
    shown = path or DEFAULT_PATH
    try:
        st = os.stat(shown)
    except OSError as exc:
        hint = "  (try 'pyperf record' first)" if not path or path == DEFAULT_PATH else ""
        raise PerfDataError(f"failed to open {shown}: {os.strerror(exc.errno)}{hint}",
                            errno=exc.errno if exc.errno != errno_mod.ENOENT else None) from None
    if os.path.isdir(shown):
        raise PerfDataError(f"{shown} is a directory: directory-format perf.data (perf record --threads) "
                            "is not supported")
    if not force and st.st_uid and st.st_uid != os.geteuid():
        raise PerfDataError(f"File {shown} not owned by current user or root (use -f to override)")
    if not st.st_size:
        raise PerfDataError(f"zero-sized data ({shown}), nothing to do!")
    return shown, st


class PerfDataFile:
    """An open perf.data file. Use ``PerfDataFile.open(path)``; close it (or use ``with``) when done."""

    def __init__(self, path: str, fileobj, file_size: int):
        self.path = path
        self._file = fileobj
        self.file_size = file_size
        self._warned: set = set()
        self._features: dict[int, object] = {}
        self.header = self._read_header()
        self._sections = self._read_feature_table()
        self.attrs = self._read_attrs()
        _check_decodable(self.attrs, path)
        # ``stats`` and ``_stream`` are made when first used (__getattr__)

    def __getattr__(self, name: str):
        """``stats`` (a ``stream.ReadStats``) and ``_stream`` (the ``stream.RecordStream``: its imports and
        its compiled sample decoders) are made at their first use: a command that stops before reading
        records (report's "no callchain" error, ``--header-only``) needs neither."""
        if name not in ("stats", "_stream") or "_file" not in self.__dict__:
            raise AttributeError(name)
        from pyperf_probe.perfdata.stream import ReadStats, RecordStream
        self.stats = ReadStats()
        self._stream = RecordStream(self)
        return self.__dict__[name]

    # --- records (perfdata.stream) ---------------------------------------------------------------------

    def records(self, ordered: bool = True) -> Iterator:
        """Every record of the data section: ``Sample`` tuples and ``records.*Record`` objects, in perf's
        delivery order (time-ordered per round) or, with ``ordered=False``, in file order."""
        return itertools.chain.from_iterable(self._stream.batches(ordered))

    def record_batches(self, ordered: bool = True) -> Iterator[list]:
        """``records()`` as lists (one per decoded chunk or flushed round): the same records in the same
        order, for consumers that loop over many records (one generator step per batch, not per record)."""
        return self._stream.batches(ordered)

    def keyed_batches(self, timed: bool = False, walk: bool = False, raw: bool = True,
                      chain: bool = False) -> Iterator | None:
        """The records as ``records()`` delivers them, but each run of samples as a list of sample keys
        (``perfdata.sample_keys``; ``decode_key`` reads one), for consumers that only count samples; None
        when this file's samples are not keyed (their records are unique anyway: read them one by one).
        ``timed``: keys that keep CPU, each sample as the pair ``(key, time)`` (script's walk); ``walk``:
        keys of the fixed fields and RAW alone, which also keys samples with user stacks or registers (for
        a reader that uses no other field); ``raw=False``: walking keys without RAW either; ``chain=True``:
        walking keys that keep the call chain (after the fixed fields)."""
        if self._stream.keyed_layout(timed, walk, raw, chain) is None:
            return None
        return self._stream.keyed_batches(timed, walk, raw, chain)

    def keyed_layout(self, timed: bool = False, walk: bool = False, raw: bool = True, chain: bool = False):
        """The ``sample_keys.KeyLayout`` of ``keyed_batches(timed, walk, raw, chain)``'s keys, or None."""
        return self._stream.keyed_layout(timed, walk, raw, chain)

    def decode_key(self, key: bytes, count: int = 1):
        """The ``Sample`` of ``count`` delivered samples with this key, None if they are dropped (their id
        is unknown, or they are corrupt: counted in ``stats`` and warned about as ``records()`` does)."""
        return self._stream.decode_key(key, count)

    def key_evsel(self, key: bytes):
        """The event of a key that ``decode_key`` would decode without a word, else None."""
        return self._stream.key_evsel(key)

    @property
    def key_layout(self):
        """The ``sample_keys.KeyLayout`` of this file's samples, or None."""
        return self._stream.key_layout

    @classmethod
    def open(cls, path: str | None = None, force: bool = False) -> "PerfDataFile":
        """Open and check ``path`` (default ``perf.data``) with perf's messages and rules."""
        shown, st = check_path(path, force)
        try:
            fileobj = open(shown, "rb")
        except OSError as exc:
            raise PerfDataError(f"failed to open {shown}: {os.strerror(exc.errno)}") from None
        try:
            return cls(shown, fileobj, st.st_size)
        except BaseException:
            fileobj.close()
            raise

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PerfDataFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- header, attrs, features ----------------------------------------------------------------------

    def _pread(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        data = self._file.read(size)
        if len(data) != size:
            raise _incompatible(f"{self.path}: {size} bytes at offset {offset} are past the end of the file")
        return data

    def _read_header(self) -> FileHeader:
        if self.file_size < 8:
            raise _incompatible(f"{self.path}: too short for a perf.data header")
        magic = self._pread(0, 8)
        if magic == MAGIC_SWAPPED:
            raise PerfDataError(f"{self.path}: byte-swapped perf.data (recorded on a big-endian host) "
                                "is not supported")
        if magic != MAGIC:
            raise _incompatible(f"{self.path}: bad magic {magic!r} (not a PERFILE2 perf.data file)")
        if self.file_size < FileHeader.STRUCT.size:
            raise _incompatible(f"{self.path}: too short for a perf.data header")
        header = FileHeader.unpack_from(self._pread(0, FileHeader.STRUCT.size))
        if header.size != FileHeader.STRUCT.size:
            raise _incompatible(f"{self.path}: header size {header.size} (pipe-mode or unknown layout)")
        if header.attrs.offset + header.attrs.size > self.file_size:
            raise _incompatible(f"{self.path}: the attrs section is past the end of the file")
        if header.attr_size < EventAttr.SIZE_VER0 + 16 or header.attrs.size % header.attr_size:
            raise _incompatible(f"{self.path}: attr entry size {header.attr_size} "
                                f"does not divide the attr section ({header.attrs.size} bytes)")
        if not header.data.size:
            log.warning(f"WARNING: The {self.path} file's data size field is 0 which is unexpected.\n"
                        "Was the 'perf record' command properly terminated?")
        return header

    def _read_attrs(self) -> tuple[FileAttr, ...]:
        h = self.header
        nr = h.attrs.size // h.attr_size
        if not nr:
            raise _incompatible(f"{self.path}: no event attributes")
        table = self._pread(h.attrs.offset, h.attrs.size)
        entries = []
        for index in range(nr):
            base = index * h.attr_size
            attr_size = struct.unpack_from("<I", table, base + 4)[0]
            if not EventAttr.SIZE_VER0 <= attr_size <= h.attr_size - 16:
                raise _incompatible(f"{self.path}: attr {index} has size {attr_size}")
            attr = EventAttr.unpack_from(table, base, attr_size)
            ids_section = FileSection.unpack_from(table, base + h.attr_size - 16)
            entries.append((attr, self._read_ids(ids_section, index)))
        _check_sample_types([a for a, _ in entries], self.path)
        return tuple(FileAttr(i, attr, ids, self._event_name(i, attr, ids, nr))
                     for i, (attr, ids) in enumerate(entries))

    def _read_ids(self, section: FileSection, index: int) -> tuple[int, ...]:
        if section.size % 8 or section.offset + section.size > self.file_size:
            raise _incompatible(f"{self.path}: the id array of attr {index} is outside the file")
        return struct.unpack(f"<{section.size // 8}Q", self._pread(section.offset, section.size))

    def _event_name(self, index: int, attr: EventAttr, ids: tuple[int, ...], nr_attrs: int) -> str | None:
        """EVENT_DESC's name for the event its ids[0] belongs to (perf: evlist__set_event_name through
        evlist__id2evsel, which answers the first event for a one-event file or id 0), else the tracepoint's
        ``system:name`` from TRACING_DATA, else perf's "unknown tracepoint" for a tracepoint."""
        for desc in self._safe_feature(feat.Feature.EVENT_DESC) or ():
            first_id = desc.ids[0] if desc.ids else 0
            owner = 0 if nr_attrs == 1 or not first_id else (index if first_id in ids else None)
            if owner == index and desc.name:
                return desc.name
        if attr.type == AttrType.TRACEPOINT:
            tracing = self._safe_feature(feat.Feature.TRACING_DATA)
            events = getattr(tracing, "events", None)
            if events is not None and attr.config in events:
                return tracing.event_name(attr.config)
            return "unknown tracepoint"
        return None

    def _read_feature_table(self) -> dict[int, FileSection]:
        """The section table after the data: one entry per set bit, ascending (header.c)."""
        bits = [b for b in range(256) if self.header.has_feature(b)]
        start = self.header.data.offset + self.header.data.size
        if not bits:
            return {}
        size = 16 * len(bits)
        if start + size > self.file_size or not self.header.data.size:
            self._warn_once("features", f"{self.path}: the feature section table is missing "
                                        "(file cut short?): header features ignored")
            return {}
        table = self._pread(start, size)
        return {bit: FileSection.unpack_from(table, 16 * i) for i, bit in enumerate(bits)}

    @property
    def features(self) -> tuple[int, ...]:
        """The feature bits present in the section table."""
        return tuple(self._sections)

    def feature(self, feature: int):
        """The decoded feature section, None when absent (see ``perfdata.features`` for the types)."""
        if feature not in self._features:
            self._features[feature] = self._decode_feature(feature)
        return self._features[feature]

    def feature_bytes(self, feature: int) -> bytes | None:
        section = self._sections.get(feature)
        if section is None:
            return None
        if section.offset + section.size > self.file_size:
            raise PerfDataError(f"{self.path}: feature section {_feature_name(feature)} "
                                "is past the end of the file")
        return self._pread(section.offset, section.size)

    def _decode_feature(self, feature: int):
        data = self.feature_bytes(feature)
        if data is None:
            return None
        if feature not in feat.DECODERS:
            self._warn_once(("feature", feature), f"{self.path}: skipping feature section "
                                                  f"{_feature_name(feature)}: not decoded by pyperf")
            return data
        try:
            return feat.decode(feature, data)
        except PerfDataError as exc:
            raise PerfDataError(f"{self.path}: {exc}") from None
        except (struct.error, ValueError, IndexError, KeyError) as exc:
            raise PerfDataError(f"{self.path}: corrupt {_feature_name(feature)} feature section ({exc})") \
                from None

    def _safe_feature(self, feature: int):
        """A feature needed while opening: a damaged one is a warning there, not a failure."""
        try:
            return self.feature(feature)
        except PerfDataError as exc:
            self._warn_once(("bad-feature", feature), f"{exc}: ignored")
            self._features[feature] = None
            return None

    # --- records --------------------------------------------------------------------------------------

    def _warn_once(self, kind, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message)

    @property
    def out_of_order(self) -> int:
        """Records older than what was already delivered, in the last ``records()`` (perf's
        nr_unordered_events)."""
        return self._stream.out_of_order

    def warn_summary(self) -> None:
        """perf's end-of-session warnings for what ``records()`` skipped (session.c
        ``perf_session__warn_about_errors``)."""
        if self.stats.nr_unknown_id:
            log.warning(f"{self.stats.nr_unknown_id} samples with id not present in the header")


def _check_decodable(attrs, path: str) -> None:
    """What the stream's sample decoders refuse (perfdata.sample.SampleDecoder), said at open as they were
    when made there: sample_type bits above WEIGHT_STRUCT (sample.KNOWN_SAMPLE_TYPE)."""
    known = (SampleType.WEIGHT_STRUCT << 1) - 1
    for a in attrs:
        if a.attr.sample_type & ~known:
            raise _incompatible(f"{path}: unsupported sample_type bits {a.attr.sample_type & ~known:#x} "
                                f"in event {a.index}")


def _check_sample_types(attrs: list[EventAttr], path: str) -> None:
    """perf refuses events whose samples cannot be told apart (evlist.c ``evlist__valid_sample_type``):
    with several events each must carry ID or IDENTIFIER, at the same place."""
    if len(attrs) < 2:
        return
    first = attrs[0].sample_type
    if any(not a.sample_type & (SampleType.ID | SampleType.IDENTIFIER) for a in attrs):
        raise _incompatible(f"{path}: several events but samples without PERF_SAMPLE_ID")
    if not first & SampleType.IDENTIFIER and any(a.sample_type != first for a in attrs):
        raise _incompatible(f"{path}: non matching sample_type")


def _feature_name(feature: int) -> str:
    return feat.Feature.name_of(feature) or f"feature {feature}"
