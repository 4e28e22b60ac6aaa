"""Shared fixtures.

* Tests marked ``uprobes`` need root and tracefs; under CI (PYPERF_REQUIRE_UPROBES=1) a skip of such a test
  is a failure, so a machine that can run them always does.
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

REQUIRE_UPROBES = os.environ.get("PYPERF_REQUIRE_UPROBES") == "1"
_SCRATCH_HOME = None


def pytest_configure(config):
    global _SCRATCH_HOME
    _SCRATCH_HOME = tempfile.mkdtemp(prefix="pyperf-test-home-")
    os.environ["HOME"] = _SCRATCH_HOME
    os.environ.pop("PERF_BUILDID_DIR", None)


def pytest_unconfigure(config):
    if _SCRATCH_HOME:
        shutil.rmtree(_SCRATCH_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def report_symfs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_symfs")
    with tarfile.open(os.path.join(os.path.dirname(__file__), "golden", "report", "symfs.tar.xz")) as tar:
        tar.extractall(root)
    return root


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
