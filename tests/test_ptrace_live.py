"""The ptrace backend for real (issue 14): pyperf probe/record/stat/report run as an unprivileged user made
for the purpose, compared with perf 6.1 on uprobes (as root) for the same runs of workloads/pt_work.c.

* counts: ``pyperf stat`` of ptrace probes equals ``perf stat`` of uprobes at the same places, single-
  threaded, 8 threads on one probe, fork + vfork + exec, return probes 70 deep (the kernel's 64 limit),
  signal handlers and a SIGSTOP/SIGCONT, a dlopen'd library, an SDT marker with its semaphore; an exec
  from a second thread (where perf itself loses the new image's hits in some runs);
* reports: ``perf report`` and ``pyperf report`` of a ``--ptrace`` recording equal those of the uprobe
  recording of the same deterministic run (``setarch -R``), frame pointers and DWARF, perf script too;
* the way out: after ^C, SIGTERM, SIGHUP, a full disk, the tracee's death and the workload's end, every
  process pyperf leaves is untraced with its bytes back and no page left, and runs on to its end.
Uprobes these tests add (group pyperf_t_ptrace) are removed on every path; pyperf removes its own
breakpoints, which is what the tests check.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import ptrace_helpers as ph
import record_helpers as rh

pytestmark = [pytest.mark.uprobes, pytest.mark.perf]

needs_root = pytest.mark.skipif(not (rh.HAVE_UPROBES and rh.HAVE_PERF),
                                reason="needs root, tracefs with uprobe_events and /usr/bin/perf")


@pytest.fixture(scope="module")
def exe():
    return rh.workload("pt_work")


@pytest.fixture(scope="module")
def lib():
    return rh.workload("libpt_plugin.so")


@pytest.fixture(scope="module")
def account():
    if not rh.HAVE_UPROBES or not shutil.which("setpriv") or not shutil.which("setarch"):
        pytest.skip("needs root, setpriv and setarch")
    with ph.test_user() as pw:
        python = ph.user_python(pw)
        if python is None:
            pytest.skip(f"no Python {os.sys.version_info[0]}.{os.sys.version_info[1]} the test user can run")
        yield pw, python


@pytest.fixture
def user(account):
    u = ph.User(*account)
    yield u
    u.cleanup()


def off(path, func):
    return rh.file_offset(path, func)


def add_ptrace(user, *specs, exe_path=None):
    args = ["probe", "-q", "--ptrace"] + (["-x", exe_path] if exe_path else [])
    for spec in specs:
        args += ["-a", spec]
    proc = user.pyperf(*args)
    assert proc.returncode == 0, proc.stderr


# ---- probe ----------------------------------------------------------------------------------------------


@needs_root
def test_probe_without_root_is_one_line_and_adds_nothing(user, exe):
    proc = user.pyperf("probe", "-x", exe, "-a", "pt_leaf", "-a", "pt_mid")
    assert proc.returncode == 243 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "uprobe_events" in proc.stderr
    assert f"'pyperf probe --ptrace -x {exe} -a pt_leaf -a pt_mid'" in proc.stderr
    with open("/sys/kernel/tracing/uprobe_events") as f:  # (other tests may add theirs meanwhile)
        assert exe not in f.read()
    assert not os.path.exists(os.path.join(user.state, "pyperf", "ptrace_events"))


@needs_root
def test_probe_ptrace_add_list_delete(user, exe):
    proc = user.pyperf("probe", "--ptrace", "-x", exe, "-a", "pt_leaf", "-a", "pt_rec%return $retval",
                       "-a", "pt_named name:string n")
    assert proc.returncode == 0, proc.stderr
    assert "  probe_pt_work:pt_leaf (on pt_leaf in " + exe + ") [ptrace]\n" in proc.stderr
    stored = open(os.path.join(user.state, "pyperf", "ptrace_events")).read()
    assert f"r:probe_pt_work/pt_rec__return {exe}:{off(exe, 'pt_rec'):#x} arg1=$retval # build-id " in stored
    listed = user.pyperf("probe", "-l")
    assert listed.returncode == 0 and listed.stderr == ""
    lines = listed.stdout.splitlines()
    assert len(lines) == 3 and all(line.endswith(" [ptrace]") for line in lines)
    assert lines[0].startswith("  probe_pt_work:pt_leaf (on pt_leaf@") and "with arg1) [ptrace]" in lines[2]
    again = user.pyperf("probe", "--ptrace", "-x", exe, "pt_leaf")
    assert again.returncode == 239 and 'event "pt_leaf" already exists' in again.stderr
    gone = user.pyperf("probe", "-d", "probe_pt_work:pt_*")
    assert gone.returncode == 0
    assert gone.stderr == ("Removed event: probe_pt_work:pt_leaf\nRemoved event: probe_pt_work:pt_named\n"
                           "Removed event: probe_pt_work:pt_rec__return\n")
    assert "probe_pt_work" not in open(os.path.join(user.state, "pyperf", "ptrace_events")).read()


# ---- counts -----------------------------------------------------------------------------------------


COUNT_CASES = {
    "single": (["pt_leaf"], ["loop", "1000"]),
    "8 threads": (["pt_leaf", "pt_mid"], ["threads", "8", "2000"]),
    "fork+vfork+exec": (["pt_leaf"], ["forkexec", "2"]),
    "return 70 deep": (["pt_rec", "pt_rec%return", "pt_leaf%return"], ["rec", "70", "3"]),
    "signals and a stop": (["pt_leaf"], ["signals", "50"]),
}


def _names(func):
    """(the EVENT= a definition gives, the event's name): perf appends __return to a return probe's."""
    base = func.replace("%return", "_r") if func.endswith("%return") else func
    return base, base + ("__return" if func.endswith("%return") else "")


def _kernel_line(exe, func):
    ret = func.endswith("%return")
    return f"{'r' if ret else 'p'}:{ph.GROUP}/{_names(func)[1]} {exe}:{off(exe, func.replace('%return', '')):#x}"


@needs_root
@pytest.mark.parametrize("case", list(COUNT_CASES))
def test_counts_equal_perf_stat_with_uprobes(user, exe, case):
    funcs, argv = COUNT_CASES[case]
    lines = [_kernel_line(exe, f) for f in funcs]
    add_ptrace(user, *(f"{ph.GROUP}:{_names(f)[0]}={f}" for f in funcs), exe_path=exe)
    events = [f"{ph.GROUP}:{_names(f)[1]}" for f in funcs]
    mine = ph.pyperf_counts(user, events, [exe, *argv])
    with ph.uprobes(lines):
        theirs = ph.perf_counts(events, [exe, *argv])
    assert mine == theirs and any(theirs.values())


LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


@needs_root
@pytest.mark.skipif(not os.path.exists(LIBC), reason=f"needs {LIBC}")
def test_libc_counts(user, exe):
    """Probes in libc, mapped by ld.so before main (found at its _dl_debug_state hook): pt_work spin 200
    sleeps 200 times through nanosleep -> clock_nanosleep."""
    add_ptrace(user, f"{ph.GROUP}:pt_cns=clock_nanosleep", f"{ph.GROUP}:pt_ns=__nanosleep%return", exe_path=LIBC)
    events = [f"{ph.GROUP}:pt_cns", f"{ph.GROUP}:pt_ns__return"]
    argv = [exe, "spin", "200"]
    mine = ph.pyperf_counts(user, events, argv)
    lines = [f"p:{ph.GROUP}/pt_cns {LIBC}:{off(LIBC, 'clock_nanosleep'):#x}",
             f"r:{ph.GROUP}/pt_ns__return {LIBC}:{off(LIBC, '__nanosleep'):#x}"]
    with ph.uprobes(lines):
        theirs = ph.perf_counts(events, argv)
    assert mine == theirs and theirs[events[0]] >= 200


@needs_root
def test_exec_from_a_thread(user, exe):
    """pt_work mtexec: 5 hits in each of two threads, then the second execs, and the new image hits 20
    times. perf's own counters lose the new image's hits in some runs (the inherited counter of the thread
    that execs stops with the old image: 10 instead of 30, both for perf stat and perf record), so the
    kernel side is asked until it gives the true count, then both must agree, counts and reports."""
    add_ptrace(user, f"{ph.GROUP}:pt_leaf=pt_leaf", exe_path=exe)
    event, run = f"{ph.GROUP}:pt_leaf", ["setarch", "-R", exe, "mtexec"]
    assert ph.pyperf_counts(user, [event], run) == {event: 30}
    mine, theirs = user.path("ptrace.data"), user.path("uprobe.data")
    proc = user.pyperf("record", "-q", "-e", event, "-g", "-o", mine, "--", *run)
    assert proc.returncode == 0, proc.stderr
    with ph.uprobes([_kernel_line(exe, "pt_leaf")]):
        for _ in range(10):
            subprocess.run([ph.PERF, "record", "-q", "-e", event, "-g", "-o", theirs, "--", *run],
                           capture_output=True, timeout=300, check=True)
            if "# Samples: 30 " in ph.perf_report(theirs):
                break
        else:
            pytest.skip("perf recorded the exec'd image's hits in none of 10 runs")
    for sort in ([], ["--sort", "comm,dso,sym"]):
        assert ph.perf_report(mine, *sort) == ph.perf_report(theirs, *sort), sort
        assert ph.pyperf_report(mine, *sort) == ph.pyperf_report(theirs, *sort), sort


@needs_root
def test_dlopen_counts(user, exe, lib):
    funcs = ["pt_plugin_fn", "pt_plugin_leaf"]
    add_ptrace(user, *(f"{ph.GROUP}:{f}={f}" for f in funcs), exe_path=lib)
    events = [f"{ph.GROUP}:{f}" for f in funcs]
    argv = [exe, "dlopen", lib, "40"]
    mine = ph.pyperf_counts(user, events, argv)
    with ph.uprobes([f"p:{ph.GROUP}/{f} {lib}:{off(lib, f):#x}" for f in funcs]):
        theirs = ph.perf_counts(events, argv)
    assert mine == theirs == {e: 80 for e in events}  # dlopen, 40 calls, dlclose, dlopen again, 40 more


@needs_root
def test_sdt_marker_semaphore(user, exe):
    assert user.pyperf("buildid-cache", "--add", exe).returncode == 0
    add_ptrace(user, "sdt_pt_work:tick")
    stored = open(os.path.join(user.state, "pyperf", "ptrace_events")).read()
    assert "(0x" in stored  # the semaphore's offset is part of the definition
    proc = user.pyperf("stat", "-x,", "-e", "sdt_pt_work:tick", "--", exe, "sdt", "300")
    assert proc.returncode == 0 and proc.stdout == "traced 300\n"  # the program saw its semaphore set
    assert ph._csv_counts(proc.stderr) == {"sdt_pt_work:tick": 300}
    untraced = subprocess.run([exe, "sdt", "300"], capture_output=True, text=True)
    assert untraced.stdout == "traced 0\n"


# ---- reports ------------------------------------------------------------------------------------------


REPORT_CASES = {
    "rec -g": (["-g"], ["rec", "3", "2"]),
    "rec dwarf": (["--call-graph", "dwarf"], ["rec", "3", "2"]),
    "forkexec -g": (["-g"], ["forkexec", "1"]),
    "threads -g": (["-g"], ["threads", "4", "50"]),
    "args -g": (["-g"], ["args"]),
    "forkexec dwarf": (["--call-graph", "dwarf"], ["forkexec", "1"]),
    "signals -g": (["-g"], ["signals", "20"]),
}
REPORT_FUNCS = ["pt_leaf", "pt_mid", "pt_rec%return $retval", "pt_named name:string n"]


@needs_root
@pytest.mark.parametrize("case", list(REPORT_CASES))
def test_report_equals_the_uprobe_recordings(user, exe, case):
    opts, argv = REPORT_CASES[case]
    add_ptrace(user, *(f"{ph.GROUP}:{_names(f.split()[0])[0]}={f}" for f in REPORT_FUNCS), exe_path=exe)
    stored = open(os.path.join(user.state, "pyperf", "ptrace_events")).read().splitlines()[1:]
    mine, theirs = user.path("ptrace.data"), user.path("uprobe.data")
    run = ["setarch", "-R", exe, *argv]  # no ASLR: the probed addresses are the same in both runs
    proc = user.pyperf("record", "-q", "-e", f"{ph.GROUP}:*", *opts, "-o", mine, "--", *run)
    assert proc.returncode == 0, proc.stderr
    with ph.uprobes(stored):  # the very lines the ptrace store holds (the kernel drops the '# build-id')
        proc = subprocess.run([ph.PERF, "record", "-q", "-e", f"{ph.GROUP}:*", *opts, "-o", theirs, "--", *run],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    for sort in ([], ["--sort", "comm,dso,sym"], ["--no-children", "-g", "caller"]):
        assert ph.perf_report(mine, *sort) == ph.perf_report(theirs, *sort), sort
        assert ph.pyperf_report(mine, *sort) == ph.pyperf_report(theirs, *sort), sort
    if "threads" not in case:  # threads interleave differently from run to run
        assert ph.perf_script(mine) == ph.perf_script(theirs)


# ---- the way out --------------------------------------------------------------------------------------


def _spin(user, ms):
    proc = user.popen(ph.rh.workload("pt_work"), "spin", str(ms), stdout=subprocess.PIPE, text=True)
    pid = int(ph.wait_for_line(proc.stdout).split()[0])
    return proc, pid


def _finish(spin, pid, exe, offsets, expect_traced=None):
    """The attached process after pyperf: untouched, then it runs to its end and exits 0."""
    ph.untouched(pid, exe, offsets)
    out, _ = spin.communicate(timeout=60)
    assert spin.returncode == 0 and out.strip().startswith("done traced=")
    if expect_traced is not None:
        assert expect_traced(int(out.split("traced=")[1]))


def _hits(user, path):
    proc = rh.pyperf("report", "-f", "-i", path, "--stdio", "--sort", "comm")
    assert proc.returncode == 0, proc.stderr
    head = [line for line in proc.stdout.splitlines() if line.startswith("# Samples:")]
    return head


@needs_root
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_attach_and_stop_by_signal(user, exe, sig):
    add_ptrace(user, "pt_leaf", "pt_mid", "pt_rec%return", exe_path=exe)
    spin, pid = _spin(user, 5000)
    try:
        rec = user.popen_pyperf("record", "-e", "probe_pt_work:*", "-g", "-o", user.path("a.data"), "-p", str(pid))
        ph.wait_traced(pid)
        time.sleep(0.5)
        rec.send_signal(sig)
        _, err = rec.communicate(timeout=60)
        assert rec.returncode == 128 + sig, err
        assert "Captured and wrote" in err
        assert _hits(user, user.path("a.data"))
        _finish(spin, pid, exe, [off(exe, "pt_leaf"), off(exe, "pt_mid"), off(exe, "pt_rec")])
    finally:
        ph.kill_quietly(spin)


@needs_root
def test_attach_sdt_semaphore_goes_back(user, exe):
    assert user.pyperf("buildid-cache", "--add", exe).returncode == 0
    add_ptrace(user, "sdt_pt_work:tick")
    spin, pid = _spin(user, 4000)
    try:
        rec = user.popen_pyperf("stat", "-x,", "-e", "sdt_pt_work:tick", "-p", str(pid))
        ph.wait_traced(pid)
        time.sleep(0.5)
        rec.send_signal(signal.SIGINT)
        _, err = rec.communicate(timeout=60)
        counted = ph._csv_counts(err)["sdt_pt_work:tick"]
        assert counted > 100
        # the semaphore counted while attached, and is 0 again: no hit after
        _finish(spin, pid, exe, [off(exe, "pt_leaf")], lambda traced: traced == counted)
    finally:
        ph.kill_quietly(spin)


@needs_root
def test_attach_then_the_tracee_dies(user, exe):
    add_ptrace(user, "pt_leaf", exe_path=exe)
    spin, pid = _spin(user, 30000)
    rec = user.popen_pyperf("record", "-e", "probe_pt_work:pt_leaf", "-o", user.path("k.data"), "-p", str(pid))
    try:
        ph.wait_traced(pid)
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        _, err = rec.communicate(timeout=60)
        assert rec.returncode == 0 and "Captured and wrote" in err
        spin.wait(timeout=30)
        assert spin.returncode == -signal.SIGKILL
        assert _hits(user, user.path("k.data"))
    finally:
        ph.kill_quietly(rec)
        ph.kill_quietly(spin)


@needs_root
def test_pyperf_failing_leaves_the_process_untouched(user, exe):
    """The output's file system fills up while recording: pyperf fails, the process goes on untouched."""
    add_ptrace(user, "pt_leaf", "pt_rec%return", exe_path=exe)
    small = tempfile.mkdtemp(prefix="pyperf-ptrace-full-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0777", "tmpfs", small], check=True)
    spin = None
    try:
        spin, pid = _spin(user, 4000)
        rec = user.pyperf("record", "-e", "probe_pt_work:*", "--call-graph", "dwarf", "-o",
                          os.path.join(small, "x.data"), "-p", str(pid), timeout=60)
        assert rec.returncode != 0 and "No space left" in rec.stderr
        _finish(spin, pid, exe, [off(exe, "pt_leaf"), off(exe, "pt_rec")])
    finally:
        if spin is not None:
            ph.kill_quietly(spin)
        subprocess.run(["umount", small], check=False)
        os.rmdir(small)


