"""Call-graph text under an entry, as perf 6.1 prints it with --stdio (tools/perf/ui/stdio/hist.c).

``graph`` and ``fractal`` draw the tree (``callchain__fprintf_graph``), ``flat`` prints every chain that
ends in a node with hits (``callchain__fprintf_flat``), ``folded`` prints those chains on one line each.
Layout details, with examples, in perf-formats.md §2.4-2.5.
"""
from __future__ import annotations

from pyperf_probe.callchain import tree as cc
from pyperf_probe.perfdata.format import PERF_CONTEXT_MAX
from pyperf_probe.perfdata.frozen import Frozen

MARGIN = " " * 12


class GraphParams(Frozen):
    """``struct callchain_param`` as parsed from ``-g``: mode, threshold (percent), print limit, value."""

    __slots__ = ()
    _fields = ("mode", "min_percent", "print_limit", "value", "skip_first", "legacy", "left_margin")
    # mode: graph | flat | fractal | folded | none
    # print_limit: 0 = no limit
    # value: percent | period | count
    # skip_first: --sort starting with sym: the trunk's first frame is the entry itself
    # legacy: perf 3.4's layout (perf-formats.md §3): "--- name", "--0.95%-- name"
    # left_margin: perf 3.4: comm column width - strlen(comm) when comm is the first key

    def __new__(cls, mode: str = "graph", min_percent: float = 0.5, print_limit: int = 0, value: str = "percent",
                skip_first: bool = False, legacy: bool = False, left_margin: int = 0):
        return tuple.__new__(cls, (mode, min_percent, print_limit, value, skip_first, legacy, left_margin))


def frame_text(frame, params: GraphParams, branch: bool) -> str:
    """A frame's name as printed; perf 3.4 printed unresolved frames with ``%p`` on the trunk and in flat
    chains, ``0x%0llx`` in branches."""
    if not params.legacy or frame.has_sym:
        return frame.chain_text
    if branch:
        return "0x%x" % frame.avma
    return "0x%x" % frame.avma if frame.avma else "(nil)"


def value_text(node_period: int, node_count: int, total: int, params: GraphParams) -> str:
    """``callchain_node__scnprintf_value``."""
    if params.value == "period":
        return "%d" % node_period
    if params.value == "count":
        return "%d" % node_count
    return "%.2f%%" % (node_period * 100.0 / total if total else 0.0)


def render(root: cc.CallchainRoot, params: GraphParams, total: int, parent_samples: int,
           min_hit: float) -> str:
    """The text below one entry line (may be empty)."""
    if root.node.children_hit < min_hit and not params.legacy and params.mode in ("graph", "flat", "folded"):
        # every node is below the threshold (a node's hits are at most its parent's children_hit): graph
        # keeps no child of the root, flat and folded no node (most of a children report's entries)
        return ""
    if params.mode in ("graph", "fractal"):
        if params.mode == "graph":
            sorted_tree = cc.sort_graph_abs(root, min_hit)
        else:
            sorted_tree = cc.sort_graph_rel(root, params.min_percent)
        return _graph(sorted_tree, params, total, parent_samples)
    if params.mode in ("flat", "folded"):
        nodes = cc.sort_flat(root, min_hit)
        return _flat(nodes, params, total) if params.mode == "flat" else _folded(nodes, params, total)
    return ""


def _graph(st: cc.SortedTree, params: GraphParams, total: int, parent_samples: int) -> str:
    out: list[str] = []
    node = st.root
    left_margin = params.left_margin
    first = st.children(node)
    # One root child is a trunk: in 6.1 only if it holds the whole entry (need_percent_display), in 3.4 always.
    if first and len(first) == 1 and not params.legacy and first[0].cumul_hits == parent_samples:
        # (the loop below for perf 6.1's layout, the trunk's frames at once)
        trunk = first[0]
        frames = trunk.val[1:] if params.skip_first else trunk.val
        if params.print_limit:
            frames = frames[:params.print_limit]
        if frames:
            lead = MARGIN + " " * left_margin
            out.append(lead + "|\n")
            out.append(lead + "---" + frames[0].chain_text + "\n")
            left_margin += 3
            lead = MARGIN + " " * left_margin
            out += [lead + frame.chain_text + "\n" for frame in frames[1:]]
        node = trunk
    elif first and len(first) == 1 and params.legacy:
        trunk = first[0]
        printed, entries = False, 0
        for i, frame in enumerate(trunk.val):
            if i == 0 and params.skip_first:
                continue
            if not printed:
                out.append(MARGIN + " " * left_margin + "|\n")
                out.append(MARGIN + " " * left_margin + ("--- " if params.legacy else "---"))
                left_margin += 3
                printed = True
            else:
                out.append(MARGIN + " " * left_margin + (" " if params.legacy else ""))
            out.append(frame_text(frame, params, False) + "\n")
            entries += 1
            if entries == params.print_limit:
                break
        node = trunk
    if params.mode == "fractal":
        total = parent_samples
    _graph_children(st, node, params, total, 1, 1, left_margin, out)
    if out or params.legacy:
        out.append("\n")
    return "".join(out)


