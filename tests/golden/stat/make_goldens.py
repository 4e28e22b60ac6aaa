#!/usr/bin/env python3
"""Real perf 6.1's `perf stat` text for every case of cases.py: expected/NAME.err (stderr, where perf stat
writes) and expected/NAME.rc (exit status; a negative one is the signal perf died of).

Usage: sudo ./make_goldens.py [PERF]   (root: system-wide and attached counting; builds workloads/ first)

Nothing is left behind: the ex_spin started for the -p/-t cases is killed, perf writes no file.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402


def main() -> int:
    perf = sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/perf"
    cases.build_workloads()
    os.makedirs(cases.EXPECTED, exist_ok=True)
    with cases.targets() as places:
        for case in cases.CASES:
            proc = cases.run([perf], case, places)
            with open(os.path.join(cases.EXPECTED, case.name + ".err"), "w") as f:
                f.write(proc.stderr)
            with open(os.path.join(cases.EXPECTED, case.name + ".rc"), "w") as f:
                f.write(f"{proc.returncode}\n")
    print(f"make_goldens: {len(cases.CASES)} cases in {cases.EXPECTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
