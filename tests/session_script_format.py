"""`perf script -F comm,pid,tid,time,ip,sym,dso` text for a session's samples: the oracle format the
session goldens are compared in (tools/perf/builtin-script.c ``perf_sample__fprintf_start`` and
util/evsel_fprintf.c ``sample__fprintf_callchain``). Test support only; ``pyperf script`` is elsewhere."""
from __future__ import annotations

from typing import Iterable, Iterator


def _frame_line(frame) -> str:
    # perf prints the map-relative address ("binary offset") for user frames with a map, else the avma
    ip = frame.file_offset if frame.file_offset is not None else frame.avma
    sym = frame.sym if frame.sym is not None else "[unknown]"
    if frame.inlined:  # perf prints no dso after an inlined frame
        return f"\t{ip:16x} {sym} (inlined)\n"
    dso = frame.dso_obj.long_name if frame.dso_obj is not None else "[unknown]"
    return f"\t{ip:16x} {sym} ({dso})\n"


def _time(ns: int) -> str:
    return f"{ns // 1000000000}.{ns % 1000000000 // 1000:06d}"


def script_lines(samples: Iterable, has_callchain: bool, with_time: bool = True) -> Iterator[str]:
    """One string per sample: its header line and, with call chains, its frame lines and a blank line."""
    for s in samples:
        t = s.thread
        comm = f"{t.comm} " if has_callchain else f"{t.comm:>16} "
        head = f"{comm}{t.pid:5d}/{t.tid:<5d} " + (f"{_time(s.sample.time):>12}: " if with_time else "")
        if has_callchain:
            yield head + "\n" + "".join(_frame_line(f) for f in s.chain) + "\n"
        else:
            loc = s.location
            sym = loc.sym if loc.sym is not None else "[unknown]"
            dso = loc.dso_obj.long_name if loc.dso_obj is not None else "[unknown]"
            yield f"{head} {s.sample.ip:16x} {sym} ({dso})\n"
