"""A recording killed at any moment keeps what it flushed; SIGINT, SIGTERM and SIGHUP give a complete file.

The workload is rec_calls pinned to CPU 0 (``taskset -c 0``): its calls of rec_leaf(n) happen one after the
other (threads and children run in turn), so the samples, in time order, are a known sequence of (comm, n),
and with one CPU they reach the file in that order. A recording killed with SIGKILL must read back, by real
``perf script`` and by ``pyperf script`` alike, as exactly the samples of the data its header commits (none
invented: a prefix of the sequence; none lost that were flushed: the header covers every flush the recorder
logged under -v, and every sample record in it is read). The kill moments are random (the seed is in the
failure message; PYPERF_KILL_SEED fixes it).
"""
import contextlib
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import record_helpers as rh  # noqa: E402

pytestmark = [pytest.mark.uprobes,
              pytest.mark.skipif(not rh.HAVE_UPROBES, reason="needs root and uprobe events"),
              pytest.mark.skipif(not rh.HAVE_PERF, reason="needs /usr/bin/perf"),
              pytest.mark.skipif(not os.path.exists("/usr/bin/taskset"), reason="needs taskset")]

SCALE = 150  # 136,500 calls: about 5 s of recording here
FLUSHED = re.compile(r"^flushed: .* data size (\d+)$", re.M)
N_ARG = re.compile(r" n=(\d+)$")


@contextlib.contextmanager
def uprobe_with_arg(binary, function, event):
    """GROUP:EVENT on ``function`` with its first argument as ``n`` (rh.uprobe without arguments); removed
    on every path."""
    from pyperf_probe.kernel import tracefs
    offset = rh.file_offset(binary, function)
    tracefs.write_uprobe_events([f"p:{rh.GROUP}/{event} {binary}:{offset:#x} n=%di:s64"])
    try:
        yield f"{rh.GROUP}:{event}"
    finally:
        tracefs.write_uprobe_events([f"-:{rh.GROUP}/{event}"])


@pytest.fixture(scope="module")
def rec_calls():
    return rh.workload("rec_calls")


@pytest.fixture(scope="module")
def probe(rec_calls):
    with uprobe_with_arg(rec_calls, "rec_leaf", f"leaf_n_{os.getpid()}") as name:
        yield name


def expected_calls(scale):
    """(comm, n) of every rec_leaf call in time order (workloads/rec_calls.c)."""
    calls = [("rec_calls", i) for i in range(10 * scale)]
    calls += [("rec_calls", i) for _ in range(3) for i in range(100 * scale)]
    calls += [("rec_child", i) for _ in range(4) for i in range(150 * scale)]
    return calls


def header(path):
    """(data offset, data size, feature bits) of a perf.data header."""
    raw = open(path, "rb").read(104)
    offset, size = struct.unpack_from("<QQ", raw, 40)
    return offset, size, int.from_bytes(raw[72:104], "little")


def raw_samples(path):
    """SAMPLE records in the data section the header gives, by walking the record headers."""
    offset, size, _ = header(path)
    data = open(path, "rb").read()[offset:offset + size]
    pos = count = 0
    while pos < len(data):
        rtype, _misc, rsize = struct.unpack_from("<IHH", data, pos)
        assert rsize >= 8 and pos + rsize <= len(data), f"record at {offset + pos:#x} crosses the data's end"
        count += rtype == 9
        pos += rsize
    return count


def calls_read(path):
    """(comm, n) of each sample as perf script prints them (time order), and pyperf script's text equal."""
    theirs = rh.perf("script", "-i", path, "-F", "trace:comm,trace")
    assert theirs.returncode == 0 and theirs.stderr == "", theirs.stderr
    ours = rh.pyperf("script", "-i", path, "-F", "trace:comm,trace")
    assert ours.returncode == 0 and ours.stdout == theirs.stdout, ours.stderr
    calls = []
    for line in theirs.stdout.splitlines():
        comm = line.split()[0]
        calls.append((comm, int(N_ARG.search(line).group(1))))
    return calls


