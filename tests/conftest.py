"""Shared fixtures.

* Tests marked ``uprobes`` need root and tracefs; under CI (PYPERF_REQUIRE_UPROBES=1) a skip of such a test
  is a failure, so a machine that can run them always does.
* The whole run has HOME at a scratch directory: pyperf and real perf both write the build-id cache
  (``~/.debug``) and pyperf its CFI cache (``~/.cache/pyperf``); the user's own must not change. The
  directory is removed when the run ends.
"""
import os
import shutil
import tempfile

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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_UPROBES and report.skipped and item.get_closest_marker("uprobes"):
        report.outcome = "failed"
        report.longrepr = f"uprobe test skipped under PYPERF_REQUIRE_UPROBES=1: {report.longrepr}"
