"""Samples counted instead of replayed one by one: what ``perf report``'s histograms need.

``sample_groups(session)`` gives, per event, ``{(thread, location, chain, raw): [period, count]}`` in the
order of each group's first sample: exactly what aggregating ``session.samples()`` gives, for a fraction
of the work. The reader delivers runs of samples as keys (``perfdata.sample_keys``: the record without
TIME and CPU) between the records that change the machine; a C loop (``count_run``, _speedups_session.c;
``_py_count_run`` its Python twin) counts a run's keys (in first-occurrence order) and each distinct key is
resolved once, then cached until the machine changes. So a file of 10 million samples costs 10 million
dictionary updates in C and a resolution per distinct key: in that loop too for keys of fixed fields and
keys with call chains, user-only or with kernel parts (what ``FixedKeys`` reads from their bytes: the
frames from the memos where they are kept, the others by the session's Python calls), decoded and
resolved in Python otherwise.

Why counting a run is the same as replaying it: between two records (COMM, MMAP, FORK, ...) a sample's
resolution depends only on its key and the machine, and the only change a sample itself makes is to
create its thread, which changes no other sample's answer. The exceptions: a thread whose pid was
unknown (-1) that a later sample names with its pid (``machine__update_thread_pid``), and the first kernel
address, which loads the kernel's symbols and may move the kernel map's bounds (session.kernel): a run
where either can happen is replayed key by key, in order, and a key whose resolution changed the kernel
is not kept. A record drops only the resolutions it made stale (``session.kept``: its thread's, the
maps' it changed, or everything).

DWARF samples (REGS_USER + STACK_USER) have no such key: each is unwound first, then counted by the key of
its fields and unwound chain while the machine stays (``_count_records``, ``count_dwarf_run``).

Tracepoint samples without chains repeat less (their RAW record holds pids, addresses, counters), but
the part before RAW does: such a key is cut at its RAW record (``KeyLayout.raw_offset``), the part before
it resolved once (thread, location, period), and a new key costs a slice and a tuple.
"""
from __future__ import annotations

import struct
from _collections import _count_elements as count_into  # Counter.update's C loop: counts into any dict
# (from _collections, where collections takes it: importing collections costs start-up time)
from itertools import repeat
try:            # (operator's C half, as symbols.symtab imports it: operator.py costs ~0.25 ms of start-up)
    from _operator import itemgetter
except ImportError:         # another Python implementation
    from operator import itemgetter

from pyperf_probe.perfdata.format import PERF_SAMPLE_REGS_ABI_64, SampleType
from pyperf_probe.perfdata.sample import Sample
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.session.fixed_keys import FixedKeys
from pyperf_probe.session.kept import Dependents

PID_TID = struct.Struct("<ii")
KERNEL_MARK = struct.pack("<Q", 0xFFFFFFFFFFFFFF80)  # PERF_CONTEXT_KERNEL in a call chain
MISC_KERNEL = 1
MISC_USER = 2
UNKNOWN_PID = struct.pack("<i", -1)
CACHE_LIMIT = 1 << 16  # resolved keys kept: memory stays flat when keys are as many as the samples


def sample_groups(session, with_chain: bool = True, with_raw: bool = True,
                  order: list | None = None) -> list[dict[tuple, list]]:
    """Every sample of ``session``, counted per event and (thread, location, chain, raw) group: the
    ``ResolvedSample`` fields, ``chain`` () unless ``with_chain``, ``raw`` None unless ``with_raw``. Values
    are ``[period sum, sample count]``; ``session.nr_samples`` counts the samples as ``samples()`` does.
    ``order``, if given, gets each sample's (bucket, group, period) in perf's order (report.findnew's replay
    needs it where the look-ups' order decides the entries)."""
    groups: list[dict[tuple, list]] = [{} for _ in session.evsels]
    keep_raw = with_raw or not _raw_ends_keys(session.data)
    keep_chain = False
    if _walks_past_stacks(session, with_chain):
        walk = True
    elif _drops_raw_after_chains(session, with_chain, with_raw):
        walk, keep_raw, keep_chain = True, False, True
    else:
        walk = _walks_past_chains(session, with_chain, with_raw)
        keep_raw = keep_raw and not walk
    batches = session.data.keyed_batches(walk=walk, raw=keep_raw, chain=keep_chain)
    if batches is None:  # samples that are unique anyway (user stacks, registers, ...): one by one
        _count_samples(session, groups, with_chain, with_raw, order)
        return groups
    layout = session.data.keyed_layout(walk=walk, raw=keep_raw, chain=keep_chain)
    counter = _KeyCounter(session, groups, with_chain, with_raw, layout)
    counter.order = order
    handlers = session.record_handlers()
    add_run, after_record = counter.add_run, counter.dependents.after_record
    followers = counter.dependents.followers()  # (after_record per record type)
    for item in batches:
        kind = type(item)
        if kind is list:
            add_run(item)
        elif kind is Sample:
            counter.add_sample(item)
        else:
            handler = handlers.get(kind)
            if handler is not None:
                handler(item)
                follow = followers.get(kind, after_record)
                if follow is not None:
                    follow(item)
                if getattr(item, "pid", 0) == -1 or getattr(item, "ppid", 0) == -1:
                    if _names_unknown_pid(item):
                        counter.unknown_tids.update((getattr(item, "tid", -1), getattr(item, "ptid", -1), -1))
    counter.flush()
    counter.close()
    session.data.warn_summary()
    return groups


