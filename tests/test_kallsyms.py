"""symbols/kallsyms.py: kallsyms files parsed and loaded as perf 6.1's __dso__load_kallsyms does (kept types,
aliases, ends, modules, relocation), on hand-made text; the column parser against the line parser."""
import random

import pytest

from pyperf_probe.symbols import kallsyms as K

KALLSYMS = b"""\
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81000000 T first_alias
ffffffff81000010 t local_fn
ffffffff81000020 r some_rodata
ffffffff81000030 W weak_fn
ffffffff81000040 A absolute_sym
ffffffff81000050 D data_sym
ffffffff81000060 T _etext
"""


def load(text: bytes, ref=("_text", 0xFFFFFFFF81000000), modules=None):
    parsed = K.parse(text)
    return K.load(parsed, ref, (modules or {}).get, True, "test")


def test_aliases_keep_the_last_of_the_file():
    table = load(KALLSYMS)
    sym = table.lookup(0xFFFFFFFF81000000)
    assert (sym.name, sym.svma, sym.end) == ("first_alias", 0xFFFFFFFF81000000, 0xFFFFFFFF81000010)


def test_dropped_types_extend_the_previous_symbol():
    table = load(KALLSYMS)
    # 'r' and 'A' lines are not kept: local_fn runs up to weak_fn
    sym = table.lookup(0xFFFFFFFF81000025)
    assert (sym.name, sym.end) == ("local_fn", 0xFFFFFFFF81000030)
    assert table.lookup(0xFFFFFFFF81000045).name == "weak_fn"
    assert table.lookup(0xFFFFFFFF81000055).name == "data_sym"


def test_last_symbol_ends_a_page_after_its_page():
    table = load(KALLSYMS)
    assert table.lookup(0xFFFFFFFF81001FFF).name == "_etext"
    assert table.lookup(0xFFFFFFFF81002000) is None
    assert table.lookup(0xFFFFFFFF80FFFFFF) is None
    assert (table.first_start(), table.last_end()) == (0xFFFFFFFF81000000, 0xFFFFFFFF81002000)


def test_relocation_delta_and_missing_reference():
    table = load(KALLSYMS, ref=("_text", 0xFFFFFFFF91000000))
    sym = table.lookup(0xFFFFFFFF91000015)
    assert (sym.name, sym.svma) == ("local_fn", 0xFFFFFFFF91000010)
    assert load(KALLSYMS, ref=("_nope", 1)) is None
    assert load(KALLSYMS, ref=None).lookup(0xFFFFFFFF81000012).name == "local_fn"


def test_dollar_names_are_dropped():
    table = load(b"ffffffff81000000 T _text\nffffffff81000010 t $x\nffffffff81000020 T next\n")
    assert table.lookup(0xFFFFFFFF81000015).name == "_text"


def test_modules_move_to_their_maps_and_unknown_ones_are_dropped():
    text = KALLSYMS + b"ffffffffc0001000 t mod_fn\t[mymod]\nffffffffc0001100 t mod_fn2\t[mymod]\n" \
                      b"ffffffffc0005000 t gone\t[nomap]\n"
    got = {}
    target = K.ModuleTarget(0xFFFFFFFFC0000000, False, lambda table: got.setdefault("mymod", table))
    table = load(text, modules={"[mymod]": target})
    # the last kernel symbol before a module's ends at roundup(start + 4096, 4096)
    assert table.lookup(0xFFFFFFFF81001FFF).name == "_etext"
    assert table.lookup(0xFFFFFFFF81002000) is None
    assert table.lookup(0xFFFFFFFFC0001000) is None
    mod = got["mymod"]
    sym = mod.lookup(0x1050)
    assert (sym.name, sym.svma, sym.end) == ("mod_fn", 0x1000, 0x1100)
    # the last one before the dropped module's symbol: both have '[', so it ends at that symbol
    assert mod.lookup(0x4FFF).name == "mod_fn2" and mod.lookup(0x5000) is None


def test_loaded_module_loses_its_first_symbol_only():
    text = KALLSYMS + b"ffffffffc0001000 t mod_fn\t[mymod]\nffffffffc0001100 t mod_fn2\t[mymod]\n"
    got = {}
    target = K.ModuleTarget(0xFFFFFFFFC0000000, True, lambda table: got.setdefault("mymod", table))
    load(text, modules={"[mymod]": target})
    assert [n for n in got["mymod"].names] == [b"mod_fn2"]


def test_unsorted_module_tail_is_sorted():
    text = KALLSYMS + b"ffffffffc0001100 t b_fn\t[m]\nffffffffc0001000 t a_fn\t[m]\n"
    got = {}
    load(text, modules={"[m]": K.ModuleTarget(0xFFFFFFFFC0000000, False, lambda t: got.setdefault("m", t))})
    assert list(got["m"].names) == [b"a_fn", b"b_fn"]
    assert got["m"].lookup(0x10FF).name == "a_fn"


