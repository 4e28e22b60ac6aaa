"""record's --buildid-all and -i/--no-inherit against real perf 6.1: the attrs (``perf evlist -v``), what is
recorded (hits in child tasks or not), the BUILD_ID table (``perf buildid-list -i`` and its bytes) and the
build-id cache each recorder fills (``pyperf --buildid-dir DIR record`` beside ``perf --buildid-dir DIR
record``: the same tree, and $HOME/.debug untouched)."""
import collections
import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import record_helpers as rh  # noqa: E402

from pyperf_probe.perfdata import data_scan, synth  # noqa: E402
from pyperf_probe.perfdata.format import SampleType  # noqa: E402

LIVE = (pytest.mark.uprobes, pytest.mark.skipif(not rh.HAVE_UPROBES, reason="needs root and uprobe events"),
        pytest.mark.skipif(not rh.HAVE_PERF, reason="needs /usr/bin/perf"))


def live(test):
    for mark in LIVE:
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def rec_calls():
    return rh.workload("rec_calls")


@pytest.fixture(scope="module")
def probe(rec_calls):
    with rh.uprobe(rec_calls, "rec_leaf", f"bid_leaf_{os.getpid()}") as name:
        yield name


def _both(tmp_path, args, home=None, buildid_dir=False):
    """Record with both tools (each its own output and, with ``buildid_dir``, its own cache directory);
    returns {tool: (data path, cache dir)}."""
    env = dict(os.environ, HOME=str(home or tmp_path / "home"))
    out = {}
    for tool, run in (("pyperf", rh.pyperf), ("perf", rh.perf)):
        data, cache = str(tmp_path / f"{tool}.data"), str(tmp_path / f"{tool}-cache")
        pre = ["--buildid-dir", cache] if buildid_dir else []
        proc = run(*pre, "record", "-q", "-o", data, *args, env=env)
        assert proc.returncode == 0, proc.stderr
        out[tool] = (data, cache)
    return out


