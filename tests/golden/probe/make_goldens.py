#!/usr/bin/env python3
"""Run real perf 6.1 on every case of cases.py and write its stdout, stderr and exit status to expected/.

    sudo python3 tests/golden/probe/make_goldens.py [CASE ...]   # after `make workloads`; all cases by default

perf runs with PERF_BUILDID_DIR pointing to an empty directory, so no build-id cache changes its answers,
and with the paths of this checkout replaced by @W@ / @T@ in what is stored. The live sequences add real
uprobes under names no other test uses; they, the cache directory and the live copy (cases.LIVE_DIR: the
tests make their own) are removed at the end and on any failure.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
import cases  # noqa: E402




def run(argv, env, t_dir):
    proc = subprocess.run(["perf", "probe"] + cases.expand(argv, t_dir), capture_output=True, text=True, env=env)
    return cases.normalize(proc.stdout, t_dir), cases.normalize(proc.stderr, t_dir), proc.returncode


def write(name, out, err, rc):
    base = os.path.join(HERE, "expected", name)
    with open(base + ".out", "w") as f:
        f.write(out)
    with open(base + ".err", "w") as f:
        f.write(err)
    with open(base + ".rc", "w") as f:
        f.write(f"{rc}\n")


def main():
    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    cache = tempfile.mkdtemp(prefix="pyperf_golden_cache_")
    env = dict(os.environ, PERF_BUILDID_DIR=cache, PAGER="cat")
    only = set(sys.argv[1:])        # case names to redo; all when none are given
    try:
        os.makedirs(cases.LIVE_DIR, exist_ok=True)
        shutil.copy(os.path.join(cases.W, "probe_prog_nodbg"), cases.LIVE.replace("@T@", cases.LIVE_DIR))
        for table in (cases.DEFINITIONS, cases.FUNCS, cases.VARS_LINES, cases.ERRORS):
            for name, argv in table.items():
                if not only or name in only:
                    write(name, *run(argv, env, cases.LIVE_DIR))
        for name, steps in cases.SEQUENCES.items():
            if only and name not in only:
                continue
            for i, argv in enumerate(steps):
                write(f"{name}.{i}", *run(argv, env, cases.LIVE_DIR))
    finally:
        for group in cases.GROUPS:
            subprocess.run(["perf", "probe", "-q", "-d", f"{group}:*"], env=env)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(cases.LIVE_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
