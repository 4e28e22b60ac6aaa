"""script_raw_run's heads made in C (``_speedups_script.c``'s make_head, fed by ``report.script_keys._Walk.fast_heads``
and ``ScriptPrinter.around_spec``): the C twin of ``_Walk.miss_raw``'s planned path prints what the Python path
prints (stdout, stderr, status) on the golden tracepoint recordings with every kind of head (comm, pid/tid, cpu,
period, the ip field's line, --ns, a thread filter that leaves heads to Python), and makes most of the heads.
perf's own text for these files: tests/test_script_tracepoints.py."""
from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from pyperf_probe import cli
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.report import script_keys

DATA = Path(__file__).parent / "golden" / "tracepoints" / "data"
FIELD_SETS = ["", "-F trace:comm,tid,event,trace", "-F comm,pid,tid,cpu,time,event,trace,ip,sym,dso,symoff,period",
              "-F +period --ns", "--ns -F comm,tid,time,event,trace,ip,sym,dso", "-F trace:pid,cpu,trace",
              "--tid 1,5,1000-2000"]


def _run(argv, c_heads: bool, monkeypatch, capsys) -> tuple:
    """(status, stdout, stderr, heads Python made) of ``pyperf script ARGV``."""
    made = []
    planned = script_keys._Walk._miss_planned

    def counted(self, *args):
        made.append(1)
        return planned(self, *args)
    with monkeypatch.context() as m:
        m.setattr(script_keys, "C_HEADS", c_heads)
        m.setattr(script_keys._Walk, "_miss_planned", counted)
        status = cli.main(["script", *argv])
        out, err = capsys.readouterr()
    return status, out, err, len(made)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)


@pytest.mark.parametrize("fields", FIELD_SETS, ids=lambda f: f or "default")
@pytest.mark.parametrize("name", ["system.data.xz", "callchain.data.xz"])
def test_c_heads_print_what_python_heads_print(name, fields, home, tmp_path, monkeypatch, capsys):
    if getattr(speedups, "script_raw_run", None) is None:
        pytest.skip("the C accelerator is not built")
    path = tmp_path / name[:-3]
    path.write_bytes(lzma.decompress((DATA / name).read_bytes()))
    argv = ["-i", str(path), "--kallsyms", str(DATA / "callchain.kallsyms"), *fields.split()]
    c = _run(argv, True, monkeypatch, capsys)
    py = _run(argv, False, monkeypatch, capsys)
    assert c[:3] == py[:3]
    assert c[1].count("\n") > 100 or "--tid" in fields
    if name == "system.data.xz" and "--tid" not in fields and "-G" not in fields:
        assert c[3] * 3 < py[3], (c[3], py[3])  # (C made most heads)
