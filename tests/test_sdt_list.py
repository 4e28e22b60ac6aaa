"""pyperf list against real perf list: tracepoints (with the uprobe events of probe/sdt groups) and cached SDT
markers, in perf's order and layout. Words that match hardware/software events are not compared: pyperf lists
only what it can count and record (tracepoints and uprobes)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = "/usr/bin/perf"

pytestmark = [pytest.mark.perf,
              pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed"),
              pytest.mark.skipif(not os.path.exists("/sys/kernel/tracing/events"), reason="needs tracefs")]


def both(home, *args):
    env = dict(os.environ, HOME=str(home), PYTHONPATH=ROOT)
    theirs = subprocess.run([PERF, "list", *args], env=env, capture_output=True, text=True)
    ours = subprocess.run([sys.executable, "-m", "pyperf_probe", "list", *args], env=env, capture_output=True,
                          text=True)
    return (ours.returncode, ours.stdout), (theirs.returncode, theirs.stdout)


@pytest.mark.parametrize("args", [
    ["tracepoint"], ["sched:*"], ["sched_process"], ["*:*exec*"], ["--raw-dump", "tracepoint"],
    ["sched:sched_process_e*", "irq:*"], ["probe_*:*"], ["sdt_*:*"],
])
def test_same_as_perf_list(tmp_path, args):
    subprocess.run([sys.executable, "-m", "pyperf_probe", "buildid-cache", "--add", "/usr/bin/python3.11"],
                   env=dict(os.environ, HOME=str(tmp_path), PYTHONPATH=ROOT), check=True)
    ours, theirs = both(tmp_path, *args)
    for _ in range(3):      # other test runs add and remove uprobe events (tracepoints too) meanwhile
        if ours == theirs:
            break
        ours, theirs = both(tmp_path, *args)
    assert ours == theirs


def test_a_marker_in_two_binaries_is_shown_with_path_and_build_id(tmp_path):
    """perf's print_sdt_events: the same GROUP:EVENT cached from two build-ids gets @PATH(BUILDID12)."""
    import shutil

    from pyperf_probe.symbols.elf import open_elf

    tick = os.path.join(ROOT, "build", "workloads", "tick")
    if not os.path.exists(tick):
        pytest.skip("make workloads builds tick")
    copies = [str(tmp_path / "one" / "tick"), str(tmp_path / "two" / "tick")]
    for i, path in enumerate(copies):
        os.makedirs(os.path.dirname(path))
        shutil.copy(tick, path)
        note = open_elf(path).section(".note.gnu.build-id")
        with open(path, "r+b") as f:                    # a build-id of its own
            f.seek(note.file_offset + note.size - 1)
            f.write(bytes([i]))
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=ROOT)
    subprocess.run([sys.executable, "-m", "pyperf_probe", "buildid-cache", "--add", ",".join(copies)], env=env,
                   check=True)
    ours, theirs = both(tmp_path, "sdt")
    assert ours == theirs
    assert theirs[1].count("@" + copies[0] + "(") == 4 and theirs[1].count("@" + copies[1] + "(") == 4
