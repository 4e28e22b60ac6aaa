"""A call-graph tree replayed as perf builds it, sample by sample, where its children search can miss.

perf keeps each node's children in an rb-tree (tools/perf/util/callchain.c ``append_chain_children``:
``while (*p) { ret = append_chain(rnode, cursor, period); if (ret == MATCH_EQ) ...; p = ret == MATCH_LT ?
&parent->rb_left : &parent->rb_right; }``, then ``add_child`` and ``rb_insert_color``), searched with
``match_chain``. With ``CCKEY_FUNCTION`` that compares two frames by name when either is inlined
(``match_chain_strings``), two resolved plain ones by (dso, symbol start) and otherwise by (dso, address)
(``match_chain_dso_addresses``): not a total order when a node's children mix inlined, plain and unresolved
frames. The search can then miss an equal child and add a second one (perf prints both), and an inlined
``x`` matches a plain ``x`` by name. callchain.tree's dict of children by key never does either, so an
entry whose tree has such a node is built again here from its samples in perf's order (``replay``).

``split_add_child`` moves a node's whole children rb-tree to the new tail node (``create_child`` with
``inherit_children``), which becomes the only node of the parent's tree; the new branch is then linked to its
left if ``match_chain(new, tail) == MATCH_LT``, else to its right. The rebalancing is lib/rbtree.c's
(report.rbtree ``_fixup``), so every search walks the path it walks in perf.

The loops run in C when perfdata/_speedups_report.c is built (``rb_replay``, ``rb_replay_groups``; their
twins here are ``py_replay`` and ``py_replay_groups``, compared on random trees by
tests/test_callchain_rbreplay_c.py).
"""
from __future__ import annotations

import sys

from pyperf_probe.callchain.tree import CallchainRoot, Node, compare_frames
from pyperf_probe.report.rbtree import _Node, _fixup, _walk

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterable


def _cmp():
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "frame_cmp", None) if speedups is not None else None


def _c_replay(name: str = "rb_replay"):
    """perfdata/_speedups_report.c's ``rb_replay`` (or ``name``; None when not built or PYPERF_PURE_PYTHON is
    set)."""
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, name, None) if speedups is not None else None


_CMP = _cmp() or compare_frames
_C_REPLAY = _c_replay()  # (tests set it to None: the Python loops, ``py_replay``/``py_replay_groups``, twins)
_C_GROUPS = _c_replay("rb_replay_groups")  # (used while _C_REPLAY is set)
_C_PLAN = _c_replay("replay_plan")  # (used while _C_REPLAY is set)
ENABLED = True  # (tests turn it off: the trees by key)
# With children, every cumulative entry's tree replayed too (each sample appends its chain's suffixes to
# ~depth entries): on the bench's dwarf.data (35K samples) the default report goes from 0.33 to 1.4 s, and
# no text there or in tests/golden/rbreplay changes with it yet (the comm,dso,sym callee sets differ from
# perf in entry order only), so it is off until it is fast (report.hist ``_replay_trees``).
CHILDREN = False
MIX_ALL = False  # (tests: every node with children of several classes taken as mixed)


class RNode(Node):
    """A node whose children are in perf's ``rb_root_in`` (``rb``: the root rb node, items the children);
    once replayed, ``children`` holds them in that tree's order (numbered keys: equal frames may repeat)."""

    __slots__ = ("rb", "bykey", "cls")

    def __init__(self, parent, val: list, keys: list):
        Node.__init__(self, parent, val, keys)
        self.rb = None
        # while every child's first frame is of one class (``cls``: its key's tag), match_chain is a total
        # order among them and a frame of that class finds its equal by key (``bykey``); None once mixed
        self.bykey: dict | None = {}
        self.cls = None

    def ordered_children(self) -> list[Node]:
        return list(self.children.values())


def _class(frame) -> int:
    return (2 if frame.inlined else 1) if frame.has_sym else 0


def mixed_nodes(root: CallchainRoot) -> set[int]:
    """The nodes (ids) whose children (by their first frames) mix inlined, plain and unresolved frames: the
    classes between which ``match_chain`` is not a total order. Below other nodes the tree by key is what
    perf builds (every search finds the equal child). (An inlined ``x`` beside a plain ``x`` that perf would
    have matched into one run shows up here too: pyperf splits them into siblings.)"""
    found = set()
    stack = [root.node]
    while stack:
        node = stack.pop()
        children = node.children
        if len(children) > 1:
            if MIX_ALL:
                if len({key[0] for key in children}) > 1:
                    found.add(id(node))
            elif _mixed(children):
                found.add(id(node))
        stack.extend(children.values())
    return found


