"""pyperf argdist against the kernel: exact counts on workloads/ad_work, checked three ways — the workload's
own formulas, bpftrace 0.17's hist()/count() on the same command, and perf stat's count of the same event —
for a uprobe, a return probe with $latency and $entry(), a tracepoint, an SDT marker with a semaphore,
filters, and -p. The numeric cases run twice: with BPF, and counted in user space from the ring buffer
(``mode`` "user": PYPERF_NO_BPF=1), which must give the same numbers; one run has BPF really refused (no
CAP_BPF). Every run leaves no uprobe, BPF program or map behind (checked at the end of each test)."""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "workloads", "ad_work")

pytestmark = [pytest.mark.uprobes,
              pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"),
                                 reason="argdist needs root, BPF and uprobes")]

TAGS = ("alpha", "beta", "gamma")


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (make apt installs it)")
    return path


@pytest.fixture(scope="module")
def work():
    if not os.path.exists(WORK):
        subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "workloads")], check=True)
    return WORK


@pytest.fixture(autouse=True)
def nothing_left_behind():
    before = _progs()
    yield
    assert not [line for line in open("/sys/kernel/tracing/uprobe_events") if "pyperf_argdist_" in line]
    left = {ident: name for ident, name in _progs().items() if ident not in before and OURS.match(name)}
    assert not left, f"BPF programs left behind: {left}"


# argdist's program names: adINDEX[e]_FUNCTION and ad_exec (other programs may come and go meanwhile)
OURS = re.compile(r"ad\d+e?_|ad_exec$")


def _progs():
    out = subprocess.run([need("bpftool"), "prog", "list"], capture_output=True, text=True).stdout
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"(?m)^(\d+): \w+\s+name (\S+)", out)}


@pytest.fixture(params=["bpf", "user"])
def mode(request):
    return request.param


def _env(mode):
    env = dict(os.environ)
    env.pop("PYPERF_NO_BPF", None)
    if mode == "user":
        env["PYPERF_NO_BPF"] = "1"
    return env


