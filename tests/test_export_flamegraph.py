"""`pyperf script report flamegraph` and `stackcollapse`: byte-equal to perf 6.1's scripts on cpu-clock files
(goldens of tests/golden/export; kernel frames and swapper's samples from tests/golden/kernel), tracepoint and probe samples included where perf's scripts drop them, and
the self-contained HTML page working in headless Chromium with the network off."""
from __future__ import annotations

import importlib.util
import json
import lzma
import re
import shutil
from collections import defaultdict

import pytest
from hypothesis import given, settings, strategies as st

from export_helpers import GOLDEN, cases, expected, input_copy, pyperf, symbol_args, unpack_symfs
from pyperf_probe.export.flamegraph import FlameTree, _child

PERF_FLAMEGRAPH = "/usr/lib/perf-core/scripts/python/flamegraph.py"


@pytest.fixture(scope="module")
def symfs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("export_symfs")


def _run(data, symfs_root, tmp_path, *args):
    return pyperf("script", "report", *args[:1], "-i", input_copy(data, tmp_path),
                  *symbol_args(data, symfs_root), *args[1:], home=tmp_path)


@pytest.mark.parametrize("name, data, kind, args", cases("flamegraph"), ids=[c[0] for c in cases("flamegraph")])
def test_flamegraph_json_equals_perf(name, data, kind, args, symfs_root, tmp_path):
    proc = _run(data, symfs_root, tmp_path, "flamegraph", "--format", "json", "-o", "-", *args.split())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected(name, ".json")


@pytest.mark.parametrize("name, data, kind, args", cases("stackcollapse"),
                         ids=[c[0] for c in cases("stackcollapse")])
def test_stackcollapse_equals_perf(name, data, kind, args, symfs_root, tmp_path):
    proc = _run(data, symfs_root, tmp_path, "stackcollapse", *args.split())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected(name, ".txt")


# --- tracepoint and probe samples: what perf's scripts would write if perf handed them the samples -------

def _perf_script_samples(text: str):
    """(comm, pid, tid, [frames leaf first as {sym: {name}, dso}]) of each sample of `perf script` output
    with comm, pid/tid and a call chain (ip sym[+off] (dso), inline frames `sym (inlined)`)."""
    head = re.compile(r"^(.+?)\s+(\d+)/(\d+)(?:\s|$)")
    samples = []
    for line in text.splitlines():
        if not line:
            continue
        if not line.startswith("\t"):
            m = head.match(line.strip())
            samples.append((m.group(1), int(m.group(2)), int(m.group(3)), []))
            continue
        _, _, rest = line.strip().partition(" ")
        if rest.endswith(" (inlined)"):
            sym, dso = rest[:-len(" (inlined)")], None
        else:
            sym, _, dso = rest.rpartition(" (")
            dso = dso[:-1]
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        entry = {"dso": dso} if dso else {}
        if sym != "[unknown]":
            entry["sym"] = {"name": sym}
        samples[-1][3].append(entry)
    return samples


PERF_SCRIPT_OUTPUTS = {  # data file -> perf script output with comm, pid/tid and call chains (goldens)
    "report/mt.data": ("script/expected/all_mt.out.xz", []),
    "unwind/cxx.data": ("unwind/expected/cxx.script", []),
    "unwind/threads.data": ("unwind/expected/threads.script", []),
}


def _perf_text(path: str) -> str:
    raw = (GOLDEN / path).read_bytes()
    return (lzma.decompress(raw) if path.endswith(".xz") else raw).decode()


