"""pyperf stat against real perf 6.1's text (tests/golden/stat, made by its make_goldens.py): perf stat's
default events, -r, -x, -a, -A, --per-core/-socket/-die/-node, --per-thread, -I, groups and the errors,
compared line by line with the numbers taken out and the columns kept (tests/stat_layout.py); the same exit
status. An -I case is compared on its first two intervals: the last one is cut by the command's exit."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import golden_module  # noqa: E402
import stat_layout  # noqa: E402

golden = golden_module.load("stat")

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (system-wide and attached counting)"),
              pytest.mark.skipif(not os.path.exists(golden.EXPECTED), reason="no goldens")]

PYPERF = [sys.executable, "-m", "pyperf_probe"]
_TIME = re.compile(r"^ *[0-9]+\.[0-9]{9}")


@pytest.fixture(scope="module")
def places():
    golden.build_workloads()
    with golden.targets() as values:
        yield values


def first_intervals(text: str, n: int = 2) -> str:
    """The header and the lines of the first ``n`` intervals of -I output."""
    seen, out = [], []
    for line in text.split("\n"):
        m = _TIME.match(line)
        if m:
            if m.group() not in seen:
                seen.append(m.group())
            if len(seen) > n:
                break
        if line:
            out.append(line)
    return "\n".join(out)


def expected(case):
    with open(os.path.join(golden.EXPECTED, case.name + ".err")) as f:
        text = f.read()
    with open(os.path.join(golden.EXPECTED, case.name + ".rc")) as f:
        return int(f.read()), text


@pytest.mark.parametrize("case", golden.CASES, ids=lambda c: c.name)
def test_stat_as_perf(case, places):
    rc, theirs = expected(case)
    proc = golden.run(PYPERF, case, places)
    ours = proc.stderr
    if case.intervals:
        ours, theirs = first_intervals(ours), first_intervals(theirs)
    a = stat_layout.layout(ours, case.csv_sep, case.per_thread)
    b = stat_layout.layout(theirs, case.csv_sep, case.per_thread)
    assert a == b, stat_layout.diff(a, b) + "\n--- pyperf:\n" + ours + "\n--- perf:\n" + theirs
    assert proc.returncode == rc


def test_interval_ends_when_the_command_does(places):
    """-I 100 on a 250 ms command: intervals of 100 ms (or more, on a loaded machine), then one printed at
    the command's exit, however short."""
    proc = golden.run(PYPERF, golden.Case("x", "-I 100 -x , -e task-clock {spin} 250"), places)
    times = [float(line.split(",")[0]) for line in proc.stderr.splitlines()]
    assert len(times) >= 2 and times == sorted(times), proc.stderr
    assert all(b - a >= 0.1 for a, b in zip([0.0] + times[:-2], times[:-1])), proc.stderr
    assert 0.25 <= times[-1] < 0.25 + 0.1 and times[-1] - times[-2] < 0.1 + 0.02, proc.stderr


_THREAD_LINE = re.compile(r"^ *\S.*-[0-9]+ +[0-9]+      cs {32,}$")


def test_per_thread_system_wide(places):
    """-a --per-thread: every thread of the system that switched, the busiest first, none with 0."""
    proc = golden.run(PYPERF, golden.Case("x", "--per-thread -a -e cs sleep 0.3"), places)
    lines = proc.stderr.split("\n")
    assert lines[:3] == ["", " Performance counter stats for 'system wide':", ""], proc.stderr
    body = lines[3:lines.index("", 3)]
    assert body and all(_THREAD_LINE.match(line) for line in body), proc.stderr
    counts = [int(line.split()[-2]) for line in body]
    assert counts == sorted(counts, reverse=True) and 0 not in counts
    assert any(f"-{places['pid']} " in line for line in body)       # ex_spin's main thread
    fitting = [line for line in body if re.match(r"^.{16}-[0-9]{1,8} +[0-9]", line)]   # "%16s-%-8d "
    assert fitting and all(line.index(" cs ") + 1 == 50 for line in fitting), proc.stderr