def _graph_children(st: cc.SortedTree, parent: cc.Node, params: GraphParams, total: int, depth: int,
                    depth_mask: int, left_margin: int, out: list[str]) -> None:
    """``__callchain__fprintf_graph`` (recursion depth = chain depth, a few hundred at most)."""
    children = st.children(parent)
    remaining = total
    new_mask = depth_mask
    rel = params.mode == "fractal"
    margin = MARGIN + " " * left_margin
    cumul_count = 0
    for idx, child in enumerate(children):
        cumul = child.cumul_hits
        remaining -= cumul
        cumul_count += child.cumul_counts
        is_last = idx == len(children) - 1
        if is_last and (not rel or not remaining):
            new_mask &= ~(1 << (depth - 1))
        out.append(margin + _pipes(depth, depth_mask) + "\n")
        for i, frame in enumerate(child.val):
            out.append(margin + _prefix(depth, new_mask, i == 0, child, total, params)
                       + frame_text(frame, params, True) + "\n")
        new_total = child.children_hit if rel else total
        _graph_children(st, child, params, new_total, depth + 1, new_mask | (1 << depth), left_margin, out)
        if idx + 1 == params.print_limit:
            break
    if rel and remaining and remaining != total:
        rem_count = 0
        if params.value == "count" and children:
            rem_count = parent.children_count - cumul_count  # perf: nothing to show unless > 0
            if rem_count <= 0:
                return
        new_mask &= ~(1 << (depth - 1))
        # perf mallocs this "[...]" symbol without zeroing it (hist.c init_rem_hits), so its `inlined` bit,
        # and with it a " (inlined)" suffix, is whatever the reused heap chunk held: it changes with the
        # options and perf's random tip, not with the data. We print the zeroed form (tests/golden/fractal).
        out.append(margin + _rem_prefix(depth, new_mask, remaining, rem_count, total, params) + "[...]\n")


_PIPES: dict[tuple[int, int], str] = {}  # (depth, mask) -> _pipes' text (a tree's lines repeat a few)
_LEADS: dict[tuple[int, int], str] = {}  # (depth, mask) -> a node's first line before its value


def _pipes(depth: int, mask: int) -> str:
    got = _PIPES.get((depth, mask))
    if got is None:
        got = _PIPES[(depth, mask)] = "".join("|          " if mask & (1 << i) else "           "
                                              for i in range(depth))
    return got


def _prefix(depth: int, mask: int, first: bool, node: cc.Node, total: int, params: GraphParams) -> str:
    """The columns before a frame of a node: pipes (``_pipes``' text but for the last column), then on its
    first line "--value--" in the last column."""
    if not first:
        return _pipes(depth, mask)
    lead = _LEADS.get((depth, mask))
    if lead is None:
        lead = _LEADS[(depth, mask)] = _pipes(depth - 1, mask) + ("|" if mask & (1 << (depth - 1)) else " ")
    return (lead + "--" + value_text(node.cumul_hits, node.cumul_counts, total, params)
            + ("-- " if params.legacy else "--"))


def _rem_prefix(depth: int, mask: int, remaining: int, count: int, total: int, params: GraphParams) -> str:
    parts = []
    for i in range(depth):
        parts.append("|" if mask & (1 << i) else " ")
        if i == depth - 1:
            parts.append("--" + value_text(remaining, count, total, params) + ("-- " if params.legacy else "--"))
        else:
            parts.append("          ")
    return "".join(parts)


def _flat(nodes: list[cc.Node], params: GraphParams, total: int) -> str:
    out: list[str] = []
    for n, node in enumerate(nodes):
        if params.legacy:  # 3.4: the node's own hits, "%6.2f%%"
            out.append("           %6.2f%%\n" % (node.hit * 100.0 / total if total else 0.0))
        else:
            out.append("           " + value_text(node.cumul_hits, node.cumul_counts, total, params) + "\n")
        for frame in node.path_frames():
            if frame.avma < PERF_CONTEXT_MAX:  # (perf skips these: a dwarf chain's 0 - 1 frame, dwarf_unwind)
                out.append("                " + frame_text(frame, params, False) + "\n")
        out.append("\n")
        if n + 1 == params.print_limit:
            break
    return "".join(out)


def _folded(nodes: list[cc.Node], params: GraphParams, total: int) -> str:
    out: list[str] = []
    for n, node in enumerate(nodes):
        text = ";".join(f.chain_text for f in node.path_frames() if f.avma < PERF_CONTEXT_MAX)  # (as _flat)
        out.append(value_text(node.hit, node.count, total, params) + " " + text + "\n")
        if n + 1 == params.print_limit:
            break
    return "".join(out)
