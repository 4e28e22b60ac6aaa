"""One ``pyperf record`` run, from a ``Plan`` (the parsed command line) to a complete perf.data.

Order of operations (perf's ``__cmd_record``): resolve events (an unknown one fails before anything runs),
create the output under its name (an existing one becomes ``.old``; an unwritable path fails before anything
runs), fork the workload and hold it, open the fds and ring buffers, write the attrs, the feature sections
known at the start, the id index and the synthesized records, flush them, let the workload exec (or enable
the fds), drain until the end, then the lost counts, the post-pass and the last features.

From the first flush on the file is a valid perf.data that grows round by round (``perfdata.writer``): a
recorder killed by SIGKILL leaves what it flushed, readable by perf and pyperf. SIGINT, SIGTERM and SIGHUP
stop the recording with a complete file. A failure before the recording began closes the fds, stops the
workload and undoes the file (``.old`` comes back); a failure after it keeps the file as last flushed.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import logging
import os
import signal
from typing import Dict, List, Optional, Sequence, Tuple

from pyperf_probe.errors import KernelError, UsageError
from pyperf_probe.perfdata.format import AttrFlag
from pyperf_probe.record import fds as fdset, loop
from pyperf_probe.record.events import CallGraph, Event, Target

log = logging.getLogger("pyperf")

DWARF_TICK_MS = 2  # dwarf mode drains at least this often (see loop.run_loop)
DWARF_RT_PRIORITY = 1  # dwarf mode drains as SCHED_FIFO 1 when allowed (loop.RealtimePriority); -r 0: never


@dataclasses.dataclass(frozen=True)
class Plan:
    event_specs: Tuple[str, ...]
    filters: Dict[int, str]
    call_graph: Optional[CallGraph]
    output: str
    command: Tuple[str, ...]
    pids: Tuple[int, ...]
    tids: Tuple[int, ...]
    cpu_list: Optional[str]
    all_cpus: bool
    period: int
    pages: int
    pages_given: bool
    cmdline: Tuple[str, ...]
    realtime: Optional[int] = None
    buildid_cache: bool = True
    buildid_all: bool = False  # --buildid-all: every DSO's build-id, not only those with hits
    inherit: bool = True  # -i/--no-inherit: False, child tasks are not counted
    freq: Optional[int] = None  # -F: the frequency asked for (None: 4000 Hz for events without a period)
    count: Optional[int] = None  # -c: sample every N events (all events, tracepoints included)
    raw_samples: bool = False  # -R
    kernel_callchains: bool = False  # --kernel-callchains
    user_callchains: bool = False  # --user-callchains
    verbose: int = 0  # pyperf -v: the cycles -> cpu-clock fallback says so


@dataclasses.dataclass(frozen=True)
class Outcome:
    path: str
    wakeups: int
    size: int  # bytes up to the end of the data (what perf's "wrote X MB" counts)
    samples: int
    records: int
    lost_records: int
    lost_samples: int
    status: int  # the exit status to pass on


def _cpus(plan: Plan) -> List[int]:
    from pyperf_probe.perfdata.feature_writer import online_cpus, parse_cpu_list
    online = online_cpus()
    if plan.cpu_list is None:
        return list(online)
    try:
        wanted = parse_cpu_list(plan.cpu_list)
    except ValueError:
        raise UsageError(f"  Error: invalid CPU list: '{plan.cpu_list}'") from None
    bad = [c for c in wanted if c not in online]
    if bad or not wanted:
        raise UsageError(f"  Error: CPU {bad[0] if bad else plan.cpu_list} is not online (online: "
                         f"{','.join(map(str, online))})")
    return list(wanted)


def _threads(plan: Plan) -> List[int]:
    """Thread ids for -p (every thread of each process) and -t (just those)."""
    from pyperf_probe.perfdata import synth
    out: List[int] = []
    for pid in plan.pids:
        fdset.check_pid(pid)
        out += [t for t in synth.tasks(pid) if t not in out]
    for tid in plan.tids:
        fdset.check_pid(tid)
        if tid not in out:
            out.append(tid)
    return out


def _target(plan: Plan) -> Target:
    system_wide = plan.all_cpus or plan.cpu_list is not None
    threads = bool(plan.pids or plan.tids) and not system_wide
    return Target(workload=bool(plan.command), threads=threads,
                  inherit=plan.inherit and not (plan.tids and not plan.pids),
                  system_wide=system_wide)


def select_events(plan: Plan, target: Target) -> Tuple[List[Tuple[str, str]], List[Event]]:
    """(the tracepoints, for TRACING_DATA; every event to open with perf's attr): record/selection.py."""
    from pyperf_probe.record import selection
    chosen = selection.select(plan.event_specs, selection.record_options(plan, target), plan.verbose)
    return chosen.tracepoints, chosen.events


def _filters_by_event(plan: Plan, evs) -> Dict[int, str]:
    """``--filter`` follows an ``-e``: it applies to every tracepoint that ``-e`` selected."""
    from pyperf_probe.record import selection
    return selection.filters(evs, plan.filters)


def _synthesized(plan: Plan, target: Target, evs: Sequence[Event], fds: fdset.EventFds,
                 workload_pid: Optional[int], threads: Sequence[int]) -> bytes:
    from pyperf_probe.perfdata import synth
    st = evs[0].attr.sample_type
    trailer = fdset.trailer(st)
    parts = [fdset.id_index_record(fds)]
    kernel = synth.kernel_text_range()
    if kernel:
        parts.append(synth.kernel_mmap(kernel[0], kernel[1], trailer))
    with_data = any(ev.attr.flags & AttrFlag.MMAP_DATA for ev in evs)  # dwarf: data maps too
    if target.system_wide:
        for pid in synth.all_processes():
            parts += synth.synthesize_process(pid, trailer, with_data, with_fork=True)
    elif target.threads:
        for pid in sorted({synth.thread_group(t) or t for t in threads}):
            parts += synth.synthesize_process(pid, trailer, with_data,
                                              only_tids=None if pid in plan.pids else threads)
    if workload_pid is not None and not target.threads and not target.system_wide:
        parts.append(synth.comm(workload_pid, workload_pid, "perf-exec", trailer))
    return b"".join(parts)


def _open_with_fallback(fds: fdset.EventFds, plan: Plan, evs, cpus, threads, filters) -> None:
    """Open everything; when the large default dwarf buffer is over the mlock limit (not root), retry with
    perf's default size rather than fail."""
    ignore_missing = bool(plan.pids)
    try:
        fds.open(evs, cpus, threads, plan.pages, filters, ignore_missing)
    except KernelError as exc:
        if exc.errno != errno_mod.EPERM or plan.pages_given or plan.pages <= 128:
            raise
        fds.close()
        log.warning("Could not map %d pages per CPU (perf_event_mlock_kb); using 128.", plan.pages)
        fds.open(evs, cpus, threads, 128, filters, ignore_missing)


def record(plan: Plan) -> Outcome:
    """Run one recording; a failure (or ^C) before it began leaves the output name as it was."""
    target = _target(plan)
    pairs, evs = select_events(plan, target)
    run = Recording(plan, target, pairs, evs)
    try:
        run.start()
        run.drain()
        return run.finish()
    except BaseException:
        run.abort()
        raise
    finally:
        run.close()


class Recording:
    """The state of one run: the output, the fds and rings, the signal flags, the workload."""

    def __init__(self, plan: Plan, target: Target, pairs, evs: Sequence[Event]):
        from pyperf_probe.perfdata.writer import PerfDataWriter
        self.plan, self.target, self.pairs, self.evs = plan, target, pairs, evs
        self.filters = _filters_by_event(plan, evs)
        self.cpus = _cpus(plan)
        self.threads = _threads(plan) if target.threads else []
        self.fds, self.stop, self.workload = fdset.EventFds(), loop.StopFlag(), None
        self.scanner = self.stats = None
        self.started = False  # events enabled: from then on the file keeps what was flushed
        self.writer = PerfDataWriter(plan.output)  # an unwritable path fails here, before anything runs

    def start(self) -> None:
        """Fork the workload (held), open the fds, write the attrs and synthesized records, then go."""
        from pyperf_probe.perfdata import data_scan
        from pyperf_probe.perfdata.writer import AttrEntry
        from pyperf_probe.record.workload import Workload, exec_failure
        plan, target = self.plan, self.target
        if plan.command:
            self.workload = Workload(plan.command)
        tasks = [-1] if target.system_wide else self.threads if target.threads else [self.workload.pid]
        _open_with_fallback(self.fds, plan, self.evs, self.cpus, tasks, self.filters)
        self.writer.begin([AttrEntry(ev.attr, self.fds.ids_of(i)) for i, ev in enumerate(self.evs)],
                          _early_features(plan, self.pairs, self.evs, self.fds))
        self.scanner = data_scan.Scanner(self.evs[0].attr.sample_type)
        self.writer.observe(self.scanner.feed)
        self.writer.write(_synthesized(plan, target, self.evs, self.fds,
                                       self.workload.pid if self.workload else None, self.threads))
        self.writer.end_round()
        self.writer.flush()  # a valid file before the first event can fire
        self.stop.install()
        if target.threads or target.system_wide:
            self.fds.enable()  # a workload's events are enabled by its exec (enable_on_exec)
        if self.workload is not None:
            err = self.workload.start()
            if err is not None:
                raise exec_failure(self.evs[0].name, plan.command, err)
        self.started = True

    def drain(self) -> None:
        dwarf = self.plan.call_graph is not None and self.plan.call_graph.mode == "dwarf"
        rt = self.plan.realtime if self.plan.realtime is not None else (DWARF_RT_PRIORITY if dwarf else 0)
        workload, stop = self.workload, self.stop
        finished = (lambda: stop.child_exited and workload.poll()) if workload else (lambda: False)
        with loop.RealtimePriority(rt):
            self.stats = loop.run_loop(self.fds, self.writer, stop, finished,
                                       tick_ms=DWARF_TICK_MS if dwarf else -1)

    def finish(self) -> Outcome:
        """Reap the workload, add the lost counts, complete the post-pass and the features."""
        status = _finish_workload(self.workload, self.stats.signal)
        lost_blob, lost_samples = fdset.lost_samples_records(self.fds, self.evs[0].attr.sample_type)
        if lost_blob:
            self.writer.write(lost_blob)
        self.writer.flush()
        scan = self.scanner.result()
        size = self.writer.data_end
        table = _build_ids(self.plan, scan)
        self.writer.finish(_late_features(scan, table))
        if self.plan.buildid_cache:
            cache_build_ids(table)
        return Outcome(self.plan.output, self.stats.wakeups, size, scan.samples, scan.records, scan.lost_records,
                       lost_samples, status)

    def abort(self) -> None:
        if self.started:
            self.writer.close()
            log.warning("%s keeps the data flushed before the error", self.plan.output)
        else:
            self.writer.abort()
        if self.workload is not None:
            self.workload.stop()

    def close(self) -> None:
        self.fds.close()
        self.stop.restore()


def _finish_workload(workload, stop_signal: Optional[int]) -> int:
    """Stop the workload if we were stopped first, reap it, and return the status to pass on."""
    if workload is not None:
        if stop_signal is not None:
            workload.kill(signal.SIGTERM)
        status = workload.wait()
        if stop_signal is None:
            if os.WIFEXITED(status):
                return os.WEXITSTATUS(status)
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
    return 128 + stop_signal if stop_signal is not None else 0


def _build_ids(plan: Plan, scan) -> List[Tuple[str, bytes]]:
    """The BUILD_ID table: the DSOs with hits (and the [vdso]), or with --buildid-all every DSO the
    recording mapped, the kernel first (perf's ``dsos__hit_all``)."""
    from pyperf_probe.perfdata import build_ids
    return build_ids.lookup(scan.all_dsos if plan.buildid_all else scan.hit_dsos)


def cache_build_ids(table: Sequence[Tuple[str, bytes]]) -> None:
    """Put the DSOs of the BUILD_ID table into the build-id cache, as perf record does unless -N
    (``perf_session__cache_build_ids``), so that the file can still be reported after the binaries change:
    each file, the [vdso] image, and the running kernel's kallsyms whether it had hits or not (perf's
    session reads the kernel's build-id when it starts). A failure is not the recording's failure."""
    from pyperf_probe.errors import SymbolError
    from pyperf_probe.perfdata import build_ids
    from pyperf_probe.symbols.buildid_cache import BuildIdCache
    cache = BuildIdCache()
    try:
        os.makedirs(cache.root, mode=0o755, exist_ok=True)
    except OSError as exc:
        log.warning("Warning: no build-id cache in %s: %s", cache.root, exc.strerror)
        return
    entries = dict(table)
    if "[kernel.kallsyms]" not in entries:
        kernel = build_ids.kernel_build_id()
        if kernel:
            entries["[kernel.kallsyms]"] = bytes.fromhex(kernel)
    for name, build_id in entries.items():
        try:
            if name == "[kernel.kallsyms]":
                cache.add_kernel(build_id.hex())
            elif name == "[vdso]":
                image = build_ids.vdso_bytes()
                if image:
                    cache.add_vdso(build_id.hex(), image)
            elif name.startswith("/"):
                cache.add(name)
        except (SymbolError, OSError) as exc:
            log.debug("could not add %s to the build-id cache: %s", name, exc)


def _early_features(plan: Plan, pairs, evs, fds) -> Dict[int, bytes]:
    """The feature sections known before the first event: written before the data, so that a recording
    cut short (killed) has what perf needs to read it (TRACING_DATA) and shows (the rest)."""
    from pyperf_probe import __version__
    from pyperf_probe.perfdata import feature_writer as fw, tracing_data
    from pyperf_probe.perfdata.format import Feature
    host, release, arch = fw.system_strings()
    avail, online = fw.cpu_counts()
    descs = [fw.EventDesc(ev.attr, ev.name, fds.ids_of(i)) for i, ev in enumerate(evs)]
    features = {
        Feature.HOSTNAME: fw.string(host),
        Feature.OSRELEASE: fw.string(release),
        Feature.VERSION: fw.string(f"{__version__} (pyperf)"),
        Feature.ARCH: fw.string(arch),
        Feature.NRCPUS: fw.nrcpus(avail, online),
        Feature.CMDLINE: fw.cmdline(plan.cmdline),
        Feature.EVENT_DESC: fw.event_desc(descs),
    }
    groups = _groups(evs)
    if groups:  # perf writes GROUP_DESC only when a group has more than one event
        features[Feature.GROUP_DESC] = fw.group_desc(groups)
    if pairs:  # perf writes the tracing data only for files with tracepoints
        features[Feature.TRACING_DATA] = tracing_data.build(pairs, os.sysconf("SC_PAGE_SIZE"))
    return features


def _groups(evs) -> List[Tuple[str, int, int]]:
    """(name, leader index, number of events) of each group of more than one event, in leader order."""
    sizes: Dict[int, int] = {}
    for ev in evs:
        if ev.leader >= 0:
            sizes[ev.leader] = sizes.get(ev.leader, 1) + 1
    return [(evs[i].group_name or "{anon_group}", i, n) for i, n in sorted(sizes.items())]


def _late_features(scan, build_id_table) -> Dict[int, bytes]:
    """The feature sections known at the end (the BUILD_ID table, the first and last sample times)."""
    from pyperf_probe.perfdata import feature_writer as fw
    from pyperf_probe.perfdata.format import Feature
    features = {Feature.BUILD_ID: fw.build_ids(build_id_table)}
    if scan.samples:
        features[Feature.SAMPLE_TIME] = fw.sample_time(scan.first_time, scan.last_time)
    return features
