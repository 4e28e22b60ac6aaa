"""An event syntax error prints perf's text and usage lines, with pyperf in perf's place: ``Usage: pyperf
record [<options>] [<command>]`` (it read ``pyperf record record`` before), for record and stat alike,
checked against real perf."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import record_helpers as rh  # noqa: E402


@pytest.mark.skipif(not rh.HAVE_PERF, reason="needs /usr/bin/perf")
@pytest.mark.parametrize("command", ["record", "stat"])
@pytest.mark.parametrize("event", ["cpu-clock:x", ",", "nosuch:event", "{cpu-clock,,}"])
def test_event_syntax_error_as_perf(command, event, tmp_path):
    extra = ["-o", str(tmp_path / "perf.data")] if command == "record" else []
    ours = rh.pyperf(command, *extra, "-e", event, "true", cwd=tmp_path)
    theirs = rh.perf(command, *extra, "-e", event, "true", cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 129
    assert ours.stderr.replace("pyperf", "perf") == theirs.stderr
    assert "record record" not in ours.stderr
