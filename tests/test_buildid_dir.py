"""The global ``pyperf --buildid-dir DIR COMMAND``: perf's option (perf.c handle_options, util/config.c
set_buildid_dir). Every command that reads or writes the build-id cache uses DIR and leaves $HOME/.debug
alone: buildid-cache, list sdt and probe (checked against ``perf --buildid-dir DIR`` on the same DIR
contents), record (test_record_buildid_options.py compares the trees), report and script (symbols of a
deleted binary found only in DIR, as perf finds them); the workload sees PERF_BUILDID_DIR as under perf."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import record_helpers as rh  # noqa: E402

from pyperf_probe import cli  # noqa: E402
from pyperf_probe.symbols import buildid_dir  # noqa: E402

needs_perf = pytest.mark.skipif(not rh.HAVE_PERF, reason="needs /usr/bin/perf")
live = pytest.mark.skipif(not (rh.HAVE_UPROBES and rh.HAVE_PERF), reason="needs root, uprobe events and perf")
TICK = os.path.join(rh.BUILD, "tick")


def _run(tool, home, *args):
    cmd = [rh.PERF] if tool == "perf" else [sys.executable, "-m", "pyperf_probe"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True,
                          env=dict(os.environ, HOME=str(home), PAGER="cat"))


def _tree(root):
    out = []
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            target = os.readlink(path) if os.path.islink(path) else ""
            out.append((oct(os.lstat(path).st_mode), os.path.relpath(path, root), target))
    return sorted(out)


# ------------------------------------------------------------------------------------------ the option

@needs_perf
def test_missing_directory_is_perfs_error(tmp_path):
    ours, theirs = _run("pyperf", tmp_path, "--buildid-dir"), _run("perf", tmp_path, "--buildid-dir")
    assert (ours.returncode, theirs.returncode) == (129, 129)
    assert ours.stderr == theirs.stderr.replace(" perf ", " pyperf ")
    assert ours.stderr.startswith("No directory given for --buildid-dir.\n")


def test_a_file_is_one_clear_line(tmp_path):
    (tmp_path / "file").write_text("x")
    for args in (["--buildid-dir", str(tmp_path / "file")], [f"--buildid-dir={tmp_path / 'file'}"]):
        proc = _run("pyperf", tmp_path, *args, "buildid-cache", "-l")
        assert proc.returncode == 129
        assert proc.stderr == f"--buildid-dir {tmp_path / 'file'}: Not a directory\n"


def test_resolution(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", "/h")
    monkeypatch.delenv(buildid_dir.ENV, raising=False)
    assert buildid_dir.resolve() == "/h/.debug"
    assert buildid_dir.resolve("") == "/h/.debug"                  # perf: an empty DIR is no DIR
    assert buildid_dir.resolve("rel/cache") == str(tmp_path / "rel" / "cache")   # absolute: see the module
    monkeypatch.setenv(buildid_dir.ENV, "/from/env")
    assert buildid_dir.resolve() == "/from/env"
    assert buildid_dir.resolve("/given") == "/given"
    monkeypatch.delenv("HOME")
    monkeypatch.delenv(buildid_dir.ENV)
    assert buildid_dir.resolve() == str(tmp_path / ".debug")        # perf without HOME: ".debug"


def test_main_in_process_uses_the_directory_and_restores_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(buildid_dir.ENV, "/before")
    assert cli.main(["--buildid-dir", str(tmp_path / "c"), "buildid-cache", "-a", "/bin/true"]) == 0
    assert os.path.isdir(tmp_path / "c" / "usr" / "bin" / "true")
    assert os.environ[buildid_dir.ENV] == "/before"


# -------------------------------------------------------------------- buildid-cache, list sdt, probe

@needs_perf
@pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick")
def test_cache_commands_use_the_directory_as_perf(tmp_path):
    """buildid-cache --add fills DIR as perf fills its own DIR (same tree, same probe cache); list sdt,
    buildid-cache -l and probe -D read DIR and print what perf prints from its; $HOME stays empty."""
    binary = str(tmp_path / "tick")
    shutil.copy(TICK, binary)
    home, ours, theirs = tmp_path / "home", str(tmp_path / "ours"), str(tmp_path / "theirs")
    assert _run("pyperf", home, f"--buildid-dir={ours}", "buildid-cache", "-a", binary).returncode == 0
    assert _run("perf", home, "--buildid-dir", theirs, "buildid-cache", "-a", binary).returncode == 0
    assert _tree(ours) == _tree(theirs)
    build_id = os.listdir(os.path.join(ours, binary.lstrip("/")))[0]
    probes = os.path.join(binary.lstrip("/"), build_id, "probes")
    with open(os.path.join(ours, probes)) as a, open(os.path.join(theirs, probes)) as b:
        assert a.read() == b.read() != ""
    for args in (["list", "sdt"], ["buildid-cache", "-l"], ["probe", "-D", "%sdt_tick:loop2"]):
        mine, perfs = _run("pyperf", home, "--buildid-dir", ours, *args), _run("perf", home, "--buildid-dir",
                                                                                theirs, *args)
        assert (mine.stdout, mine.returncode) == (perfs.stdout, perfs.returncode), args
        assert "sdt_tick" in mine.stdout or build_id in mine.stdout
    # without the option the markers are not found: they are in DIR only
    proc = _run("pyperf", home, "probe", "-D", "%sdt_tick:loop2")
    assert proc.returncode == _run("perf", home, "probe", "-D", "%sdt_tick:loop2").returncode != 0
    # probe -x caches the file it is given into DIR, as perf does
    other = str(tmp_path / "other")
    assert _run("pyperf", home, "--buildid-dir", other, "probe", "-x", binary, "-D", "%sdt_tick:loop3"
                ).returncode == 0
    assert os.path.isdir(os.path.join(other, binary.lstrip("/"), build_id))
    assert not home.exists()


# ------------------------------------------------------------------------- record, report, script

@live
def test_workload_sees_the_directory_as_under_perf(tmp_path):
    show = ["sh", "-c", 'echo "[$PERF_BUILDID_DIR]"']
    for pre in ([], ["--buildid-dir", str(tmp_path / "c")]):
        out = {tool: _run(tool, tmp_path / "home", *pre, "record", "-q", "-N", "-e", "sched:sched_process_exec",
                          "-o", str(tmp_path / f"{tool}.data"), "--", *show).stdout for tool in ("pyperf", "perf")}
        assert out["pyperf"] == out["perf"] == f"[{pre[1] if pre else tmp_path / 'home' / '.debug'}]\n"


@live
def test_report_and_script_find_a_deleted_binary_in_the_directory(tmp_path):
    """Recorded with --buildid-dir DIR, the binary then deleted: report and script name its functions from
    DIR (as perf does with the same DIR), print addresses without it, and $HOME/.debug was never made."""
    binary, cache, data = str(tmp_path / "rc"), str(tmp_path / "cache"), str(tmp_path / "perf.data")
    shutil.copy(rh.workload("rec_calls"), binary)
    home = tmp_path / "home"
    with rh.uprobe(binary, "rec_leaf", f"bid_dir_{os.getpid()}") as event:
        proc = _run("pyperf", home, "--buildid-dir", cache, "record", "-q", "-g", "-e", event, "-o", data, binary)
        assert proc.returncode == 0, proc.stderr
    os.unlink(binary)
    assert not (home / ".debug").exists()
    for args in (["report", "-i", data, "--stdio", "--sort", "dso,sym"], ["script", "-i", data]):
        for pre in (["--buildid-dir", cache], []):
            mine, perfs = _run("pyperf", home, *pre, *args), _run("perf", home, *pre, *args)
            assert mine.returncode == perfs.returncode == 0, mine.stderr
            assert _body(mine.stdout) == _body(perfs.stdout), (pre, args)
            assert ("rec_leaf" in mine.stdout) == bool(pre)
    assert not (home / ".debug").exists()


def _body(text):
    return [line for line in text.splitlines() if not line.startswith("#")]
