"""Sort keys computed once per entry that give, on a given set of entries, exactly the order perf's rb-trees give.

perf orders report entries by inserting them one by one into rb-trees (``entries_in``, ``entries_collapsed``,
then the output tree: report.rbtree replays that). A binary search tree whose ties go right lists its items,
in order, as a *stable sort* of the insertion order whenever the comparator is a total preorder on the items
inserted. perf's comparators are not total preorders in general, but they are on most sets of entries; this
module builds, per entry, a tuple whose plain comparison equals the comparator's sign on *this* set, after
checking what makes that true, and answers None when it cannot prove it (the caller then replays the trees).

* ``hist_entry__cmp`` (report.sortkeys ``ENTRY_CMP``): ``comm`` (strcmp), ``pid`` (tid), ``dso`` (an entry
  without a dso after those with one) are total orders. ``sym`` is not: two unresolved entries compare by
  ``(int64_t)(r - l)`` of their addresses, consistent only among addresses that lie within a window narrower
  than 2^63; an unresolved and a resolved entry compare by dso first (then the unresolved one goes after),
  which is consistent only if, among the entries sym compares (those equal on the keys before it), the
  unresolved ones share one dso or none is resolved; two resolved entries of one of which is inlined compare
  by name first, the others by start first (starts of one dso lie within a window narrower than 2^63).
  Comparing equal must also mean the same identity (``Hists`` merges by identity, perf by comparison).
* ``hist_entry__sort`` (``_output_cmp``): the hpp columns and the sort keys' ``se_sort`` are total orders;
  Children's call-depth rule orders two entries of equal Children by depth only when they are of the same
  thread, which is a total preorder within a tie group of one thread (or of one depth).

``output_ranks`` gives, where the depth rule makes the comparator intransitive, the integers an exact replay
compares (``rbtree.replay_ranked``) instead of Python comparator calls.
"""
from __future__ import annotations

_WINDOW = 1 << 63
_EXACT_KEYS = ("comm", "pid", "dso", "sym")


def _dso_key(loc) -> tuple:
    name = loc.dso_name
    return (True, "") if name is None else (False, name)


def _dso_key_of(dsos: set) -> tuple:
    (name,) = dsos
    return (True, "") if name is None else (False, name)


def _unresolved_ip(entry) -> int:
    loc = entry.loc
    return loc.rip if entry.is_self else loc.avma


def entry_keys(entries: list, keys) -> list[tuple] | None:
    """Per entry (in the list's order) a tuple ordered as ``hist_entry__cmp`` orders the entries, comparing
    equal only for equal identities; None if these entries' comparisons are not a total order."""
    got = _entry_columns(entries, keys)
    if got is None or got[1]:
        return None
    cols = got[0]
    return list(zip(*cols)) if cols else [()] * len(entries)


class EntryRanks:
    """``hist_entry__cmp`` as integers, for an exact replay of perf's ``entries_in`` tree where it is not a
    total order (report.findnew): per entry its ``block`` (ascending). The entries of a class that needs
    sym's own comparison (``wraps``: unresolved addresses that straddle 2^63, or unresolved entries of several
    dsos among resolved ones) share one block, and compare as ``sort__sym_cmp`` does: two unresolved ones
    (``unres``) by ``ip`` as ``(int64_t)(new - old)``; else by ``dso`` (rank), an unresolved one after a
    resolved one, two resolved ones by name (``ip``'s high half, descending: ``strcmp(old, new)``) if one of
    them is inlined (``inl``), then by (start, name) (``ip``'s low half); then by ``sub`` (the keys after
    sym). A class where inlined and plain symbols meet (in one dso, or where dso is a sort key in the class)
    is such a class too. ``resolved_replayed``: some resolved entries are among those (their look-ups are
    replayed too)."""

    __slots__ = ("block", "ip", "sub", "wraps", "unres", "dso", "inl", "resolved_replayed")

    def __init__(self, block, ip, sub, wraps, unres, dso, inl):
        self.block, self.ip, self.sub, self.wraps = block, ip, sub, wraps
        self.unres, self.dso, self.inl = unres, dso, inl
        self.resolved_replayed = any(w and not u for w, u in zip(wraps, unres))


