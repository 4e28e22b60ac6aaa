"""Histogram entries of one event, as perf report builds them (tools/perf/util/hist.c).

Every sample adds its period to the entry of its own location (the "self" entry: ``he->stat``) and, with
``--children``, to one cumulative entry per distinct entry its call chain passes through (``he->stat_acc``;
``iter_add_next_cumulative_entry``; a function met twice in a chain counts once). Each entry keeps a
call-graph tree of the chains that reached it: the whole chain for the self entry, the part starting at
the cumulative entry's frame for the others.

For speed and flat memory, samples are first aggregated by (self entry, chain): identical chains are
appended to the trees once, with their summed period and count. The entry's thread (perf's ``he->thread``,
used by the children tie rule) is that of the first sample that made it, as in perf.

perf finds an entry by searching its ``entries_in`` rb-tree, which is a dict look-up only where the
comparator is a total order on the entries (report.order checks that, and then gives the trees' order as
a sort); where it is not (unresolved addresses 2^63 apart, unresolved entries of several dsos among resolved
ones), the look-ups of those classes are replayed in sample order (report.findnew), and may make a second
entry of one identity, as perf's do.
"""
from __future__ import annotations

from _functools import cmp_to_key, partial  # functools' own C code, without functools' imports
from _operator import itemgetter  # (operator's C half: operator.py is start-up time)

from pyperf_probe.callchain import rbreplay, tree as _tree
from pyperf_probe.callchain.tree import CallchainRoot
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.report import findnew, order as exact_order
from pyperf_probe.report.rbtree import insertion_order, replay_ranked
from pyperf_probe.report.sortkeys import KEYS as _KEYS, entry_cmps

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Sequence


class HistEntry:
    """``struct hist_entry``: the key values, self and cumulative period, sample count and call graph."""

    __slots__ = ("ident", "comm", "tid", "thread_comm", "loc", "trace", "is_self", "period", "nr_events",
                 "period_acc", "thread", "callchain", "filtered", "level", "raw", "trace_output", "hits",
                 "trace_known", "pairs", "slot")

    def __init__(self, ident, comm: str, tid: int, loc, trace: str | None, is_self: bool, thread: int,
                 with_callchain: bool, filtered: bool = False, level: str = ".", raw: bytes | None = None):
        self.ident = ident
        self.raw = raw  # he->raw_data: the RAW record of the sample that made the entry
        self.trace_output = trace  # he->trace_output: the event's text of ``raw`` (tracepoint-field keys)
        self.level = level  # he->level: al->level when the entry was made (the Symbol column's "[k] ")
        self.filtered = filtered  # hidden by --comms/--dsos/--symbols: as the sample that made it was
        self.comm, self.tid, self.loc, self.trace, self.is_self = comm, tid, loc, trace, is_self
        self.thread_comm = comm
        self.period = self.nr_events = self.period_acc = 0
        self.hits = 0  # samples that found or made the entry (self and cumulative): its in-tree look-ups
        self.trace_known = False  # perf computed he->trace_output before the width pass (sortkeys._trace_cmp)
        self.thread = thread
        self.callchain = CallchainRoot() if with_callchain else None
        self.pairs = None  # a group leader's entry: the members' entries of the same key (report.group)
        self.slot = -1  # its identity's index among the hists' identities (report.findnew's replay)


