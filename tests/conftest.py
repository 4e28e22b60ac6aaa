"""Shared fixtures. Tests marked ``uprobes`` need root and tracefs; under CI (PYPERF_REQUIRE_UPROBES=1)
a skip of such a test is a failure, so a machine that can run them always does."""
import os

import pytest

REQUIRE_UPROBES = os.environ.get("PYPERF_REQUIRE_UPROBES") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_UPROBES and report.skipped and item.get_closest_marker("uprobes"):
        report.outcome = "failed"
        report.longrepr = f"uprobe test skipped under PYPERF_REQUIRE_UPROBES=1: {report.longrepr}"
