"""The per-record fast paths of traceevent/ print what the reference paths print: the Python renderer's
specialised pieces (traceevent/compiled.py) against its printer, TraceEvents.info's kept texts against a
fresh rendering (and none kept for %pS formats, whose names follow the kernel maps), libtraceevent's
trace_seq read through an array view when the library grows or moves its buffer."""
from __future__ import annotations

import glob
import os
import random
import struct

import pytest

from pyperf_probe.traceevent.printfmt import IS_DYNAMIC, Event
from tests.traceevent_synth import raw_record

FORMATS = sorted(glob.glob("/sys/kernel/tracing/events/*/*/format"))

SWITCH = """name: sched_switch
ID: 316
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;

print fmt: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", \
REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | \
0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state \
& ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) \
<< 1) - 1), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008, "t" }, \
{ 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I" }) : "R", REC->prev_state & \
(((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) \
<< 1) ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio
""".replace("\\\n", "")

# One number of each kind the specialised pieces handle, and a long char array (a text that outgrows the
# library's 4 KiB trace_seq buffer).
KINDS = """name: kinds
ID: 77
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:u64 a;\toffset:8;\tsize:8;\tsigned:0;
\tfield:s16 b;\toffset:16;\tsize:2;\tsigned:1;
\tfield:unsigned int c;\toffset:18;\tsize:4;\tsigned:0;
\tfield:void * p;\toffset:24;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:32;\tsize:4;\tsigned:0;
\tfield:char big[6000];\toffset:36;\tsize:6000;\tsigned:0;

print fmt: "a=%llu a8=%hhx b=%d b16=%hd c=%08x c0=%#x p=%p cast=%d z=%zu name=%s lx=%-6lx|%5.3d big=%s", \
REC->a, REC->a, REC->b, REC->b, REC->c, REC->c, REC->p, (s8)REC->a, REC->a, __get_str(name), REC->a, REC->b, \
REC->big
""".replace("\\\n", "")


def _kinds_record(rng: random.Random, big: int) -> bytes:
    name = b"eth%d\0" % rng.randrange(10)
    head = struct.pack("<HBBiQHI2xQI", 77, 0, 0, 1, rng.getrandbits(64), rng.randrange(0, 1 << 16),
                       rng.choice((0, rng.getrandbits(32))), rng.choice((0, rng.getrandbits(64))),
                       (len(name) << 16) | 6036)
    text = bytes(rng.choice(b"abcxyz") for _ in range(big)) + b"\0" * (6000 - big)
    return head + text + name


def _reference(ev: Event, raw: bytes) -> str:
    """The printer's own text (the path compiled.py specialises)."""
    if ev.failed is not None:
        return "[FAILED TO PARSE]" + ev.fields_text(raw)
    return ev.printer.print_pieces(ev.pieces, raw)


def test_specialised_pieces_print_what_the_printer_prints():
    rng = random.Random(5)
    for text in (SWITCH, KINDS):
        ev = Event.parse(text)
        for _ in range(200):
            raw = _kinds_record(rng, rng.randrange(0, 6000)) if ev.name == "kinds" else \
                raw_record(ev, rng)
            for cut in (len(raw), rng.randrange(0, len(raw) + 1)):  # whole, and cut short
                assert ev.info(raw[:cut]) == _reference(ev, raw[:cut])


@pytest.mark.skipif(len(FORMATS) < 100, reason="needs tracefs with the machine's event formats (as root)")
def test_specialised_pieces_on_every_format_of_the_machine():
    rng = random.Random(11)
    for path in FORMATS:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:  # a probe event someone removed meanwhile
            continue
        ev = Event.parse(text, path.split("/")[-3], resolve=lambda a: ("fn", a & ~0xF, None))
        for i in range(4):
            raw = bytearray(raw_record(ev, rng) if i < 2 else rng.randbytes(64 + 4 * len(ev.fields)))
            for f in ev.fields:
                if f.flags & IS_DYNAMIC and i == 3 and f.offset + 4 <= len(raw):
                    struct.pack_into("<I", raw, f.offset, (rng.randrange(16) << 16) | rng.randrange(len(raw)))
            raw = bytes(raw)
            assert ev.info(raw) == _reference(ev, raw), path


