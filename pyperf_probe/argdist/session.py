"""The probes of one ``pyperf argdist`` run in the kernel: maps, programs, uprobes and perf events, read at
each interval, and all removed again on every way out (:meth:`Session.close`, which the command reaches
through ``finally``; SIGTERM and SIGHUP become exceptions that get there too).

Uprobes are added to ``uprobe_events`` in a group of this process's own, ``pyperf_argdist_PID``, through the
probe layer's definitions (probe/tracedef.py) and tracefs; a group left by a run that was killed (its PID gone)
is removed when the next run starts. Each probe site gets a perf event (``PERF_TYPE_TRACEPOINT`` of the
event's id) and its program through ``PERF_EVENT_IOC_SET_BPF``: for a uprobe, the event is the traced process's
when there is one (the kernel then puts the breakpoint in that process only), else CPU 0's, which probes every
process (the program runs on every CPU either way, as for bcc).
"""
from __future__ import annotations

import errno as errno_mod
import os
import re
import struct

from pyperf_probe.argdist import program as P
from pyperf_probe.bpf import insn as I
from pyperf_probe.bpf import syscall as S
from pyperf_probe.errors import BpfError, KernelError

GROUP_PREFIX = "pyperf_argdist_"
PERF_TYPE_TRACEPOINT = 2


