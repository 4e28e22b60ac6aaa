#!/usr/bin/env python3
"""Run real perf 6.1 (perf probe -D / -V / -L) and binutils' addr2line on every case of cases.py and write
their outputs to expected/ (JSON: stdout, stderr, exit status; addr2line: the addresses and its raw output).

    .venv/bin/python tests/golden/dwarf/make_goldens.py     # from the repository root, after `make workloads`

perf runs with PERF_BUILDID_DIR pointing to an empty directory (no build-id cache changes its answers) and
PAGER=cat; the paths of this checkout are stored as @W@ (build/workloads) and @S@ (workloads/).
Nothing here adds a probe: -D, -V and -L only read.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
import cases  # noqa: E402

W = os.path.join(ROOT, "build", "workloads")
S = os.path.join(ROOT, "workloads")


def expand(path):
    return path.replace("@W@", W).replace("@S@", S)


def normalize(text):
    return text.replace(W, "@W@").replace(S, "@S@")


def run_perf(binary, option, arg, env, extra=()):
    argv = ["perf", "probe", "-x", expand(binary), option, arg] if option != "-F" else \
        ["perf", "probe", "-x", expand(binary), "-F", "--filter", arg]
    argv += list(extra)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    return {"binary": binary, "option": option, "arg": arg, "extra": list(extra), "stdout": normalize(proc.stdout),
            "stderr": normalize(proc.stderr), "rc": proc.returncode}


def text_range(path):
    """[start, end) of .text, read with pyelftools (the test draws the same addresses)."""
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        return text["sh_addr"], text["sh_addr"] + text["sh_size"]


def addresses(key, path):
    """The fixed address sequence of one binary: seeded by its key, spread over .text."""
    low, high = text_range(path)
    rng = random.Random(key)
    return [rng.randrange(low, high) for _ in range(cases.ADDRESSES_PER_BINARY)]


def run_addr2line(key, binary):
    path = expand(binary)
    addrs = addresses(key, path)
    proc = subprocess.run(["addr2line", "-e", path, "-a", "-i", "-f"] + [hex(a) for a in addrs],
                          capture_output=True, text=True, check=True)
    return {"binary": binary, "addresses": addrs, "output": normalize(proc.stdout)}


def dump(name, data):
    with open(os.path.join(HERE, "expected", name), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyperf_dwarf_golden_") as cache:  # removed on every path
        write_all(dict(os.environ, PERF_BUILDID_DIR=cache, PAGER="cat"))


def write_all(env):
    dump("definitions.json", {n: run_perf(b, "-D", d, env) for n, (b, d) in cases.DEFINITIONS.items()})
    dump("vars.json", {n: run_perf(b, "-V", p, env) for n, (b, p) in cases.VARS.items()})
    dump("vars_options.json", {n: run_perf(b, "-V", p, env, extra)
                               for n, (b, p, extra) in cases.VARS_OPTIONS.items()})
    dump("lines.json", {n: run_perf(b, "-L", d, env) for n, (b, d) in cases.LINES.items()})
    dump("inline.json", {k: run_addr2line(k, b) for k, b in cases.INLINE_BINARIES.items()})
    dump("funcs.json", {k: run_perf(b, "-F", "*", env) for k, b in cases.FUNCS.items()})
    versions = {"perf": subprocess.run(["perf", "version"], capture_output=True, text=True).stdout.strip(),
                "addr2line": subprocess.run(["addr2line", "--version"], capture_output=True,
                                            text=True).stdout.splitlines()[0]}
    dump("versions.json", versions)


if __name__ == "__main__":
    main()