@needs_root
def test_workload_children_left_running_are_detached(user, exe):
    """The workload (a shell) ends while its background child runs: pyperf detaches the child, which goes
    on untouched to its end."""
    add_ptrace(user, "pt_leaf", exe_path=exe)
    out = user.path("spin.out")
    proc = user.pyperf("record", "-q", "-e", "probe_pt_work:pt_leaf", "-g", "-o", user.path("w.data"), "--",
                       "sh", "-c", f"{exe} spin 3000 > {out} 2>/dev/null & sleep 0.5")
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 20
    while not open(out).read().strip() and time.monotonic() < deadline:  # a loaded machine: not started yet
        time.sleep(0.05)
    pid = int(open(out).read().split()[0])
    ph.untouched(pid, exe, [off(exe, "pt_leaf")])
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open(out).read().splitlines()[-1] == "done traced=0"
    assert _hits(user, user.path("w.data"))


@needs_root
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_workload_stopped_by_signal_to_pyperf(user, exe, sig):
    """^C (or SIGTERM) to pyperf alone: it detaches, then stops its workload with SIGTERM as perf does;
    nothing is left running or stopped, the file is complete."""
    add_ptrace(user, "pt_leaf", exe_path=exe)
    rec = user.popen_pyperf("record", "-e", "probe_pt_work:pt_leaf", "-o", user.path("s.data"), "--",
                            exe, "spin", "30000")
    try:
        pid = int(ph.wait_for_line(rec.stdout).split()[0])
        time.sleep(0.6)
        rec.send_signal(sig)
        _, err = rec.communicate(timeout=60)
        assert rec.returncode == 128 + sig and "Captured and wrote" in err
        assert not os.path.exists(f"/proc/{pid}")
        assert _hits(user, user.path("s.data"))
    finally:
        ph.kill_quietly(rec)


