"""What bench/script and bench/report share: recordings of several shapes made with real perf, compiled
copies of pyperf, and interleaved side-by-side runs (imported by both: ``sys.path`` holds bench/).

Recordings (made with real perf on first use, kept in build/bench-script/ and reused: delete a file, or pass
--record, to make it again; uprobes of group pyperf_t_benchscript, removed on every path):

  make   perf record -e GROUP:malloc -g -- make -s -B -j2 of workloads/uw_make_src (a copy): few distinct
         chains, ~80K samples, 95% of them in cc1, a process per compiler step (issue 16's file)
  spin   perf record -e cpu-clock:u -c 50000 -g -- ex_spin 5000: ~200K samples, nearly every one at
         another ip (many distinct chains)
  sys    perf record -a of 20 tracepoints of 9 subsystems (tests/golden/tracepoints/record.sh's list) while
         a shell loop writes and syncs files, talks to itself over loopback TCP and signals itself: ~230K
         tracepoint-only samples, no chains (whatever else runs on the machine is in it too)
  dwarf  perf record -e cpu-clock:u -c 150000 --call-graph dwarf,4096 -m 16M -- ex_spin 5000: ~63K samples
         (275 MB) whose user stacks are unwound offline by both tools; the 16 MB buffer loses none (with
         perf's default and -c 200000 it lost 36 of ~46K, and perf report warned of a lost chunk)
  big    perf record -e GROUP:bigmalloc -g -m 16M -- big_malloc 1000000, the uprobe on libc's malloc with an
         argument (bytes=%di:u64, so each sample has a trace field): ~1M samples (152 MB, recorded in ~6 s),
         two threads of one process, 5456 distinct frame-pointer chains of 5 to 9 frames
         (bench/big_malloc.c, built into build/bench-script/big_malloc with frame pointers), none lost

Each command runs in a fresh process (stdout to a file, stderr to /dev/null), through GNU time (CPU = user
+ sys, peak RSS: a child forked by this Python would inherit its maxrss). pyperf runs from a compiled copy
(the working tree's pyperf_probe, or `git archive REV` with --rev, copied into a temporary directory, its
bytecode written and its C accelerator built there, run with cwd there), so edits made in the tree while
the bench runs do not change what is measured, and a before/after pair runs in one session. pyperf runs
"cold" (a new, empty PYPERF_CACHE_DIR at every run: the first command after a recording) and "warm" (a
cache filled by one run before). The commands of one file and option set run ``runs`` rounds (at least
SHORT_RUNS, 11, where perf's first run takes under SHORT_S, 0.25 s of CPU: there one slow run moves a median
of 3 by a third), interleaved (perf, then each pyperf variant, round after round); medians are reported, peak
RSS for perf and for each pyperf cold and warm (cold reads the symbol tables: the higher of the two). pyperf starts as
the venv's ``pyperf`` command does (``console_script``: python -S). The text compared is the warm run's,
normalized by the caller's function (report's random tip line). Column py0 is the interpreter's own start-up
(``python -S -c pass``, timed in the same rounds) over perf's time: where it is near 1.0, perf's whole run
takes what starting Python takes, before pyperf imports anything (--header-only, the option sets perf
rejects after reading the header).
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(ROOT, "build", "bench-script")
PERF = "/usr/bin/perf"
TIME = "/usr/bin/time"  # GNU time: the peak RSS of the command alone (``measure``)
GROUP = "pyperf_t_benchscript"
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
SHAPES = ("make", "spin", "sys", "dwarf", "big")
TRACEPOINTS = ["sched:sched_switch", "sched:sched_wakeup", "sched:sched_process_fork", "sched:sched_process_exec",
               "sched:sched_process_exit", "syscalls:sys_enter_openat", "syscalls:sys_exit_openat",
               "--filter", "ret < 0", "irq:softirq_raise", "irq:softirq_entry", "irq:irq_handler_entry",
               "block:block_rq_issue", "block:block_rq_complete", "net:net_dev_queue", "net:netif_receive_skb",
               "signal:signal_generate", "signal:signal_deliver", "workqueue:workqueue_activate_work",
               "writeback:writeback_dirty_inode", "kmem:mm_page_alloc", "--filter", "order > 0",
               "syscalls:sys_exit_write", "--filter", "ret > 4096"]
SYS_LOAD = r"""
i=0
while [ $i -lt 30 ]; do
  dd if=/dev/zero of="$1/f" bs=64k count=16 conv=fsync 2>/dev/null
  python3 -c "
import os, signal, socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
for _ in range(200):
    c.sendall(b'x' * 1000); a.recv(2000)
