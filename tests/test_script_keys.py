"""report.script_keys: `pyperf script` printed from timed sample keys (each distinct sample rendered once),
and from resolved samples with their texts kept per resolution (``write_resolved``: DWARF chains), print
exactly what formatting each sample of ``Session.samples()`` prints (stdout, stderr and exit status), with
the C loops and with the Python code they replace: on every golden file with several field sets, on
hand-made files that take the reader's careful paths and change the machine between samples (comm, mmap,
fork, time 0, a pid learnt late, two events, unknown ids, corrupt records), and on fuzzed files.

The golden tests (test_script.py, test_script_tracepoints.py, test_kmod_golden.py) hold the keyed path to
perf's own text."""
from __future__ import annotations

import lzma
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import perfdata_build as pb
from pyperf_probe import cli
from pyperf_probe.perfdata.format import RecordType, SampleType
from pyperf_probe.report import script_keys

GOLDEN = Path(__file__).parent / "golden"
DATA_FILES = sorted(p for d in ("report", "reader", "kmod", "unwind") for p in (GOLDEN / d / "data").glob("*.data")
                    if p.stat().st_size > 64)
FIELD_SETS = ["", "-F comm,pid,tid,cpu,time,event,trace,ip,sym,dso,symoff,period", "-G", "--ns -F time,ip,dso",
              "-F +period --ns", "--tid 1,5"]


def _plain(session, printer, accept, write) -> None:
    """The reference: every sample resolved and formatted on its own."""
    for sample in session.samples():
        if accept(sample.thread):
            write(printer.format(sample))


def run(argv: list[str], keyed, monkeypatch, capsys) -> tuple:
    """(status, stdout, stderr) of ``pyperf script ARGV`` by keys (True), one by one with texts kept per
    resolution ("resolved": write_resolved), or plainly one by one (False)."""
    with monkeypatch.context() as m:
        if keyed is not True:
            m.setattr(script_keys, "write_samples", lambda *args: False)
        if keyed is False:
            m.setattr(script_keys, "write_resolved", _plain)
        status = cli.main(["script", *argv])
        out, err = capsys.readouterr()
    return status, out, err


def assert_same(argv: list[str], monkeypatch, capsys) -> str:
    keyed = run(argv, True, monkeypatch, capsys)
    assert keyed == run(argv, False, monkeypatch, capsys)
    assert keyed == run(argv, "resolved", monkeypatch, capsys)
    return keyed[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)


@pytest.mark.parametrize("fields", FIELD_SETS, ids=lambda f: f or "default")
@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_golden_files(path, fields, home, monkeypatch, capsys, speedups_or_not, report_symfs):
    kallsyms = ["--kallsyms", str(GOLDEN / "kmod" / "kallsyms")] if path.parent.parent.name == "kmod" else []
    assert_same(["-f", "-i", str(path), "--symfs", str(report_symfs), *kallsyms, *fields.split()], monkeypatch,
                capsys)


@pytest.mark.parametrize("fields", ["", "-F trace:comm,tid,event,trace", "-G", "-F +period --ns"])
@pytest.mark.parametrize("name", ["system.data.xz", "callchain.data.xz"])
def test_tracepoint_files(name, fields, home, tmp_path, monkeypatch, capsys, speedups_or_not):
    path = tmp_path / name[:-3]
    path.write_bytes(lzma.decompress((GOLDEN / "tracepoints" / "data" / name).read_bytes()))
    kallsyms = ["--kallsyms", str(GOLDEN / "tracepoints" / "data" / "callchain.kallsyms")]
    out = assert_same(["-i", str(path), *kallsyms, *fields.split()], monkeypatch, capsys)
    assert out.count("\n") > 100


def write(tmp_path, records, attrs=None) -> str:
    path = tmp_path / "t.data"
    path.write_bytes(pb.perf_data(records, attrs) if attrs else pb.perf_data(records))
    return str(path)


BIN = "/usr/bin/true"