def entry_order(entries: list, keys, trace_after: bool = False):
    """``entry_keys`` when the comparisons are a total order on ``entries``; ``EntryRanks`` when they are but
    for classes of straddling addresses; None otherwise. ``trace_after``: the caller marks the trace outputs
    perf computes where trace follows other keys (``trace_marks``); without it such keys answer None."""
    got = _entry_columns(entries, keys, trace_after)
    if got is None:
        return None
    cols, straddling, at = got
    if not straddling:
        return list(zip(*cols)) if cols else [()] * len(entries)
    return _ranks(entries, cols, at)


def entry_ranks(entries: list, keys) -> EntryRanks | None:
    """None when the comparisons are a total order on ``entries`` (``entry_keys`` answers) or are not one for
    another reason than straddling addresses; else the ranks of an exact replay."""
    got = entry_order(entries, keys)
    return got if type(got) is EntryRanks else None


def _ranks(entries: list, cols: list, at: int) -> EntryRanks:
    n = len(entries)
    wraps = [False] * n
    heads: list = [None] * n
    rows = list(zip(*cols))
    for i, row in enumerate(rows):
        if type(row[at]) is _Wraps:
            wraps[i] = True
            heads[i] = row[:at] + (row[at].key,)  # (one block per class: its cells' common key)
        else:
            heads[i] = row
    # a straddling class's block sorts where its unresolved entries would (after the class's resolved ones)
    block_order = {h: r for r, h in enumerate(sorted(set(heads)))}
    block = [block_order[h] for h in heads]
    tails = [row[at + 1:] for row in rows]
    sub_order = {t: r for r, t in enumerate(sorted(set(tails)))}
    sub = [sub_order[t] for t in tails]
    cells = [row[at] if w else None for row, w in zip(rows, wraps)]
    unres = [c is not None and c.unres for c in cells]
    dso_order = {d: r for r, d in enumerate(sorted({c.dso for c in cells if c is not None}))}
    details = [c.detail for c, u in zip(cells, unres) if c is not None and not u]
    # a resolved symbol's ip: its name's rank (high half) and its (start, name) rank (low half)
    sym_order = {d: r for r, d in enumerate(sorted({d[:2] for d in details}))}
    name_order = {d: r for r, d in enumerate(sorted({d[1] for d in details}))}
    dso = [0 if c is None else dso_order[c.dso] for c in cells]
    ip = [0 if c is None else c.detail if u else (name_order[c.detail[1]] << 32) | sym_order[c.detail[:2]]
          for c, u in zip(cells, unres)]
    inl = [c is not None and not u and c.detail[2] for c, u in zip(cells, unres)]
    return EntryRanks(block, ip, sub, wraps, unres, dso, inl)


class _Wraps:
    """The sym cell of an entry whose class is replayed: ``key`` places the class's block among the other
    entries of its prefix (a straddling class of unresolved entries among resolved ones: by dso, then after
    them; a whole class: nothing to place), ``unres``, ``dso`` (its key) and ``detail`` (the address, or the
    resolved symbol's order within its dso) as ``sort__sym_cmp`` compares them."""

    __slots__ = ("key", "unres", "dso", "detail")

    def __init__(self, key: tuple, unres: bool, dso: tuple, detail):
        self.key, self.unres, self.dso, self.detail = key, unres, dso, detail

    def __repr__(self) -> str:
        return f"<wraps {self.key} {self.unres} {self.dso} {self.detail}>"


