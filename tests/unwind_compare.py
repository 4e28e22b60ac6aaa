"""Comparing pyperf's DWARF-unwound chains with real perf's (tests/test_unwind_golden.py, test_unwind_live.py).

perf's side is ``perf script --no-inline -F comm,pid,tid,ip,sym,dso``: one line per real frame, the address
as perf prints it (``avma - map.start + map.pgoff``). A chain reaches the root when its outermost frame lies
in code whose CFI says the return address is undefined (``_start``, ``clone3``): pyperf's own CFI tables
answer that about perf's last frame, so the check does not depend on symbol names (``as`` and ``cc1`` are
stripped).
"""
import os
import re
import tarfile

import pytest

from pyperf_probe.callchain.cfa_program import RULE_UNDEFINED
from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder, dso_table, find_image
from pyperf_probe.callchain.unwind import STOP_ROOT
from pyperf_probe.session import Session

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "unwind")
RECORDED_AT = "/tmp/pyperf-golden-unwind"  # make_goldens.sh's WORK, removed when it ends


def golden_symfs(root: str) -> str:
    """What perf saw when it made the goldens of tests/golden/unwind, as one --symfs in ``root``: the
    workload binaries at their recorded paths (from symfs.tar.xz), and links to the system files (which
    must be the recorded ones, by build-id: else the test is skipped) and to their debug files in
    /usr/lib/debug/.build-id (libc6-dbg: libc's .symtab)."""
    with tarfile.open(os.path.join(GOLDEN, "symfs.tar.xz")) as tar:
        tar.extractall(root)
    with open(os.path.join(GOLDEN, "binaries.txt")) as f:
        for line in f:
            path, build_id = line.split()
            if path.startswith(RECORDED_AT):
                continue
            image = find_image(path, None)
            if image is None or image.build_id != build_id:
                pytest.skip(f"{path} is not the file the goldens were recorded with (build-id {build_id})")
            debug = f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug"
            for target in (path, debug):
                if os.path.exists(target):
                    link = os.path.join(root, target.lstrip("/"))
                    os.makedirs(os.path.dirname(link), exist_ok=True)
                    os.symlink(os.path.realpath(target), link)
    return root

_HEADER = re.compile(r"^(\S+)\s+(\d+)/(\d+)\s*$")
_FRAME = re.compile(r"^\s+([0-9a-f]+) (.*) \((.*)\)$")


def perf_chains(path):
    """[(comm, [(address, dso path)])] from real perf's ``script --no-inline -F comm,pid,tid,ip,sym,dso``
    output, in file order."""
    chains = []
    with open(path) as f:
        for line in f:
            header = _HEADER.match(line)
            if header:
                chains.append((header.group(1), []))
                continue
            frame = _FRAME.match(line)
            if frame:
                chains[-1][1].append((int(frame.group(1), 16), frame.group(3)))
    return chains


def pyperf_chains(data, symfs=None):
    """[(comm, [(address, dso path)], reached the root)] from pyperf's session and unwinder."""
    unwinder = DwarfUnwinder(symfs=symfs)
    session = Session(data, symfs=symfs, inline=False, unwinder=unwinder)
    out = []
    for sample in session.samples():
        frames = [(f.avma if f.file_offset is None else f.file_offset,
                   f.dso_obj.long_name if f.dso_obj is not None else "[unknown]") for f in sample.chain]
        out.append((sample.thread.comm, frames, unwinder.last_stop == STOP_ROOT))
    return out


def is_root_frame(address, dso_path, symfs=None):
    """Does perf's frame (file-offset address in ``dso_path``) lie in code whose return address is
    undefined by its CFI?"""
    image = find_image(dso_path, None, symfs)
    if image is None:
        return False
    svma = image.file_offset_to_svma(address)
    return svma is not None and dso_table(image, symfs).row_for(svma)[4] == RULE_UNDEFINED