class Hists:
    """The entries of one event (``struct hists``) with its totals.

    ``keys`` are the identity keys in sort order (report.sortkeys' and this event's report.dynamic ones);
    ``sort_list`` is ``hist_entry__sort``'s list (report.layout: the hpp columns among the keys; by default
    Children and Overhead first); ``trace_text(raw)`` is the event's ``get_trace_output``."""

    def __init__(self, keys, *, children: bool, callchains: bool, caller_order: bool, sort_list=None,
                 trace_text=None, graphs: bool = True):
        self.keys = keys
        self.sort_list = sort_list if sort_list is not None else _default_sort_list(keys, children)
        self.trace_text = trace_text
        self.columns = None       # report.layout's columns of this event (stdio's default when None)
        self.last_column = None   # the last column of every event's list (hist_entry__snprintf_alignment)
        # tid -> the thread's comm once every record is read (he->thread's, as the comm column's width and the
        # pid column see it), or None: then the comm of the thread's last sample here
        self.final_comm = None
        self.group_members = None  # a group leader's, in the group view: its members' Hists (report.group)
        self._se_keys = [k for k in keys if k.kind == "sort"]
        self._dyn_keys = [k for k in keys if k.kind == "dynamic"]
        # where the trace key is among the sort keys: a comparison that ties on the keys before it computes
        # both entries' trace outputs (the tracepoint-field keys never differ between a sample's entries)
        self._trace_at = next((i for i, k in enumerate(self._se_keys) if k.name == "trace"), None)
        self.children = children
        self.callchains = callchains
        # entries keep call-graph trees (not with -g none: nothing prints them, and the depth rule is off)
        self.graphs = callchains and graphs
        self.caller_order = caller_order
        self.nr_samples = 0
        self.total_period = 0
        self.entries: dict[tuple, HistEntry] = {}
        # (self ident, chain id[, dso: _dso_apart]) -> [period, count, tid, comm, loc, chain, trace, filtered, raw,
        # number]
        self._groups: dict[tuple, list] = {}
        self._thread_comm: dict[int, str] = {}
        # The keys whose identity depends on the frame (dso, sym): without them every cumulative entry of
        # a chain is the self entry (nothing to add); when they come last among the sort keys
        # (comm,dso,sym) a frame's identity is the group's part for the others plus the frame's part,
        # cached per frame, plus the part of the tracepoint-field keys (the sample's, never the frame's).
        se = self._se_keys
        loc_keys = [i for i, k in enumerate(se) if k.frame_dependent]
        self._loc_dependent = bool(loc_keys)
        self._loc_suffix = len(se) - len(loc_keys) if loc_keys and \
            loc_keys == list(range(len(se) - len(loc_keys), len(se))) else None
        self._loc_parts: dict = {}  # RFrame -> identity part of the frame keys (is_self False)
        self._frame_identities = [k.identity for k in se if k.frame_dependent]  # (_make_frame's)
        self._head_at = tuple(i for i, k in enumerate(se) if not k.frame_dependent)  # (hist_lookups' heads)
        # (_make_frame's, frame keys among the others: a head + part's items in key order, one C call)
        frame_at = [i for i, k in enumerate(se) if k.frame_dependent]
        self._in_key_order = itemgetter(*[self._head_at.index(i) if i in self._head_at else
                                          len(self._head_at) + frame_at.index(i) for i in range(len(se))]) \
            if len(se) > 1 and frame_at and self._loc_suffix is None else None
        # add's: where the frame keys start when they come last and no tracepoint-field key follows, the
        # frame keys' part of a sample's own location (is_self True) per location, and whether comm alone
        # comes before them
        self._self_at = self._loc_suffix if not self._dyn_keys else None
        self._self_parts: dict = {}
        self._self_idents: dict = {}  # (builder's WHOLE adds) group's thread -> {location: its whole identity}
        self._comm_head = [k.name for k in se[:self._self_at or 0]] == ["comm"]
        self._frame_entries: dict = {}  # keys before the frame keys -> {RFrame: its cumulative entry}
        # keys whose comparisons report.order knows (no trace, no tracepoint field): entries found as perf's
        # entries_in search finds them (report.findnew), their order computed once (``_in_order``)
        # (trace as the first key too: a total order, strcmp of the outputs, each entry's computed by the
        # comparisons of its insertion or the next one's: report.order.trace_column)
        # (trace after other keys: report.order ranks it at any place, strcmp of the outputs where the keys
        # before it tie, and ``trace_marks`` says whose outputs perf computed; with --children so does
        # ``cache_marks`` of the he_cache comparisons of the cumulative look-ups)
        self._by_lookups = not self._dyn_keys and all(
            k.name in ("comm", "pid", "dso", "sym") or k.name == "trace"
            for i, k in enumerate(se))
        # sym a key, dso not: an unresolved location's identity names no dso, but perf's search compares it
        # with resolved entries by dso (``_dso_variants``): its groups are kept apart per dso
        names = [k.name for k in se]
        self._dso_apart = self._by_lookups and "sym" in names and "dso" not in names
        self._in_order = None  # (number of entries, the collapsed order) when finish knew it
        self._chained = False  # _finish_by_lookups: trace first, children, some group has a chain
        self.inlined_seen = False  # the builder's: some frame of these samples is an inlined function's
        self.sequence = None  # [(group number: add's answer, period)] per sample in order, if the session kept it
        self._merged = ()  # (entry, entry merged into it) of entries_collapsed (report.findnew)
        self._cache_marked = frozenset()  # identities the he_cache comparisons marked (report.order.cache_marks)
        # graph, flat, folded: nodes below (u64)(total period * this / 100) never print (stdio's min_hit), so
        # an entry whose whole tree is below it keeps no tree, only its depth (None: every tree built)
        self.graph_min_percent: float | None = None

    def identity(self, comm: str, tid: int, loc, trace: str | None, is_self: bool, raw: bytes | None = None) \
            -> tuple:
        """The entry's key values: the sort keys' in order, then the tracepoint-field keys'."""
        ident = tuple(k.identity(comm, tid, loc, trace, is_self) for k in self._se_keys)
        if self._dyn_keys:
            ident += tuple(k.identity(raw or b"") for k in self._dyn_keys)
        return ident

    def count(self, period: int, samples: int = 1) -> None:
        """Samples that count in the totals (``# Samples``, percentages) even if filtered out."""
        self.nr_samples += samples
        self.total_period += period

    def add(self, comm: str, tid: int, period: int, loc, chain: Sequence, chain_id, trace: str | None,
            count: int = 1, filtered: bool = False, raw: bytes | None = None):
        """``count`` samples with the same thread, location and chain, ``period`` in all: ``loc`` their own
        location, ``chain`` their RFrames leaf first, ``chain_id`` a key for the chain. ``filtered``: the
        samples fail ``--comms/--dsos/--symbols``. As in perf (``hists__findnew_entry``), that only hides
        the entries these samples *create*: a filtered sample still adds to an entry made by another."""
        self._thread_comm[tid] = comm
        at = self._self_at
        if at is None:
            ident = self.identity(comm, tid, loc, trace, True, raw)
        else:  # the frame keys last: their part of a location's identity is kept per location
            part = self._self_parts.get(loc)
            if part is None:
                part = self._self_parts[loc] = self._self_part(comm, tid, loc, trace)
            if at == 0:
                ident = part
            elif self._comm_head:
                ident = (comm,) + part
            else:
                ident = tuple(k.identity(comm, tid, loc, trace, True) for k in self._se_keys[:at]) + part
        gkey = (ident, chain_id) if not self._dso_apart or loc.has_sym else (ident, chain_id, loc.dso_name)
        group = self._groups.get(gkey)
        if group is None:
            number = len(self._groups)
            self._groups[gkey] = [period, count, tid, comm, loc, chain, trace, filtered, raw, number]
            return number
        group[0] += period
        group[1] += count
        return group[9]

    def _self_part(self, comm: str, tid: int, loc, trace: str | None = None) -> tuple:
        """The frame keys' part of a sample's own identity (``add``'s, kept per location)."""
        return tuple(k.identity(comm, tid, loc, trace, True) for k in self._se_keys[self._self_at:])

    def plain_adds(self) -> bool:
        """Whether ``add`` of samples without a filter or trace takes its plain path: the frame keys last, after
        no other key or comm alone, and no group kept apart per dso (report.builder's builder_adds does it)."""
        return self._self_at is not None and (self._self_at == 0 or self._comm_head) and not self._dso_apart

    def whole_adds(self) -> bool:
        """Whether ``add`` of samples without a filter or trace makes an identity that depends only on the thread
        and the location (``_self_ident``): no tracepoint-field key (report.builder's builder_adds keeps one per
        thread and location)."""
        return not self._dyn_keys

    def _self_ident(self, comm: str, tid: int, loc) -> tuple:
        """A sample's own identity without trace and raw (``whole_adds``)."""
        return self.identity(comm, tid, loc, None, True)

    def finish(self) -> None:
        """Build the entries and their trees from the aggregated samples, in first-sample order.

        The cumulative entries' chains are appended last, once per distinct (entry, chain suffix) with
        the summed period and count: chains of a build share most suffixes (make-malloc.data: 111,600
        appends of 1.08M frames become 43,256 of 0.56M). A tree is the same whatever the order of its
        appends (a radix tree of the chains, hits summed; siblings are ordered by key at output), and the
        entries are still created in first-sample order here. Suffixes are told apart by ids interned
        from the leaf end, (frame key, id of the rest) -> id: one dict look-up per frame."""
        # (--no-children: each group's chain goes to its self entry; kept for ``_replay_trees``)
        # (each group's chain goes to its self entry and, with children, to its cumulative entries: kept for
        # ``_replay_trees``)
        # (only where a replay can run: children trees are replayed only with rbreplay.CHILDREN; the list
        # would keep every group alive through finish: make.data's default report 26 -> 37.5 MiB)
        replays = rbreplay.ENABLED and (rbreplay.CHILDREN or not (self.children and self._loc_dependent))
        kept = list(self._groups.items()) if replays and self.graphs and self.sequence is not None else None
        self._every_records = None
        if self._by_lookups:
            self._finish_by_lookups()
        else:
            self._finish_merged()
        if kept and rbreplay.ENABLED:
            self._replay_trees(kept)
        self._every_records = None
        finals: dict = {}  # tid -> the thread's final comm (None: none known)
        final_comm = self.final_comm
        for entry in self.entries.values():
            tid = entry.tid
            if tid in finals:
                final = finals[tid]
            else:
                final = finals[tid] = final_comm(tid) if final_comm is not None else None
            entry.thread_comm = final if final is not None else self._thread_comm.get(tid, entry.comm)

    def _replay_trees(self, kept: list) -> None:
        """The trees whose children perf searches with a comparison that is not a total order
        (callchain.rbreplay ``needs_replay``) built again as perf builds them: each sample's chain appended
        to its self entry's tree in sample order (``sequence``). Entries perf made twice (report.findnew) or
        merged (entries_collapsed) keep the tree built by key."""
        entries = self.entries
        records = None
        if self.children and self._loc_dependent:  # cumulative entries: the look-ups each group made
            records = self._every_records
            if records is None or not rbreplay.CHILDREN:
                return
        skip = {k[1] for k in entries if type(k) is tuple and len(k) == 3 and k[0] is _DUPLICATE}
        skipped = {id(e) for pair in self._merged for e in pair}
        todo: dict = {}  # entry -> its number among the replayed
        roots: list = []  # per replayed entry, its tree by key's root node
        replayed: list = []  # the entries
        mixed: list[set] = []  # per replayed entry, its tree's mixed nodes
        for entry in entries.values():
            cc = entry.callchain
            if cc is None or not cc.node.children or entry.ident in skip or id(entry) in skipped:
                continue
            found = _mixed_nodes(cc)
            if found:
                todo[entry] = len(replayed)
                replayed.append(entry)
                roots.append(cc.node)
                mixed.append(found)
        if not todo:
            return
        # per entry the chains whose appends touch no mixed node, appended first, each at once
        # (rbreplay.touches); per group (replayed entry, the chain's keys and frames from where it is appended)
        # for the others, appended per sample
        plan = rbreplay.replay_plan(kept, entries, records, todo, roots, mixed, self.caller_order)
        if plan is None:
            return
        fixed, per_group = plan
        del plan, roots, mixed, todo
        for entry in replayed:  # (the trees by key are done with: let go before the replayed ones are made)
            entry.callchain = None
        groups, periods = _sequence_arrays(self.sequence)
        rbreplay.replay_groups(fixed, per_group, groups, periods, into=replayed)

    def _finish_merged(self) -> None:
        """``finish`` with entries merged by identity (a dict: what perf's search finds when its comparator
        is a total order), for the keys report.order does not know."""
        cumulative = self.children and self._loc_dependent
        trace_in_cache = self.children and self._trace_at is not None  # he_cache comparisons reach trace
        pending: dict[tuple, list] = {}
        suffix_ids: dict[tuple, int] = {}
        for (ident, _), (period, count, tid, comm, loc, chain, trace, filtered, raw, _) in self._groups.items():
            entry = self._entry(ident, comm, tid, loc, trace, True, filtered, loc.level, raw)
            entry.period += period
            entry.nr_events += count
            entry.hits += count
            entry.period_acc += period
            frames = list(reversed(chain)) if self.caller_order else list(chain)
            keys = [f.key for f in frames]
            if entry.callchain is not None:
                entry.callchain.append(keys, frames, period, count)
            if cumulative:
                ids = _suffix_ids(keys, suffix_ids) if self.graphs else None
                self._add_cumulative(ident, entry, comm, tid, trace, frames, keys, ids, period, count, filtered,
                                     pending, loc.level, raw)
            elif trace_in_cache and frames:
                entry.trace_known = True  # every frame's entry is this one: compared, equal
        for entry, keys, frames, i, period, count in pending.values():
            entry.callchain.append(keys[i:], frames[i:], period, count)
        self._groups.clear()

    def _finish_by_lookups(self) -> None:
        """``finish`` as perf's look-ups: each group's look-ups (its self entry, then its chain's cumulative
        entries) find or make the entry of their identity (in first-sample order) and get the group's period
        and count. If unresolved addresses straddle 2^63 (report.order ``EntryRanks``), the look-ups of those
        identities that made nothing are replayed in perf's tree (report.findnew), in sample order
        (``sequence`` when the session kept it, else each group's samples at its first): one may find or make
        another entry of the same identity, as perf's do, and its sample's share moves there. Chains are
        appended last, once per (entry, chain suffix) as in ``_finish_merged``."""
        # (children: a chain's cumulative look-ups compare each entry with the chain's he_cache, the sample's
        # own entry first: every comparison reaches trace when it is the first key)
        self._chained = self.children and self._trace_at == 0 and any(g[5] for g in self._groups.values())
        # sym a key and dso not: resolved identities are mostly replayed (unresolved entries of several dsos
        # among resolved ones make the whole class one), so every look-up is listed at once (more listed
        # look-ups change no answer: the replay takes those of wrapping identities only)
        # So are they where inlined and plain symbols meet (DWARF chains: the builder says when it saw any).
        every = self._dso_apart or self.inlined_seen
        records, made_after, pending = self._lookups(every)
        protos = list(self.entries.values())
        for i, entry in enumerate(protos):
            entry.slot = i
        variants, variant_of = self._dso_variants(protos, records)
        ordered = exact_order.entry_order(protos + variants, self.keys, trace_after=True)
        if type(ordered) is exact_order.EntryRanks and ordered.resolved_replayed and not every:
            # resolved identities are replayed too: the look-ups again, each of them listed (the entries are
            # made again in the same order, so the ranks stay, and so do the variants: the unresolved
            # look-ups are listed in both passes)
            self.entries.clear()
            self._frame_entries.clear()
            records, made_after, pending = self._lookups(True)
            protos = list(self.entries.values())
            for i, entry in enumerate(protos):
                entry.slot = i
            variants, variant_of = self._dso_variants(protos, records)
        if (every or self.inlined_seen) and rbreplay.CHILDREN:
            self._every_records = records  # (every look-up of each group: ``_replay_trees``)
        if type(ordered) is exact_order.EntryRanks:
            self._in_order = (None, self._replay(ordered, protos, records, made_after, pending, variant_of))
        elif ordered is not None:
            self._in_order = (len(protos), [protos[i] for i in sorted(range(len(protos)), key=ordered.__getitem__)])
        if self.children and self._trace_at:  # (trace after other keys: the he_cache comparisons' marks)
            self._cache_marked = exact_order.cache_marks(self._groups.items(), self._se_keys, self._trace_at,
                                                         self.caller_order)
        self._groups.clear()
        self._append_pending(pending)
        if type(ordered) is exact_order.EntryRanks:
            self._in_order = (None, self._collapse(self._in_order[1]))
        self._mark_traces()

    def _mark_traces(self) -> None:
        """trace the first key: each insertion into ``entries_in`` compares the new entry with the root first
        (``sort__trace_cmp`` computes both outputs), so with two entries or more every output is computed;
        so is a lone entry's if a chain's cumulative look-ups compared it (``_finish_merged``'s he_cache)."""
        if self._trace_at == 0 and (len(self.entries) > 1 or self._chained):
            for entry in self.entries.values():
                if entry.trace is not None and entry.trace != "N/A":
                    entry.trace_known = True
        elif self._trace_at and self._by_lookups:
            # trace after other keys: outputs computed where the keys before it tied (report.order.trace_marks)
            entries = list(self.entries.values())
            cached = self._cache_marked
            for entry, marked in zip(entries, exact_order.trace_marks(entries, self._trace_at)):
                if (marked or entry.ident in cached) and entry.trace is not None and entry.trace != "N/A":
                    entry.trace_known = True

    def _append_pending(self, pending: dict) -> None:
        """The chains appended, once per (entry, suffix). An entry whose tree would print nothing (its total,
        period_acc, below the graph threshold: every node below it) gets only the tree's depth, unless
        entries_collapsed merges it."""
        skip_below, merging = 0, set()
        if self.graph_min_percent is not None:
            skip_below = int(self.total_period * (self.graph_min_percent / 100))
            merging = {id(e) for pair in self._merged for e in pair}
        if speedups is not None and hasattr(speedups, "append_pending") and _tree._c_append is not None:
            # this loop in C (perfdata/_speedups_report.c append_pending: each chain read from its offset, no
            # slices), where the trees' appends are C's too (callchain.tree's callchain_append)
            speedups.append_pending(list(pending.values()), skip_below, merging)
            return
        for entry, keys, frames, i, period, count in pending.values():
            if entry.period_acc < skip_below and id(entry) not in merging:
                depth = len(keys) - i
                if depth > entry.callchain.max_depth:
                    entry.callchain.max_depth = depth
                continue
            # (append copies what it keeps: a whole chain goes unsliced)
            entry.callchain.append(keys[i:] if i else keys, frames[i:] if i else frames, period, count)

    def _lookups(self, every: bool) -> tuple[list, list, dict]:
        """Each group's look-ups, made or found and credited in first-sample order: (per group None or what a
        replay needs of it: its unresolved look-ups, or with ``every`` all of them; per group the entries
        made once its first sample is done; the pending chain appends)."""
        cumulative = self.children and self._loc_dependent
        graphs = self.graphs
        if speedups is not None and not self._dyn_keys and hasattr(speedups, "hist_lookups"):
            # the loop below and _cumulative_lookups in C (perfdata/_speedups_report.c), a frame's entry kept per
            # (values of the keys that do not depend on the frame, frame)
            return speedups.hist_lookups(self._groups, self.caller_order, graphs, cumulative, every,
                                         self._head_at, self.entries, self._frame_entries, self._make_self,
                                         self._make_frame, self._fast_frames())
        records = []
        made_after = []
        suffix_ids: dict[tuple, int] = {}
        pending: dict[tuple, list] = {}
        entries = self.entries
        for (ident, chain_id, *_), group in self._groups.items():
            period, count, tid, comm, loc, chain, trace, filtered, raw, _ = group
            frames = list(reversed(chain)) if self.caller_order else list(chain)
            keys = ids = sid = None
            if graphs and frames:
                keys = [f.key for f in frames]
                if cumulative:
                    ids = _suffix_ids(keys, suffix_ids)
                    sid = ids[0]
                else:  # (the whole chain only: told apart by its own id)
                    sid = (chain_id,)
            made = len(entries)
            entry = self._entry(ident, comm, tid, loc, trace, True, filtered, loc.level, raw)
            _credit(entry, True, period, count, 0, sid, keys, frames, pending)
            # listed look-ups: (entry, frame index or -1, frame, level, suffix id, entries made before it if it
            # made nothing, else -1)
            listed = None if loc.has_sym and not every else [(entry, -1, loc, loc.level, sid,
                                                             made if len(entries) == made else -1)]
            if cumulative:
                listed = self._cumulative_lookups(ident, entry, comm, tid, trace, frames, filtered, loc.level,
                                                  raw, period, count, keys, ids, pending, listed, every)
            # (the chain's keys and frames: what a moved look-up appends; without trees, nothing: None)
            records.append(None if listed is None else (period, count, tid, comm, trace, filtered, raw, listed,
                                                        keys, frames if graphs else None))
            made_after.append(len(entries))
        return records, made_after, pending

    def _fast_frames(self):
        """hist_lookups' make_frame in C (``_make_frame``'s twin there) where the frame keys are dso and sym, wherever
        they are among the sort keys: (a letter per sort key, "h" for one that does not depend on the frame, "d"
        and "s" for dso and sym; HistEntry; CallchainRoot or None); else None."""
        frame_keys = [k for k in self._se_keys if k.frame_dependent]
        if not frame_keys or any(k.kind != "sort" or k.identity is not KEYS_BY_NAME.get(k.name) or
                                 k.name not in ("dso", "sym") for k in frame_keys):
            return None
        spec = "".join(k.name[0] if k.frame_dependent else "h" for k in self._se_keys)
        return spec, HistEntry, CallchainRoot if self.graphs else None

    def _make_self(self, ident, comm, tid, loc, trace, filtered, raw) -> HistEntry:
        """hist_lookups' self entry of an identity not in ``entries`` yet (``_entry``)."""
        return self._entry(ident, comm, tid, loc, trace, True, filtered, loc.level, raw)

    def _make_frame(self, head, frame, comm, tid, trace, filtered, level, raw) -> HistEntry:
        """hist_lookups' cumulative entry of a frame not yet kept for ``head`` (the values of the keys that do
        not depend on the frame: ``_cumulative_lookups``, ``_cumulative_lookups_by_identity``)."""
        part = self._loc_parts.get(frame)
        if part is None:
            part = self._loc_parts[frame] = tuple([identity(comm, tid, frame, trace, False)
                                                   for identity in self._frame_identities])
        if self._loc_suffix is not None:
            ident = head + part
        else:  # (frame keys among the others: the identity in key order)
            ident = self._in_key_order(head + part)
        entry = self.entries.get(ident)  # (_entry, inline: once per distinct frame and head)
        if entry is None:
            entry = self.entries[ident] = HistEntry(ident, comm, tid, frame, trace, False, tid, self.graphs,
                                                    filtered, level, raw)
        return entry

    def _dso_variants(self, protos: list, records: list) -> tuple[list, dict]:
        """The look-ups of an unresolved identity whose frame is of another dso than its entry's (sym a key,
        dso not): the identity names no dso, but ``sort__sym_cmp`` compares an unresolved entry with a
        resolved one by dso first, so such a look-up walks perf's tree by its own dso (on sys.data,
        ``0x418e`` of go and of pprof among libc's symbols: perf makes a second entry). One stand-in entry
        per (identity, dso), after ``protos``, ranked with them (its class is then one of several dsos) and
        searched with by those look-ups; it makes an entry only when its search finds none. Answers the
        stand-ins and (identity's slot, dso) -> the stand-in's index."""
        if not self._dso_apart:
            return [], {}
        variants: list = []
        variant_of: dict[tuple, int] = {}
        n = len(protos)
        other = speedups.other_dso_looks if speedups is not None and hasattr(speedups, "other_dso_looks") \
            else _other_dso_looks
        for r, j in other(records):
            rec = records[r]
            look = rec[7][j]
            entry, pos, loc = look[0], look[1], look[2]
            key = (entry.slot, loc.dso_name)
            if key not in variant_of:
                variant_of[key] = n + len(variants)
                stand_in = HistEntry(entry.ident, rec[3], rec[2], loc, rec[4], pos < 0, rec[2], False,
                                     rec[5], look[3], rec[6])
                stand_in.slot = variant_of[key]
                variants.append(stand_in)
        return variants, variant_of

    def _replay(self, ranks, protos: list, records: list, made_after: list, pending: dict,
                variant_of: dict | None = None) -> list:
        """Replay the look-ups of straddling identities (report.findnew); move the share of each that found
        another entry than its identity's first. The entries (second ones of an identity included) in
        ``entries_in``'s order, or, when comm is a key, ``entries_collapsed``'s (``_collapse`` merges the
        equal ones once the chains are appended). ``variant_of``: the stand-ins (``_dso_variants``) a
        look-up of another dso than its entry's searches with."""
        wraps = ranks.wraps
        if speedups is not None and hasattr(speedups, "replay_looks"):
            looks = speedups.replay_looks(records, wraps if type(wraps) is list else list(wraps), variant_of or None)
        else:
            looks = _replay_looks(records, wraps, variant_of or None)
        if self.sequence is None:  # a group's samples at its first, as one look-up
            groups = list(range(len(records)))
            periods = [0 if rec is None else rec[0] for rec in records]
            counts = [0 if rec is None else rec[1] for rec in records]
        else:
            groups, periods = _sequence_arrays(self.sequence)
            counts = None
        args = (ranks.block, ranks.ip, ranks.sub, wraps, ranks.unres, ranks.dso, ranks.inl, groups, periods,
                counts, looks, made_after, any(k.name == "comm" for k in self.keys))
        # (with stand-ins the ranks go past the entries: the replay is told how many entries there are)
        moves, ident, order, merged = _findnew_replay(*args, entries=len(protos) if variant_of else -1)
        del groups, periods, counts
        n = len(protos)
        instances = protos + [None] * (len(ident) - n)
        for r, j, got, period, count in moves:  # (summed per group, look-up and entry)
            rec = records[r]
            proto, pos, loc, level, sid, _ = rec[7][j]
            dup = instances[got]
            if dup is None:
                dup = instances[got] = HistEntry(proto.ident, rec[3], rec[2], loc, rec[4], pos < 0, rec[2],
                                                 self.graphs, rec[5], level, rec[6])
                dup.slot = proto.slot
                self.entries[(_DUPLICATE, proto.ident, got)] = dup
            _debit(proto, pos < 0, period, count, sid, pending)
            _credit(dup, pos < 0, period, count, max(pos, 0), sid, rec[8], rec[9], pending)
        self._merged = [(instances[into], instances[e]) for e, into in enumerate(merged) if into >= 0]
        return [instances[e] for e in order]

    def _collapse(self, order: list) -> list:
        """``hists__collapse_resort``'s merges (found by the replay): an entry equal to one before it in
        ``entries_collapsed`` adds its stats and call graph to it and goes."""
        if not self._merged:
            return order
        gone = set()
        for into, entry in self._merged:
            _merge(into, entry)
            gone.add(id(entry))
        for key in [k for k, v in self.entries.items() if id(v) in gone]:
            del self.entries[key]
        return [e for e in order if id(e) not in gone]

    def _cumulative_lookups(self, self_ident, self_entry, comm, tid, trace, frames, filtered, level: str, raw,
                            period, count, keys, ids, pending: dict, unresolved: list | None,
                            every: bool = False) -> list | None:
        """``_add_cumulative`` as look-ups: each new identity of the chain finds or makes its entry, credited
        with the group's period and count; those of unresolved frames are added to ``unresolved`` (made
        if needed) as ``_finish_by_lookups`` lists them. When the frame keys come last, a frame's entry is
        kept per (keys before them, frame): one dict look-up by the frame's identity."""
        at = self._loc_suffix
        if at is None:
            return self._cumulative_lookups_by_identity(self_ident, comm, tid, trace, frames, filtered, level, raw,
                                                        period, count, keys, ids, pending, unresolved, every)
        seen = {self_entry}
        entries = self.entries
        head = self_ident[:at]
        known = self._frame_entries.get(head)
        if known is None:
            known = self._frame_entries[head] = {}
        parts = self._loc_parts
        loc_keys = self._se_keys[at:]
        seen_add, pending_get = seen.add, pending.get
        for i, frame in enumerate(frames):
            if frame.mapped:
                level = frame.level
            entry = known.get(frame)
            made = None  # entries made before this look-up, if it made none
            if entry is None:
                part = parts.get(frame)
                if part is None:
                    part = parts[frame] = tuple(k.identity(comm, tid, frame, trace, False) for k in loc_keys)
                before = len(entries)
                entry = known[frame] = self._entry(head + part, comm, tid, frame, trace, False, filtered, level, raw)
                made = before if len(entries) == before else -1
            if entry in seen:
                continue
            seen_add(entry)
            # _credit, inline (the hottest loop of a report with children)
            entry.period_acc += period
            entry.hits += count
            sid = None
            if ids is not None:  # (entries have trees: ids are made for them)
                sid = ids[i]
                got = pending_get((entry, sid))
                if got is None:
                    pending[(entry, sid)] = [entry, keys, frames, i, period, count]
                else:
                    got[4] += period
                    got[5] += count
            if every or not frame.has_sym:
                if unresolved is None:
                    unresolved = []
                unresolved.append((entry, i, frame, level, sid, len(entries) if made is None else made))
        return unresolved

    def _cumulative_lookups_by_identity(self, self_ident, comm, tid, trace, frames, filtered, level: str, raw,
                                        period, count, keys, ids, pending: dict, unresolved: list | None,
                                        every: bool) -> list | None:
        """``_cumulative_lookups`` with each frame's identity made in full (keys after the frame keys)."""
        seen = {self_ident}
        entries = self.entries
        for i, frame in enumerate(frames):
            if frame.mapped:
                level = frame.level
            ident = self.identity(comm, tid, frame, trace, False, raw)
            if ident in seen:
                continue
            seen.add(ident)
            made = len(entries)
            entry = self._entry(ident, comm, tid, frame, trace, False, filtered, level, raw)
            sid = ids[i] if ids is not None else None
            _credit(entry, False, period, count, i, sid, keys, frames, pending)
            if every or not frame.has_sym:
                if unresolved is None:
                    unresolved = []
                unresolved.append((entry, i, frame, level, sid, made if len(entries) == made else -1))
        return unresolved

    def _add_cumulative(self, self_ident, self_entry, comm, tid, trace, frames, keys, ids, period, count,
                        filtered, pending: dict, level: str, raw: bytes | None) -> None:
        """The cumulative entries of one chain (``iter_add_next_cumulative_entry``): created (or found)
        now, their chain suffix added to ``pending`` by (entry identity, suffix id). ``level`` follows
        perf's ``fill_callchain_info`` on the one addr_location it reuses: a frame with a map sets it,
        one without keeps the last (the sample's own at first). A frame's entry is first compared with the
        chain's entries so far (``he_cache``); those comparisons that reach the trace key compute the trace
        outputs of both."""
        seen = {self_ident}
        trace_at = self._trace_at
        cache = [(self_ident, self_entry)] if trace_at is not None else None
        at = self._loc_suffix
        if at is not None:
            head = self_ident[:at]  # the keys before the frame keys do not depend on the frame
            tail = self_ident[len(self._se_keys):]  # nor do the tracepoint-field keys
            parts = self._loc_parts
            loc_keys = self._se_keys[at:]
        for i, frame in enumerate(frames):
            if frame.mapped:
                level = frame.level
            if at is None:
                ident = self.identity(comm, tid, frame, trace, False, raw)
            else:
                part = parts.get(frame)
                if part is None:
                    part = parts[frame] = tuple(k.identity(comm, tid, frame, trace, False) for k in loc_keys)
                ident = head + part + tail
            marked = False
            if cache is not None:
                head_at = ident[:trace_at]
                for cid, centry in cache:
                    if cid[:trace_at] == head_at:
                        centry.trace_known = marked = True
                    if cid == ident:
                        break
            if ident in seen:
                continue
            seen.add(ident)
            entry = self._entry(ident, comm, tid, frame, trace, False, filtered, level, raw)
            if cache is not None:
                entry.trace_known = entry.trace_known or marked
                cache.append((ident, entry))
            entry.period_acc += period
            entry.hits += count
            if entry.callchain is not None:
                got = pending.get((ident, ids[i]))
                if got is None:
                    pending[(ident, ids[i])] = [entry, keys, frames, i, period, count]
                else:
                    got[4] += period
                    got[5] += count

    def _entry(self, ident, comm, tid, loc, trace, is_self, filtered, level=".", raw=None) -> HistEntry:
        entry = self.entries.get(ident)
        if entry is None:
            entry = self.entries[ident] = HistEntry(ident, comm, tid, loc, trace, is_self, tid, self.graphs,
                                                    filtered, level, raw)
        return entry

    # ---------------------------------------------------------------------------------------- output order

    def _collapsed_order(self) -> list[HistEntry]:
        """The order ``output_resort`` takes entries in: perf inserts them, as they were created, into
        ``entries_in`` and (when a key has a collapse function: comm) again into ``entries_collapsed``.
        When the comparator is a total order on these entries (report.order says when), that is their sort."""
        entries = list(self.entries.values())
        if self._in_order is not None and self._in_order[0] in (None, len(entries)) and \
                (self._in_order[0] is not None or len(self._in_order[1]) == len(entries)):
            return self._in_order[1]  # (what finish found, unless report.group added entries since)
        keys = exact_order.entry_keys(entries, self.keys)
        if keys is not None:
            self._mark_traces()
            return [entries[i] for i in sorted(range(len(entries)), key=keys.__getitem__)]
        cmps = entry_cmps(self.keys)
        goes_left = lambda new, old: _entry_cmp(new, old, cmps) < 0  # noqa: E731
        order = insertion_order(self.entries.values(), goes_left)
        if any(k.name == "comm" for k in self.keys):
            order = insertion_order(order, goes_left)
        return order

    def sorted_entries(self, show_callchain: bool, hidden=frozenset()) -> list[HistEntry]:
        """``hists__output_resort``: collapse order first (ties keep it), then perf's output comparator,
        which skips elided columns (``perf_hpp__should_skip``); then each tracepoint-field key sees every
        entry (``fmt->sort(fmt, he, NULL)``: its column width)."""
        if self._dyn_keys and self.trace_text is not None:
            for entry in self.entries.values():
                if entry.trace_output is None:
                    entry.trace_output = self.trace_text(entry.raw or b"")
        tracking = [key for key in self.keys if key.tracks_width]
        if tracking:
            for entry in self.entries.values():
                if entry.hits > 1:  # a sample that joins an entry compares every key with it
                    for key in tracking:
                        key.entry_cmp(entry, entry)
        if any(not k.raw_trace for k in self._dyn_keys):
            for entry in self.entries.values():  # update_dynamic_len computes every entry's trace output
                entry.trace_known = True
        collapsed = self._collapsed_order()
        fmts = [f for f in self.sort_list if f.kind != "sort" or f.name not in hidden]
        depth_rule = show_callchain and self.graphs
        cmp = partial(_output_cmp, fmts=fmts, children=self.children, depth_rule=depth_rule,
                                caller=self.caller_order)
        fast = exact_order.output_order(collapsed, fmts, children=self.children, depth_rule=depth_rule,
                                        caller=self.caller_order)
        if type(fast) is list:
            ordered = fast
        elif fast is not None:
            ordered = replay_ranked(collapsed, fast)
        elif not self.children and not any(f.tracks_width for f in fmts):
            # A total order, and no comparison with a side effect: a stable sort gives what the rb-tree gives.
            ordered = sorted(collapsed, key=cmp_to_key(lambda a, b: -cmp(a, b)))
        else:
            ordered = insertion_order(collapsed, lambda new, old: cmp(new, old) > 0)
        for key in self._dyn_keys:
            for entry in collapsed:
                key.seen(entry)
        return ordered


