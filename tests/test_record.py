"""pyperf record, for real: exact sample counts with none lost, real perf reading our files exactly as its
own, dwarf stacks that perf unwinds, and the failure paths (nothing half-written is left behind)."""
import collections
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import record_helpers as rh  # noqa: E402

pytestmark = [pytest.mark.uprobes,
              pytest.mark.skipif(not rh.HAVE_UPROBES, reason="needs root and uprobe events")]
needs_perf = pytest.mark.skipif(not rh.HAVE_PERF, reason="needs /usr/bin/perf")

CALLS = 910  # rec_calls: 10 + 3*100 in the parent, 2*2*150 in the children (workloads/rec_calls.c)


@pytest.fixture(scope="module")
def rec_calls():
    return rh.workload("rec_calls")


@pytest.fixture(scope="module")
def probe(rec_calls):
    with rh.uprobe(rec_calls, "rec_leaf") as name:
        yield name


def _samples_by_comm(path, warnings_ok=False):
    proc = rh.perf("script", "-i", path, "-F", "comm")
    assert proc.returncode == 0 and (warnings_ok or proc.stderr == ""), proc.stderr
    return collections.Counter(line.strip() for line in proc.stdout.splitlines() if line.strip())


def _lost(path):
    """(LOST records, lost events in them, LOST_SAMPLES total) as perf report -D sees them."""
    proc = rh.perf("report", "-D", "-i", path)
    lost = [line for line in proc.stdout.splitlines() if "PERF_RECORD_LOST" in line]
    return len([x for x in lost if "PERF_RECORD_LOST " in x or x.endswith("PERF_RECORD_LOST")]), lost


@needs_perf
@pytest.mark.parametrize("mode", [[], ["-g"], ["--call-graph", "dwarf"]], ids=["plain", "fp", "dwarf"])
def test_exact_count_none_lost(tmp_path, rec_calls, probe, mode):
    out = tmp_path / "perf.data"
    proc = rh.pyperf("record", "-e", probe, *mode, "-o", str(out), rec_calls)
    assert proc.returncode == 0, proc.stderr
    assert f"({CALLS} samples) ]" in proc.stderr and "Warning" not in proc.stderr
    assert _samples_by_comm(str(out)) == {"rec_calls": 310, "rec_child": 600}
    assert _lost(str(out))[1] == []
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


@pytest.fixture(scope="module")
def fp_pair(tmp_path_factory, rec_calls, probe):
    """The same workload recorded with -g by pyperf and by real perf."""
    d = tmp_path_factory.mktemp("fp")
    ours, theirs = str(d / "pyperf.data"), str(d / "perf.data")
    assert rh.pyperf("record", "-q", "-e", probe, "-g", "-o", ours, rec_calls).returncode == 0
    assert rh.perf("record", "-q", "-e", probe, "-g", "-o", theirs, rec_calls).returncode == 0
    return ours, theirs


@needs_perf
@pytest.mark.parametrize("opts", [
    ("--sort", "comm,dso,sym"),
    ("--sort", "comm,dso,sym", "-g", "flat"),
    ("--sort", "comm,dso,sym", "--no-children"),
    ("--sort", "comm,dso,sym", "--no-children", "-g", "flat"),
    ("--sort", "comm,dso,sym", "--children", "-g", "caller"),
    ("--sort", "comm,dso,sym", "-g", "none"),
    (),  # perf's default sort keys, which need PERF_SAMPLE_RAW
], ids=lambda o: " ".join(o) or "default")
def test_perf_report_reads_ours_as_its_own(fp_pair, opts):
    ours, theirs = fp_pair
    assert rh.report_text(ours, *opts) == rh.report_text(theirs, *opts)


@needs_perf
def test_perf_script_reads_ours_as_its_own(fp_pair):
    ours, theirs = fp_pair
    text = rh.script_text(ours)
    assert text.count("pyperf_t_record:") == CALLS
    assert text == rh.script_text(theirs)


