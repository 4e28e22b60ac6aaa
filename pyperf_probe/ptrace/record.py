"""``pyperf record`` for events defined with ``pyperf probe --ptrace``: the same perf.data a uprobe
recording of the same run gives, made by the tracer (engine.py) instead of the kernel's ring buffers.

The records are those the kernel writes for a workload recorded with ``-e GROUP:EVENT``: COMM (exec, and
a thread renamed), MMAP2 of executable maps (data maps too with --call-graph dwarf), FORK and EXIT of
every task, and for each hit a SAMPLE with the kernel's fields: ip (the probed address, or the return
address of a return probe), pid/tid, CLOCK_MONOTONIC time, the CPU the thread last ran on, period 1,
the frame-pointer chain or the registers and a copy of the stack, and the RAW entry of the uprobe event
(fetch.py). With -p the running processes' threads and maps are synthesized first, as perf does.
Everything goes through perfdata.writer, so a recording cut short stays readable.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
import signal
import struct
import sys
import time
from typing import Dict, List, Optional, Sequence

from pyperf_probe.errors import KernelError, ProbeError, UsageError
from pyperf_probe.perfdata.format import (COMM_HEAD, FORK_EXIT, MISC_COMM_EXEC, MISC_MMAP_DATA, MISC_USER,
                                          MMAP2_HEAD, RecordType, SampleType, sample_id_struct)
from pyperf_probe.ptrace import events as pev
from pyperf_probe.ptrace import stack as pstack
from pyperf_probe.ptrace import store
from pyperf_probe.ptrace.engine import Engine, Sink
from pyperf_probe.ptrace.fetch import Context
from pyperf_probe.ptrace.tracee import Site

ROUND_RECORDS = 512  # a FINISHED_ROUND (and a chance to write to the disk) every so many records
FLUSH_NS = 500_000_000  # and the file made current at least twice a second
DATA_SRC_NA = 0x29080021  # PERF_MEM_NA: what the kernel writes for a tracepoint's data_src (perf_sample_data_init)
_PROT = {"r": 1, "w": 2, "x": 4}
_HEADER = struct.Struct("<IHH")  # struct perf_event_header
DWARF_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip", "eflags", "cs", "ss",
              "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")  # PERF_REG_X86_* of mask 0xff0fff


@dataclasses.dataclass(frozen=True)
class Outcome:
    path: str
    wakeups: int
    size: int
    samples: int
    records: int
    lost_records: int
    lost_samples: int
    status: int


def check_plan(plan) -> None:
    """What the ptrace backend cannot do, refused before anything runs."""
    if plan.all_cpus or plan.cpu_list is not None:
        raise UsageError("  Error: ptrace events are per process: -a/-C cannot record them "
                         "(give a command, or -p PID).")
    if plan.filters:
        raise UsageError("  Error: --filter is a tracefs filter: ptrace events take none.")
    if plan.freq is not None:
        raise UsageError("  Error: -F does not apply to ptrace events: every hit is a sample (-c N keeps "
                         "every Nth).")
    missing = store.unmatched(plan.event_specs)
    if missing:
        raise UsageError(f"  Error: '{missing[0]}' is not a ptrace event (pyperf probe --ptrace -l lists them): "
                         "ptrace events cannot be recorded with tracefs events.")


class RecordSink(Sink):
    """Turns the engine's hits and task events into perf.data records."""

    def __init__(self, writer, events: Sequence[pev.PtraceEvent], attrs, ids: Sequence[int], call_graph,
                 only_tids=None):
        self.writer, self.events, self.ids = writer, list(events), list(ids)
        st = attrs[0].sample_type
        self.st = st
        self.fp = bool(st & SampleType.CALLCHAIN) and call_graph.mode == "fp"
        self.dwarf = call_graph is not None and call_graph.mode == "dwarf"
        self.stack_size = call_graph.stack_size if self.dwarf else 0
        self.period = attrs[0].sample_period
        self.counts = [0] * len(events)
        self.trailer = sample_id_struct(st)
        self.has_id = bool(st & SampleType.ID)
        self.limit = pstack.max_stack()
        self.only_tids = set(only_tids) if only_tids else None
        self.synthesizing = False
        self.records = 0
        self.last_flush = time.monotonic_ns()
        head = "<Q" + "II" + "Q" + ("Q" if self.dwarf else "") + ("Q" if self.has_id else "") + "II" + "Q"
        self.head = struct.Struct(head)

    # ---- records -----------------------------------------------------------------------------------

    def _tail(self, pid: int, tid: int, t: int, cpu: int = 0) -> bytes:
        if self.synthesizing:
            return bytes(self.trailer.size)
        values = [pid, tid, t] + ([self.ids[0]] if self.has_id else []) + [cpu, 0]
        return self.trailer.pack(*values)

    def _emit(self, rtype: int, misc: int, body: bytes, tail: bytes) -> None:
        self.writer.write(_HEADER.pack(rtype, misc, 8 + len(body) + len(tail)) + body + tail)
        self.records += 1
        if self.records % ROUND_RECORDS == 0:
            self.end_round()

    def end_round(self, force: bool = False) -> None:
        self.writer.end_round()
        now = time.monotonic_ns()
        if force or now - self.last_flush > FLUSH_NS or self.writer.backlog > 4 << 20:
            self.writer.flush()
            self.last_flush = now

    def comm(self, th, name: str, exec_: bool) -> None:
        th.comm = name
        raw = name[:15].encode(errors="surrogateescape") + b"\0"
        raw = raw.ljust((len(raw) + 7) & ~7, b"\0")
        pid = th.process.pid
        self._emit(RecordType.COMM, MISC_COMM_EXEC if exec_ else 0, COMM_HEAD.pack(pid, th.tid) + raw,
                   self._tail(pid, th.tid, time.monotonic_ns()))

    def task(self, kind: str, th, parent) -> None:
        pid, t = th.process.pid, time.monotonic_ns()
        if kind == "fork":
            th.comm = parent.comm
            body = FORK_EXIT.pack(pid, parent.process.pid, th.tid, parent.tid, t)
            self._emit(RecordType.FORK, 0, body, self._tail(pid, th.tid, t))
        elif kind == "exit":
            ppid = th.process.ppid
            body = FORK_EXIT.pack(pid, ppid, th.tid, ppid, t)
            self._emit(RecordType.EXIT, 0, body, self._tail(pid, th.tid, t))
        elif kind == "exec":
            self.comm(th, _read_comm(pid, th.tid) or "", exec_=True)
        elif kind == "attach":
            self.comm(th, _read_comm(pid, th.tid) or "", exec_=False)

    def mmap(self, process, m, name: Optional[str] = None) -> None:
        prot = sum(v for k, v in _PROT.items() if k in m.perms)
        flags = 1 if m.perms[3:4] == "s" else 2  # MAP_SHARED, MAP_PRIVATE
        path = name or m.path or "//anon"
        misc = MISC_USER | (0 if prot & 4 else MISC_MMAP_DATA)
        raw = path.encode(errors="surrogateescape") + b"\0"
        raw = raw.ljust((len(raw) + 7) & ~7, b"\0")
        body = MMAP2_HEAD.pack(process.pid, process.pid, m.start, m.end - m.start, m.pgoff, m.maj, m.min,
                               m.ino, 0, prot, flags) + raw
        self._emit(RecordType.MMAP2, misc, body, self._tail(process.pid, process.pid, time.monotonic_ns()))

    # ---- hits --------------------------------------------------------------------------------------

    def _keep(self, th, site: Site) -> bool:
        if self.only_tids is not None and th.tid not in self.only_tids:
            return False
        if self.period > 1:
            self.counts[site.index] += 1
            return self.counts[site.index] % self.period == 0
        return True

    def entry(self, th, site: Site, regs, bp) -> None:
        if self._keep(th, site):
            self._sample(th, site, regs, bp, bp.avma, bp.avma, 0, bp.step.at_func_entry)

    def ret(self, th, site: Site, regs, func: int, ret_ip: int) -> None:
        if self._keep(th, site):
            self._sample(th, site, regs, None, ret_ip, func, ret_ip, False)

    def _sample(self, th, site: Site, regs, bp, ip: int, probe_ip: int, ret_ip: int, at_entry: bool) -> None:
        name, cpu = th.stat()
        if name is not None and name != th.comm:
            self.comm(th, name, exec_=False)  # pthread_setname_np/prctl since the last look
        ev = self.events[site.index]
        mem = th.process.mm.mem
        ctx = None
        if ev.layout.args:
            file_offset = bp.file_offset if bp is not None else site.file_offset
            ctx = Context(regs, mem, (th.comm or "").encode(), probe_ip, file_offset)
        raw = ev.layout.raw(th.tid, ctx, probe_ip, ret_ip)
        pid, tid, t = th.process.pid, th.tid, time.monotonic_ns()
        fields = [ip, pid, tid, t]
        if self.dwarf:
            fields.append(0)  # ADDR
        if self.has_id:
            fields.append(self.ids[site.index])
        fields += [cpu, 0, 1]
        parts = [self.head.pack(*fields)]
        if self.fp:
            tramp = th.process.mm.xol.trampoline() if th.returns else 0
            chain = pstack.fp_chain(mem, regs, ip, at_entry, self.limit, tramp,
                                    [r.orig_ret for r in reversed(th.returns)])
            parts.append(struct.pack(f"<Q{len(chain)}Q", len(chain), *chain))
        elif self.dwarf:
            parts.append(b"\0" * 8)  # exclude_callchain_user: nr 0
        parts.append(struct.pack("<I", len(raw)) + raw)
        if self.dwarf:
            parts.append(struct.pack("<21Q", 2, *(getattr(regs, r) for r in DWARF_REGS)))
            data, dyn = pstack.user_stack(mem, regs.rsp, self.stack_size)
            parts += [struct.pack("<Q", self.stack_size), data, struct.pack("<QQ", dyn, DATA_SRC_NA)]
        body = b"".join(parts)
        self._emit(RecordType.SAMPLE, MISC_USER, body, b"")