class _Tracing:
    """What TraceEvents reads of a TRACING_DATA section, for one format."""

    def __init__(self, text: str, event_id: int):
        from types import SimpleNamespace
        self.long_size, self.page_size, self.big_endian = 8, 4096, False
        self.header_page = ("\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
                            "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
                            "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
                            "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n")
        self.ftrace_formats = []
        self.events = {event_id: SimpleNamespace(text=text, system="test")}
        self.printk_formats = ""
        self.saved_cmdlines = ""


@pytest.mark.parametrize("library", [False, True])
def test_kept_texts_are_the_fresh_ones(library):
    from pyperf_probe.traceevent import libtep
    from pyperf_probe.traceevent.events import TraceEvents
    if library and libtep.load() is None:
        pytest.skip("libtraceevent.so.1 is not installed")
    rng = random.Random(3)
    kept = TraceEvents(_Tracing(KINDS, 77), use_library=library)
    records = [_kinds_record(rng, rng.choice((3, 5000, 200))) for _ in range(30)]
    first = [kept.info(77, raw) for raw in records]
    again = [kept.info(77, raw) for raw in reversed(records)]
    fresh = [TraceEvents(_Tracing(KINDS, 77), use_library=library).info(77, raw) for raw in records]
    assert first == fresh and again == fresh[::-1]
    assert any(len(t) > 4096 for t in first)  # the library's buffer grew (and the view with it)
    if library:  # both renderers agree on these formats
        assert first == [TraceEvents(_Tracing(KINDS, 77), use_library=False).info(77, raw) for raw in records]


def test_function_names_are_not_kept():
    """A %pS text follows the resolver's answers (the kernel maps of the moment): never kept."""
    from pyperf_probe.traceevent.events import TraceEvents
    text = KINDS.replace("p=%p ", "p=%pS ")
    names = ["first"]
    events = TraceEvents(_Tracing(text, 77), resolve=lambda addr: (names[0], addr, None), use_library=False)
    raw = _kinds_record(random.Random(1), 3)
    raw = raw[:24] + struct.pack("<Q", 0xFFFFFFFF81000000) + raw[32:]
    assert "p=first+0x0 " in events.info(77, raw)
    names[0] = "second"
    assert "p=second+0x0 " in events.info(77, raw)


# KINDS without its '#' conversion: every piece one a plan prints (traceevent/plan.py)
FLAT_KINDS = KINDS.replace(" c0=%#x", "").replace("REC->c, REC->c, REC->p", "REC->c, REC->p")


def test_plans_print_what_the_printer_prints():
    from pyperf_probe.traceevent.plan import flat_plan
    assert flat_plan(Event.parse(KINDS)) is None  # (its %#x)
    ev = Event.parse(FLAT_KINDS)
    plan = flat_plan(ev)
    assert plan is not None
    rng = random.Random(7)
    for _ in range(300):
        raw = _kinds_record(rng, rng.randrange(0, 6000))
        for cut in (len(raw), rng.randrange(0, len(raw) + 1)):  # whole, and cut short (the printer's then)
            assert plan(raw[:cut]) == _reference(ev, raw[:cut])
    short = flat_plan(ev, slow=lambda data: "slow")
    assert short(raw[:20]) == "slow" and short(raw) == plan(raw)


@pytest.mark.skipif(len(FORMATS) < 100, reason="needs tracefs with the machine's event formats (as root)")
def test_plans_on_every_format_of_the_machine():
    from pyperf_probe.traceevent.plan import flat_plan
    rng = random.Random(13)
    planned = []
    for path in FORMATS:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:  # a probe event someone removed meanwhile
            continue
        ev = Event.parse(text, path.split("/")[-3], resolve=lambda a: ("fn", a & ~0xF, None))
        plan = flat_plan(ev)
        if plan is None:
            continue
        planned.append(f"{ev.system}:{ev.name}")
        for i in range(6):
            raw = bytearray(raw_record(ev, rng) if i < 3 else rng.randbytes(64 + 4 * len(ev.fields)))
            for f in ev.fields:
                if f.flags & IS_DYNAMIC and i == 5 and f.offset + 4 <= len(raw):
                    struct.pack_into("<I", raw, f.offset, (rng.randrange(16) << 16) | rng.randrange(len(raw)))
            raw = bytes(raw)
            for cut in (len(raw), rng.randrange(0, len(raw) + 1)):
                assert plan(raw[:cut]) == _reference(ev, raw[:cut]), path
    assert len(planned) > len(FORMATS) // 4 and "syscalls:sys_enter_openat" in planned