@needs_root
def test_pyperf_killed_takes_its_workload_along(user, exe):
    """SIGKILL cannot be caught: the workload pyperf started (PTRACE_O_EXITKILL) dies with it rather than
    run on with breakpoints nobody handles."""
    add_ptrace(user, "pt_leaf", exe_path=exe)
    rec = user.popen_pyperf("record", "-e", "probe_pt_work:pt_leaf", "-o", user.path("z.data"), "--",
                            exe, "spin", "30000")
    try:
        pid = int(ph.wait_for_line(rec.stdout).split()[0])
        time.sleep(0.5)
        rec.send_signal(signal.SIGKILL)
        rec.wait(timeout=30)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        ph.kill_quietly(rec)


# ---- arguments: the kernel's formats and values -----------------------------------------------------

ARGS = ["a=%di:u8", "b=+0(%di):string", "c=$comm", "e=\\42", "f=@+{sem}:u16",
        "g=+0(%sp):u32[3]", "h=+0(%di):b4@2/32", "i=$stack", "j=$stack3:x16", "k=+0(%di):char",
        "l=+0(%di):ustring", "m=+0(+8(%sp)):s64", "n=%ip", "o=+0(%di):char[3]", "p=%si:s32", "q=%si"]
# Not here: an immediate string (\"hi":string), which this kernel's uprobes store with length 0 (perf script
# then prints whatever string sits at its offset); the ptrace backend stores the string.
REFUSED = ["$arg1", "%si:string", "+0(%di):symbol", "%di:symstr", "%di:x8[2]"]


