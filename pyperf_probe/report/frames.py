"""The report's view of a resolved address: what the hist entries, sort keys and call-graph trees need.

The session yields interned ``Frame`` objects (one per distinct resolved address); ``FrameTable`` turns each
into a ``RFrame`` once (keyed by the object's identity, so a chain of N frames costs N dict look-ups) with
the fields perf's comparisons use (``struct map_symbol`` + the callchain entry's ip):

* ``name``/``has_sym``/``inlined``: symbol name (perf's ``sym->name``), or the raw address when unresolved;
* ``dso_name``/``dso_rank``: the dso short name and its creation order (perf compares ``struct dso *``
  pointers; dsos are allocated in the order the session first meets them);
* ``sym_start``: the symbol's start in the dso (perf's ``sym->start``), ``avma``: the address as sampled,
  ``rip``: the map-relative address (``map__map_ip``) that the Symbol column shows when unresolved;
* ``level``: ``k`` for a kernel map's address, ``.`` for a process's, else the lookup's (``al->level``);
  ``object_sym``: a data symbol (STT_OBJECT), which the Symbol column prints with its offset.
"""
from __future__ import annotations

from pyperf_probe.callchain.tree import frame_key
from pyperf_probe.session.frames import Frame as _SessionFrame

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Sequence

# perf formats a callchain entry into a 1024-byte buffer (callchain_list__sym_name): longer names are cut.
SYM_NAME_MAX = 1023


class RFrame:
    """One resolved address as the report compares and prints it."""

    __slots__ = ("name", "has_sym", "inlined", "dso_name", "dso_rank", "sym_start", "avma", "rip", "key",
                 "chain_text", "level", "mapped", "object_sym", "object_start")

    def __init__(self, *, name: str | None, inlined: bool, dso_name: str | None, dso_rank,
                 sym_start: int, avma: int, rip: int, level: str = ".", object_sym: bool = False,
                 object_start: int | None = None):
        self.has_sym = name is not None
        self.name = name if name is not None else ""
        self.inlined = bool(inlined) and self.has_sym
        self.dso_name = dso_name
        self.dso_rank = dso_rank
        self.sym_start = sym_start
        self.avma = avma
        self.rip = rip
        self.level = level              # perf's al->level ("k", ".", "H"), the Symbol column's "[k] "
        self.object_sym = object_sym and self.has_sym  # STT_OBJECT: the Symbol column adds "+0x<offset>"
        # the symbol's start as perf keeps it (sym->start): a process's symbols at file offsets
        self.object_start = sym_start if object_start is None else object_start
        self.mapped = dso_name is not None
        self.key = frame_key(self)
        if self.has_sym:
            text = self.name + (" (inlined)" if self.inlined else "")
        else:
            text = "%#x" % avma if avma else "0"
        self.chain_text = text[:SYM_NAME_MAX]

    def __repr__(self) -> str:
        return f"RFrame({self.chain_text!r}, dso={self.dso_name!r})"

    @classmethod
    def _of(cls, name, inlined: bool, dso_name, dso_rank, sym_start: int, avma: int, rip: int, level: str,
            object_sym: bool, object_start) -> "RFrame":
        """``RFrame(...)`` by position, its fields set in place (FrameTable's conversion of every distinct
        frame; the same fields as ``__init__``)."""
        self = cls.__new__(cls)
        has_sym = self.has_sym = name is not None
        self.dso_name, self.dso_rank, self.sym_start, self.avma, self.rip, self.level = \
            dso_name, dso_rank, sym_start, avma, rip, level
        self.mapped = dso_name is not None
        if has_sym:
            self.name = name
            inlined = self.inlined = bool(inlined)
            self.object_sym = object_sym and True
            self.key = ("i", name) if inlined else ("s", dso_rank, sym_start)
            text = name + " (inlined)" if inlined else name
            self.chain_text = text if len(text) <= SYM_NAME_MAX else text[:SYM_NAME_MAX]
        else:
            self.name = ""
            self.inlined = False
            self.object_sym = object_sym and False
            self.key = ("a", dso_rank, avma)
            self.chain_text = ("%#x" % avma)[:SYM_NAME_MAX] if avma else "0"
        self.object_start = sym_start if object_start is None else object_start
        return self


def _object_symbol(frame, dso_obj) -> bool:
    """Is the frame's symbol a data object (STT_OBJECT: an ELF OBJECT symbol of a process's file, a kallsyms
    D/B symbol)? perf's ``_hist_entry__sym_snprintf`` prints those with their offset, whatever the map.
    A process's answer says so itself (``session.dsos.Resolved.object``, kept in the resolved-symbol cache
    with the name), so that no symbol table is loaded for it."""
    resolved = getattr(frame, "resolved", None)
    if resolved is None:
        return False
    known = getattr(resolved, "object", None)
    if known is not None:
        return known
    symbol = resolved.symbol
    return symbol is not None and symbol.type == STT_OBJECT


STT_OBJECT = 1


def _c_convert():
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "rframe_convert", None) if speedups is not None else None


_C_CONVERT = _c_convert()  # (None: PYPERF_PURE_PYTHON or not built; tests set it to None for the Python code)


def _file_start(svma: int, dso_obj) -> int | None:
    """Where perf keeps a process's symbol: at the file offset of its ELF address (``dso__load_sym``:
    st_value less p_vaddr - p_offset of the PT_LOAD holding it). Kernel symbols stay where they are."""
    image = None if getattr(dso_obj, "is_kernel", False) else getattr(dso_obj, "image", None)
    if image is None:
        return None
    offset = image.svma_to_file_offset(svma)
    return svma if offset is None else offset


