"""perf's event grammar (pyperf_probe/events): the events, modifiers, terms and groups perf 6.1 makes of an -e
value, and its syntax errors with the caret where perf puts it. The expected texts are perf 6.1's
(``perf record -e SPEC true`` on the project's machine, 80 columns); where real perf is installed the error
texts are also compared with it directly."""
import os
import subprocess

import pytest

from pyperf_probe.events import lexer, modifiers, tables
from pyperf_probe.events.errors import EventSyntaxError, format_error
from pyperf_probe.events.evsel import Evsel, modifier_suffix
from pyperf_probe.events.parser import parse

PERF = "/usr/bin/perf"
HAVE_TRACEFS = os.path.isdir("/sys/kernel/tracing/events/sched")


def error_text(spec):
    with pytest.raises(EventSyntaxError) as info:
        parse(spec)
    return format_error(info.value, spec, width=80)


def caret(spec, column, message, help=None):
    """perf's layout for an error at ``column`` of a spec short enough not to be cut."""
    text = f"event syntax error: '{spec}'\n" + " " * (21 + column) + "\\___ " + message + "\n"
    return text + (f"\n{help}\n" if help is not None else "")


VALID = ("valid terms: config,config1,config2,name,period,freq,branch_type,time,call-graph,stack-size,"
         "no-inherit,inherit,max-stack,nr,no-overwrite,overwrite,driver-config,percore,aux-output,aux-sample-size,"
         "metric-id")

# spec -> perf 6.1's text (before "Run 'perf list' ...")
ERRORS = {
    "foo": caret("foo", 0, "parser error"),
    "cpu_clock": caret("cpu_clock", 0, "parser error"),
    "cpu-clock:x": caret("cpu-clock:x", 9, "parser error"),
    "cpu-clock:uu": caret("cpu-clock:uu", 10, "Bad modifier"),
    "cpu-clock:pppp": caret("cpu-clock:pppp", 10, "Bad modifier"),
    "cpu-clock:u:k": caret("cpu-clock:u:k", 10, "parser error"),
    "cpu-clock,": caret("cpu-clock,", 0, "parser error"),
    ",cpu-clock": caret(",cpu-clock", 1, "parser error"),
    "r12g": caret("r12g", 0, "parser error"),
    "L1-dcache-foo": caret("L1-dcache-foo", 9, "parser error"),
    "a:b:c": caret("a:b:c", 1, "parser error"),
    "cpu-clock/foo=1/": caret("cpu-clock/foo=1/", 10, "unknown term", VALID),
    "nosuchpmu/config=1/": caret("nosuchpmu/config=1/", 0, "Cannot find PMU `nosuchpmu'. Missing kernel support?"),
    # long texts are cut on the left: the caret then stays at column 13 of what is shown
    "cpu-clock/period=x/": "event syntax error: '..ock/period=x/'\n" + " " * 34 + "\\___ expected numeric value\n",
    "cpu-clock/max-stack=x/": "event syntax error: '../max-stack=x/'\n" + " " * 34
                              + "\\___ expected numeric value\n",
    "cpu-clock/call-graph=dwarf,4096/": "event syntax error: '..graph=dwarf,4096/'\n" + " " * 34
                                        + "\\___ parser error\n",
    "cpu-clock/period=1000/:u": "event syntax error: '..period=1000/:u'\n" + " " * 34 + "\\___ parser error\n",
    "cpu-clock/freq=100,name=bar/:u": "event syntax error: '..00,name=bar/:u'\n" + " " * 34
                                      + "\\___ parser error\n",
}


@pytest.mark.parametrize("spec", sorted(ERRORS))
def test_syntax_errors_as_perf_prints_them(spec):
    assert error_text(spec) == ERRORS[spec]


def test_pmu_term_errors_print_twice():
    """perf tries the PMU, then the name as an alias: both record the same error (the "Initial error")."""
    one = caret("software/foo/", 9, "unknown term 'foo' for pmu 'software'", VALID)
    assert error_text("software/foo/") == one + "\nInitial error:\n" + one


