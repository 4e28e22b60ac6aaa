"""The flame graph of perf's ``flamegraph.py`` (tools/perf/scripts/python/flamegraph.py, perf 6.1): one tree
of call stacks, root first, whose JSON ``--format json`` writes exactly as perf's script does.

perf's tree: the root ``all`` (libtype ``root``); under it one node per process name, ``COMM (PID)`` with the
sample's pid, or ``COMM`` alone with libtype ``kernel`` when that pid is 0; then the sample's call chain from
its outermost frame to the leaf, each frame named by its symbol or ``[unknown]``, libtype ``kernel`` when its
dso is ``[kernel.kallsyms]`` or a ``vmlinux``, else ``""``. A child is found by name alone (the first one
made keeps its libtype), children stay in the order they were made, and each sample adds 1 to the value
of the node its stack ends at (its own count, not its subtree's). A file without call chains gives each
sample to its process node.

The tree grows with the distinct stacks only: a sample whose (comm, pid, chain) was seen before goes to
the same node through a memo, without walking its frames.
"""
from __future__ import annotations

from json.encoder import encode_basestring_ascii

MEMO_LIMIT = 1 << 16
FLUSH_PARTS = 4096

# a node: [name, libtype, value, children, {name: child}]
NAME, LIBTYPE, VALUE, CHILDREN, INDEX = range(5)


def libtype_of(frame) -> str:
    """``get_libtype_from_dso``: perf's script gets ``dso->name`` (the long name)."""
    dso = frame.dso_obj
    if dso is None:
        return ""
    name = dso.long_name
    return "kernel" if name == "[kernel.kallsyms]" or name.endswith("/vmlinux") else ""


def _node(name: str, libtype: str) -> list:
    return [name, libtype, 0, [], {}]


def _child(node: list, name: str, libtype: str) -> list:
    """``find_or_create_node``: by name; a new child goes last."""
    child = node[INDEX].get(name)
    if child is None:
        child = node[INDEX][name] = _node(name, libtype)
        node[CHILDREN].append(child)
    return child


class FlameTree:
    """perf's flame graph tree, fed one resolved sample at a time (see the module docstring)."""

    def __init__(self):
        self.root = _node("all", "root")
        self.nr_samples = 0
        self._memo: dict = {}

    def add(self, sample) -> None:
        pid = sample.sample.pid
        if pid is None:
            pid = -1  # evsel__parse_sample's default without PERF_SAMPLE_TID
        key = (sample.thread.comm, pid, sample.chain)
        node = self._memo.get(key)
        if node is None:
            node = self._walk(sample.thread.comm, pid, sample.chain)
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = node
        node[VALUE] += 1
        self.nr_samples += 1

    def _walk(self, comm: str, pid: int, chain) -> list:
        if pid == 0:
            node = _child(self.root, comm, "kernel")
        else:
            node = _child(self.root, f"{comm} ({pid})", "")
        for frame in reversed(chain):
            node = _child(node, frame.sym if frame.sym is not None else "[unknown]", libtype_of(frame))
        return node

    def json_chunks(self, html_safe: bool = False):
        """The tree as ``json.dumps(self.stack, default=lambda x: x.to_json())`` writes it in perf's
        script (keys n, l, v, c; ', ' and ': ' separators; non-ASCII escaped), in pieces. ``html_safe``
        also escapes ``</`` (as ``<\\/``, the same JSON string) for a ``<script>`` element."""
        enc = encode_basestring_ascii
        parts: list[str] = []

        def opening(node) -> str:
            return f'{{"n": {enc(node[NAME])}, "l": {enc(node[LIBTYPE])}, "v": {node[VALUE]}, "c": ['

        parts.append(opening(self.root))
        stack = [[self.root[CHILDREN], 0]]
        while stack:
            top = stack[-1]
            kids, i = top
            if i < len(kids):
                top[1] = i + 1
                child = kids[i]
                parts.append(", " + opening(child) if i else opening(child))
                stack.append([child[CHILDREN], 0])
            else:
                parts.append("]}")
                stack.pop()
            if len(parts) >= FLUSH_PARTS:
                text = "".join(parts)
                yield text.replace("</", "<\\/") if html_safe else text
                parts.clear()
        text = "".join(parts)
        yield text.replace("</", "<\\/") if html_safe else text

    def to_json(self) -> str:
        return "".join(self.json_chunks())
