"""Shared fixtures.

* Tests marked ``uprobes`` need root and tracefs; under CI (PYPERF_REQUIRE_UPROBES=1) a skip of such a test
  is a failure, so a machine that can run them always does. As root, tracefs is mounted before the test
  modules are collected (their skip conditions look for ``uprobe_events``), the way pyperf mounts it
  (``kernel.tracefs.root``): on a fresh machine nothing else has mounted it yet.
* A run killed with SIGKILL leaves the uprobe of the test it was in: the next run that starts alone on the
  machine removes it (``leftovers``: each run holds a lock on its scratch HOME while it lives). SIGTERM and
  SIGHUP end a run as Ctrl-C does, its ``finally`` blocks run.
* The whole run has HOME at a scratch directory: pyperf and real perf both write the build-id cache
  (``~/.debug``) and pyperf its CFI cache (``~/.cache/pyperf``); the user's own must not change. The
  directory is removed when the run ends.
* ``report_symfs``: the report goldens' binaries (tests/golden/report/symfs.tar.xz) unpacked once per run;
  ``utc``: TZ=UTC for a test (perf --header prints the file's mtime in local time), restored after.
"""
import os
import shutil
import tarfile
import tempfile
import time

import pytest

import leftovers

REQUIRE_UPROBES = os.environ.get("PYPERF_REQUIRE_UPROBES") == "1"
# CI builds the optional C loops (setup.py, perfdata/_speedups.c) on a machine with gcc and Python's headers:
# there they must be built.
REQUIRE_SPEEDUPS = os.environ.get("PYPERF_REQUIRE_SPEEDUPS") == "1"
_SCRATCH_HOME = None
_HOME_LOCK = None


def pytest_configure(config):
    global _SCRATCH_HOME, _HOME_LOCK
    _SCRATCH_HOME, _HOME_LOCK = leftovers.make_home()
    leftovers.interrupt_on_termination()
    os.environ["HOME"] = _SCRATCH_HOME
    os.environ.pop("PERF_BUILDID_DIR", None)
    if os.geteuid() == 0:
        from pyperf_probe.errors import KernelError
        from pyperf_probe.kernel import tracefs
        try:
            tracefs.root()
        except KernelError as e:       # no tracefs in this kernel: the uprobe tests say so when they skip
            print(f"conftest: {e}")
            return
        if os.environ.get("PYPERF_TEST_SWEEP") == "0":   # (test_leftovers' child runs: a /tmp of their own)
            return
        for line in leftovers.sweep(tempfile.gettempdir(), _SCRATCH_HOME):
            print(f"conftest: removed what a killed run left: {line}")


def pytest_unconfigure(config):
    if _SCRATCH_HOME:
        # Tests that run report in this process leave resolved-symbol caches to write at exit (atexit), which
        # would come after this and make the scratch HOME again: write them now, then remove it.
        import sys
        cache = sys.modules.get("pyperf_probe.session.resolved_cache")
        if cache is not None:
            cache.flush()
        shutil.rmtree(_SCRATCH_HOME, ignore_errors=True)
        os.close(_HOME_LOCK)


def _uprobe_events() -> set[str]:
    try:
        with open("/sys/kernel/tracing/uprobe_events") as f:
            return set(f.read().splitlines())
    except OSError:
        return set()


_LEFT_BEHIND: set[str] = set()


@pytest.fixture(autouse=True)
def no_uprobe_left_behind():
    """A test that leaves a uprobe it added fails (one was found on the machine after a run,
    pyperf_t_record/ex_sort_PID). Uprobes of a wider fixture (module or session) were there before the test
    began, and stay. The uprobes found are removed when the session ends (``pytest_sessionfinish``), not
    here: another test run on the machine meanwhile adds uprobes of its own, which this one must not
    remove under it (it would only fail this test)."""
    if os.geteuid() != 0:
        yield
        return
    before = _uprobe_events()
    yield
    left = sorted(_uprobe_events() - before)
    if left:
        _LEFT_BEHIND.update(left)
        pytest.fail(f"the test left uprobes behind (removed when the session ends): {left}")


def pytest_sessionfinish(session, exitstatus):
    left = sorted(_LEFT_BEHIND & _uprobe_events())
    if left:
        # one by one, each tried again while the kernel answers EBUSY (a perf event on it not yet released)
        from record_helpers import remove_uprobe
        for line in left:
            remove_uprobe(line.split()[0].split(":", 1)[1], patience=30.0)