def _event_name(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    return ("_" + name if name[:1].isdigit() else name)[:40] or "probe"


def remove_stale_groups() -> None:
    """Remove the uprobes of argdist runs that ended without removing theirs (killed with SIGKILL)."""
    from pyperf_probe.kernel import tracefs
    try:
        lines = tracefs.read_uprobe_events()
    except KernelError:
        return
    stale = []
    for line in lines:
        m = re.match(r"[pr]:(" + GROUP_PREFIX + r"(\d+))/(\S+)", line)
        if m and not os.path.exists(f"/proc/{m.group(2)}") and int(m.group(2)) != os.getpid():
            stale.append(f"-:{m.group(1)}/{m.group(3)}")
    for line in stale:
        try:
            tracefs.write_uprobe_events([line])
        except KernelError:
            pass


class Session:
    """Everything one run added to the kernel, and the readings of its maps."""

    def __init__(self, probes: list, *, pid: int | None = None, tid: int | None = None, verbose=None):
        self.probes = probes
        self.pid = pid
        self.tid = tid
        self.verbose = verbose          # a callable taking lines, or None
        self.group = f"{GROUP_PREFIX}{os.getpid()}"
        self.ncpu = S.possible_cpus()
        self.map_fds: list = []
        self.prog_fds: list = []
        self.perf_fds: list = []
        self.uprobe_events: list = []
        self.count_maps: dict = {}     # probe index -> map fd
        self.gate = P.Gate(pid=pid)
        self.gate_map = None
        self._names: set = set()
        self.previous: dict = {}

    # -- set-up

    def create_map(self, map_type: int, key_size: int, value_size: int, entries: int, name: str) -> int:
        fd = S.map_create(map_type, key_size, value_size, entries, name=name)
        self.map_fds.append(fd)
        return fd

    def use_gate_map(self) -> None:
        """Count only the process whose pid the exec program writes into the gate (see ``watch_exec``)."""
        self.gate_map = self.create_map(S.MAP_TYPE_ARRAY, 4, 4, 1, "argdist_gate")
        self.gate = P.Gate(map_fd=self.gate_map)

    def load(self, insns: list, prog_type: int, name: str) -> int:
        log_level = 1 if self.verbose else 0
        try:
            fd, log = S.prog_load(prog_type, I.encode(insns), name=name, log_level=log_level)
        except BpfError as exc:
            if self.verbose:
                self._show(name, insns, exc.log)
            raise
        self.prog_fds.append(fd)
        if self.verbose:
            self._show(name, insns, log)
        return fd

    def _show(self, name: str, insns: list, log: str) -> None:
        lines = [f"BPF program {name} ({len(insns)} instructions):"] + I.disasm(insns)
        lines += ["verifier log:"] + ["  " + line for line in log.rstrip("\n").split("\n") if line]
        self.verbose(lines)

    def _unique(self, base: str) -> str:
        name, n = base, 1
        while name in self._names:
            name, n = f"{base}_{n}", n + 1
        self._names.add(name)
        return name

    def add_uprobe(self, d, base: str) -> int:
        """Write the uprobe (a probe-layer UprobeDef) into our group; returns its tracefs event id."""
        from pyperf_probe.kernel import tracefs
        event = self._unique(_event_name(base))
        named = d.named(self.group, event)
        tracefs.write_uprobe_events([named.text()])
        self.uprobe_events.append(event)
        return tracefs.event_id(self.group, event)

    def open_event(self, event_id: int, *, task: int | None, name: str) -> int:
        from pyperf_probe.kernel import perf_event
        from pyperf_probe.perfdata.format import EventAttr
        attr = EventAttr(type=PERF_TYPE_TRACEPOINT, config=event_id, sample_period=1)
        fd = perf_event.open_event(attr, task if task is not None else -1, -1 if task is not None else 0,
                                   name=name)
        self.perf_fds.append(fd)
        return fd

    def attach(self, event_id: int, prog_fd: int, *, task: int | None, name: str) -> None:
        fd = self.open_event(event_id, task=task, name=name)
        S.attach_perf_event(fd, prog_fd, name)

    def watch_exec(self, child_pid: int) -> None:
        """The command's process is counted from its exec on (program.exec_gate_program)."""
        from pyperf_probe.kernel import tracefs
        insns = P.exec_gate_program(child_pid, self.gate_map)
        fd = self.load(insns, S.PROG_TYPE_TRACEPOINT, "ad_exec")
        self.attach(tracefs.event_id("sched", "sched_process_exec"), fd, task=None, name="sched:sched_process_exec")

    def setup(self, task: int | None = None) -> None:
        """Maps, programs and events of every probe. ``task``: the process uprobes are opened on (-p, or the
        command's), None for every process."""
        for probe in self.probes:
            self._setup_probe(probe, task)

    def _setup_probe(self, probe, task) -> None:
        from pyperf_probe.kernel import tracefs
        spec = probe.spec
        base = f"{spec.function}_{probe.index}"
        if spec.type == "hist":
            count = self.create_map(S.MAP_TYPE_PERCPU_ARRAY, 4, 8, P.HIST_SLOTS, f"hist{probe.index}")
        else:
            count = self.create_map(S.MAP_TYPE_PERCPU_HASH, probe.key_size, 8, P.COUNT_MAP_SIZE,
                                    f"freq{probe.index}")
        self.count_maps[probe.index] = count
        gate = self.gate
        for n, site in enumerate(probe.sites):
            entry_map = None
            if site.entry_leaves:
                entry_map = self.create_map(S.MAP_TYPE_HASH, 4, 8 * len(site.entry_leaves), P.ENTRY_MAP_SIZE,
                                            f"entry{probe.index}")
                insns = P.entry_program(site.entry_leaves, entry_map, gate)
                fd = self.load(insns, S.PROG_TYPE_KPROBE, f"ad{probe.index}e_{spec.function}")
                event_id = self.add_uprobe(site.entry_uprobe, f"{base}_entry")
                self.attach(event_id, fd, task=task, name=f"{self.group}:{base}_entry")
            insns = P.probe_program(typed_exprs=site.exprs, typed_filter=self._filter(site), kind=spec.type,
                                    count_map=count, gate=gate, key_fields=probe.key_fields,
                                    key_size=probe.key_size, entry_map=entry_map,
                                    saved_slots=len(site.entry_leaves), read=probe.read)
            name = f"ad{probe.index}_{spec.function}"     # bpftool shows 15 characters of it
            if site.tracepoint:
                fd = self.load(insns, S.PROG_TYPE_TRACEPOINT, name)
                self.attach(tracefs.event_id(*site.tracepoint), fd, task=None, name=":".join(site.tracepoint))
            else:
                fd = self.load(insns, S.PROG_TYPE_KPROBE, name)
                event_id = self.add_uprobe(site.uprobe, base + ("__return" if spec.probe_type == "r" else ""))
                self.attach(event_id, fd, task=task, name=f"{self.group}:{base}")

    def _filter(self, site):
        """The site's filter, with -t's thread test in front of it."""
        if self.tid is None:
            return site.filter
        from pyperf_probe.bpf import ctype as C
        from pyperf_probe.bpf.typed import TNode
        tid_test = TNode("cmp", C.INT, (TNode("tid", C.UINT), TNode("const", C.UINT, (), self.tid)), ("==", C.UINT))
        return tid_test if site.filter is None else TNode("land", C.INT, (tid_test, site.filter))

    # -- readings

    def totals(self, probe) -> dict:
        """The map's counts summed over the CPUs: {bucket: n} for -H, {key bytes: n} for -C."""
        fd = self.count_maps[probe.index]
        value_size = 8 * self.ncpu
        out = {}
        if probe.spec.type == "hist":
            for slot in range(P.HIST_SLOTS):
                raw = S.map_lookup(fd, struct.pack("<I", slot), value_size)
                if raw:
                    n = sum(struct.unpack(f"<{self.ncpu}Q", raw))
                    if n:
                        out[slot] = n
            return out
        for key in S.map_keys(fd, probe.key_size):
            raw = S.map_lookup(fd, key, value_size)
            if raw:
                out[key] = sum(struct.unpack(f"<{self.ncpu}Q", raw))
        return out

    def interval(self, probe, cumulative: bool) -> dict:
        """What happened since the last reading (everything so far with ``cumulative``): bcc clears its maps
        after each display; reading the difference instead loses nothing counted in between."""
        now = self.totals(probe)
        if cumulative:
            return now
        before = self.previous.get(probe.index, {})
        self.previous[probe.index] = now
        return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0) > 0}

    # -- tear-down

    def close(self) -> list:
        """Close every fd and remove every uprobe this run added; returns the problems met (never raises)."""
        from pyperf_probe.kernel import tracefs
        problems = []
        _close_together(self.perf_fds)
        for fd in self.prog_fds + self.map_fds:
            S.close(fd)
        self.perf_fds, self.prog_fds, self.map_fds = [], [], []
        for event in reversed(self.uprobe_events):
            try:
                tracefs.write_uprobe_events([f"-:{self.group}/{event}"])
            except KernelError as exc:
                if exc.errno != errno_mod.ENOENT:
                    problems.append(f"Could not remove {self.group}:{event}: {exc.message.splitlines()[0]}")
        self.uprobe_events = []
        return problems


def _close_together(fds: list) -> None:
    """Close perf events at once: each close waits for the kernel's grace periods (a tracepoint's or uprobe's
    unregistering), which overlap when the closes run in threads instead of one after another."""
    if len(fds) < 2:
        for fd in fds:
            S.close(fd)
        return
    import threading
    threads = [threading.Thread(target=S.close, args=(fd,)) for fd in fds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