def _sequence_arrays(sequence) -> tuple:
    """(group number, period) per sample of ``sequence``: report.builder's _Sequence's arrays (4 + 8 bytes a
    sample), or lists from any other iterable of pairs."""
    if hasattr(sequence, "arrays"):
        return sequence.arrays()
    return [g for g, _ in sequence], [p for _, p in sequence]


def _mixed_nodes(root: CallchainRoot) -> set[int]:
    """callchain.rbreplay ``mixed_nodes``: perfdata/_speedups_report.c's mixed_nodes when built (its twin)."""
    if speedups is not None and hasattr(speedups, "mixed_nodes"):
        return speedups.mixed_nodes(root.node, rbreplay.MIX_ALL)
    return rbreplay.mixed_nodes(root)


def _findnew_replay(*args, entries: int = -1):
    """report.findnew's replay, its moves summed per (group, look-up, entry) (``findnew.aggregate_moves``):
    the C loop (perfdata/_speedups_report.c) when built, else its Python twin."""
    if speedups is not None and hasattr(speedups, "findnew_replay"):
        return speedups.findnew_replay(*args, entries, True)
    moves, ident, order, merged = findnew.replay(*args, None if entries < 0 else entries)
    return findnew.aggregate_moves(moves), ident, order, merged


def _other_dso_looks(records: list) -> list[tuple[int, int]]:
    """(record, look-up) of each listed look-up of an unresolved frame whose dso is not its entry's (the C
    twin: perfdata/_speedups_report.c other_dso_looks)."""
    return [(r, j) for r, rec in enumerate(records) if rec is not None for j, look in enumerate(rec[7])
            if not look[2].has_sym and not look[2].dso_name == look[0].loc.dso_name]


