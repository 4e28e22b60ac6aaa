"""perf's named events: hardware and software symbols with their aliases, and the hardware cache events
(tools/perf/util/parse-events.l, evsel.c ``evsel__hw_names``, ``evsel__sw_names``, ``evsel__hw_cache*``).

A hardware cache event's config is ``cache | (op << 8) | (result << 16)`` (perf_event.h
``PERF_TYPE_HW_CACHE``); its words are matched as perf's ``parse_aliases`` does: the longest alias that
starts the word, without regard to case.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

HARDWARE, SOFTWARE, HW_CACHE = 0, 1, 3

# (names, type, config): the first name is perf's; the lexer knows every name
_SYMBOLS: Tuple[Tuple[Tuple[str, ...], int, int], ...] = (
    (("cpu-cycles", "cycles"), HARDWARE, 0),
    (("stalled-cycles-frontend", "idle-cycles-frontend"), HARDWARE, 7),
    (("stalled-cycles-backend", "idle-cycles-backend"), HARDWARE, 8),
    (("instructions",), HARDWARE, 1),
    (("cache-references",), HARDWARE, 2),
    (("cache-misses",), HARDWARE, 3),
    (("branch-instructions", "branches"), HARDWARE, 4),
    (("branch-misses",), HARDWARE, 5),
    (("bus-cycles",), HARDWARE, 6),
    (("ref-cycles",), HARDWARE, 9),
    (("cpu-clock",), SOFTWARE, 0),
    (("task-clock",), SOFTWARE, 1),
    (("page-faults", "faults"), SOFTWARE, 2),
    (("minor-faults",), SOFTWARE, 5),
    (("major-faults",), SOFTWARE, 6),
    (("context-switches", "cs"), SOFTWARE, 3),
    (("cpu-migrations", "migrations"), SOFTWARE, 4),
    (("alignment-faults",), SOFTWARE, 7),
    (("emulation-faults",), SOFTWARE, 8),
    (("dummy",), SOFTWARE, 9),
    (("bpf-output",), SOFTWARE, 10),
    (("cgroup-switches",), SOFTWARE, 11),
)

SYMBOLS: Dict[str, Tuple[int, int]] = {name: (t, c) for names, t, c in _SYMBOLS for name in names}
SYMBOL_WORDS = tuple(SYMBOLS)

SW_CPU_CLOCK, SW_TASK_CLOCK, SW_DUMMY, SW_BPF_OUTPUT = 0, 1, 9, 10
HW_CPU_CYCLES = 0

# perf list's order and spelling: "context-switches OR cs" (print-events.c print_symbol_events)
HW_NAMES = {0: "cpu-cycles", 1: "instructions", 2: "cache-references", 3: "cache-misses",
            4: "branch-instructions", 5: "branch-misses", 6: "bus-cycles", 7: "stalled-cycles-frontend",
            8: "stalled-cycles-backend", 9: "ref-cycles"}
HW_ALIASES = {0: "cycles", 4: "branches", 7: "idle-cycles-frontend", 8: "idle-cycles-backend"}
SW_NAMES = {0: "cpu-clock", 1: "task-clock", 2: "page-faults", 3: "context-switches", 4: "cpu-migrations",
            5: "minor-faults", 6: "major-faults", 7: "alignment-faults", 8: "emulation-faults", 9: "dummy",
            10: "bpf-output", 11: "cgroup-switches"}
SW_ALIASES = {2: "faults", 3: "cs", 4: "migrations"}
EVSEL_HW_NAMES = {**HW_NAMES, 0: "cycles", 4: "branches"}  # evsel__hw_names: what perf calls them
TOOL_EVENTS = ("duration_time", "user_time", "system_time")

CACHE_TYPES: Tuple[Tuple[str, ...], ...] = (
    ("L1-dcache", "l1-d", "l1d", "L1-data"),
    ("L1-icache", "l1-i", "l1i", "L1-instruction"),
    ("LLC", "L2"),
    ("dTLB", "d-tlb", "Data-TLB"),
    ("iTLB", "i-tlb", "Instruction-TLB"),
    ("branch", "branches", "bpu", "btb", "bpc"),
    ("node",),
)
CACHE_OPS: Tuple[Tuple[str, ...], ...] = (
    ("load", "loads", "read"),
    ("store", "stores", "write"),
    ("prefetch", "prefetches", "speculative-read", "speculative-load"),
)
CACHE_RESULTS: Tuple[Tuple[str, ...], ...] = (
    ("refs", "Reference", "ops", "access"),
    ("misses", "miss"),
)
READ, WRITE, PREFETCH = 1 << 0, 1 << 1, 1 << 2
# evsel__hw_cache_stat: the ops each cache has
CACHE_VALID_OPS = (READ | WRITE | PREFETCH, READ | PREFETCH, READ | WRITE | PREFETCH, READ | WRITE | PREFETCH,
                   READ, READ, READ | WRITE | PREFETCH)
RESULT_ACCESS, RESULT_MISS = 0, 1

CACHE_TYPE_WORDS = tuple(w for names in CACHE_TYPES for w in names)
CACHE_OPRES_WORDS = tuple(w for names in CACHE_OPS + CACHE_RESULTS for w in names)


def parse_alias(word: str, table: Sequence[Sequence[str]]) -> int:
    """perf's ``parse_aliases``: the row whose longest alias starts ``word`` (case-insensitive), or -1."""
    best, longest = -1, -1
    for i, names in enumerate(table):
        for name in names:
            n = len(name)
            if word[:n].lower() == name.lower() and n > longest:
                best, longest = i, n
    return best


def cache_config(type_word: str, op_results: Sequence[str]) -> Optional[int]:
    """The config of ``TYPE[-OP_RESULT[-OP_RESULT]]`` as ``parse_events_add_cache`` computes it, or None
    where perf refuses it (an op the cache does not have)."""
    cache = parse_alias(type_word, CACHE_TYPES)
    if cache < 0:
        return None
    op = result = -1
    for word in op_results[:2]:
        if op == -1:
            op = parse_alias(word, CACHE_OPS)
            if op >= 0:
                if not CACHE_VALID_OPS[cache] & (1 << op):
                    return None
                continue
        if result == -1:
            result = parse_alias(word, CACHE_RESULTS)
    op = 0 if op == -1 else op
    result = RESULT_ACCESS if result == -1 else result
    return cache | (op << 8) | (result << 16)


def cache_event_name(cache: int, op: int, result: int) -> str:
    """``evsel__hw_cache_type_op_res_name``: L1-dcache-loads, L1-dcache-load-misses."""
    if result == RESULT_MISS:
        return f"{CACHE_TYPES[cache][0]}-{CACHE_OPS[op][0]}-{CACHE_RESULTS[result][0]}"
    return f"{CACHE_TYPES[cache][0]}-{CACHE_OPS[op][1]}"


def all_cache_events() -> List[Tuple[str, int]]:
    """(name, config) of every valid hardware cache event, in perf list's order before sorting."""
    out = []
    for cache in range(len(CACHE_TYPES)):
        for op in range(len(CACHE_OPS)):
            if not CACHE_VALID_OPS[cache] & (1 << op):
                continue
            for result in range(len(CACHE_RESULTS)):
                out.append((cache_event_name(cache, op, result), cache | (op << 8) | (result << 16)))
    return out


def symbol_name(type_: int, config: int) -> Optional[str]:
    """perf's name of a hardware or software event (``evsel__hw_name``/``evsel__sw_name``)."""
    if type_ == HARDWARE:
        return EVSEL_HW_NAMES.get(config)
    if type_ == SOFTWARE:
        return SW_NAMES.get(config)
    return None
