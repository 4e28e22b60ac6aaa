"""Inline frames of DWARF-unwound chains, as perf 6.1 prints them (``unwind_entry`` -> ``append_inlines``):
on the unwind goldens (tests/golden/unwind: real `perf record --call-graph dwarf`, `perf script` with and
without --no-inline), every sample whose unwound addresses equal perf's must print exactly perf's block,
inline frames included (`__libc_start_main_impl (inlined)`, C++ template names, alias names such as
`__GI___strdup (inlined)`). Frame-pointer chains get no inline frames in perf 6.1: the session goldens
(test_session_golden.py) hold that side."""
from __future__ import annotations

import os
import tarfile

import pytest

from pyperf_probe.session import Session
from session_script_format import script_lines

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "unwind")


RECORDED_AT = "/tmp/pyperf-golden-unwind"


@pytest.fixture(scope="module")
def buildid_cache(tmp_path_factory):
    """A build-id cache (perf's layout: .build-id/xx/rest -> <path>/<id>/elf) holding the goldens' workload
    binaries: the session finds them by the recorded build-ids, and libc and its debug file (as perf
    did when it made the goldens) on the system, which must be the recorded one."""
    from pyperf_probe.callchain.dwarf_unwind import find_image
    root = tmp_path_factory.mktemp("unwind")
    with tarfile.open(os.path.join(HERE, "symfs.tar.xz")) as tar:
        tar.extractall(root / "symfs")
    cache = root / "debug"
    with open(os.path.join(HERE, "binaries.txt")) as f:
        for line in f:
            path, build_id = line.split()
            if not path.startswith(RECORDED_AT):
                image = find_image(path, None)
                if image is None or image.build_id != build_id:
                    pytest.skip(f"{path} is not the file the goldens were recorded with")
                continue
            entry = cache / path.lstrip("/") / build_id
            entry.mkdir(parents=True)
            os.symlink(str(root / "symfs" / path.lstrip("/")), entry / "elf")
            link = cache / ".build-id" / build_id[:2]
            link.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(entry, link), link / build_id[2:])
    return str(cache)


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch, buildid_cache):
    """The workloads come from the build-id cache only: their recorded paths must not exist."""
    assert not os.path.exists(RECORDED_AT), f"{RECORDED_AT} exists: remove it (left by make_goldens.sh?)"
    monkeypatch.setenv("PERF_BUILDID_DIR", buildid_cache)
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))


def blocks(name: str, suffix: str):
    with open(os.path.join(HERE, "expected", f"{name}.{suffix}")) as f:
        return [b + "\n\n" for b in f.read().split("\n\n") if b.strip()]


def addresses(block: str):
    return [line.split()[0] for line in block.splitlines()[1:]]


@pytest.mark.parametrize("name", ["threads", "cxx", "make"])
def test_inline_frames_equal_perf_where_the_unwinding_agrees(name):
    from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder
    perf_inline, perf_plain = blocks(name, "script"), blocks(name, "noinline")
    path = os.path.join(HERE, "data", f"{name}.data")
    ours_inline = list(script_lines(Session(path, unwinder=DwarfUnwinder()).samples(), True, with_time=False))
    ours_plain = list(script_lines(Session(path, inline=False, unwinder=DwarfUnwinder()).samples(), True,
                                   with_time=False))
    assert len(ours_inline) == len(perf_inline) == len(perf_plain)
    compared = 0
    for ours_i, ours_p, perf_i, perf_p in zip(ours_inline, ours_plain, perf_inline, perf_plain):
        if ours_p == perf_p:
            compared += 1
            assert ours_i == perf_i
    assert compared >= 50  # perf stops early in many make/cc1 samples (tests/golden/unwind/README.md)
    assert any("(inlined)" in b for b in perf_inline)
