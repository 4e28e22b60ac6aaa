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
"""
from __future__ import annotations

from collections.abc import Iterable

from pyperf_probe.callchain.tree import CallchainRoot, Node, compare_frames
from pyperf_probe.report.rbtree import _Node, _fixup, _walk


def _cmp():
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "frame_cmp", None) if speedups is not None else None


_CMP = _cmp() or compare_frames
ENABLED = True  # (tests turn it off: the trees by key)


class RNode(Node):
    """A node whose children are in perf's ``rb_root_in`` (``rb``: the root rb node, items the children);
    once replayed, ``children`` holds them in that tree's order (numbered keys: equal frames may repeat)."""

    __slots__ = ("rb",)

    def __init__(self, parent, val: list, keys: list):
        Node.__init__(self, parent, val, keys)
        self.rb = None

    def ordered_children(self) -> list[Node]:
        return list(self.children.values())


def _class(frame) -> int:
    return (2 if frame.inlined else 1) if frame.has_sym else 0


def needs_replay(root: CallchainRoot) -> bool:
    """Whether some node's children (by their first frames) mix inlined, plain and unresolved frames: the
    classes between which ``match_chain`` is not a total order. A tree without such a node is what perf
    builds (every search finds the equal child), so it needs no replay. (An inlined ``x`` beside a plain
    ``x`` that perf would have matched into one run shows up here too: pyperf splits them into siblings.)"""
    stack = [root.node]
    while stack:
        node = stack.pop()
        children = node.children
        if len(children) > 1:
            first = None
            for child in children.values():
                c = _class(child.val[0])
                if first is None:
                    first = c
                elif c != first:
                    return True
        stack.extend(children.values())
    return False


def replay(chains: Iterable[tuple[list, list, int]]) -> CallchainRoot:
    """``callchain_append`` of each (keys, frames, period) in order, one sample each, into perf's rb-trees;
    the tree as a CallchainRoot of RNodes (children in ``rb_root_in`` order)."""
    root = CallchainRoot()
    top = root.node = RNode(None, [], [])
    cmp = _CMP
    max_depth = 0
    for keys, frames, period in chains:
        n = len(frames)
        if n == 0:
            continue
        if n > max_depth:
            max_depth = n
        node, pos = top, 0
        while True:
            # append_chain_children(node)
            frame = frames[pos]
            parent, cur, left, found = None, node.rb, False, None
            while cur is not None:
                child = cur.item
                c = cmp(child.val[0], frame)
                if c == 0:
                    found = child
                    break
                parent, left = cur, c < 0
                cur = cur.left if left else cur.right
            node.children_hit += period
            node.children_count += 1
            if found is None:
                new = RNode(node, list(frames[pos:]), list(keys[pos:]))
                new.hit, new.count = period, 1
                _link(node, new, parent, left)
                break
            # append_chain(found): its frames while match_chain says equal
            val = found.val
            vlen, m = len(val), 1
            pos += 1
            while m < vlen and pos < n and cmp(val[m], frames[pos]) == 0:
                m += 1
                pos += 1
            if m < vlen:
                _split(found, m, keys[pos:], frames[pos:], period)
                break
            if pos == n:
                found.hit += period
                found.count += 1
                break
            node = found
    root.max_depth = max_depth
    _finalize(top)
    return root


def _link(node: RNode, new: RNode, parent, left: bool) -> None:
    rb = _Node(new, parent)
    if parent is None:
        node.rb = rb
    elif left:
        parent.left = rb
    else:
        parent.right = rb
    node.rb = _fixup(node.rb, rb)


def _split(node: RNode, at: int, rest_keys, rest_frames, period: int) -> None:
    """``split_add_child``: the tail takes the node's children tree and hits, the new branch goes beside it."""
    tail = RNode(node, node.val[at:], node.keys[at:])
    tail.rb = node.rb
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
        node.children_count += 1
        new = RNode(node, list(rest_frames), list(rest_keys))
        new.hit, new.count = period, 1
        left = _CMP(tail.val[0], rest_frames[0]) < 0  # match_chain(new, tail's first) == MATCH_LT
        _link(node, new, node.rb, left)
    else:
        node.hit, node.count = period, 1


def _finalize(top: RNode) -> None:
    """Each node's children (and their parents) from its rb-tree, in order."""
    stack = [top]
    while stack:
        node = stack.pop()
        if node.rb is None:
            continue
        kids = _walk(node.rb)
        node.rb = None
        node.children = dict(enumerate(kids))
        for child in kids:
            child.parent = node
        stack.extend(kids)
