"""``Session.resolve`` read from a sample key's bytes, for keys of fixed fields (and RAW at their end).

Readers that keep answers per sample key (``session.counts``, ``report.script_keys``) resolve each new
key; on a system-wide tracepoint recording, whose RAW records make keys new all the time, decoding each
into a ``Sample`` and resolving that is most of their work. A kernel- or user-mode sample without a call
chain needs only its event, ip, pid and tid, cpu and period, all at fixed offsets of the key:
``FixedKeys.resolve(key)`` reads them with one unpack and does what ``Session.resolve`` does with them
(the thread its tid finds, or makes, with perf's update of an unknown pid; a kernel ip's location through
``Session.kernel_location``, kept per ip until ``forget()``; a user ip's in the thread's maps). Other
keys (another cpumode, an id ``decode_key`` would count or warn about) get None: decode and resolve them.

Keys with a call chain after those fields (and RAW after it: every ``-g`` uprobe sample) have
``FixedKeys.chained``: ``resolve_chained(key)`` does the same for a user- or kernel-mode sample. A
user-only chain (``Session._callchain``'s one-pass case: a make build's malloc uprobe, a user program's
cpu-clock samples) has its addresses read from the key and found in the process's avma -> frame memo in
one C call (``user_chain``, ``_speedups_session.c``), the others looked up as
``Session._user_chain_frames`` does. A chain with kernel and user parts (cpu-clock -g samples that cross
into the kernel) is found in the kernel's and the process's memos (``kernel_chain``: the markers switch
memo) when they hold every frame, else in the chain cache or by ``Session._callchain``; a kernel-mode
sample's ip by ``Session.kernel_location``, kept per ip. A key that does not decode gets None.

``session.counts``' C loop (``count_run``) does what ``resolve`` and ``resolve_chained`` do for most new
keys itself, from the same tables (``evsels``, ``locations``, the byte ``offsets`` of the fields, the
process's memo): these are their Python twins, and what it calls when an answer is not kept.
"""
from __future__ import annotations

import struct

from pyperf_probe.perfdata.format import PERF_CONTEXT_KERNEL, PERF_CONTEXT_MAX, PERF_CONTEXT_USER, SampleType
from pyperf_probe.perfdata.speedups import speedups

MISC_KERNEL, MISC_USER = 1, 2
_U64 = struct.Struct("<Q").unpack_from
_U32 = struct.Struct("<I").unpack_from
_CHAIN_STRUCTS: dict[int, struct.Struct] = {}
# The fields a key may hold (in this order after misc and size) and those it must hold.
_FIXED = (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.ADDR, SampleType.ID,
          SampleType.STREAM_ID, SampleType.CPU, SampleType.PERIOD)
_NEEDED = SampleType.IP | SampleType.TID  # (without PERIOD: the event's sample_period, as the decoder gives)