def _replay_looks(records: list, wraps, variant_of: dict | None) -> list:
    """Per record its look-ups of wrapping identities as report.findnew's replay takes them, (look-up,
    identity searched with, entries made before), or None (the C twin: _speedups_report.c replay_looks)."""
    if variant_of is not None:
        get = variant_of.get
        return [None if rec is None else
                [(j, get((look[0].slot, look[2].dso_name), look[0].slot), look[5])
                 for j, look in enumerate(rec[7]) if wraps[look[0].slot]] or None for rec in records]
    return [None if rec is None else [(j, look[0].slot, look[5]) for j, look in enumerate(rec[7])
                                      if wraps[look[0].slot]] or None for rec in records]


KEYS_BY_NAME = {name: key.identity for name, key in _KEYS.items()}  # (_fast_frames: sortkeys' own identities)

_DUPLICATE = object()  # self.entries' key of a second entry of one identity: (_DUPLICATE, identity, n)


def _credit(entry: HistEntry, is_self: bool, period: int, count: int, i: int, sid, keys, frames,
            pending: dict) -> None:
    """Samples found ``entry``: as their self entry or as a cumulative one; their chain from frame ``i``
    (suffix id ``sid``; None: no chain) appended later, once per entry and suffix."""
    entry.period_acc += period
    entry.hits += count
    if is_self:
        entry.period += period
        entry.nr_events += count
    if sid is not None and entry.callchain is not None:
        got = pending.get((entry, sid))
        if got is None:
            pending[(entry, sid)] = [entry, keys, frames, i, period, count]
        else:
            got[4] += period
            got[5] += count