@pytest.mark.skipif(not HAVE_TRACEFS, reason="needs tracefs")
def test_tracepoint_errors():
    hint = "Hint:\tPerhaps this kernel misses some CONFIG_ setting to enable this feature?.\n"
    assert error_text("sched:nope") == caret("sched:nope", 0, "unknown tracepoint",
                                             "Error:\tFile /sys/kernel/tracing/events/sched/nope not found.\n" + hint)
    assert error_text("sched:sched_switch/period=5/") == (
        "event syntax error: '..hed_switch/period=5/'\n" + " " * 34 + "\\___ unknown term\n\n"
        "valid terms: call-graph,stack-size\n\n")


def test_cut_on_the_right_for_narrow_terminals():
    err = EventSyntaxError(2, "parser error")
    text = format_error(err, "x" * 100, width=40)
    assert text.splitlines()[0] == "event syntax error: '" + "x" * 16 + "..'"


@pytest.mark.skipif(not os.path.exists(PERF), reason="needs /usr/bin/perf")
@pytest.mark.parametrize("spec", ["foo", "cpu-clock:uu", "cpu-clock/period=x/", "a:b:c", ",cpu-clock",
                                  "cpu-clock/freq=100,name=bar/:u", "software/foo/", "L1-dcache-foo"])
def test_errors_equal_real_perf(spec, tmp_path):
    proc = subprocess.run([PERF, "record", "-e", spec, "-o", str(tmp_path / "x"), "true"], capture_output=True,
                          text=True, env=dict(os.environ, LINES="25", COLUMNS="80"))
    assert proc.stderr.split("Run 'perf list'")[0] == error_text(spec)


def one(spec):
    evs = parse(spec)
    assert len(evs) == 1
    return evs[0]


def test_symbols_and_aliases():
    for spec, (type_, config) in {"cpu-clock": (1, 0), "task-clock": (1, 1), "faults": (1, 2), "cs": (1, 3),
                                  "migrations": (1, 4), "minor-faults": (1, 5), "major-faults": (1, 6),
                                  "alignment-faults": (1, 7), "emulation-faults": (1, 8), "dummy": (1, 9),
                                  "bpf-output": (1, 10), "cycles": (0, 0), "cpu-cycles": (0, 0),
                                  "branches": (0, 4), "idle-cycles-backend": (0, 8), "ref-cycles": (0, 9),
                                  "r1234": (4, 0x1234), "5:3": (5, 3)}.items():
        ev = one(spec)
        assert (ev.type, ev.config, ev.display_name()) == (type_, config, spec)


def test_cache_events_config_as_perf_builds_it():
    assert one("L1-dcache-loads").config == 0
    assert one("L1-dcache-load-misses").config == 0x10000
    assert one("LLC-stores").config == 2 | (1 << 8)
    assert one("dTLB-prefetch-misses").config == 3 | (2 << 8) | (1 << 16)
    assert one("branch-loads").config == 5
    with pytest.raises(EventSyntaxError):  # L1-icache has no stores: perf's "invalid or unsupported event"
        parse("L1-icache-stores")
    assert ("L1-dcache-loads", 0) in tables.all_cache_events()


def test_modifiers():
    ev = one("cpu-clock:u")
    assert (ev.exclude_user, ev.exclude_kernel, ev.exclude_hv, ev.exclude_guest) == (False, True, True, True)
    ev = one("cpu-clock:k")  # an event's own modifier starts from nothing: no exclude_guest
    assert (ev.exclude_user, ev.exclude_kernel, ev.exclude_hv, ev.exclude_guest) == (True, False, True, False)
    ev = one("cpu-clock:G")
    assert (ev.exclude_host, ev.exclude_guest) == (True, False)
    assert one("cpu-clock:ppp").precise_ip == 3
    assert one("cpu-clock:D").pinned and one("cpu-clock:S").sample_read
    assert not modifiers.valid("uu") and modifiers.valid("ppp") and not modifiers.valid("ukhGHpppPSDIWebx")


