"""``perf stat``'s events when no ``-e`` is given (perf 6.1 builtin-stat.c ``add_default_attributes``).

    task-clock (cpu-clock with -a/-C), context-switches, cpu-migrations, page-faults, cycles,
    [stalled-cycles-frontend, stalled-cycles-backend,] instructions, branches, branch-misses

The stalled-cycles events come only when the ``cpu`` PMU lists them in sysfs (``pmu_have_event``); the
hardware events are asked for even where there is no PMU (this VM) and print as ``<not supported>``. Each
attr goes through ``event_attr_init`` (exclude_guest), so perf's names carry no modifier suffix.
"""
from __future__ import annotations

import os
from typing import List

from pyperf_probe.events import tables
from pyperf_probe.events.evsel import Evsel

SW_CONTEXT_SWITCHES, SW_CPU_MIGRATIONS, SW_PAGE_FAULTS = 3, 4, 2
HW_INSTRUCTIONS, HW_BRANCH_INSTRUCTIONS, HW_BRANCH_MISSES = 1, 4, 5
HW_STALLED_FRONTEND, HW_STALLED_BACKEND = 7, 8
CPU_PMU_EVENTS = "/sys/bus/event_source/devices/cpu/events"


def _pmu_has(event: str, events_dir: str) -> bool:
    return os.path.exists(os.path.join(events_dir, event))


def default_evsels(system_wide: bool, events_dir: str = CPU_PMU_EVENTS) -> List[Evsel]:
    """The default counters, in perf's order."""
    clock = tables.SW_CPU_CLOCK if system_wide else tables.SW_TASK_CLOCK
    attrs = [(tables.SOFTWARE, clock), (tables.SOFTWARE, SW_CONTEXT_SWITCHES),
             (tables.SOFTWARE, SW_CPU_MIGRATIONS), (tables.SOFTWARE, SW_PAGE_FAULTS),
             (tables.HARDWARE, tables.HW_CPU_CYCLES)]
    if _pmu_has("stalled-cycles-frontend", events_dir):
        attrs.append((tables.HARDWARE, HW_STALLED_FRONTEND))
    if _pmu_has("stalled-cycles-backend", events_dir):
        attrs.append((tables.HARDWARE, HW_STALLED_BACKEND))
    attrs += [(tables.HARDWARE, HW_INSTRUCTIONS), (tables.HARDWARE, HW_BRANCH_INSTRUCTIONS),
              (tables.HARDWARE, HW_BRANCH_MISSES)]
    return [Evsel(type=t, config=c) for t, c in attrs]