def _mixed(children: dict) -> bool:
    """Whether match_chain is not a total order among these children (keys: frame_key): an inlined frame
    (by name with plain ones, by dso and address with unresolved ones) beside any other, or a plain and an
    unresolved frame of one dso (by symbol start between plain ones, by address otherwise; frames of
    different dsos are ordered by their dso first either way)."""
    plain = unres = None
    inlined = other = False
    for key in children:
        tag = key[0]
        if tag == "i":
            inlined = True
            continue
        other = True
        if tag == "s":
            if plain is None:
                plain = set()
            plain.add(key[1])
        else:
            if unres is None:
                unres = set()
            unres.add(key[1])
    if inlined:
        return other
    return plain is not None and unres is not None and not plain.isdisjoint(unres)


def needs_replay(root: CallchainRoot) -> bool:
    """Whether some node of the tree by key is mixed (``mixed_nodes``)."""
    return bool(mixed_nodes(root))


def touches(root: CallchainRoot, mixed: set[int], keys) -> bool:
    """Whether appending ``keys`` (a chain of the tree by key ``root``) searches the children of a mixed
    node. A chain that does not is order-free: it meets only nodes whose searches are exact, and no chain
    that does search a mixed node goes below the nodes it makes or finds, so it may be appended at once with
    its samples' summed period and count."""
    node, pos, n = root.node, 0, len(keys)
    while pos < n:
        if id(node) in mixed:
            return True
        child = node.children.get(keys[pos])
        if child is None:  # (not a chain of this tree)
            return True
        pos += len(child.keys)
        node = child
    return False


def replay_plan(kept: list, entries: dict, records: list | None, todo: dict, roots: list, mixed: list,
                caller: bool):
    """report.hist ``_replay_trees``'s inputs for ``replay_groups``: (fixed, per_group), or None when some group
    has no listed look-ups in ``records``. ``kept``: the hists' (group key, group) items (group[0] its period,
    [1] its count, [5] its chain, leaf first); each group's look-ups are its self entry (``entries[key[0]]``,
    from frame 0) when ``records`` is None, else (look[0], max(look[1], 0)) of each look of ``records[g][7]``.
    ``todo``: entry -> its number e among the replayed; ``roots[e]``: its tree by key's root node, ``mixed[e]``
    the ids of that tree's mixed nodes. A look-up of a replayed entry appends the chain from its frame (in
    print order: reversed with ``caller``): at once, with the group's period and count, to ``fixed[e]`` when
    it ``touches`` no mixed node, else per sample, as (e, keys, frames) in ``per_group[g]``. The lists of a
    chain from frame 0 are the chain's own (one object per group). perfdata/_speedups_report.c replay_plan
    when built (this is its twin)."""
    c_plan = _C_PLAN if _C_REPLAY is not None else None
    if c_plan is not None:
        return c_plan(kept, entries, records, todo, roots, mixed, caller)
    return py_replay_plan(kept, entries, records, todo, roots, mixed, caller)


def py_replay_plan(kept: list, entries: dict, records: list | None, todo: dict, roots: list, mixed: list,
                   caller: bool):
    """``replay_plan`` in Python."""
    fixed: list[list] = [[] for _ in roots]
    per_group: list = []
    todo_get = todo.get
    for g, (gkey, group) in enumerate(kept):
        if records is None:
            looks = ((entries.get(gkey[0]), 0),)
        else:
            rec = records[g]
            if rec is None:  # (not listed: cannot happen when every look-up is)
                return None
            looks = [(look[0], max(look[1], 0)) for look in rec[7]]
        frames = keys = None
        these = []
        for entry, i in looks:
            e = todo_get(entry) if entry is not None else None
            if e is None:
                continue
            if frames is None:
                chain = group[5]
                frames = list(reversed(chain)) if caller else list(chain)
                keys = [f.key for f in frames]
            ks, fs = (keys[i:], frames[i:]) if i else (keys, frames)
            if _touches(roots[e], mixed[e], ks):
                these.append((e, ks, fs))
            else:
                fixed[e].append((ks, fs, group[0], group[1]))
        per_group.append(these)
    return fixed, per_group


def _touches(node, mixed: set[int], keys) -> bool:
    """``touches`` from the root node."""
    pos, n = 0, len(keys)
    while pos < n:
        if id(node) in mixed:
            return True
        node = node.children.get(keys[pos])
        if node is None:  # (not a chain of this tree)
            return True
        pos += len(node.keys)
    return False


