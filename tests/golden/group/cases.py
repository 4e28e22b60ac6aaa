#!/usr/bin/env python3
"""Writes cases.txt: ``name|data|arguments`` for make_goldens.sh and tests/test_group_golden.py.

``data`` is a recording of data/ (without .data.xz); in the arguments SYMFS and KALLSYMS stand for the
unpacked symfs.tar.xz and the kallsyms file kept here (with --symfs perf reads no kallsyms of its own).
Every recording of a group is reported in the group view (the default), without it (--no-group), in
several layouts, and scripted (the members' samples, their periods from the counters read).
"""
import os

GIVEN = "--symfs SYMFS --kallsyms KALLSYMS"
REPORT = ["", "--no-children", "--no-group", "--group", "--no-children -g flat", "--no-children --sort dso,sym -n",
          "--sort sym", "-g caller --percent-limit 5", "--no-group --no-children --sort comm,dso,sym", "-q"]
SCRIPT = ["", "-G", "-F comm,tid,time,period,event,ip,sym,dso,trace", "-F +period", "-F event,period"]
FILES = [f"{tool}_{name}" for name in ("cc", "ccg", "pl", "named") for tool in ("perf", "py")] + ["perf_two"]


def cases():
    out = []
    for data in FILES:
        for i, layout in enumerate(REPORT):
            out.append((f"{data}_report{i}", data, f"report --stdio {GIVEN} {layout}".strip()))
        for i, fields in enumerate(SCRIPT):
            out.append((f"{data}_script{i}", data, f"script {GIVEN} {fields}".strip()))
    return out


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "cases.txt"), "w") as f:
        f.write("# name|data|arguments (written by cases.py)\n")
        for case in cases():
            f.write("|".join(case) + "\n")


if __name__ == "__main__":
    main()