def _perf_flamegraph_json(text: str) -> str:
    """perf's own flamegraph.py (its FlameGraphCLI) fed the samples perf script printed."""
    spec = importlib.util.spec_from_file_location("perf_flamegraph", PERF_FLAMEGRAPH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Args:
        format, output, template, colorscheme, input = "json", "-", "", "blue-green", None
    cli = module.FlameGraphCLI(Args())
    for comm, pid, tid, frames in _perf_script_samples(text):
        cli.process_event({"comm": comm, "sample": {"pid": pid, "tid": tid}, "callchain": frames})
    return json.dumps(cli.stack, default=lambda x: x.to_json())


def _folded(text: str) -> str:
    """stackcollapse.py's lines for the samples perf script printed."""
    lines = defaultdict(int)
    for comm, pid, tid, frames in _perf_script_samples(text):
        stack = [f.get("sym", {}).get("name", "[unknown]").replace(";", ":") for f in frames]
        lines[";".join([comm.replace(" ", "_")] + stack[::-1])] += 1
    return "".join(f"{s} {lines[s]}\n" for s in sorted(lines))


@pytest.mark.parametrize("data", sorted(PERF_SCRIPT_OUTPUTS))
def test_probe_samples_in_flamegraph_as_perfs_script_would_draw_them(data, symfs_root, tmp_path):
    """perf's flamegraph.py never sees tracepoint samples (empty graph); pyperf's graph of a probe recording
    is what perf's own FlameGraphCLI makes of the samples `perf script` prints for that file."""
    if not shutil.which("perf") or not importlib.util.find_spec("json"):
        pytest.fail("perf is not installed: run make test's setup")
    proc = _run(data, symfs_root, tmp_path, "flamegraph", "-f", "json", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    want = _perf_flamegraph_json(_perf_text(PERF_SCRIPT_OUTPUTS[data][0]))
    assert json.loads(want)["c"], "the golden has samples"
    assert proc.stdout == want


@pytest.mark.parametrize("data", sorted(PERF_SCRIPT_OUTPUTS))
def test_probe_samples_in_stackcollapse(data, symfs_root, tmp_path):
    proc = _run(data, symfs_root, tmp_path, "stackcollapse")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == _folded(_perf_text(PERF_SCRIPT_OUTPUTS[data][0]))


# --- options and files ---------------------------------------------------------------------------------

def test_event_filter(symfs_root, tmp_path):
    """-e keeps one event's samples: both events of cpu_two together are perf's graph of the whole file."""
    whole = _run("cpu_two.data", symfs_root, tmp_path, "flamegraph", "-f", "json", "-o", "-").stdout
    totals = []
    for event in ("cpu-clock:u", "task-clock:u"):
        proc = _run("cpu_two.data", symfs_root, tmp_path, "flamegraph", "-f", "json", "-o", "-", "-e", event)
        assert proc.returncode == 0, proc.stderr
        totals.append(_total(json.loads(proc.stdout)))
    assert all(totals) and sum(totals) == _total(json.loads(whole))
    bad = _run("cpu_two.data", symfs_root, tmp_path, "flamegraph", "-e", "nosuch:event")
    assert bad.returncode == 129 and "nosuch:event" in bad.stderr


def _total(node) -> int:
    return node["v"] + sum(_total(c) for c in node["c"])


def test_default_output_files_and_message(symfs_root, tmp_path):
    """As perf's script: "dumping data to FILE" on stdout, flamegraph.html or stacks.json in the cwd."""
    data = input_copy("cpu_fp.data", tmp_path)
    symfs = unpack_symfs("export", symfs_root)
    for fmt, name in (("html", "flamegraph.html"), ("json", "stacks.json")):
        proc = pyperf("script", "report", "flamegraph", "-i", data, "--symfs", symfs, "--format", fmt,
                      home=tmp_path, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"dumping data to {name}\n"
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "stacks.json").read_text() == expected("fg_fp", ".json")
    proc = pyperf("script", "report", "flamegraph", "-i", data, "-o", tmp_path / "no" / "x.html", home=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error writing output file: [Errno 2] No such file or directory")


def test_unknown_report_script(tmp_path):
    proc = pyperf("script", "report", "nosuch", home=tmp_path)
    assert proc.returncode == 255
    assert proc.stderr.startswith("Please specify a valid report script(see 'perf script -l' for listing)\n")


# --- the JSON writer -----------------------------------------------------------------------------------

names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | \
    st.sampled_from(["</script>", "a\"b", "\\", "é", "\u2028", "[unknown]"])


@given(st.lists(st.tuples(st.lists(names, max_size=6), st.integers(0, 9)), max_size=30))
@settings(max_examples=200, deadline=None)
def test_json_writer_is_json_dumps(paths):
    tree = FlameTree()
    for path, value in paths:
        node = tree.root
        for name in path:
            node = _child(node, name, "")
        node[2] += value

    def plain(node):
        return {"n": node[0], "l": node[1], "v": node[2], "c": [plain(c) for c in node[3]]}
    assert tree.to_json() == json.dumps(plain(tree.root))
    html = "".join(tree.json_chunks(html_safe=True))
    assert "</" not in html and json.loads(html) == plain(tree.root)
