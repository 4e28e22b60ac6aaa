"""Resolved call-chain frames, interned: one ``Frame`` object per (map, avma), so identical chains are
tuples of identical objects and report can aggregate them by identity.

A frame is what perf's ``callchain_cursor_node`` holds after ``add_callchain_ip``/``append_inlines``
(tools/perf/util/machine.c): the avma, the map's dso, the symbol (None when unresolved: report prints the
avma, ``%#llx``), and for inline expansion one extra frame per inlined function, flagged ``inlined``
(report appends `` (inlined)``). ``sym_start`` and ``dso_order`` are what perf's ``match_chain`` compares
to order equal siblings (perf-formats.md §2.4).
"""
from __future__ import annotations

from pyperf_probe.session.dsos import UNKNOWN_NAME
from pyperf_probe.session.maps import Map


class Frame:
    """One frame of a resolved chain (see the module docstring). Do not build these: ``FrameTable``
    interns them.

    * ``dso``: short name (``[unknown]`` without a map); ``dso_obj``: the ``Dso`` (None without a map);
    * ``sym``: the printed (demangled) name, or None; ``symbol``: the ``Symbol`` object, or None;
    * ``avma``; ``file_offset``: ``avma - map.start + map.pgoff`` (what ``perf script`` prints as ip),
      None without a map; ``sym_start``: the symbol's start svma;
    * ``inlined``: an inlined function's frame (from DWARF inline info);
    * ``level``: perf's ``al->level``, ``k`` in a kernel map, ``.`` in a process's, and without a map the
      cpumode's it was looked up for (``k``, ``.``, ``H``).
    """

    __slots__ = ("dso", "sym", "avma", "file_offset", "sym_start", "inlined", "dso_obj", "resolved", "level")

    def __init__(self, dso: str, sym: str | None, avma: int, file_offset: int | None,
                 sym_start: int | None, inlined: bool, dso_obj, resolved, level: str = "."):
        self.dso, self.sym, self.avma, self.file_offset = dso, sym, avma, file_offset
        self.sym_start, self.inlined, self.dso_obj, self.resolved = sym_start, inlined, dso_obj, resolved
        self.level = level

    @property
    def symbol(self):
        """The ``Symbol`` (None for an unresolved or inlined frame), from the symbol table when the
        answer came from the disk cache (``dsos.Resolved``)."""
        return None if self.resolved is None else self.resolved.symbol

    @property
    def dso_order(self) -> int:
        return -1 if self.dso_obj is None else self.dso_obj.order

    def __repr__(self) -> str:
        name = self.sym if self.sym is not None else f"{self.avma:#x}"
        return f"Frame({name}{' (inlined)' if self.inlined else ''} in {self.dso})"


class FrameTable:
    """The interning table: ``frames(map, avma)`` -> (the frame,); ``frames_inlined(map, avma)`` -> the
    inline frames and the function's frame; ``location(map, avma)`` -> the function's frame.

    ``inline_lookup(dso, file_offset)`` returns the function names DWARF gives for an address (addr2line
    -i), innermost first and the containing function last, or () without DWARF; it is None when inline
    expansion is off. As in perf's ``append_inlines``, those names replace the frame: the one equal to the
    ELF symbol's name is the symbol's own frame, the others are inlined frames."""

    def __init__(self, inline_lookup=None):
        self._frames: dict[tuple[Map | None, int], Frame] = {}  # (the frame itself: no 1-tuple each)
        self._inlined: dict[tuple[Map | None, int], tuple[Frame, ...]] = {}
        self._inline_lookup = inline_lookup

    def __len__(self) -> int:
        return len(self._frames) + len(self._inlined)

    def frames(self, map_: Map | None, avma: int, level: str = ".") -> tuple[Frame, ...]:
        """The frame of an address, alone (frame-pointer chains: perf 6.1's ``add_callchain_ip`` does not
        expand inline frames). ``level`` is the lookup's (``k``, ``.``, ``H``): an address without a map
        keeps it."""
        key = (map_ if map_ is not None else level, avma)
        got = self._frames.get(key)
        if got is None:
            got = self._frames[key] = self._make(map_, avma, level)
        return (got,)

    def frames_inlined(self, map_: Map | None, avma: int) -> tuple[Frame, ...]:
        """The frames of an address with its inline frames expanded (DWARF-unwound chains: perf 6.1's
        ``unwind_entry`` calls ``append_inlines``)."""
        key = (map_, avma)
        got = self._inlined.get(key)
        if got is None:
            own = self.frames(map_, avma)[0]
            got = self._inlined[key] = self._expand(map_, own) if self._inline_lookup else (own,)
        return got

    def frame(self, map_: Map | None, avma: int) -> Frame:
        """``frames(map_, avma)[0]`` (a user address's frame: frame-pointer chains' misses, locations)."""
        key = (map_ if map_ is not None else ".", avma)
        got = self._frames.get(key)
        if got is None:
            got = self._frames[key] = self._make(map_, avma, ".")
        return got

    def location(self, map_: Map | None, avma: int, level: str = ".") -> Frame:
        """``frames(map_, avma, level)[0]``; a kept frame is found without that call (once per sample)."""
        got = self._frames.get((map_ if map_ is not None else level, avma))
        if got is None:
            got = self.frames(map_, avma, level)[0]
        return got

    def _make(self, map_: Map | None, avma: int, level: str) -> Frame:
        if map_ is None:
            return Frame(UNKNOWN_NAME, None, avma, None, None, False, None, None, level)
        dso = map_.dso
        level = "k" if dso.is_kernel else "."
        file_offset = map_.file_offset(avma)
        res = dso.resolve(file_offset)
        if res is None:
            return Frame(dso.short_name, None, avma, file_offset, None, False, dso, None, level)
        return Frame(dso.short_name, res.name, avma, file_offset, res.start, False, dso, res, level)

    def _expand(self, map_: Map | None, own: Frame) -> tuple[Frame, ...]:
        if own.resolved is None:  # perf: no inline lookup without a map and a symbol
            return (own,)
        names = self._inline_lookup(own.dso_obj, own.file_offset)
        if not names:
            return (own,)
        # perf's new_inline_sym: a name equal to the ELF symbol's is that symbol, any other an inlined one
        return tuple(own if name == own.sym else
                     Frame(own.dso, name, own.avma, own.file_offset, own.sym_start, True, own.dso_obj, None,
                           own.level)
                     for name in names)
