"""The ``probes`` file of a build-id cache directory: perf's probe cache (tools/perf/util/probe-file.c).

One entry per event: a header line, then the ``uprobe_events`` lines of that event, sorted (perf keeps them
in a ``strlist``, which orders by ``strcmp`` and drops duplicates)::

    %sdt_tick:loop2=loop2                                        '%' an SDT marker, '#' a `perf probe --cache` entry
    p:sdt_tick/loop2 /tmp/tick:0x126b(0x3028) arg1=-4(%bp):s32

``perf buildid-cache --add`` writes an entry per SDT marker (``probe_cache__scan_sdt``); entries already in
the file (from ``perf probe --cache``) are kept, and a marker found again gains its lines in its entry.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Iterable, List, Optional, Tuple

from pyperf_probe.errors import SymbolError

PROBES_FILE = "probes"


@dataclasses.dataclass(frozen=True)
class ProbeCacheEntry:
    """One event of the cache: ``spev`` is what follows the ``%``/``#`` (``sdt_tick:loop2=loop2``)."""

    spev: str
    sdt: bool
    commands: Tuple[str, ...]       # sorted, unique uprobe_events lines

    @property
    def group(self) -> Optional[str]:
        return _name_of(self.spev)[0]

    @property
    def event(self) -> Optional[str]:
        return _name_of(self.spev)[1]

    def text(self) -> str:
        return ("%" if self.sdt else "#") + self.spev + "\n" + "".join(c + "\n" for c in self.commands)


def _name_of(spev: str) -> Tuple[Optional[str], Optional[str]]:
    """(group, event) of a perf probe command ``[[GROUP:]EVENT=]POINT``; SDT entries always have both."""
    head, eq, _ = spev.partition("=")
    if not eq:
        return None, None
    group, colon, event = head.rpartition(":")
    return (group if colon else None), event


def load(path: str) -> List[ProbeCacheEntry]:
    """The entries of a ``probes`` file ([] when it is absent or empty)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SymbolError(f"Failed to read the probe cache {path}: {exc.strerror}", errno=exc.errno) from None
    entries: List[ProbeCacheEntry] = []
    for line in lines:
        if line[:1] in ("%", "#"):
            entries.append(ProbeCacheEntry(line[1:], line[0] == "%", ()))
        elif line:
            if not entries:
                raise SymbolError(f"{path}: probe cache line without an event header: {line!r}")
            last = entries[-1]
            entries[-1] = dataclasses.replace(last, commands=tuple(sorted(set(last.commands) | {line})))
    return entries


def merge_sdt(entries: List[ProbeCacheEntry], found: Iterable[Tuple[str, str, str]]) -> List[ProbeCacheEntry]:
    """``probe_cache__scan_sdt``: for each (group, event, command) of the file's markers, add the command
    to the entry of that group:event, creating ``%GROUP:EVENT=EVENT`` at the end when there is none."""
    out = list(entries)
    for group, event, command in found:
        for i, entry in enumerate(out):
            if entry.group == group and entry.event == event:
                out[i] = dataclasses.replace(entry, commands=tuple(sorted(set(entry.commands) | {command})))
                break
        else:
            out.append(ProbeCacheEntry(f"{group}:{event}={event}", True, (command,)))
    return out


def save(path: str, entries: Iterable[ProbeCacheEntry]) -> None:
    """Rewrite the ``probes`` file (``probe_cache__commit``), through a temporary file and rename so a
    reader never sees half of it."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(e.text() for e in entries))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SymbolError(f"Failed to write the probe cache {path}: {exc.strerror}", errno=exc.errno) from None