@needs_root
def test_argument_formats_and_values_equal_the_kernels(user, exe):
    """Every kind of fetch argument at pt_named: the format text the kernel makes for the uprobe is the one
    the ptrace backend writes into TRACING_DATA, and perf script prints the same values from both
    recordings of the same run (env -i: the same stack layout for both)."""
    from pyperf_probe.probe.args import TraceArg
    from pyperf_probe.ptrace import fetch
    sem = _data_offset(exe)
    args = [a.format(sem=f"{sem:#x}") for a in ARGS]
    line = f"p:{ph.GROUP}/args {exe}:{off(exe, 'pt_named'):#x} " + " ".join(args)
    with ph.uprobes([line]):
        with open(f"/sys/kernel/tracing/events/{ph.GROUP}/args/format") as f:
            kernel = f.read()
        parsed = fetch.parse_args([TraceArg(value=a.split("=", 1)[1], name=a.split("=", 1)[0]) for a in args], False)
        event_id = int(kernel.split("ID: ")[1].split()[0])
        assert fetch.format_text("args", event_id, False, parsed) == kernel
        theirs = user.path("uprobe.data")
        run = ["env", "-i", "setarch", "-R", exe, "args"]
        proc = subprocess.run([ph.PERF, "record", "-q", "-e", f"{ph.GROUP}:args", "-o", theirs, "--", *run],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    for bad in REFUSED:  # what the kernel refuses for a uprobe, refused too
        with pytest.raises(Exception):
            fetch.parse_args([TraceArg(value=bad.rsplit(":", 1)[0] if ":" in bad else bad, name="x",
                                       type=bad.rsplit(":", 1)[1] if ":" in bad else None)], False)
    add_ptrace(user, f"{ph.GROUP}:args=pt_named " + " ".join(args), exe_path=exe)
    mine = user.path("ptrace.data")
    proc = user.pyperf("record", "-q", "-e", f"{ph.GROUP}:args", "-o", mine, "--", *run)
    assert proc.returncode == 0, proc.stderr
    script = ph.perf_script(mine)
    assert script == ph.perf_script(theirs) and "b=\"alpha\"" in script and "c=\"pt_work\"" in script


def _data_offset(exe):
    """The file offset of pt_work's SDT semaphore (a u16 in its data), for @+OFFSET."""
    from pyperf_probe.symbols.elf import open_elf
    from pyperf_probe.symbols.symtab import read_elf_symbols
    image = open_elf(exe)
    for name, svma, *_ in read_elf_symbols(image, ".symtab"):
        if name == "pt_work_tick_semaphore":
            return image.svma_to_file_offset(svma)
    raise LookupError("pt_work_tick_semaphore")


@needs_root
@pytest.mark.parametrize("where", ["entry", "return"])
def test_a_failure_in_the_middle_of_a_hit(exe, where):
    """The consumer of hits fails while a thread sits on its int3 (or on the trampoline): the engine still
    detaches cleanly, the thread goes on from where it trapped (the original instruction, or the original
    return address), and the process runs to its end."""
    from pyperf_probe.ptrace.engine import Engine, Sink
    from pyperf_probe.ptrace.tracee import Site

    class Failing(Sink):
        def __init__(self):
            self.hits = 0

        def _count(self):
            self.hits += 1
            if self.hits == 30:
                raise RuntimeError("the consumer failed")

        def entry(self, *args):
            self._count()

        def ret(self, *args):
            self._count()

    spin = subprocess.Popen([exe, "spin", "2000"], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(ph.wait_for_line(spin.stdout).split()[0])
        # pt_mid's first instruction is push %rbp: going on past it (at the int3's next byte) would unbalance
        # the stack and crash the program at pt_mid's ret
        site = Site(0, "t:mid", exe, off(exe, "pt_mid"), retprobe=where == "return")
        engine = Engine([site], Failing())
        engine.attach(pid)
        with pytest.raises(RuntimeError):
            engine.run(lambda: False)
        _finish(spin, pid, exe, [off(exe, "pt_mid")])
    finally:
        ph.kill_quietly(spin)
