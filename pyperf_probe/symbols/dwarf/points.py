"""What DwarfInfo answers probe's questions with (``pyperf_probe.symbols.dwarf.info`` offers both names):
apart from info.py so that report's inline frames, which use neither, never import dataclasses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class ProbePoint:
    """perf's ``debuginfo__find_probe_point``: the function (and its file) holding an address, with either
    a line relative to the function's declaration or, failing that, an offset from its entry."""
    function: Optional[str]
    file: Optional[str]
    line: int
    offset: int



@dataclass(frozen=True)
class VariableList:
    """What ``perf probe -V`` shows for one site: ``@<symbol+offset>`` and "type\\tname" lines, sorted."""
    symbol: str
    offset: int
    variables: Tuple[str, ...]
