"""pyperf's disk caches cannot lie (pyperf_probe/cachefile.py): a damaged, truncated or half-written entry
of the resolved-symbol cache (session/resolved_cache.py) or of the CFI cache (callchain/cfi_table.py) is
detected and recomputed, never used; concurrent writers of one entry leave a whole entry.

Before the checksum, flipping bytes in resolved-v1 files made 2 of 40 warm reports print wrong names
(``const, Ënt>``) with exit 0. Here the cache files are the real ones a cold ``pyperf report`` writes for
the unwind goldens' C++ recording (tests/golden/unwind: symbols and inline names of uw_cxx and libc, their
CFI tables); the loaders are tested on every byte flipped and every truncation, and warm reports on damaged
caches must print perf 6.1's text (expected/cxx.report)."""
from __future__ import annotations

import itertools
import marshal
import multiprocessing
import os
import random
import shutil
import subprocess
import sys

import pytest

from pyperf_probe import cachefile
from pyperf_probe.callchain import cfi_table
from pyperf_probe.callchain.cfi_table import CfiTable
from pyperf_probe.session import resolved_cache
from pyperf_probe.session.resolved_cache import DsoCache, stored_entry

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unwind_compare import GOLDEN, RECORDED_AT, golden_symfs  # noqa: E402

DATA = os.path.join(GOLDEN, "data", "cxx.data")
with open(os.path.join(GOLDEN, "expected", "cxx.report")) as _f:
    PERF_TEXT = _f.read()


def report(symfs: str, cache: str, home: str) -> subprocess.CompletedProcess:
    """``pyperf report --stdio`` of the C++ recording, its random tip line left out."""
    env = dict(os.environ, PYPERF_CACHE_DIR=cache, PERF_BUILDID_DIR=os.path.join(home, ".debug"), HOME=home)
    proc = subprocess.run([sys.executable, "-m", "pyperf_probe", "report", "-i", DATA, "--symfs", symfs, "--stdio"],
                          capture_output=True, text=True, env=env)
    proc.stdout = "".join(line for line in proc.stdout.splitlines(True) if not line.startswith("# (Tip:"))
    return proc


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    """(symfs, a cache directory as a cold report left it)."""
    assert not os.path.exists(RECORDED_AT)
    root = tmp_path_factory.mktemp("integrity")
    symfs = golden_symfs(str(root / "symfs"))
    (root / "home").mkdir()
    proc = report(symfs, str(root / "cache"), str(root / "home"))
    assert proc.returncode == 0 and proc.stdout == PERF_TEXT
    return symfs, str(root / "cache")


@pytest.fixture
def cache(cold, tmp_path, monkeypatch):
    """A copy of the cold cache, which this process's loaders read (nothing kept in memory). This
    process takes the code signature the report wrote (the same code, unless a module of symbols/ was
    edited meanwhile: then every entry would be refused for that reason alone)."""
    copy = str(tmp_path / "cache")
    shutil.copytree(cold[1], copy)
    monkeypatch.setenv("PYPERF_CACHE_DIR", copy)
    monkeypatch.setattr(resolved_cache, "_LOADED", {})
    monkeypatch.setattr(resolved_cache, "_PENDING", {})
    monkeypatch.setattr(cfi_table, "_TABLES", {})
    blob = next(iter(entries(resolved_cache.cache_dir()).values()))
    monkeypatch.setattr(resolved_cache, "_code_signature", unsealed(blob)[0])
    return copy


def unsealed(blob: bytes):
    """The marshalled tuple of a whole, intact resolved-cache entry, else None."""
    payload = cachefile.unseal(b"PYPFRES\0", resolved_cache.FORMAT_VERSION, blob)
    return None if payload is None else marshal.loads(payload)


def entries(directory: str) -> dict[str, bytes]:
    out = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            out[name] = f.read()
    return out


def damaged_versions(blob: bytes):
    """Every byte flipped (one bit, all bits), then every truncation."""
    for i, mask in itertools.product(range(len(blob)), (0x01, 0xFF)):
        damaged = bytearray(blob)
        damaged[i] ^= mask
        yield bytes(damaged)
    for length in range(len(blob)):
        yield blob[:length]


# --- the loaders, on every damaged version of every real entry -------------------------------------------

def test_the_cold_report_wrote_entries_worth_damaging(cache):
    resolved = entries(resolved_cache.cache_dir())
    assert len(resolved) == 2 and all(stored_entry(blob) is not None for blob in resolved.values())
    inline_names = [names for blob in resolved.values() for names in stored_entry(blob)[3].values()]
    assert sum(len(names) > 1 for names in inline_names) > 10  # inline frames are in there
    assert len(entries(cfi_table.cache_dir())) == 2


def test_every_damaged_resolved_entry_is_not_used(cache):
    """``stored_entry`` (what ``DsoCache.load`` makes of a file's bytes) on every version; one in 97
    through the file and ``DsoCache.load`` itself."""
    directory = resolved_cache.cache_dir()
    for build_id, blob in entries(directory).items():
        path = os.path.join(directory, build_id)
        checked = 0
        for n, damaged in enumerate(damaged_versions(blob)):
            assert stored_entry(damaged) is None, f"{build_id}: damaged version {n} was used"
            if n % 97 == 0:
                with open(path, "wb") as f:
                    f.write(damaged)
                resolved_cache._LOADED.clear()
                assert DsoCache.load(build_id)._stored is None
            checked += 1
        assert checked == 3 * len(blob)