def _count_samples(session, groups: list[dict], with_chain: bool, with_raw: bool, order: list | None) -> None:
    """``sample_groups`` for samples the reader does not key: each resolved (``Session.resolve``, as
    ``session.samples()`` does with its records' handlers, without a generator's step a sample) and added
    to its group; the order gets the group's first tuple, the sample's own is let go (a DWARF recording's
    35K samples: ~2.5 MB). A value is [period sum, count, the group's first tuple] until the end."""
    if session.sample_read is not None:  # (samples that read counters: samples() delivers one a counter)
        for evsel, thread, period, raw, location, chain, _ in session.samples():
            bucket = groups[evsel]
            got = _count_group(bucket, (thread, location, chain if with_chain else (), raw if with_raw else None),
                               period)
            if order is not None:
                order.append((bucket, got[2], period))
    else:
        _count_records(session, groups, with_chain, with_raw, order)
        session.data.warn_summary()
    for bucket in groups:
        for value in bucket.values():
            del value[2]


def _count_group(bucket: dict, group: tuple, period: int) -> list:
    """One sample of ``period`` added to ``group`` of ``bucket`` (made [0, 0, group] if new); its value."""
    got = bucket.get(group)
    if got is None:
        got = bucket[group] = [0, 0, group]
    got[0] += period
    got[1] += 1
    return got


def _count_records(session, groups: list[dict], with_chain: bool, with_raw: bool, order: list | None) -> None:
    """``_count_samples``'s loop over the file's records. A DWARF sample (REGS_USER + STACK_USER) is unwound
    before anything else can be known of it, so it cannot be keyed by its bytes as other samples are
    (its stack copy differs from sample to sample); but once unwound, its resolution depends only on its
    fields and the chain its registers and copy unwind to. ``count_dwarf_run`` (C; its Python twin
    ``_py_count_dwarf_run`` in the tests) unwinds the user-mode samples of the process last unwound and counts
    those whose (fields, unwound chain) key is in ``cache`` (bench's dwarf.data: 49K samples, 5.5K keys); the
    first record it does not count comes back here, is resolved as before (``Session.resolve``), and the
    answer of its key, if it has one, is cached. Any other record may change the machine: the cache is
    cleared then (as ``_KeyCounter``'s, without ``Dependents``: such records are few in a DWARF file)."""
    handlers = session.record_handlers()
    resolve = session.resolve
    loop = count_dwarf_run
    unwinder = session.unwinder if loop is not _resolve_every_dwarf_sample else None
    threads = session.machine.threads
    kernel = session.machine.kernel
    cache: dict = {}
    ctx: tuple = _NO_DWARF_CTX
    for batch in session.data.record_batches():
        at, end = 0, len(batch)
        while at < end:
            key = None
            if unwinder is not None:
                at, counted, key = loop(batch, at, Sample, threads, ctx, cache, order)
                session.nr_samples += counted
                if at >= end:
                    break
            rec = batch[at]
            at += 1
            if type(rec) is not Sample:
                handler = handlers.get(type(rec))
                if handler is not None:
                    handler(rec)
                    cache.clear()
                continue
            session.nr_samples += 1
            epoch = kernel.epoch
            evsel, thread, period, raw, location, chain, _ = resolve(rec)
            bucket = groups[evsel]
            got = _count_group(bucket, (thread, location, chain if with_chain else (), raw if with_raw else None),
                               period)
            item = (bucket, got[2], period)
            if order is not None:
                order.append(item)
            if kernel.epoch != epoch:
                cache.clear()
            elif key is not None:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                cache[key] = (got, item)
            if unwinder is not None:
                ctx = _dwarf_ctx(unwinder, rec, ctx)


_NO_DWARF_CTX = (None,) * 10


