"""Histogram entries of one event, as perf report builds them (tools/perf/util/hist.c).

Every sample adds its period to the entry of its own location (the "self" entry: ``he->stat``) and, with
``--children``, to one cumulative entry per distinct entry its call chain passes through (``he->stat_acc``;
``iter_add_next_cumulative_entry``; a function met twice in a chain counts once). Each entry keeps a
call-graph tree of the chains that reached it: the whole chain for the self entry, the part starting at
the cumulative entry's frame for the others.

For speed and flat memory, samples are first aggregated by (self entry, chain): identical chains are
appended to the trees once, with their summed period and count. The entry's thread (perf's ``he->thread``,
used by the children tie rule) is that of the first sample that made it, as in perf.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

from pyperf_probe.callchain.tree import CallchainRoot
from pyperf_probe.report.rbtree import insertion_order
from pyperf_probe.report.sortkeys import ENTRY_CMP

FRAME_KEYS = ("dso", "sym")  # the sort keys whose identity depends on the location (sortkeys.KEYS)


class HistEntry:
    """``struct hist_entry``: the key values, self and cumulative period, sample count and call graph."""

    __slots__ = ("ident", "comm", "tid", "thread_comm", "loc", "trace", "is_self", "period", "nr_events",
                 "period_acc", "thread", "callchain", "filtered", "level")

    def __init__(self, ident, comm: str, tid: int, loc, trace: str | None, is_self: bool, thread: int,
                 with_callchain: bool, filtered: bool = False, level: str = "."):
        self.ident = ident
        self.level = level  # he->level: al->level when the entry was made (the Symbol column's "[k] ")
        self.filtered = filtered  # hidden by --comms/--dsos/--symbols: as the sample that made it was
        self.comm, self.tid, self.loc, self.trace, self.is_self = comm, tid, loc, trace, is_self
        self.thread_comm = comm
        self.period = self.nr_events = self.period_acc = 0
        self.thread = thread
        self.callchain = CallchainRoot() if with_callchain else None


class Hists:
    """The entries of one event (``struct hists``) with its totals."""

    def __init__(self, keys, *, children: bool, callchains: bool, caller_order: bool):
        self.keys = keys
        self.children = children
        self.callchains = callchains
        self.caller_order = caller_order
        self.nr_samples = 0
        self.total_period = 0
        self.entries: dict[tuple, HistEntry] = {}
        # (self ident, chain id) -> [period, count, tid, comm, loc, chain, trace, filtered]
        self._groups: dict[tuple, list] = {}
        self._thread_comm: dict[int, str] = {}
        # The keys whose identity depends on the frame (dso, sym): without them every cumulative entry of
        # a chain is the self entry (nothing to add); when they come last (comm,dso,sym) a frame's
        # identity is the group's part for the others plus the frame's part, cached per frame.
        loc_keys = [i for i, k in enumerate(keys) if k.name in FRAME_KEYS]
        self._loc_dependent = bool(loc_keys)
        self._loc_suffix = len(keys) - len(loc_keys) if loc_keys and \
            loc_keys == list(range(len(keys) - len(loc_keys), len(keys))) else None
        self._loc_parts: dict = {}  # RFrame -> identity part of the frame keys (is_self False)

    def identity(self, comm: str, tid: int, loc, trace: str | None, is_self: bool) -> tuple:
        return tuple(k.identity(comm, tid, loc, trace, is_self) for k in self.keys)

    def count(self, period: int, samples: int = 1) -> None:
        """Samples that count in the totals (``# Samples``, percentages) even if filtered out."""
        self.nr_samples += samples
        self.total_period += period

    def add(self, comm: str, tid: int, period: int, loc, chain: Sequence, chain_id, trace: str | None,
            count: int = 1, filtered: bool = False):
        """``count`` samples with the same thread, location and chain, ``period`` in all: ``loc`` their own
        location, ``chain`` their RFrames leaf first, ``chain_id`` a key for the chain. ``filtered``: the
        samples fail ``--comms/--dsos/--symbols``. As in perf (``hists__findnew_entry``), that only hides
        the entries these samples *create*: a filtered sample still adds to an entry made by another."""
        self._thread_comm[tid] = comm
        ident = self.identity(comm, tid, loc, trace, True)
        gkey = (ident, chain_id)
        group = self._groups.get(gkey)
        if group is None:
            self._groups[gkey] = [period, count, tid, comm, loc, chain, trace, filtered]
        else:
            group[0] += period
            group[1] += count

    def finish(self) -> None:
        """Build the entries and their trees from the aggregated samples, in first-sample order.

        The cumulative entries' chains are appended last, once per distinct (entry, chain suffix) with
        the summed period and count: chains of a build share most suffixes (make-malloc.data: 111,600
        appends of 1.08M frames become 43,256 of 0.56M). A tree is the same whatever the order of its
        appends (a radix tree of the chains, hits summed; siblings are ordered by key at output), and the
        entries are still created in first-sample order here. Suffixes are told apart by ids interned
        from the leaf end, (frame key, id of the rest) -> id: one dict look-up per frame."""
        cumulative = self.children and self._loc_dependent
        pending: dict[tuple, list] = {}
        suffix_ids: dict[tuple, int] = {}
        for (ident, _), (period, count, tid, comm, loc, chain, trace, filtered) in self._groups.items():
            entry = self._entry(ident, comm, tid, loc, trace, True, filtered, loc.level)
            entry.period += period
            entry.nr_events += count
            entry.period_acc += period
            frames = list(reversed(chain)) if self.caller_order else list(chain)
            keys = [f.key for f in frames]
            if entry.callchain is not None:
                entry.callchain.append(keys, frames, period, count)
            if cumulative:
                ids = _suffix_ids(keys, suffix_ids) if self.callchains else None
                self._add_cumulative(ident, comm, tid, trace, frames, keys, ids, period, count, filtered, pending,
                                     loc.level)
        for entry, keys, frames, i, period, count in pending.values():
            entry.callchain.append(keys[i:], frames[i:], period, count)
        self._groups.clear()
        for entry in self.entries.values():
            entry.thread_comm = self._thread_comm.get(entry.tid, entry.comm)

    def _add_cumulative(self, self_ident, comm, tid, trace, frames, keys, ids, period, count, filtered,
                        pending: dict, level: str) -> None:
        """The cumulative entries of one chain (``iter_add_next_cumulative_entry``): created (or found)
        now, their chain suffix added to ``pending`` by (entry identity, suffix id). ``level`` follows
        perf's ``fill_callchain_info`` on the one addr_location it reuses: a frame with a map sets it,
        one without keeps the last (the sample's own at first)."""
        seen = {self_ident}
        at = self._loc_suffix
        if at is not None:
            head = self_ident[:at]  # the keys before the frame keys do not depend on the frame
            parts = self._loc_parts
            loc_keys = self.keys[at:]
        for i, frame in enumerate(frames):
            if frame.mapped:
                level = frame.level
            if at is None:
                ident = self.identity(comm, tid, frame, trace, False)
            else:
                part = parts.get(frame)
                if part is None:
                    part = parts[frame] = tuple(k.identity(comm, tid, frame, trace, False) for k in loc_keys)
                ident = head + part
            if ident in seen:
                continue
            seen.add(ident)
            entry = self._entry(ident, comm, tid, frame, trace, False, filtered, level)
            entry.period_acc += period
            if entry.callchain is not None:
                got = pending.get((ident, ids[i]))
                if got is None:
                    pending[(ident, ids[i])] = [entry, keys, frames, i, period, count]
                else:
                    got[4] += period
                    got[5] += count

    def _entry(self, ident, comm, tid, loc, trace, is_self, filtered, level=".") -> HistEntry:
        entry = self.entries.get(ident)
        if entry is None:
            entry = self.entries[ident] = HistEntry(ident, comm, tid, loc, trace, is_self, tid, self.callchains,
                                                    filtered, level)
        return entry

    # ---------------------------------------------------------------------------------------- output order

    def _collapsed_order(self) -> list[HistEntry]:
        """The order ``output_resort`` takes entries in: perf inserts them, as they were created, into
        ``entries_in`` and (when a key has a collapse function: comm) again into ``entries_collapsed``."""
        cmps = [ENTRY_CMP[k.name] for k in self.keys]
        goes_left = lambda new, old: _entry_cmp(new, old, cmps) < 0  # noqa: E731
        order = insertion_order(self.entries.values(), goes_left)
        if any(k.name == "comm" for k in self.keys):
            order = insertion_order(order, goes_left)
        return order

    def sorted_entries(self, show_callchain: bool, hidden=frozenset()) -> list[HistEntry]:
        """``hists__output_resort``: collapse order first (ties keep it), then perf's output comparator,
        which skips elided columns (``perf_hpp__should_skip``)."""
        collapsed = self._collapsed_order()
        keys = [k for k in self.keys if k.name not in hidden]
        cmp = functools.partial(_output_cmp, keys=keys, children=self.children,
                                depth_rule=show_callchain and self.callchains, caller=self.caller_order)
        if not self.children:
            # A total order: a stable sort gives what the rb-tree gives.
            return sorted(collapsed, key=functools.cmp_to_key(lambda a, b: -cmp(a, b)))
        return insertion_order(collapsed, lambda new, old: cmp(new, old) > 0)


def _suffix_ids(keys: list, interned: dict[tuple, int]) -> list[int]:
    """``ids[i]`` names the chain suffix ``keys[i:]``: equal suffixes (of any chain) get equal ids."""
    ids = [0] * len(keys)
    rest = -1
    for i in range(len(keys) - 1, -1, -1):
        pair = (keys[i], rest)
        got = interned.get(pair)
        if got is None:
            got = interned[pair] = len(interned)
        ids[i] = rest = got
    return ids


def _entry_cmp(new: HistEntry, old: HistEntry, cmps) -> int:
    for cmp in cmps:
        ret = cmp(new, old)
        if ret:
            return ret
    return 0


def _output_cmp(a: HistEntry, b: HistEntry, *, keys, children: bool, depth_rule: bool, caller: bool) -> int:
    """``hist_entry__sort``: > 0 when ``a`` prints before ``b``."""
    if children:
        if a.period_acc != b.period_acc:
            return 1 if a.period_acc > b.period_acc else -1
        if depth_rule and a.thread == b.thread:
            diff = b.callchain.max_depth - a.callchain.max_depth
            if diff:
                return -diff if caller else diff
    if a.period != b.period:
        return 1 if a.period > b.period else -1
    for key in keys:
        ka, kb = key.order(a), key.order(b)
        if ka != kb:
            return 1 if ka < kb else -1
    return 0