def test_every_damaged_cfi_entry_is_not_used(cache):
    """Every byte of the small table (uw_cxx's), a sample of libc's; all truncations of the small one."""
    for build_id, blob in entries(cfi_table.cache_dir()).items():
        assert CfiTable.from_bytes(blob) is not None
        if len(blob) > 10000:
            rng = random.Random(11)
            versions = [bytes(b ^ (0xFF if i == at else 0) for i, b in enumerate(blob))
                        for at in rng.sample(range(len(blob)), 40)] + [blob[:n] for n in (0, 23, 24, 9999)]
        else:
            versions = damaged_versions(blob)
        assert all(CfiTable.from_bytes(damaged) is None for damaged in versions), build_id


def test_an_entry_of_another_cache_or_version_is_not_used():
    payload = b"\x00" * 40
    assert cachefile.unseal(b"PYPFRES\0", 2, cachefile.seal(b"PYPFRES\0", 2, payload)) == payload
    assert cachefile.unseal(b"PYPFRES\0", 2, cachefile.seal(b"PYPFCFI\0", 2, payload)) is None
    assert cachefile.unseal(b"PYPFRES\0", 2, cachefile.seal(b"PYPFRES\0", 1, payload)) is None
    assert cachefile.unseal(b"PYPFRES\0", 2, cachefile.seal(b"PYPFRES\0", 2, payload) + b"\0") is None


# --- warm reports on damaged caches print perf's text ---------------------------------------------------

def _flip(blob: bytes, rng: random.Random, within: int = 0) -> bytes:
    """One bit flipped at a random position (within the first ``within`` bytes: the header)."""
    damaged = bytearray(blob)
    damaged[rng.randrange(within or len(blob))] ^= 1 << rng.randrange(8)
    return bytes(damaged)


DAMAGES = {
    "flip-a": _flip,
    "flip-b": _flip,
    "flip-c": _flip,
    "flip-in-header": lambda blob, rng: _flip(blob, rng, 24),
    "half-written": lambda blob, rng: blob[:len(blob) // 2],
    "empty": lambda blob, rng: b"",
    "payload-reversed": lambda blob, rng: blob[:24] + blob[24:][::-1],
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_warm_report_on_a_damaged_cache_prints_perfs_text(damage, cold, cache, tmp_path):
    rng = random.Random(damage)
    for directory in (resolved_cache.cache_dir(), cfi_table.cache_dir()):
        for name, blob in entries(directory).items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(DAMAGES[damage](blob, rng))
    proc = report(cold[0], cache, str(tmp_path))
    assert proc.returncode == 0 and proc.stdout == PERF_TEXT
    # and the damaged entries were rewritten whole
    assert all(unsealed(blob) is not None for blob in entries(resolved_cache.cache_dir()).values())
    assert all(CfiTable.from_bytes(blob) is not None for blob in entries(cfi_table.cache_dir()).values())


# --- concurrent writers -----------------------------------------------------------------------------------

def test_concurrent_cold_reports_leave_whole_entries(cold, tmp_path):
    cache, home = str(tmp_path / "cache"), str(tmp_path)
    env = dict(os.environ, PYPERF_CACHE_DIR=cache, PERF_BUILDID_DIR=os.path.join(home, ".debug"), HOME=home)
    argv = [sys.executable, "-m", "pyperf_probe", "report", "-i", DATA, "--symfs", cold[0], "--stdio"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
             for _ in range(4)]
    for proc in procs:
        out, _ = proc.communicate()
        assert proc.returncode == 0
        assert "".join(line for line in out.splitlines(True) if not line.startswith("# (Tip:")) == PERF_TEXT
    for kind in (f"resolved-v{resolved_cache.FORMAT_VERSION}", "cfi-v3"):
        assert all(not name.startswith(".") for name in os.listdir(os.path.join(cache, kind)))  # no temp file
    assert report(cold[0], cache, home).stdout == PERF_TEXT


def _writer(directory: str, index: int, rounds: int) -> None:
    payload = bytes([index]) * 200_000  # large enough for a reader to catch a write half done
    for _ in range(rounds):
        assert cachefile.write(directory, "entry", cachefile.seal(b"PYPFTEST", 1, payload))


def test_a_reader_sees_only_whole_entries_while_processes_write_the_same_one(tmp_path):
    directory = str(tmp_path)
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(directory, i, 150)) for i in range(1, 4)]
    for w in writers:
        w.start()
    reads = 0
    while True:
        running = any(w.is_alive() for w in writers)
        blob = cachefile.read(directory, "entry")
        if blob is not None:
            reads += 1
            payload = cachefile.unseal(b"PYPFTEST", 1, blob)
            assert payload is not None, "a reader saw a partly written entry"
            assert len(set(payload)) == 1 and payload[0] in (1, 2, 3)  # one writer's whole entry
        else:
            assert not reads  # once there, the entry never disappears
        if not running:
            break
    for w in writers:
        w.join()
        assert w.exitcode == 0
    assert reads and os.listdir(directory) == ["entry"]


def test_a_killed_writers_temporary_file_is_left_alone(tmp_path, monkeypatch):
    """A temporary name left by a killed process that had this pid is skipped, not reused."""
    monkeypatch.setattr(cachefile, "_serial", itertools.count())
    from _thread import get_ident
    stale = tmp_path / f".entry.{os.getpid()}.{get_ident()}.0.tmp"
    stale.write_bytes(b"half")
    assert cachefile.write(str(tmp_path), "entry", b"whole")
    assert (tmp_path / "entry").read_bytes() == b"whole" and stale.read_bytes() == b"half"