signal.signal(signal.SIGUSR1, lambda *a: None); os.kill(os.getpid(), signal.SIGUSR1)
"
  cat "$1/f" >/dev/null
  i=$((i+1))
done
"""


# --- recordings ---------------------------------------------------------------------------------------------

def _perf_record(args: list[str], cwd: str | None = None) -> None:
    subprocess.run([PERF, "record", "-q"] + args, check=True, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def record(shape: str, path: str) -> None:
    """Make ``path`` with real perf (see the module docstring)."""
    if os.geteuid() != 0:
        sys.exit(f"bench: {path} is missing and recording it needs root")
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "workloads")], check=True)
    os.makedirs(DATA_DIR, exist_ok=True)
    work = tempfile.mkdtemp(prefix="pyperf-bench-shapes-")
    tmp = path + ".tmp"
    try:
        if shape == "make":
            src = os.path.join(work, "src")
            shutil.copytree(os.path.join(ROOT, "workloads", "uw_make_src"), src)
            subprocess.run([PERF, "probe", "-q", "-x", LIBC, "-a", f"{GROUP}:malloc=malloc"], check=True)
            try:
                _perf_record(["-e", f"{GROUP}:malloc", "-g", "-o", tmp, "--", "make", "-s", "-B", "-j2"], cwd=src)
            finally:
                subprocess.run([PERF, "probe", "-q", "-d", f"{GROUP}:*"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        elif shape == "big":
            prog = os.path.join(DATA_DIR, "big_malloc")
            subprocess.run(["cc", "-g", "-O1", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-pthread",
                            "-o", prog, os.path.join(ROOT, "bench", "big_malloc.c")], check=True)
            event = f"{GROUP}:bigmalloc"
            subprocess.run([PERF, "probe", "-q", "-x", LIBC, "-a", f"{event}=malloc bytes=%di:u64"], check=True)
            try:
                _perf_record(["-e", event, "-g", "-m", "16M", "-o", tmp, "--", prog, "1000000"], cwd=work)
            finally:
                subprocess.run([PERF, "probe", "-q", "-d", event], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        elif shape in ("spin", "dwarf"):
            spin = os.path.join(ROOT, "build", "workloads", "ex_spin")
            chains = ["-c", "50000", "-g"] if shape == "spin" else ["-c", "150000", "--call-graph", "dwarf,4096",
                                                                     "-m", "16M"]
            _perf_record(["-e", "cpu-clock:u"] + chains + ["-o", tmp, "--", spin, "5000"])
        elif shape == "sys":
            load = os.path.join(work, "load.sh")
            with open(load, "w") as f:
                f.write(SYS_LOAD)
            events: list[str] = []
            for word in TRACEPOINTS:
                events += [word] if word == "--filter" or events[-1:] == ["--filter"] else ["-e", word]
            _perf_record(["-a", "-o", tmp] + events + ["--", "sh", load, work])
        else:
            raise SystemExit(f"bench: unknown shape {shape}")
        os.rename(tmp, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if os.path.exists(tmp):
            os.remove(tmp)


def recordings(shapes: list[str], again: bool = False) -> list[tuple[str, str]]:
    """(shape, path) of each shape's recording, made first where missing (or ``again``)."""
    files = []
    for shape in shapes:
        path = os.path.join(DATA_DIR, f"{shape}.data")
        if again or not os.path.exists(path):
            record(shape, path)
        files.append((shape, path))
    return files


def nr_samples(path: str) -> int:
    """The samples of every event (perf report -n's column, summed)."""
    out = subprocess.run([PERF, "report", "-i", path, "--stdio", "--no-children", "-n", "--sort", "pid", "-g",
                          "none"], capture_output=True, text=True).stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if line.strip() and not line.startswith("#"))


# --- the package under test -----------------------------------------------------------------------------------

def _setup_flags() -> list[str]:
    """What setup.py adds to the C accelerator's build (libiberty's demangler, linked where it is installed),
    so that a copy runs the code the venv's does."""
    sys.path.insert(0, ROOT)
    try:
        from setup import cc_flags
    finally:
        sys.path.remove(ROOT)
    return cc_flags()


