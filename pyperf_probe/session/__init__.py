"""The machine seen through a perf.data record stream: what ``report`` and ``script`` walk.

Interface (report and script code against these names)::

    session = Session(data, symfs=None, inline=True, force=False, unwinder=None)
        data      a PerfDataFile, or a path that Session opens (perf's checks; ``force`` = perf's -f)
        symfs     perf's --symfs DIR: every file path is looked up under DIR
        inline    expand inline frames in DWARF-unwound chains (perf's --inline, the default; --no-inline:
                  False). perf 6.1 expands them only there (unwind_entry), never in frame-pointer chains.
        unwinder  the DWARF unwinder hook for REGS_USER+STACK_USER samples (see ``user_chain``)

    session.evsels            tuple of Evsel(index, name, attr, tp_format): tp_format is the tracepoint's
                              ``tracing_data.EventFormat`` (None for other events or without TRACING_DATA)
    session.sample_groups(with_chain=True, with_raw=True)
                              the samples counted, per event: {(thread, location, chain, raw): [period sum,
                              count]} in first-sample order, as aggregating samples() gives (report's path;
                              ``session.counts``)
    session.samples()         iterator of ResolvedSample, in perf's time order:
        .evsel                index into session.evsels
        .thread               ThreadComm (pid, tid, comm): the comm the thread had at that time (interned)
        .period               the sample's period
        .raw                  the PERF_SAMPLE_RAW bytes (the ``trace`` sort key), or None
        .location             Frame of the sample ip, without inline expansion (the Symbol column)
        .chain                tuple of Frames, leaf first: every callchain entry that is not a context
                              marker (the kernel puts the sample ip first; perf adds nothing), unresolved ones
                              keeping their avma; for DWARF samples the unwinder's frames follow the
                              callchain's, with inline frames expanded before their function (as perf 6.1).
                              () without a call chain.
        .sample               the decoded perfdata.sample.Sample (time, cpu, ip, ...)
    session.lost_samples      sum of LOST_SAMPLES records (report's "# Total Lost Samples")
    session.total_lost        sum of LOST records' counts; session.nr_lost_chunks: number of LOST records
    session.nr_events         records processed, all types (perf's stats.nr_events[0], for its warnings)
    session.nr_samples        samples delivered
    session.machine           threads, maps, dsos (session.machine.dsos)
    session.close()           closes the file (also ``with Session(...) as session:``)

Frames (``session.frames.Frame``) are interned per (map, avma): identical chains hold the same objects,
and each distinct address is resolved once (``Dso.resolve`` caches per file offset), so memory grows with
distinct addresses, not samples. Frame fields: dso (short name), sym (name or None), avma, file_offset,
sym_start, inlined, dso_obj (``Dso``: long_name, build_id, order), symbol.

DWARF hook: for a sample with REGS_USER and STACK_USER, ``user_chain(sample, thread)`` calls
``unwinder(sample, maps) -> Sequence[int]`` with the sample's ``Maps`` (``maps.find(avma)`` -> ``Map`` with
start, end, pgoff and ``dso``: ``dso.candidate_images()``, ``dso.image``, ``dso.build_id``,
``dso.svma(file_offset)``) and resolves the returned avmas as frames, in order (the unwinder returns what
perf stores: the ip, then ``ra - 1`` per caller). Without an unwinder such samples have the callchain
part only.
"""
from __future__ import annotations

from pyperf_probe import lazylog as log
from pyperf_probe.perfdata.format import (MISC_CPUMODE_MASK, MISC_HYPERVISOR, MISC_KERNEL, MISC_USER,
                                          PERF_CONTEXT_HV, PERF_CONTEXT_KERNEL, PERF_CONTEXT_MAX,
                                          PERF_CONTEXT_USER, AttrType, EventAttr, Feature)
from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.perfdata.reader import PerfDataFile
from pyperf_probe.perfdata.records import (CommRecord, ExitRecord, ForkRecord, KsymbolRecord, LostRecord,
                                           LostSamplesRecord, Mmap2Record, MmapRecord)
from pyperf_probe.perfdata.sample import Sample
from pyperf_probe.session.dsos import build_id_table
from pyperf_probe.session.frames import Frame, FrameTable
from pyperf_probe.session.machine import Machine, Thread, ThreadComm

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable, Iterator, Sequence

DEFAULT_MAX_STACK = 127  # /proc/sys/kernel/perf_event_max_stack, perf report's default --max-stack
CHAIN_CACHE_LIMIT = 1 << 16
MEMO_PROCESSES = 64  # processes whose avma -> frames memo is kept (user_chain)