def test_machine_changes_between_equal_samples(tmp_path, home, monkeypatch, capsys, speedups_or_not):
    """Equal keys around COMM, MMAP and FORK records print each sample as the machine was then; a '%' in a
    comm is text."""
    recs = [pb.comm(1, 1, "a%d", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0),
            pb.sample(0x400010, 1, 1, 10), pb.sample(0x400010, 1, 1, 11, cpu=1), pb.sample(0x400020, 1, 1, 0),
            pb.finished_round(), pb.comm(1, 1, "b", 12), pb.sample(0x400010, 1, 1, 13),
            pb.mmap2(1, 0x400000, 0x1000, 0x1000, BIN, 14), pb.sample(0x400010, 1, 1, 15),
            pb.fork(2, 1, 2, 1, 16), pb.sample(0x400010, 2, 2, 17), pb.sample(0x400010, 1, 1, 1_500_000_000_123),
            pb.finished_round(), pb.sample(0x400010, 1, 1, 5), pb.sample(0x400010, 2, 2, 1_500_000_000_124)]
    path = write(tmp_path, recs)
    for fields in ([], ["--ns"], ["-F", "comm,tid,ip,sym"], ["-F", "+period"]):
        out = assert_same(["-i", path, *fields], monkeypatch, capsys)
        assert out.count("\n") == 9
    out = assert_same(["-i", path], monkeypatch, capsys)
    assert "a%d" in out and "1500.000000:" in out


def test_pid_learnt_late(tmp_path, home, monkeypatch, capsys, speedups_or_not):
    recs = [pb.sample(0x10, 0xFFFFFFFF, 5, 10), pb.sample(0x10, 3, 5, 11), pb.sample(0x10, 0xFFFFFFFF, 5, 12),
            pb.sample(0x20, 3, 3, 13), pb.finished_round(), pb.sample(0x10, 0xFFFFFFFF, 5, 14),
            pb.sample(0x10, 0xFFFFFFFF, 6, 15), pb.sample(0x10, 4, 6, 16)]
    out = assert_same(["-i", write(tmp_path, recs), "-F", "pid,tid,time,ip"], monkeypatch, capsys)
    assert out.count("\n") == 7


def test_short_sample_odd_sizes_and_unknown_types(tmp_path, home, monkeypatch, capsys, speedups_or_not):
    short = struct.pack("<IHH", RecordType.SAMPLE, 2, 24) + struct.pack("<QQ", 0x10, 1 | 1 << 32)
    odd = struct.pack("<IHH", RecordType.COMM, 0, 8 + 8 + 7) + struct.pack("<II", 1, 1) + b"odd\0\0\0\0"
    unknown = pb.record(200, 0, b"\0" * 8)
    recs = [pb.sample(0x10, 1, 1, 10), short, pb.sample(0x10, 1, 1, 11), odd, pb.sample(0x10, 1, 1, 12),
            unknown, pb.sample(0x10, 1, 1, 13), short]
    assert_same(["-i", write(tmp_path, recs)], monkeypatch, capsys)


def test_corrupt_callchains(tmp_path, home, monkeypatch, capsys, speedups_or_not):
    attr = pb.sw_attr(pb.CC_SAMPLE_TYPE)
    bad = struct.pack("<QIIQIIQQ", 0x10, 1, 1, 20, 0, 0, 1, 1 << 60) + b"\0" * 8
    recs = [pb.sample_cc(0x10, 1, 1, 30, [0x10, 0x20]), pb.record(9, 2, bad),
            pb.sample_cc(0x10, 1, 1, 10, [0x10, 0x20]), pb.record(9, 2, bad)]
    _, _, err = run(["-i", write(tmp_path, recs, [(attr, (7,))])], True, monkeypatch, capsys)
    assert "callchain overruns the record" in err
    assert_same(["-i", write(tmp_path, recs, [(attr, (7,))])], monkeypatch, capsys)


def test_two_events_and_unknown_ids(tmp_path, home, monkeypatch, capsys, speedups_or_not):
    st_ = pb.SW_SAMPLE_TYPE | SampleType.ID
    attrs = [(pb.sw_attr(st_), (7,)), (pb.sw_attr(st_).replace(config=1), (8,))]

    def smp(ip, time, sid, cpu=0):
        return pb.record(9, 2, struct.pack("<QIIQQIIQ", ip, 1, 1, time, sid, cpu, 0, 1))
    recs = [smp(0x10, 1, 7), smp(0x10, 2, 8), smp(0x10, 3, 9), smp(0x10, 4, 0), smp(0x20, 5, 8),
            smp(0x10, 6, 9), smp(0x10, 7, 7, 1)]
    _, out, err = run(["-i", write(tmp_path, recs, attrs)], True, monkeypatch, capsys)
    assert "2 samples with id not present in the header" in err and out.count("\n") == 5
    assert_same(["-i", write(tmp_path, recs, attrs)], monkeypatch, capsys)


from test_reader_fuzz import corrupted  # noqa: E402


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=corrupted())
def test_fuzzed_files(raw, tmp_path, home, monkeypatch, capsys, speedups_or_not):
    path = tmp_path / "fuzz.data"
    path.write_bytes(raw)
    assert_same(["-f", "-i", str(path)], monkeypatch, capsys)


