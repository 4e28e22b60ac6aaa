"""callchain.tree.CallchainRoot.append: the run-at-once match (one list comparison per node) builds the
tree the key-by-key walk built, and a tree does not depend on the order its chains were appended in nor on
identical chains being appended once with their summed period and count (what report.hist relies on to
append each distinct cumulative suffix once)."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pyperf_probe.callchain.tree import CallchainRoot, Node, _add_child, _split


def key_by_key_append(root: CallchainRoot, keys, frames, period: int, count: int = 1) -> None:
    """The append of 3b47fac (every key compared in Python): the oracle."""
    n = len(keys)
    if n == 0:
        return
    root.max_depth = max(root.max_depth, n)
    node, pos = root.node, 0
    while True:
        node.children_hit += period
        node.children_count += count
        child = node.children.get(keys[pos])
        if child is None:
            _add_child(node, keys[pos:], frames[pos:], period, count)
            return
        matched, vlen = 0, len(child.keys)
        while matched < vlen and pos < n and child.keys[matched] == keys[pos]:
            matched += 1
            pos += 1
        if matched < vlen:
            _split(child, matched, keys[pos:], frames[pos:], period, count)
            return
        if pos == n:
            child.hit += period
            child.count += count
            return
        node = child


def dump(node: Node):
    """The tree's shape and numbers, children in key order; parent links checked on the way."""
    for child in node.children.values():
        assert child.parent is node and child.keys[0] in node.children
    return (tuple(node.keys), node.hit, node.children_hit, node.count, node.children_count,
            tuple(dump(c) for _, c in sorted(node.children.items())))


chains = st.lists(st.tuples(st.lists(st.integers(0, 4), min_size=1, max_size=9), st.integers(1, 5)),
                  min_size=1, max_size=40)


def keyed(chain):
    return [("s", (1, 0), k) for k in chain]


@settings(max_examples=300, deadline=None)
@given(chains)
def test_run_matching_builds_the_key_by_key_tree(samples):
    ours, oracle = CallchainRoot(), CallchainRoot()
    for chain, period in samples:
        keys = keyed(chain)
        ours.append(keys, list(chain), period, 1)
        key_by_key_append(oracle, keys, list(chain), period, 1)
    assert dump(ours.node) == dump(oracle.node) and ours.max_depth == oracle.max_depth


@settings(max_examples=300, deadline=None)
@given(chains, st.randoms(use_true_random=False))
def test_order_and_aggregation_do_not_change_the_tree(samples, rnd: random.Random):
    in_order = CallchainRoot()
    for chain, period in samples:
        in_order.append(keyed(chain), list(chain), period, 1)
    summed: dict[tuple, list] = {}
    for chain, period in samples:
        got = summed.setdefault(tuple(chain), [0, 0])
        got[0] += period
        got[1] += 1
    items = list(summed.items())
    rnd.shuffle(items)
    aggregated = CallchainRoot()
    for chain, (period, count) in items:
        aggregated.append(tuple(keyed(chain)), chain, period, count)  # a tuple of keys works too
    assert dump(aggregated.node) == dump(in_order.node) and aggregated.max_depth == in_order.max_depth