__all__ = ["Session", "Evsel", "ResolvedSample", "Frame", "ThreadComm"]


class Evsel(Frozen):
    """One event of the session: its index in the file, name, attr and tracepoint format."""

    __slots__ = ()
    _fields = ("index", "name", "attr", "tp_format")

    def __new__(cls, index: int, name: str | None, attr: EventAttr, tp_format: object | None = None):
        return tuple.__new__(cls, (index, name, attr, tp_format))


class ResolvedSample(Frozen):
    """One sample as report and script use it (see the module docstring)."""

    __slots__ = ()
    _fields = ("evsel", "thread", "period", "raw", "location", "chain", "sample")
    __eq__, __ne__, __hash__ = tuple.__eq__, tuple.__ne__, tuple.__hash__  # a NamedTuple's: values only

    def __new__(cls, evsel: int, thread: ThreadComm, period: int, raw: bytes | None, location: Frame,
                chain: tuple[Frame, ...], sample: Sample):
        return tuple.__new__(cls, (evsel, thread, period, raw, location, chain, sample))


class Session:
    """A perf.data file replayed into threads, maps and resolved samples (see the module docstring)."""

    def __init__(self, data: PerfDataFile | str | None, symfs: str | None = None, inline: bool = True,
                 force: bool = False, unwinder: Callable | None = None, max_stack: int = DEFAULT_MAX_STACK,
                 kallsyms: str | None = None, quiet: bool = False, host=None):
        self.data = data if isinstance(data, PerfDataFile) else PerfDataFile.open(data, force=force)
        self.symfs = symfs
        self.unwinder = unwinder
        self.max_stack = max(max_stack, 0)  # perf's walk keeps no entry for any max_stack below 1
        self.caller_order = False  # perf's callchain_param.order: report's caller graphs set it (_callchain)
        # per event, whether its samples' chains are resolved (None: every event's): perf script resolves a
        # chain only to print it (thread__resolve_callchain under PRINT_FIELD(IP) and use_callchain), so
        # nothing the chain's addresses would load is loaded for the others
        self.chained_evsels: tuple[bool, ...] | None = None
        self.evsels = tuple(Evsel(a.index, a.name, a.attr, self._tp_format(a.attr)) for a in self.data.attrs)
        build_id_entries = self._feature(Feature.BUILD_ID)
        build_ids = build_id_table(build_id_entries)
        from pyperf_probe.session.kernel import KernelDsos, KernelOptions
        kernel_files = {e.filename for e in build_id_entries or () if e.cpumode == MISC_KERNEL}
        self.machine = Machine(KernelDsos(build_ids, symfs, kernel_files),
                               KernelOptions(kallsyms, symfs, host, show_errors=not quiet), self._arch)
        self.frames = FrameTable(_inline_lookup if inline else None)
        self.lost_samples = 0
        self.total_lost = 0
        self.nr_lost_chunks = 0
        self.nr_samples = 0
        self._chains: dict = {}
        # Maps -> (maps, generation, {avma: frames}, {avmas: chain}): user_chain's, the last one at hand
        self._avma_memos: dict = {}
        self._unwound_memo: tuple = (None, None, None, None)
        self._unwound_chains = 0  # chains kept in all of them (at most CHAIN_CACHE_LIMIT)
        self._fp_memos: dict = {}  # Maps -> (generation, {avma: frame}): _chain_frames
        self._kernel_memo: tuple = (-1, {})  # (kernel maps' generation, {avma: frame}): _chain_frames
        self.sample_read = None  # session.sample_read.SampleRead of a file whose samples read counters
        if any(a.attr.sample_type & _SAMPLE_READ for a in self.data.attrs):
            from pyperf_probe.session.sample_read import SampleRead
            self.sample_read = SampleRead(self.data.attrs)

    def close(self) -> None:
        """Close the perf.data file (the session can still be inspected)."""
        self.data.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def nr_events(self) -> int:
        return self.data.stats.nr_records

    def _feature(self, feature: int):
        try:
            return self.data.feature(feature)
        except Exception as exc:  # a damaged optional section: say so, go on without it
            from pyperf_probe.errors import PerfDataError
            if not isinstance(exc, PerfDataError):
                raise
            log.warning(f"{exc}: ignored")
            return None

    def _arch(self) -> str | None:
        """The recording machine's arch (the ARCH feature), perf's ``perf_env__arch``."""
        arch = self._feature(Feature.ARCH)
        return arch if isinstance(arch, str) else None

    def _tp_format(self, attr: EventAttr):
        if attr.type != AttrType.TRACEPOINT:
            return None
        events = getattr(self._feature(Feature.TRACING_DATA), "events", None)
        return None if events is None else events.get(attr.config)

    # --- the record stream ------------------------------------------------------------------------------

    def samples(self) -> Iterator[ResolvedSample]:
        """Process the file's records in perf's order; yield each sample resolved (a sample that reads
        counters: one per counter that moved, ``session.sample_read``)."""
        if self.sample_read is not None:
            yield from self._read_samples()
            return
        handlers = self.record_handlers()
        resolve = self.resolve
        for batch in self.data.record_batches():
            for rec in batch:
                if type(rec) is Sample:
                    self.nr_samples += 1
                    yield resolve(rec)
                    continue
                handler = handlers.get(type(rec))
                if handler is not None:
                    handler(rec)
        self.data.warn_summary()

    def _read_samples(self) -> Iterator[ResolvedSample]:
        """``samples`` for a file with PERF_SAMPLE_READ events (``evlist__deliver_sample``)."""
        handlers = self.record_handlers()
        resolve = self.resolve
        reading = self.sample_read
        for batch in self.data.record_batches():
            for rec in batch:
                if type(rec) is not Sample:
                    handler = handlers.get(type(rec))
                    if handler is not None:
                        handler(rec)
                    continue
                if rec.read is None or not reading.reads(rec.evsel):
                    self.nr_samples += 1
                    yield resolve(rec)
                    continue
                for index, period, sid in reading.deliveries(rec.evsel, rec.read):
                    self.nr_samples += 1    # resolved as a sample of its own event (chained_evsels)
                    yield resolve(_new(Sample, (index, *rec[1:6], period, *rec[7:10], sid, *rec[11:])))
        self.data.warn_summary()

    def sample_groups(self, with_chain: bool = True, with_raw: bool = True, order: list | None = None):
        """Process the file's records in perf's order; count the samples per event and (thread, location,
        chain, raw) group, without resolving each one (``session.counts``; ``order`` as there)."""
        from pyperf_probe.session.counts import sample_groups
        groups = sample_groups(self, with_chain, with_raw, order)
        self.drop_chain_memos()
        return groups

    def drop_chain_memos(self) -> None:
        """Let go of the frame-pointer chains' memos (resolved chains, avma -> frame per process and for
        the kernel) once the samples are read: the groups keep the chains and frames they use, the memos
        would only hold their keys and dicts through the report's peak (make.data: 5K chains). A later
        look-up makes them again (the frames are interned by the frame table)."""
        self._chains = {}
        self._fp_memos = {}
        self._kernel_memo = (-1, {})

    def record_handlers(self) -> dict:
        """Record type -> what processing it does to the machine and the counters."""
        machine = self.machine
        return {
            CommRecord: machine.process_comm, MmapRecord: machine.process_mmap,
            Mmap2Record: machine.process_mmap, ForkRecord: machine.process_fork,
            ExitRecord: machine.process_exit, LostRecord: self._lost, LostSamplesRecord: self._lost_samples,
            KsymbolRecord: machine.kernel.process_ksymbol,
        }

    def _lost(self, rec: LostRecord) -> None:
        self.total_lost += rec.lost
        self.nr_lost_chunks += 1

    def _lost_samples(self, rec: LostSamplesRecord) -> None:
        self.lost_samples += rec.lost

    # --- one sample -------------------------------------------------------------------------------------

    def resolve(self, sample: Sample) -> ResolvedSample:
        """Thread, location and chain of a sample, against the machine's current state (the per-sample
        hot path: the thread, its interned comm and the resolved chain come from dicts)."""
        machine = self.machine
        evsel, misc, _time, pid, tid, ip, period, _cpu, callchain, raw = sample[:10]  # (one unpack, not 10 reads)
        thread = machine.threads.get(tid)
        if thread is None or thread.pid == -1:
            thread = machine.findnew_thread(-1 if pid is None else pid, -1 if tid is None else tid)
        ip = ip or 0
        cpumode = misc & MISC_CPUMODE_MASK
        location = None
        if cpumode == MISC_KERNEL:  # machine__resolve before the chain: a kernel address may load the kernel
            location = self.kernel_location(ip)
        elif cpumode != MISC_USER:
            location = self.frames.location(self._map_for(thread, cpumode, ip), ip, _LEVELS.get(cpumode, "."))
            if location.dso_obj is not None and location.dso_obj is machine.kernel._kernel_dso:
                machine.kernel.hit = True
        if callchain and self.chained_evsels is not None and not self.chained_evsels[evsel]:
            callchain = None
        if callchain:
            maps = thread.maps
            chain = self._chains.get((maps, maps.generation, machine.kernel_maps.generation, callchain))
            if chain is None:
                chain = self._callchain(thread, callchain)
        else:
            chain = ()
        if location is None:
            if chain and chain[0].avma == ip and chain[0].dso_obj is not None:
                location = chain[0]  # the kernel put the ip first, resolved in the same maps
            else:  # (the process's avma -> frame memo: a DWARF sample's ip is not in its chain)
                maps = thread.maps
                memo = self._fp_memos.get(maps)
                if memo is None or memo[0] != maps.generation:
                    memo = (None, self._fp_memo(maps, maps.generation))
                location = memo[1].get(ip)
                if location is None:
                    location = memo[1][ip] = self.frames.frame(maps.find(ip), ip)
        if sample[_STACK_USER] and self.unwinder is not None and sample[_REGS_USER] is not None:
            chain += self.user_chain(sample, thread)
        return _new(ResolvedSample, (evsel, thread.state or machine.thread_state(thread), period, raw, location,
                                     chain, sample))

    def kernel_location(self, ip: int) -> Frame:
        """The location of a kernel-mode sample's ip (``resolve``'s, which depends on no thread)."""
        kernel = self.machine.kernel
        location = self.frames.location(kernel.find(ip), ip, "k")
        if location.dso_obj is not None and location.dso_obj is kernel._kernel_dso:
            kernel.hit = True
        return location

    def _map_for(self, thread: Thread, cpumode: int, avma: int):
        """``thread__find_map``: kernel addresses in the kernel maps, hypervisor ones in none."""
        if cpumode == MISC_USER:
            return thread.maps.find(avma)
        if cpumode == MISC_KERNEL:
            return self.machine.kernel.find(avma)
        if cpumode == MISC_HYPERVISOR:
            return None
        return thread.maps.find(avma)

    def _callchain(self, thread: Thread, callchain: tuple[int, ...]) -> tuple[Frame, ...]:
        """``thread__resolve_callchain_sample``: markers switch the cpumode and are dropped, an unknown
        marker discards the chain, at most ``max_stack`` entries: the leaf's end of the chain, looked up
        leaf first, or in ``caller_order`` (report's caller graphs) its root's end, looked up root first,
        as perf does (which matters where the first kernel address loads the kernel). Frames come out leaf
        first either way. Cached per
        (maps, their generation, the kernel maps' generation, chain): ``resolve`` looks there first."""
        maps = thread.maps
        key = (maps, maps.generation, self.machine.kernel_maps.generation, callchain)
        # A user-only chain (no marker, or only the leading PERF_CONTEXT_USER: a uprobe's or a user
        # sample's) is looked up in one pass over the memo, its misses after in lookup order.
        start = 1 if callchain and callchain[0] == PERF_CONTEXT_USER else 0
        if len(callchain) == start or max(callchain[start:] if start else callchain) < PERF_CONTEXT_MAX:
            got = self._user_chain_frames(thread, callchain[start:])
            if len(self._chains) >= CHAIN_CACHE_LIMIT:
                self._chains.clear()
            self._chains[key] = got
            return got
        entries = _kept_entries(callchain, self.max_stack, self.caller_order)
        if self.caller_order:           # perf walks the chain from its root: the root's end is kept
            frames = self._chain_frames(thread, reversed(entries))
            frames.reverse()
        else:
            frames = self._chain_frames(thread, entries)
        got = tuple(frames)
        if len(self._chains) >= CHAIN_CACHE_LIMIT:
            self._chains.clear()
        self._chains[key] = got
        return got

    def _chain_frames(self, thread: Thread, entries) -> list:
        """The frames of (avma, cpumode) entries, in the order given (the order they are looked up in).
        An address is looked up once per process (user) or once for all (kernel) while the maps stay as
        they are: memos of avma -> frame beside the maps and the frame table (chains share most frames)."""
        maps, table = thread.maps, self.frames
        kernel, kernel_maps = self.machine.kernel, self.machine.kernel_maps
        kmemo = self._kernel_memo
        if kmemo[0] != kernel_maps.generation:
            kmemo = self._kernel_memo = (kernel_maps.generation, {})
        kget = kmemo[1].get
        umemo = self._fp_memo(maps, maps.generation)
        uget = umemo.get
        out: list = []
        for avma, mode in entries:
            if mode == MISC_KERNEL:
                frame = kget(avma)
                if frame is None:
                    frame = table.frames(kernel.find(avma), avma, "k")[0]
                    if kmemo[0] == kernel_maps.generation:
                        kmemo[1][avma] = frame
                    else:               # the lookup loaded the kernel, or moved a module: start again
                        kmemo = self._kernel_memo = (kernel_maps.generation, {})
                        kget = kmemo[1].get
            elif mode == MISC_USER:
                frame = uget(avma)
                if frame is None:
                    frame = umemo[avma] = table.frame(maps.find(avma), avma)
            else:
                frame = table.frames(None, avma, "H")[0]
            out.append(frame)
        return out

    def _user_chain_frames(self, thread: Thread, avmas: tuple[int, ...]) -> tuple[Frame, ...]:
        """``_chain_frames`` of user addresses only (no marker among them), leaf first: the kept end
        (``max_stack``: the leaf's, or in ``caller_order`` the root's) found in the process's memo at
        once, the addresses it lacks then looked up as ``_chain_frames`` would, leaf first or root first."""
        max_stack = self.max_stack
        if len(avmas) > max_stack:
            avmas = avmas[len(avmas) - max_stack:] if self.caller_order else avmas[:max_stack]
        maps = thread.maps
        umemo = self._fp_memo(maps, maps.generation)
        frames = list(map(umemo.get, avmas))
        if None in frames:
            table = self.frames
            order = range(len(avmas) - 1, -1, -1) if self.caller_order else range(len(avmas))
            for i in order:
                if frames[i] is None:
                    avma = avmas[i]
                    frame = umemo.get(avma)  # (an address twice in the chain is looked up once)
                    if frame is None:
                        frame = umemo[avma] = table.frame(maps.find(avma), avma)
                    frames[i] = frame
        return tuple(frames)

    def chain_misses(self, maps, memo: dict, frames: list, caller_order: bool) -> tuple[Frame, ...]:
        """A user-only chain's frames (leaf first) from ``fixed_keys.user_chain``'s list, where each frame
        not in ``memo`` (the process's, ``_fp_memo``) is its address: those looked up as
        ``_user_chain_frames`` looks them up (leaf first, or root first in ``caller_order``; an address
        twice in the chain once), and kept in ``memo``."""
        frame_of, find = self.frames.frame, maps.find
        for i in range(len(frames) - 1, -1, -1) if caller_order else range(len(frames)):
            avma = frames[i]
            if type(avma) is int:
                frame = memo.get(avma)
                if frame is None:
                    frame = memo[avma] = frame_of(find(avma), avma)
                frames[i] = frame
        return tuple(frames)

    def _fp_memo(self, maps, generation: int) -> dict:
        """avma -> frame of one process's maps at ``generation``, for frame-pointer chains (as
        ``_unwound_memo_for`` for unwound ones, dropped all at once past ``MEMO_PROCESSES`` processes)."""
        memo = self._fp_memos.get(maps)
        if memo is None or memo[0] != generation:
            if len(self._fp_memos) >= MEMO_PROCESSES:
                self._fp_memos.clear()
            memo = self._fp_memos[maps] = (generation, {})
        return memo[1]

    def user_chain(self, sample: Sample, thread: Thread) -> tuple[Frame, ...]:
        """The DWARF-unwound user part of a REGS_USER+STACK_USER sample (the unwinder hook). The frames
        of a chain are cached per process ``Maps`` while their generation stays (``_unwound_memo_for``):
        samples that unwind to the same chain resolve it once, for a dictionary lookup of its addresses. A
        new chain's addresses are looked up in the same process's avma -> frames memo before the maps and
        the frame table: chains of one process share most of their frames."""
        maps = thread.maps
        avmas = tuple(self.unwinder(sample, maps))
        if len(avmas) > self.max_stack:
            avmas = avmas[:self.max_stack]
        memo = self._unwound_memo
        if memo[0] is not maps or memo[1] != maps.generation:
            memo = self._unwound_memo_for(maps)
        got = memo[3].get(avmas)
        if got is None:
            got = self._unwound_frames(maps, memo, avmas)
        return got

    def _unwound_frames(self, maps, memo: tuple, avmas: tuple[int, ...]) -> tuple[Frame, ...]:
        """The frames of a chain not kept yet (``user_chain``), kept in ``memo``; past CHAIN_CACHE_LIMIT
        chains in all processes' memos, all of them are dropped at once (memory stays flat)."""
        frame_memo = memo[2]
        memo_get = frame_memo.get
        frames: list = []
        for avma in avmas:
            found = memo_get(avma)
            if found is None:
                found = frame_memo[avma] = self.frames.frames_inlined(maps.find(avma), avma)
            frames += found
        got = tuple(frames)
        if self._unwound_chains >= CHAIN_CACHE_LIMIT:
            for kept in self._avma_memos.values():
                kept[3].clear()
            memo[3].clear()
            self._unwound_chains = 0
        memo[3][avmas] = got
        self._unwound_chains += 1
        return got

    def _unwound_memo_for(self, maps) -> tuple:
        """``(maps, generation, {avma: inline-expanded frames}, {avmas: chain})`` of one process's maps at
        their generation (new dicts once an mmap changed them); dropped all at once past
        ``MEMO_PROCESSES`` processes, so that a build's thousands of short processes keep memory flat."""
        generation = maps.generation
        memo = self._avma_memos.get(maps)
        if memo is None or memo[1] != generation:
            if len(self._avma_memos) >= MEMO_PROCESSES:
                self._avma_memos.clear()
                self._unwound_chains = 0
            elif memo is not None:
                self._unwound_chains -= len(memo[3])
            memo = self._avma_memos[maps] = (maps, generation, {}, {})
        self._unwound_memo = memo
        return memo