def _entry_columns(entries: list, keys, trace_after: bool = False):
    """The key columns (one list per key), whether a class straddles (its sym cells then ``_Wraps``) and
    sym's index; None when the comparisons are not a total order for another reason."""
    names = [k.name if k.kind == "sort" else None for k in keys]
    if any(n not in _EXACT_KEYS and (n != "trace" or (i and not trace_after)) for i, n in enumerate(names)):
        # trace after another key (which of its comparisons happen marks outputs computed), tracepoint
        # fields: replayed
        return None
    cols: list[list] = []
    straddling, at = False, None
    for i, name in enumerate(names):
        if name == "trace":  # sort__trace_cmp, strcmp of the outputs (trace_column; after other keys: trace_marks)
            col = trace_column(entries)
            if col is None:
                return None
            cols.append(col)
        elif name == "comm":
            cols.append([e.comm for e in entries])
        elif name == "pid":
            cols.append([e.tid for e in entries])
        elif name == "dso":
            cols.append([_dso_key(e.loc) for e in entries])
        else:
            prefixes = list(zip(*cols)) if cols else [()] * len(entries)
            got = _sym_column(entries, prefixes) if "dso" not in names else _sym_column_dso_key(entries, prefixes)
            if got is None:
                return None
            col, straddling = got
            at = i
            cols.append(col)
    return cols, straddling, at


def trace_column(entries: list) -> list | None:
    """``sort__trace_cmp`` as a column: strcmp of the trace outputs (Python's str order is UTF-8's byte
    order), all equal for an event that is not a tracepoint (no output: it answers 0). None when outputs and
    no outputs meet (the comparison then depends on which entry is the new one). Where trace is the first
    key every comparison computes both outputs (``trace_known``): with two entries or more, every entry's
    is computed by its insertion or the next one's (Hists marks them)."""
    col = [e.trace for e in entries]
    missing = sum(1 for t in col if t is None or t == "N/A")
    if not missing:
        return col
    return [""] * len(col) if missing == len(col) else None


def trace_marks(entries: list, at: int) -> list[bool]:
    """Where trace follows ``at`` other keys: per entry whether perf's ``entries_in`` computed its trace
    output (``sort__trace_cmp`` computes both entries' when the keys before it tie). Inserting an entry
    compares it with its in-order neighbours (both lie on a binary search tree's search path), so with a
    comparator that is a total order every entry whose keys before trace equal another entry's has its
    output computed: the first of them by the second's insertion, the others by their own; as has an entry
    a later sample found (every key compared: ``Hists.sorted_entries`` marks those). Where the comparator
    is not a total order (``EntryRanks``: perf's search may miss an entry of equal keys) this is the same rule,
    not a replay of the comparisons perf made."""
    sizes: dict = {}
    heads = [e.ident[:at] for e in entries]
    for head in heads:
        sizes[head] = sizes.get(head, 0) + 1
    return [sizes[head] > 1 or e.hits > 1 for e, head in zip(entries, heads)]


def cache_marks(groups, keys, at: int, caller_order: bool) -> set:
    """Where trace follows ``at`` other keys, with --children: the identities of the entries whose trace
    output the ``he_cache`` comparisons of perf's cumulative look-ups computed (``iter_add_next_cumulative_entry``
    compares each frame's entry, before looking it up, with the chain's entries made so far, the sample's own
    first, ``hist_entry__cmp(he_cache[i], &he_tmp)``, until one is equal: each comparison that ties on the keys
    before trace computes ``he_cache[i]``'s output; ``he_tmp``'s is the frame's own, thrown away). ``groups``:
    Hists' groups, ((identity, ...), [.., tid, comm, loc, chain, trace, ..]) each; a frame's identity is its
    group's but for the frame keys' (dso, sym: those of a callchain entry, ``is_self`` False)."""
    marked: set = set()
    frame_at = [i for i, k in enumerate(keys) if k.frame_dependent]
    names = [k.name for k in keys]
    # where dso is a key, sort__sym_cmp compares no dsos: symbols of one start and name in two dsos tie on sym
    sym_at = names.index("sym") if "sym" in names[:at] and "dso" in names else None
    identities = [keys[i].identity for i in frame_at]
    parts: dict = {}  # frame -> its frame keys' values
    for gkey, group in groups:
        chain = group[5]
        if not chain:
            continue
        ident, tid, comm, trace = gkey[0], group[2], group[3], group[6]
        cache = {_tie_key(ident, at, sym_at): [ident]}  # the chain's entries so far, by their keys before trace
        for frame in (reversed(chain) if caller_order else chain):
            if frame_at:
                part = parts.get(frame)
                if part is None:
                    part = parts[frame] = [identity(comm, tid, frame, trace, False) for identity in identities]
                fid = list(ident)
                for i, value in zip(frame_at, part):
                    fid[i] = value
                fid = tuple(fid)
            else:
                fid = ident
            head = _tie_key(fid, at, sym_at)
            tied = cache.get(head)
            if tied is None:
                cache[head] = [fid]
                continue
            for cid in tied:  # (the others compare unequal before trace: nothing computed)
                marked.add(cid)
                if cid == fid:
                    break
            else:
                tied.append(fid)
    return marked


