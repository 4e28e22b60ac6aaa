"""The cases of the perf stat goldens: ``NAME -> arguments of `perf stat```, with the targets they need.

Placeholders: ``{spin}`` is workloads/ex_spin (three threads spinning for the milliseconds given);
``{pid}`` a running ``ex_spin 60000`` started for the cases that attach (-p), ``{tid}`` its ``ex-hash``
thread. ``interrupt``: the seconds after which the case gets SIGINT (system-wide counts without a command).
``intervals``: an ``-I`` case, compared on its first two intervals (the last one falls when the command
exits, and its length with it).

Shared by make_goldens.py (real perf writes expected/NAME.err and NAME.rc) and tests/test_stat_golden.py
(pyperf's text against them, through tests/stat_layout.py).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import subprocess
import time
from typing import Dict, Iterator, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SPIN = os.path.join(ROOT, "build", "workloads", "ex_spin")
EXPECTED = os.path.join(HERE, "expected")


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    args: str
    interrupt: Optional[float] = None

    @property
    def needs_target(self) -> bool:
        return "{pid}" in self.args or "{tid}" in self.args

    @property
    def intervals(self) -> bool:
        return "-I " in self.args

    def argv(self, places: Dict[str, str]) -> List[str]:
        text = self.args
        for key, value in places.items():
            text = text.replace("{" + key + "}", value)
        return shlex.split(text)

    @property
    def csv_sep(self) -> Optional[str]:
        words = shlex.split(self.args)
        return words[words.index("-x") + 1] if "-x" in words else None

    @property
    def per_thread(self) -> bool:
        return "--per-thread" in self.args


CASES = [
    # perf stat's default events
    Case("default", "true"),
    Case("default_csv", "-x , true"),
    Case("default_csv_semicolon", "-x ';' true"),
    Case("default_repeat", "-r 3 true"),
    Case("default_repeat_csv", "-r 3 -x , true"),
    Case("default_system_wide", "-a sleep 0.1"),
    Case("default_system_wide_csv", "-a -x , sleep 0.1"),
    Case("default_system_wide_repeat", "-a -r 2 sleep 0.05"),
    Case("default_interrupted", "-a", interrupt=1.0),
    Case("default_pid", "-p {pid} -- sleep 0.2"),
    # -A / --no-aggr and the per-topology aggregates
    Case("no_aggr", "-a -A sleep 0.1"),
    Case("no_aggr_csv", "-a -A -x , sleep 0.1"),
    Case("no_aggr_repeat_csv", "-a -A -r 2 -x , -e cpu-clock,cs sleep 0.05"),
    Case("no_aggr_interrupted", "-a -A -e cpu-clock,cs,cycles", interrupt=1.0),
    Case("per_core", "-a --per-core -e cpu-clock,cs,cycles sleep 0.1"),
    Case("per_core_csv", "-a --per-core -x , -e cpu-clock,cs,cycles sleep 0.1"),
    Case("per_socket", "-a --per-socket -e cpu-clock,cs,cycles sleep 0.1"),
    Case("per_socket_csv", "-a --per-socket -x , -e cpu-clock,cs sleep 0.1"),
    Case("per_die", "-a --per-die -e cpu-clock,faults sleep 0.1"),
    Case("per_node", "-a --per-node -e cpu-clock,faults sleep 0.1"),
    Case("per_node_csv", "-a --per-node -x , -e cpu-clock,faults sleep 0.1"),
    # --per-thread
    Case("per_thread_pid", "--per-thread -p {pid} -e task-clock,cs,cycles -- sleep 0.2"),
    Case("per_thread_pid_csv", "--per-thread -x , -p {pid} -e task-clock,cs,cycles -- sleep 0.2"),
    Case("per_thread_pid_default", "--per-thread -p {pid} -- sleep 0.2"),
    Case("per_thread_tid", "--per-thread -t {tid} -e task-clock,cs -- sleep 0.1"),
    Case("per_thread_repeat", "--per-thread -r 2 -p {pid} -e task-clock -- sleep 0.1"),
    # -I
    Case("interval", "-I 100 {spin} 250"),
    Case("interval_csv", "-I 100 -x , -e task-clock,cs {spin} 250"),
    Case("interval_no_aggr", "-I 100 -a -A -e cpu-clock,cs sleep 0.25"),
    Case("interval_no_aggr_csv", "-I 100 -a -A -x , -e cpu-clock,cs sleep 0.25"),
    Case("interval_per_core", "-I 100 -a --per-core -e cpu-clock,cs sleep 0.25"),
    Case("interval_per_socket_csv", "-I 100 -a --per-socket -x , -e cpu-clock,cs sleep 0.25"),
    Case("interval_per_thread", "-I 100 --per-thread -p {pid} -e task-clock,cs -- sleep 0.25"),
    Case("interval_per_thread_csv", "-I 100 --per-thread -x , -p {pid} -e task-clock -- sleep 0.25"),
    Case("interval_interrupted", "-I 100 -a -e cpu-clock,cs", interrupt=1.2),
    # groups
    Case("group", "-e '{task-clock,cs,faults}' true"),
    Case("group_csv", "-x , -e '{task-clock,cs}' true"),
    Case("group_member_unsupported", "-e '{cpu-clock,cycles,cs}' true"),
    Case("group_leader_unsupported", "-e '{cycles,cpu-clock}' true"),
    Case("group_no_aggr", "-a -A -e '{cpu-clock,cs},{cpu-clock,cycles}' sleep 0.1"),
    Case("group_interval", "-I 100 -e '{task-clock,faults}' {spin} 250"),
    # perf's words for what it refuses
    Case("err_per_thread_command", "--per-thread -e cs true"),
    Case("err_no_aggr_command", "-A -e cs true"),
    Case("err_per_core_command", "--per-core -e cs true"),
    Case("err_interval_negative", "-I -1 true"),
    Case("err_interval_word", "--interval-print=x true"),
    Case("err_interval_missing", "-I"),
    Case("err_repeat_word", "-r x true"),
    Case("err_per_thread_value", "--per-thread=1 true"),
    Case("err_dead_tid", "-t 4194000 -e task-clock -- sleep 0.1"),
    Case("err_dead_tid_per_thread", "--per-thread -t 4194000 -e task-clock,cs -- sleep 0.1"),
]


def build_workloads() -> None:
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "workloads")], check=True)


@contextlib.contextmanager
def targets() -> Iterator[Dict[str, str]]:
    """The placeholders' values, with a running ``ex_spin 60000`` for {pid}/{tid}, killed on the way out."""
    proc = subprocess.Popen([SPIN, "60000"], stdout=subprocess.DEVNULL)
    try:
        tid = None
        for _ in range(200):
            tid = _thread(proc.pid, "ex-hash")
            if tid is not None and len(os.listdir(f"/proc/{proc.pid}/task")) == 3:
                break
            time.sleep(0.01)
        yield {"spin": SPIN, "pid": str(proc.pid), "tid": str(tid)}
    finally:
        proc.kill()
        proc.wait()


def _thread(pid: int, comm: str) -> Optional[int]:
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == comm:
                    return int(tid)
        except OSError:
            continue
    return None


def run(tool: List[str], case: Case, places: Dict[str, str]) -> subprocess.CompletedProcess:
    """``TOOL stat ARGS`` of a case (interrupted with SIGINT when the case says so)."""
    argv = [*tool, "stat", *case.argv(places)]
    if case.interrupt is None:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(case.interrupt)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