def _dwarf_ctx(unwinder, sample: Sample, ctx: tuple) -> tuple:
    """``count_dwarf_run``'s ``ctx`` after ``unwinder`` unwound ``sample`` (the process it unwound last, with
    the plans of its maps at their generation, and the sample's register mask): (maps, generation, plans,
    mask, ip, sp and bp indices among the values, values needed, max frames, unwinder)."""
    from pyperf_probe.callchain.dwarf_unwind import _c_indices  # (imported by then: the unwinder's module)
    maps, generation, plans = unwinder._last_memo[:3]
    regs = sample.regs_user
    if maps is None or generation is None or regs is None:
        return ctx
    mask = regs[1]
    if ctx[0] is maps and ctx[1] == generation and ctx[2] is plans and ctx[3] == mask:
        return ctx
    return (maps, generation, plans, mask) + _c_indices(mask) + (unwinder.max_stack, unwinder)


_DWARF_KEY_HEAD = struct.Struct("<qQqQQQ")
PERF_CONTEXT_USER = 0xFFFFFFFFFFFFFE00
PERF_CONTEXT_MAX = 0xFFFFFFFFFFFFF001


def _py_count_dwarf_run(batch: list, start: int, sample_type: type, threads: dict, ctx: tuple, cache: dict,
                        order: list | None):
    """The Python twin of ``_speedups.count_dwarf_run`` (``_speedups_unwind.c`` says what it does): the
    samples of ``batch`` from ``start`` whose key is in ``cache`` counted, up to the first record that is not
    such a hit: (its index, the samples counted, its key or None). Its unwinding is ``ctx[9]``, the
    session's ``DwarfUnwinder`` (whose result the C loop's equals where that loop keys a sample)."""
    counted = 0
    for at in range(start, len(batch)):
        rec = batch[at]
        if type(rec) is not sample_type:
            return at, counted, None
        key = _py_dwarf_key(rec, threads, ctx)
        hit = cache.get(key) if key is not None else None
        if hit is None:
            return at, counted, key
        got = hit[0]
        got[0] += rec.period
        got[1] += 1
        if order is not None:
            order.append(hit[1])
        counted += 1
    return len(batch), counted, None


def _py_dwarf_key(rec: Sample, threads: dict, ctx: tuple) -> bytes | None:
    """``count_dwarf_run``'s key of one sample, None where that loop keys none (its comment says when)."""
    maps, generation, _plans, mask, _ip_i, _sp_i, _bp_i, needed, _max_frames, unwinder = ctx
    if maps is None:
        return None
    evsel, misc, _time, pid, tid, ip, period, _cpu, callchain, raw = rec[:10]
    regs, stack = rec.regs_user, rec.stack_user
    if misc & 7 != MISC_USER or pid is None or tid is None or ip is None or period is None or \
            (raw is not None and type(raw) is not bytes) or \
            regs is None or regs[0] != PERF_SAMPLE_REGS_ABI_64 or regs[1] != mask or len(regs[2]) < needed or \
            not stack:
        return None
    callchain = callchain or ()
    if any(entry >= PERF_CONTEXT_MAX and entry != PERF_CONTEXT_USER for entry in callchain):
        return None
    thread = threads.get(tid)
    if thread is None or thread.pid == -1 or thread.maps is not maps or getattr(maps, "generation", None) != generation:
        return None
    from pyperf_probe.callchain.unwind import STOP_MEMORY, STOP_NO_REGS, STOP_UNSUPPORTED
    avmas = unwinder(rec, maps)
    if unwinder.last_stop in (STOP_MEMORY, STOP_UNSUPPORTED, STOP_NO_REGS):
        return None
    words = (*callchain, len(avmas), *avmas, 0 if raw is None else len(raw) + 1)
    return _DWARF_KEY_HEAD.pack(evsel, misc, tid, ip, period, len(callchain)) + \
        struct.pack(f"<{len(words)}Q", *words) + (raw or b"")


def _walks_past_chains(session, with_chain: bool, with_raw: bool) -> bool:
    """Are chained samples keyed by their fixed fields alone (the walking layout without RAW)? When no event
    resolves its chains (report --no-children -g none) and no RAW is wanted: such keys repeat where chains and
    payloads do not (bench's big.data: a probe argument makes 1M keys of 1M samples)."""
    layout = session.data.key_layout
    if with_chain or with_raw or layout is None or not layout.key_type & SampleType.CALLCHAIN:
        return False
    chained = session.chained_evsels
    return chained is not None and not any(chained) and session.data.keyed_layout(walk=True, raw=False) is not None


def _drops_raw_after_chains(session, with_chain: bool, with_raw: bool) -> bool:
    """Are chained samples with RAW keyed by their fixed fields and chain alone (the walking layout that keeps
    the chain, ``KeyLayout.of(..., raw=False, chain=True)``)? When the chains are wanted and RAW is not
    (report --no-children of a -g uprobe with an argument: bench's big.data, whose 1M samples are 1M keys
    with RAW and ~11K without)."""
    layout = session.data.key_layout
    both = SampleType.CALLCHAIN | SampleType.RAW
    if not with_chain or with_raw or layout is None or layout.key_type & both != both:
        return False
    return session.data.keyed_layout(raw=False, chain=True) is not None