def test_pid_and_tid_are_the_samples(tmp_path, home, monkeypatch, capsys, speedups_or_not):
    """perf_sample__fprintf_start prints the sample's pid and tid, not its thread's: the thread of tid -1
    (samples of tasks already gone, in system-wide recordings) keeps the pid it was made with. The expected
    text is perf 6.1's on this file."""
    recs = [pb.comm(7, 7, "seven", 1), pb.sample(0x10, 5, 0xFFFFFFFF, 10), pb.sample(0x10, 6, 0xFFFFFFFF, 11),
            pb.sample(0x10, 0xFFFFFFFF, 0xFFFFFFFF, 12), pb.sample(0x10, 7, 7, 13), pb.sample(0x10, 8, 7, 14)]
    out = assert_same(["-i", write(tmp_path, recs), "-F", "comm,pid,tid,time,ip"], monkeypatch, capsys)
    assert out == ("             :-1     5/-1        0.000000:                10\n"
                   "             :-1     6/-1        0.000000:                10\n"
                   "             :-1    -1/-1        0.000000:                10\n"
                   "           seven     7/7         0.000000:                10\n"
                   "           seven     8/7         0.000000:                10\n")


RAW_TYPE = pb.SW_SAMPLE_TYPE | SampleType.RAW


def raw_sample(ip: int, pid: int, tid: int, time: int, raw: bytes, cpu: int = 0, size: int | None = None) -> bytes:
    """SAMPLE of RAW_TYPE: ip, pid/tid, time, cpu/res, period, u32 size + the RAW bytes (size: a lie)."""
    body = struct.pack("<QIIQIIQI", ip, pid, tid, time, cpu, 0, 1, len(raw) if size is None else size) + raw
    return pb.record(RecordType.SAMPLE, 2, body)


def test_raw_offset():
    from pyperf_probe.perfdata.sample_keys import KeyLayout
    assert KeyLayout.of(RAW_TYPE, timed=True).raw_offset() == 4 + 8 * 4   # ip, pid/tid, cpu, period
    assert KeyLayout.of(RAW_TYPE | SampleType.IDENTIFIER, timed=True).raw_offset() == 4 + 8 * 5
    assert KeyLayout.of(RAW_TYPE, timed=False).raw_offset() == 4 + 8 * 3
    assert KeyLayout.of(RAW_TYPE | SampleType.CALLCHAIN, timed=True).raw_offset() is None
    assert KeyLayout.of(RAW_TYPE | SampleType.WEIGHT, timed=True).raw_offset() is None
    assert KeyLayout.of(pb.SW_SAMPLE_TYPE, timed=True).raw_offset() is None


def test_raw_records_cut_at_raw(tmp_path, home, monkeypatch, capsys, speedups_or_not):
    """Samples whose keys differ by their RAW record only, around COMM, FORK and MMAP records of this thread
    and of others, a RAW size that overruns its sample after the same head was seen whole, samples of
    another cpu and of a pid learnt late."""
    attr = pb.sw_attr(RAW_TYPE)
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0),
            raw_sample(0x400010, 1, 1, 10, b"x" * 12), raw_sample(0x400010, 1, 1, 11, b"y" * 12),
            raw_sample(0x400010, 1, 1, 12, b"x" * 12, cpu=1), raw_sample(0x400010, 2, 2, 13, b"x" * 12),
            pb.comm(2, 2, "other", 14), raw_sample(0x400010, 1, 1, 15, b"z" * 12),
            raw_sample(0x400010, 2, 2, 16, b"z" * 12), pb.comm(1, 1, "b", 17),
            raw_sample(0x400010, 1, 1, 17, b"z" * 12),  # (its text kept at 15, from a known head: dropped)
            raw_sample(0x400010, 1, 1, 18, b"x" * 12), raw_sample(0x400010, 1, 1, 19, b"x" * 4, size=60),
            raw_sample(0x400010, 1, 1, 20, b"w" * 12), pb.mmap2(2, 0x400000, 0x1000, 0x1000, BIN, 21),
            raw_sample(0x400010, 1, 1, 22, b"x" * 12), raw_sample(0x400010, 2, 2, 23, b"x" * 12),
            pb.fork(3, 1, 3, 1, 24), raw_sample(0x400010, 1, 1, 25, b"q" * 12),
            raw_sample(0x400010, 0xFFFFFFFF, 7, 26, b"x" * 12), raw_sample(0x400010, 9, 7, 27, b"x" * 12),
            raw_sample(0x400010, 0xFFFFFFFF, 7, 28, b"y" * 12)]
    path = write(tmp_path, recs, [(attr, (7,))])
    for fields in ([], ["-F", "comm,pid,tid,cpu,time,ip,sym,dso,period"], ["--comm", "b"]):
        assert_same(["-i", path, *fields], monkeypatch, capsys)
    _, out, err = run(["-i", path, "-F", "comm,tid,time"], True, monkeypatch, capsys)
    assert out.count("\n") == 15 and "corrupt" in err  # 16 samples, one corrupt


