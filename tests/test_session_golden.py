"""Session against real perf: every sample's thread, comm, time and resolved call chain, in perf's order,
equal to `perf script -F comm,pid,tid,time,ip,sym,dso` byte for byte (tests/golden/reader/make_goldens.sh
made the expected files with perf 6.1 from the files in tests/golden/reader/data).
No root needed: the recorded binaries, libc and libc's symbols come from the goldens' --symfs tarball."""
from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from pyperf_probe.perfdata.format import SampleType
from pyperf_probe.perfdata.reader import PerfDataFile
from pyperf_probe.session import Session
from session_script_format import script_lines

READER = Path(__file__).parent / "golden" / "reader"
RECORDED_AT = "/tmp/pyperf-golden-reader"  # make_goldens.sh's WORK: the recordings' paths point there
CASES = {p.stem: p for p in sorted((READER / "data").glob("*.data"))}


@pytest.fixture(scope="module")
def symfs(tmp_path_factory):
    root = tmp_path_factory.mktemp("symfs")
    with tarfile.open(READER / "symfs.tar.xz") as tar:
        tar.extractall(root)
    return str(root)


@pytest.fixture(autouse=True)
def no_buildid_cache(tmp_path, monkeypatch):
    """As when the goldens were made: HOME at an empty directory, so no ~/.debug build-id cache. The
    recorded paths must not exist (make_goldens.sh removes them): every file comes from the --symfs."""
    assert not Path(RECORDED_AT).exists(), f"{RECORDED_AT} exists: remove it (left by make_goldens.sh?)"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)


def _has_demangler() -> bool:
    try:
        from pyperf_probe.symbols import demangle  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_samples_equal_perf_script(name, symfs):
    if name == "rd_cxx" and not _has_demangler():
        pytest.skip("C++ names need symbols/demangle.py (helper probe-dwarf)")
    data = PerfDataFile.open(str(CASES[name]), force=True)
    has_chain = bool(data.attrs[0].attr.sample_type & SampleType.CALLCHAIN)
    session = Session(data, symfs=symfs)
    got = "".join(script_lines(session.samples(), has_chain))
    expected = (READER / "expected" / f"{name}.script").read_text()
    assert got == expected


def test_frames_are_interned_and_addresses_resolved_once(symfs):
    session = Session(PerfDataFile.open(str(CASES["rd_mt"]), force=True), symfs=symfs)
    samples = list(session.samples())
    chains = {}
    for s in samples:
        chains.setdefault(tuple(f.avma for f in s.chain), set()).add(s.chain)
    # the same addresses in the same process give the very same frame objects
    assert all(len({tuple(map(id, c)) for c in group}) == 1 for group in chains.values())
    assert len(session.frames) < 40 < len(samples)
    assert session.lost_samples == 0 and session.nr_lost_chunks == 0
    assert {s.thread.comm for s in samples} == {"rd_threads", "rd_worker0", "rd_worker1", "rd_worker2"}