def _walks_past_stacks(session, with_chain: bool) -> bool:
    """Are the file's samples keyed by a walking layout (``KeyLayout.of(..., walk=...)``: the fixed fields and
    RAW, the call chain, registers and user stack walked past by their sizes)? For ``--call-graph dwarf``
    samples (REGS_USER and STACK_USER: no ordinary layout) when nothing reads their chains: no unwinder
    (report's -g none --no-children, as perf's sample__resolve_callchain) and no call chain resolved."""
    data = session.data
    if data.key_layout is not None or session.unwinder is not None:
        return False
    chained = session.chained_evsels
    return not with_chain and chained is not None and not any(chained)


def _raw_ends_keys(data) -> bool:
    """Do the file's keys end with RAW (tracepoint samples without chains): then a reader that does not use
    it keys the samples without it (``keyed_batches(raw=False)``), and samples that differ only there
    (a system-wide recording's pids, addresses and counters) are counted as one key."""
    layout = data.key_layout
    return layout is not None and layout.raw_offset() is not None and \
        data.keyed_layout(raw=False) is not None


def _names_unknown_pid(rec) -> bool:
    """Could the machine have made a thread of unknown pid (-1) for this record? Records that make threads
    (COMM, FORK, user-space MMAP) with a pid of -1; a kernel MMAP's pid -1 makes none."""
    if getattr(rec, "pid", 0) != -1 and getattr(rec, "ppid", 0) != -1:
        return False
    return not (hasattr(rec, "filename") and rec.misc & 7 == MISC_KERNEL)


def _kernel_key(key: bytes) -> bool:
    """Does a sample key reach the kernel: a kernel-mode sample, or a kernel part in its call chain."""
    return key[0] & 7 == MISC_KERNEL or key.find(KERNEL_MARK) >= 0


_KERNEL_MISC = frozenset(misc for misc in range(256) if misc & 7 == MISC_KERNEL)
_first_byte = itemgetter(0)


def _any_kernel_key(keys) -> bool:
    """``any(map(_kernel_key, keys))`` in C loops (a file without kernel samples, such as a make build's
    uprobe, never settles the kernel: every run with a new key asks). The mark is looked for with
    ``bytes.count``, not ``in``: CPython's ``sub in bytes`` first tries ``sub`` as an int (``b in bytes``)
    and formats, then clears, a TypeError for every call: ~2,000 instructions a key, 2.5% of a DWARF
    file's ``-g none`` report (callgrind)."""
    return any(map(_KERNEL_MISC.__contains__, map(_first_byte, keys))) or \
        any(map(bytes.count, keys, repeat(KERNEL_MARK)))


def _add(bucket: dict[tuple, list], key: tuple, period: int, count: int) -> None:
    got = bucket.get(key)
    if got is None:
        bucket[key] = [period, count]
    else:
        got[0] += period
        got[1] += count


_SPLIT = object()


def _in_order(order: list, keys: list, hits: dict, plain: bool | None = None) -> None:
    """Each key's resolution appended in the run's order (``_KeyCounter._add_key``'s answers: a split one's
    first sample gets the first resolution, the others the next; a key that did not decode, nothing).
    ``plain``: the caller knows whether every hit is a resolution (no None, no split); None: look."""
    if plain is None:
        plain = all(type(hit) is tuple and hit[0] is not _SPLIT for hit in hits.values())
    if plain:
        order.extend(map(hits.__getitem__, keys))
        return
    for key in keys:
        hit = hits[key]
        while type(hit) is tuple and hit[0] is _SPLIT:
            hits[key] = hit[2]
            hit = hit[1]
        if hit is not None:
            order.append(hit)