class FixedKeys:
    """See the module docstring. The owner calls ``forget()`` whenever it forgets what it kept (a record
    or a resolution that changed the kernel): the kernel locations go with it."""

    def __init__(self, session, key_type: int):
        self.session = session
        self.machine = session.machine
        self.frames = session.frames
        self.key_evsel = session.data.key_evsel
        self.locations: dict[int, object] = {}
        self.evsels: dict[int, int] = {}  # id (0 without one) -> key_evsel's answer (an id's event stays)
        self.chain_at: int | None = None  # where CALLCHAIN's nr is (``chained``)
        self.raw = bool(key_type & SampleType.RAW)
        # without PERIOD a sample's period is its event's sample_period (sample.SampleDecoder)
        self.periods = tuple(attr.attr.sample_period for attr in session.data.attrs)
        # one unpack of the key's fields, in the key's order; where each value is in what it gives
        # (and ``offsets``: each value's byte offset in the key, for count_run's C loop)
        codes, at, self.offsets = ["<4x"], {}, {}
        for bit in _FIXED:
            if not key_type & bit:
                continue
            offset = 4 + 8 * (len(codes) - 1)  # (every field is 8 bytes, after misc and size)
            if bit in (SampleType.IDENTIFIER, SampleType.ID) and "id" not in at:  # (IDENTIFIER first)
                at["id"], self.offsets["id"] = len(at), offset
                codes.append("Q")
            elif bit == SampleType.IP or bit == SampleType.PERIOD:
                name = "ip" if bit == SampleType.IP else "period"
                at[name], self.offsets[name] = len(at), offset
                codes.append("Q")
            elif bit == SampleType.TID:
                at["pid"], at["tid"] = len(at), len(at) + 1
                self.offsets["pid"], self.offsets["tid"] = offset, offset + 4
                codes.append("ii")
            elif bit == SampleType.CPU:
                at["cpu"], self.offsets["cpu"] = len(at), offset
                codes.append("I4x")
            else:
                codes.append("8x")
        fields = struct.Struct("".join(codes))
        self.fields, self.fields_size = fields.unpack_from, fields.size
        self.id_at, self.cpu_at = at.get("id"), at.get("cpu")
        self.ip_at, self.pid_at, self.tid_at, self.period_at = at["ip"], at["pid"], at["tid"], at.get("period")

    @classmethod
    def of(cls, session, layout, raw: bool = False) -> FixedKeys | None:
        """For the keys of ``layout`` when they hold IP and TID and nothing but fixed fields (and, if ``raw``,
        RAW after them: its owner reads RAW itself): a system-wide recording's, a DWARF file's walked past its
        stacks (-g none), a user program's cpu-clock samples without -g."""
        key_type = layout.key_type
        if key_type & _NEEDED != _NEEDED or key_type & ~(sum(_FIXED) | (SampleType.RAW if raw else 0)):
            return None
        return cls(session, key_type)

    @classmethod
    def chained(cls, session, layout) -> FixedKeys | None:
        """For the keys of ``layout`` when they hold IP and TID, then fixed fields, CALLCHAIN, and RAW or
        nothing after it (``resolve_chained``)."""
        key_type = layout.key_type
        needed = SampleType.IP | SampleType.TID | SampleType.CALLCHAIN
        if key_type & needed != needed or key_type & ~(sum(_FIXED) | SampleType.CALLCHAIN | SampleType.RAW):
            return None
        made = cls(session, key_type)
        made.chain_at = made.fields_size
        return made

    def forget(self) -> None:
        self.locations.clear()

    def resolve_chained(self, key: bytes) -> tuple | None:
        """(evsel, thread, location, chain, raw, period) of a user- or kernel-mode sample's key, as
        ``Session.resolve`` makes them (``chained`` keys); None for any other key. A user-only chain is found
        in one pass (``user_chain``); one with a kernel part in the kernel's and the process's memos
        (``kernel_chain``), or when they lack a frame by ``Session._callchain`` (the chain cache, then its
        look-ups in perf's order)."""
        cpumode = key[0] & 7
        if cpumode != MISC_USER and cpumode != MISC_KERNEL:
            return None
        values = self.fields(key)
        sample_id = values[self.id_at] if self.id_at is not None else 0
        evsel = self.evsels.get(sample_id)
        if evsel is None:
            evsel = self.key_evsel(key)
            if evsel is None:
                return None
            self.evsels[sample_id] = evsel
        at = self.chain_at
        nr = _U64(key, at)[0] if len(key) >= at + 8 else -1
        if not 0 <= nr <= (len(key) - at - 8) >> 3:
            return None  # (decoding says what is wrong)
        raw = None
        if self.raw:
            end = at + 8 + 8 * nr
            if end + 4 > len(key):
                return None
            size = _U32(key, end)[0]
            if size > len(key) - end - 4:
                return None
            raw = key[end + 4:end + 4 + size]
        session = self.session
        machine = self.machine
        ip, tid = values[self.ip_at], values[self.tid_at]
        thread = machine.threads.get(tid)
        if thread is None or thread.pid == -1:
            thread = machine.findnew_thread(values[self.pid_at], tid)
        location = None
        if cpumode == MISC_KERNEL:  # (as Session.resolve: before the chain, which it may load the kernel for)
            location = self.locations.get(ip)
            if location is None:
                location = self.locations[ip] = session.kernel_location(ip)
        maps = thread.maps
        memo = session._fp_memo(maps, maps.generation)
        chained = session.chained_evsels
        if nr and (chained is None or chained[evsel]):
            caller_order = session.caller_order
            got = user_chain(key, at, memo, session.max_stack, caller_order)
            if got is None:  # (a kernel part: from the memos, else as Session.resolve does it)
                kmemo = session._kernel_memo
                got = kernel_chain(key, at, kmemo[1], memo, session.max_stack, caller_order) \
                    if kmemo[0] == machine.kernel_maps.generation else None
                if got is None:
                    callchain = _chain_of(key, at, nr)
                    got = session._chains.get((maps, maps.generation, machine.kernel_maps.generation, callchain))
                    if got is None:
                        got = session._callchain(thread, callchain)
            elif type(got) is list:
                got = session.chain_misses(maps, memo, got, caller_order)
        else:
            got = ()
        if location is None:
            if got and got[0].avma == ip and got[0].dso_obj is not None:
                location = got[0]
            else:  # (as Session.resolve: from the process's memo)
                location = memo.get(ip)
                if location is None:
                    location = memo[ip] = self.frames.frame(maps.find(ip), ip)
        period = values[self.period_at] if self.period_at is not None else self.periods[evsel]
        return evsel, thread, location, got, raw, period

    def resolve(self, key: bytes) -> tuple | None:
        """(evsel, thread, location, period, cpu or None, pid, tid) of a kernel- or user-mode sample's key,
        as ``Session.resolve`` makes them; None for any other key."""
        cpumode = key[0] & 7
        if cpumode != MISC_KERNEL and cpumode != MISC_USER:
            return None
        values = self.fields(key)
        sample_id = values[self.id_at] if self.id_at is not None else 0
        ip, pid, tid = values[self.ip_at], values[self.pid_at], values[self.tid_at]
        evsel = self.evsels.get(sample_id)
        if evsel is None:
            evsel = self.key_evsel(key)
            if evsel is None:
                return None
            self.evsels[sample_id] = evsel
        machine = self.machine
        thread = machine.threads.get(tid)
        if thread is None or thread.pid == -1:
            thread = machine.findnew_thread(pid, tid)
        if cpumode == MISC_USER:  # (as Session.resolve: from the process's memo, where count_run's C loop looks)
            maps = thread.maps
            memo = self.session._fp_memo(maps, maps.generation)
            location = memo.get(ip)
            if location is None:
                location = memo[ip] = self.frames.frame(maps.find(ip), ip)
        else:
            location = self.locations.get(ip)
            if location is None:
                location = self.locations[ip] = self.session.kernel_location(ip)
        return (evsel, thread, location,
                values[self.period_at] if self.period_at is not None else self.periods[evsel],
                values[self.cpu_at] if self.cpu_at is not None else None, pid, tid)