def _debit(entry: HistEntry, is_self: bool, period: int, count: int, sid, pending: dict) -> None:
    """``_credit`` undone for samples that found another entry (report.findnew)."""
    entry.period_acc -= period
    entry.hits -= count
    if is_self:
        entry.period -= period
        entry.nr_events -= count
    if sid is not None and entry.callchain is not None:
        got = pending[(entry, sid)]
        got[4] -= period
        got[5] -= count
        if not got[5]:
            del pending[(entry, sid)]


def _merge(into: HistEntry, other: HistEntry) -> None:
    """``hists__collapse_insert_entry`` finding an equal entry: stats added, call graphs merged."""
    into.period += other.period
    into.nr_events += other.nr_events
    into.period_acc += other.period_acc
    into.hits += other.hits
    if into.callchain is not None and other.callchain is not None:
        into.callchain.merge(other.callchain)


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


def _default_sort_list(keys, children: bool) -> list:
    """perf's sort list without ``--sort``/``-F`` columns of its own: Children, Overhead, then the keys."""
    from pyperf_probe.report.layout import hpp_column
    return ([hpp_column("overhead_children")] if children else []) + [hpp_column("overhead")] + list(keys)


_GROUP_FIELDS = {"sample": "nr_events", "period": "period", "overhead": "period"}