def _tie_key(ident: tuple, at: int, sym_at: int | None) -> tuple:
    """The values of the keys before trace as ``hist_entry__cmp`` ties them: a resolved symbol's without its
    dso where ``sym_at`` says dso is a key (``sym_identity``'s kind, dso, then start and name)."""
    head = ident[:at]
    if sym_at is None or head[sym_at][0] == "a":
        return head
    sym = head[sym_at]
    return head[:sym_at] + ((sym[0],) + sym[2:],) + head[sym_at + 1:]


def _sym_column(entries: list, prefixes: list):
    """``sort__sym_cmp`` as one tuple per entry, if it is a total order on the entries of each prefix (the
    values of the keys before sym: only entries equal on those reach it), but for the unresolved entries of
    a class whose addresses straddle 2^63 and every entry of a class with unresolved entries of several dsos
    among resolved ones, or with inlined and plain symbols of one dso (``_Wraps``: replayed); and whether
    there are such. None when the resolved entries of a dso have starts 2^63 apart."""
    classes: dict[tuple, list] = {}  # prefix -> [min ip, max ip, unresolved dsos, any resolved]
    spans: dict[tuple, list] = {}    # (prefix, dso) -> [min start, max start, inlined seen, plain seen]
    for entry, prefix in zip(entries, prefixes):
        loc = entry.loc
        cls = classes.get(prefix)
        if cls is None:
            cls = classes[prefix] = [None, None, set(), False]
        if not loc.has_sym:
            ip = _unresolved_ip(entry)
            if cls[0] is None or ip < cls[0]:
                cls[0] = ip
            if cls[1] is None or ip > cls[1]:
                cls[1] = ip
            cls[2].add(loc.dso_name)
            continue
        cls[3] = True
        span = spans.get((prefix, loc.dso_name))
        if span is None:
            span = spans[(prefix, loc.dso_name)] = [loc.sym_start, loc.sym_start, False, False]
        span[0] = min(span[0], loc.sym_start)
        span[1] = max(span[1], loc.sym_start)
        span[2 if loc.inlined else 3] = True
    wrapping: dict[tuple, tuple] = {}  # prefix -> the key that places its replayed block
    for prefix, (low, high, dsos, resolved) in classes.items():
        if resolved and len(dsos) > 1:
            # unresolved entries of several dsos placed among resolved ones by dso: not a total order, the
            # whole class replayed
            wrapping[prefix] = ()
        elif low is not None and high - low >= _WINDOW:
            # (int64_t)(r - l) wraps between some of these addresses: its unresolved entries replayed
            wrapping[prefix] = (_dso_key_of(dsos), 1) if resolved else ()
    for (prefix, _), (low, high, inlined, plain) in spans.items():
        if high - low >= _WINDOW:
            return None
        if inlined and plain:
            # an inlined symbol compares by name first, two plain ones by start: not a total order, the
            # whole class replayed
            wrapping[prefix] = ()
    descending = _descending(entries)
    col = []
    for entry, prefix in zip(entries, prefixes):
        loc = entry.loc
        if not loc.has_sym:
            cell = (_unresolved_ip(entry),)
        elif loc.inlined:  # names compared as strcmp(old, new): descending
            cell = (_dso_key(loc), 0, descending[loc.name], loc.sym_start)
        else:
            cell = (_dso_key(loc), 0, loc.sym_start, loc.name)
        place = wrapping.get(prefix)
        if place is not None and (not loc.has_sym or place == ()):
            # (a symbol's detail tagged by kind: only symbols of one kind meet within a class's dso)
            col.append(_Wraps(place, not loc.has_sym, _dso_key(loc),
                              cell[0] if not loc.has_sym else (loc.sym_start, loc.name, loc.inlined)))
        elif not loc.has_sym and classes[prefix][3]:
            col.append((_dso_key(loc), 1, cell[0]))
        else:
            col.append(cell)
    return col, bool(wrapping)