def test_function_start():
    parsed = K.parse(KALLSYMS)
    assert parsed.function_start("_text") == 0xFFFFFFFF81000000
    assert parsed.function_start("absolute_sym") == 0xFFFFFFFF81000040      # 'A' counts
    assert parsed.function_start("data_sym") is None                        # 'D' does not
    assert parsed.function_start("_etex") is None


def test_line_parser_quirks():
    # a line without a space after the address is skipped; an empty line takes the next one with it
    parsed = K.parse(b"ffffffff81000000 T a\nzzzz\nffffffff81000010T b\n\nffffffff81000020 T c\n"
                     b"ffffffff81000030 T d")
    assert [parsed.name(i) for i in range(len(parsed))] == [b"a", b"d"]


def test_column_parser_equals_line_parser():
    rng = random.Random(5)
    lines = []
    addr = 0xFFFFFFFF81000000
    for i in range(2000):
        addr += rng.choice((0, 0, 16, 32, 0x1000))
        kind = rng.choice("TtWwDdBbRrAa")
        name = f"sym_{i}" + (f"\t[mod{i % 3}]" if i > 1900 else "")
        lines.append(f"{addr:016x} {kind} {name}")
    data = ("\n".join(lines) + "\n").encode()
    slow = K._parse_lines(data)
    for fast in (K._parse_columns(data), K._parse_c(data)):
        if fast is None and not K._parse_columns(data):
            continue
        assert fast is not None
        assert list(fast.starts) == list(slow.starts) and fast.types == slow.types
        assert fast.names() == slow.names()
        for name in ("sym_7", "sym_1950", "nope"):
            assert fast.function_start(name) == slow.function_start(name)
        assert fast.lines_with(b"\t") == slow.lines_with(b"\t")


def test_c_columns_refuse_what_the_line_parser_must_read():
    from pyperf_probe.perfdata.speedups import speedups
    if speedups is None or not hasattr(speedups, "kallsyms_columns"):
        pytest.skip("the C accelerator is not built")
    for data in (b"ffff T a\n\nffff T b\n", b"ffffT a\n", b"zz T a\n", b"1 T " + b"x" * 513 + b"\n",
                 b"11112222333344445 T a\n", b"ffff \n"):
        assert speedups.kallsyms_columns(data) is None, data
    starts, types, ns, ne, in_order, trampoline = speedups.kallsyms_columns(b"ff T a\n1F t bc")
    assert (types, in_order, trampoline) == (b"Tt", False, False)
    for data, found in ((b"1 T __entry_SYSCALL_64_trampoline\n2 T b\n", True),
                        (b"1 T __entry_SYSCALL_64_trampoline", True),
                        (b"1 T __entry_SYSCALL_64_trampoline\t[m]\n", False),
                        (b"1 T x__entry_SYSCALL_64_trampoline\n", False)):
        assert speedups.kallsyms_columns(data)[5] is found
        parsed = K._parse_c(data)
        named = [i for i in parsed.lines_with(K._TRAMPOLINE) if parsed.name(i) == K._TRAMPOLINE]
        assert named == ([0] if found else [])
    parsed = K._parse_c(b"ff T a\n1F t bc")
    assert (list(parsed.starts), parsed.names()) == ([0xFF, 0x1F], [b"a", b"bc"])


def test_proc_kallsyms_if_readable():
    try:
        parsed = K.read("/proc/kallsyms")
    except OSError:
        pytest.skip("no /proc/kallsyms")
    text = parsed.function_start("_text")
    if not text:
        pytest.skip("kallsyms addresses hidden")
    table = K.load(parsed, ("_text", text), lambda name: None, True, "/proc/kallsyms")
    assert table.first_start() <= text < table.last_end()


@pytest.mark.parametrize("seed", range(20))
def test_lookups_kept_per_position_answer_as_fresh_ones(seed):
    """KallsymsSymbols.lookup keeps what follows its bisection per position: the answers of one table asked
    many times equal those of a new table asked once (random files: unsorted tails, module lines, $ names,
    ignored types, a relocation)."""
    rng = random.Random(seed)
    lines, addr = [], 0xFFFFFFFF81000000
    for i in range(rng.randrange(5, 200)):
        addr += rng.choice([0, 0x10, 0x40, 0x1000, 0x3000])
        kind = rng.choice("TtWwDdBbAaRr")
        name = rng.choice(["f", "$x", "g", "data"]) + str(i) + (f"\t[mod{i % 2}]" if rng.random() < 0.1 else "")
        lines.append(f"{addr:016x} {kind} {name}")
    if rng.random() < 0.3:
        rng.shuffle(lines)
    text = ("\n".join(["ffffffff81000000 T _text"] + lines) + "\n").encode()
    ref = ("_text", 0xFFFFFFFF81000000 - rng.choice([0, 0x200000]))
    starts = sorted({int(line.split()[0], 16) for line in lines})
    probes = [a + d for a in starts for d in (-1, 0, 1, 0x20, 0x1000)] + [0, 2**64 - 1]
    probes = [(p - 0xFFFFFFFF81000000 + ref[1]) & (2**64 - 1) for p in probes]
    shared = load(text, ref)
    for probe in probes * 2:
        assert shared.lookup(probe) == load(text, ref).lookup(probe), hex(probe)