def _py_count_run(keys: list, cache: dict, pending: dict, order: list | None, fixed: tuple | None,
                  kernel_check: bool = False):
    """The Python twin of ``_speedups.count_run`` (``_speedups_session.c`` says what it does): a run's keys
    counted per distinct key; all cached: their counts into ``pending``, their resolutions into ``order``,
    0; else, without ``fixed``, with a new key of unknown pid, or with ``kernel_check`` and a key that reaches
    the kernel: (counts, new keys), nothing done; else each new key added by ``fixed``'s add
    (``_KeyCounter._add_fixed`` or ``_add_chained``, whose work the C loop does itself for keys whose answers
    are all kept), the cached ones' counts into ``pending``, ``order`` as above: the samples counted into
    groups here (0: add counts its own)."""
    counts: dict = {}  # (Counter(keys) without Counter's Python __init__ and update: ~1 us a run)
    count_into(counts, keys)
    if all(map(cache.__contains__, counts)):
        count_into(pending, keys)
        if order is not None:  # (the resolutions flush will count them with)
            order.extend(map(cache.__getitem__, keys))
        return 0
    pid_at = fixed[FX_PID_AT] if fixed is not None else None
    if fixed is None or (pid_at is not None and any(key[pid_at:pid_at + 4] == UNKNOWN_PID
                                                    for key in counts if key not in cache)) or \
            (kernel_check and _any_kernel_key(counts)):
        return counts, [key for key in counts if key not in cache]
    add = fixed[FX_ADD]
    plain = True  # (no key that did not decode, none split: _in_order need not look)
    get = pending.get
    for key, count in counts.items():
        hit = cache.get(key)
        if hit is not None:  # (counted with the resolution cached now: see _KeyCounter's docstring)
            pending[key] = get(key, 0) + count
        else:
            hit = add(key, count)
            if hit is None or hit[0] is _SPLIT:
                plain = False
        counts[key] = hit
    if order is not None:
        _in_order(order, keys, counts, plain)
    return 0


# count_run's ``fixed``: what the C loop reads to resolve a new key (_KeyCounter.__init__, _speedups_session.c)
FX_ADD, FX_PID_AT = 0, 21
MODE_FIXED, MODE_CHAINED = 0, 1
count_run = speedups.count_run if speedups is not None and hasattr(speedups, "count_run") else _py_count_run


def _resolve_every_dwarf_sample(batch: list, start: int, *_args):
    """``count_dwarf_run`` without the accelerator: no sample counted, every one resolved by the caller. The
    twin's key costs a Python unwinding of its own, more than the resolution it saves (bench/report --pure,
    dwarf.data -g flat --no-children: 0.94 s -> 1.06 s with the twin), so it serves as the C loop's
    reference in the tests (the speedups_or_not fixture runs it), not as the fallback."""
    return start, 0, None


count_dwarf_run = getattr(speedups, "count_dwarf_run", None) or _resolve_every_dwarf_sample