CHAIN_RAW_TYPE = RAW_TYPE | SampleType.CALLCHAIN


def chain_raw_sample(ip: int, pid: int, tid: int, time: int, chain: list, raw: bytes, cpu: int = 0,
                     nr: int | None = None, size: int | None = None) -> bytes:
    """SAMPLE of CHAIN_RAW_TYPE: ip, pid/tid, time, cpu/res, period, u64 nr + the chain, u32 size + the RAW
    bytes (nr, size: lies)."""
    body = struct.pack("<QIIQIIQQ", ip, pid, tid, time, cpu, 0, 1, len(chain) if nr is None else nr)
    body += struct.pack(f"<{len(chain)}QI", *chain, len(raw) if size is None else size) + raw
    return pb.record(RecordType.SAMPLE, 2, body)


def test_chain_offset():
    from pyperf_probe.perfdata.sample_keys import KeyLayout
    assert KeyLayout.of(CHAIN_RAW_TYPE, timed=True).chain_offset() == 4 + 8 * 4   # ip, pid/tid, cpu, period
    assert KeyLayout.of(CHAIN_RAW_TYPE | SampleType.IDENTIFIER, timed=True).chain_offset() == 4 + 8 * 5
    assert KeyLayout.of(CHAIN_RAW_TYPE, timed=False).chain_offset() == 4 + 8 * 3
    assert KeyLayout.of(CHAIN_RAW_TYPE, timed=True).raw_offset() is None
    assert KeyLayout.of(RAW_TYPE, timed=True).chain_offset() is None
    assert KeyLayout.of(pb.CC_SAMPLE_TYPE, timed=True).chain_offset() is None
    assert KeyLayout.of(CHAIN_RAW_TYPE | SampleType.WEIGHT, timed=True).chain_offset() is None


def test_chains_before_raw_cut_at_raw(tmp_path, home, monkeypatch, capsys, speedups_or_not):
    """Samples whose keys hold a call chain, then RAW (a uprobe's argument, with -g): cut at RAW, the chain in
    the head, whole keys not kept. Equal heads with other RAW records, around COMM, MMAP and FORK records of
    this thread and of others, chains of other lengths (none too), a chain and a RAW size that overrun their
    sample, another cpu, a pid learnt late."""
    attr = pb.sw_attr(CHAIN_RAW_TYPE)
    a, b = [0x400010, 0x400020, 0x400030], [0x400010, 0x400040]
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, BIN, 0),
            chain_raw_sample(0x400010, 1, 1, 10, a, b"x" * 12), chain_raw_sample(0x400010, 1, 1, 11, a, b"y" * 12),
            chain_raw_sample(0x400010, 1, 1, 12, b, b"x" * 12), chain_raw_sample(0x400010, 1, 1, 12, a, b"x" * 12,
                                                                                 cpu=1),
            chain_raw_sample(0x400010, 2, 2, 13, a, b"x" * 12), pb.comm(2, 2, "other", 14),
            chain_raw_sample(0x400010, 1, 1, 15, a, b"z" * 12), chain_raw_sample(0x400010, 2, 2, 16, a, b"z" * 12),
            pb.comm(1, 1, "b", 17), chain_raw_sample(0x400010, 1, 1, 17, a, b"z" * 12),
            chain_raw_sample(0x400010, 1, 1, 18, [], b"x" * 5), chain_raw_sample(0x400010, 1, 1, 19, a, b"x" * 4,
                                                                                 size=60),
            chain_raw_sample(0x400010, 1, 1, 19, a, b"x" * 4, nr=1 << 40), chain_raw_sample(0x400010, 1, 1, 19, a,
                                                                                          b"x" * 4, nr=4),
            chain_raw_sample(0x400010, 1, 1, 20, b, b"w" * 12), pb.mmap2(2, 0x400000, 0x1000, 0x1000, BIN, 21),
            chain_raw_sample(0x400010, 1, 1, 22, a, b"x" * 12), chain_raw_sample(0x400010, 2, 2, 23, a, b"x" * 12),
            pb.mmap2(1, 0x400000, 0x1000, 0x1000, BIN, 24), chain_raw_sample(0x400010, 1, 1, 25, a, b"x" * 12),
            pb.fork(3, 1, 3, 1, 26), chain_raw_sample(0x400010, 1, 1, 27, a, b"q" * 12),
            chain_raw_sample(0x400010, 3, 3, 28, a, b"q" * 12),
            chain_raw_sample(0x400010, 0xFFFFFFFF, 7, 29, b, b"x" * 12), chain_raw_sample(0x400010, 9, 7, 30, b,
                                                                                         b"x" * 12),
            chain_raw_sample(0x400010, 0xFFFFFFFF, 7, 31, b, b"y" * 12)]
    path = write(tmp_path, recs, [(attr, (7,))])
    for fields in ([], ["-F", "comm,pid,tid,cpu,time,ip,sym,dso,period"], ["--comm", "b"], ["--ns"], ["-G"]):
        assert_same(["-i", path, *fields], monkeypatch, capsys)
    with monkeypatch.context() as m:  # (the memo full from its fourth key on: lines written from their heads)
        m.setattr(script_keys, "MEMO_LIMIT", 4)
        assert_same(["-i", path], monkeypatch, capsys)
    _, out, err = run(["-i", path, "-F", "comm,tid,time,ip"], True, monkeypatch, capsys)
    assert out.count(": \n") == 18 and "corrupt" in err  # 21 samples, three corrupt