class FrameTable:
    """Session frames -> ``RFrame``, each converted once.

    ``dso_rank`` stands for perf's ``struct dso *`` order, i.e. the order perf creates dsos in: first the
    files of the BUILD_ID feature section, in its order (perf creates them while reading the header,
    ``__event_process_build_id``), then the others as the session met them (``dso_obj.order``, MMAP order).
    ``build_id_files`` lists the section's file names in order."""

    def __init__(self, build_id_files: Sequence[str] = ()):
        self._by_id: dict[int, tuple[object, RFrame]] = {}
        self._by_frame: dict = {}  # frame -> RFrame, for ``chain`` (session frames hash by identity)
        self.known = self._by_frame  # (session frames converted already)
        self.known_get = self._by_frame.get  # (a frame converted already, or None)
        self._header_rank = {name: i for i, name in enumerate(dict.fromkeys(build_id_files))}
        self._seen_rank: dict[str, int] = {}
        self._dso_ranks: dict = {}  # session Dso -> its dso_rank (``_convert``)
        self._rank_of = lambda dso_obj, dso_name: self.dso_rank(getattr(dso_obj, "long_name", dso_name), dso_obj.order)
        self.inlined_seen = False  # some frame converted is an inlined function's (report.hist lists more)

    def c_convert(self) -> tuple | None:
        """What report.builder's C loop (perfdata/_speedups_report.c builder_adds) needs to convert a session frame
        as ``get`` does, with rframe_convert's work: (session frame class, RFrame, dso ranks, rank_of, object_of,
        file_start_of); None without the C conversion (``_C_CONVERT``)."""
        if _C_CONVERT is None:
            return None
        return _SessionFrame, RFrame, self._dso_ranks, self._rank_of, _object_symbol, _file_start

    def dso_rank(self, long_name: str | None, session_order: int | None) -> tuple[int, int]:
        if long_name is None:
            return (-1, -1)
        header = self._header_rank.get(long_name)
        if header is not None:
            return (0, header)
        if session_order is None:
            session_order = self._seen_rank.setdefault(long_name, len(self._seen_rank))
        return (1, session_order)

    def get(self, frame) -> RFrame:
        if type(frame) is _SessionFrame:  # (hashed by identity: kept by the frame itself, in one dict)
            rf = self._by_frame.get(frame)
            if rf is None:
                rf = self._by_frame[frame] = self._convert(frame)
            return rf
        hit = self._by_id.get(id(frame))
        if hit is not None and hit[0] is frame:
            return hit[1]
        rf = self._convert(frame)
        self._by_id[id(frame)] = (frame, rf)  # keeps the frame alive, so its id stays unique
        if type(frame).__hash__ is object.__hash__:  # identity-hashed (session frames): ``chain`` may use it
            self._by_frame[frame] = rf
        return rf

    def chain(self, frames: Sequence) -> tuple[RFrame, ...]:
        """``get`` of every frame of a chain: the session's frames hash by identity, so once each one is
        known the whole chain is a C loop over one dict (``_by_frame``: 18 frames a chain in a make
        build, 114K look-ups)."""
        known = self._by_frame
        got = tuple(map(known.get, frames))
        if None not in got:  # (RFrames compare by identity: a C scan)
            return got
        # a frame not converted yet, or not hashed by identity
        get = self.get
        return tuple([rf if rf is not None else get(frame) for rf, frame in zip(got, frames)])

    def _convert(self, frame) -> RFrame:
        """A ``session.frames.Frame`` (dso, sym, avma, file_offset, sym_start, inlined, dso_obj, dso_order),
        or any object with those names."""
        if type(frame) is _SessionFrame:  # (its fields read at once, its dso's rank found once per dso)
            if _C_CONVERT is not None:  # (perfdata/_speedups_report.c rframe_convert: this code's C twin)
                rf = _C_CONVERT(frame, RFrame, self._dso_ranks, self._rank_of, _object_symbol, _file_start)
                if rf.inlined:
                    self.inlined_seen = True
                return rf
            dso_obj = frame.dso_obj
            if dso_obj is None:
                dso_name, rank = None, (-1, -1)
            else:
                dso_name = frame.dso
                rank = self._dso_ranks.get(dso_obj)
                if rank is None:
                    rank = self._dso_ranks[dso_obj] = self._rank_of(dso_obj, dso_name)
            name, inlined, avma, file_offset = frame.sym, frame.inlined, frame.avma, frame.file_offset
            object_sym = object_start = None
            sym_start = frame.sym_start or 0
            if name is not None:
                if inlined:
                    self.inlined_seen = True
                resolved = frame.resolved
                if resolved is not None:
                    object_sym = getattr(resolved, "object", None)
                    if object_sym is None:
                        object_sym = _object_symbol(frame, dso_obj)
                    if object_sym:
                        object_start = _file_start(sym_start, dso_obj)
            return RFrame._of(name, inlined, dso_name, rank, sym_start, avma,
                              file_offset if file_offset is not None else avma, frame.level, bool(object_sym),
                              object_start)
        if isinstance(frame, RFrame):
            return frame
        dso_obj = getattr(frame, "dso_obj", None)
        dso_name = frame.dso if dso_obj is not None else None
        long_name = getattr(dso_obj, "long_name", dso_name) if dso_obj is not None else None
        rank = self.dso_rank(long_name, getattr(frame, "dso_order", None))
        file_offset = getattr(frame, "file_offset", None)
        name = frame.sym
        object_sym = name is not None and _object_symbol(frame, dso_obj)
        sym_start = frame.sym_start or 0
        object_start = _file_start(sym_start, dso_obj) if object_sym else None
        avma = frame.avma
        if name is not None and frame.inlined:
            self.inlined_seen = True
        return RFrame._of(name, frame.inlined, dso_name, rank, sym_start, avma,
                          file_offset if file_offset is not None else avma, getattr(frame, "level", "."),
                          object_sym, object_start)
