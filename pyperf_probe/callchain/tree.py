"""Call-graph trees as perf builds them for `perf report` (tools/perf/util/callchain.c).

A tree is a radix tree of frames: every node holds a run of frames (``val``) that all its samples share,
the period of the samples that end exactly there (``hit``) and of those that go on below
(``children_hit``), plus the same two as sample counts. Frames are compared as perf's ``match_chain`` does
with ``--call-graph ...,function`` (CCKEY_FUNCTION): two frames of the same function (same dso and symbol
start) are the same node; inlined frames compare by name; unresolved frames by dso and address.

Children of a node live in perf's ``rb_root_in``, ordered by that match key *descending* (a new key larger
than an existing one goes to its left). Sorting for output (``sort_chain_graph_abs``/``_rel``/``_flat``)
walks that order and inserts each node into a tree ordered by value, equal values to the right, so ties
keep the ``rb_root_in`` order: that is perf's sibling order.

Appending is iterative (chains can be deep) and takes a period *and* a count, so a caller may aggregate
identical chains first and append each distinct chain once.
"""
from __future__ import annotations

from _functools import cmp_to_key  # functools' own C code, without functools' imports

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable, Iterator, Sequence

# A frame's match key (see ``frame_key``) and the frame object itself travel together.
FrameKey = tuple


class Node:
    """``struct callchain_node``: ``val`` frames, hits and counts, children by the key of their first frame."""

    __slots__ = ("parent", "val", "keys", "children", "hit", "children_hit", "count", "children_count")

    def __init__(self, parent: Node | None, val: list, keys: list[FrameKey]):
        self.parent = parent
        self.val = val
        self.keys = keys
        self.children: dict[FrameKey, Node] = {}
        self.hit = 0
        self.children_hit = 0
        self.count = 0
        self.children_count = 0

    @property
    def cumul_hits(self) -> int:
        return self.hit + self.children_hit

    @property
    def cumul_counts(self) -> int:
        return self.count + self.children_count

    def ordered_children(self) -> list[Node]:
        """The children in perf's ``rb_root_in`` order (match key descending)."""
        children = self.children
        if len(children) < 2:  # (most nodes of a chain tree)
            return list(children.values())
        return sorted(children.values(), key=_CHILD_ORDER, reverse=True)

    def path_frames(self) -> list:
        """All frames from the tree's root down to (and including) this node."""
        runs = []
        node: Node | None = self
        while node is not None:
            runs.append(node.val)
            node = node.parent
        return [f for run in reversed(runs) for f in run]


def compare_frames(left, right) -> int:
    """perf's ``match_chain`` order between two first frames (-1, 0, 1), ``left`` being the existing one.

    Frames have ``has_sym``, ``inlined``, ``name``, ``dso_rank`` (the dso's creation order, standing for
    perf's ``struct dso *`` pointer), ``sym_start`` and ``avma``. Two resolved frames compare by dso and
    symbol start, unless one is inlined (then by name, ``match_chain_strings``); otherwise by dso and address.
    """
    if left.has_sym and right.has_sym:
        if left.inlined or right.inlined:
            return (left.name > right.name) - (left.name < right.name)
        lk, rk = (left.dso_rank, left.sym_start), (right.dso_rank, right.sym_start)
    else:
        lk, rk = (left.dso_rank, left.avma), (right.dso_rank, right.avma)
    return (lk > rk) - (lk < rk)


def frame_key(frame) -> FrameKey:
    """The equality key of ``compare_frames`` (a dict key for a node's children)."""
    if frame.has_sym:
        return ("i", frame.name) if frame.inlined else ("s", frame.dso_rank, frame.sym_start)
    return ("a", frame.dso_rank, frame.avma)


def _frame_order():
    """cmp_to_key of compare_frames, or of its C twin (perfdata/_speedups_report.c frame_cmp) when built."""
    from pyperf_probe.perfdata.speedups import speedups
    return cmp_to_key(getattr(speedups, "frame_cmp", compare_frames))


_FRAME_ORDER = _frame_order()