def _read_comm(pid: int, tid: int) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


# ---- the run -------------------------------------------------------------------------------------------


def record(plan, verbose: int = 0) -> Outcome:
    """Record the workload (or attach to -p/-t), every hit of the ptrace events named by -e."""
    check_plan(plan)
    from pyperf_probe.perfdata import synth
    from pyperf_probe.perfdata.writer import AttrEntry, PerfDataWriter
    from pyperf_probe.record.workload import Workload, exec_failure
    events = pev.make_events(store.select(plan.event_specs))
    sites = _sites(events)
    attrs = pev.attrs(events, plan.call_graph, workload=bool(plan.command), inherit=plan.inherit,
                      period=plan.count or 1)
    ids = [1 + i for i in range(len(events))]
    pids = _attach_pids(plan) if not plan.command else []
    only = _only_tids(plan)
    writer = PerfDataWriter(plan.output)
    sink = RecordSink(writer, events, attrs, ids, plan.call_graph, only_tids=only)
    engine = Engine(sites, sink, want_data_maps=sink.dwarf)
    workload = started = None
    from pyperf_probe.perfdata.data_scan import Scanner
    scanner = Scanner(attrs[0].sample_type)
    try:
        engine.catch_signals()
        writer.begin([AttrEntry(a, (i,)) for a, i in zip(attrs, ids)], _early_features(plan, events, attrs, ids))
        writer.observe(scanner.feed)
        tail = bytes(sink.trailer.size)
        head = [synth.id_index([(i, n, (1 << 64) - 1, (1 << 64) - 1) for n, i in enumerate(ids)])]
        kernel = synth.kernel_text_range()
        if kernel:
            head.append(synth.kernel_mmap(kernel[0], kernel[1], tail))
        if plan.command:
            workload = Workload(plan.command)
            engine.spawn(workload.pid)
            head.append(synth.comm(workload.pid, workload.pid, "perf-exec", tail))
            writer.write(b"".join(head))
            if not plan.inherit:  # -i: the workload's own thread only (its children are traced, not kept)
                sink.only_tids = {workload.pid}
        else:
            writer.write(b"".join(head))
            sink.synthesizing = True
            for pid in pids:
                engine.attach(pid)
            sink.synthesizing = False
            if not plan.inherit:  # -i: the threads there were when attaching
                sink.only_tids = set(engine.threads) & (sink.only_tids or set(engine.threads))
        sink.end_round(force=True)
        if workload is not None:
            err = workload.start()
            if err is not None:
                raise exec_failure(events[0].name, plan.command, err)
        started = True
        engine.run(lambda: not engine.roots_alive())
    except BaseException:
        engine.shutdown()
        if workload is not None:
            _stop_workload(workload, engine)
        if started:
            writer.close()
        else:
            writer.abort()
        raise
    status = _status(plan, workload, engine)
    for text in engine.warnings:
        sys.stderr.write(f"Warning: {text}\n")
    sink.end_round(force=True)
    scan = scanner.result()
    size = writer.data_end
    table = _build_ids(plan, scan)
    writer.finish(_late_features(scan, table))
    if plan.buildid_cache:
        from pyperf_probe.record.recorder import cache_build_ids
        cache_build_ids(table)
    return Outcome(plan.output, 1, size, scan.samples, scan.records, 0, 0, status)