TIP = re.compile(r"^# \(Tip:.*\n", re.M)


def reports_equal(path):
    """pyperf report prints what perf report prints for the file (the random tip line aside)."""
    theirs = rh.perf("report", "-i", path, "--stdio", "--sort", "comm,dso,sym")
    ours = rh.pyperf("report", "-i", path, "--stdio", "--sort", "comm,dso,sym")
    assert (ours.returncode, TIP.sub("", ours.stdout)) == (theirs.returncode, TIP.sub("", theirs.stdout))
    assert ours.stderr == theirs.stderr


def start(out, probe, rec_calls, scale=SCALE, *extra):
    log = open(str(out) + ".log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "pyperf_probe", "-v", "record", "-e", probe, "-g", *extra,
                             "-o", str(out), "--", "taskset", "-c", "0", rec_calls, str(scale)],
                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    return proc, log


def flushed(log):
    log.seek(0)
    return [int(m) for m in FLUSHED.findall(log.read())]


def wait_for_flushes(proc, log, count, timeout=60):
    """Until the recorder has logged ``count`` flushes (the first two are the synthesized records)."""
    deadline = time.monotonic() + timeout
    while len(flushed(log)) < count:
        assert proc.poll() is None, "the recording ended before the kill"
        assert time.monotonic() < deadline, "no flush logged"
        time.sleep(0.005)


@contextlib.contextmanager
def recording(tmp_path, probe, rec_calls, *extra, scale=SCALE):
    """A recording into tmp_path/perf.data, where an earlier perf.data is; afterwards the session (the
    recorder and the workload) is gone."""
    out = tmp_path / "perf.data"
    out.write_bytes(b"the user's previous recording")
    proc, log = start(out, probe, rec_calls, scale, *extra)
    try:
        yield proc, log, out
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


def kill_moments():
    seed = int(os.environ.get("PYPERF_KILL_SEED", random.randrange(1 << 30)))
    rnd = random.Random(seed)
    return seed, [rnd.uniform(0, 0.4) for _ in range(2)] + [rnd.uniform(0, 2.0) for _ in range(5)]


SEED, MOMENTS = kill_moments()


@pytest.mark.parametrize("moment", range(len(MOMENTS)))
def test_sigkill_keeps_every_flushed_sample(tmp_path, rec_calls, probe, moment):
    """Moments 0-1: from the start (the interpreter may not have opened the file yet); the others: after the
    workload's first samples reached the file."""
    delay, why = MOMENTS[moment], f"seed {SEED} (PYPERF_KILL_SEED), moment {moment}"
    with recording(tmp_path, probe, rec_calls) as (proc, log, out):
        if moment >= 2:
            wait_for_flushes(proc, log, 3)
        time.sleep(delay)
        ended = proc.poll() is not None  # the recording ran to its end first (a slow machine)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        logged = flushed(log)
    old = tmp_path / "perf.data.old"
    if not old.exists():  # killed before it opened the output: the previous file is untouched
        assert out.read_bytes() == b"the user's previous recording" and not logged, why
        return
    assert old.read_bytes() == b"the user's previous recording", why
    if not out.exists() or out.stat().st_size < 104 or not header(out)[1]:
        assert not logged, why  # killed before the first flush, before anything was enabled
        return
    _offset, size, bits = header(out)
    assert size >= logged[-1], f"{why}: the header lost flushes ({size} < {logged[-1]})"
    complete = not bits & 1  # HEADER_RESERVED marks the file of a recording that did not finish
    assert complete or not ended, why
    calls = calls_read(str(out))
    assert len(calls) == raw_samples(str(out)), why
    expected = expected_calls(SCALE)
    assert calls == expected[:len(calls)], f"{why}: samples out of the workload's order"
    assert calls if moment >= 2 else True, why
    assert len(calls) == len(expected) if complete else True, why  # killed after it wrote its last header
    reports_equal(str(out))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_stop_signals_give_a_complete_file(tmp_path, rec_calls, probe, signum):
    with recording(tmp_path, probe, rec_calls) as (proc, log, out):
        wait_for_flushes(proc, log, 3)
        time.sleep(0.3)
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 128 + signum
        log.seek(0)
        summary = re.search(r"Captured and wrote [\d.]+ MB \S+ \((\d+) samples\)", log.read())
    assert summary, "no summary"
    assert (tmp_path / "perf.data.old").read_bytes() == b"the user's previous recording"
    _offset, _size, bits = header(out)
    assert not bits & 1 and bits >> 21 & 1 and bits >> 2 & 1  # no HEADER_RESERVED; SAMPLE_TIME, BUILD_ID
    calls = calls_read(str(out))
    assert 0 < len(calls) == int(summary.group(1)) == raw_samples(str(out))
    assert calls == expected_calls(SCALE)[:len(calls)]
    assert rh.report_text(str(out), "--sort", "comm,dso,sym")