@pytest.mark.parametrize("args", [["-G"], ["-F", "comm,tid,ip,sym,dso", "-G"]])
def test_hidden_chains_are_not_resolved_as_perf(args, home, monkeypatch, capsys, speedups_or_not):
    """-G: perf resolves no chain (symbol_conf.use_callchain is off), so nothing a chain's kernel addresses
    would load is loaded before the samples' own: on the kmod names file, a module's symbols then stay
    unknown, as in perf 6.1's text; keyed and one by one alike."""
    import shutil
    import subprocess
    perf = shutil.which("perf") or "/usr/bin/perf"
    argv = ["-f", "-i", str(GOLDEN / "kmod" / "data" / "names.data"), "--kallsyms",
            str(GOLDEN / "kmod" / "kallsyms"), *args]
    out = assert_same(argv, monkeypatch, capsys)
    assert "ffffffffc0010010 [unknown] (/lib/modules/6.1.0/extra/mod-two.ko.xz)" in out
    if os.path.exists(perf):
        assert out == subprocess.run([perf, "script", *argv], capture_output=True, text=True).stdout


def test_head_plans_print_what_the_pieces_print():
    """ScriptPrinter.templates_around_trace's generated plan = its general path, for every set of the
    fields (the location's too: ip, sym, symoff, dso), comms and symbols with '%' and padding, --ns,
    --show-kernel-path, pids and cpus of any width, with RAW or without, locations with and without a
    symbol or a dso."""
    import itertools
    from types import SimpleNamespace as NS
    from pyperf_probe.report.script_text import ScriptOptions, ScriptPrinter
    names = ("comm", "pid", "tid", "cpu", "time", "period", "event", "trace", "ip", "sym", "symoff", "dso")
    class Frame(NS):  # (hashable by identity, as session.frames' interned frames)
        __hash__ = object.__hash__
    dso = NS(svma=lambda addr: addr + 0x1000, long_name="/usr/lib/l%d.so", script_name="l%d.so")
    locations = [Frame(avma=0xffffffff813b4dc5, file_offset=0x3b4dc5, sym="ttwu%s", sym_start=0x3b4c50,
                       dso_obj=dso),
                 Frame(avma=0x7f00, file_offset=None, sym=None, sym_start=None, dso_obj=None),
                 Frame(avma=0, file_offset=0x10, sym="f", sym_start=None, dso_obj=dso)]
    evs = [NS(attr=NS(config=5, sample_type=0), tp_format=object(), name="sched:sched_switch"),
           NS(attr=NS(config=6, sample_type=0), tp_format=None, name="cpu-clock")]
    samples = [NS(evsel=e, thread=NS(comm=comm), sample=NS(pid=pid, tid=tid, cpu=cpu, ip=locations[e].avma),
                  period=period, raw=raw, location=locations[e])
               for e, comm, pid, tid, cpu, period, raw in (
                   (0, "kworker/0:1", 5, 6, 1, 1, b"x"), (1, "a%sb%%", -1, 123456, None, 10 ** 12, None),
                   (0, "x" * 20, 0, 0, 1234, 3, None), (1, "", 99999, 7, 0, 0, b""), (2, "c", 1, 2, 3, 4, b""))]
    checked = 0
    evs.append(evs[0])
    for n in range(len(names) + 1):
        for fields in itertools.combinations(names, n):
            for ns, kernel_path in ((False, False), (True, True)):
                printer, general = (ScriptPrinter(evs, ScriptOptions([frozenset(fields)] * 3, nanosecs=ns,
                                                                     callchains=False, kernel_path=kernel_path),
                                                  trace_events=object()) for _ in range(2))
                general._around_plans = {0: None, 1: None, 2: None}
                for s in samples:
                    assert printer.templates_around_trace(s) == general.templates_around_trace(s), (fields, s)
                    checked += 1
    assert checked > 20000 and printer._around_plans[0] is not None


