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


def _raw_sample(ip: int, pid: int, tid: int, time: int, raw: bytes, cpu: int, misc: int) -> bytes:
    import struct

    import perfdata_build as pb
    from pyperf_probe.perfdata.format import RecordType
    body = struct.pack("<QIIQIIQI", ip, pid, tid, time, cpu, 0, 1, len(raw)) + raw
    return pb.record(RecordType.SAMPLE, misc, body)


def _random_file(tmp_path, seed: int) -> str:
    """Kernel- and user-mode RAW samples of a few threads and cpus (heads repeating, RAW records repeating or
    not) between COMM (one with '%'), MMAP and FORK records of those threads, a pid learnt late, the kernel's
    symbols from --kallsyms."""
    import random

    import perfdata_build as pb
    from pyperf_probe.perfdata.format import SampleType
    rng = random.Random(seed)
    recs = [pb.kernel_mmap(0xFFFFFFFF81000000, 0x1000000), pb.comm(1, 1, "a", 0),
            pb.mmap2(1, 0x400000, 0x1000, 0, "/usr/bin/true", 0), pb.comm(2, 2, "b%d", 0)]
    time = 1
    for _ in range(400):
        time += rng.randrange(1, 1000)
        roll = rng.random()
        tid = rng.choice((1, 2, 3, 4))
        if roll < 0.03:
            recs.append(pb.comm(tid, tid, rng.choice(("x", "y%s", "zz")), time))
        elif roll < 0.05:
            recs.append(pb.mmap2(tid, 0x400000, 0x1000, rng.randrange(2) * 0x1000, "/usr/bin/true", time))
        elif roll < 0.06:
            recs.append(pb.fork(5, tid, 5, tid, time))
        else:
            kernel = rng.random() < 0.6
            ip = (0xFFFFFFFF81000000 + rng.choice((0x10, 0xba, 0x140, 0xc70, rng.randrange(0x2000))) if kernel
                  else 0x400000 + rng.choice((0x10, 0x20, rng.randrange(0x1000))))
            pid = 0xFFFFFFFF if tid == 4 and rng.random() < 0.3 else tid
            raw = bytes(rng.choice(b"ab%") for _ in range(rng.choice((4, 8, 12))))
            recs.append(_raw_sample(ip, pid, tid, time, raw, rng.randrange(2), 1 if kernel else 2))
        if rng.random() < 0.05:
            recs.append(pb.finished_round())
    path = tmp_path / f"r{seed}.data"
    path.write_bytes(pb.perf_data(recs, [(pb.sw_attr(pb.SW_SAMPLE_TYPE | SampleType.RAW), (7,))]))
    return str(path)


@pytest.mark.parametrize("fields", ["", "-F comm,pid,tid,cpu,time,ip,sym,dso,period", "--ns -F comm,tid,time,ip,sym",
                                    "-F tid,cpu,time,period", "-F comm,pid,time,ip,sym,symoff,dso --show-kernel-path"])
def test_c_heads_on_random_files(fields, home, tmp_path, monkeypatch, capsys):
    """C heads = Python heads = each sample formatted on its own, on random files of kernel- and user-mode
    samples whose threads change between them; C makes most heads once the kernel's symbols are loaded."""
    if getattr(speedups, "script_raw_run", None) is None:
        pytest.skip("the C accelerator is not built")
    kallsyms = str(DATA / "callchain.kallsyms")
    made_c = made_py = 0
    for seed in range(6):
        argv = ["-i", _random_file(tmp_path, seed), "--kallsyms", kallsyms, *fields.split()]
        c = _run(argv, True, monkeypatch, capsys)
        py = _run(argv, False, monkeypatch, capsys)
        with monkeypatch.context() as m:
            m.setattr(script_keys, "write_samples", lambda *args: False)
            plain = _run(argv, False, monkeypatch, capsys)
        assert c[:3] == py[:3] == plain[:3], seed
        assert c[1].count("\n") > 300
        made_c, made_py = made_c + c[3], made_py + py[3]
    assert made_c * 2 < made_py, (made_c, made_py)