def test_groups_and_leader_sampling():
    evs = parse("{cpu-clock:k,task-clock}:uS")
    assert [e.display_name() for e in evs] == ["cpu-clock:k", "task-clock"]
    assert (evs[0].leader, evs[0].nr_members, evs[1].leader) == (-1, 2, 0)
    assert all(e.sample_read for e in evs)
    # the group's u on top of the member's k: exclude_user cleared, hv still excluded
    assert (evs[0].exclude_user, evs[0].exclude_kernel, evs[0].exclude_hv) == (False, False, True)
    assert (evs[1].exclude_user, evs[1].exclude_kernel, evs[1].exclude_hv) == (False, True, True)
    evs = parse("{cpu-clock,task-clock}:D")
    assert evs[0].pinned and not evs[1].pinned  # pinned is for the leader only
    assert parse("cpu-clock,task-clock", 3)[1].leader == -1


def test_terms():
    ev = one("cpu-clock/period=1000,call-graph=fp,max-stack=3,inherit=0/u")
    assert ev.display_name() == "cpu-clock/period=1000,call-graph=fp,max-stack=3,inherit=0/u"
    assert (ev.terms.period, ev.terms.call_graph, ev.terms.max_stack, ev.terms.inherit) == (1000, "fp", 3, False)
    assert ev.exclude_kernel
    assert one("cpu-clock/name=a-b/").display_name() == "a-b"
    assert one("cpu-clock/period/").terms.period == 1
    assert one("cpu-clock/config=5/").config == 5
    assert one("cpu-clock/period=0x10/").terms.period == 16
    assert one("cpu-clock/stack-size=4096,call-graph=dwarf/").terms.stack_size == 4096


def test_generated_names():
    """evsel__add_modifiers, as perf names the cycles event it fell back to cpu-clock from."""
    assert modifier_suffix(Evsel(type=1, config=0, precise_ip=3, exclude_guest=False)) == ":ppp"
    assert modifier_suffix(Evsel(type=1, config=0, exclude_kernel=True, exclude_hv=True)) == ":uH"
    assert modifier_suffix(Evsel(type=1, config=0)) == ""
    assert Evsel(type=1, config=9, exclude_guest=False).display_name() == "dummy:HG"


def test_lexer_event_names_and_states():
    toks = lexer.tokenize("cpu-clock/period=1000/u,{sched:a,xy}")
    assert [t.kind for t in toks] == ["EVENT_NAME", "SYM", "/", "TERM", "=", "VALUE", "/", "MOD", ",", "{",
                                      "EVENT_NAME", "NAME", ":", "NAME", ",", "EVENT_NAME", "NAME", "}", "EOF"]
    assert toks[0].text == "cpu-clock/period=1000/u" and toks[10].text == "sched:a"


@pytest.mark.skipif(not os.path.isdir("/sys/bus/event_source/devices/uprobe"), reason="needs the uprobe PMU")
def test_pmu_formats_from_sysfs():
    ev = one("uprobe/retprobe/")
    assert (ev.type, ev.config) == (int(open("/sys/bus/event_source/devices/uprobe/type").read()), 1)


def test_sdt_markers_named_inside_groups_and_terms(monkeypatch):
    """The SDT markers record adds for a run are found as the grammar reads the -e value."""
    from pyperf_probe.kernel import tracefs
    from pyperf_probe.probe import sdt
    monkeypatch.setattr(tracefs, "event_exists", lambda group, event: False)
    assert sdt._missing(["{cpu-clock,sdt_tick:loop2}:S", "sdt_a:ev/max-stack=3/,sdt_c:*", "sched:x"]) == [
        ("sdt_tick", "loop2"), ("sdt_a", "ev")]