@needs_perf
def test_header_features(fp_pair):
    ours, _ = fp_pair
    proc = rh.perf("report", "--header-only", "-i", ours)
    assert proc.returncode == 0 and proc.stderr == ""
    head = proc.stdout
    for line in (f"# hostname : {os.uname().nodename}", f"# os release : {os.uname().release}",
                 f"# arch : {os.uname().machine}", "# nrcpus online :", "# time of first sample :",
                 "# event : name = pyperf_t_record:rec_leaf", "record -q -e pyperf_t_record:"):
        assert line in head, line
    ids = rh.perf("buildid-list", "-i", ours).stdout
    assert ids.rstrip().endswith("[vdso]") and rh.BUILD + "/rec_calls" in ids


def _chains(path):
    """Distinct call chains as perf script prints them (comm, then dso-relative address and symbol of each
    frame), with their counts."""
    proc = rh.perf("script", "-i", path, "-F", "comm,ip,sym")
    assert proc.returncode == 0, proc.stderr
    chains = collections.Counter()
    for block in proc.stdout.split("\n\n"):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines:
            chains[tuple(lines)] += 1
    return chains


@needs_perf
def test_dwarf_stacks_unwind_as_perfs(tmp_path, rec_calls, probe):
    ours, theirs = str(tmp_path / "pyperf.data"), str(tmp_path / "perf.data")
    assert rh.pyperf("record", "-q", "-e", probe, "--call-graph", "dwarf", "-o", ours, rec_calls).returncode == 0
    # perf at its default 512 KB per CPU loses dwarf samples (bench/record); 16 MB holds all 910 here
    assert rh.perf("record", "-q", "-e", probe, "--call-graph", "dwarf", "-m", "4096", "-o", theirs,
                   rec_calls).returncode == 0
    evlist = rh.perf("evlist", "-v", "-i", ours).stdout
    assert "REGS_USER|STACK_USER" in evlist and "sample_regs_user: 0xff0fff, sample_stack_user: 8192" in evlist
    mine, perfs = _chains(ours), _chains(theirs)
    assert sum(mine.values()) == CALLS
    # the same chains, with the same counts, and ours go through rec_mid (which the kernel's
    # frame-pointer walk at function entry skips)
    assert mine == perfs
    assert all(any(f.endswith((" rec_mid", " rec_main_path")) for f in chain) for chain in mine)
    assert sum(n for chain, n in mine.items() if chain[-1].endswith(" _start")) == 10


def test_existing_output_becomes_old(tmp_path, rec_calls, probe):
    out = tmp_path / "perf.data"
    out.write_bytes(b"previous")
    assert rh.pyperf("record", "-q", "-e", probe, "-o", str(out), rec_calls).returncode == 0
    assert (tmp_path / "perf.data.old").read_bytes() == b"previous"
    assert out.read_bytes()[:8] == b"PERFILE2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perf.data", "perf.data.old"]


def test_workload_exit_status_is_passed_on(tmp_path, probe):
    proc = rh.pyperf("record", "-q", "-e", probe, "-o", str(tmp_path / "x.data"), "--", "sh", "-c", "exit 3")
    assert proc.returncode == 3, proc.stderr
    assert (tmp_path / "x.data").exists()


def test_workload_that_cannot_start(tmp_path, probe):
    out = tmp_path / "perf.data"
    proc = rh.pyperf("record", "-e", probe, "-o", str(out), "/nonexistent/prog")
    assert proc.returncode == 255
    assert proc.stderr == (f"Failed to collect '{probe}' for the '/nonexistent/prog' workload: "
                           "No such file or directory\n")
    assert list(tmp_path.iterdir()) == []


def test_unknown_event(tmp_path):
    proc = rh.pyperf("record", "-e", "pyperf_t_nope:nope", "-o", str(tmp_path / "perf.data"), "true")
    assert proc.returncode == 129
    assert proc.stderr.startswith("event syntax error: 'pyperf_t_nope:nope'\n"
                                  "                     \\___ unknown tracepoint\n\n"
                                  "Error:\tFile /sys/kernel/tracing/events/pyperf_t_nope/nope not found.\n")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output(probe):
    proc = rh.pyperf("record", "-e", probe, "-o", "/nonexistent/dir/perf.data", "true")
    assert proc.returncode == 255
    assert proc.stderr == ("failed to open /nonexistent/dir/perf.data : No such file or directory\n"
                           "Perf session creation failed.\n")