def _descending(entries: list) -> dict:
    """Inlined symbols' names as integers in descending name order (``_sort__sym_cmp`` compares them as
    ``strcmp(sym_l->name, sym_r->name)``, the old entry's first: the greater name goes left)."""
    names = sorted({e.loc.name for e in entries if e.loc.has_sym and e.loc.inlined})
    return {name: -i for i, name in enumerate(names)}


def _sym_column_dso_key(entries: list, prefixes: list):
    """``_sym_column`` where dso is a sort key: ``sort__sym_cmp`` then compares no dsos (an unresolved entry
    after a resolved one, two resolved ones by start: a total order if their starts lie within a window
    narrower than 2^63 and no inlined and plain symbols meet), only straddling unresolved addresses and
    classes where inlined and plain symbols meet (replayed whole, no dso compared)."""
    classes: dict[tuple, list] = {}  # prefix -> [min ip, max ip, min start, max start, inlined, plain]
    for entry, prefix in zip(entries, prefixes):
        loc = entry.loc
        cls = classes.get(prefix)
        if cls is None:
            cls = classes[prefix] = [None, None, None, None, False, False]
        if not loc.has_sym:
            ip = _unresolved_ip(entry)
            cls[0] = ip if cls[0] is None else min(cls[0], ip)
            cls[1] = ip if cls[1] is None else max(cls[1], ip)
            continue
        start = loc.sym_start
        cls[2] = start if cls[2] is None else min(cls[2], start)
        cls[3] = start if cls[3] is None else max(cls[3], start)
        cls[4 if loc.inlined else 5] = True
    wrapping: dict[tuple, tuple] = {}
    for prefix, (low, high, first, last, inlined, plain) in classes.items():
        if first is not None and last - first >= _WINDOW:
            return None
        if inlined and plain:
            wrapping[prefix] = ()  # inlined and plain symbols: the whole class replayed
        elif low is not None and high - low >= _WINDOW:
            wrapping[prefix] = (1,) if first is not None else ()
    descending = _descending(entries)
    col = []
    for entry, prefix in zip(entries, prefixes):
        loc = entry.loc
        place = wrapping.get(prefix)
        if loc.has_sym:
            if place == ():
                # (no dso: sort__sym_cmp compares none where dso is a sort key)
                col.append(_Wraps(place, False, (False, ""), (loc.sym_start, loc.name, loc.inlined)))
            else:
                col.append((0, descending[loc.name], loc.sym_start) if loc.inlined else (0, loc.sym_start, loc.name))
            continue
        ip = _unresolved_ip(entry)
        if place is not None:
            col.append(_Wraps(place, True, (False, ""), ip))
        else:
            col.append((1, ip) if classes[prefix][2] is not None else (ip,))
    return col, bool(wrapping)


_GROUP_FIELDS = {"sample": "nr_events", "period": "period", "overhead": "period"}


class OutputRanks:
    """The output comparator as integers, for a replay: ``group`` (ascending: prints first), then, between two
    entries of the same ``thread`` whose ``depth`` differs, the depth (``depth_sign`` * depth ascending), then
    ``rest`` ascending."""

    __slots__ = ("group", "thread", "depth", "rest", "depth_sign")

    def __init__(self, group, thread, depth, rest, depth_sign):
        self.group, self.thread, self.depth, self.rest, self.depth_sign = group, thread, depth, rest, depth_sign