@pytest.mark.skipif(getattr(__import__("pyperf_probe.perfdata.speedups", fromlist=["speedups"]).speedups,
                            "script_raw_run", None) is None, reason="the C accelerator is not built")
def test_c_lines_are_python_percent_formatting():
    """_speedups.script_raw_run writes the lines of kept templates itself (LineBuf, not PyUnicode_Format):
    each line is ``template % (seconds, rest)`` as Python prints it, for the time conversions of every field
    set (%5d.%06d, %5d.%09d --ns, %.0s%.0s without time), '%%' anywhere, numbers wider than their width,
    non-ASCII texts and conversions it leaves to PyUnicode_Format (widths, '-', '%x'), in the same order."""
    import random
    from pyperf_probe.perfdata.speedups import speedups
    rng = random.Random(16)
    conversions = ["%5d.%06d: ", "%5d.%09d: ", "%.0s%.0s", "%d%d", "%-7d|%3d", "%08d %x", "%010d.%1d", "%.0s%5s"]
    texts = ["", "a", "%%", "100%% of x%%y", "comm=é ", "  kworker/0:1 ", "\n\t7f00 f+0x1 (/lib/l.so)\n", "€%%"]
    for _ in range(300):
        templates = [rng.choice(texts) + rng.choice(conversions) + rng.choice(texts) + rng.choice(texts)
                     for _ in range(rng.randint(1, 6))]
        memo = {b"k%d" % i: t for i, t in enumerate(templates)}
        items = [(b"k%d" % rng.randrange(len(templates)), rng.choice([0, 1, 999, 10 ** 9 - 1, 10 ** 9,
                  rng.randrange(1 << 64), 4546821583123, 10 ** 19])) for _ in range(rng.randint(1, 40))]
        for divisor in (1, 1000):
            out: list = []
            got = speedups.script_raw_run(items, 0, memo, {}, 1, divisor, None, out, 1 << 14)
            assert got == (len(items), 0, None, 0)
            want = "".join(memo[k] % (t // 10 ** 9, t % 10 ** 9 // divisor) for k, t in items if memo[k])
            assert "".join(out) == want


@pytest.mark.skipif(getattr(__import__("pyperf_probe.perfdata.speedups", fromlist=["speedups"]).speedups,
                            "script_raw_run", None) is None, reason="the C accelerator is not built")
def test_c_loop_asks_miss_for_new_heads():
    """script_raw_run's `miss`: a key whose head is not kept and whose RAW fits is handed to miss(key, end)
    (end: where its RAW ends) in its turn, its template printed as a kept one's, None counted as dropped; a
    RAW that overruns its key still returns to Python (status 1); a kept key does not call it."""
    from pyperf_probe.perfdata.speedups import speedups
    at = 2

    def key(head: bytes, raw: bytes, size: int | None = None) -> bytes:
        return head + struct.pack("<I", len(raw) if size is None else size) + raw
    calls = []

    def miss(k, end):
        calls.append((k, end))
        return None if k[:at] == b"dr" else {b"h1": "one %d.%d\n", b"h2": ""}.get(k[:at], "%d-%d other\n")
    kept = key(b"kk", b"x")
    items = [(key(b"h1", b"abc"), 5 * 10 ** 9 + 7000), (kept, 1), (key(b"dr", b""), 2), (key(b"h2", b"z"), 3),
             (key(b"h9", b"q"), 4), (key(b"ov", b"r", size=9), 5), (key(b"h1", b"abc"), 6)]
    out: list = []
    got = speedups.script_raw_run(items, 0, {kept: "kept %d %d\n"}, {}, at, 1000, None, out, 1 << 14, miss)
    assert got == (5, 1, None, 1)
    assert "".join(out) == "one 5.7\nkept 0 0\n0-0 other\n"
    assert calls == [(items[0][0], 2 + 4 + 3), (items[2][0], 6), (items[3][0], 7), (items[4][0], 7)]


@pytest.mark.skipif(getattr(__import__("pyperf_probe.perfdata.speedups", fromlist=["speedups"]).speedups,
                            "script_whole_run", None) is None, reason="the C accelerator is not built")
def test_c_whole_loop_is_run_whole():
    """_speedups.script_whole_run = _Walk.run_whole's loop: kept templates printed, miss(key) asked in turn
    for the others (what it keeps is found by the next samples), None counted as dropped, "" printing
    nothing; the lines in order, through LineBuf and through PyUnicode_Format (non-ASCII, other conversions)."""
    from pyperf_probe.perfdata.speedups import speedups
    memo = {b"a": "a %d.%06d\n", b"e": "", b"u": "é %d-%d\n"}
    calls = []

    def miss(key):
        calls.append(key)
        if key == b"drop":
            return None
        memo[key] = f"new {key.decode()} %5d.%06d: %%\n"
        return memo[key]
    items = [(b"a", 1), (b"n", 2 * 10 ** 9 + 5000), (b"e", 3), (b"drop", 4), (b"n", 5), (b"u", 6), (b"a", 7)]
    out: list = []
    assert speedups.script_whole_run(items, memo, 1000, out, miss) == 1
    want = "".join(memo[k] % (t // 10 ** 9, t % 10 ** 9 // 1000) for k, t in items if k != b"drop" and memo[k])
    assert "".join(out) == want and calls == [b"n", b"drop"]


def _c_trace_plan():
    """(the C accelerator, the flat TracePlan of a tracepoint ``t`` printing "x=%d%% c=%s"), or a skip without
    the accelerator's script_raw_run."""
    from pyperf_probe.perfdata.speedups import speedups
    from pyperf_probe.traceevent.plan import _trace_plan_type, flat_plan
    from pyperf_probe.traceevent.printfmt import Event
    if _trace_plan_type() is None or getattr(speedups, "script_raw_run", None) is None:
        pytest.skip("the C accelerator is not built")
    ev = Event.parse("name: t\nID: 9\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
                     "\tfield:unsigned short common_flags;\toffset:2;\tsize:2;\tsigned:0;\n\n"
                     "\tfield:int x;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:char c[4];\toffset:8;\tsize:4;\tsigned:0;\n\n"
                     'print fmt: "x=%d%% c=%s", REC->x, REC->c\n')
    plan = flat_plan(ev)
    assert type(plan) is _trace_plan_type()
    return speedups, plan


def test_c_loop_prints_trace_plans_itself():
    """script_raw_run prints a head's TracePlan from the key's bytes (no call): the texts its Python plan
    prints, '%' doubled in the template, for whole records and records too short for the plan (its fallback)."""
    speedups, plan = _c_trace_plan()
    at = 2
    raws = [struct.pack("<HxxiI", 9, -5, 0x41424344), struct.pack("<Hxxi", 9, 7), b"\x09\x00\x01"]
    items = [(b"hh" + struct.pack("<I", len(raw)) + raw, 10 ** 9 + 1000 * n) for n, raw in enumerate(raws)]
    out: list = []
    heads = {b"hh": ["<", "|%d.%06d\n", plan, 0, []]}
    assert speedups.script_raw_run(items, 0, {}, heads, at, 1000, None, out, 1 << 14) == (3, 0, None, 0)
    assert "".join(out) == "".join(f"<{plan.fallback(raw)}|1.00000{n}\n" for n, raw in enumerate(raws))
    assert "x=-5% c=DCBA" in out[0]


@pytest.mark.skipif(getattr(__import__("pyperf_probe.perfdata.speedups", fromlist=["speedups"]).speedups,
                            "script_raw_run", None) is None, reason="the C accelerator is not built")
def test_c_loop_of_chained_keys():
    """script_raw_run's `chained`: RAW found past each key's chain (`at`: the chain's nr), the head is the key up
    to RAW, chain included; a key kept in `memo` printed from there, a new one's template kept while `memo` is
    not full (and noted in its head's `made`); once it is full, `memo` is not looked up and each line is
    written from its head without being kept (no return to Python); a head not kept handed to miss(key, end); a chain or RAW that overruns its key
    returned to Python (status 1)."""
    from pyperf_probe.perfdata.speedups import speedups
    at = 2

    def key(head: bytes, chain: list, raw: bytes, nr: int | None = None) -> bytes:
        return (head + struct.pack(f"<Q{len(chain)}Q", len(chain) if nr is None else nr, *chain) +
                struct.pack("<I", len(raw)) + raw)
    k1, k2, k3 = key(b"hh", [1, 2], b"abc"), key(b"hh", [1], b"abc"), key(b"hh", [1, 2], b"abd")
    calls = []

    def miss(k, end):
        calls.append((k, end))
        return None if k[:at] == b"dr" else "new %d %d\n"
    items = [(k1, 5 * 10 ** 9 + 7000), (k2, 1), (key(b"hh", [], b"q"), 2), (key(b"hh", [3], b"z"), 3),
             (key(b"dr", [], b""), 4), (k3, 6), (k2, 7), (key(b"hh", [1], b"", nr=9), 8), (k2, 9)]
    for limit in (1 << 14, 1):
        heads = {k1[:at + 24]: ["one %d.%06d ", "|1,2%%\n", None, 0, []], k2[:at + 16]: ["two %d.%d ", "|1\n", None, 0, []],
                 key(b"hh", [], b"")[:at + 8]: [None, None, None, 0, []]}
        memo = {k1: "memo %d %d\n"}
        calls.clear()
        out: list = []
        got = speedups.script_raw_run(items, 0, memo, heads, at, 1000, None, out, limit, miss, None, True)
        assert got == (7, 1, None, 1)
        first = "memo 5 7\n" if limit > 1 else "one 5.000007 |1,2%\n"  # (a full memo is not looked up)
        assert "".join(out) == first + "two 0.0 |1\nnew 0 0\none 0.000000 |1,2%\ntwo 0.0 |1\n"
        assert calls == [(items[3][0], at + 16 + 4 + 1), (items[4][0], at + 8 + 4)]
        if limit > 1:
            assert memo == {k1: "memo %d %d\n", k2: "two %d.%d |1\n", items[2][0]: "", k3: "one %d.%06d |1,2%%\n"}
            assert [h[4] for h in heads.values()] == [[k3], [k2], [items[2][0]]]
        else:
            assert memo == {k1: "memo %d %d\n"} and all(not h[4] for h in heads.values())
        out = []
        assert speedups.script_raw_run(items, 8, memo, heads, at, 1000, None, out, limit, miss, None, True) == \
            (9, 0, None, 0)
        assert "".join(out) == "two 0.0 |1\n"


def test_c_chained_loop_writes_trace_plans_itself():
    """script_raw_run with `chained` and a full memo writes a line at once (the head's before with the time, the
    TracePlan's text, its after): the text of the template before + text with '%' doubled + after (which it
    keeps while the memo is not full), for '%' in the plan's
    text and in the chain's, records too short for the plan (its fallback), heads without a trace text, and
    texts that are not ASCII (the template path)."""
    speedups, plan = _c_trace_plan()
    at = 2
    heads = {b"aa": ["a %5d.%06d: ", "\n\t1 f%%s (/l%%)\n\n", plan, 0, []],
             b"bb": ["b %.0s%.0s", "\n\t2 é\n\n", plan, 0, []], b"cc": ["c %5d.%09d: ", "|%%\n", None, 0, []]}
    raws = [struct.pack("<HxxiI", 9, -5, 0x41424344), struct.pack("<Hxxi", 9, 7), b"\x09\x00\x01"]
    items = []
    for n, raw in enumerate(raws):
        for head, chain in ((b"aa", [1]), (b"bb", [2, 3]), (b"cc", [])):
            key = head + struct.pack(f"<Q{len(chain)}QI", len(chain), *chain, len(raw)) + raw
            heads[key[:at + 8 + 8 * len(chain)]] = heads[head]
            items.append((key, 10 ** 9 + 1000 * n + 7))
    out: list = []
    assert speedups.script_raw_run(items, 0, {}, heads, at, 1000, None, out, 0, None, None, True) == \
        (len(items), 0, None, 0)  # (a full memo: each line written from its head)
    kept: list = []
    assert speedups.script_raw_run(items, 0, {}, heads, at, 1000, None, kept, 1 << 14, None, None, True) == \
        (len(items), 0, None, 0)
    assert "".join(kept) == "".join(out)
    want = ""
    for key, time in items:
        before, after, info, _, _ = heads[key[:at]]
        text = info.fallback(key[at + 8 + 8 * key[at] + 4:]).replace("%", "%%") if info is not None else ""
        want += (before + text + after) % (time // 10 ** 9, time % 10 ** 9 // 1000)
    assert "".join(out) == want
    assert "x=-5% c=DCBA" in want and "f%s (/l%)" in want and "é" in want
