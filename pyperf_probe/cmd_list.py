"""``pyperf list``: the events pyperf can use, printed as ``perf list`` prints them.

    pyperf list                      tracepoints (probe_*, sdt_* uprobe events included), then cached SDT markers
    pyperf list tracepoint           tracepoints only
    pyperf list sdt                  SDT markers of the build-id cache (``pyperf buildid-cache --add``)
    pyperf list 'GROUP:EVENT'        both, filtered by globs on group and event (``probe_*:*``)
    pyperf list WORD                 both, events whose name contains WORD

Lines are ``"  %-50s [%s]"`` sorted by ``group:event`` (tools/perf/util/print-events.c
``print_tracepoint_events``, ``print_sdt_events``); ``--raw-dump`` prints the names separated by spaces. An SDT
marker cached from two binaries (two build-ids) is shown as ``GROUP:EVENT@PATH(BUILDID12)``, as perf does.

Where perf differs: perf also lists hardware, software, cache and PMU events; pyperf counts and records
tracepoints and uprobes only, so it lists those.
"""
from __future__ import annotations

import collections
import fnmatch
import sys
from typing import List, Optional, Tuple

from pyperf_probe.errors import UsageError

USAGE = """
 Usage: pyperf list [<options>] [tracepoint|sdt|GROUP:EVENT|WORD]

        --raw-dump        Dump raw events

 Examples:
    pyperf list                         # every tracepoint and cached SDT marker
    pyperf list 'probe_*:*'             # the uprobes added by pyperf probe / perf probe
    pyperf list sdt                     # SDT markers cached by 'pyperf buildid-cache --add FILE'
    pyperf list sched                   # events whose name contains 'sched'
"""

TRACEPOINT = "Tracepoint event"
SDT = "SDT event"


def _line(name: str, kind: str) -> str:
    return f"  {name:<50} [{kind}]\n"


def tracepoint_names(group_glob: Optional[str], event_glob: Optional[str]) -> List[str]:
    """``group:event`` of every tracefs event matching the globs, sorted as perf sorts them (strcmp)."""
    from pyperf_probe.kernel import tracefs

    pairs = tracefs.list_events(f"{group_glob or '*'}:{event_glob or '*'}")
    return sorted(f"{g}:{e}" for g, e in pairs)


def sdt_names(group_glob: Optional[str], event_glob: Optional[str]) -> List[Tuple[str, str]]:
    """(``group:event``, build-id) of each cached SDT marker matching the globs, from valid build-ids only,
    sorted by ``group:event@build-id`` (perf's strlist of those strings)."""
    from pyperf_probe.symbols import probe_cache
    from pyperf_probe.symbols.buildid_cache import BuildIdCache

    found = set()
    for cached in BuildIdCache().entries(valid_only=True):
        for entry in probe_cache.load(cached.probes):
            if not entry.sdt:
                continue
            if group_glob and not fnmatch.fnmatchcase(entry.group or "", group_glob):
                continue
            if event_glob and not fnmatch.fnmatchcase(entry.event or "", event_glob):
                continue
            found.add(f"{entry.group}:{entry.event}@{cached.build_id}")
    return [tuple(s.split("@", 1)) for s in sorted(found)]


def sdt_lines(markers: List[Tuple[str, str]]) -> List[str]:
    """perf's rendering: a name shared by several build-ids gets ``@PATH(BUILDID12)`` on each copy."""
    from pyperf_probe.symbols.buildid_cache import BuildIdCache

    cache = BuildIdCache()
    copies = collections.Counter(name for name, _ in markers)
    out = []
    for name, build_id in markers:
        if copies[name] > 1:
            name = f"{name}@{cache.origname(build_id)}({build_id[:12]})"
        out.append(_line(name, SDT))
    return out


def _sections(word: str) -> Tuple[bool, bool, Optional[str], Optional[str]]:
    """(tracepoints?, sdt?, group glob, event glob) for one command-line word, as builtin-list.c reads it."""
    if word == "tracepoint":
        return True, False, None, None
    if word == "sdt":
        return False, True, None, None
    if ":" in word:
        group, _, event = word.partition(":")
        return True, True, group, event
    return True, True, None, f"*{word}*"


def main(argv: List[str], opts) -> int:
    raw = "--raw-dump" in argv
    words = [a for a in argv if a != "--raw-dump"]
    if any(w in ("-h", "--help") for w in words):
        sys.stdout.write(USAGE)
        return 0
    bad = [w for w in words if w.startswith("-")]
    if bad:
        raise UsageError(f"  Error: unknown option `{bad[0].lstrip('-')}'", usage=USAGE.strip("\n"))
    out = []
    for word in words or [None]:
        tracepoints, sdt, group, event = (True, True, None, None) if word is None else _sections(word)
        if tracepoints:
            names = tracepoint_names(group, event)
            out += [n + " " for n in names] if raw else [_line(n, TRACEPOINT) for n in names]
        if sdt:
            markers = sdt_names(group, event)
            out += [n + " " for n, _ in markers] if raw else sdt_lines(markers)
    sys.stdout.write("".join(out))
    return 0