def _c_appender():
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "callchain_append", None)


_c_append = _c_appender()
_CHILD_ORDER = lambda child: _FRAME_ORDER(child.val[0])  # noqa: E731


class CallchainRoot:
    """``struct callchain_root``: the root node (no frames) and the deepest chain appended."""

    __slots__ = ("node", "max_depth")

    def __init__(self):
        self.node = Node(None, [], [])
        self.max_depth = 0

    def append(self, keys: Sequence[FrameKey], frames: Sequence, period: int, count: int = 1) -> None:
        """``callchain_append``: add one chain (in print order) with its period, ``count`` samples' worth
        (perfdata/_speedups_report.c callchain_append when built: this is its twin)."""
        if _c_append is not None:
            _c_append(self, keys, frames, period, count)
            return
        self.py_append(keys, frames, period, count)

    def py_append(self, keys: Sequence[FrameKey], frames: Sequence, period: int, count: int = 1) -> None:
        """``append`` in Python."""
        n = len(keys)
        if n == 0:
            return
        if n > self.max_depth:
            self.max_depth = n
        if type(keys) is not list:  # node keys are lists: a run is matched by one list comparison
            keys = list(keys)
        node, pos = self.node, 0
        while True:
            node.children_hit += period
            node.children_count += count
            child = node.children.get(keys[pos])
            if child is None:
                _add_child(node, keys[pos:], frames[pos:], period, count)
                return
            ckeys = child.keys
            vlen = len(ckeys)
            end = pos + vlen
            if end <= n and keys[pos:end] == ckeys:  # the whole run matches (the usual case): in C
                pos = end
            else:
                matched = 0
                while matched < vlen and pos < n and ckeys[matched] == keys[pos]:
                    matched += 1
                    pos += 1
                _split(child, matched, keys[pos:], frames[pos:], period, count)  # matched < vlen here
                return
            if pos == n:
                child.hit += period
                child.count += count
                return
            node = child

    def merge(self, other: "CallchainRoot") -> None:
        """``callchain_merge``: every chain of ``other`` (each node with hits, by its path) added here. The
        depth stays this tree's own: merge_chain_branch appends with append_chain_children, not
        callchain_append, so perf's ``max_depth`` (Children's tie rule) ignores the merged chains; and each
        merged node with hits is one append there: it counts one sample (``-g ...,count``), whatever its
        count."""
        depth = self.max_depth
        stack = [(other.node, [], [])]
        while stack:
            node, keys, frames = stack.pop()
            keys, frames = keys + node.keys, frames + node.val
            if node.hit or node.count:
                self.append(keys, frames, node.hit, 1)
            for child in node.children.values():
                stack.append((child, keys, frames))
        self.max_depth = depth


def _add_child(parent: Node, keys: Sequence[FrameKey], frames: Sequence, period: int, count: int) -> Node:
    child = Node(parent, list(frames), list(keys))
    child.hit, child.count = period, count
    parent.children[child.keys[0]] = child
    return child


def _split(node: Node, at: int, rest_keys: Sequence[FrameKey], rest_frames: Sequence, period: int,
           count: int) -> None:
    """``split_add_child``: ``node`` keeps its first ``at`` frames; the rest moves to a new child that
    inherits the node's children and hits; then the new branch (if any) is added beside it."""
    tail = Node(node, node.val[at:], node.keys[at:])
    tail.children, tail.hit, tail.children_hit = node.children, node.hit, node.children_hit
    tail.count, tail.children_count = node.count, node.children_count
    for grandchild in tail.children.values():
        grandchild.parent = tail
    del node.val[at:], node.keys[at:]
    node.children = {tail.keys[0]: tail}
    node.children_hit, node.children_count = tail.cumul_hits, tail.cumul_counts
    if rest_keys:
        node.hit = node.count = 0
        node.children_hit += period
        node.children_count += count
        _add_child(node, rest_keys, rest_frames, period, count)
    else:
        node.hit, node.count = period, count


# ------------------------------------------------------------------------------------------- output sort