def build_copy(rev: str | None, pure: bool, where: str) -> str:
    """A compiled copy of pyperf_probe (the tree's, or REV's) in ``where``: its directory for PYTHONPATH."""
    os.makedirs(where)
    if rev is None:
        shutil.copytree(os.path.join(ROOT, "pyperf_probe"), os.path.join(where, "pyperf_probe"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    else:
        archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "pyperf_probe"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", where], input=archive, check=True)
    source = os.path.join(where, "pyperf_probe", "perfdata", "_speedups.c")
    if os.path.exists(source) and not pure:
        include = sysconfig.get_paths()["include"]
        target = source[:-2] + sysconfig.get_config_var("EXT_SUFFIX")
        sources = sorted(glob.glob(source[:-2] + "*.c"))  # the module's files, one per area (setup.py)
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-I", include, "-o", target, *sources, *_setup_flags()],
                       check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-f", os.path.join(where, "pyperf_probe")],
                   check=True, stdout=subprocess.DEVNULL)
    if os.path.exists(os.path.join(where, "pyperf_probe", "codebundle.py")):  # (as make compile does)
        subprocess.run([sys.executable, "-c", "from pyperf_probe import codebundle; codebundle.main()"],
                       check=True, cwd=where, env=dict(os.environ, PYTHONPATH=where))
    return where


def variants(revs: list[str | None], pure: bool, tmp: str) -> list[tuple[str, str]]:
    """(label, package directory) of each compiled copy: None is the working tree."""
    out = []
    for i, rev in enumerate(revs):
        label = "tree" if rev is None else subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", rev],
                                                          capture_output=True, text=True).stdout.strip()
        out.append((label, build_copy(rev, pure, os.path.join(tmp, f"pkg{i}"))))
    return out


# --- runs -----------------------------------------------------------------------------------------------------

def measure(argv: list[str], env: dict | None, stdout, cwd: str) -> tuple[float, float, int]:
    """(CPU s, peak RSS MiB, exit status) of one run of ``argv``. CPU: the rusage wait4(2) gives (microseconds,
    not GNU time's %U/%S in 10 ms steps: perf's cheapest sets take 0.07 s, where 10 ms is a 15% step in a
    ratio). Peak RSS: GNU time's %M, not wait4's ru_maxrss: Python starts a child with vfork, and exec folds
    the parent's high-water RSS into the child's maxrss (exec_mmap's setmax_mm_hiwater_rss), so wait4 would
    report the bench's own RSS for any command smaller than it. The command runs under GNU time (forked from
    that small process, its peak is its own); wait4's CPU is then time's and its child's, time's own being
    well under a millisecond."""
    fd, stats = tempfile.mkstemp()
    os.close(fd)
    try:
        child = subprocess.Popen([TIME, "-f", "%M", "-o", stats] + argv, env=env, stdout=stdout,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=cwd)
        _, wstatus, usage = os.wait4(child.pid, 0)
        child.returncode = status = os.waitstatus_to_exitcode(wstatus)
        with open(stats) as f:
            rss = int(f.read().split()[-1])
    finally:
        os.remove(stats)
    return usage.ru_utime + usage.ru_stime, rss / 1024, status


def run(argv: list[str], env: dict, out_path: str, check: bool = True) -> tuple[float, float, int]:
    """(CPU s, peak RSS MiB, exit status) of one run (``measure``), its stdout written to out_path (cwd: its
    directory)."""
    with open(out_path, "wb") as out:
        cpu, rss, status = measure(argv, env, out, os.path.dirname(out_path))
    if status != 0 and check:
        raise SystemExit(f"bench: {' '.join(argv)} failed ({status})")
    return cpu, rss, status


def digest(path: str, normalize=None) -> str:
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.sha256(normalize(data) if normalize else data).hexdigest()


def console_script(command: str) -> list[str]:
    """How the venv's ``pyperf`` command starts (entry_script.py writes it): ``python -S``, the paths the
    site module would add appended by the script itself; the package comes first from PYTHONPATH (the
    compiled copy). What a user who types ``pyperf`` runs, without site's ~1-2 ms."""
    sys.path.insert(0, ROOT)
    try:
        from entry_script import site_paths
    finally:
        sys.path.remove(ROOT)
    body = f"import sys; sys.path += {site_paths()!r}; from pyperf_probe.cli import main; sys.exit(main())"
    return [sys.executable, "-S", "-c", body, command]


# A set perf runs in under SHORT_S of CPU gets SHORT_RUNS rounds at least: at a tenth of a second a run, perf's
# own median of 3 moves by a fifth from one call to the next and the ratio by a third (dwarf -g none
# --no-children, 50 ms: 0.99-1.10 at 3 runs, 0.92 over 40 farm-bench pairs, 0.83-0.99 at 11; make's
# mt_cds_flat_callee_nochildren, perf 0.11-0.13 s: 1.01 at 3 runs, 1.08 at 7, 0.90 at 15), and such rounds cost
# little.
SHORT_S = 0.25
SHORT_RUNS = 11