def _output_cmp(a: HistEntry, b: HistEntry, *, fmts, children: bool, depth_rule: bool, caller: bool) -> int:
    """``hist_entry__sort``: > 0 when ``a`` prints before ``b``. The hpp columns compare descending
    (``__hpp__sort``; Children with the call-depth rule of ``__hpp__sort_acc``), the sort keys ascending
    (``se_sort``/``se_cmp``), the tracepoint-field keys by their own comparator."""
    for fmt in fmts:
        kind = fmt.kind
        if kind == "hpp":
            name = fmt.name
            if name == "overhead_children":
                if not children:
                    continue
                if a.period_acc != b.period_acc:
                    return 1 if a.period_acc > b.period_acc else -1
                if depth_rule and a.thread == b.thread:
                    diff = b.callchain.max_depth - a.callchain.max_depth
                    if diff:
                        return -diff if caller else diff
                continue
            field = _GROUP_FIELDS.get(name, "period")
            va, vb = getattr(a, field), getattr(b, field)
            if va != vb:
                return 1 if va > vb else -1
            if a.pairs is not None:     # __hpp__sort: a group's members break the tie, in order
                for pa, pb in zip(a.pairs, b.pairs):
                    va, vb = getattr(pa, field, 0), getattr(pb, field, 0)
                    if va != vb:
                        return 1 if va > vb else -1
        elif kind == "sort":
            if fmt.tracks_width and a.trace is not None and a.trace != "N/A":
                a.trace_known = True  # sort__trace_cmp(he, iter): he's output, before its width counts
            ka, kb = fmt.order(a), fmt.order(b)
            if ka != kb:
                return 1 if ka < kb else -1
        else:
            ret = fmt.sort_cmp(a, b)
            if ret:
                return ret
    return 0