def test_filter_rejected_and_applied(tmp_path, rec_calls, probe):
    out = tmp_path / "perf.data"
    proc = rh.pyperf("record", "-e", probe, "--filter", "nosuchfield == 1", "-o", str(out), rec_calls)
    assert proc.returncode != 0
    assert proc.stderr.startswith(f'failed to set filter "nosuchfield == 1" on event {probe} with 22')
    assert list(tmp_path.iterdir()) == []
    proc = rh.pyperf("record", "-e", probe, "--filter", "common_pid == 1", "-o", str(out), rec_calls)
    assert proc.returncode == 0 and "(0 samples)" in proc.stderr


@needs_perf
def test_sigint_stops_cleanly_with_a_complete_file(tmp_path, rec_calls, probe):
    out = tmp_path / "perf.data"
    proc = subprocess.Popen([sys.executable, "-m", "pyperf_probe", "record", "-e", probe, "-o", str(out),
                             "--", rec_calls, "1", "30000"], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGINT
    assert "[ perf record: Captured and wrote" in err
    assert rh.perf("report", "-i", str(out), "--stdio").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perf.data"]


@needs_perf
def test_attach_to_a_running_process(tmp_path, rec_calls, probe):
    out = tmp_path / "perf.data"
    target = subprocess.Popen([rec_calls, "1", "3000"])
    try:
        time.sleep(0.2)
        proc = rh.pyperf("record", "-e", probe, "-p", str(target.pid), "-o", str(out))
    finally:
        target.wait()
    assert proc.returncode == 0, proc.stderr
    assert _samples_by_comm(str(out)) == {"rec_calls": 310, "rec_child": 600}


@needs_perf
def test_system_wide(tmp_path, rec_calls, probe):
    out = tmp_path / "perf.data"
    # -a records every process; the command only starts once the events are enabled, so no call is missed
    proc = rh.pyperf("record", "-e", probe, "-a", "-g", "-o", str(out), "--", "sh", "-c", f"sleep 0.2; {rec_calls}")
    assert proc.returncode == 0, proc.stderr
    assert _samples_by_comm(str(out)) == {"rec_calls": 310, "rec_child": 600}
    evlist = rh.perf("evlist", "-i", str(out)).stdout.split()
    assert evlist[:2] == [probe, "dummy:HG"]
    assert "rec_thread" in rh.report_text(str(out), "--sort", "comm,dso,sym")


def _evlist(path):
    proc = rh.perf("evlist", "-v", "-i", path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [line for line in proc.stdout.splitlines() if not line.startswith("#")]


@pytest.fixture(scope="module")
def second_probe(rec_calls):
    with rh.uprobe(rec_calls, "rec_thread") as name:
        yield name


@needs_perf
@pytest.mark.parametrize("opts", [
    [], ["-g"], ["--call-graph", "dwarf"], ["--call-graph", "dwarf,4096"], ["-c", "10"], ["-R"], ["-C", "0"],
    ["-a"], ["-a", "-g"], ["-a", "--call-graph", "dwarf"], ["TWO"], ["TWO", "-g"], ["TWO", "-a"],
], ids=lambda o: " ".join(o) or "plain")
def test_attrs_exactly_as_perf_writes_them(tmp_path, rec_calls, probe, second_probe, opts):
    """perf evlist -v prints every non-zero attr field by name: both recorders' files must print the same."""
    events = ["-e", probe]
    if opts[:1] == ["TWO"]:
        events, opts = ["-e", probe, "-e", second_probe], opts[1:]
    out = {}
    for tool, run in (("pyperf", rh.pyperf), ("perf", rh.perf)):
        out[tool] = str(tmp_path / f"{tool}.data")
        proc = run("record", "-q", *events, *opts, "-o", out[tool], "--", rec_calls)
        assert proc.returncode == 0, proc.stderr
    assert _evlist(out["pyperf"]) == _evlist(out["perf"])


@needs_perf
def test_period_and_thread_targets(tmp_path, rec_calls, probe):
    out = str(tmp_path / "c.data")
    # -c N: the period goes to the kernel (evlist test); for uprobe events it samples every hit, as with perf
    for tool, run in (("pyperf", rh.pyperf), ("perf", rh.perf)):
        assert run("record", "-q", "-e", probe, "-c", "10", "-o", out + tool, rec_calls).returncode == 0
    assert _samples_by_comm(out + "pyperf") == _samples_by_comm(out + "perf")
    # -t: only the thread named, no inherit: the workload's own threads and children are not recorded
    target = subprocess.Popen([rec_calls, "1", "3000"])
    try:
        time.sleep(0.2)
        proc = rh.pyperf("record", "-e", probe, "-t", str(target.pid), "-o", out)
    finally:
        target.wait()
    assert proc.returncode == 0, proc.stderr
    assert _samples_by_comm(out) == {"rec_calls": 10}  # rec_main_path's calls in the main thread
    assert "inherit" not in _evlist(out)[0]


@needs_perf
def test_lost_samples_are_counted_and_reported(tmp_path, rec_calls, probe):
    """A 4-page buffer cannot hold the 8.5 KB dwarf samples of a busy thread: what the kernel drops is
    counted (LOST records and the fds' PERF_FORMAT_LOST counts) and perf sees the same numbers."""
    out = str(tmp_path / "perf.data")
    proc = rh.pyperf("record", "-e", probe, "--call-graph", "dwarf", "-m", "4", "-r", "0", "-o", out, rec_calls)
    assert proc.returncode == 0, proc.stderr
    kept = sum(_samples_by_comm(out, warnings_ok=True).values())
    report = rh.perf("report", "-i", out, "--stdio", "--sort", "comm")
    lost = int(report.stdout.split("# Total Lost Samples: ")[1].split()[0])
    assert kept + lost == CALLS and lost > 0
    assert f"Processed {CALLS} samples and lost {100.0 * lost / CALLS:.2f}%!" in proc.stderr
    assert f"({kept} samples) ]" in proc.stderr


@needs_perf
def test_kernel_tracepoint_build_ids_and_cache(tmp_path, rec_calls):
    """A kernel tracepoint's samples hit [kernel.kallsyms]: the BUILD_ID table lists it as perf's does; the
    DSOs with hits go to the build-id cache of $HOME (not with -N)."""
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    ours, theirs = str(tmp_path / "pyperf.data"), str(tmp_path / "perf.data")
    assert rh.pyperf("record", "-q", "-e", "sched:sched_process_exec", "-o", ours, rec_calls,
                     env=env).returncode == 0
    assert rh.perf("record", "-q", "-e", "sched:sched_process_exec", "-o", theirs, rec_calls,
                   env=env).returncode == 0
    assert rh.perf("buildid-list", "-i", ours).stdout == rh.perf("buildid-list", "-i", theirs).stdout
    home = tmp_path / "home2"
    env = dict(os.environ, HOME=str(home))
    assert rh.pyperf("record", "-q", "-N", "-e", "sched:sched_process_exec", "-o", ours, rec_calls,
                     env=env).returncode == 0
    assert not home.exists()


def test_build_id_cache_gets_the_probed_binary(tmp_path, rec_calls, probe):
    from pyperf_probe.symbols.elf import open_elf
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    out = str(tmp_path / "perf.data")
    assert rh.pyperf("record", "-q", "-e", probe, "-o", out, rec_calls, env=env).returncode == 0
    build_id = open_elf(rec_calls).build_id
    link = tmp_path / "home" / ".debug" / ".build-id" / build_id[:2] / build_id[2:]
    assert os.path.isfile(os.path.join(link, "elf"))


def test_sigterm_stops_cleanly(tmp_path, rec_calls, probe):
    out = tmp_path / "perf.data"
    proc = subprocess.Popen([sys.executable, "-m", "pyperf_probe", "record", "-q", "-e", probe, "-o", str(out),
                             "--", rec_calls, "1", "30000"], start_new_session=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert out.read_bytes()[:8] == b"PERFILE2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perf.data"]


def test_usage_errors(tmp_path):
    proc = rh.pyperf("record", "--filter", "x", "-e", "sched:sched_process_exec", "true")
    assert proc.returncode == 129
    assert proc.stderr.startswith("--filter option should follow a -e tracepoint or HW tracer option\n")
    proc = rh.pyperf("record", "-m", "3", "-e", "sched:sched_process_exec", "-o", str(tmp_path / "x.data"), "true")
    assert proc.returncode == 0 and proc.stderr.startswith("rounding mmap pages size to 16K (4 pages)\n")
    proc = rh.pyperf("record", "--call-graph", "lbr", "-e", "sched:sched_process_exec", "true")
    assert proc.returncode == 129 and "Unknown --call-graph option value: lbr" in proc.stderr


@pytest.mark.skipif(not os.path.exists("/usr/bin/setpriv"), reason="needs setpriv")
def test_no_permission_is_one_clear_error(tmp_path):
    """As an unprivileged user: perf's words for tracefs it cannot read, exit 129, no file."""
    tmp_path.chmod(0o777)
    proc = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-m", "pyperf_probe", "record", "-e", "sched:sched_process_exec",
                           "-o", str(tmp_path / "perf.data"), "true"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=rh.ROOT))
    if os.access("/sys/kernel/tracing", os.R_OK) and "can't access" not in proc.stderr:
        pytest.skip("tracefs is readable by everyone here")
    assert proc.returncode == 129
    assert proc.stderr.startswith("event syntax error: 'sched:sched_process_exec'\n"
                                  "                     \\___ can't access trace events\n\n"
                                  "Error:\tNo permissions to read /sys/kernel/tracing/events/sched/sched_process_exec\n"
                                  "Hint:\tTry 'sudo mount -o remount,mode=755 /sys/kernel/tracing/'\n")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def ex_spin():
    return rh.workload("ex_spin")