_new = tuple.__new__
_STACK_USER, _REGS_USER = Sample._fields.index("stack_user"), Sample._fields.index("regs_user")
assert Sample._fields[:10] == ("evsel", "misc", "time", "pid", "tid", "ip", "period", "cpu", "callchain", "raw")
_SAMPLE_READ = 1 << 4  # PERF_SAMPLE_READ
_MARKERS = {PERF_CONTEXT_HV: MISC_HYPERVISOR, PERF_CONTEXT_KERNEL: MISC_KERNEL, PERF_CONTEXT_USER: MISC_USER}


def _kept_entries(callchain: tuple[int, ...], max_stack: int, caller_order: bool) -> list:
    """``thread__resolve_callchain_sample``'s walk: the (avma, cpumode) entries it keeps, leaf first, at most
    ``max_stack`` of them; [] when it meets a marker it does not know (perf discards the chain). It walks
    from the leaf, or in ``caller_order`` from the root, and stops once ``max_stack`` entries are kept, so
    a bad marker past that point is never seen. From the root, the cpumode of the entries after the last
    marker comes from that marker (read first), and each marker met gives its place to the one before it
    (``find_prev_cpumode``)."""
    entries: list = []
    if not caller_order:
        cpumode = MISC_USER
        for avma in callchain:
            if len(entries) >= max_stack:
                break
            if avma >= PERF_CONTEXT_MAX:
                cpumode = _MARKERS.get(avma)
                if cpumode is None:
                    return []
                continue
            entries.append((avma, cpumode))
        return entries
    cpumode = _prev_cpumode(callchain, len(callchain))
    for j in range(len(callchain) - 1, -1, -1):
        if len(entries) >= max_stack or cpumode is None:
            break
        avma = callchain[j]
        if avma >= PERF_CONTEXT_MAX:
            cpumode = _prev_cpumode(callchain, j, cpumode)
            continue
        entries.append((avma, cpumode))
    if cpumode is None:
        return []
    entries.reverse()
    return entries


def _prev_cpumode(callchain: tuple[int, ...], end: int, cpumode: int | None = MISC_USER) -> int | None:
    """``find_prev_cpumode``: the cpumode of the last marker before ``end`` (None: a marker perf does not
    know), ``cpumode`` when there is none."""
    for j in range(end - 1, -1, -1):
        if callchain[j] >= PERF_CONTEXT_MAX:
            return _MARKERS.get(callchain[j])
    return cpumode
# perf's al->level per cpumode (thread__find_map: "k" kernel, "." user, "H" anything else it can't place)
_LEVELS = {MISC_KERNEL: "k", MISC_USER: ".", MISC_HYPERVISOR: "H"}


def _inline_lookup(dso, file_offset: int) -> Sequence[str]:
    """perf's ``append_inlines``: the names DWARF gives at the address (``Dso.inline_names``)."""
    return dso.inline_names(file_offset)