def replay(chains: list[tuple[list, list, int, int]]) -> CallchainRoot:
    """``callchain_append`` of each (keys, frames, period, count) in order (count samples at once: one, but
    for ``touches``-free chains), into perf's rb-trees; the tree as a CallchainRoot of RNodes (children in
    ``rb_root_in`` order). perfdata/_speedups_report.c ``rb_replay`` when built (``py_replay``: its twin)."""
    c_replay = _C_REPLAY
    if c_replay is None:
        return py_replay(chains)
    if type(chains) is not list:
        chains = list(chains)
    try:
        return _built(c_replay(chains))
    except OverflowError:  # (a period or a sum above 64 bits)
        return py_replay(chains)


def replay_groups(fixed: list[list], per_group: list[list], groups, periods, into: list | None = None) \
        -> list[CallchainRoot] | None:
    """``replay`` of each entry's chains (report.hist ``_replay_trees``): entry e's are ``fixed[e]`` (chain
    tuples, first), then for each sample i in order, (keys, frames, ``periods[i]``, 1) for each (e, keys,
    frames) of ``per_group[groups[i]]``. perfdata/_speedups_report.c ``rb_replay_groups`` when built
    (``py_replay_groups``: its twin). With ``into`` (entries, one per tree), each tree becomes
    ``into[e].callchain`` as soon as it is built (the old tree and the C loop's node tuples let go one entry
    at a time), and None is answered."""
    c_groups = _C_GROUPS if _C_REPLAY is not None else None
    if c_groups is None:
        out = py_replay_groups(fixed, per_group, groups, periods)
    else:
        # (lists, or the 'I' and 'Q' arrays or views of report.builder's _Sequence.arrays: C reads them all)
        groups = groups if type(groups) is list or _u_array(groups) else list(groups)
        periods = periods if type(periods) is list or _u_array(periods) else list(periods)
        out = c_groups(fixed, per_group, groups, periods, RNode)  # (the RNodes made in C: no node tuples)
        for e, got in enumerate(out):
            if got is None:  # (a sum above 64 bits: Python's integers)
                chains = list(fixed[e])
                for g, period in zip(groups, periods):
                    chains.extend((keys, frames, period, 1) for x, keys, frames in per_group[g] if x == e)
                got = py_replay(chains)
            else:
                root = CallchainRoot()
                root.max_depth, root.node = got
                got = root
            if into is not None:
                into[e].callchain = got
                out[e] = None
            else:
                out[e] = got
        if into is not None:
            return None
        return out
    if into is not None:
        for entry, tree in zip(into, out):
            entry.callchain = tree
        return None
    return out


def _u_array(seq) -> bool:
    """A memoryview or an array.array of format 'I' or 'Q' (what rb_replay_groups reads besides lists). (An
    array only if the array module was imported: report's C path gives views, not arrays; see builder._zeros.)"""
    kind = type(seq)
    if kind is memoryview:
        return seq.format in ("I", "Q") and seq.ndim == 1
    arrays = sys.modules.get("array")
    return arrays is not None and kind is arrays.array and seq.typecode in ("I", "Q")


def py_replay_groups(fixed: list[list], per_group: list[list], groups, periods) -> list[CallchainRoot]:
    """``replay_groups`` in Python (the C loop's twin)."""
    chains = [list(f) for f in fixed]
    for g, period in zip(groups, periods):
        for e, keys, frames in per_group[g]:
            chains[e].append((keys, frames, period, 1))
    return [py_replay(c) for c in chains]


def _built(got: tuple) -> CallchainRoot:
    """The CallchainRoot of RNodes of rb_replay's (max_depth, top_hit, top_count, nodes)."""
    max_depth, top_hit, top_count, nodes = got
    root = CallchainRoot()
    top = root.node = RNode(None, [], [])
    top.bykey = None
    top.children_hit, top.children_count = top_hit, top_count
    made = [top]
    append = made.append
    for parent, val, keys, hit, count, children_hit, children_count in nodes:
        up = made[parent + 1]
        node = RNode(up, val, keys)
        node.bykey = None
        node.hit, node.count, node.children_hit, node.children_count = hit, count, children_hit, children_count
        kids = up.children
        kids[len(kids)] = node
        append(node)
    root.max_depth = max_depth
    return root