def output_order(entries: list, fmts, *, children: bool, depth_rule: bool, caller: bool):
    """``hist_entry__sort`` over ``entries`` (the collapsed order): the sorted list when its comparisons are
    a total preorder on them, else ``OutputRanks`` for an exact replay, else None (a fmt this module does
    not know: the caller replays with ``_output_cmp``)."""
    before: list[list] = []  # the components up to Children (or all, without the depth rule)
    after: list[list] = []
    depth_at = None
    for fmt in fmts:
        kind = fmt.kind
        if kind == "hpp":
            name = fmt.name
            if name == "overhead_children":
                if not children:
                    continue
                (after if depth_at is not None else before).append([-e.period_acc for e in entries])
                if depth_rule and depth_at is None:
                    depth_at = len(before)
                continue
            field = _GROUP_FIELDS.get(name, "period")
            col = _hpp_column(entries, field)
            if col is None:
                return None
            (after if depth_at is not None else before).append(col)
        elif kind == "sort" and (not fmt.tracks_width or width_decided(entries)):
            # (trace: a comparison marks the new entry's output computed, which changes nothing once every
            # entry's is, report.hist marks them all where trace is the first key, or once the longest is)
            order = fmt.order
            (after if depth_at is not None else before).append([order(e) for e in entries])
        else:
            return None  # trace (a comparison marks its output computed), tracepoint fields
    if depth_at is None:
        keys = list(zip(*before)) if before else [()] * len(entries)
        return [entries[i] for i in sorted(range(len(entries)), key=keys.__getitem__)]
    heads = list(zip(*before))
    rests = list(zip(*after)) if after else [()] * len(entries)
    sign = -1 if caller else 1
    depths = [e.callchain.max_depth for e in entries]
    threads = [e.thread for e in entries]
    ties: dict[tuple, list[int]] = {}
    for i, head in enumerate(heads):
        ties.setdefault(head, []).append(i)
    dpart = [0] * len(entries)
    consistent = True
    for members in ties.values():
        if len(members) == 1:
            continue
        first = threads[members[0]]
        if all(threads[i] == first for i in members):
            for i in members:
                dpart[i] = sign * depths[i]
        elif any(depths[i] != depths[members[0]] for i in members):
            consistent = False
            break
    if consistent:
        keys = [(h, d, r) for h, d, r in zip(heads, dpart, rests)]
        return [entries[i] for i in sorted(range(len(entries)), key=keys.__getitem__)]
    return OutputRanks(_dense_ranks(heads), threads, [sign * d for d in depths], _dense_ranks(rests), sign)


def width_decided(entries: list) -> bool:
    """Whether the Trace output column's width is what it will be whatever the output sort's comparisons
    compute (``sort__trace_cmp`` marks outputs computed, and only those widen the column:
    sortkeys._trace_width): every output of the entries that print (not filtered) is computed, or one as long
    as the longest is. Then only the order is left, and the sort gives it."""
    known = longest = 0
    for entry in entries:
        trace = entry.trace
        if trace is None or trace == "N/A" or entry.filtered:
            continue
        size = len(trace)
        if size > longest:
            longest = size
        if size > known and entry.trace_known:
            known = size
    return known >= longest


def _hpp_column(entries: list, field: str) -> list | None:
    """``__hpp__sort``: the field descending, then (a group's leaders) the members' fields in turn."""
    values = [-getattr(e, field) for e in entries]
    pairs = [e.pairs for e in entries]
    if all(p is None for p in pairs):
        return values
    if any(p is None for p in pairs) or len({len(p) for p in pairs}) != 1:
        return None  # zip() over lists of different lengths: not a tuple comparison
    return [(v, tuple(-getattr(m, field, 0) for m in p)) for v, p in zip(values, pairs)]


def _dense_ranks(values: list) -> list[int]:
    """Each value's rank among the distinct values (equal values, equal ranks)."""
    ranks = {v: r for r, v in enumerate(sorted(set(values)))}
    return [ranks[v] for v in values]
