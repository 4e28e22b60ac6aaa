"""`pyperf report` on tracepoint recordings against real perf 6.1 (tests/golden/tracepoints/: record.sh,
record_callchain.sh and make_goldens.sh there): the `trace` key printed by traceevent/ for every event,
`--raw-trace`, tracepoint fields as sort keys (EVENT.FIELD, FIELD, EVENT.*, %N, /raw, trace_fields) and
`-F`, with and without call chains, children and graphs; stdout byte for byte (the random tip line
aside) with libtraceevent.so.1 and with the Python renderer, and perf's words for a key it refuses.

perf 6.1 exits 0 after refusing a --sort or -F key; pyperf exits 129 there, as for any usage error, and
its usage text names pyperf's keys: only the message lines are compared."""
import lzma
import os
import re

import pytest

from pyperf_probe import cli

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "tracepoints")
KALLSYMS = os.path.join(GOLDEN, "data", "callchain.kallsyms")
# system.data's kernel is not the one the tests run on: its addresses are named by no one (an empty kallsyms;
# without one, the running kernel's would be read when its build-id is the recording's: make_goldens.sh)
SYSTEM_KALLSYMS = os.path.join(GOLDEN, "data", "system.kallsyms")
RENDERERS = {"libtraceevent": "", "python": "1"}


def _cases():
    with open(os.path.join(GOLDEN, "report_cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, data, args = line.rstrip("\n").split("|")
                yield name, data, args


CASES = list(_cases())
ERRORS = [c for c in CASES if "_err_" in c[0]]
REPORTS = [c for c in CASES if "_err_" not in c[0]]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    root = tmp_path_factory.mktemp("tp_report")
    for name in ("system", "callchain"):
        with open(os.path.join(GOLDEN, "data", f"{name}.data.xz"), "rb") as f:
            (root / f"{name}.data").write_bytes(lzma.decompress(f.read()))
    (root / "home").mkdir()
    return root


def _expected(name: str):
    base = os.path.join(GOLDEN, "expected", "report", name)
    with open(base + ".out.xz", "rb") as f:
        out = lzma.decompress(f.read()).decode()
    with open(base + ".err") as f:
        err = f.read()
    with open(base + ".rc") as f:
        return out, err, int(f.read())


def _no_tip(text: str) -> str:
    return re.sub(r"^# \((Tip: .*|Cannot load tips\.txt file, please install perf!)\)$", "# (TIP)", text,
                  flags=re.M)


def _run(root, data: str, args: str, renderer: str, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("PYPERF_NO_LIBTRACEEVENT", RENDERERS[renderer])
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)
    path = str(root / f"{data}.data")
    extra = ["--kallsyms", SYSTEM_KALLSYMS] if data == "system" else []
    rc = cli.main(["report", "-i", path, "--stdio"] + args.replace("KALLSYMS", KALLSYMS).split() + extra)
    out, err = capsys.readouterr()
    return out, err.replace(path, "INPUT"), rc


def _library_or_skip(renderer):
    if renderer == "libtraceevent":
        from pyperf_probe.traceevent import libtep
        if libtep.load() is None:
            pytest.skip("libtraceevent.so.1 is not installed (Debian libtraceevent1)")


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("name,data,args", REPORTS, ids=[c[0] for c in REPORTS])
def test_report_equals_perf(name, data, args, renderer, recordings, monkeypatch, capsys):
    _library_or_skip(renderer)
    out, err, rc = _run(recordings, data, args, renderer, monkeypatch, capsys)
    want_out, want_err, want_rc = _expected(name)
    assert _no_tip(out) == _no_tip(want_out)
    assert (err, rc) == (want_err, want_rc)


@pytest.mark.parametrize("name,data,args", ERRORS, ids=[c[0] for c in ERRORS])
def test_refused_keys_as_perf_words_them(name, data, args, recordings, monkeypatch, capsys):
    out, err, rc = _run(recordings, data, args, "python", monkeypatch, capsys)
    want_out, want_err, want_rc = _expected(name)
    assert out == want_out == ""
    assert err.split("\n")[:2] == want_err.split("\n")[:2]  # "Error:", "Unknown --sort key: `...'"
    assert (want_rc, rc) == (0, 129)


def test_trace_key_is_traceevent_for_every_tracepoint(recordings, monkeypatch, capsys):
    """The trace column of a kernel tracepoint is its print fmt's text (it was raw hex before traceevent/)."""
    out, _, rc = _run(recordings, "system", "--sort trace", "python", monkeypatch, capsys)
    assert rc == 0
    assert "  prev_comm=" in out and " ==> next_comm=" in out and "prev_comm=0x" not in out


def test_layout_words_split_as_perf_does():
    """setup_sort_list splits on ',', ' ', '{' and '}'; keys are prefixes of perf's names, case aside."""
    from pyperf_probe.report.layout import setup_sorting
    layout = setup_sorting("Sym {dso} co", None, children=True, events=(), all_tracepoints=False,
                           raw_trace=False, show_nr_samples=False)
    assert [f.name for f in layout.sort_list] == ["overhead_children", "overhead", "sym", "dso", "comm"]
    assert [f.header for f in layout.columns] == ["Children", "Self", "Symbol", "Shared Object", "Command"]
    strict = setup_sorting(None, "comm,overhead", children=True, events=(), all_tracepoints=False,
                           raw_trace=False, show_nr_samples=False)
    assert [f.header for f in strict.columns] == ["Command", "Overhead"]
    assert [f.name for f in strict.sort_list] == ["comm", "overhead"]


def test_dynamic_value_found_as_perf_finds_it():
    """``__sort__hde_entry``: the first word that starts with the field's name, cut after the name and one
    character; a word that is the name alone runs to the end of the text (perf's size_t -1)."""
    from pyperf_probe.report.dynamic import _find_value
    assert _find_value("prev_comm=bash prev_pid=7", "prev_pid") == ("7", 1)
    assert _find_value("dfd: 0x00000001, filename: 0x1", "dfd") == ("", 0)
    assert _find_value("a=1 b=2", "c") is None
    assert _find_value("x name y", "name") == ("y", (1 << 64) - 1)
    assert _find_value("", "name") is None
