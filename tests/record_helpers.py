"""Helpers for the record tests and bench/record: build the workloads, place a uprobe on a function of a
binary under a group of our own (removed on every path), run pyperf and perf, normalize their text."""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "workloads")
PERF = "/usr/bin/perf"
GROUP = "pyperf_t_record"
HAVE_UPROBES = os.geteuid() == 0 and os.path.exists("/sys/kernel/tracing/uprobe_events")
HAVE_PERF = os.path.exists(PERF)


def workload(name: str) -> str:
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "workloads")], check=True)
    return os.path.join(BUILD, name)


def file_offset(binary: str, function: str) -> int:
    """uprobe_events offset of a function: its svma through the PT_LOAD that holds it."""
    from pyperf_probe.symbols.elf import open_elf
    from pyperf_probe.symbols.symtab import read_elf_symbols
    image = open_elf(binary)
    for name, svma, _size, _type, _bind in read_elf_symbols(image, ".symtab") + read_elf_symbols(image, ".dynsym"):
        if name == function:
            return image.svma_to_file_offset(svma)
    raise LookupError(f"{function} not in {binary}")


@contextlib.contextmanager
def uprobe(binary: str, function: str, event: str = ""):
    """A uprobe GROUP:EVENT on ``function`` of ``binary`` for the duration of the block."""
    from pyperf_probe.kernel import tracefs
    event = event or f"{function}_{os.getpid()}"
    tracefs.write_uprobe_events([f"p:{GROUP}/{event} {binary}:{file_offset(binary, function):#x}"])
    try:
        yield f"{GROUP}:{event}"
    finally:
        remove_uprobe(f"{GROUP}/{event}")


def remove_uprobe(name: str, patience: float = 5.0) -> None:
    """``-:GROUP/EVENT``, tried again while the kernel answers EBUSY (a perf event on it not yet
    released by a process that has just exited) for up to ``patience`` seconds."""
    import errno
    import time
    from pyperf_probe.errors import KernelError
    from pyperf_probe.kernel import tracefs
    deadline = time.monotonic() + patience
    while True:
        try:
            tracefs.write_uprobe_events([f"-:{name}"])
            return
        except KernelError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def pyperf(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyperf_probe", *args], capture_output=True, text=True, **kw)


def perf(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([PERF, *args], capture_output=True, text=True, **kw)


_TIP = re.compile(r"^# \(Tip:.*\n", re.M)
_PROBE_IP = re.compile(r"\([0-9a-f]{8,}\)")  # the trace column prints the probed address (ASLR)


def report_text(path: str, *opts: str) -> str:
    """``perf report --stdio`` of a file, without the random tip line and with the probed address of the
    trace column as ADDR; stderr must be empty."""
    proc = perf("report", "-i", path, "--stdio", *opts)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", f"perf report warned on {path}: {proc.stderr}"
    return _PROBE_IP.sub("(ADDR)", _TIP.sub("", proc.stdout))


_SCRIPT_HEAD = re.compile(r"^(\S+)\s+(\d+)\s+\[\d+\]\s+[\d.]+:\s+(\S+):\s+\(([0-9a-f]+)\)(.*)$")


def script_text(path: str) -> str:
    """``perf script`` with what differs between two runs of a deterministic workload taken out: pids and
    tids become their order of first appearance, CPU and time go, the probed address (ASLR) becomes ADDR.
    Call chain lines (dso-relative addresses, symbols, dsos) stay as they are."""
    proc = perf("script", "-i", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", f"perf script warned on {path}: {proc.stderr}"
    tids, out = {}, []
    for line in proc.stdout.splitlines():
        m = _SCRIPT_HEAD.match(line)
        if m:
            tid = tids.setdefault(m.group(2), f"T{len(tids)}")
            line = f"{m.group(1)} {tid} {m.group(3)}: (ADDR){m.group(5)}"
        out.append(line)
    return "\n".join(out) + "\n"
