#!/usr/bin/env python3
"""Run real perf 6.1 on every case of cases.py and write its stderr (with ``pyperf`` in its usage lines:
cases.pyperf_usage), stdout and exit status to expected/COMMAND.CASE.{err,out,rc}.

    python3 tests/golden/parse_options/make_goldens.py [COMMAND ...]     # needs /usr/bin/perf 6.1

perf runs in an empty temporary directory with its stdin closed; every case fails in parse-options (or
right after it), before perf opens a file or an event.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases  # noqa: E402


def main():
    only = set(sys.argv[1:])
    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyperf_golden_po_") as cwd:
        for command, table in cases.CASES.items():
            if only and command not in only:
                continue
            for name, argv in table.items():
                proc = subprocess.run(["perf", command, *argv], capture_output=True, text=True, cwd=cwd,
                                      stdin=subprocess.DEVNULL, timeout=30, env=dict(os.environ, PAGER="cat"))
                base = os.path.join(HERE, "expected", f"{command}.{name}")
                for ext, text in (("err", cases.pyperf_usage(proc.stderr)), ("out", proc.stdout),
                                  ("rc", f"{proc.returncode}\n")):
                    with open(f"{base}.{ext}", "w") as f:
                        f.write(text)
                assert not os.listdir(cwd), f"perf {command} {argv} wrote {os.listdir(cwd)}"


if __name__ == "__main__":
    main()
