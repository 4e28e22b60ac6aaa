"""Every tracepoint format of this machine, printed by pyperf's two renderers and by real ``perf script``.

tests/traceevent_synth.py writes a perf.data with one synthetic record per format file
(/sys/kernel/tracing/events/*/*/format, about 2,300 here) and the machine's header_page; real perf 6.1
prints it, and so does ``pyperf script`` with libtraceevent.so.1 and with the Python renderer
(PYPERF_NO_LIBTRACEEVENT=1). Every line must be equal, but those of the ``ftrace`` system: its events
(function, bprint, func_repeats...) are the ftrace ring buffer's own, which perf cannot record.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import pytest

from pyperf_probe.traceevent.printfmt import Event, library_differs
from tests.traceevent_synth import build

EVENTS = "/sys/kernel/tracing/events"
SKIPPED_SYSTEMS = ("ftrace",)


def _formats() -> list[tuple[str, str]]:
    out = []
    for path in sorted(glob.glob(f"{EVENTS}/*/*/format")):
        try:
            with open(path) as f:
                out.append((path.split("/")[-3], f.read()))
        except OSError:
            continue
    return out


def _read(name: str) -> bytes:
    with open(f"{EVENTS}/{name}", "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def synth_file(tmp_path_factory):
    formats = _formats()
    if len(formats) < 100 or not os.path.exists(f"{EVENTS}/header_page"):
        pytest.skip("needs tracefs with the machine's event formats (as root)")
    data, events = build(formats, header_page=_read("header_page"), header_event=_read("header_event"))
    path = tmp_path_factory.mktemp("tpformats") / "synth.data"
    path.write_bytes(data)
    return str(path), events


def _lines(text: str) -> list[str]:
    """The output's records (a record's text may span lines), those of SKIPPED_SYSTEMS left out."""
    records: list[str] = []
    for line in text.split("\n"):
        if line.startswith("           synth ") or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return [r for r in records if not any(f" {system}:" in r.split("\n")[0] for system in SKIPPED_SYSTEMS)]


def _pyperf(path: str, **env) -> str:
    run = subprocess.run([sys.executable, "-m", "pyperf_probe", "script", "-i", path], capture_output=True,
                         text=True, env={**os.environ, **env}, check=True, errors="replace")
    return run.stdout


@pytest.fixture(scope="module")
def perf_text(synth_file):
    if shutil.which("perf") is None:
        pytest.skip("needs real perf (linux-perf)")
    run = subprocess.run(["perf", "script", "-i", synth_file[0]], capture_output=True, text=True,
                         errors="replace")
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_every_format_parses_in_python(synth_file):
    """The Python port reads every format's fields (a print fmt may fail, as it does in perf)."""
    _, events = synth_file
    assert all(isinstance(ev, Event) and ev.fields is not None for ev in events)
    failed = [f"{ev.system}:{ev.name}" for ev in events if ev.failed and ev.system not in SKIPPED_SYSTEMS]
    assert len(failed) < len(events) // 50, failed  # a few use plugin-only helpers (jiffies_to_msecs)


@pytest.mark.parametrize("renderer", ["libtraceevent", "python"])
def test_every_format_as_perf_prints_it(synth_file, perf_text, renderer):
    env = {"PYPERF_NO_LIBTRACEEVENT": "1"} if renderer == "python" else {"PYPERF_NO_LIBTRACEEVENT": ""}
    if renderer == "libtraceevent":
        from pyperf_probe.traceevent import libtep
        if libtep.load() is None:
            pytest.skip("libtraceevent.so.1 is not installed (Debian libtraceevent1)")
    got, want = _lines(_pyperf(synth_file[0], **env)), _lines(perf_text)
    diffs = [(w, g) for w, g in zip(want, got) if w != g]
    assert len(got) == len(want) and not diffs, diffs[:5]


def test_library_differs_is_narrow():
    """Only the formats where libtraceevent 1.7 and perf's copy disagree go to Python."""
    formats = _formats()
    if not formats:
        pytest.skip("needs tracefs")
    routed = [text for _, text in formats if library_differs(text)]
    assert len(routed) < len(formats) // 10
    assert library_differs('print fmt: "size=%zu", REC->size')
    assert library_differs('print fmt: "%s", __get_cpumask(mask)')
    assert not library_differs('print fmt: "size=%lu zone=%s", REC->size, __get_str(z)')
