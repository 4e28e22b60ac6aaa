"""`--stdio-style=3.4`: the layout of perf 3.4 (2012), golden-tested against the two report excerpts of the
uprobes merge message (tests/golden/report34/excerpt_*.txt, copied verbatim from the seed by
extract_excerpt.py there) on synthetic samples that reproduce the excerpt's numbers.

The excerpts are cut by their author (each entry shows only its first lines, "..." ends them), so every
excerpt entry block must be a prefix of pyperf's block for that entry, in the same order, and the header
lines must be equal. The only adjustments are those perf-formats.md §3 documents: every non-'#' line of the
excerpt lost its 2 leading spaces, and the graph's separator lines ("|" + 10 spaces per level) lost their
trailing spaces.
"""
import os
import re

import pytest

from pyperf_probe.report import callgraph_text, sortkeys, style34
from pyperf_probe.report.frames import RFrame
from pyperf_probe.report.hist import Hists
from pyperf_probe.report.stdio import StdioOptions

HERE = os.path.join(os.path.dirname(__file__), "golden", "report34")
TOTAL = 26400  # the smallest total (near 26.4K) for which every printed percentage rounds as in the excerpt


def _frame(name, dso, start, avma=None):
    return RFrame(name=name, inlined=False, dso_name=dso, dso_rank={"libc-2.15.so": 1}.get(dso, 2),
                  sym_start=start, avma=avma if avma is not None else start, rip=avma or start)


MALLOC = _frame("malloc", "libc-2.15.so", 0x7EAC0)


def _caller(comm, i):
    return _frame(f"{comm}_caller_{i:03d}", comm, 0x1000 + 0x40 * i)


def _spec():
    """(comm, chain after malloc, samples): each comm's samples that stop in malloc itself (flat value) and
    those with callers. Callers that must stay hidden get fewer samples than -g fractal,0.5 shows
    (ceil(0.5% of the node's children hits)) and than flat's 0.5% of the total."""
    glob = _frame("glob", "make", 0x41000)
    insn = _frame(None, "make", 0, avma=0x41588F)
    spec = [("git", (), 7178)] + [("git", (_caller("git", i),), 6) for i in range(213)]
    spec += [("cc1", (), 6539), ("cc1", (_frame(None, None, 0, avma=0x208EB1000000000),), 74),
             ("cc1", (_frame("htab_traverse_noresize", "cc1", 0x5A0000),), 49)]
    spec += [("cc1", (_caller("cc1", i),), 48) for i in range(23)] + [("cc1", (_caller("cc1", 23),), 19)]
    spec += [("as", (), 2909), ("as", (_caller("as", 0),), 6)]
    spec += [("ld", (), 1734), ("ld", (_caller("ld", 0),), 100), ("ld", (_caller("ld", 1),), 54)]
    spec += [("sh", (), 1200), ("sh", (_caller("sh", 0),), 138)]
    spec += [("python-config", (), 1217), ("python-config", (_caller("python-config", 0),), 100)]
    spec += [("make", (), 1000), ("make", (glob, insn), 82), ("make", (glob, glob, insn), 6),
             ("make", (_caller("make", 0),), 60), ("make", (_caller("make", 1),), 51)]
    spec += [("collect2", (), 700), ("gcc", (), 500), ("rm", (), 302)]
    assert sum(n for _, _, n in spec) == TOTAL
    return spec


def _hists():
    hists = Hists(sortkeys.parse_sort(style34.DEFAULT_SORT), children=False, callchains=True,
                  caller_order=False)
    for tid, (comm, callers, n) in enumerate(_spec()):
        chain = (MALLOC,) + callers
        for _ in range(n):
            hists.count(1)
            hists.add(comm, 100 + tid, 1, MALLOC, chain, chain, None)
    hists.finish()
    return hists


def _render(mode):
    params = callgraph_text.GraphParams(mode=mode, min_percent=0.5)
    return style34.render_hists(_hists(), StdioOptions(graph=params))


def _adjust(line):
    """§3: 2 leading spaces lost on entry and call-graph lines; separators lost their 10 trailing spaces."""
    if not line or line.startswith("#"):
        return line
    return "  " + line


def _excerpt(name):
    with open(os.path.join(HERE, name)) as f:
        lines = [line.rstrip("\n") for line in f]
    header = [line for line in lines if line.startswith("#")]
    blocks, cur = [], None
    for line in lines:
        if line.startswith("#") or line.strip() == "...":
            continue
        if re.match(r"^ *\d+\.\d\d% ", line):
            cur = []
            blocks.append(cur)
        cur.append(_adjust(line))
    return header, [_trim(b) for b in blocks]


def _trim(block):
    while block and not block[-1]:
        block.pop()
    return block


def _separators_padded(expected, got):
    """A trimmed separator line matches pyperf's line when only trailing spaces differ."""
    return expected == got or (set(expected.strip()) <= {"|", " "} and got.rstrip() == expected and
                               got.endswith("|" + " " * 10))


def _blocks(text):
    blocks, cur = {}, None
    for line in text.split("\n"):
        m = re.match(r"^ *\d+\.\d\d% +(\S+) ", line)
        if m:
            cur = blocks.setdefault(m.group(1), [])
        if cur is not None and not line.startswith("#"):
            cur.append(line)
    return blocks


@pytest.mark.parametrize("mode,excerpt", [("fractal", "excerpt_graph.txt"), ("flat", "excerpt_flat.txt")])
def test_style34_reproduces_the_2012_excerpt(mode, excerpt):
    text = _render(mode)
    header, blocks = _excerpt(excerpt)
    assert text.split("\n")[:len(header)] == header
    got = _blocks(text)
    order = [re.match(r"^ *\d+\.\d\d% +(\S+) ", b[0]).group(1) for b in blocks]
    assert list(got)[:len(order)] == order
    for block in blocks:
        comm = re.match(r"^ *\d+\.\d\d% +(\S+) ", block[0]).group(1)
        mine = got[comm][:len(block)]
        assert len(mine) == len(block)
        for want, have in zip(block, mine):
            assert _separators_padded(want, have), (comm, want, have)


def test_style34_header_is_right_aligned_and_has_no_children_columns():
    text = _render("graph")
    assert text.startswith("# Overhead        Command  Shared Object      Symbol\n")
    assert "Children" not in text and "Self" not in text
    assert "\n    32.03%            git  libc-2.15.so   [.] malloc\n" in text


def test_style34_fractal_remainder_and_branch_formats():
    text = _render("fractal")
    # branches: "--VAL-- name" with a space; the recursion in make: glob -> glob -> 0x41588f
    assert "|--7.34%-- glob\n" in text
    assert "|--93.18%-- 0x41588f\n" in text
    assert " --6.82%-- glob\n" in text