def argdist(*args, timeout=60, mode="bpf", prefix=()):
    proc = subprocess.run([*prefix, sys.executable, "-m", "pyperf_probe", "argdist", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, env=_env(mode))
    assert proc.returncode == 0, proc.stderr
    assert "reads of process memory failed" not in proc.stderr
    return proc.stdout


def last_block(out):
    blocks = re.split(r"(?m)^\[\d\d:\d\d:\d\d\]\n", out)
    return blocks[-1]


def hist_of(text):
    """bcc log2 lines -> {bucket index: count} (bucket i holds 2^(i-1)..2^i-1, and 0 in bucket 1)."""
    out = {}
    for m in re.finditer(r"(?m)^\s+(\d+) -> (\d+)\s+: (\d+)\s+\|", text):
        high, count = int(m.group(2)), int(m.group(3))
        if count:
            out[(high + 1).bit_length() - 1] = count
    return out


def table_of(text):
    """bcc COUNT EVENT lines -> {event text: count}."""
    return {m.group(2): int(m.group(1)) for m in re.finditer(r"(?m)^\t(\d+)\s+(.*)$", text)}


def bucket(value):
    """bcc's bpf_log2l slot of a value."""
    return 1 if value <= 1 else value.bit_length()


def expected_hist(values):
    out = {}
    for v in values:
        out[bucket(v)] = out.get(bucket(v), 0) + 1
    return out


_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def bpftrace(script, cmd):
    """bpftrace's maps after ``-c cmd``: {name: {bcc bucket: count}} for hist(), {name: {key: n}} for count()."""
    proc = subprocess.run([need("bpftrace"), "-e", script, "-c", cmd], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    maps, name = {}, None
    for line in proc.stdout.split("\n"):
        m = re.match(r"^(@\w*)(\[(.*)\])?: ?(\d+)?$", line)
        if m:
            name = m.group(1)
            if m.group(4) is not None:
                maps.setdefault(name, {})[m.group(3)] = int(m.group(4))
            continue
        m = re.match(r"^\[(-?\d+)([KMGT]?)(?:, (\d+)([KMGT]?)\))?\]?\s+(\d+) \|", line)
        if m and name:
            low = int(m.group(1)) * _SUFFIX[m.group(2)]
            maps.setdefault(name, {})
            b = bucket(low)
            maps[name][b] = maps[name].get(b, 0) + int(m.group(5))
    return maps


def perf_stat_count(event, cmd):
    proc = subprocess.run(["perf", "stat", "-x,", "-e", event, "--", *cmd], capture_output=True, text=True)
    line = [x for x in proc.stderr.split("\n") if event in x][0]
    return int(line.split(",")[0])


N = 3000


def test_tracepoint_histogram_against_formula_bpftrace_and_perf_stat(work, mode):
    out = argdist("-H", "t:syscalls:sys_enter_write():u64:args->count", "--", work, str(N), mode=mode)
    got = hist_of(last_block(out))
    assert "     args->count         : count     distribution" in out
    assert got == expected_hist([i % 500 for i in range(N)])
    bt = bpftrace("tracepoint:syscalls:sys_enter_write /pid == cpid/ { @ = hist(args->count); }", f"{work} {N}")
    assert bt["@"] == got
    assert perf_stat_count("syscalls:sys_enter_write", [work, str(N)]) == sum(got.values()) == N


def test_tracepoint_fields_filter_and_comm(work, mode):
    out = argdist("-C", "t:syscalls:sys_enter_write():u64,char*:args->count,$COMM:args->count > 490", "--",
                  work, str(N), mode=mode)
    want = {}
    for i in range(N):
        if i % 500 > 490:
            key = f"args->count = {i % 500}, $COMM = b'ad_work'"
            want[key] = want.get(key, 0) + 1
    assert table_of(last_block(out)) == want


def test_uprobe_malloc_histogram_against_bpftrace(work, mode):
    out = argdist("-H", "p:c:malloc(size_t size):size_t:size", "--", work, str(N), mode=mode)
    got = hist_of(last_block(out))
    libc = subprocess.run([sys.executable, "-c", "from pyperf_probe.cmd_tplist import _library_path; "
                           "print(_library_path('c'))"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    bt = bpftrace(f"uprobe:{libc}:malloc /pid == cpid/ {{ @ = hist(arg0); }}", f"{work} {N}")
    assert bt["@"] == got
    mine = expected_hist([16 + i % 300 for i in range(N)])
    assert all(got.get(b, 0) >= n for b, n in mine.items())        # plus what libc allocates itself


def test_entry_arguments_and_strings(work):
    out = argdist("-C", f"p:{work}:ad_call(int n, const char *tag):char*,int:tag,n % 4:n >= 30",
                  "-C", f'p:{work}:ad_call(int n, const char *tag):int:n:STRCMP("gam", tag) && n < 3',
                  "--", work, str(N))
    blocks = re.split(r"(?m)^p:", last_block(out))
    want1, want2 = {}, {}
    for i in range(N):
        n, tag = i % 37, TAGS[i % 3]
        if n >= 30:
            key = f"tag = b'{tag}', n % 4 = {n % 4}"
            want1[key] = want1.get(key, 0) + 1
        if tag == "gamma" and n < 3:
            want2[f"n = {n}"] = want2.get(f"n = {n}", 0) + 1
    assert table_of(blocks[1]) == want1
    assert table_of(blocks[2]) == want2


def test_return_probe_with_latency_and_entry(work, mode):
    out = argdist("-C", f"r:{work}:ad_call(int n):int,long:$entry(n),$retval:$entry(n) > 33",
                  "-H", f"r:{work}:ad_call(int n):u64:$latency",
                  "-H", f"r:{work}:ad_call():int#results", "--", work, str(N), mode=mode)
    block = last_block(out)
    want = {}
    for i in range(N):
        n = i % 37
        if n > 33:
            key = f"n = {n}, $retval = {3 * n - 50}"
            want[key] = want.get(key, 0) + 1
    assert table_of(block.split("     $latency")[0]) == want
    latency = hist_of(block.split("     $latency")[1].split("     results")[0])
    assert sum(latency.values()) == N
    assert min(latency) >= bucket(1000 * 0)         # every call took time
    results = hist_of(block.split("     results")[1])
    assert results == expected_hist([(3 * (i % 37) - 50) & ((1 << 64) - 1) for i in range(N)])
    bt = bpftrace(f"uprobe:{work}:ad_call {{ @start[tid] = nsecs; }} "
                  f"uretprobe:{work}:ad_call /@start[tid]/ {{ @n = count(); delete(@start[tid]); }}",
                  f"{work} {N}")
    assert bt["@n"][None] == N


def test_sdt_marker_with_semaphore(work, mode):
    out = argdist("-C", f"u:{work}:step():int:arg2", "-H", f"u:{work}:step():int:arg1#i", "--", work, str(N),
                  mode=mode)
    block = last_block(out)
    want = {f"arg2 = {k}": len([i for i in range(N) if i % 7 == k]) for k in range(7)}
    assert table_of(block.split("     i ")[0]) == want             # fires only with the semaphore raised
    assert hist_of(block.split("     i ")[1]) == expected_hist(range(N))
    bt = bpftrace(f"usdt:{work}:ad:step {{ @[arg1] = count(); }}", f"{work} {N}")
    assert {f"arg2 = {k}": v for k, v in bt["@"].items()} == want


def test_per_pid_counts_only_that_process(work, mode):
    """-p PID: a second copy of the workload running meanwhile is not counted."""
    gate = subprocess.Popen(["sh", "-c", f"read x; exec {work} {N}"], stdin=subprocess.PIPE)
    other = subprocess.Popen(["sh", "-c", f"read x; exec {work} {N // 2}"], stdin=subprocess.PIPE)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "pyperf_probe", "argdist", "-p", str(gate.pid), "-c",
                                 "-i", "1", "-n", "3", "-C", f"p:{work}:ad_call(int n):u64:$PID",
                                 "-H", "t:syscalls:sys_enter_write():u64:args->count"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env(mode))
        deadline = time.time() + 20
        while not any(f"pyperf_argdist_{proc.pid}/" in line for line in open("/sys/kernel/tracing/uprobe_events")):
            assert time.time() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() is not None else ""
            time.sleep(0.05)
        time.sleep(0.3)          # the last program is attached just after its uprobe is added
        for p in (gate, other):
            p.stdin.write(b"go\n")
            p.stdin.close()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        for p in (gate, other):
            p.wait()
    block = last_block(out)
    assert table_of(block) == {f"$PID = {gate.pid}": N}
    assert sum(hist_of(block).values()) == N


def test_errors_point_into_the_specifier(work):
    proc = subprocess.run([sys.executable, "-m", "pyperf_probe", "argdist", "-C",
                           f"p:{work}:ad_call(int n):int:n + nope"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    lines = proc.stderr.split("\n")
    spec = f"p:{work}:ad_call(int n):int:n + nope"
    assert lines[0] == f"error parsing probe '{spec}': unknown name 'nope'"
    assert lines[1] == "    " + spec
    assert lines[2] == "    " + " " * spec.index("nope") + "^^^^"


def test_bpf_refused_counts_in_user_space(work):
    """Without CAP_BPF (and CAP_SYS_ADMIN) the kernel refuses the maps: the same counts, from the ring buffer,
    and -v says so."""
    setpriv = need("setpriv")
    drop = ["--inh-caps=-bpf,-sys_admin", "--bounding-set=-bpf,-sys_admin"]
    proc = subprocess.run([setpriv, *drop, sys.executable, "-m", "pyperf_probe", "argdist", "-v",
                           "-H", "t:syscalls:sys_enter_write():u64:args->count",
                           "-C", f"p:{work}:ad_call(int n):int:n % 3", "--", work, str(N)],
                          capture_output=True, text=True, cwd=ROOT, env=_env("bpf"))
    assert proc.returncode == 0, proc.stderr
    assert "argdist: BPF is not available (" in proc.stderr and "counting in user space" in proc.stderr
    block = last_block(proc.stdout)
    assert hist_of(block) == expected_hist([i % 500 for i in range(N)])
    assert table_of(block) == {f"n % 3 = {k}": len([i for i in range(N) if i % 37 % 3 == k]) for k in range(3)}