def test_sighup_ignored_under_nohup(tmp_path, rec_calls, probe):
    out = tmp_path / "perf.data"
    proc = subprocess.Popen(["nohup", sys.executable, "-m", "pyperf_probe", "record", "-q", "-e", probe,
                             "-o", str(out), "--", rec_calls, "1", "2000"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(1.0)
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=60) == 0  # not stopped: the workload slept 2 s, then ran to its end
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert len(calls_read(str(out))) == 910


def test_a_trickle_reaches_the_file_while_recording(tmp_path, rec_calls):
    """One hit per run of rec_calls, a run every 0.1 s: far below the half-full buffer that wakes perf, so
    a killed perf keeps none of them; pyperf drains at least every second."""
    with uprobe_with_arg(rec_calls, "rec_main_path", f"main_path_{os.getpid()}") as name:
        out = tmp_path / "perf.data"
        log = open(str(out) + ".log", "w+")
        proc = subprocess.Popen([sys.executable, "-m", "pyperf_probe", "-v", "record", "-e", name, "-o", str(out),
                                 "--", "sh", "-c", f"while :; do {rec_calls} 1; sleep 0.1; done"],
                                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        try:
            wait_for_flushes(proc, log, 1)
            time.sleep(3)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            log.close()
        theirs = rh.perf("script", "-i", str(out), "-F", "trace:comm,trace")
        assert theirs.returncode == 0 and theirs.stderr == ""
        assert len(theirs.stdout.splitlines()) == raw_samples(str(out)) >= 1


def test_perfs_own_killed_file_is_read_by_pyperf(tmp_path, rec_calls, probe):
    """perf record killed the same way leaves "data size field is 0", and perf refuses the file; pyperf
    warns as perf does and reads every whole sample record in it (what it did before; on its own killed
    files pyperf and perf both read what was flushed)."""
    out = tmp_path / "perf.data"
    proc = subprocess.Popen([rh.PERF, "record", "-e", probe, "-g", "-o", str(out), "--", "taskset", "-c", "0",
                             rec_calls, str(SCALE)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() or out.stat().st_size < 1 << 20:
            assert proc.poll() is None and time.monotonic() < deadline, "perf record ended first"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert header(out)[1] == 0  # perf writes its header at the end
    theirs = rh.perf("script", "-i", str(out))
    assert theirs.returncode != 0 and "data size field is 0" in theirs.stderr
    ours = rh.pyperf("script", "-i", str(out), "-F", "comm,tid")
    assert ours.returncode == 0
    assert "WARNING: The " in ours.stderr and "data size field is 0" in ours.stderr
    offset = header(out)[0]
    data, pos, whole = out.read_bytes()[offset:], 0, 0
    while pos + 8 <= len(data):
        rtype, _misc, rsize = struct.unpack_from("<IHH", data, pos)
        if rsize < 8 or pos + rsize > len(data):
            break
        whole += rtype == 9
        pos += rsize
    assert 0 < len(ours.stdout.splitlines()) == whole
