"""perf's ``entries_in`` tree replayed where its comparator is not a total order: unresolved addresses that
straddle 2^63 (tools/perf/util/hist.c ``hists__findnew_entry``, sort.c ``_sort__addr_cmp``), unresolved
entries of several dsos among resolved ones, and inlined and plain symbols of one class (``_sort__sym_cmp``
compares two symbols by name first, ``strcmp(old, new)``, when either is inlined, else by start: an inlined
symbol has its host's start, so plain ``a`` < plain ``b`` by start while inlined ``x`` sits between them by
name on one side and not the other; on the ex_spin DWARF file perf prints ``__GI___qsort_r`` as 32.72% +
0.09% for --sort dso,sym with caller-order chains).

perf finds a sample's entry by searching the rb-tree ``entries_in`` with ``hist_entry__cmp``; two unresolved
symbols compare by ``(int64_t)(right->ip - left->ip)``, which wraps when the addresses lie 2^63 or more apart
(a garbage frame pointer such as 0x8b48..., beside small addresses). The search can then miss an entry of
equal address and insert a second one: perf prints both, each with the samples that found it. Every other
comparison is a total order (report.order), so an entry outside such a class is always found (its search
compares consistently with every node, and the in-order walk stays sorted for it), and the classes sit as
blocks in the walk. So only the look-ups of identities of those classes are replayed, in sample order,
against the tree of every entry made so far.

``replay`` takes the identities' ranks (report.order ``EntryRanks``: ``block``, ``ip``, ``sub``, ``wraps``,
``unres``, ``dso``, ``inl``; a resolved identity's ``ip`` is its name's rank << 32 | its (start, name) rank;
identity ``k`` is made, as entry ``k``, by the k-th insertion), the samples in order (their groups and
periods) and each group's look-ups to replay: at a group's first sample those that made nothing (after the
entries made before them), at the others all of them (after the entries made by then: groups come in
first-sample order). It returns the look-ups that found or made another entry than their identity's first
(a second entry of an identity gets the next number from ``n``), each entry's identity, and the entries in
the tree's order; with ``collapse`` (comm is a key: ``hists__collapse_resort``) they are then inserted in
that order into a new tree where an equal entry merges into the one found (``merged``, else -1), and the
order is that tree's. The C loop (perfdata/_speedups.c ``findnew_replay``) does the same; this is its
Python twin.
"""
from __future__ import annotations

from pyperf_probe.report.rbtree import _Node, _fixup, _walk

_M64 = (1 << 64) - 1
_NEG = 1 << 63
_LOW = (1 << 32) - 1


class Tree:
    """An rb-tree of entries (numbers) ordered by their identities' ranks."""

    def __init__(self, block, ip, sub, wraps, unres, dso, inl):
        self.block, self.ip, self.sub, self.wraps, self.unres, self.dso = block, ip, sub, wraps, unres, dso
        self.inl = inl
        self.root = None

    def lookup(self, x: int, entry: int) -> int:
        """The entry ``hist_entry__cmp`` finds equal to identity ``x``, else ``entry``, inserted where the
        search ended (-1 then)."""
        block, ip, sub, node_ident, unres, dso = self.block, self.ip, self.sub, self.node_ident, self.unres, self.dso
        inl = self.inl
        bx, ipx, sx, wraps, ux, dx, ix = block[x], ip[x], sub[x], self.wraps[x], unres[x], dso[x], inl[x]
        parent, cur, left = None, self.root, False
        while cur is not None:
            y = node_ident[cur.item]
            by = block[y]
            if bx != by:
                left = bx < by
            elif not wraps:
                return cur.item
            else:  # sort__sym_cmp, then the keys after sym
                if ux and unres[y]:
                    d = (ipx - ip[y]) & _M64
                    order = 0 if not d else -1 if d >= _NEG else 1
                elif dx != dso[y]:
                    order = -1 if dx < dso[y] else 1
                elif ux != unres[y]:
                    order = 1 if ux else -1
                else:  # two resolved symbols: by name (strcmp(old, new)) if one is inlined, then by start
                    ipy = ip[y]
                    order = 0
                    if ix or inl[y]:
                        nx, ny = ipx >> 32, ipy >> 32
                        order = (ny > nx) - (ny < nx)
                    if not order:
                        lx, ly = ipx & _LOW, ipy & _LOW
                        order = (lx > ly) - (lx < ly)
                if not order:
                    order = (sx > sub[y]) - (sx < sub[y])
                if not order:
                    return cur.item
                left = order < 0
            parent = cur
            cur = cur.left if left else cur.right
        node = _Node(entry, parent)
        if parent is None:
            self.root = node
        elif left:
            parent.left = node
        else:
            parent.right = node
        self.root = _fixup(self.root, node)
        return -1

    def walk(self) -> list[int]:
        return _walk(self.root)


def replay(block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after, collapse: bool,
           entries: int | None = None):
    """(moves, ident, order, merged): see the module docstring; ``groups``/``periods``/``counts`` (None: 1
    each) per sample, ``looks`` per group (None, or (look, identity, entries made before it at the group's
    first sample or -1 if it made that identity's first entry)), ``made_after`` per group (entries made once
    its first sample is done). ``moves``: (group, look, entry, period, count) per look-up that found or made
    another entry than its identity's first. ``entries``: how many of the identities are made as entries
    (the first ``entries``; None: all); the others are only searched with (a look-up of another dso than its
    entry's, report.hist ``_dso_variants``) and make an entry only where their search finds none."""
    n = len(block) if entries is None else entries
    ident = list(range(n))
    tree = Tree(block, ip, sub, wraps, unres, dso, inl)
    tree.node_ident = ident
    moves = []
    done = bytearray(len(looks))
    k, top = 0, -1
    for s, r in enumerate(groups):
        if r > top:
            top = r
        group_looks = looks[r]
        if group_looks is None:
            continue
        first = not done[r]
        done[r] = 1
        for j, x, before in group_looks:
            if first:
                if before < 0:
                    continue
                made = before
            else:
                made = made_after[top]
            while k < made:
                tree.lookup(k, k)
                k += 1
            got = tree.lookup(x, len(ident))
            if got < 0:
                got = len(ident)
                ident.append(x)
            if got >= n:
                moves.append((r, j, got, periods[s], 1 if counts is None else counts[s]))
    while k < n:
        tree.lookup(k, k)
        k += 1
    order = tree.walk()
    merged = [-1] * len(ident)
    if collapse:
        second = Tree(block, ip, sub, wraps, unres, dso, inl)
        second.node_ident = ident
        for entry in order:
            got = second.lookup(ident[entry], entry)
            if got >= 0:
                merged[entry] = got
        order = second.walk()
    return moves, ident, order, merged


def aggregate_moves(moves: list) -> list:
    """``replay``'s moves summed per (group, look-up, entry), in the order of each one's first move (the C
    replay's ``aggregate`` answer)."""
    shares: dict[tuple, list] = {}
    for r, j, got, period, count in moves:
        share = shares.get((r, j, got))
        if share is None:
            shares[(r, j, got)] = [period, count]
        else:
            share[0] += period
            share[1] += count
    return [(r, j, got, period, count) for (r, j, got), (period, count) in shares.items()]
