"""Unit tests of the report side on hand-made inputs: print fmt, call-graph trees, rb-tree order,
children accumulation, options, tips and pager. (Whole-report behaviour: test_report_golden.py.)"""
import io
import struct

import pytest

from pyperf_probe.callchain import tree as cc
from pyperf_probe.errors import UsageError
from pyperf_probe.report import callgraph_text, pager, rbtree, sortkeys, tips
from pyperf_probe.report.frames import RFrame
from pyperf_probe.report.hist import Hists
from pyperf_probe.report.options import parse_args, parse_callgraph
from pyperf_probe.traceevent.printfmt import Event

ENTRY_FORMAT = """name: leaf
ID: 2326
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;
\tfield:s32 n;\toffset:16;\tsize:4;\tsigned:1;
\tfield:u64 sp;\toffset:20;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] arg3;\toffset:28;\tsize:4;\tsigned:1;

print fmt: "(%lx) n=%d sp=0x%Lx arg3=\\"%s\\"", REC->__probe_ip, REC->n, REC->sp, __get_str(arg3)
"""
RETURN_FORMAT = """name: leaf__return
ID: 2327
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long __probe_func;\toffset:8;\tsize:8;\tsigned:0;
\tfield:unsigned long __probe_ret_ip;\toffset:16;\tsize:8;\tsigned:0;

print fmt: "(%lx <- %lx)", REC->__probe_func, REC->__probe_ret_ip
"""


def test_print_fmt_of_an_entry_probe_with_arguments():
    text = b"hello\0"
    raw = struct.pack("<HBBiQiQI", 7, 0, 0, 42, 0x55F9D7FCF1DE, -3, 0x7FFC1000, (len(text) << 16) | 32) + text
    assert Event.parse(ENTRY_FORMAT).info(raw) == '(55f9d7fcf1de) n=-3 sp=0x7ffc1000 arg3="hello"'


def test_print_fmt_of_a_return_probe():
    raw = struct.pack("<HBBiQQ", 8, 0, 0, 42, 0x1169, 0x11A0)
    assert Event.parse(RETURN_FORMAT).info(raw) == "(1169 <- 11a0)"


def test_unknown_print_arguments_fall_back_to_the_field_list():
    """A helper perf's libtraceevent does not know: [FAILED TO PARSE] and every field raw, as perf prints it."""
    fmt = Event.parse(RETURN_FORMAT.replace("REC->__probe_ret_ip", "foo(REC->x)"))
    raw = struct.pack("<HBBiQQ", 8, 0, 0, 42, 0x1169, 0x11A0)
    assert fmt.info(raw) == "[FAILED TO PARSE] __probe_func=0x1169 __probe_ret_ip=0x11a0"


def _f(name, start, dso="prog", rank=1, inlined=False):
    return RFrame(name=name, inlined=inlined, dso_name=dso, dso_rank=rank, sym_start=start, avma=start + 4,
                  rip=start + 4)


A, B, C, D = _f("a", 0x100), _f("b", 0x200), _f("c", 0x300), _f("d", 0x400)


def _append(root, frames, period=1):
    root.append([f.key for f in frames], list(frames), period)


def test_tree_splits_a_node_where_chains_diverge():
    root = cc.CallchainRoot()
    _append(root, [A, B, C], 2)
    _append(root, [A, B, D], 1)
    _append(root, [A, B], 4)
    (ab,) = root.node.children.values()
    assert [f.name for f in ab.val] == ["a", "b"]
    assert (ab.hit, ab.children_hit, ab.count, ab.children_count) == (4, 3, 1, 2)
    assert sorted(f.name for n in ab.children.values() for f in n.val) == ["c", "d"]
    assert root.node.children_hit == 7 and root.max_depth == 3


def test_equal_siblings_keep_perfs_key_order_descending():
    root = cc.CallchainRoot()
    for frames in ([A, B], [A, D], [A, C]):
        _append(root, frames)
    st = cc.sort_graph_abs(root, 0)
    (a,) = st.children(st.root)
    assert [c.val[0].name for c in st.children(a)] == ["d", "c", "b"]


def test_flat_lists_nodes_with_hits_by_hit():
    root = cc.CallchainRoot()
    _append(root, [A, B], 1)
    _append(root, [A, C], 3)
    _append(root, [A], 2)
    assert [n.path_frames()[-1].name for n in cc.sort_flat(root, 0)] == ["c", "a", "b"]


