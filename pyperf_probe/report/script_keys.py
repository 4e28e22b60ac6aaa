"""``perf script``'s text from sample keys: each distinct sample rendered once, then only its time per sample.

perf script prints every sample, but the samples of a thread that stopped in the same place differ only by
their time: the reader delivers them as timed keys (``perfdata.sample_keys``: the record without TIME, CPU
kept, paired with its time) in perf's order, between the records that change the machine. The first sample
of a key is decoded, resolved and formatted as the one-by-one path does it (``ScriptPrinter.template``:
its text with the time left as ``%``-conversions); every later one costs a dictionary lookup and one
string formatting. So the Python work grows with distinct keys, not samples.

Tracepoint samples without call chains repeat less (their RAW record holds pids, addresses, counters),
but the part before RAW (thread, cpu, ip, event) does: such a key is cut at its RAW record, the part before
it resolved and formatted once (``ScriptPrinter.templates_around_trace``), and a new key costs the trace
text of its record (``traceevent``, which keeps the texts of records it printed) and a concatenation.
So is a key whose call chain comes right before RAW (a uprobe with an argument, recorded with -g): its
head holds the chain, whose text it keeps, and RAW is found past the chain (``KeyLayout.chain_offset``).
There the whole keys rarely repeat (an argument per sample), so a full memo forgets nothing: the line of a
new key is written from its head, its template not kept.

Why that prints what replaying ``session.samples()`` prints: between two records (COMM, MMAP, FORK, ...)
a sample's text depends only on its key, its time and the machine, and the only changes a sample makes to
the machine are the ones ``session.counts`` lists (a thread created, a pid learnt late, the kernel's
symbols loaded). Each record drops the texts it made stale (``session.kept``: those of its thread, of the
maps it changed where the text prints an address, or everything); a resolution that learnt a pid or
changed the kernel drops everything, and the text of one that changed the kernel is not kept. Samples
whose id no event has, or that are corrupt, are never kept: the reader counts each one.
"""
from __future__ import annotations

import struct

from pyperf_probe.perfdata.format import SampleType
from pyperf_probe.perfdata.sample import Sample
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.session import ResolvedSample, fixed_keys
from pyperf_probe.session.fixed_keys import FixedKeys
from pyperf_probe.session.kept import Dependents

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
MEMO_LIMIT = 1 << 14  # texts kept: memory stays flat when keys are as many as the samples
SECOND = 1_000_000_000
WRITE_BATCH = 1024  # samples whose text is made at once: the text in memory stays small
WRITE_SIZE = 1 << 16  # characters of text written at once
C_HEADS = True  # script_raw_run makes the heads it can (make_head: the C twin of miss_raw's planned path)


def write_samples(session, printer, accept: Callable, write: Callable[[str], object]) -> bool:
    """Write the text of every sample of ``session`` that ``accept(thread)`` takes, by keys; False (nothing
    read) when the file's samples are not keyed: the caller replays them one by one."""
    # without chains to print (-G, no ip field, or no event has them: perf resolves none), the keys hold the
    # fixed fields and RAW alone (samples that differ by their chain or user stack share one), which also
    # keys --call-graph dwarf samples
    short = not any(printer.chains)
    batches = session.data.keyed_batches(timed=True, walk=short)
    if batches is None:
        return False
    walk = _Walk(session, printer, accept, session.data.keyed_layout(timed=True, walk=short))
    handlers = session.record_handlers()
    # the texts of the runs between records, written WRITE_SIZE characters at a time (a system-wide recording
    # has a record every ~25 samples: one write each would cost more than their text)
    pending: list[str] = []
    size = 0
    try:
        for item in batches:
            if type(item) is list:
                for start in range(0, len(item), WRITE_BATCH):  # (a flushed round may hold 100K samples)
                    text = walk.run(item[start:start + WRITE_BATCH] if len(item) > WRITE_BATCH else item)
                    if text:
                        pending.append(text)
                        size += len(text)
                        if size >= WRITE_SIZE:
                            text = "".join(pending)
                            pending.clear()
                            size = 0
                            write(text)
            elif type(item) is Sample:  # a sample the reader decoded (not keyed: another event's layout)
                session.nr_samples += 1
                resolved = session.resolve(item)
                walk.machine_changed()
                if accept(resolved.thread):
                    pending.append(printer.format(resolved))
            else:
                handler = handlers.get(type(item))
                if handler is not None:
                    handler(item)
                    walk.dependents.after_record(item)
    finally:
        if pending:  # (also before an error: what was made so far is printed, as perf prints it)
            text = "".join(pending)
            pending.clear()
            write(text)
    session.data.warn_summary()
    return True