def py_replay(chains: Iterable[tuple[list, list, int, int]]) -> CallchainRoot:
    """``replay`` in Python (the C loop's twin)."""
    root = CallchainRoot()
    top = root.node = RNode(None, [], [])
    cmp = _CMP
    max_depth = 0
    # A chain (list object) that ended on a node with no node made since walks the same path again (every
    # search meets the same trees): its end node, kept per list with the number of nodes made then. Each
    # node's children_hit and children_count are summed from its children at the end (_finalize).
    made = 0
    ends: dict[int, tuple] = {}
    ends_get = ends.get
    for keys, frames, period, count in chains:
        n = len(frames)
        if n == 0:
            continue
        got = ends_get(id(keys))
        if got is not None and got[1] == made and got[0] is keys:
            end = got[2]
            end.hit += period
            end.count += count
            continue
        if n > max_depth:
            max_depth = n
        node, pos = top, 0
        while True:
            # append_chain_children(node)
            frame, key = frames[pos], keys[pos]
            bykey = node.bykey
            found = None
            if bykey is not None and (node.cls is None or node.cls == key[0]):
                found = bykey.get(key)  # (one class: what the search below finds)
            if found is None:
                parent, cur, left = None, node.rb, False
                while cur is not None:
                    child = cur.item
                    c = cmp(child.val[0], frame)
                    if c == 0:
                        found = child
                        break
                    parent, left = cur, c < 0
                    cur = cur.left if left else cur.right
            if found is None:
                new = RNode(node, list(frames[pos:]), list(keys[pos:]))
                new.hit, new.count = period, count
                _link(node, new, parent, left)
                made += 1
                break
            # append_chain(found): its frames while match_chain says equal (equal keys are equal frames)
            val = found.val
            vlen = len(val)
            end = pos + vlen
            if end <= n and keys[pos + 1:end] == found.keys[1:]:
                m, pos = vlen, end
            else:
                m = 1
                pos += 1
                while m < vlen and pos < n and cmp(val[m], frames[pos]) == 0:
                    m += 1
                    pos += 1
            if m < vlen:
                _split(found, m, keys[pos:], frames[pos:], period, count)
                made += 1
                break
            if pos == n:
                found.hit += period
                found.count += count
                ends[id(keys)] = (keys, made, found)
                break
            node = found
    root.max_depth = max_depth
    _finalize(top)
    return root


def _link(node: RNode, new: RNode, parent, left: bool) -> None:
    bykey = node.bykey
    if bykey is not None:
        tag = new.keys[0][0]
        if node.cls is None or node.cls == tag:
            node.cls = tag
            bykey.setdefault(new.keys[0], new)
        else:
            node.bykey = None
    rb = _Node(new, parent)
    if parent is None:
        node.rb = rb
    elif left:
        parent.left = rb
    else:
        parent.right = rb
    node.rb = _fixup(node.rb, rb)


def _split(node: RNode, at: int, rest_keys, rest_frames, period: int, count: int) -> None:
    """``split_add_child``: the tail takes the node's children tree and hits, the new branch goes beside it."""
    tail = RNode(node, node.val[at:], node.keys[at:])
    tail.rb, tail.bykey, tail.cls = node.rb, node.bykey, node.cls
    node.bykey, node.cls = {}, None
    tail.hit, tail.children_hit = node.hit, node.children_hit
    tail.count, tail.children_count = node.count, node.children_count
    del node.val[at:], node.keys[at:]
    node.children_hit = tail.hit + tail.children_hit
    node.children_count = tail.count + tail.children_count
    node.rb = None
    _link(node, tail, None, False)
    if rest_frames:
        node.hit = node.count = 0
        node.children_hit += period
        node.children_count += count
        new = RNode(node, list(rest_frames), list(rest_keys))
        new.hit, new.count = period, count
        left = _CMP(tail.val[0], rest_frames[0]) < 0  # match_chain(new, tail's first) == MATCH_LT
        _link(node, new, node.rb, left)
    else:
        node.hit, node.count = period, count


def _finalize(top: RNode) -> None:
    """Each node's children (and their parents) from its rb-tree, in order; its children_hit and
    children_count the sums of its children's (what append_chain_children's increments add up to)."""
    stack = [top]
    order = []
    while stack:
        node = stack.pop()
        order.append(node)
        if node.rb is None:
            continue
        kids = _walk(node.rb)
        node.rb = node.bykey = None
        node.children = dict(enumerate(kids))
        for child in kids:
            child.parent = node
        stack.extend(kids)
    for node in reversed(order):  # (children before their parents)
        hit = count = 0
        for child in node.children.values():
            hit += child.hit + child.children_hit
            count += child.count + child.children_count
        node.children_hit, node.children_count = hit, count