class _KeyCounter:
    """Runs of sample keys -> the groups; ``cache`` maps a key to its (bucket, group key, period) while
    the machine stays as it was. Keys cut at their RAW record (``raw_at``: where its size is) also have
    ``heads``: the part before RAW -> (bucket, thread, location, period, keys), the cache keys made from it
    (dropped with it).

    A run whose keys are all cached resolves nothing, so nothing in it can change the machine: its keys
    are only counted, into ``pending`` (key -> samples, by Counter's C loop), and added to the groups
    (``flush``) before any of their cache entries goes. Their groups exist already (added when each key
    was resolved), so the groups' order is that of replaying the runs one by one; what a system-wide
    recording's runs cost is then a few C calls each (thousands of MMAP records cut them short)."""

    def __init__(self, session, groups: list[dict[tuple, list]], with_chain: bool, with_raw: bool, layout):
        self.session = session
        self.machine = session.machine
        self.groups = groups
        self.with_chain = with_chain
        self.with_raw = with_raw
        self.decode = session.data.decode_key
        self.pid_offset = layout.pid_offset
        self.raw_at = layout.raw_offset()
        self.kernel = self.machine.kernel
        self.kernel_epoch = self.kernel.epoch
        self.cache: dict[bytes, tuple] = {}
        self.heads: dict[bytes, tuple] = {}
        self.pending: dict[bytes, int] = {}
        # the tids of every thread that may have an unknown pid (-1): named so by a key, sample or record
        self.unknown_tids: set[int] = set()
        self.dependents = Dependents(self.machine, self._drop, self._forget)
        self.fixed_keys = FixedKeys.of(session, layout)
        # keys with a call chain (every -g uprobe's, a user program's cpu-clock samples'): their user-only
        # chains are read from the key and resolved in one pass (FixedKeys.resolve_chained)
        self.chain_keys = FixedKeys.chained(session, layout) if self.fixed_keys is None else None
        self.order: list | None = None  # each sample's (bucket, group, period) in order, when asked
        self.interned: dict | None = {}  # group -> its one hit (_one_hit), None once given up (_forget)
        self.fixed: tuple | None = None  # count_run's tables for keys of fixed fields or with chains (FX_*)
        keys = self.fixed_keys or self.chain_keys
        if keys is not None:
            at = keys.offsets
            chained = self.chain_keys is not None
            self.fixed = (self._add_chained if chained else self._add_fixed, _in_order, _SPLIT, groups, keys.evsels,
                          self.machine.threads, keys.locations, self.dependents.by_tid, self.dependents.by_maps,
                          session, self.machine, self.dependents, self.kernel, self, CACHE_LIMIT, keys.fields_size,
                          at.get("id"), at["ip"], at["tid"], at.get("period"), keys.periods, self.pid_offset,
                          keys.frames, MODE_CHAINED if chained else MODE_FIXED, keys.chain_at, keys.raw,
                          bool(with_chain), bool(with_raw))

    def flush(self) -> None:
        """Add the pending counts to the groups, with the resolutions cached for their keys."""
        pending, cache = self.pending, self.cache
        if not pending:
            return
        total = 0
        for key, count in pending.items():
            bucket, group, period = cache[key]
            total += count
            got = bucket.get(group)
            got[0] += period * count
            got[1] += count
        self.session.nr_samples += total
        pending.clear()

    def close(self) -> None:
        """Let go of the cached resolutions, their keys and the dependents' lists: the counter and its
        Dependents hold each other (drop, forget), a cycle the report's paused collector would keep to
        the end with every key of the file (make.data: ~0.9 MB through Hists.finish, the peak)."""
        self._forget()
        self.dependents = self.fixed = None

    def _forget(self) -> None:
        self.flush()
        interned = self.interned
        if interned is not None and (len(interned) > CACHE_LIMIT or
                                     (len(self.cache) >= CACHE_LIMIT and len(interned) * 2 > len(self.cache))):
            self.interned = None  # (groups nearly as many as the keys: interning saves nothing)
        if self.fixed_keys is not None:
            self.fixed_keys.forget()
        if self.chain_keys is not None:  # (its kernel-mode keys' locations)
            self.chain_keys.forget()
        self.cache.clear()
        self.heads.clear()
        self.dependents.clear()

    def _one_hit(self, bucket: dict, group: tuple, period: int) -> tuple:
        """(bucket, group, period), the one hit made for an equal group if there is one (as count_run's C loop):
        keys that are all new (a probe argument's RAW in every key: bench/shapes.py's big.data, 1M keys of
        11K groups) would each make one, which the order keeps to the end (~150 bytes a sample)."""
        interned = self.interned
        same = interned.get(group) if interned is not None else None
        if same is not None and same[0] is bucket and same[2] == period:
            return same
        hit = (bucket, group, period)
        if interned is not None and same is None:
            interned[group] = hit
        return hit

    def _drop(self, keys) -> None:
        """Drop these keys' resolutions (a key of ``heads``: the keys made from it), their pending counts
        added first."""
        cache, heads, pending = self.cache, self.heads, self.pending
        for key in keys:
            if pending and key in pending:
                self._settle(key)
            if cache.pop(key, None) is None:
                head = heads.pop(key, None)
                if head is not None:
                    for made in head[4]:
                        if pending and made in pending:
                            self._settle(made)
                        cache.pop(made, None)

    def _settle(self, key: bytes) -> None:
        """Add one key's pending count to its group (``flush`` for one key)."""
        count = self.pending.pop(key)
        bucket, group, period = self.cache[key]
        got = bucket[group]
        got[0] += period * count
        got[1] += count
        self.session.nr_samples += count

    def add_run(self, keys: list[bytes]) -> None:
        """Count a run of sample keys (``count_run``: runs whose keys are all cached, and, while no thread has an
        unknown pid, runs of fixed-field or chained keys, none of which reaches the kernel until its symbols
        are settled, are done there: a file without kernel samples, a user-space cpu-clock or a DWARF file's
        ``-g none``, never settles it)."""
        fixed, kernel_check = self.fixed, False
        if fixed is not None:
            if self.unknown_tids:
                fixed = None
            elif not self.kernel.settled:  # (a run with a key that reaches the kernel: _add_key's, key by key)
                kernel_check = True
        cache, order = self.cache, self.order
        got = count_run(keys, cache, self.pending, order, fixed, kernel_check)
        if type(got) is int:
            if got:
                self.session.nr_samples += got
            return
        counts, new = got
        if (self.pid_offset is not None and self._pid_may_change(counts, new)) or \
                (not self.kernel.settled and _any_kernel_key(counts)):
            for key in keys:
                hit = self._add_key(key, 1)
                if order is not None and hit is not None:
                    order.append(hit)
            return
        pending = self.pending
        get = pending.get
        hits = {}
        plain = True  # (no key that did not decode, none split: _in_order need not look)
        add_key = self._add_chained if self.chain_keys is not None else \
            self._add_fixed if self.fixed_keys is not None and self.kernel.settled else self._add_key
        for key, count in counts.items():
            if key in cache:  # (counted with the resolution cached now: see the class docstring)
                pending[key] = get(key, 0) + count
                hits[key] = cache[key]
            else:
                hit = hits[key] = add_key(key, count)
                if hit is None or hit[0] is _SPLIT:
                    plain = False
        if order is not None:
            _in_order(order, keys, hits, plain)

    def add_sample(self, sample: Sample) -> None:
        """A sample the reader delivered decoded (one the scan did not key)."""
        if sample.pid == -1:
            self.unknown_tids.add(-1 if sample.tid is None else sample.tid)
        self.session.nr_samples += 1
        bucket, group, period = self._resolve(sample)
        self._machine_changed()
        _add(bucket, group, period, 1)
        if self.order is not None:
            self.order.append((bucket, group, period))

    def _add_chained(self, key: bytes, count: int):
        """``_add_key`` for a key of ``chain_keys`` that is not cached (add_run's new keys; such keys have
        no RAW head): a user- or kernel-mode key's chain, user-only or with kernel parts, resolved from its
        bytes (``FixedKeys.resolve_chained``) and kept here without the generic path's steps (noted under its
        maps: a kernel-mode key's chain may have a user part); any other key by ``_add_key``."""
        chained = self.chain_keys.resolve_chained(key)
        if chained is None:
            return self._add_key(key, count, False)
        evsel, thread, location, chain, raw, period = chained
        bucket = self.groups[evsel]
        group = (thread.state or self.machine.thread_state(thread), location, chain if self.with_chain else (),
                 raw if self.with_raw else None)
        hit = self._one_hit(bucket, group, period)
        if self._machine_changed():
            if count > 1:   # (as _add_key)
                self.session.nr_samples += 1
                _add(bucket, group, period, 1)
                return (_SPLIT, hit, self._add_key(key, count - 1))
        else:
            cache = self.cache
            if len(cache) >= CACHE_LIMIT:
                self._forget()
            cache[key] = hit
            dependents = self.dependents
            dependents.note_thread(key, thread)
            dependents.by_maps.setdefault(thread.maps, []).append(key)  # (note_maps: a user-mode key)
        self.session.nr_samples += count
        got = bucket.get(group)
        if got is None:
            bucket[group] = [period * count, count]
        else:
            got[0] += period * count
            got[1] += count
        return hit

    def _add_fixed(self, key: bytes, count: int):
        """``_add_key`` for a key of ``fixed_keys`` that is not cached, the kernel settled (add_run's new keys
        of a system-wide recording: ~26K of sys.data's 235K samples): ``FixedKeys.resolve`` and the
        generic path's steps inline (``_machine_changed``, ``Dependents.note_thread``/``note_maps``,
        ``_add``); a key it does not resolve goes to ``_add_key``."""
        fast = self.fixed_keys.resolve(key)
        if fast is None:
            return self._add_key(key, count)
        evsel, thread, location, period = fast[:4]
        bucket = self.groups[evsel]
        group = (thread.state or self.machine.thread_state(thread), location, (), None)
        hit = self._one_hit(bucket, group, period)
        dependents = self.dependents
        if self.machine.pid_updates != dependents.pid_updates:
            dependents.pid_learnt()
        if self.kernel.epoch != self.kernel_epoch:  # (as _machine_changed, then _add_key)
            self.kernel_epoch = self.kernel.epoch
            self._forget()
            if count > 1:
                self.session.nr_samples += 1
                _add(bucket, group, period, 1)
                return (_SPLIT, hit, self._add_key(key, count - 1))
        else:
            cache = self.cache
            if len(cache) >= CACHE_LIMIT:
                self._forget()
            cache[key] = hit
            tid = thread.tid  # (Dependents.note_thread)
            got = dependents.by_tid.get(tid)
            if got is None or got[0] is not thread:
                if got is not None:
                    dependents.drop(got[1])
                got = dependents.by_tid[tid] = (thread, [])
            got[1].append(key)
            if key[0] & 7 != MISC_KERNEL:  # (note_maps)
                dependents.by_maps.setdefault(thread.maps, []).append(key)
        self.session.nr_samples += count
        got = bucket.get(group)
        if got is None:
            bucket[group] = [period * count, count]
        else:
            got[0] += period * count
            got[1] += count
        return hit

    def _add_key(self, key: bytes, count: int, chained_first: bool = True):
        """Count ``count`` samples of ``key``; their resolution (bucket, group, period), None if the key does
        not decode, or (``_SPLIT``, first's, the others') when the first changed the machine.
        ``chained_first``: try ``chain_keys`` (False: _add_chained did)."""
        hit = self.cache.get(key)
        if hit is None and self.raw_at is not None:
            hit = self._from_head(key)
        if hit is None:
            chained = self.chain_keys.resolve_chained(key) if self.chain_keys is not None and chained_first else None
            # (a user-mode key's resolution does not read the kernel: settled or not, FixedKeys's is the same)
            fast = self.fixed_keys.resolve(key) if self.fixed_keys is not None and \
                (self.kernel.settled or key[0] & 7 == MISC_USER) else None
            if chained is not None:
                evsel, thread, location, chain, raw, period = chained
                hit = (self.groups[evsel], (thread.state or self.machine.thread_state(thread), location,
                                            chain if self.with_chain else (), raw if self.with_raw else None),
                       period)
                sample = None
            elif fast is not None:
                evsel, thread, location, period = fast[:4]
                hit = (self.groups[evsel], (thread.state or self.machine.thread_state(thread), location, (), None),
                       period)
                sample = None
            else:
                sample = self.decode(key, count)
                if sample is None:  # unknown id or corrupt: counted by the reader
                    return None
                hit = self._resolve(sample)
            if self._machine_changed():
                if count > 1:   # the others of the run resolve in the machine as it is now
                    bucket, group, period = hit
                    self.session.nr_samples += 1
                    _add(bucket, group, period, 1)
                    return (_SPLIT, hit, self._add_key(key, count - 1))
            elif sample is None:
                if len(self.cache) >= CACHE_LIMIT:
                    self._forget()
                self.cache[key] = hit
                self.dependents.note_thread(key, thread)
                if key[0] & 7 != MISC_KERNEL or chained is not None:  # (a chain: its user part's maps)
                    self.dependents.note_maps(key, thread)
            else:
                self._keep(key, hit, sample)
        bucket, group, period = hit
        self.session.nr_samples += count
        _add(bucket, group, period * count, count)
        return hit

    def _keep(self, key: bytes, hit: tuple, sample: Sample) -> None:
        """Keep the resolution of a key (and of its part before RAW, when keys are cut)."""
        if len(self.cache) >= CACHE_LIMIT or len(self.heads) >= CACHE_LIMIT:  # (keys as many as samples)
            self._forget()
        self.cache[key] = hit
        if self.raw_at is None:
            self.dependents.note(key, sample)
            return
        bucket, (thread, location, _chain, _raw), period = hit
        head = key[:self.raw_at]
        self.heads[head] = (bucket, thread, location, period, [key])
        self.dependents.note(head, sample)

    def _from_head(self, key: bytes) -> tuple | None:
        """The resolution of a key whose part before RAW was resolved (None otherwise, or when its RAW size
        overruns it: decoding says so), kept with that part."""
        at = self.raw_at
        head = self.heads.get(key[:at])
        if head is None:
            return None
        end = at + 4 + int.from_bytes(key[at:at + 4], "little")
        if end > len(key):
            return None
        bucket, thread, location, period, made = head
        hit = (bucket, (thread, location, (), key[at + 4:end] if self.with_raw else None), period)
        if len(self.cache) >= CACHE_LIMIT:
            self._forget()
            return hit
        self.cache[key] = hit
        made.append(key)
        return hit

    def _resolve(self, sample: Sample) -> tuple:
        evsel, thread, period, raw, location, chain, _ = self.session.resolve(sample)
        group = (thread, location, chain if self.with_chain else (), raw if self.with_raw else None)
        return self.groups[evsel], group, period

    def _machine_changed(self) -> bool:
        """After a resolution: if it gave a thread its pid, or changed the kernel's maps or symbols, what was
        cached no longer holds (and the kernel's change may not hold for the key just resolved either)."""
        self.dependents.pid_learnt()
        if self.kernel.epoch != self.kernel_epoch:
            self.kernel_epoch = self.kernel.epoch
            self._forget()
            return True
        return False

    def _pid_may_change(self, keys, new) -> bool:
        """Could a sample of this run give a thread its pid? Only if a key names a thread (or its process)
        whose pid is unknown, or the run mixes samples without a pid and samples with one. None can when
        no thread has an unknown pid (``unknown_tids``) and every new key (``new``: not cached, so to be
        resolved) has a pid: then no resolution of this run learns a pid, and counting its keys gives what
        replaying them gives whatever the keys cached (a cached key without a pid resolved to a thread that
        still has the pid it had then)."""
        threads = self.machine.threads
        at = self.pid_offset
        if self.unknown_tids:
            self.unknown_tids = {tid for tid in self.unknown_tids
                                 if (thread := threads.get(tid)) is not None and thread.pid == -1}
        for key in new:
            if key[at:at + 4] == UNKNOWN_PID:
                self.unknown_tids.add(PID_TID.unpack_from(key, at)[1])
                break
        else:
            if not self.unknown_tids:
                return False
        unknown = known = False
        for key in keys:
            pid, tid = PID_TID.unpack_from(key, self.pid_offset)
            if pid == -1:
                unknown = True
                continue
            known = True
            for who in (tid, pid):
                thread = threads.get(who)
                if thread is not None and thread.pid == -1:
                    return True
        return unknown and known
