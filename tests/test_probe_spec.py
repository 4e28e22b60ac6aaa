"""probe/spec.py, args.py, strfilter.py, naming.py and tracedef.py on their own: perf's grammar, its
exact error texts, printing back, filters and names (probe-event.c, strfilter.c, string.c)."""
import pytest
from hypothesis import given, settings, strategies as st

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe import naming
from pyperf_probe.probe.spec import parse_probe_command
from pyperf_probe.probe.strfilter import StrFilter, strglobmatch
from pyperf_probe.probe.tracedef import UprobeDef, parse_uprobe_line
from pyperf_probe.probe.args import TraceArg


@pytest.mark.parametrize("text,printed,point", [
    ("leaf", "leaf", "leaf"),
    ("leaf%return", "leaf%return", "leaf%return"),
    ("malloc+0x10", "malloc+16", "malloc+16"),
    ("g:e=mid_a", "g:e=mid_a", "mid_a"),
    ("e=mid_a n", "probe:e=mid_a n", "mid_a"),
    ("leaf:3", "probe:leaf_L3=leaf:3", "leaf:3"),
    ("prog.c:30", "@prog.c:30", "@prog.c:30"),
    ("f@a.c", "f@a.c", "f@a.c"),
    ("f@/a/very/long/path/name/that/is/long/src/file.c", "f@name/that/is/long/src/file.c",
     "f@name/that/is/long/src/file.c"),
    ("take_string text:string len=%si:u32", "take_string text:string len=%si:u32", "take_string"),
    ("f p->a.b[2]", "f b=p->a.b[2]", "f"),
    ("ns\\:\\:f", "ns::f", "ns::f"),
    ("0x1234 %di", "0x1234 %di", "0x1234"),
])
def test_parse_and_print_back(text, printed, point):
    spec = parse_probe_command(text)
    assert str(spec) == printed
    assert spec.point.text() == point


@pytest.mark.parametrize("text,message", [
    ("a@b@c", "SRC@SRC is not allowed."),
    ("f+x", "There is non-digit character in offset."),
    ("f:x", "There is non-digit char in line number."),
    ("f%ret", "%ret is not supported."),
    ("1x=f", "1x is bad for event name -it must follow C symbol-naming rule."),
    ("g-1:e=f", "g-1 is bad for event name -it must follow C symbol-naming rule."),
    ("f:3+4", "Offset can't be used with line number."),
    ("f+4%return", "Offset/Line/Lazy pattern can't be used with return probe."),
    ("f%return n", "You can't specify local variable for kretprobe."),
    ("a.c:3;x", "Lazy pattern can't be used with line number."),
    ("prog.c;x=1 a", None),
    ("0x12z", "Invalid absolute address."),
])
def test_semantic_errors(text, message):
    if message is None:
        assert parse_probe_command(text).point.lazy_line == "x=1"
        return
    with pytest.raises(ProbeError) as err:
        parse_probe_command(text)
    assert err.value.message == f"Semantic error :{message}\n"


def test_need_dwarf():
    assert not parse_probe_command("f %di $retval").need_dwarf
    assert parse_probe_command("f n").need_dwarf
    assert parse_probe_command("f $params").need_dwarf
    assert parse_probe_command("f:3").need_dwarf


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True),
       st.sampled_from(["", "%return", "+8", ":4", "@x.c"]),
       st.lists(st.sampled_from(["%di", "+0(%si):string", "n", "x=%dx:u32", "$stack2"]), max_size=3))
def test_round_trip(func, suffix, args):
    if suffix == "%return" and any(a in ("n",) for a in args):
        return
    spec = parse_probe_command(" ".join([func + suffix] + args))
    again = parse_probe_command(str(spec).split("=", 1)[-1] if spec.event and ":" in str(spec).split(" ")[0]
                                and "_L" in (spec.event or "") else str(spec))
    assert again.point == spec.point and again.args == spec.args


@pytest.mark.parametrize("rules,text", [
    ("!_* & !*@plt", "(!_*)&(!*@plt)"),
    ("a|b&c", "a|(b&c)"),
    ("a&b|c", "(a&b)|c"),
    ("!(a|b)", "!(a|b)"),
])
def test_filter_shape(rules, text):
    assert StrFilter(rules).text() == text