def side_by_side(command: str, path: str, opts: list[str], pkgs: list[tuple[str, str]], runs: int, tmp: str,
                 normalize=None) -> dict:
    """``perf COMMAND -i PATH OPTS`` and each package's ``pyperf COMMAND ...`` (cold and warm), ``runs``
    interleaved rounds (SHORT_RUNS at least when perf's first run takes under SHORT_S): {name: (median CPU s,
    median peak RSS MiB, text equal to perf's)}. A command that fails must fail as perf does (same status):
    then it is timed as it is. "python" is ``python -S -c pass``
    with the bench's interpreter (the venv's, which pyperf runs under), timed in the same rounds: what any
    pyperf command costs before its first import."""
    # (the interpreter's own start-up, timed in the same rounds: the floor under any pyperf run)
    commands = [("perf", [PERF, command, "-i", path] + opts, dict(os.environ)),
                ("python", [sys.executable, "-S", "-c", "pass"], dict(os.environ))]
    out = os.path.join(tmp, "out")
    for name, pkg in pkgs:
        py = console_script(command) + ["-i", path] + opts
        env = dict(os.environ, PYTHONPATH=pkg)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        warm = tempfile.mkdtemp(dir=tmp)
        commands.append((f"{name} cold", py, dict(env, PYPERF_CACHE_DIR="cold")))
        commands.append((f"{name} warm", py, dict(env, PYPERF_CACHE_DIR=warm)))
        run(py, dict(env, PYPERF_CACHE_DIR=warm), out, check=False)  # fills the warm cache
    cpu: dict[str, list] = {name: [] for name, _, _ in commands}
    rss: dict[str, list] = {name: [] for name, _, _ in commands}
    texts, statuses = {}, {}
    rounds, done = runs, 0
    while done < rounds:
        done += 1
        for name, argv, env in commands:
            cold = env.get("PYPERF_CACHE_DIR") == "cold"
            if cold:
                env = dict(env, PYPERF_CACHE_DIR=tempfile.mkdtemp(dir=tmp))
            c, m, status = run(argv, env, out, check=False)
            cpu[name].append(c)
            rss[name].append(m)
            texts[name] = digest(out, normalize) if name != "python" else None
            statuses[name] = status
            if cold:
                shutil.rmtree(env["PYPERF_CACHE_DIR"], ignore_errors=True)
        if done == 1 and cpu["perf"][0] < SHORT_S:
            rounds = max(runs, SHORT_RUNS)
    return {name: (statistics.median(cpu[name]), statistics.median(rss[name]),
                   texts[name] == texts["perf"] and statuses[name] == statuses["perf"])
            for name, _, _ in commands}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_table(command: str, files: list[tuple[str, str]], sets: dict[str, list[str]], shape_sets, pkgs,
                runs: int, tmp: str, normalize=None, pure: bool = False) -> None:
    """The whole side-by-side table: one line per file and option set (see ``side_by_side``). "same" is yes
    when both the cold and the warm run printed perf's text and exited with perf's status."""
    print(f"load average before: {load_average()} ({os.cpu_count()} CPUs); pyperf {'without' if pure else 'with'}"
          f" its C accelerator; {runs} interleaved runs ({max(runs, SHORT_RUNS)} where perf's first takes under"
          f" {SHORT_S} s), medians; CPU s (user + sys), peak RSS MiB; py0: the"
          f" CPU of `python -S -c pass` (the interpreter's start-up alone) / perf's")
    header = f"{'file':<6} {'samples':>8} {'set':<12} {'perf':>6} {'MiB':>5} {'py0':>5}"
    for label, _ in pkgs:
        header += f" | {label + ' cold':>12} {'warm':>6} {'ratio':>5} {'ratio':>5} {'MiB':>5} {'MiB':>5} {'same':>4}"
    print(header)
    for shape, path in files:
        n = nr_samples(path)
        for set_name in shape_sets(shape):
            res = side_by_side(command, path, sets[set_name], pkgs, runs, tmp, normalize)
            pc, pm, _ = res["perf"]
            line = f"{shape:<6} {n:>8} {set_name:<12} {pc:>6.3f} {pm:>5.1f} {res['python'][0] / max(pc, 1e-3):>5.2f}"
            for label, _ in pkgs:
                cc, cm, same_cold = res[f"{label} cold"]
                wc, wm, same = res[f"{label} warm"]
                same = same and same_cold
                line += (f" | {cc:>12.3f} {wc:>6.3f} {cc / max(pc, 1e-3):>5.2f} {wc / max(pc, 1e-3):>5.2f} "
                         f"{cm:>5.1f} {wm:>5.1f} {'yes' if same else 'NO':>4}")
            print(line, flush=True)
    print(f"load average after: {load_average()}")