def _sites(events: Sequence[pev.PtraceEvent]) -> List[Site]:
    sites = []
    for i, ev in enumerate(events):
        for d in ev.defs:
            try:
                sites.append(Site(i, ev.name, d.path, d.file_offset, d.retprobe, d.ref_ctr_offset, d.args))
            except OSError as exc:
                raise ProbeError(f"{ev.name}: cannot probe {d.path}: {exc.strerror}", errno=exc.errno) from None
    return sites


def _attach_pids(plan) -> List[int]:
    """-p PIDs, and the processes of -t TIDs."""
    from pyperf_probe.perfdata.synth import thread_group
    out = list(plan.pids)
    for tid in plan.tids:
        pid = thread_group(tid)
        if pid is None:
            raise KernelError(f"Couldn't create thread/CPU maps: No such process ({tid})", errno=errno_mod.ESRCH)
        if pid not in out:
            out.append(pid)
    return out


def _only_tids(plan):
    """-t records only the threads named (every thread is traced: an untraced one would die of the int3)."""
    return set(plan.tids) if plan.tids and not plan.pids else None


def _stop_workload(workload, engine: Engine) -> None:
    if workload.pid in engine.root_status:
        workload.status = engine.root_status[workload.pid]
        return
    if getattr(workload, "_go_w", -1) >= 0:
        workload.cancel()
        return
    workload.kill(signal.SIGTERM)
    workload.wait()