def test_plans_of_computed_values_flags_and_symbols():
    """Plans of sched_switch (prev_state: ``?:`` of __print_flags over a computed mask, then ``?:`` of
    constant strings), of __print_symbolic with names and numbers, of operators on fields (the block
    events' device numbers, a comparison, ``!``, ``~``, ``-``, division by a field that may be 0) print
    what the printer prints, for every prev_state of a byte and random records, whole and cut short."""
    from pyperf_probe.traceevent.plan import flat_plan
    ops = SWITCH.split("print fmt:")[0] + (
        'print fmt: "%d,%d %s %u %s %lu %d %x %llu %u", ((unsigned int) ((REC->prev_pid) >> 20)), '
        '((unsigned int) ((REC->prev_pid) & ((1U << 20) - 1))), __print_symbolic(REC->prev_prio, '
        '{ 0, "HI" }, { 1, "TIMER" }, { HRTIMER_SOFTIRQ, "HRT" }, { -1, "MINUS" }, { 1, "AGAIN" }, '
        '{ UNKNOWN_NAME, "UNK" }), REC->prev_pid != -1 ? REC->next_pid : 0, REC->next_prio ? '
        '"yes" : REC->prev_prio ? "prio" : "no", (unsigned long)(REC->prev_state - REC->next_pid), '
        '!REC->next_prio, ~REC->prev_prio, (unsigned long long)(REC->prev_state / REC->next_prio), '
        'REC->prev_pid * REC->next_pid + (REC->next_prio << 40)\n')
    from pyperf_probe.traceevent.plan import _trace_plan_type
    rng = random.Random(16)
    for text in (SWITCH, ops):
        ev = Event.parse(text)
        plan = flat_plan(ev)
        assert plan is not None, text
        if text is SWITCH and _trace_plan_type() is not None:  # (its C plan: ?: of flags and of texts)
            assert type(plan) is _trace_plan_type()
        for i in range(600):
            raw = bytearray(raw_record(ev, rng) if i % 2 else rng.randbytes(64 + 4 * len(ev.fields)))
            state = ev.find_field("prev_state")
            if i < 256:  # every prev_state of a byte, sign bits above it
                raw[state.offset:state.offset + state.size] = ((i if i % 3 else -i) & (1 << 8 * state.size) - 1
                                                               ).to_bytes(state.size, "little")
            raw = bytes(raw)
            for cut in (len(raw), rng.randrange(0, len(raw) + 1)):
                assert plan(raw[:cut]) == _reference(ev, raw[:cut]), (text[-60:], raw[:cut])