@pytest.mark.parametrize("rules,accepted", [
    ("!_* & !*@plt", ["malloc", "b", "time", "leaf"]),
    ("*@plt|leaf", ["leaf", "a@plt", "__x@plt"]),
    ("[st]ime*|!*[a-z]*", ["time", "_1"]),
    ("?al*", ["malloc"]),
    ("m[b-z]*", []),
    ("\\_x", ["_x"]),
])
def test_filter_matches(rules, accepted):
    names = ["malloc", "_x", "a@plt", "b", "__x@plt", "time", "leaf", "_1"]
    flt = StrFilter(rules)
    assert [n for n in names if flt.compare(n)] == [n for n in names if n in accepted]


@pytest.mark.parametrize("rules,pos", [("a b", 3), ("a&", 3), ("&a", 1), ("a)", 2)])
def test_filter_errors(rules, pos):
    with pytest.raises(ProbeError) as err:
        StrFilter(rules)
    assert err.value.message.startswith(f"Filter parse error at {pos}.\nSource: \"{rules}\"\n")


def test_filter_or():
    flt = StrFilter("a")
    flt.or_("b").or_("c|d")
    assert flt.text() == "(a|b)|(c|d)" and flt.compare("d") and not flt.compare("e")


@pytest.mark.parametrize("text,pattern,result", [
    ("malloc", "mal*", True), ("malloc", "*oc", True), ("malloc", "m?lloc", True),
    ("malloc", "[a-m]alloc", True), ("malloc", "[!m]alloc", False), ("a*b", "a\\*b", True),
    ("ab", "a\\*b", False), ("", "*", True), ("x", "", False),
])
def test_glob(text, pattern, result):
    assert strglobmatch(text, pattern) is result


def test_group_names():
    assert naming.group_for_exec("/usr/lib/x86_64-linux-gnu/libc.so.6") == "probe_libc"
    assert naming.group_for_exec("/tmp/prog_nodbg") == "probe_prog_nodbg"
    assert naming.group_for_exec("/usr/bin/python3.11") == "probe_python3"
    assert naming.group_for_exec("/x/libstdc++.so.6") == "probe_libstdc"


def test_event_names():
    assert naming.new_event_name("ptmalloc_init.part.0", set(), False, False) == "ptmalloc_init"
    assert naming.new_event_name("aio_cancel@@GLIBC_2.34", set(), False, False) == "aio_cancel"
    assert naming.new_event_name("leaf", set(), True, False) == "leaf__return"
    assert naming.new_event_name("leaf", {"leaf", "leaf_1"}, False, True) == "leaf_2"
    assert naming.new_event_name("leaf", {"leaf__return"}, True, True) == "leaf_1"
    with pytest.raises(naming.EventExists) as err:
        naming.new_event_name("leaf", {"leaf"}, False, False)
    assert err.value.errno == 17
    with pytest.raises(ProbeError, match='Internal error: "shapes::describe" is an invalid event name.'):
        naming.new_event_name("shapes::describe", set(), False, True)


def test_uprobe_line_round_trip():
    d = UprobeDef(path="/bin/x", file_offset=0x1169, retprobe=True, group="g", event="e",
                  args=(TraceArg("%di", "n", "s32"), TraceArg("$retval")))
    assert d.text() == "r:g/e /bin/x:0x1169 n=%di:s32 $retval"
    listed = parse_uprobe_line("r:g/e /bin/x:0x0000000000001169 n=%di:s32 arg2=$retval")
    assert (listed.group, listed.event, listed.file_offset, listed.retprobe) == ("g", "e", 0x1169, True)
    assert [a.name for a in listed.args] == ["n", "arg2"]
    ref = parse_uprobe_line("p:sdt_tick/loop2 /t/tick:0x0000000000001180(0x4010) arg1=%ax:s32")
    assert ref.ref_ctr_offset == 0x4010 and ref.file_offset == 0x1180


def _reference_compare(node, text):
    """strfilter_node__compare with every glob matched through its regular expression."""
    import re
    from pyperf_probe.probe.strfilter import glob_to_regex
    if node.op == "|":
        return _reference_compare(node.left, text) or _reference_compare(node.right, text)
    if node.op == "&":
        return _reference_compare(node.left, text) and _reference_compare(node.right, text)
    if node.op == "!":
        return not _reference_compare(node.right, text)
    return re.fullmatch(glob_to_regex(node.text), text, re.DOTALL) is not None


