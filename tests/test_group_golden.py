"""Event groups and leader sampling against real perf 6.1 (tests/golden/group/, made by record.sh and
make_goldens.sh there; issue 12, Done when: a mixed recording ``-e '{cpu-clock,probe_X:Y}:S'`` with
``--no-inherit``). The same workload was recorded by perf record and by pyperf record: the clock leading the
uprobe, with and without -g, the uprobe leading the clock, a named group beside a lone event; and a file
without groups. pyperf report (group view, --no-group, --group, several layouts) and pyperf script print
what perf printed on each file, stdout, stderr and exit status byte for byte (report's random tip aside).

Live (root, uprobes): pyperf record's attrs and group header equal perf record's for the same options, and
both files show the group the same way."""
import lzma
import os
import re
import subprocess
import sys
import tarfile

import pytest

from pyperf_probe import cli

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "group")
PERF = "/usr/bin/perf"


def _cases():
    with open(os.path.join(GOLDEN, "cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, data, args = line.rstrip("\n").split("|")
                yield pytest.param(name, data, args, id=name)


@pytest.fixture(scope="module")
def group_golden(tmp_path_factory):
    root = tmp_path_factory.mktemp("group_golden")
    (root / "data").mkdir()
    for name in os.listdir(os.path.join(GOLDEN, "data")):
        with open(os.path.join(GOLDEN, "data", name), "rb") as f:
            (root / "data" / name[:-len(".xz")]).write_bytes(lzma.decompress(f.read()))
    with tarfile.open(os.path.join(GOLDEN, "symfs.tar.xz")) as tar:
        tar.extractall(root / "symfs")
    (root / "empty").mkdir()
    return root


def _expected(name: str):
    with open(os.path.join(GOLDEN, "expected", f"{name}.out.xz"), "rb") as f:
        out = lzma.decompress(f.read()).decode()
    with open(os.path.join(GOLDEN, "expected", f"{name}.err")) as f:
        err = f.read()
    with open(os.path.join(GOLDEN, "expected", f"{name}.rc")) as f:
        rc = int(f.read())
    return out, err, rc


def _no_tip(text: str) -> str:
    return re.sub(r"^# \((Tip: .*|Cannot load tips\.txt file, please install perf!)\)$", "# (TIP)", text,
                  flags=re.M)


@pytest.mark.parametrize("name,data,args", list(_cases()))
def test_groups_equal_perf(name, data, args, group_golden, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(group_golden / "empty"))
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)
    monkeypatch.chdir(group_golden)
    path = str(group_golden / "data" / f"{data}.data")
    words = args.replace("SYMFS", str(group_golden / "symfs")).replace(
        "KALLSYMS", os.path.join(GOLDEN, "kallsyms")).split()
    rc = cli.main([words[0], "-i", path] + words[1:])
    out, err = capsys.readouterr()
    want_out, want_err, want_rc = _expected(name)
    assert _no_tip(out) == _no_tip(want_out)
    assert err.replace(path, "INPUT").replace(str(group_golden), "TMP") == want_err
    assert rc == want_rc


def test_the_goldens_show_groups():
    """What the cases are about is in perf's text: the group view, the members' samples in script."""
    out, _, _ = _expected("py_ccg_report1")
    assert "of events 'anon group { cpu-clock, pyperf_g_group:grp_kw_leaf }'" in out
    assert re.search(r"^ +\d+\.\d\d% +\d+\.\d\d%  kwork ", out, re.M)
    out, _, _ = _expected("perf_named_report0")
    assert "of events 'grp { cpu-clock, pyperf_g_group:grp_kw_leaf }'" in out and "of event 'task-clock'" in out
    out, _, _ = _expected("perf_two_report3")        # --group on a file without groups
    assert "of events 'cpu-clock, pyperf_g_group:grp_kw_leaf'" in out
    out, _, _ = _expected("py_cc_script4")        # -F event,period: the probe's hits between two clock samples
    assert re.search(r"^ +\d+ pyperf_g_group:grp_kw_leaf: $", out, re.M)
    assert re.search(r"^ +\d+ +cpu-clock: $", out, re.M)


# --- live: pyperf record writes what perf record writes ----------------------------------------------------

HAVE_UPROBES = os.geteuid() == 0 and os.path.exists("/sys/kernel/tracing/uprobe_events")


@pytest.mark.uprobes
@pytest.mark.perf
@pytest.mark.skipif(not HAVE_UPROBES or not os.path.exists(PERF), reason="needs root, uprobes and real perf")
@pytest.mark.parametrize("events", [["-e", "{cpu-clock,PROBE}:S", "--no-inherit"],
                                    ["-e", "{cpu-clock,PROBE}:S", "-g", "--no-inherit"],
                                    ["-e", "{PROBE,cpu-clock}:S", "--no-inherit"],
                                    ["-e", "grp{cpu-clock,PROBE}:S", "-e", "task-clock", "--no-inherit"]],
                         ids=["cc", "cc-g", "probe-leads", "named"])
def test_pyperf_record_groups_as_perf(tmp_path, events):
    sys.path.insert(0, os.path.dirname(__file__))
    import record_helpers as rh
    ex_spin = rh.workload("ex_spin")
    with rh.uprobe(ex_spin, "ex_sort") as probe:
        args = [e.replace("PROBE", probe) for e in events]
        files = {}
        for tool, run in (("pyperf", rh.pyperf), ("perf", rh.perf)):
            files[tool] = str(tmp_path / f"{tool}.data")
            proc = run("record", "-q", "-o", files[tool], *args, "--", ex_spin, "20")
            assert proc.returncode == 0, proc.stderr
        evlists = [rh.perf("evlist", "-v", "-i", files[t]).stdout for t in ("pyperf", "perf")]
        assert evlists[0] == evlists[1]
        groups = [[line for line in rh.perf("report", "--header-only", "-i", files[t]).stdout.splitlines()
                   if line.startswith("# group:")] for t in ("pyperf", "perf")]
        assert groups[0] == groups[1] and len(groups[0]) == 1
        heads = []
        for tool in ("pyperf", "perf"):
            text = rh.perf("report", "--stdio", "-i", files[tool], "--no-children", "--sort", "comm").stdout
            heads.append([re.sub(r"\d+", "N", line) for line in text.splitlines() if line.startswith("# ")
                          and "Tip" not in line])
            # pyperf reads the file as perf does
            ours = subprocess.run([sys.executable, "-m", "pyperf_probe", "report", "--stdio", "-i", files[tool],
                                   "--no-children", "--sort", "comm"], capture_output=True, text=True)
            assert _no_tip(ours.stdout) == _no_tip(text)
        assert heads[0] == heads[1]