EVENT_SETS = [
    ["-e", "cpu-clock"], ["-e", "task-clock,page-faults"], ["-e", "cpu-clock", "-g"], ["-e", "cpu-clock", "-F", "1000"],
    ["-e", "cpu-clock", "-c", "100000"], ["-e", "cpu-clock:u"], ["-e", "cpu-clock:k,task-clock:ppp"],
    ["-e", "{cpu-clock,task-clock}:S"], ["-e", "{cpu-clock:k,task-clock}:uS"], ["-e", "{cpu-clock,cs}:D"],
    ["-e", "cpu-clock/period=100000,call-graph=fp/u"], ["-e", "cpu-clock/freq=500,inherit=0/"],
    ["-e", "cpu-clock/call-graph=dwarf,stack-size=4096/"], ["-e", "cpu-clock/max-stack=3/", "-g"],
    ["-e", "cpu-clock/name=ticks/"], ["-e", "software/config=1/"], ["-e", "cycles:u"], ["-e", "dummy"],
    ["-e", "cpu-clock", "-a"], ["-e", "cpu-clock", "-C", "0", "-g"], ["-e", "cpu-clock", "-R"], [],
    ["-e", "cpu-clock", "-e", "sched:sched_process_exec"], ["-e", "{cpu-clock,PROBE}:S"],
    ["-e", "PROBE/max-stack=3/"], ["-e", "PROBE/call-graph=dwarf/:u"], ["-e", "PROBE", "-e", "cpu-clock", "-g"],
    ["-e", "PROBE", "-c", "3"],
    # --kernel-callchains/--user-callchains: exclude_callchain_user/_kernel where chains are recorded, only there
    ["-e", "cpu-clock", "-g", "--kernel-callchains"], ["-e", "cpu-clock", "-g", "--user-callchains"],
    ["-e", "cpu-clock", "-g", "--kernel-callchains", "--user-callchains"], ["-e", "cpu-clock", "--user-callchains"],
    ["-e", "cpu-clock", "--call-graph", "dwarf", "--user-callchains"],
    ["-e", "PROBE/max-stack=4/", "-e", "cpu-clock", "--kernel-callchains"],
    ["-e", "{cpu-clock,PROBE}:S", "-g", "--user-callchains"],
]


