#!/usr/bin/env python3
"""Writes cases.txt: ``name|data|home|arguments`` for make_goldens.sh and tests/test_kernel_golden.py.

``data`` is a recording of data/ (without .data.xz), ``home`` the HOME perf runs with: ``empty``, or
``cache`` (a build-id cache holding the kallsyms copy under the build-id 1111...1 that otherbid.data
names). In the arguments SYMFS and KALLSYMS stand for the unpacked symfs.tar.xz and the kallsyms file.
Most cases give both (``--symfs SYMFS --kallsyms KALLSYMS``): with --symfs perf reads no kallsyms of its
own, so the kernel's names come only from the copy kept here, on any boot.

Tracepoint files other than exec are reported with an explicit --sort: their default sort key is the
tracepoint's print format (``trace``), which is the trace-event printer's business, not this directory's.
"""
import os

GIVEN = "--symfs SYMFS --kallsyms KALLSYMS"
LAYOUTS = ["", "--no-children", "-G", "-g flat", "-g folded", "-g fractal", "-g caller", "-g callee",
           "--no-children -g caller", "--sort dso,sym", "--no-children --sort dso,sym", "--sort comm,dso,sym",
           "--no-children --sort comm,dso,sym -g flat", "--sort sym", "-g graph,5 --sort dso,sym",
           "--percent-limit 3 --sort dso,sym -n"]
SORTED = [a for a in LAYOUTS if "--sort" in a] + ["--sort comm,dso,sym -G", "--sort comm,dso,sym -g folded",
                                                  "--sort comm,dso,sym -g fractal"]
SCRIPT = ["", "-G", "-F comm,pid,tid,cpu,time,event,ip,sym,symoff,dso,period", "-F ip,sym,dso", "-F +period",
          "-F -ip", "-F ip", "--ns -F time,event,ip,sym,symoff", "--show-kernel-path -F comm,ip,sym,dso"]
FILES = {  # name: report layouts
    "exec": LAYOUTS, "cc": LAYOUTS, "ccu": LAYOUTS, "cck": LAYOUTS, "sys": LAYOUTS, "nocg": ["", "--sort dso,sym",
                                                                                                "-n --sort sym"],
    "switch": SORTED, "openat": SORTED, "kcc": SORTED, "ucc": SORTED, "mixed": SORTED,
}
SPECIAL = [
    # without --symfs: user frames unresolved (the recorded path is gone), kernel ones from --kallsyms
    ("exec_nosymfs", "exec", "empty", "report --stdio --kallsyms KALLSYMS"),
    ("cc_nosymfs", "cc", "empty", "report --stdio --kallsyms KALLSYMS --no-children --sort dso,sym"),
    ("cc_nosymfs_script", "cc", "empty", "script --kallsyms KALLSYMS"),
    # --symfs without --kallsyms: perf reads no local kallsyms, kernel frames are addresses
    ("exec_symfs_only", "exec", "empty", "report --stdio --symfs SYMFS --no-children"),
    ("exec_symfs_only_script", "exec", "empty", "script --symfs SYMFS"),
    # a kernel build-id no machine has: the build-id cache's copy, or perf's message
    ("otherbid_nocache", "otherbid", "empty", "report --stdio --no-children"),
    ("otherbid_nocache_q", "otherbid", "empty", "report --stdio --no-children -q"),
    ("otherbid_nocache_script", "otherbid", "empty", "script"),
    ("otherbid_cache", "otherbid", "cache", "report --stdio --no-children"),
    ("otherbid_cache_children", "otherbid", "cache", "report --stdio --sort dso,sym"),
    ("otherbid_cache_script", "otherbid", "cache", "script"),
    # recorded under kptr_restrict (no relocation symbol): perf report's warning, two texts
    ("pgoff0_kallsyms", "pgoff0", "empty", "report --stdio --kallsyms KALLSYMS --symfs SYMFS"),
    ("pgoff0_nosyms", "pgoff0", "empty", "report --stdio --symfs SYMFS"),
    ("pgoff0_quiet", "pgoff0", "empty", "report --stdio --symfs SYMFS -q"),
    ("pgoff0_script", "pgoff0", "empty", "script --kallsyms KALLSYMS --symfs SYMFS"),
    # a --kallsyms that cannot be read
    ("badkallsyms_report", "exec", "empty", "report --stdio --kallsyms /nonexistent/kallsyms"),
    ("badkallsyms_script", "exec", "empty", "script --kallsyms /nonexistent/kallsyms"),
]


def cases():
    out = []
    for data, layouts in FILES.items():
        for i, layout in enumerate(layouts):
            out.append((f"{data}_report{i}", data, "empty", f"report --stdio {GIVEN} {layout}".strip()))
        for i, fields in enumerate(SCRIPT):
            out.append((f"{data}_script{i}", data, "empty", f"script {GIVEN} {fields}".strip()))
    out += SPECIAL
    return out


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "cases.txt"), "w") as f:
        f.write("# name|data|home|arguments (written by cases.py)\n")
        for case in cases():
            f.write("|".join(case) + "\n")
    print(f"{len(cases())} cases")
