"""pyperf argdist without the kernel: bcc's specifier grammar and words, the expression language's types and
errors (a caret under the token), the key layout, and bcc's output (tables, log2 histograms)."""
import pytest

from pyperf_probe.argdist import display as D
from pyperf_probe.argdist.program import key_layout
from pyperf_probe.argdist.spec import SpecError, parse_spec
from pyperf_probe.bpf import ctype as C
from pyperf_probe.bpf.context import FunctionContext, SdtContext, parse_signature
from pyperf_probe.bpf.expr import ExprError, parse
from pyperf_probe.bpf.interp import Env, evaluate
from pyperf_probe.bpf.typed import check, check_value


# --- specifiers ---------------------------------------------------------------------------------------------

def test_full_specifier():
    s = parse_spec("p:c:write(int fd, const void *buf, size_t count):size_t,int:count,fd:fd==1#writes", "freq")
    assert (s.probe_type, s.library, s.function) == ("p", "c", "write")
    assert s.signature == "int fd, const void *buf, size_t count"
    assert s.expr_types == ("size_t", "int")
    assert [e.text for e in s.exprs] == ["count", "fd"]
    # offsets point into the raw text
    raw = s.raw
    assert raw[s.exprs[1].offset:].startswith("fd:fd==1")
    assert raw[s.filter.offset:] == "fd==1#writes"
    assert s.filter.text == "fd==1" and s.label == "writes" and s.display_name == "writes"


def test_default_expressions():
    s = parse_spec("p:c:fork()", "freq")
    assert s.is_default_expr and s.expr_types == ("u64",) and [e.text for e in s.exprs] == ["1"]
    r = parse_spec("r:c:read()", "hist")
    assert r.expr_types == ("int",) and [e.text for e in r.exprs] == ["$retval"]


def test_commas_inside_calls_do_not_split():
    s = parse_spec('p:c:open(char *path):int,char*:STRCMP("/tmp", path),path', "freq")
    assert [e.text for e in s.exprs] == ['STRCMP("/tmp", path)', "path"]


@pytest.mark.parametrize("raw,kind,words", [
    ("p:c", "freq", "at least the probe type, library, and function signature must be specified"),
    ("p:c:f():a:b:c:d", "freq", "extraneous ':'-separated parts detected"),
    ("x:c:f()", "freq", "probe type must be 'p', 'r', 't', or 'u' but got 'x'"),
    ("p:c:f", "freq", "function signature 'f' has an invalid format"),
    ("p:c:f():int,int:a", "freq", "mismatched # of exprs and types"),
    ("p:c:f():int,int:a,b", "hist", "histograms can only have 1 expr"),
    ("p:c:f()", "hist", "histograms must have expr"),
])
def test_bcc_errors(raw, kind, words):
    with pytest.raises(SpecError) as exc:
        parse_spec(raw, kind)
    assert exc.value.message == f"error parsing probe '{raw}': {words}"


# --- expressions --------------------------------------------------------------------------------------------

def typed(text, signature="int fd, const char *buf, size_t count", retprobe=False):
    return check(parse(text), FunctionContext(parse_signature(signature), retprobe))


def test_signature_types():
    params = dict(parse_signature("const char* name, unsigned long n, u8 flag, struct timespec *req"))
    assert params["name"].is_char_pointer and params["name"].size == 8
    assert params["n"] == C.ULONG and params["flag"].size == 1 and not params["flag"].signed
    assert params["req"].is_pointer and params["req"].pointee.name == "struct timespec"


def test_usual_arithmetic_conversions():
    assert typed("fd + 1").ctype == C.INT
    assert typed("fd + count").ctype.name == "size_t"        # unsigned long wins
    assert typed("fd < count").value == ("<", C.ULONG._replace(name="size_t"))
    assert typed("(unsigned char)fd").ctype == C.UCHAR
    assert typed("buf + 1").ctype.is_pointer
    assert typed("fd ? 1 : 2L").ctype == C.LONG
    assert typed("-1").value == -1 and typed("0xffffffff").ctype == C.UINT and typed("4294967296").ctype == C.LONG


def _env(**regs):
    from pyperf_probe.bpf.context import pt_regs_offset
    env = Env()
    env.regs = {pt_regs_offset(k): v for k, v in regs.items()}
    return env


def test_interpreter_follows_c():
    env = _env(di=0xFFFFFFFF, dx=5)           # fd = -1 (int in the low half), count = 5
    assert evaluate(typed("fd"), env) == -1
    assert evaluate(typed("fd < count"), env) == 0          # -1 converted to size_t is huge
    assert evaluate(typed("fd < (int)count"), env) == 1
    assert evaluate(typed("fd / 2"), env) == 0              # truncation toward zero
    assert evaluate(typed("-7 % 3"), env) == -1
    assert evaluate(typed("count / 0"), env) == 0 and evaluate(typed("count % 0"), env) == 5   # BPF's
    assert evaluate(typed("(unsigned char)300"), env) == 44
    assert evaluate(typed("1 << 31"), env) == -(1 << 31)   # int wraps
    assert evaluate(typed("fd && count || 0"), env) == 1
    assert evaluate(typed("!fd"), env) == 0 and evaluate(typed("~count"), env) == (1 << 64) - 6


