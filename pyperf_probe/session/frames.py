"""Resolved call-chain frames, interned: one ``Frame`` object per (map, avma), so identical chains are
tuples of identical objects and report can aggregate them by identity.

A frame is what perf's ``callchain_cursor_node`` holds after ``add_callchain_ip``/``append_inlines``
(tools/perf/util/machine.c): the avma, the map's dso, the symbol (None when unresolved: report prints the
avma, ``%#llx``), and for inline expansion one extra frame per inlined function, flagged ``inlined``
(report appends `` (inlined)``). ``sym_start`` and ``dso_order`` are what perf's ``match_chain`` compares
to order equal siblings (perf-formats.md §2.4).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from pyperf_probe.session.dsos import UNKNOWN_NAME
from pyperf_probe.session.maps import Map


class Frame:
    """One frame of a resolved chain (see the module docstring). Do not build these: ``FrameTable``
    interns them.

    * ``dso``: short name (``[unknown]`` without a map); ``dso_obj``: the ``Dso`` (None without a map);
    * ``sym``: the printed (demangled) name, or None; ``symbol``: the ``Symbol`` object, or None;
    * ``avma``; ``file_offset``: ``avma - map.start + map.pgoff`` (what ``perf script`` prints as ip),
      None without a map; ``sym_start``: the symbol's start svma;
    * ``inlined``: an inlined function's frame (from DWARF inline info).
    """

    __slots__ = ("dso", "sym", "avma", "file_offset", "sym_start", "inlined", "dso_obj", "symbol")

    def __init__(self, dso: str, sym: Optional[str], avma: int, file_offset: Optional[int],
                 sym_start: Optional[int], inlined: bool, dso_obj, symbol):
        self.dso, self.sym, self.avma, self.file_offset = dso, sym, avma, file_offset
        self.sym_start, self.inlined, self.dso_obj, self.symbol = sym_start, inlined, dso_obj, symbol

    @property
    def dso_order(self) -> int:
        return -1 if self.dso_obj is None else self.dso_obj.order

    def __repr__(self) -> str:
        name = self.sym if self.sym is not None else f"{self.avma:#x}"
        return f"Frame({name}{' (inlined)' if self.inlined else ''} in {self.dso})"


class FrameTable:
    """The interning table: ``frames(map, avma)`` -> the tuple of frames (inlined ones first, then the
    function itself) for that address; ``location(map, avma)`` -> the function's frame alone.

    ``inline_lookup(dso, file_offset, resolved)`` returns the names of the inlined functions at an address,
    innermost first (empty for none); it is None when inline expansion is off."""

    def __init__(self, inline_lookup=None):
        self._frames: Dict[Tuple[Optional[Map], int], Tuple[Frame, ...]] = {}
        self._inline_lookup = inline_lookup

    def __len__(self) -> int:
        return len(self._frames)

    def frames(self, map_: Optional[Map], avma: int) -> Tuple[Frame, ...]:
        key = (map_, avma)
        got = self._frames.get(key)
        if got is None:
            got = self._frames[key] = self._make(map_, avma)
        return got

    def location(self, map_: Optional[Map], avma: int) -> Frame:
        return self.frames(map_, avma)[-1]

    def _make(self, map_: Optional[Map], avma: int) -> Tuple[Frame, ...]:
        if map_ is None:
            return (Frame(UNKNOWN_NAME, None, avma, None, None, False, None, None),)
        dso = map_.dso
        file_offset = map_.file_offset(avma)
        res = dso.resolve(file_offset)
        if res is None:
            return (Frame(dso.short_name, None, avma, file_offset, None, False, dso, None),)
        own = Frame(dso.short_name, res.name, avma, file_offset, res.start, False, dso, res.symbol)
        if self._inline_lookup is None:
            return (own,)
        names = self._inline_lookup(dso, file_offset, res)
        if not names:
            return (own,)
        inlined = tuple(Frame(dso.short_name, name, avma, file_offset, res.start, True, dso, None)
                        for name in names)
        return inlined + (own,)