def sort_graph_abs(root: CallchainRoot, min_hit: float) -> "SortedTree":
    """``sort_chain_graph_abs``: children by cumulative hits, those below ``min_hit`` dropped."""
    return SortedTree(root.node, _sorted_abs(root.node, min_hit))


def sort_graph_rel(root: CallchainRoot, min_percent: float) -> "SortedTree":
    """``sort_chain_graph_rel``: per node, children below ceil(children_hit * pct/100) dropped."""
    return SortedTree(root.node, _sorted_rel(root.node, min_percent / 100.0))


def _kept_children(node: Node, min_hit: float) -> list[Node]:
    """The children at or above ``min_hit``, in ``rb_root_in`` order: the order is only computed (over all
    the children, as the rb-tree holds them) when two or more are kept."""
    kept = [c for c in node.children.values() if c.hit + c.children_hit >= min_hit]
    if len(kept) < 2:
        return kept
    return [c for c in node.ordered_children() if c.hit + c.children_hit >= min_hit]


def _sorted_abs(node: Node, min_hit: float) -> dict[int, list[Node]]:
    """Per node with children (by id), its kept children in print order (``SortedTree``; a leaf has none)."""
    out: dict[int, list[Node]] = {}
    stack = [node]
    pop, push = stack.pop, stack.extend
    while stack:
        cur = pop()
        if not cur.children:  # (a leaf: SortedTree.children gives [] for a node it does not hold)
            continue
        kept = _kept_children(cur, min_hit)
        if len(kept) > 1:
            kept.sort(key=_minus_cumul)
        out[id(cur)] = kept
        push(kept)
    return out


def _sorted_rel(node: Node, fraction: float) -> dict[int, list[Node]]:
    """``_sorted_abs`` with each node's threshold ceil(its children_hit * fraction)."""
    out: dict[int, list[Node]] = {}
    stack = [node]
    pop, push = stack.pop, stack.extend
    while stack:
        cur = pop()
        if not cur.children:
            continue
        kept = _kept_children(cur, _ceil(cur.children_hit * fraction))
        if len(kept) > 1:
            kept.sort(key=_minus_cumul)
        out[id(cur)] = kept
        push(kept)
    return out


def _minus_cumul(c: Node) -> int:
    """The sort key of a node's kept children: larger cumul_hits first, ties in the order given (a stable sort:
    ``rb_insert_callchain``, as _stable_desc)."""
    return -c.cumul_hits


def _ceil(value: float) -> int:
    """``math.ceil`` (without importing math: a report's start-up)."""
    whole = int(value)
    return whole + 1 if whole < value else whole


def _stable_desc(nodes: list[Node], value: Callable[[Node], int]) -> list[Node]:
    """``rb_insert_callchain``: larger values first, equal ones in the order given."""
    if len(nodes) < 2:
        return nodes
    return sorted(nodes, key=lambda c: -value(c))


class SortedTree:
    """A tree after output sorting: ``children(node)`` are the kept children in print order."""

    def __init__(self, root: Node, order: dict[int, list[Node]]):
        self.root = root
        self._order = order

    def children(self, node: Node) -> list[Node]:
        return self._order.get(id(node), [])


def sort_flat(root: CallchainRoot, min_hit: float) -> list[Node]:
    """``sort_chain_flat``: every node with hits (post-order over ``rb_root_in``) by ``hit`` descending."""
    found = [node for node in _post_order(root.node) if node.hit and node.hit >= min_hit]
    return _stable_desc(found, lambda c: c.hit)


def _post_order(node: Node) -> list[Node]:
    """The nodes below and at ``node``, children first (in ``rb_root_in`` order), then their parent: the
    reverse of the pre-order that takes the last child first (one stack of nodes, no generator; make.data's
    flat reports walk 4.3K nodes)."""
    out: list[Node] = []
    stack = [node]
    pop, push, emit = stack.pop, stack.extend, out.append
    while stack:
        cur = pop()
        emit(cur)
        push(cur.ordered_children())
    out.reverse()
    return out