def test_fractal_threshold_is_relative_to_each_parent():
    root = cc.CallchainRoot()
    _append(root, [A, B], 99)
    _append(root, [A, C], 1)
    st = cc.sort_graph_rel(root, 2.0)  # ceil(100 * 2%) = 2: c (1) is dropped under a
    (a,) = st.children(st.root)
    assert [c.val[0].name for c in st.children(a)] == ["b"]


def test_graph_text_trunk_branches_and_remainder():
    root = cc.CallchainRoot()
    _append(root, [A, B], 3)
    _append(root, [A, C], 1)
    text = callgraph_text.render(root, callgraph_text.GraphParams(mode="graph"), 4, 4, 0)
    assert text.splitlines() == ["            |", "            ---a", "               |          ",
                                 "               |--75.00%--b", "               |          ",
                                 "                --25.00%--c", ""]


def test_rbtree_order_is_sorted_for_a_total_order():
    items = [5, 3, 9, 1, 7, 2, 8, 6, 4, 0]
    assert rbtree.insertion_order(items, lambda new, old: new < old) == sorted(items)


def test_children_count_a_recursive_function_once_per_sample():
    keys = sortkeys.parse_sort("sym")
    h = Hists(keys, children=True, callchains=True, caller_order=True)
    chain = (A, B, B, C)  # a <- b <- b <- c (leaf first)
    h.count(1)
    h.add("prog", 1, 1, A, chain, chain, None)
    h.finish()
    by_name = {e.loc.name: e for e in h.entries.values()}
    assert by_name["b"].period_acc == 1 and by_name["b"].period == 0
    assert by_name["a"].period == 1 and by_name["c"].period_acc == 1


def test_callgraph_option_parsing():
    spec = parse_callgraph("fractal,5,3,caller,count")
    assert (spec.mode, spec.threshold, spec.print_limit, spec.order, spec.value) == ("fractal", 5, 3, "caller",
                                                                                      "count")
    with pytest.raises(UsageError):
        parse_callgraph("graph,lots")


def test_command_line_prefixes_optional_g_and_grouped_flags():
    opts = parse_args(["-i", "x.data", "--comm", "a,b", "-g", "flat", "-nq", "--no-children", "--sort=dso"])
    assert (opts.input, opts.comms, opts.callgraph, opts.show_nr_samples, opts.quiet, opts.children,
            opts.sort) == ("x.data", ["a", "b"], "flat", True, True, False, "dso")
    assert parse_args(["-g", "--stdio"]).callgraph == ""
    with pytest.raises(UsageError):
        parse_args(["--no-such-option"])
    with pytest.raises(UsageError):
        parse_args(["--stdio-style=2.6"])


def test_tip_from_the_file_and_perfs_fallback(tmp_path):
    tip_file = tmp_path / "tips.txt"
    tip_file.write_text("only one tip\n\n")
    assert tips.random_tip(str(tip_file)) == "Tip: only one tip"
    assert tips.random_tip(str(tmp_path / "missing.txt")) == "Cannot load tips.txt file, please install perf!"


def test_pager_choice_and_no_pager_off_a_terminal():
    assert pager.pager_command({"PAGER": "cat"}) is None
    assert pager.pager_command({"PERF_PAGER": "most", "PAGER": "less"}) == "most"
    out = io.StringIO()
    pager.write_paged("text\n", out)
    assert out.getvalue() == "text\n"


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_print_fmt_never_raises_on_any_raw_bytes(raw):
    for text in (ENTRY_FORMAT, RETURN_FORMAT):
        assert isinstance(Event.parse(text).info(raw), str)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from([A, B, C, D]), min_size=1, max_size=6),
                          st.integers(min_value=1, max_value=9)), min_size=1, max_size=30))
def test_tree_hits_add_up(chains):
    """Every node's children_hit is the sum of its children's cumulative hits, and the root holds all."""
    root = cc.CallchainRoot()
    for frames, period in chains:
        _append(root, frames, period)
    assert root.node.children_hit == sum(p for _, p in chains)
    stack = [root.node]
    while stack:
        node = stack.pop()
        assert node.children_hit == sum(c.cumul_hits for c in node.children.values())
        assert node.children_count == sum(c.cumul_counts for c in node.children.values())
        stack.extend(node.children.values())
