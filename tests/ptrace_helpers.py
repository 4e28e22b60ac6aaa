"""Helpers for the ptrace backend's live tests: an unprivileged user made for them (pyperf runs as that
user, as a developer without root would), the user's own scratch home, uprobes added as root for the
comparison with real perf (group pyperf_t_ptrace, removed on every path), and what a traced process's
memory looks like after pyperf has gone."""
from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import record_helpers as rh

USER = "pyperf_pt"
GROUP = "pyperf_t_ptrace"
PERF = rh.PERF
SITE = os.path.join(rh.ROOT, ".venv", "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")


@contextlib.contextmanager
def test_user():
    """The unprivileged test user (a system account without a home or a shell): created if missing, and
    removed again when the block ends if it was created here, whatever happened in between."""
    try:
        existing = pwd.getpwnam(USER)
    except KeyError:
        existing = None
    if existing is not None:
        yield existing
        return
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                   check=True, capture_output=True)
    try:
        yield pwd.getpwnam(USER)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", USER], capture_output=True)   # its leftovers, if a test failed
        subprocess.run(["userdel", USER], capture_output=True)


def user_python(pw) -> str | None:
    """A Python this user may run, of the venv's version (its compiled packages must load): the venv's own
    interpreter when the user can reach it, else the system's python3. None when there is neither."""
    candidates = [sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3"]
    want = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for exe in candidates:
        proc = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", exe,
                               "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout.strip() == want:
            return exe
    return None


class User:
    """Runs pyperf (and workloads) as the test user, with HOME and XDG_STATE_HOME in a scratch directory
    it owns."""

    def __init__(self, pw, python: str):
        self.pw, self.python = pw, python
        self.home = tempfile.mkdtemp(prefix="pyperf-ptrace-user-")
        os.chown(self.home, pw.pw_uid, pw.pw_gid)
        self.state = os.path.join(self.home, "state")

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "XDG_"))}
        env.update(HOME=self.home, XDG_STATE_HOME=self.state, PYTHONPATH=f"{rh.ROOT}:{SITE}",
                   PYTHONDONTWRITEBYTECODE="1", LC_ALL="C")
        return env

    def argv(self, *args: str) -> list:
        return ["setpriv", f"--reuid={self.pw.pw_uid}", f"--regid={self.pw.pw_gid}", "--clear-groups", *args]

    def pyperf(self, *args: str, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("timeout", 300)
        return subprocess.run(self.argv(self.python, "-m", "pyperf_probe", *args), capture_output=True, text=True,
                              env=self.env(), cwd=self.home, **kw)

    def popen_pyperf(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.argv(self.python, "-m", "pyperf_probe", *args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(), cwd=self.home, **kw)

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.env(), cwd=self.home, **kw)

    def path(self, name: str) -> str:
        return os.path.join(self.home, name)

    def cleanup(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


@contextlib.contextmanager
def uprobes(lines):
    """Kernel uprobes (uprobe_events lines of group pyperf_t_ptrace) for the block; removed on every path."""
    from pyperf_probe.kernel import tracefs
    added = []
    try:
        for line in lines:
            tracefs.write_uprobe_events([line])
            added.append(line.split()[0].split(":", 1)[1])
        yield
    finally:
        gone = sorted({f"-:{name}" for name in added})
        if gone:
            tracefs.write_uprobe_events(gone)


def perf_counts(events, argv) -> dict:
    """{event: count} from ``perf stat -x,`` (as root, uprobes)."""
    proc = subprocess.run([PERF, "stat", "-x,", *sum((["-e", e] for e in events), []), "--", *argv],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return _csv_counts(proc.stderr)


def _csv_counts(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) > 3 and fields[0].isdigit():
            out[fields[2]] = int(fields[0])
    return out


def pyperf_counts(user: User, events, argv) -> dict:
    proc = user.pyperf("stat", "-x,", *sum((["-e", e] for e in events), []), "--", *argv)
    assert proc.returncode == 0, proc.stderr
    return _csv_counts(proc.stderr)


_TIP = re.compile(r"^# \(Tip:.*\n", re.M)


def perf_report(path: str, *opts: str) -> str:
    """perf report --stdio, the random tip taken out; -f: the file may be the test user's."""
    proc = subprocess.run([PERF, "report", "-f", "-i", path, "--stdio", *opts], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return _TIP.sub("", proc.stdout)


def pyperf_report(path: str, *opts: str) -> str:
    proc = rh.pyperf("report", "-f", "-i", path, "--stdio", *opts)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return _TIP.sub("", proc.stdout)


def perf_script(path: str) -> str:
    """perf script with pids and tids in order of first appearance (they differ between runs)."""
    proc = subprocess.run([PERF, "script", "-f", "-i", path, "-F", "comm,pid,tid,event,trace,ip,sym,dso"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    ids, out = {}, []
    for line in proc.stdout.splitlines():
        m = re.match(r"^(\s*\S+)\s+(\d+)/(\d+)\s+(.*)$", line)
        if m:
            pid = ids.setdefault(m.group(2), len(ids))
            tid = ids.setdefault(m.group(3), len(ids))
            line = f"{m.group(1)} {pid}/{tid} {m.group(4)}"
        out.append(line)
    return "\n".join(out)


def avma_of(pid: int, path: str, file_offset: int) -> int:
    from pyperf_probe.perfdata.synth import parse_maps_line
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            m = parse_maps_line(line)
            if m and m.path == path and m.pgoff <= file_offset < m.pgoff + (m.end - m.start):
                return m.start + file_offset - m.pgoff
    raise LookupError(f"{path}:{file_offset:#x} not mapped in {pid}")


def untouched(pid: int, path: str, file_offsets) -> None:
    """Assert that process ``pid`` is as pyperf found it: not traced, its probed bytes those of the file,
    no anonymous executable page left (the out-of-line pages)."""
    with open(f"/proc/{pid}/status") as f:
        assert re.search(r"^TracerPid:\s+0$", f.read(), re.M), f"{pid} still traced"
    with open(path, "rb") as f:
        image = f.read()
    with open(f"/proc/{pid}/mem", "rb") as mem:
        for off in file_offsets:
            mem.seek(avma_of(pid, path, off))
            assert mem.read(16) == image[off:off + 16], f"bytes at {path}:{off:#x} not restored in {pid}"
    with open(f"/proc/{pid}/maps") as f:
        anon_exec = [line for line in f if line.split()[1] == "r-xp" and len(line.split()) < 6]
    assert not anon_exec, f"out-of-line pages left in {pid}: {anon_exec}"


def wait_for_line(stream, timeout: float = 10.0) -> str:
    """A line from a pipe, within ``timeout`` seconds."""
    import select
    end = time.monotonic() + timeout
    buf = ""
    fd = stream.fileno()
    while "\n" not in buf:
        left = end - time.monotonic()
        assert left > 0, f"no line within {timeout} s (got {buf!r})"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096).decode()
            assert chunk, f"EOF before a line (got {buf!r})"
            buf += chunk
    return buf


def wait_traced(pid: int, timeout: float = 30.0) -> None:
    """Until pyperf has attached to ``pid`` (its TracerPid is set): a signal sent to pyperf before then
    would find Python's default handlers, on a loaded machine."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(f"/proc/{pid}/status") as f:
            if not re.search(r"^TracerPid:\s+0$", f.read(), re.M):
                return
        time.sleep(0.02)
    raise AssertionError(f"pyperf did not attach to {pid} within {timeout} s")


def kill_quietly(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
