"""What the kernel gets: one ``uprobe_events`` line (perf's ``struct probe_trace_event``).

``p:GROUP/EVENT PATH:0xOFFSET[(0xREF_CTR)] ARGS`` (``r:`` for a return probe), written by
:meth:`UprobeDef.text` exactly as perf's ``synthesize_probe_trace_command`` does, and read back from the
kernel's listing (``p:GRP/EV PATH:0x%016lx ARGS``) by :func:`parse_uprobe_line` (``parse_probe_trace_command``).
Documentation/trace/uprobetracer.rst; perf-formats.md §4.1.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.args import TraceArg


@dataclasses.dataclass(frozen=True)
class UprobeDef:
    """A uprobe as the kernel takes it. ``file_offset`` is the offset in ``path`` (not an address).

    ``realname`` is the symbol or DWARF function the location came from (perf's ``tp->realname``), used to
    name events of glob or address probes; ``symbol``/``offset`` say where it is for messages."""

    path: str
    file_offset: int
    retprobe: bool = False
    args: Tuple[TraceArg, ...] = ()
    group: Optional[str] = None
    event: Optional[str] = None
    realname: Optional[str] = None
    symbol: Optional[str] = None
    offset: int = 0
    ref_ctr_offset: int = 0

    def text(self) -> str:
        """perf's ``synthesize_probe_trace_command`` for a uprobe."""
        if not self.group or not self.event:
            raise ProbeError("Internal error: an unnamed probe cannot be written")
        out = f"{'r' if self.retprobe else 'p'}:{self.group}/{self.event} {self.path}:0x{self.file_offset:x}"
        if self.ref_ctr_offset:
            out += f"(0x{self.ref_ctr_offset:x})"
        return out + "".join(" " + a.text() for a in self.args)

    def named(self, group: str, event: str) -> "UprobeDef":
        return dataclasses.replace(self, group=group, event=event)


def parse_uprobe_line(line: str) -> Optional[UprobeDef]:
    """A line of ``uprobe_events`` (``p:GRP/EV PATH:0x0000000000001169 arg1=%di``); None if not a uprobe."""
    words = line.split()
    if len(words) < 2 or ":" not in words[0] or "/" not in words[0]:
        return None
    kind, _, name = words[0].partition(":")
    group, _, event = name.partition("/")
    path, sep, where = words[1].rpartition(":")
    if not sep or not path.startswith("/"):
        return None
    ref = 0
    if "(" in where:
        where, _, ref_text = where.partition("(")
        ref = int(ref_text.rstrip(")"), 0)
    try:
        file_offset = int(where, 16)
    except ValueError:
        return None
    args = []
    for word in words[2:]:
        name_, eq, value = word.partition("=")
        args.append(TraceArg(value=value, name=name_) if eq else TraceArg(value=word))
    return UprobeDef(path=path, file_offset=file_offset, retprobe=kind == "r", args=tuple(args),
                     group=group, event=event, ref_ctr_offset=ref)
