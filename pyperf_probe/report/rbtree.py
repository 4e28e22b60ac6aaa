"""The order an rb-tree gives when perf inserts entries with a comparator that is not a total order.

perf sorts report entries by inserting them, one by one, into a red-black tree
(``__hists__insert_output_entry``: left if ``hist_entry__sort(he, iter) > 0``, else right), then walks it in
order. Its comparator is not transitive in children mode (equal Children of entries of the same thread are
ordered by call-chain depth, of different threads by Self), so the result depends on the tree's shape.
This module reproduces it: the classic insertion with the rebalancing of lib/rbtree.c ``rb_insert_color``
(the CLRS algorithm), so every insertion walks the same path as in perf.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable, Iterable


class _Node:
    __slots__ = ("item", "left", "right", "parent", "red")

    def __init__(self, item, parent):
        self.item, self.parent = item, parent
        self.left = self.right = None
        self.red = True


def insertion_order(items: Iterable, goes_left: Callable[[object, object], bool]) -> list:
    """Insert ``items`` in turn (``goes_left(new, existing)`` picks the side), return the in-order walk."""
    root: _Node | None = None
    for item in items:
        parent, cur, left = None, root, False
        while cur is not None:
            parent = cur
            left = goes_left(item, cur.item)
            cur = cur.left if left else cur.right
        node = _Node(item, parent)
        if parent is None:
            root = node
        elif left:
            parent.left = node
        else:
            parent.right = node
        root = _fixup(root, node)
    return _walk(root)


def replay_ranked(items: list, ranks) -> list:
    """``insertion_order`` of ``items`` under report.order's ``OutputRanks`` (integers per item, by index):
    a new item goes left of an existing one if its ``group`` is lower; on equal groups, if both are of the
    same ``thread`` and their ``depth`` differs, if its depth is lower; else if its ``rest`` is lower."""
    group, thread, depth, rest = ranks.group, ranks.thread, ranks.depth, ranks.rest
    c_loop = _c_loop()
    if c_loop is not None:
        return [items[i] for i in c_loop(list(group), list(thread), list(depth), list(rest))]

    def goes_left(new: int, old: int) -> bool:
        gn, go = group[new], group[old]
        if gn != go:
            return gn < go
        if thread[new] == thread[old] and depth[new] != depth[old]:
            return depth[new] < depth[old]
        return rest[new] < rest[old]
    return [items[i] for i in insertion_order(range(len(items)), goes_left)]


def _c_loop():
    """perfdata/_speedups.c's ``rank_order`` (None when not built: the Python loop then)."""
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "rank_order", None) if speedups is not None and _USE_C else None


_USE_C = True  # (tests turn it off to run the Python loop)


def _rotate_left(root, x):
    y = x.right
    x.right = y.left
    if y.left is not None:
        y.left.parent = x
    y.parent = x.parent
    if x.parent is None:
        root = y
    elif x is x.parent.left:
        x.parent.left = y
    else:
        x.parent.right = y
    y.left = x
    x.parent = y
    return root


def _rotate_right(root, x):
    y = x.left
    x.left = y.right
    if y.right is not None:
        y.right.parent = x
    y.parent = x.parent
    if x.parent is None:
        root = y
    elif x is x.parent.right:
        x.parent.right = y
    else:
        x.parent.left = y
    y.right = x
    x.parent = y
    return root


def _fixup(root, z):
    while z.parent is not None and z.parent.red:
        parent, grand = z.parent, z.parent.parent
        if parent is grand.left:
            uncle = grand.right
            if uncle is not None and uncle.red:
                parent.red = uncle.red = False
                grand.red = True
                z = grand
                continue
            if z is parent.right:
                z = parent
                root = _rotate_left(root, z)
                parent = z.parent
            parent.red = False
            grand.red = True
            root = _rotate_right(root, grand)
        else:
            uncle = grand.left
            if uncle is not None and uncle.red:
                parent.red = uncle.red = False
                grand.red = True
                z = grand
                continue
            if z is parent.left:
                z = parent
                root = _rotate_right(root, z)
                parent = z.parent
            parent.red = False
            grand.red = True
            root = _rotate_left(root, grand)
    root.red = False
    return root


def _walk(root) -> list:
    out, stack, cur = [], [], root
    while stack or cur is not None:
        while cur is not None:
            stack.append(cur)
            cur = cur.left
        cur = stack.pop()
        out.append(cur.item)
        cur = cur.right
    return out