@needs_perf
@pytest.mark.parametrize("opts", EVENT_SETS, ids=lambda o: " ".join(o) or "default")
def test_event_attrs_exactly_as_perf_writes_them(tmp_path, ex_spin, probe, opts):
    """Software, hardware (falling back to cpu-clock here), PMU, probe and tracepoint events with modifiers,
    terms, groups and the sampling options: perf evlist -v prints the same attrs for both recorders' files."""
    opts = [probe if o == "PROBE" else o.replace("PROBE", probe) for o in opts]
    out = {}
    for tool, run in (("pyperf", rh.pyperf), ("perf", rh.perf)):
        out[tool] = str(tmp_path / f"{tool}.data")
        proc = run("record", "-q", "-o", out[tool], *opts, "--", ex_spin, "20")
        assert proc.returncode == 0, proc.stderr
    assert _evlist(out["pyperf"]) == _evlist(out["perf"])


@needs_perf
def test_default_event_and_cpu_clock_samples_read_by_perf(tmp_path, ex_spin):
    """No -e: perf's cycles, which this machine's PMU lacks, becomes cpu-clock:ppp as in perf (the warning only
    with -v); the samples carry ip and period, and perf report and perf script read them without a word."""
    out = str(tmp_path / "perf.data")
    proc = rh.pyperf("-v", "record", "-o", out, "-g", ex_spin, "200")
    assert proc.returncode == 0, proc.stderr
    if "cpu-clock" in _evlist(out)[0]:
        assert "Warning:\nThe cycles event is not supported, trying to fall back to cpu-clock-ticks\n" in proc.stderr
        assert _evlist(out)[0].startswith("cpu-clock:ppp: type: 1,")
    report = rh.report_text(out, "--sort", "comm,dso,sym")
    assert "ex_spin" in report and "[.] ex_" in report
    script = rh.perf("script", "-i", out, "-F", "comm,period,event,ip,sym")
    assert script.returncode == 0 and script.stderr == ""
    head = [line for line in script.stdout.splitlines() if line and not line.startswith("\t")]
    assert len(head) > 100 and all(" 250000 cpu-clock:ppp: " in line for line in head[1:5])