def _status(plan, workload, engine: Engine) -> int:
    """perf's: the workload's exit code (128 + signal if killed); 128 + the signal that stopped us."""
    if workload is None:
        return 128 + engine.stop_signal if engine.stop_signal else 0
    if engine.stop_signal is not None:
        _stop_workload(workload, engine)
        return 128 + engine.stop_signal
    status = engine.root_status.get(workload.pid)
    if status is None:
        _stop_workload(workload, engine)
        status = workload.status or 0
    workload.status = status
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 0


def _early_features(plan, events, attrs, ids) -> Dict[int, bytes]:
    from pyperf_probe import __version__
    from pyperf_probe.perfdata import feature_writer as fw
    from pyperf_probe.perfdata.format import Feature
    host, release, arch = fw.system_strings()
    avail, online = fw.cpu_counts()
    descs = [fw.EventDesc(a, ev.name, (i,)) for a, ev, i in zip(attrs, events, ids)]
    return {
        Feature.TRACING_DATA: pev.tracing_data(events, os.sysconf("SC_PAGE_SIZE")),
        Feature.HOSTNAME: fw.string(host),
        Feature.OSRELEASE: fw.string(release),
        Feature.VERSION: fw.string(f"{__version__} (pyperf)"),
        Feature.ARCH: fw.string(arch),
        Feature.NRCPUS: fw.nrcpus(avail, online),
        Feature.CMDLINE: fw.cmdline(plan.cmdline),
        Feature.EVENT_DESC: fw.event_desc(descs),
    }


def _build_ids(plan, scan):
    from pyperf_probe.perfdata import build_ids
    return build_ids.lookup(scan.all_dsos if plan.buildid_all else scan.hit_dsos)


def _late_features(scan, table) -> Dict[int, bytes]:
    from pyperf_probe.perfdata import feature_writer as fw
    from pyperf_probe.perfdata.format import Feature
    features = {Feature.BUILD_ID: fw.build_ids(table)}
    if scan.samples:
        features[Feature.SAMPLE_TIME] = fw.sample_time(scan.first_time, scan.last_time)
    return features
