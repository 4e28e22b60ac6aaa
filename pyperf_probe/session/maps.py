"""A process's address space as perf rebuilds it from MMAP/MMAP2 records (tools/perf/util/maps.c).

``Maps`` keeps non-overlapping ``Map`` ranges sorted by start avma. Inserting a map trims or splits the
older maps it overlaps (``maps__fixup_overlappings``): exec'ing a new image, or re-mmapping a range,
replaces what was there and nothing else. Maps are immutable, so a FORK copies the list, not the maps,
and the copies share them (and the frames interned per map).

Lookup (``find``) is a bisect on the sorted starts: the per-frame hot path.
"""
from __future__ import annotations

import bisect


class Map:
    """``[start, end)`` of avmas backed by ``dso`` from file offset ``pgoff`` (``struct map``).

    ``file_offset(avma)`` is perf's ``map__map_ip``: ``avma - start + pgoff``, or the avma itself for the
    ``identity`` maps of anonymous memory (perf's ``identity__map_ip``)."""

    __slots__ = ("start", "end", "pgoff", "dso", "prot", "flags", "identity")

    def __init__(self, start: int, end: int, pgoff: int, dso, prot: int = 0, flags: int = 0,
                 identity: bool = False):
        self.start, self.end, self.pgoff, self.dso, self.prot, self.flags = start, end, pgoff, dso, prot, flags
        self.identity = identity

    def file_offset(self, avma: int) -> int:
        return avma if self.identity else avma - self.start + self.pgoff

    def with_range(self, start: int, end: int) -> "Map":
        """The part ``[start, end)`` of this map (pgoff moved with the start)."""
        return Map(start, end, self.pgoff + (start - self.start), self.dso, self.prot, self.flags, self.identity)

    def __repr__(self) -> str:
        return f"Map({self.start:#x}-{self.end:#x} @ {self.pgoff:#x} {self.dso!r})"


class Maps:
    """The maps of one process (``struct maps``), shared by its threads."""

    __slots__ = ("_starts", "_maps", "generation")

    def __init__(self):
        self._starts: list[int] = []
        self._maps: list[Map] = []
        self.generation = 0  # bumped on every change: callers may cache lookups per generation

    def __len__(self) -> int:
        return len(self._maps)

    def __iter__(self):
        return iter(self._maps)

    def find(self, avma: int) -> Map | None:
        """The map holding ``avma`` (``maps__find``), or None."""
        i = bisect.bisect_right(self._starts, avma) - 1
        if i >= 0:
            m = self._maps[i]
            if avma < m.end:
                return m
        return None

    def insert(self, new: Map) -> None:
        """Add ``new``, trimming or splitting the maps it overlaps (``maps__fixup_overlappings``). A map
        that overlaps none (a new process's images, most MMAPs of a system-wide recording) goes in at its
        place by one bisect; ``_insert_overlapping`` is the general path (and gives the same list)."""
        start, end = new.start, new.end
        if end <= start:
            return
        starts = self._starts
        i = bisect.bisect_right(starts, start)
        if (i == 0 or self._maps[i - 1].end <= start) and (i == len(starts) or starts[i] >= end):
            starts.insert(i, start)
            self._maps.insert(i, new)
            self.generation += 1
            return
        self._insert_overlapping(new)

    def _insert_overlapping(self, new: Map) -> None:
        """``insert``'s general path: trim or split every map in the range ``new`` may touch."""
        if new.end <= new.start:
            return
        lo = bisect.bisect_right(self._starts, new.start) - 1
        lo = max(lo, 0)
        hi = bisect.bisect_left(self._starts, new.end)
        kept: list[Map] = []
        for old in self._maps[lo:hi]:
            if old.end <= new.start or old.start >= new.end:
                kept.append(old)
                continue
            if old.start < new.start:
                kept.append(old.with_range(old.start, new.start))
            if old.end > new.end:
                kept.append(old.with_range(new.end, old.end))
        kept.append(new)
        kept.sort(key=_start)
        self._maps[lo:hi] = kept
        self._starts[lo:hi] = [m.start for m in kept]
        self.generation += 1

    def remove(self, old: Map) -> None:
        """Take ``old`` (this very object) out, if it is here (``maps__remove``)."""
        i = bisect.bisect_left(self._starts, old.start)
        while i < len(self._maps) and self._starts[i] == old.start:
            if self._maps[i] is old:
                del self._maps[i], self._starts[i]
                self.generation += 1
                return
            i += 1

    def copy(self) -> "Maps":
        """A new process's maps after fork (``maps__clone``): the same Map objects."""
        other = _new(Maps)
        other._starts = self._starts[:]
        other._maps = self._maps[:]
        other.generation = 0
        return other


_new = object.__new__


def _start(m: Map) -> int:
    return m.start
