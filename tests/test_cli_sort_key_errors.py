"""setup_sorting's errors for a bad --sort or -F key: perf prints ``Error:``, the message, then
parse_options_usage's ``\\n Usage: ...`` right after it (no blank line between), a blank line and the
option's help. Compared with real perf (run here: it is the golden) up to the help, whose key list names
pyperf's keys; pyperf exits 129 where perf 6.1 exits 0 (tests/test_report_tracepoints.py)."""
import os
import shutil
import subprocess
import sys

import pytest

DATA = os.path.join(os.path.dirname(__file__), "golden", "report", "data", "mt.data")
PERF = shutil.which("perf") or "/usr/bin/perf"


@pytest.mark.parametrize("args", ["--sort foo", "-F foo", "--sort mispredict", "-F mispredict", "--sort +",
                                  "--sort comm,nope -g flat"])
def test_key_error_head_equals_perf(args, tmp_path):
    if not os.access(PERF, os.X_OK):
        pytest.skip("no perf")
    env = dict(os.environ, HOME=str(tmp_path), PAGER="cat")
    got = subprocess.run([sys.executable, "-m", "pyperf_probe", "report", "-i", DATA, "--stdio", *args.split()],
                         capture_output=True, text=True, env=env)
    want = subprocess.run([PERF, "report", "-i", DATA, "--stdio", *args.split()], capture_output=True,
                          text=True, env=env)
    head = lambda err: err.split("\n")[:4]  # noqa: E731  Error:, the message, Usage:, the blank line
    assert head(want.stderr)[2] == " Usage: perf report [<options>]"
    assert head(got.stderr.replace(" Usage: pyperf ", " Usage: perf ")) == head(want.stderr)
    assert got.stdout == want.stdout
