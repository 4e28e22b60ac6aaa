"""How ``perf stat`` aggregates its counters (perf 6.1 ``enum aggr_mode``) and how it labels each aggregate:
one total (AGGR_GLOBAL, the default), one line per CPU (``-A``/``--no-aggr``), per thread (``--per-thread``),
per core, die, socket or NUMA node (``--per-core``, ``--per-die``, ``--per-socket``, ``--per-node``).

The CPU topology is sysfs's (``cpu/cpuN/topology/{physical_package_id,die_id,core_id}``,
``node/nodeN/cpulist``), as perf's ``cpu__get_socket_id`` and friends read it. Aggregates are sorted as
``aggr_cpu_id__cmp`` sorts them: node, socket, die, core.

Labels, checked against perf 6.1 (stat-display.c ``aggr_printout``)::

    std  "CPU%-7d "  "S%d-D%d-C%-8d %4d "  "S%d-D%-8d %4d "  "S%-5d %4d "  "N%-5d %4d "  "%16s-%-8d "
    CSV  "CPU%d,"    "S%d-D%d-C%d,%d,"     "S%d-D%d,%d,"     "S%d,%d,"     "N%d,%d,"     "%s-%d,"

(the numbers after the ids are how many CPUs the aggregate holds; ``,`` stands for ``-x``'s separator).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Sequence, Tuple

GLOBAL, NONE, THREAD, CORE, DIE, SOCKET, NODE = "global", "none", "thread", "core", "die", "socket", "node"
PER_CPU_MODES = (NONE, CORE, DIE, SOCKET, NODE)     # need -a: "only available in system-wide mode"

# print_interval's column header, written before the first interval and every 25th after it
INTERVAL_HEADERS = {
    GLOBAL: "#           time             counts {unit} events\n",
    NONE: "#           time CPU                    counts {unit} events\n",
    THREAD: "#           time             comm-pid                  counts {unit} events\n",
    CORE: "#           time core            cpus             counts {unit} events\n",
    DIE: "#           time die          cpus             counts {unit} events\n",
    SOCKET: "#           time socket cpus             counts {unit} events\n",
    NODE: "#           time node   cpus             counts {unit} events\n",
}


@dataclasses.dataclass(frozen=True)
class Label:
    """The aggregate column of a counter line: its text in the standard layout and its -x fields."""

    std: str
    csv: Tuple[str, ...]

    def csv_text(self, sep: str) -> str:
        return "".join(field + sep for field in self.csv)


NO_LABEL = Label("", ())


@dataclasses.dataclass(frozen=True)
class CpuTopology:
    """Where a CPU sits: NUMA node, socket (package), die and core (-1 when sysfs does not say)."""

    cpu: int
    node: int = -1
    socket: int = -1
    die: int = -1
    core: int = -1


def _read_int(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return -1


def parse_cpu_list(text: str) -> List[int]:
    """sysfs's CPU list syntax ("0-3,6") as a list."""
    cpus: List[int] = []
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def _nodes(sysfs: str) -> Dict[int, int]:
    out: Dict[int, int] = {}
    base = os.path.join(sysfs, "node")
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for name in names:
        if name.startswith("node") and name[4:].isdigit():
            try:
                with open(os.path.join(base, name, "cpulist")) as f:
                    for cpu in parse_cpu_list(f.read()):
                        out[cpu] = int(name[4:])
            except OSError:
                continue
    return out


def topology(cpus: Sequence[int], sysfs: str = "/sys/devices/system") -> Dict[int, CpuTopology]:
    """The topology of each CPU in ``cpus``."""
    nodes = _nodes(sysfs)
    out = {}
    for cpu in cpus:
        top = os.path.join(sysfs, "cpu", f"cpu{cpu}", "topology")
        out[cpu] = CpuTopology(cpu, nodes.get(cpu, -1), _read_int(os.path.join(top, "physical_package_id")),
                               _read_int(os.path.join(top, "die_id")), _read_int(os.path.join(top, "core_id")))
    return out


def cpu_key(mode: str, t: CpuTopology) -> Tuple[int, int, int, int]:
    """The aggregate a CPU falls in, as perf's (node, socket, die, core) sort key."""
    if mode == CORE:
        return (-1, t.socket, t.die, t.core)
    if mode == DIE:
        return (-1, t.socket, t.die, -1)
    if mode == SOCKET:
        return (-1, t.socket, -1, -1)
    if mode == NODE:
        return (t.node, -1, -1, -1)
    return (-1, -1, -1, t.cpu)   # NONE: the CPU itself


def cpu_label(mode: str, key: Tuple[int, int, int, int], nr: int) -> Label:
    """The column of one CPU aggregate holding ``nr`` CPUs."""
    node, socket, die, core = key
    if mode == NONE:
        return Label("CPU%-7d " % core, (f"CPU{core}",))
    if mode == CORE:
        return Label("S%d-D%d-C%-8d %4d " % (socket, die, core, nr), (f"S{socket}-D{die}-C{core}", str(nr)))
    if mode == DIE:
        return Label("S%d-D%-8d %4d " % (socket, die, nr), (f"S{socket}-D{die}", str(nr)))
    if mode == SOCKET:
        return Label("S%-5d %4d " % (socket, nr), (f"S{socket}", str(nr)))
    if mode == NODE:
        return Label("N%-5d %4d " % (node, nr), (f"N{node}", str(nr)))
    return NO_LABEL


def thread_label(comm: str, tid: int) -> Label:
    return Label("%16s-%-8d " % (comm, tid), (f"{comm}-{tid}",))


def thread_comm(tid: int) -> str:
    """``/proc/TID/comm`` without its newline, as perf's thread map reads it ("" for a thread gone)."""
    try:
        with open(f"/proc/{tid}/comm", "rb") as f:
            return f.read().decode("utf-8", "replace").rstrip("\n")
    except OSError:
        return ""


def all_threads(proc: str = "/proc") -> List[int]:
    """Every thread of the system (``-a --per-thread``: perf's ``thread_map__new_all_cpus``), process by
    process in /proc's order, each process's threads in its task directory's order."""
    out: List[int] = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            out.extend(int(t) for t in os.listdir(os.path.join(proc, name, "task")) if t.isdigit())
        except OSError:
            continue
    return out