def _evlist(path):
    proc = rh.perf("evlist", "-v", "-i", path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [line for line in proc.stdout.splitlines() if not line.startswith("#")]


def _comms(path):
    proc = rh.perf("script", "-i", path, "-F", "comm")
    assert proc.returncode == 0, proc.stderr
    return collections.Counter(line.strip() for line in proc.stdout.splitlines() if line.strip())


def _buildid_list(path):
    proc = rh.perf("buildid-list", "-i", path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _tree(root):
    """Every entry under ``root``: kind, mode, path relative to root, symlink target."""
    out = []
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            target = os.readlink(path) if os.path.islink(path) else ""
            out.append((oct(st.st_mode), os.path.relpath(path, root), target))
    return sorted(out)


# ---------------------------------------------------------------------------------------- -i/--no-inherit

@pytest.mark.parametrize("opts", [
    ["--no-inherit"], ["-i"], ["--no-inh"], ["-i", "-g"], ["-i", "--call-graph", "dwarf"], ["-i", "-a"],
    ["-i", "-a", "-g"], ["-i", "--inherit"], ["--inherit"],
], ids=lambda o: " ".join(o))
@live
def test_no_inherit_attrs_and_hits_as_perf(tmp_path, rec_calls, probe, opts):
    """attr.inherit (and the system-wide dummy:HG's) cleared as perf clears it; without inherit only the
    workload's main thread is counted: 10 hits of rec_main_path, none of its threads' or children's.
    ``--inherit`` (perf's negation of no-inherit) sets it again."""
    out = _both(tmp_path, ["-e", probe, *opts, "--", rec_calls])
    ours, theirs = out["pyperf"][0], out["perf"][0]
    assert _evlist(ours) == _evlist(theirs)
    inherit = opts[-1] == "--inherit"
    assert all(("inherit: 1" in line) == inherit for line in _evlist(ours))
    assert _comms(ours) == _comms(theirs)
    if "-a" not in opts:
        assert _comms(ours) == ({"rec_calls": 310, "rec_child": 600} if inherit else {"rec_calls": 10})


# ---------------------------------------------------------------------------------------- --buildid-all

@pytest.mark.parametrize("opts", [[], ["--buildid-all"], ["--buildid-all", "-g"],
                                  ["--buildid-all", "--call-graph", "dwarf"], ["--buildid-all", "-i"],
                                  ["--buildid-all", "--no-buildid-all"]],
                         ids=lambda o: " ".join(o) or "hits")
@live
def test_build_id_table_and_cache_as_perf(tmp_path, rec_calls, probe, opts):
    """perf buildid-list -i agrees on both files (the table's bytes too: order, misc, sizes), and each
    --buildid-dir holds the same tree: links, elf/debug/probes, [kernel.kallsyms]/kallsyms, [vdso]/vdso."""
    out = _both(tmp_path, ["-e", probe, *opts, "--", rec_calls], buildid_dir=True)
    (ours, our_cache), (theirs, their_cache) = out["pyperf"], out["perf"]
    listed = _buildid_list(ours)
    assert listed == _buildid_list(theirs)
    names = [line.split(None, 1)[1] for line in listed.splitlines()]
    if "--buildid-all" in opts and "--no-buildid-all" not in opts:
        assert names[0] == "[kernel.kallsyms]" and "/usr/lib/x86_64-linux-gnu/libc.so.6" in names
    else:
        assert names == [rec_calls, "[vdso]"]
    assert _build_id_bytes(ours) == _build_id_bytes(theirs)
    assert _tree(our_cache) == _tree(their_cache)
    assert not (tmp_path / "home").exists()


def _build_id_bytes(path):
    from pyperf_probe.perfdata.format import Feature
    from pyperf_probe.perfdata.reader import PerfDataFile
    with PerfDataFile.open(path) as f:
        return f.feature_bytes(Feature.BUILD_ID)


@live
def test_kernel_tracepoint_with_buildid_all(tmp_path, rec_calls):
    out = _both(tmp_path, ["-e", "sched:sched_process_exec", "--buildid-all", "-N", "--", rec_calls])
    assert _buildid_list(out["pyperf"][0]) == _buildid_list(out["perf"][0])
    assert not (tmp_path / "home").exists()                         # -N: no cache at all


def test_a_value_given_to_a_flag_is_perfs_error():
    for args, name in ((["--no-inherit=1"], "no-inherit"), (["--no-inh=1"], "no-inherit"),
                       (["--buildid-all=x"], "buildid-all"), (["--no-buildid-all=1"], "no-buildid-all")):
        proc = rh.pyperf("record", *args, "-e", "sched:sched_process_exec", "true")
        assert proc.returncode == 129
        assert proc.stderr.splitlines()[0] == f" Error: option `{name}' takes no value", proc.stderr
        assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------------- the scan, on bytes

TRAILER = struct.pack("<IIQII", 0, 0, 0, 0, 0)
ST = int(SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.CPU | SampleType.PERIOD | SampleType.RAW)


def test_all_dsos_kernel_first_then_every_named_map_in_order():
    """dsos__hit_all: the session's DSOs in creation order: the kernel's (made before any record), then one
    per map name in the order the maps came, data maps included; anonymous and special maps have none."""
    maps = [synth.MapLine(0x5000, 0x6000, "r--p", 0, 0, 0, 1, "/lib/data-first.so"),
            synth.MapLine(0x1000, 0x2000, "r-xp", 0, 0, 0, 1, "/bin/prog"),
            synth.MapLine(0x7000, 0x8000, "rw-p", 0, 0, 0, 0, "[heap]"),
            synth.MapLine(0x9000, 0xa000, "r-xp", 0, 0, 0, 0, "[vdso]"),
            synth.MapLine(0xb000, 0xc000, "rw-p", 0, 0, 0, 0, "//anon"),
            synth.MapLine(0x5000, 0x6000, "r-xp", 0, 0, 0, 1, "/lib/data-first.so")]
    res = data_scan.scan(b"".join(synth.mmap2(10, 10, m, TRAILER) for m in maps), ST)
    assert res.all_dsos == ("[kernel.kallsyms]", "/lib/data-first.so", "/bin/prog", "[vdso]")
    assert res.hit_dsos == ("[vdso]",)                              # no sample: only the vdso, as perf
    with_kernel = synth.kernel_mmap(0xffff0000, 0x1000, TRAILER) + synth.mmap2(10, 10, maps[1], TRAILER)
    assert data_scan.scan(with_kernel, ST).all_dsos == ("[kernel.kallsyms]", "/bin/prog")