def test_c_plans_print_what_the_python_plans_print():
    """_speedups.TracePlan (plans of numbers, pointers and char arrays printed in C) = the Python plan it
    wraps (its ``fallback``) = the printer: every integer conversion and flag C and Python print alike, on
    fields of 1, 2, 4 and 8 bytes, signed and unsigned, through casts, at their extreme values and at random,
    char arrays with and without a NUL and with bytes >= 0x80, records cut short."""
    from pyperf_probe.traceevent.plan import _trace_plan_type, flat_plan
    if _trace_plan_type() is None:
        pytest.skip("the C accelerator is not built")
    head = SWITCH.split("\nfield:char prev_comm")[0].split("format:")[0] + "format:\n" + \
        "".join(line + "\n" for line in SWITCH.split("\n") if "common_" in line) + "\n"
    fields = ("\tfield:s8 a;\toffset:8;\tsize:1;\tsigned:1;\n\tfield:u8 b;\toffset:9;\tsize:1;\tsigned:0;\n"
              "\tfield:s16 c;\toffset:10;\tsize:2;\tsigned:1;\n\tfield:int d;\toffset:12;\tsize:4;\tsigned:1;\n"
              "\tfield:unsigned int e;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:long f;\toffset:24;\tsize:8;\tsigned:1;\n"
              "\tfield:u64 g;\toffset:32;\tsize:8;\tsigned:0;\n\tfield:char s[8];\toffset:40;\tsize:8;\tsigned:0;\n"
              "\tfield:void * p;\toffset:48;\tsize:8;\tsigned:0;\n\n")
    formats = ['"%d %5d %-5d|%05d %+d % d %i", REC->a, REC->b, REC->c, REC->d, REC->e, REC->f, REC->g',
               '"%u %x %X %o %08lx %-8x|%lu %llu %zu", REC->a, REC->b, REC->c, REC->d, REC->e, REC->f, REC->g, '
               'REC->f, REC->d',
               '"%hhd %hd %ld %lld %hhu %hu %hx", REC->g, REC->g, REC->e, REC->d, REC->f, REC->c, REC->a',
               '"[%s] %p %d %u %x", REC->s, REC->p, (u8)REC->f, (int)REC->g, (unsigned short)REC->d',
               '"%3d%-3u%03x%%%s.", (s8)REC->e, (u16)REC->f, (unsigned char)REC->g, REC->s']
    rng = random.Random(161)
    extremes = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 63, (1 << 64) - 1]
    for body in formats:
        ev = Event.parse(head + fields + "print fmt: " + body + "\n")
        plan = flat_plan(ev)
        assert plan is not None and type(plan) is _trace_plan_type(), body
        for i in range(400):
            raw = bytearray(rng.randbytes(56))
            if i < 2 * len(extremes):
                value = extremes[i % len(extremes)]
                for offset, size in ((8, 1), (9, 1), (10, 2), (12, 4), (16, 4), (24, 8), (32, 8), (48, 8)):
                    raw[offset:offset + size] = (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")
            if i % 3 == 0:
                raw[40 + rng.randrange(8)] = 0
            if i % 7 == 0:
                raw[40] = 0xC3
            raw = bytes(raw)
            for cut in (len(raw), rng.randrange(0, len(raw) + 1)):
                want = _reference(ev, raw[:cut])
                assert plan(raw[:cut]) == want == plan.fallback(raw[:cut]), (body, raw[:cut].hex())


# the events of a system-wide recording whose formats compute their values (perf script's text of them:
# tests/test_traceevent_formats.py): the page of mm_page_alloc (a ?: of a sum), __print_flags of its gfp names
# behind a test, the block events' device numbers and ioprio (shifts and masks, __print_symbolic of one), %ps
SYSTEM_WIDE = ("kmem/mm_page_alloc", "block/block_rq_issue", "block/block_rq_complete",
               "workqueue/workqueue_activate_work")


def _resolve(addr: int):
    """A kernel resolver for %ps: a name for most addresses, none for some."""
    return None if addr % 3 == 0 else ("fn_%x" % (addr & 0xFF), addr & ~0xF, None)


@pytest.mark.skipif(not all(os.path.exists(f"/sys/kernel/tracing/events/{e}/format") for e in SYSTEM_WIDE),
                    reason="needs tracefs with the machine's event formats (as root)")
def test_c_plans_of_computed_values_and_functions():
    """The system-wide events' formats have C plans (TracePlan: programs of computed values, names of a
    computed value, %ps through the resolver), which print what their Python plan and the printer print on
    random records, whole and cut short, with the values their tests and masks pick out (pfn -1, gfp_flags 0,
    every ioprio class, addresses the resolver names or not)."""
    from pyperf_probe.traceevent.plan import _trace_plan_type, flat_plan
    if _trace_plan_type() is None:
        pytest.skip("the C accelerator is not built")
    rng = random.Random(1616)
    for name in SYSTEM_WIDE:
        with open(f"/sys/kernel/tracing/events/{name}/format") as f:
            ev = Event.parse(f.read(), name.split("/")[0], resolve=_resolve)
        plan = flat_plan(ev)
        assert type(plan) is _trace_plan_type(), name
        for i in range(1500):
            raw = bytearray(raw_record(ev, rng) if i % 2 else rng.randbytes(64 + 4 * len(ev.fields)))
            for f in ev.fields:
                if f.offset + f.size > len(raw) or f.size not in (2, 4, 8) or i % 5 == 0:
                    continue
                value = rng.choice((0, (1 << 8 * f.size) - 1, rng.getrandbits(8 * f.size), rng.getrandbits(16),
                                    rng.randrange(8) << 13 | rng.randrange(1024) << 3 | rng.randrange(8)))
                raw[f.offset:f.offset + f.size] = value.to_bytes(f.size, "little")
            raw = bytes(raw)
            for cut in (len(raw), rng.randrange(0, len(raw) + 1)):
                want = _reference(ev, raw[:cut])
                assert plan(raw[:cut]) == want == plan.fallback(raw[:cut]), (name, raw[:cut].hex())


def test_programs_compute_what_the_expressions_compute():
    """traceevent.plan's programs (what TracePlan computes a value with) and their Python twin eval_prog
    give each expression's value, and a plan of computed values, names and texts of them is a TracePlan
    printing what the Python plan and the printer print."""
    from pyperf_probe.traceevent import plan as plans
    ops = SWITCH.split("print fmt:")[0] + (
        'print fmt: "%d,%d %s %u %lu %d %x %llu %u %p %s|%ps %x %d", ((unsigned int) ((REC->prev_pid) >> 20)), '
        '((unsigned int) ((REC->prev_pid) & ((1U << 20) - 1))), __print_symbolic(((REC->prev_prio >> 3) & 7), '
        '{ 0, "HI" }, { 1, "TIMER" }, { HRTIMER_SOFTIRQ, "HRT" }, { -1, "MINUS" }, { 1, "AGAIN" }), '
        'REC->prev_pid != -1 ? REC->next_pid : 0, (unsigned long)(REC->prev_state - REC->next_pid), '
        '!REC->next_prio, ~REC->prev_prio, (unsigned long long)(REC->prev_state / REC->next_prio), '
        'REC->prev_pid * REC->next_pid + (REC->next_prio << 40), REC->prev_state != -1UL ? ((void *)8 + '
        'REC->prev_state) : ((void *)0), (REC->next_prio % 3) ? __print_flags(REC->next_prio % 3, "|", { 1, "A" }, '
        '{ 2, "B" }) : "none", REC->prev_state + 4, (REC->prev_prio || REC->next_pid) ^ (REC->next_prio >= 7), '
        '(s16)(REC->prev_prio <= REC->next_prio ? REC->prev_state % REC->next_pid : REC->next_pid >> 65)\n')
    ev = Event.parse(ops, resolve=_resolve)
    plan = plans.flat_plan(ev)
    if plans._trace_plan_type() is not None:
        assert type(plan) is plans._trace_plan_type()
    rng = random.Random(61)
    numbers = [piece.arg for piece in ev.pieces if piece.type != "string"]
    for i in range(800):
        raw = bytearray(raw_record(ev, rng) if i % 2 else rng.randbytes(64 + 4 * len(ev.fields)))
        if i % 4 == 0:
            for name in ("prev_pid", "next_prio", "prev_state"):
                f = ev.find_field(name)
                raw[f.offset:f.offset + f.size] = rng.choice((0, 1, 3, -1 & ((1 << 8 * f.size) - 1))).to_bytes(
                    f.size, "little")
        raw = bytes(raw)
        for cut in (len(raw), rng.randrange(0, len(raw) + 1)):
            want = _reference(ev, raw[:cut])
            assert plan(raw[:cut]) == want, raw[:cut].hex()
            if hasattr(plan, "fallback"):
                assert plan.fallback(raw[:cut]) == want
        for arg in numbers:
            made = plans._Plan()
            got = plans._number(arg, made)
            if got is None or arg.kind in ("symbol", "flags"):
                continue
            prog = made.progs[got[0]]
            names = {name: int.from_bytes(raw[offset:offset + size], "little")
                     for offset, (size, name) in made.fields.items()}
            assert plans.eval_prog(prog, raw) == eval(got[0], {}, names), got[0]


def _reference_raw(tokens) -> tuple[int, str]:
    """Tokens.raw one character at a time (``__read_token``'s loop): the reference of its runs."""
    from pyperf_probe.traceevent import tokens as tk
    ch = tokens._char()
    if not ch:
        return tk.NONE, ""
    kind = tk._ctype(ch)
    if kind in (tk.NONE, tk.NEWLINE, tk.DELIM):
        return kind, ch
    if kind == tk.OP:
        return kind, tokens._op(ch)
    if kind in (tk.DQUOTE, tk.SQUOTE):
        return tokens._quoted(ch, kind)
    out = ch
    while tokens._peek() and tk._ctype(tokens._peek()) == kind:
        out += tokens._char()
    return kind, out


def test_tokens_read_runs_as_one_character_at_a_time():
    """Tokens.raw's runs of word and space characters (matched at once over ASCII, then one character at a
    time) are the reference loop's, on random texts of ASCII, non-ASCII letters and spaces, control bytes."""
    from pyperf_probe.traceevent.tokens import NONE, Tokens
    rng = random.Random(52)
    alphabet = "aZ09_ \t\r\n\x0b\x0c\x1c\x1f\x00\x7f(),-><=|&!\"'\\éß\u00a0\u2003\u0663x"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        fast, slow = Tokens(text), Tokens(text)
        while True:
            got = fast.raw()
            assert got == _reference_raw(slow) and fast.pos == slow.pos, repr(text)
            if got[0] == NONE and fast.pos >= len(text):
                break
