"""Real uprobes, as root: pyperf probe adds them, the kernel fires them when the bundled program runs
(read from a private tracefs instance, so other tests' tracing is untouched), -l lists them and -d removes
them. Every probe is removed on every path (the ``group`` fixture)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W = os.path.join(ROOT, "build", "workloads")
TRACEFS = "/sys/kernel/tracing"
PYPERF = [sys.executable, "-m", "pyperf_probe"]

pytestmark = [pytest.mark.uprobes,
              pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(f"{TRACEFS}/uprobe_events"),
                                 reason="needs root and uprobe events")]


def pyperf(*args, check=True):
    proc = subprocess.run(PYPERF + ["probe", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def uprobe_lines(group):
    with open(f"{TRACEFS}/uprobe_events") as f:
        return [line.strip() for line in f if line.startswith(("p:" + group + "/", "r:" + group + "/"))]


@pytest.fixture
def target(tmp_path):
    """Copies of the workloads under names of their own: groups probe_pyperf_t_probe_live{,0}."""
    nodbg = tmp_path / "pyperf_t_probe_live"
    o0 = tmp_path / "pyperf_t_probe_live0"
    shutil.copy(os.path.join(W, "probe_prog_nodbg"), nodbg)
    shutil.copy(os.path.join(W, "probe_prog_O0"), o0)
    try:
        yield str(nodbg), str(o0)
    finally:
        for group in ("probe_pyperf_t_probe_live", "probe_pyperf_t_probe_live0"):
            if uprobe_lines(group):
                pyperf("-q", "-d", f"{group}:*", check=False)
        assert not uprobe_lines("probe_pyperf_t_probe_live")
        assert not uprobe_lines("probe_pyperf_t_probe_live0")


@pytest.fixture
def instance():
    """A private tracefs instance: its own ring buffer and event enables."""
    path = f"{TRACEFS}/instances/pyperf_t_probe_{os.getpid()}"
    os.mkdir(path)
    try:
        yield path
    finally:
        for root, dirs, files in os.walk(f"{path}/events"):
            if "enable" in files and root.count("/") > path.count("/") + 2:
                try:
                    with open(f"{root}/enable", "w") as f:
                        f.write("0")
                except OSError:
                    pass
        os.rmdir(path)


def hits(instance, events, argv):
    """Run argv with ``events`` (GROUP/EVENT) enabled in the instance; the trace lines they produced."""
    for ev in events:
        with open(f"{instance}/events/{ev}/enable", "w") as f:
            f.write("1")
    subprocess.run(argv, check=True, capture_output=True)
    for ev in events:
        with open(f"{instance}/events/{ev}/enable", "w") as f:
            f.write("0")
    with open(f"{instance}/trace") as f:
        return [line for line in f if not line.startswith("#")]


def test_add_hit_list_delete(target, instance):
    nodbg, _ = target
    added = pyperf("-x", nodbg, "leaf")
    assert added.stdout == ""
    assert added.stderr == ("Added new event:\n"
                            f"  probe_pyperf_t_probe_live:leaf (on leaf in {nodbg})\n\n"
                            "You can now use it in all perf tools, such as:\n\n"
                            "\tpyperf record -e probe_pyperf_t_probe_live:leaf -aR sleep 1\n\n")
    from pyperf_probe.symbols.symtab import load_symtab
    from pyperf_probe.symbols.elf import open_elf
    leaf = load_symtab(nodbg).by_name("leaf")[0]
    offset = open_elf(nodbg).svma_to_file_offset(leaf.svma)
    assert uprobe_lines("probe_pyperf_t_probe_live") == [
        f"p:probe_pyperf_t_probe_live/leaf {nodbg}:0x{offset:016x}"]
    # main calls leaf twice per iteration (mid_a and mid_b)
    lines = hits(instance, ["probe_pyperf_t_probe_live/leaf"], [nodbg, "5"])
    assert len(lines) == 10 and all("leaf:" in line for line in lines)
    listed = pyperf("-l", "probe_pyperf_t_probe_live:*")
    assert listed.stdout == f"  probe_pyperf_t_probe_live:leaf (on leaf in {nodbg})\n"
    removed = pyperf("-d", "probe_pyperf_t_probe_live:leaf")
    assert removed.stderr == "Removed event: probe_pyperf_t_probe_live:leaf\n"
    assert uprobe_lines("probe_pyperf_t_probe_live") == []


def test_return_probe_and_register_args_fire_with_values(target, instance):
    nodbg, _ = target
    pyperf("-x", nodbg, "-a", "leaf%return $retval:s32", "-a", "leaf n=%di:s32")
    lines = hits(instance, ["probe_pyperf_t_probe_live/leaf__return", "probe_pyperf_t_probe_live/leaf"],
                 [nodbg, "3"])
    ns = [int(m) for m in re.findall(r"\bn=(-?\d+)", "".join(lines))]
    rets = [int(m) for m in re.findall(r"arg1=(-?\d+)", "".join(lines))]
    # mid_a(i) calls leaf(i + 1), mid_b(i) calls leaf(i); leaf returns 2n
    assert sorted(ns) == sorted([i + 1 for i in range(3)] + list(range(3)))
    assert sorted(rets) == sorted(2 * n for n in ns)


def test_c_variable_through_dwarf_fires(target, instance):
    _, o0 = target
    added = pyperf("-x", o0, "mid_b tag:string n")
    assert added.stderr.startswith("Target program is compiled without optimization. Skipping prologue.\n")
    lines = hits(instance, ["probe_pyperf_t_probe_live0/mid_b"], [o0, "2"])
    assert len(lines) == 2
    assert all('tag_string="tag"' in line for line in lines)
    assert sorted(re.findall(r"\bn=(\d+)", "".join(lines))) == ["0", "1"]


def test_force_suffix_and_exists_error(target):
    nodbg, _ = target
    pyperf("-x", nodbg, "leaf")
    again = pyperf("-x", nodbg, "leaf", check=False)
    assert again.returncode == 239
    assert again.stderr.startswith('Error: event "leaf" already exists.\n'
                                   " Hint: Remove existing event by 'pyperf probe -d'\n")
    forced = pyperf("-f", "-x", nodbg, "leaf")
    assert "probe_pyperf_t_probe_live:leaf_1 (on leaf in" in forced.stderr
    assert len(uprobe_lines("probe_pyperf_t_probe_live")) == 2


def test_inline_instances_share_one_multiprobe_event(target):
    _, o0 = target
    o2 = os.path.join(os.path.dirname(o0), "pyperf_t_probe_live2")
    shutil.copy(os.path.join(W, "probe_prog_O2"), o2)
    try:
        out = pyperf("-x", o2, "clamp_add")
        assert out.stderr.startswith("Added new events:\n")
        assert len(uprobe_lines("probe_pyperf_t_probe_live2")) == 2
    finally:
        pyperf("-q", "-d", "probe_pyperf_t_probe_live2:*", check=False)
    assert uprobe_lines("probe_pyperf_t_probe_live2") == []


def test_dry_run_writes_nothing(target):
    nodbg, _ = target
    out = pyperf("-n", "-x", nodbg, "mid_a")
    assert out.stderr.startswith("Added new event:\n  probe_pyperf_t_probe_live:mid_a ")
    assert uprobe_lines("probe_pyperf_t_probe_live") == []


def test_failed_add_leaves_nothing_behind(target):
    """The second definition clashes: perf would have added the first one already; pyperf adds neither."""
    nodbg, _ = target
    pyperf("-x", nodbg, "leaf")
    out = pyperf("-x", nodbg, "-a", "mid_a", "-a", "leaf", check=False)
    assert out.returncode == 239
    assert [line.split()[0] for line in uprobe_lines("probe_pyperf_t_probe_live")] == [
        "p:probe_pyperf_t_probe_live/leaf"]