_GLOBS = ["_*", "*@plt", "mem*", "*a*", "a", "a*b", "?b", "[ab]*", "*", "\\_x", "a**", "**b", "*a*b*", ""]
_NAMES = ["", "a", "ab", "_x", "mem", "memcpy@plt", "b", "ba", "aab", "_", "x@plt", "a*b", "_x", "mem"]


@settings(max_examples=300, deadline=None)
@given(terms=st.lists(st.tuples(st.booleans(), st.sampled_from([g for g in _GLOBS if g])), min_size=1, max_size=5),
       ops=st.lists(st.sampled_from("&|"), min_size=4, max_size=4), negate_all=st.booleans(),
       extra=st.sampled_from([None] + [g for g in _GLOBS if g]))
def test_filter_select_and_compare_agree_with_regex(terms, ops, negate_all, extra):
    """The C-level glob tests and the list-at-a-time select give what regex matching of every glob gives."""
    rules = "".join((ops[i - 1] if i else "") + ("!" if neg else "") + g for i, (neg, g) in enumerate(terms))
    if negate_all:
        rules = f"!({rules})"
    flt = StrFilter(rules)
    if extra:
        flt.or_(extra)
    expected = [n for n in _NAMES if _reference_compare(flt.root, n)]
    assert [n for n in _NAMES if flt.compare(n)] == expected
    assert flt.select(_NAMES) == expected


@settings(max_examples=300, deadline=None)
@given(terms=st.lists(st.tuples(st.booleans(), st.sampled_from([g for g in _GLOBS if g] + ["a*b*", "*b", "mem"])),
                      min_size=1, max_size=4),
       ops=st.lists(st.sampled_from("&|"), min_size=3, max_size=3),
       names=st.lists(st.sampled_from(_NAMES + ["x", "bb", "a\0b", "memb"]), max_size=6))
def test_filter_select_on_any_names_agrees_with_regex(terms, ops, names):
    """select() on short lists, where a glob's witness (the string the joined names must contain for any
    of them to match) is often absent and the per-name test skipped: still what regex matching gives."""
    rules = "".join((ops[i - 1] if i else "") + ("!" if neg else "") + g for i, (neg, g) in enumerate(terms))
    flt = StrFilter(rules)
    assert flt.select(names) == [n for n in names if _reference_compare(flt.root, n)]


@pytest.mark.parametrize("pattern", _GLOBS)
def test_glob_forms_agree_with_regex(pattern):
    import re
    from pyperf_probe.probe.strfilter import glob_to_regex
    for name in _NAMES:
        assert strglobmatch(name, pattern) is (re.fullmatch(glob_to_regex(pattern), name, re.DOTALL) is not None)


@settings(max_examples=300, deadline=None)
@given(terms=st.lists(st.tuples(st.booleans(), st.sampled_from([g for g in _GLOBS if g] + ["ab*", "abc", "a?"])),
                      min_size=1, max_size=4),
       ops=st.lists(st.sampled_from("&|"), min_size=3, max_size=3),
       prefix=st.sampled_from(["", "_", "a", "ab", "abc", "m", "x", "*", "\\"]),
       rests=st.lists(st.text("ab_@*xplt\\", max_size=6), min_size=1, max_size=20))
def test_prefix_answers_are_sound(terms, ops, prefix, rests):
    """on_prefix says True/False only when every name starting with the prefix is accepted/rejected."""
    rules = "".join((ops[i - 1] if i else "") + ("!" if neg else "") + g for i, (neg, g) in enumerate(terms))
    flt = StrFilter(rules)
    answer = flt.root.on_prefix(prefix)
    if answer is not None:
        assert all(flt.compare(prefix + rest) is answer for rest in rests), (rules, prefix)
    assert flt.rejects_prefix(prefix) is (answer is False)


def test_default_funcs_filter_rejects_underscore_names():
    flt = StrFilter("!_* & !*@plt")
    assert flt.rejects_prefix("_") and not flt.rejects_prefix("m") and not flt.rejects_prefix("")
    assert StrFilter("mem*").rejects_prefix("x") and not StrFilter("mem*").rejects_prefix("m")


@pytest.mark.parametrize("rules", ["!_* & !*@plt", "mem*", "!mem* | x", "_*", "a|b*", "\\_x", "*", "!*"])
def test_rejected_initials_are_rejects_prefix(rules):
    initials = set("_amxbz*?\\")
    flt = StrFilter(rules)
    assert flt.rejected_initials(initials) == {c for c in initials if flt.rejects_prefix(c)}