def _user_chain(key: bytes, at: int, memo: dict, max_stack: int, caller_order: bool):
    """The Python twin of ``_speedups.user_chain`` (``_speedups_session.c`` says what it gives): the
    user-only call chain at ``at`` of ``key``, its frames found in ``memo`` (a list with the missing
    ones' addresses in their place), or None."""
    if at < 0 or at > len(key) - 8 or max_stack < 1:
        return None
    nr = _U64(key, at)[0]
    if nr > (len(key) - at - 8) >> 3:
        return None
    chain = _CHAIN_STRUCTS.get(nr)
    if chain is None:
        chain = struct.Struct(f"<{nr}Q")
        if len(_CHAIN_STRUCTS) < 4096:
            _CHAIN_STRUCTS[nr] = chain
    avmas = chain.unpack_from(key, at + 8)
    if avmas and avmas[0] == PERF_CONTEXT_USER:
        avmas = avmas[1:]
    if avmas and max(avmas) >= PERF_CONTEXT_MAX:
        return None
    if len(avmas) > max_stack:
        avmas = avmas[-max_stack:] if caller_order else avmas[:max_stack]
    frames = list(map(memo.get, avmas))
    if None not in frames:
        return tuple(frames)
    return [avma if frame is None else frame for frame, avma in zip(frames, avmas)]


def _chain_of(key: bytes, at: int, nr: int) -> tuple[int, ...]:
    """The ``nr`` entries of the call chain at ``at`` of ``key`` (markers too), as the decoder gives them."""
    chain = _CHAIN_STRUCTS.get(nr)
    if chain is None:
        chain = struct.Struct(f"<{nr}Q")
        if len(_CHAIN_STRUCTS) < 4096:
            _CHAIN_STRUCTS[nr] = chain
    return chain.unpack_from(key, at + 8)


def _kernel_chain(key: bytes, at: int, kmemo: dict, umemo: dict, max_stack: int, caller_order: bool):
    """The Python twin of ``_speedups.kernel_chain`` (``_speedups_session.c`` says what it gives): the call
    chain at ``at`` of ``key`` with PERF_CONTEXT_KERNEL/USER markers (``Session._callchain``'s entries: the
    markers switch the cpumode and are dropped, ``max_stack`` of them kept, the leaf's end or in
    ``caller_order`` the root's), when every kept kernel address is in ``kmemo`` and every user one in
    ``umemo``: the tuple of frames, leaf first; None otherwise (a frame missing, another marker, the chain
    overrunning the key, max_stack < 1: ``Session._callchain`` decides)."""
    if at < 0 or at > len(key) - 8 or max_stack < 1:
        return None
    nr = _U64(key, at)[0]
    if nr > (len(key) - at - 8) >> 3:
        return None
    entries = []
    get = umemo.get
    for avma in _chain_of(key, at, nr):
        if avma >= PERF_CONTEXT_MAX:
            if avma == PERF_CONTEXT_KERNEL:
                get = kmemo.get
            elif avma == PERF_CONTEXT_USER:
                get = umemo.get
            else:
                return None
            continue
        entries.append((get, avma))
    if len(entries) > max_stack:
        entries = entries[-max_stack:] if caller_order else entries[:max_stack]
    frames = []
    for get, avma in entries:
        frame = get(avma)
        if frame is None:
            return None
        frames.append(frame)
    return tuple(frames)


kernel_chain = speedups.kernel_chain if speedups is not None and hasattr(speedups, "kernel_chain") else _kernel_chain
user_chain = speedups.user_chain if speedups is not None and hasattr(speedups, "user_chain") else _user_chain