def test_sdt_operands():
    ctx = SdtContext(["-4@%edi", "8@-16(%rbp)", "4@$5", "-2@%ax"])
    env = _env(di=0x1FFFFFFFE, ax=0xFFFF)
    assert evaluate(check(parse("arg1"), ctx), env) == -2
    assert evaluate(check(parse("arg3"), ctx), env) == 5
    assert evaluate(check(parse("arg4"), ctx), env) == -1
    assert check(parse("arg2"), ctx).op == "deref"
    with pytest.raises(ExprError, match="4 argument"):
        check(parse("arg5"), ctx)


@pytest.mark.parametrize("text,message,caret", [
    ("fd = 1", "assignment is not supported", "   ^"),
    ("fd + ", "expected a value at the end of the expression", "     ^"),
    ("nosuch * 2", "unknown name 'nosuch'", "^^^^^^"),
    ("strlen(buf)", "calling functions (strlen) is not supported", "^^^^^^"),
    ("buf->len", "'->len': argdist does not know the layout", "   ^^^^^"),
    ("$entry(fd)", "$entry(...) is for return probes (r:)", "^^^^^^^^^^"),
    ("(float)fd", "unknown type 'float'", " ^^^^^"),
    ("&fd", "taking an address is not supported", "^"),
    ("fd @ 2", "unexpected character '@'", "   ^"),
])
def test_errors_point_at_the_token(text, message, caret):
    with pytest.raises(ExprError) as exc:
        typed(text)
    assert message in exc.value.message
    rendered = exc.value.render(text).split("\n")
    assert rendered[1] == "    " + text
    assert rendered[2] == "    " + caret


def test_retprobe_names():
    t = typed("$latency", retprobe=True)
    assert t.op == "arith" and t.kids[1].op == "saved"
    with pytest.raises(ExprError, match=r"read it as \$entry\(fd\)"):
        typed("fd", retprobe=True)


def test_string_values():
    ctx = FunctionContext(parse_signature("char *s"), False)
    assert check_value(parse("s"), ctx, C.parse_type("char*")).ctype.is_char_pointer
    eq = check(parse('s == "abc"'), ctx)
    assert eq.op == "streq" and eq.value == (b"abc", False)
    assert check(parse('STRCMP("ab", s)'), ctx).value == (b"ab", True)
    with pytest.raises(ExprError, match="is a string"):
        check(parse("$COMM + 1"), ctx)


# --- layout and output --------------------------------------------------------------------------------------

def test_key_layout_is_c_struct_layout():
    fields, size = key_layout([C.CHAR, C.ULONG, C.parse_type("char*"), C.INT], 5)
    assert [(f.offset, f.size) for f in fields] == [(0, 1), (8, 8), (16, 5), (24, 4)]
    assert size == 32


def test_log2_histogram_text():
    vals = [0] * 65
    vals[1], vals[3], vals[4] = 6, 40, 13
    assert D.log2_hist_lines(vals, "args->count") == [
        "     args->count         : count     distribution",
        "         0 -> 1          : 6        |******                                  |",
        "         2 -> 3          : 0        |                                        |",
        "         4 -> 7          : 40       |****************************************|",
        "         8 -> 15         : 13       |*************                           |",
    ]
    assert D.log2_hist_lines([0] * 65, "x") == []
    wide = [0] * 65
    wide[40] = 1
    lines = D.log2_hist_lines(wide, "v")
    assert lines[0] == "               v                             : count     distribution"
    assert lines[-1] == "        549755813888 -> 1099511627775        : 1        |********************|"


def test_freq_table_text():
    spec = parse_spec("p:c:malloc(size_t size):size_t,char*:size,$COMM#allocs", "freq")
    fields, _ = key_layout([C.ULONG, C.parse_type("char*")], 16)
    k1 = (16).to_bytes(8, "little") + b"bash".ljust(16, b"\0")
    k2 = (32).to_bytes(8, "little") + b"sh".ljust(16, b"\0")
    assert D.freq_lines(spec, {k1: 3, k2: 10}, fields, None) == [
        "allocs", "\tCOUNT      EVENT", "\t3          size = 16, $COMM = b'bash'",
        "\t10         size = 32, $COMM = b'sh'"]
    assert D.freq_lines(spec, {k1: 3, k2: 10}, fields, 1)[2:] == ["\t10         size = 32, $COMM = b'sh'"]
    r = parse_spec("r:c:read()", "freq")
    rf, _ = key_layout([C.INT], 80)
    assert D.freq_lines(r, {(-1 & 0xFFFFFFFF).to_bytes(4, "little"): 2}, rf, None)[2] == "\t2          retval = -1"
    assert D.display_expr("$latency/$entry(size)") == "$latency/size"


def test_exported_functions_found_as_the_probe_layer_finds_them():
    """The .dynsym shortcut gives the probe layer's uprobe for an exported function of libc."""
    from pyperf_probe.argdist.probes import exported_function_defs
    from pyperf_probe.cmd_tplist import _library_path
    from pyperf_probe.probe.convert import from_symbols
    from pyperf_probe.probe.spec import ProbePoint, ProbeSpec
    libc = _library_path("c")
    for name in ("malloc", "write", "free"):
        fast = exported_function_defs(libc, name)
        full = from_symbols(ProbeSpec(point=ProbePoint(function=name)), libc, warn=lambda _: None)
        assert [d.file_offset for d in fast] == [d.file_offset for d in full]
    assert exported_function_defs(libc, "no_such_function_here") == []