def write_resolved(session, printer, accept: Callable, write: Callable[[str], object]) -> None:
    """Write the text of every sample of ``session.samples()`` that ``accept(thread)`` takes: each sample
    resolved (its DWARF chain unwound), its text made once per distinct resolution (event, thread, its own
    pid, tid and cpu, period, RAW, location, chain) while the kernel stays as it is (a %pS name follows its
    maps), then only its time per sample: the text before and after the time (``template_parts``) around
    the time's own few characters, so that a long chain's text is copied, not formatted again."""
    kernel, kernel_maps = session.machine.kernel, session.machine.kernel_maps
    divisor = 1 if printer.options.nanosecs else 1000
    conversion = printer.time_conversion
    every = getattr(accept, "takes_every_thread", False)  # (no --comm, --pid, --tid: no call a sample)
    memo: dict[tuple, tuple | None] = {}
    epoch = generation = None
    out: list[str] = []
    append = out.append
    for s in session.samples():
        evsel, thread, period, raw, location, chain, sample = s  # (a ResolvedSample: one unpack, no accessors)
        if not every and not accept(thread):
            continue
        if kernel.epoch != epoch or kernel_maps.generation != generation:
            epoch, generation = kernel.epoch, kernel_maps.generation
            memo.clear()
        key = (evsel, thread, sample.pid, sample.tid, sample.cpu, period, raw, location, chain)
        parts = memo.get(key, False)
        if parts is False:
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            parts = memo[key] = printer.template_parts(s)
            if kernel.epoch != epoch or kernel_maps.generation != generation:  # (a %pS name loaded the kernel)
                del memo[key]
        if parts is not None:
            before, after = parts
            if after is None:
                append(before)
            else:
                time = sample.time or 0
                append(before)
                append(conversion % (time // SECOND, time % SECOND // divisor))
                append(after)
            if len(out) >= WRITE_BATCH:
                write("".join(out))
                out.clear()
    if out:
        write("".join(out))


class _Walk:
    """Runs of (key, time) pairs -> text. ``memo`` maps a key to its template while the machine stays as it
    was ("" for a sample that prints nothing). Keys cut at their RAW record (``raw_at``: where its size is)
    also have ``heads``: the part before RAW -> ``[before, after, info or None, cpu, keys]``, the template
    around the trace text (``before`` None: the sample prints nothing), ``TraceEvents.info_of`` the event
    whose trace text goes there and its cpu, and the memo keys made from it (dropped with it)."""

    def __init__(self, session, printer, accept: Callable, layout):
        self.session = session
        self.printer = printer
        self.accept = accept
        self.machine = session.machine
        self.kernel = self.machine.kernel
        self.kernel_epoch = self.kernel.epoch
        self.decode = session.data.decode_key
        self.memo: dict[bytes, str] = {}
        # --ns: the rest of the second in nanoseconds, else in microseconds
        self.divisor = 1 if printer.options.nanosecs else 1000
        self.raw_at = layout.raw_offset()
        # keys whose call chain comes before RAW (uprobe and tracepoint samples with -g): cut at RAW too, the
        # chain in the head (its RAW is found past the chain: raw_span)
        self.chain_at = layout.chain_offset() if self.raw_at is None else None
        self.key_type, self.pid_offset = layout.key_type, layout.pid_offset
        self.heads: dict[bytes, list] = {}
        self.info_of = printer.trace_events.info_of if printer.trace_events is not None else None
        # what each kept key (of memo, or of heads when keys are cut) depends on; the events whose texts
        # print an address (their keys depend on the maps)
        self.dependents = Dependents(self.machine, self._drop, self.forget)
        self.with_ip = tuple("ip" in f for f in printer.options.fields)
        self.run = self.run_whole if getattr(speedups, "script_whole_run", None) is None else self.run_whole_c
        self._items = self._raw_items
        if self.chain_at is not None:
            self._items = self._chain_items
        if self.raw_at is not None or self.chain_at is not None:
            self.run = self.run_raw_c if getattr(speedups, "script_raw_run", None) is not None else self.run_raw
        # keys of fixed fields and RAW resolved from their bytes (session.fixed_keys)
        self.fixed = FixedKeys.of(session, layout, raw=True) if self.raw_at is not None else None
        # per event: its head plan (False: none; None: not looked up yet) and its trace text's function
        self.plans: list = [None] * len(printer.options.fields)
        self.infos: list = [None] * len(printer.options.fields)
        self.every = getattr(accept, "takes_every_thread", False)
        self._fast: tuple | None | bool = False  # fast_heads' answer (False: not asked yet)

    def forget(self) -> None:
        """The machine changed: nothing kept holds."""
        if self.fixed is not None:
            self.fixed.forget()
        self.memo.clear()
        self.heads.clear()
        self.dependents.clear()

    def _drop(self, keys) -> None:
        memo, heads = self.memo, self.heads
        for key in keys:
            if memo.pop(key, None) is None:
                head = heads.pop(key, None)
                if head is not None:
                    for made in head[4]:
                        memo.pop(made, None)

    def _keep(self, table: dict, key: bytes, value, sample) -> None:
        """Keep ``value`` for ``key`` in ``table`` (memo, or heads when keys are cut), noting what it depends
        on (the maps only where the event's text prints an address)."""
        if len(table) >= MEMO_LIMIT:
            self.forget()
        table[key] = value
        self.dependents.note(key, sample, self.with_ip[sample.evsel])

    def run_whole(self, items: list) -> str:
        """The text of a run of delivered samples (keys resolved whole)."""
        memo_get = self.memo.get
        divisor = self.divisor
        out: list[str] = []
        append = out.append
        dropped = 0
        for key, time in items:
            template = memo_get(key)
            if template is None:
                template = self.miss_whole(key)
                if template is None:
                    dropped += 1
                    continue
            if template:
                append(template % (time // SECOND, time % SECOND // divisor))
        self.session.nr_samples += len(items) - dropped
        return "".join(out)

    def run_whole_c(self, items: list) -> str:
        """``run_whole`` with its loop in C (``_speedups.script_whole_run``: the same texts; a key not kept is
        made by its call of ``miss_whole``)."""
        out: list[str] = []
        dropped = speedups.script_whole_run(items, self.memo, self.divisor, out, self.miss_whole)
        self.session.nr_samples += len(items) - dropped
        return "".join(out)

    def miss_whole(self, key: bytes) -> str | None:
        """The template of a key not kept: decoded, resolved, formatted (and kept while valid); None when
        the reader drops the sample."""
        sample = self.decode(key)
        if sample is None:
            return None
        resolved = self.session.resolve(sample)
        template = self.printer.template(resolved) if self.accept(resolved.thread) else ""
        if not self.machine_changed():
            self._keep(self.memo, key, template, sample)
        return template

    def run_raw(self, items: list) -> str:
        """``run_whole`` for keys cut at their RAW record: a key not kept whose head is known costs its
        trace text (inline here: this is the loop of tracepoint files, whose RAW records rarely repeat)."""
        out: list[str] = []
        dropped = self._items(items, out)
        self.session.nr_samples += len(items) - dropped
        return "".join(out)

    def run_raw_c(self, items: list) -> str:
        """``run_raw`` with its loop in C (``_speedups.script_raw_run``: the same texts, kept the same way; a
        head not kept is made by its call of ``miss_raw``, as ``run_raw``'s loop calls it); the samples it
        leaves (a %pS text that loaded the kernel's symbols, the memo full, a RAW record that overruns its
        key) are made here, one at a time, by ``run_raw``'s loop. Keys with a chain before RAW: ``chained``,
        ``at`` the chain's offset."""
        out: list[str] = []
        memo, heads, divisor, kernel = self.memo, self.heads, self.divisor, self.kernel
        chained = self.chain_at is not None
        at = self.chain_at if chained else self.raw_at
        raw_run = speedups.script_raw_run
        miss = self.miss_raw
        n, i, dropped = len(items), 0, 0
        while True:
            fast = self.fast_heads()
            i, status, template, missed = raw_run(items, i, memo, heads, at, divisor, kernel, out, MEMO_LIMIT, miss,
                                                  fast, chained)
            dropped += missed
            if status == 0:
                break
            if status == 2:  # a %pS name loaded the kernel's symbols: the text is not kept
                self.machine_changed()
                time = items[i][1]
                out.append(template % (time // SECOND, time % SECOND // divisor))
            else:
                dropped += self._items(items[i:i + 1], out)
            i += 1
        self.session.nr_samples += n - dropped
        return "".join(out)

    def fast_heads(self) -> tuple | None:
        """script_raw_run's ``fast`` (_speedups_script.c's FastHeads: the heads it makes itself, as ``miss_raw``
        makes them from a key of fixed fields with a head plan: ``FixedKeys.resolve`` then ``_miss_planned``),
        or None: not with C_HEADS off, keys not of fixed fields, a sample filter, or while the kernel's
        symbols are not loaded (a resolution may load them: Python's, which forgets what was kept)."""
        if not C_HEADS or self.fixed is None or not self.every or not self.kernel.settled:
            return None
        if self._fast is False:
            self._fast = self._fast_heads()
        return self._fast

    def _fast_heads(self) -> tuple | None:
        fixed = self.fixed
        # the fixed fields' byte offsets, in FixedKeys' order (its struct: misc and size, then 8 bytes each)
        key_type = self.key_type
        offsets, at = {}, 4
        for bit in fixed_keys._FIXED:
            if not key_type & bit:
                continue
            if bit in (SampleType.IDENTIFIER, SampleType.ID) and "id" not in offsets:
                offsets["id"] = at
            elif bit in (SampleType.IP, SampleType.TID, SampleType.CPU, SampleType.PERIOD):
                offsets[{SampleType.IP: "ip", SampleType.TID: "pid", SampleType.CPU: "cpu",
                         SampleType.PERIOD: "period"}[bit]] = at
            at += 8
        if at != fixed.fields_size or at != self.raw_at or "period" not in offsets or \
                offsets["pid"] != self.pid_offset:
            return None
        specs = []
        for evsel in range(len(self.printer.options.fields)):
            spec = self.printer.around_spec(evsel)
            if spec is not None:
                comm, pidtid, cpu, period, time, event, traced, tails, tail_of = spec
                info = None
                if traced:
                    info = self.infos[evsel]
                    if info is None:
                        info = self.infos[evsel] = self.info_of(self.printer.tp_ids[evsel])
                spec = (int(comm), pidtid, int(cpu), int(period), time, event, info, tails, tail_of)
            specs.append(spec)
        return (offsets.get("id", -1), offsets["ip"], offsets["pid"], offsets.get("cpu", -1), offsets["period"],
                fixed.evsels, specs, self.machine.threads, self.dependents.by_tid, fixed.locations,
                self.dependents.by_maps, self.machine.thread_state, self._user_location, self._kernel_location)

    def _kernel_location(self, ip: int):
        """A kernel-mode ip's location, as ``FixedKeys.resolve`` finds it and keeps it (make_head's
        kernel_location, for an ip not in ``FixedKeys.locations``); None when finding it changed the kernel
        (Python's path then makes the head: its machine_changed forgets what was kept)."""
        location = self.fixed.locations.get(ip)
        if location is None:
            location = self.fixed.locations[ip] = self.session.kernel_location(ip)
        return location if self.kernel.epoch == self.kernel_epoch else None

    def _user_location(self, thread, ip: int):
        """A user-mode ip's location, as ``FixedKeys.resolve`` finds it (make_head's user_location)."""
        return self.session.frames.location(thread.maps.find(ip), ip)

    def _raw_items(self, items: list, out: list) -> int:
        """``run_raw``'s loop: the texts of ``items`` appended to ``out``; how many samples were dropped."""
        memo = self.memo
        memo_get, heads_get = memo.get, self.heads.get
        at = self.raw_at
        at4 = at + 4
        u32 = U32.unpack_from
        kernel, divisor = self.kernel, self.divisor
        append = out.append
        dropped = 0
        for key, time in items:
            template = memo_get(key)
            if template is None:
                got = heads_get(key[:at])
                end = at4 + u32(key, at)[0]
                if got is None or end > len(key):  # (a RAW record too long for its sample: decoding says so)
                    template = self.miss_raw(key, end)
                    if template is None:
                        dropped += 1
                        continue
                else:
                    before, after, info, cpu, made = got
                    if before is None:
                        template = ""
                    elif info is None:
                        template = before + after
                    else:
                        epoch = kernel.epoch
                        template = before + info(key[at4:end], cpu).replace("%", "%%") + after
                        if kernel.epoch != epoch:  # a %pS name loaded the kernel's symbols: not kept
                            self.machine_changed()
                            append(template % (time // SECOND, time % SECOND // divisor))
                            continue
                    if len(memo) >= MEMO_LIMIT:
                        self.forget()
                    memo[key] = template
                    made.append(key)
            if template:
                append(template % (time // SECOND, time % SECOND // divisor))
        return dropped

    def _chain_items(self, items: list, out: list) -> int:
        """``_raw_items`` for keys whose call chain comes before RAW (``chain_at``): the head is the key up to
        its RAW record, chain included. A full memo is not a reason to forget the heads: a probe's argument
        in RAW makes nearly every key new (bench's big.data: 1M samples, 690K distinct keys, 11K heads), so
        once the memo is full a key costs its head's look-up and its trace text (the memo is not looked up:
        hashing a new key would cost as much), its template not kept."""
        memo = self.memo
        memo_get, heads_get = memo.get, self.heads.get
        kernel, divisor = self.kernel, self.divisor
        span = self.raw_span
        append = out.append
        dropped = 0
        for key, time in items:
            template = memo_get(key) if len(memo) < MEMO_LIMIT else None
            if template is None:
                at, end = span(key)
                got = heads_get(key[:at]) if end <= len(key) else None
                if got is None:  # (a new head, or a chain or RAW record too long for its sample)
                    template = self.miss_raw(key, end)
                    if template is None:
                        dropped += 1
                        continue
                else:
                    before, after, info, cpu, made = got
                    if before is None:
                        template = ""
                    elif info is None:
                        template = before + after
                    else:
                        epoch = kernel.epoch
                        template = before + info(key[at + 4:end], cpu).replace("%", "%%") + after
                        if kernel.epoch != epoch:  # a %pS name loaded the kernel's symbols: not kept
                            self.machine_changed()
                            append(template % (time // SECOND, time % SECOND // divisor))
                            continue
                    if len(memo) < MEMO_LIMIT:
                        memo[key] = template
                        made.append(key)
            if template:
                append(template % (time // SECOND, time % SECOND // divisor))
        return dropped

    def raw_span(self, key: bytes) -> tuple[int, int]:
        """(where RAW's u32 size is, where RAW ends) in ``key``; an end past the key where the chain or RAW
        overruns it (decoding the key then says what is wrong)."""
        if self.chain_at is None:
            at = self.raw_at
        else:
            at = self.chain_at + 8
            if at > len(key):
                return at, len(key) + 1
            at += 8 * U64.unpack_from(key, at - 8)[0]
        if at + 4 > len(key):
            return at, len(key) + 1
        return at, at + 4 + U32.unpack_from(key, at)[0]

    def miss_raw(self, key: bytes, end: int) -> str | None:
        """``miss_whole`` for a key whose head is not kept (or whose RAW size overruns it). A key of fixed
        fields is resolved from its bytes (``FixedKeys``); its event's head plan, when it has one, prints
        from what that gives (``_Sampled``), else the sample is decoded to print it."""
        fast = self.fixed.resolve(key) if self.fixed is not None and end <= len(key) and \
            self.kernel.settled else None
        if fast is not None:
            plan = self.plans[fast[0]]
            if plan is None:
                plan = self.plans[fast[0]] = self.printer.around_plan(fast[0]) or False
            if plan is not False:
                return self._miss_planned(key, end, fast, plan)
        if fast is None:
            sample = self.decode(key)
            if sample is None:
                return None
            resolved = self.session.resolve(sample)
        else:
            evsel, thread, location, period, cpu, pid, tid = fast
            state = thread.state or self.machine.thread_state(thread)
            raw = key[self.raw_at + 4:end]
            if self.printer.around_plan(evsel) is not None:
                sample = resolved = _Sampled(evsel, state, period, raw, pid, tid, cpu, key[0] | key[1] << 8,
                                             location)
            else:
                sample = self.decode(key)
                resolved = ResolvedSample(evsel, state, period, raw, location, (), sample)
        head = [None, None, None, 0, []]
        if self.accept(resolved.thread):
            cut = self.printer.templates_around_trace(resolved)
            if cut is not None:
                before, after, traced = cut
                head = [before, after, self.info_of(self.printer.tp_ids[sample.evsel]) if traced else None,
                        sample.cpu or 0, []]
        at = self.raw_at if self.chain_at is None else self.raw_span(key)[0]
        before, after, info, cpu, made = head
        if before is None:
            template = ""
        elif info is None:
            template = before + after
        else:
            template = before + info(key[at + 4:end], cpu).replace("%", "%%") + after
        if not self.machine_changed():
            if self.chain_at is not None:  # (a full memo forgets nothing: _chain_items)
                if end <= len(key):
                    self._keep(self.heads, key[:at], head, sample)
                    if len(self.memo) < MEMO_LIMIT:
                        self.memo[key] = template
                        made.append(key)
                return template
            if len(self.memo) >= MEMO_LIMIT:
                self.forget()
            self._keep(self.heads, key[:at], head, sample)
            self.memo[key] = template
            made.append(key)
        return template

    def _miss_planned(self, key: bytes, end: int, fast: tuple, plan) -> str:
        """``miss_raw`` for a key of fixed fields whose event has a head plan (``around_plan``): the same
        steps, without the general path's look-ups (the system-wide recording's 20K heads: a thread, cpu
        and event each)."""
        evsel, thread, location, period, cpu, pid, tid = fast
        at = self.raw_at
        at4 = at + 4
        state = thread.state or self.machine.thread_state(thread)
        sample = _Sampled(evsel, state, period, key[at4:end], pid, tid, cpu, key[0] | key[1] << 8, location)
        if self.every or self.accept(state):
            before, after, traced = plan(sample)
            if traced:
                info = self.infos[evsel]
                if info is None:
                    info = self.infos[evsel] = self.info_of(self.printer.tp_ids[evsel])
                head = [before, after, info, cpu or 0, []]
                template = before + info(sample.raw, cpu or 0).replace("%", "%%") + after
            else:
                head = [before, after, None, cpu or 0, []]
                template = before + after
        else:
            head = [None, None, None, 0, []]
            template = ""
        if not self.machine_changed():
            memo = self.memo
            if len(memo) >= MEMO_LIMIT:
                self.forget()
            self._keep(self.heads, key[:at], head, sample)
            memo[key] = template
            head[4].append(key)
        return template

    def machine_changed(self) -> bool:
        """After a resolution: if it gave a thread its pid or changed the kernel's maps or symbols, what was
        kept no longer holds (nor, for the kernel, the text just made: it is not kept)."""
        changed = False
        self.dependents.pid_learnt()
        if self.kernel.epoch != self.kernel_epoch:
            self.kernel_epoch = self.kernel.epoch
            self.forget()
            changed = True
        return changed


class _Sampled:
    """A sample resolved from its key's bytes, as a head plan and ``Dependents.note`` read it: the
    ``ResolvedSample`` fields they use and, as its own ``sample``, the ``Sample`` fields (the ip: the
    location's address, the frame ``FixedKeys`` looked it up as)."""

    __slots__ = ("evsel", "thread", "period", "raw", "pid", "tid", "cpu", "misc", "location")
    callchain = None

    def __init__(self, evsel: int, thread, period: int, raw: bytes, pid: int, tid: int, cpu, misc: int, location):
        self.evsel, self.thread, self.period, self.raw = evsel, thread, period, raw
        self.pid, self.tid, self.cpu, self.misc, self.location = pid, tid, cpu, misc, location

    @property
    def sample(self):
        return self

    @property
    def ip(self) -> int:
        return self.location.avma