@pytest.fixture(scope="session")
def report_symfs(tmp_path_factory):
    """The report goldens' --symfs; their recorded paths must not exist (make_goldens.sh removes them),
    so that no test reads a recorded path where perf, given --symfs, reads the symfs file."""
    recorded = "/tmp/pyperf-golden-report"
    assert not os.path.exists(recorded), f"{recorded} exists: remove it (left by make_goldens.sh?)"
    root = tmp_path_factory.mktemp("report_symfs")
    with tarfile.open(os.path.join(os.path.dirname(__file__), "golden", "report", "symfs.tar.xz")) as tar:
        tar.extractall(root)
    return root


def need_speedups():
    """Skip (fail under PYPERF_REQUIRE_SPEEDUPS=1) when the C loops of perfdata/_speedups.c were not built."""
    from pyperf_probe.perfdata.speedups import speedups
    if speedups is None:
        message = "the C loops (pyperf_probe/perfdata/_speedups.c) were not built"
        (pytest.fail if REQUIRE_SPEEDUPS else pytest.skip)(message)


@pytest.fixture(params=["c", "python"])
def speedups_or_not(request, monkeypatch):
    """Run the test with the C loops of perfdata/_speedups.c and again with the Python code they replace."""
    from pyperf_probe.perfdata import ordered, sample, sample_keys, stream
    from pyperf_probe.report import hist, rbtree
    from pyperf_probe.session import fixed_keys, kept, machine
    if request.param == "c":
        need_speedups()
    else:
        monkeypatch.setattr(sample_keys, "speedups", None)
        monkeypatch.setattr(sample, "speedups", None)  # (the decoders made after this: the Python ones)
        monkeypatch.setattr(stream, "_entry_scan", stream._py_entry_scan)
        monkeypatch.setattr(stream, "_nonkey_positions", stream._py_nonkey_positions)
        monkeypatch.setattr(stream, "_TimeQueue", None)  # (the scan into the C queue: OrderedQueue instead)
        monkeypatch.setattr(stream, "_key_segments", None)
        monkeypatch.setattr(kept, "_mmap_follow", None)
        monkeypatch.setattr(machine, "_fork_handle", None)
        monkeypatch.setattr(fixed_keys, "user_chain", fixed_keys._user_chain)
        monkeypatch.setattr(fixed_keys, "kernel_chain", fixed_keys._kernel_chain)
        from pyperf_probe.session import counts
        monkeypatch.setattr(counts, "count_run", counts._py_count_run)
        monkeypatch.setattr(counts, "count_dwarf_run", counts._py_count_dwarf_run)
        monkeypatch.setattr(hist, "speedups", None)
        from pyperf_probe.callchain import tree
        from pyperf_probe.report import builder
        monkeypatch.setattr(builder, "speedups", None)
        monkeypatch.setattr(builder, "trace_adds", __import__("pyperf_probe.report.trace_adds").report.trace_adds.py_trace_adds)
        monkeypatch.setattr(tree, "_c_append", None)
        from pyperf_probe.report import frames
        monkeypatch.setattr(frames, "_C_CONVERT", None)
        monkeypatch.setattr(tree, "_FRAME_ORDER", __import__("functools").cmp_to_key(tree.compare_frames))
        monkeypatch.setattr(rbtree, "_USE_C", False)
        from pyperf_probe.report import script_keys
        monkeypatch.setattr(script_keys, "C_HEADS", False)
        monkeypatch.setattr(script_keys, "speedups", None)  # (_Walk's loops: run_whole, run_raw, not their C twins)
        monkeypatch.setattr(ordered, "_extremes", ordered._py_extremes)
        monkeypatch.setattr(ordered, "_time_order", ordered._py_time_order)
        monkeypatch.setattr(ordered, "_time_cut", ordered._py_time_cut)
        from pyperf_probe.callchain import rbreplay
        monkeypatch.setattr(rbreplay, "_C_REPLAY", None)
        monkeypatch.setattr(rbreplay, "_CMP", tree.compare_frames)
        from pyperf_probe.symbols.dwarf import info
        monkeypatch.setattr(info, "_C_INFLATE", None)
        monkeypatch.setattr(__import__("pyperf_probe.symbols.dwarf.scan").symbols.dwarf.scan, "_C_WALK", None)
        monkeypatch.setattr(__import__("pyperf_probe.session.machine").session.machine, "_mmap_handle", None)
    return request.param


@pytest.fixture
def utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_UPROBES and report.skipped and item.get_closest_marker("uprobes"):
        report.outcome = "failed"
        report.longrepr = f"uprobe test skipped under PYPERF_REQUIRE_UPROBES=1: {report.longrepr}"