@needs_perf
def test_leader_sampling_with_a_probe(tmp_path, rec_calls, probe):
    """{cpu-clock,PROBE}:S: the clock samples, each sample reads the group (the probe's hits so far)."""
    out = str(tmp_path / "perf.data")
    proc = rh.pyperf("record", "-e", f"{{cpu-clock,{probe}}}:S", "-o", out, "--", rec_calls, "1", "30000")
    assert proc.returncode == 0, proc.stderr
    script = rh.perf("script", "-i", out, "-F", "comm,event,period")
    assert script.returncode == 0 and script.stderr == "", script.stderr
    assert "cpu-clock" in script.stdout
    assert rh.perf("report", "-i", out, "--stdio", "-T").returncode == 0


@needs_perf
def test_probe_with_max_stack_term(tmp_path, rec_calls, probe):
    """perf's uprobe shell test form: -e PROBE/max-stack=3/ records call chains of at most 3 frames."""
    out = str(tmp_path / "perf.data")
    proc = rh.pyperf("record", "-e", f"{probe}/max-stack=3/", "-o", out, rec_calls)
    assert proc.returncode == 0 and f"({CALLS} samples) ]" in proc.stderr, proc.stderr
    script = rh.perf("script", "-i", out, "-F", "ip,sym")
    chains = [c for c in script.stdout.split("\n\n") if c.strip()]
    assert len(chains) == CALLS and all(1 <= len(c.strip().splitlines()) <= 3 for c in chains)
    assert all("rec_leaf" in c.strip().splitlines()[0] for c in chains)


def test_event_errors_and_freq_errors(tmp_path):
    proc = rh.pyperf("record", "-e", "cpu-clock:uu", "-o", str(tmp_path / "x"), "true")
    assert proc.returncode == 129
    assert proc.stderr.startswith("event syntax error: 'cpu-clock:uu'\n" + " " * 31 + "\\___ Bad modifier\n"
                                  "Run 'pyperf list' for a list of valid events\n\n Usage: pyperf record")
    proc = rh.pyperf("record", "-F", "1000", "-c", "10", "-o", str(tmp_path / "x"), "true")
    assert (proc.returncode, proc.stderr) == (234, "cannot set frequency and period at the same time\n")
    proc = rh.pyperf("record", "-F", "0", "-o", str(tmp_path / "x"), "true")
    assert (proc.returncode, proc.stderr) == (234, "frequency and count are zero, aborting\n")
    from pyperf_probe.events.evsel import Evsel
    from pyperf_probe.record.selection import supported
    if not supported(Evsel(type=0, config=1)):  # no PMU (a VM): perf's words and status
        proc = rh.pyperf("record", "-e", "instructions", "-o", str(tmp_path / "x"), "true")
        assert (proc.returncode, proc.stderr) == (255, "Error:\nThe instructions event is not supported.\n")
    assert list(tmp_path.iterdir()) == []
