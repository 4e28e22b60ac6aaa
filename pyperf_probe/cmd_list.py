"""``pyperf list``: the events pyperf can use, printed as ``perf list`` 6.1 prints them.

    pyperf list                  every class: hardware, software, tool, hardware cache, kernel PMU events,
                                 the raw and breakpoint descriptors, tracepoints, SDT markers
    pyperf list hw|sw|cache|pmu|tracepoint|sdt     one class
    pyperf list 'GROUP:EVENT'    tracepoints and SDT markers, by globs on group and event (``probe_*:*``)
    pyperf list WORD             events named WORD (symbols, by name or alias) or containing it

Lines are ``"  %-50s [%s]"`` (tools/perf/util/print-events.c); symbols as ``context-switches OR cs``, sorted,
and only those this machine can count (perf opens each to see: a VM without a PMU lists no hardware or
cache event); tracepoints sorted by ``group:event``. ``--raw-dump`` prints the names separated by spaces.
An SDT marker cached from two binaries (two build-ids) is shown as ``GROUP:EVENT@PATH(BUILDID12)``, as perf does.

Where perf differs: perf also prints the metric groups of its built-in CPU tables (pmu-events JSON), which
pyperf does not carry.
"""
from __future__ import annotations

import collections
import fnmatch
import sys
from typing import List, Optional, Tuple


EXAMPLES = """
    pyperf list                         # every tracepoint and cached SDT marker
    pyperf list 'probe_*:*'             # the uprobes added by pyperf probe / perf probe
    pyperf list sdt                     # SDT markers cached by 'pyperf buildid-cache --add FILE'
    pyperf list sched                   # events whose name contains 'sched'
"""

TRACEPOINT = "Tracepoint event"
SDT = "SDT event"
HARDWARE = "Hardware event"
SOFTWARE = "Software event"
TOOL = "Tool event"
CACHE = "Hardware cache event"
KERNEL_PMU = "Kernel PMU event"
DESCRIPTORS = [("rNNN", "Raw hardware event descriptor"),
               ("cpu/t1=v1[,t2=v2,t3 ...]/modifier", "Raw hardware event descriptor"),
               ("mem:<addr>[/len][:access]", "Hardware breakpoint")]


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


def _supported(type_: int, config: int) -> bool:
    """perf's ``is_event_supported``: the kernel opens the event on this process (user space only)."""
    from pyperf_probe.events.evsel import Evsel
    from pyperf_probe.record.selection import supported
    return supported(Evsel(type=type_, config=config))


def _glob_match(name: str, glob: Optional[str]) -> bool:
    return glob is None or fnmatch.fnmatchcase(name, glob)


def symbol_entries(type_: int, glob: Optional[str] = None) -> List[Tuple[str, str]]:
    """(name as perf lists it, name for --raw-dump) of the supported hardware or software symbols, sorted
    (``print_symbol_events``); a glob matches the name or its alias."""
    from pyperf_probe.events import tables
    names, aliases = (tables.HW_NAMES, tables.HW_ALIASES) if type_ == tables.HARDWARE else \
        (tables.SW_NAMES, tables.SW_ALIASES)
    out = []
    for config, name in names.items():
        alias = aliases.get(config)
        if glob is not None and not (_glob_match(name, glob) or (alias and _glob_match(alias, glob))):
            continue
        if _supported(type_, config):
            out.append((f"{name} OR {alias}" if alias else name, name))
    return sorted(out)


def cache_entries(glob: Optional[str] = None) -> List[str]:
    from pyperf_probe.events import tables
    return sorted(name for name, config in tables.all_cache_events()
                  if _glob_match(name, glob) and _supported(tables.HW_CACHE, config))


def pmu_entries(glob: Optional[str] = None) -> List[str]:
    """``PMU/EVENT/`` of the kernel PMU events in sysfs; a word matches as part of the name."""
    from pyperf_probe.events import pmu
    return sorted(e for e in pmu.kernel_pmu_events() if glob is None or fnmatch.fnmatchcase(e, f"*{glob}*"))


def _class_lines(word: Optional[str], raw: bool) -> List[str]:
    """hw, sw, cache, pmu, or (None / a word) every class but the tracepoints and SDT markers."""
    from pyperf_probe.events import tables
    out: List[str] = []

    def add(entries, kind):
        out.extend(f"{dump} " if raw else _line(name, kind) for name, dump in entries)
    glob = None if word in (None, "hw", "hardware", "sw", "software", "cache", "hwcache", "pmu") else word
    if word in (None, "hw", "hardware") or glob:
        add(symbol_entries(tables.HARDWARE, glob), HARDWARE)
    if word in (None, "sw", "software") or glob:
        add(symbol_entries(tables.SOFTWARE, glob), SOFTWARE)
    if word in (None, "sw", "software"):
        add([(t, t) for t in tables.TOOL_EVENTS], TOOL)
    elif glob:
        add([(t, t) for t in tables.TOOL_EVENTS if _glob_match(t, glob)], TOOL)
    if word in (None, "cache", "hwcache") or glob:
        add([(n, n) for n in cache_entries(glob)], CACHE)
    if word in (None, "pmu") or glob:
        add([(n, n) for n in pmu_entries(glob)], KERNEL_PMU)
    if word is None and not raw:
        out += [_line(name, kind) for name, kind in DESCRIPTORS]
    return out


CLASS_WORDS = ("hw", "hardware", "sw", "software", "cache", "hwcache", "pmu")


def _sections(word: str) -> Tuple[bool, bool, Optional[str], Optional[str]]:
    """(tracepoints?, sdt?, group glob, event glob) for one command-line word, as builtin-list.c reads it."""
    if word == "tracepoint":
        return True, False, None, None
    if word == "sdt":
        return False, True, None, None
    if word in CLASS_WORDS:
        return False, False, None, None
    if ":" in word:
        group, _, event = word.partition(":")
        return True, True, group, event
    return True, True, None, f"*{word}*"


def _parse(argv: List[str]) -> Tuple[bool, List[str]]:
    """(--raw-dump?, the words) by perf's walk over perf list's table (STOP_AT_NON_OPTION: a word ends the
    options). -d/--desc is perf's default and changes nothing here (pyperf prints no descriptions); the
    other options are refused in perf's words."""
    from pyperf_probe import parse_options as po
    raw = [False]

    def on_option(occ) -> None:
        if occ.option.long == "raw-dump":
            raw[0] = not occ.unset

    words = po.parse_command(po.perf_table("list"), argv, on_option,
                             lambda opt: None if opt.long in ("raw-dump", "desc") else po.NOT_IMPLEMENTED,
                             " Examples:\n" + EXAMPLES.lstrip("\n"))
    return raw[0], words


def main(argv: List[str], opts) -> int:
    raw, words = _parse(argv)
    out = []
    for word in words or [None]:
        if word is None or word in CLASS_WORDS or (":" not in word and word not in ("tracepoint", "sdt")):
            out += _class_lines(word, raw)
        tracepoints, sdt, group, event = (True, True, None, None) if word is None else _sections(word)
        if tracepoints:
            names = tracepoint_names(group, event)
            out += [n + " " for n in names] if raw else [_line(n, TRACEPOINT) for n in names]
        if sdt:
            markers = sdt_names(group, event)
            out += [n + " " for n, _ in markers] if raw else sdt_lines(markers)
    sys.stdout.write("".join(out))
    return 0
