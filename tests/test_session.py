"""Session on hand-made records (tests/perfdata_build.py): threads and comm at sample time, maps through
fork/exec/mmap as perf's machine.c keeps them, call-chain context markers, unresolved frames, lost counts,
and where symbols come from (path, --symfs, build-id cache with build-ids checked, [vdso] only from the
cache). The bundled workload rd_threads (make workloads) is the ELF file that gets mapped."""
from __future__ import annotations

import os
import shutil
from functools import partial
from pathlib import Path

import pytest

import perfdata_build as pb
from pyperf_probe.perfdata.format import MISC_USER, PERF_CONTEXT_GUEST, PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER
from pyperf_probe.perfdata.reader import PerfDataFile
from pyperf_probe.session import Session
from pyperf_probe.session.maps import Map, Maps
from pyperf_probe.symbols.elf import open_elf
from pyperf_probe.symbols.symtab import load_symtab

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = ROOT / "build" / "workloads" / "rd_threads"
BASE = 0x555500000000


@pytest.fixture(autouse=True)
def no_buildid_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PERF_BUILDID_DIR", str(tmp_path / "empty-cache"))


@pytest.fixture(scope="module")
def binary():
    if not WORKLOAD.exists():
        pytest.skip("build/workloads/rd_threads missing: run `make workloads`")
    return str(WORKLOAD)


def file_offset_of(path: str, name: str) -> int:
    (sym,) = load_symtab(path).by_name(name)
    return open_elf(path).svma_to_file_offset(sym.svma)


def session(tmp_path, records, attr=None, **kw) -> Session:
    attrs = ((attr or pb.sw_attr(pb.CC_SAMPLE_TYPE), (7,)),)
    path = tmp_path / "s.data"
    path.write_bytes(pb.perf_data(records, attrs))
    return Session(PerfDataFile.open(str(path)), **kw)


# --- maps ---------------------------------------------------------------------------------------------


def test_maps_insert_trims_and_splits_overlapped_maps():
    maps = Maps()
    maps.insert(Map(0x1000, 0x5000, 0x0, "a"))
    maps.insert(Map(0x2000, 0x3000, 0x100, "b"))  # in the middle: a is split, its tail keeps its pgoff
    assert [(m.start, m.end, m.pgoff, m.dso) for m in maps] == [
        (0x1000, 0x2000, 0x0, "a"), (0x2000, 0x3000, 0x100, "b"), (0x3000, 0x5000, 0x2000, "a")]
    maps.insert(Map(0x0, 0x2800, 0x0, "c"))  # covers a's head and b's first half
    assert [(m.start, m.end, m.dso) for m in maps] == [
        (0x0, 0x2800, "c"), (0x2800, 0x3000, "b"), (0x3000, 0x5000, "a")]
    assert maps.find(0x2800).pgoff == 0x100 + 0x800 and maps.find(0x5000) is None
    copy = maps.copy()
    copy.insert(Map(0x3000, 0x5000, 0, "d"))
    assert maps.find(0x3000).dso == "a" and copy.find(0x3000).dso == "d"


def test_maps_insert_fast_path_equals_the_general_path():
    """``insert``'s one-bisect path for a map that overlaps none gives the list the general path
    (``_insert_overlapping``) gives, on random maps that touch, nest, overlap or stay apart; and it is
    taken (a wrong slot or an overlap taken for none fails the comparison)."""
    import random
    rng = random.Random(16)
    fast_taken = 0
    for _ in range(300):
        fast, exact = Maps(), Maps()
        for n in range(rng.randrange(1, 25)):
            start = rng.randrange(0, 64) * 0x100
            new = Map(start, start + rng.randrange(0, 12) * 0x100, rng.randrange(0, 8) * 0x1000, f"d{n}")
            before = len(fast)
            generation = fast.generation
            fast.insert(new)
            exact._insert_overlapping(new)
            fast_taken += len(fast) == before + 1 and fast.generation == generation + 1
            assert [(m.start, m.end, m.pgoff, m.dso) for m in fast] == \
                [(m.start, m.end, m.pgoff, m.dso) for m in exact]
            assert fast._starts == [m.start for m in fast] == exact._starts
    assert fast_taken > 500


def test_mmap_identity_test_is_perfs_anon_or_no_dso():
    """process_mmap's one test of a map's identity (anonymous or no-dso memory) is perf's is_anon_memory
    or is_no_dso_memory (machine._is_anon, machine._is_no_dso) on every kind of name."""
    from pyperf_probe.perfdata.records import Mmap2Record
    from pyperf_probe.session import machine
    from pyperf_probe.session.kernel import KernelDsos
    names = ["//anon", "//anonx", "/anon", "/dev/zero", "/dev/zero (deleted)", "/dev/zer", "/anon_hugepage",
             "/anon_hugepage (deleted)", "[stack]", "[stack:123]", "[stac", "/SYSV00000000 (deleted)", "/SYSV",
             "[heap]", "[heap] ", "[vdso]", "/usr/lib/libc.so.6", "", "anon", "[kernel.kallsyms]"]
    for name in names:
        want = machine._is_anon(name) or machine._is_no_dso(name)
        got = name in machine._IDENTITY_NAMES or name.startswith(machine._IDENTITY_PREFIXES)
        assert got == want, name
        m = machine.Machine(KernelDsos({}, None))
        m.process_mmap(Mmap2Record(7, 7, 0x1000, 0x1000, 0, 0, 0, 0, 0, 1, 2, name, 2, None))  # (PROT_READ)
        assert m.threads[7].maps.find(0x1000).identity == want, name
    assert sum(machine._is_anon(n) or machine._is_no_dso(n) for n in names) == 10


# --- threads and comm ---------------------------------------------------------------------------------


def test_comm_at_sample_time_and_fork(tmp_path, binary):
    leaf = file_offset_of(binary, "rd_leaf")
    ip = BASE + leaf
    recs = [pb.comm(10, 10, "perf-exec", 0), pb.sample_cc(ip, 10, 10, 5, [PERF_CONTEXT_USER, ip]),
            pb.comm(10, 10, "prog", 10, exec_=True), pb.mmap2(10, BASE, 0x10000, 0, binary, 11),
            pb.sample_cc(ip, 10, 10, 15, [ip]),
            pb.fork(10, 10, 11, 10, 20),  # a thread: shares the maps, inherits the comm
            pb.sample_cc(ip, 10, 11, 21, [ip]),
            pb.comm(10, 11, "worker", 22), pb.sample_cc(ip, 10, 11, 23, [ip]),
            pb.sample_cc(ip, 42, 42, 24, [ip])]  # never named: ":tid", no maps
    s = session(tmp_path, recs)
    got = [(r.thread.comm, r.thread.tid, r.location.sym, r.chain[0].sym) for r in s.samples()]
    assert got == [("perf-exec", 10, None, None), ("prog", 10, "rd_leaf", "rd_leaf"),
                   ("prog", 11, "rd_leaf", "rd_leaf"), ("worker", 11, "rd_leaf", "rd_leaf"),
                   (":42", 42, None, None)]


def test_fork_of_a_process_copies_the_maps(tmp_path, binary):
    leaf = file_offset_of(binary, "rd_leaf")
    recs = [pb.comm(10, 10, "parent", 1, exec_=True), pb.mmap2(10, BASE, 0x10000, 0, binary, 2),
            pb.fork(20, 10, 20, 10, 3),
            pb.mmap2(20, BASE, 0x10000, 0, "//anon", 4),  # the child maps over it; the parent keeps its map
            pb.sample_cc(BASE + leaf, 10, 10, 5, [BASE + leaf]),
            pb.sample_cc(BASE + leaf, 20, 20, 6, [BASE + leaf])]
    s = session(tmp_path, recs)
    a, b = list(s.samples())
    assert (a.thread.comm, a.location.dso, a.location.sym) == ("parent", "rd_threads", "rd_leaf")
    # executable anonymous memory: JIT code, named after the JIT's symbol file, addresses as they are
    assert (b.thread.comm, b.location.dso, b.location.sym) == ("parent", "[JIT] tid 20", None)
    assert b.location.file_offset == BASE + leaf


def test_exec_mmap_replaces_what_it_overlaps(tmp_path, binary):
    leaf = file_offset_of(binary, "rd_leaf")
    recs = [pb.comm(10, 10, "sh", 1, exec_=True), pb.mmap2(10, BASE, 0x10000, 0, "/bin/sh-like", 2),
            pb.mmap2(10, BASE + 0x100000, 0x1000, 0, "/lib/other.so", 3),
            pb.comm(10, 10, "prog", 4, exec_=True), pb.mmap2(10, BASE, 0x10000, 0, binary, 5),
            pb.sample_cc(BASE + leaf, 10, 10, 6, [BASE + leaf, BASE + 0x100010])]
    (r,) = session(tmp_path, recs).samples()
    assert [(f.dso, f.sym) for f in r.chain] == [("rd_threads", "rd_leaf"), ("other.so", None)]


# --- call chains --------------------------------------------------------------------------------------


def test_context_markers_and_unknown_frames(tmp_path, binary, monkeypatch):
    monkeypatch.setenv("PYPERF_HOST_ROOT", str(tmp_path / "no-host"))  # no /proc/kallsyms: no kernel symbols
    leaf = file_offset_of(binary, "rd_leaf")
    kaddr = 0xFFFFFFFF81000100
    recs = [pb.kernel_mmap(0xFFFFFFFF81000000, 0x1000000), pb.mmap2(10, BASE, 0x10000, 0, binary, 1),
            pb.sample_cc(BASE + leaf, 10, 10, 2, [PERF_CONTEXT_KERNEL, kaddr, PERF_CONTEXT_USER, BASE + leaf,
                                                  0x1234, 0]),
            pb.sample_cc(BASE + leaf, 10, 10, 3, [PERF_CONTEXT_USER, BASE + leaf, PERF_CONTEXT_GUEST, 0x99])]
    a, b = session(tmp_path, recs).samples()
    assert [(f.dso, f.sym, f.avma) for f in a.chain] == [
        ("[kernel.kallsyms]", None, kaddr), ("rd_threads", "rd_leaf", BASE + leaf),
        ("[unknown]", None, 0x1234), ("[unknown]", None, 0)]
    assert b.chain == ()  # perf discards a chain with an unknown context marker
    assert a.location is a.chain[1]
    assert a.chain[0].dso_obj.long_name == "[kernel.kallsyms]"


def test_max_stack_and_interning(tmp_path, binary):
    leaf = file_offset_of(binary, "rd_leaf")
    chain = [BASE + leaf] * 5
    recs = [pb.mmap2(10, BASE, 0x10000, 0, binary, 1)] + [pb.sample_cc(BASE + leaf, 10, 10, t, chain)
                                                          for t in range(2, 6)]
    got = list(session(tmp_path, recs, max_stack=3).samples())
    assert all(len(r.chain) == 3 for r in got)
    assert len({id(f) for r in got for f in r.chain}) == 1


def test_lost_counts(tmp_path):
    recs = [pb.lost(39, 1), pb.lost_samples(39, 1), pb.lost(2, 2), pb.lost_samples(3, 3),
            pb.sample_cc(0x10, 1, 1, 4, [0x10])]
    s = session(tmp_path, recs)
    assert len(list(s.samples())) == 1
    assert (s.lost_samples, s.total_lost, s.nr_lost_chunks, s.nr_samples) == (42, 41, 2, 1)


# --- where symbols come from --------------------------------------------------------------------------


def test_symfs_and_buildid_cache_with_build_ids_checked(tmp_path, binary, monkeypatch):
    leaf = file_offset_of(binary, "rd_leaf")
    bid = open_elf(binary).build_id
    recorded = "/nonexistent/pyperf-test/rd_threads"
    recs = [pb.mmap2(10, BASE, 0x10000, 0, recorded, 1), pb.sample_cc(BASE + leaf, 10, 10, 2, [BASE + leaf])]
    feats = {}

    def resolve(**kw):
        path = tmp_path / "b.data"
        path.write_bytes(pb.perf_data(recs, ((pb.sw_attr(pb.CC_SAMPLE_TYPE), (7,)),), features=feats))
        (r,) = Session(PerfDataFile.open(str(path)), **kw).samples()
        return r.location.sym

    assert resolve() is None  # nothing at the recorded path
    symfs = tmp_path / "symfs"
    (symfs / recorded.lstrip("/")).parent.mkdir(parents=True)
    shutil.copy(binary, symfs / recorded.lstrip("/"))
    assert resolve(symfs=str(symfs)) == "rd_leaf"
    # a BUILD_ID feature naming another build-id: the file at the path is not the recorded one
    feats[2] = build_id_feature(recorded, bytes(20))
    assert resolve(symfs=str(symfs)) is None
    # the build-id cache holds the recorded one
    feats[2] = build_id_feature(recorded, bytes.fromhex(bid))
    cache = tmp_path / "cache"
    entry = cache / recorded.lstrip("/") / bid
    entry.mkdir(parents=True)
    shutil.copy(binary, entry / "elf")
    (cache / ".build-id" / bid[:2]).mkdir(parents=True)
    os.symlink(os.path.relpath(entry, cache / ".build-id" / bid[:2]), cache / ".build-id" / bid[:2] / bid[2:])
    monkeypatch.setenv("PERF_BUILDID_DIR", str(cache))
    assert resolve() == "rd_leaf"
    # the path-based layout alone (<cache>/<path>/<build-id>/elf) is enough
    os.unlink(cache / ".build-id" / bid[:2] / bid[2:])
    assert resolve() == "rd_leaf"
    shutil.rmtree(cache / recorded.lstrip("/"))
    assert resolve() is None


def build_id_feature(filename: str, build_id: bytes) -> bytes:
    """One HEADER_BUILD_ID record: header (type 0, misc USER|BUILD_ID_SIZE), pid -1, build_id[20], size,
    filename padded to 64."""
    import struct
    name = filename.encode() + b"\0"
    name += b"\0" * (-len(name) % 64)
    return struct.pack("<IHHi20sB3x", 0, 0x8002, 36 + len(name), -1, build_id.ljust(20, b"\0"), len(build_id)) + name


def live_vdso() -> bytes:
    with open("/proc/self/maps") as f:
        line = next(line for line in f if line.rstrip().endswith("[vdso]"))
    start, end = (int(x, 16) for x in line.split()[0].split("-"))
    with open("/proc/self/mem", "rb") as mem:
        mem.seek(start)
        return mem.read(end - start)


def test_vdso_only_through_the_buildid_cache(tmp_path, monkeypatch):
    image = tmp_path / "vdso.so"
    image.write_bytes(live_vdso())
    bid = open_elf(str(image)).build_id
    syms = [s for s in load_symtab(str(image)).functions() if s.size]
    sym = syms[0]
    offset = open_elf(str(image)).svma_to_file_offset(sym.svma)
    vbase = 0x7FFF00000000
    recs = [pb.mmap2(10, vbase, len(image.read_bytes()), 0, "[vdso]", 1),
            pb.sample_cc(vbase + offset, 10, 10, 2, [vbase + offset])]
    feats = {2: build_id_feature("[vdso]", bytes.fromhex(bid))}
    path = tmp_path / "v.data"
    path.write_bytes(pb.perf_data(recs, ((pb.sw_attr(pb.CC_SAMPLE_TYPE), (7,)),), features=feats))
    (r,) = Session(PerfDataFile.open(str(path))).samples()
    assert (r.location.dso, r.location.sym) == ("[vdso]", None)  # never the live vdso: raw address
    cache = tmp_path / "cache"
    entry = cache / "[vdso]" / bid
    entry.mkdir(parents=True)
    shutil.copy(image, entry / "vdso")
    (cache / ".build-id" / bid[:2]).mkdir(parents=True)
    os.symlink(f"../../[vdso]/{bid}", cache / ".build-id" / bid[:2] / bid[2:])
    monkeypatch.setenv("PERF_BUILDID_DIR", str(cache))
    (r,) = Session(PerfDataFile.open(str(path))).samples()
    assert (r.location.dso, r.location.sym) == ("[vdso]", load_symtab(str(image)).lookup(sym.svma).name)


def test_a_known_tid_keeps_its_thread_whatever_pid_a_sample_says(tmp_path):
    """machine__findnew_thread finds by tid; only an unknown (-1) pid is updated."""
    recs = [pb.comm(10, 11, "worker", 1), pb.sample_cc(0x10, 99, 11, 2, [0x10]),
            pb.comm(0xFFFFFFFF, 12, "nopid", 3), pb.sample_cc(0x10, 10, 12, 4, [0x10])]  # pid -1
    got = [tuple(r.thread) for r in session(tmp_path, recs).samples()]
    assert got == [(10, 11, "worker"), (10, 12, "nopid")]


def jit_file(tmp_path, pid: int) -> str:
    base = 0x7F0000000000
    recs = [pb.comm(pid, pid, "jitter", 0), pb.mmap2(pid, base, 0x10000, 0, "//anon", 1, prot=7),
            pb.mmap2(pid, base + 0x20000, 0x1000, 0, "//anon", 2, prot=3),
            pb.mmap2(pid, base + 0x30000, 0x1000, 0x5000, "[heap]", 3, prot=3)]
    recs += [pb.sample_cc(base + off, pid, pid, 10 + i, [PERF_CONTEXT_USER, base + off])
             for i, off in enumerate([0x110, 0x205, 0x300, 0x20010, 0x30010])]
    path = tmp_path / "jit.data"
    path.write_bytes(pb.perf_data(recs, ((pb.sw_attr(pb.CC_SAMPLE_TYPE), (7,)),)))
    return str(path)


@pytest.fixture
def perf_map():
    """A JIT symbol file at the path perf reads (/tmp/perf-PID.map), for a pid no process here has."""
    pid = 3990000 + os.getpid() % 9999
    path = f"/tmp/perf-{pid}.map"
    with open(path, "w") as f:
        f.write(f"{0x7F0000000100:x} 40 jit_alpha\n{0x7F0000000200:x} 20 _ZN5alpha4betaEv\n")
    try:
        yield pid
    finally:
        os.unlink(path)


JIT_EXPECTED = [
    "7f0000000110 jit_alpha (/tmp/perf-{pid}.map)",
    "7f0000000205 _ZN5alpha4betaEv (/tmp/perf-{pid}.map)",  # JIT names are shown as written
    "7f0000000300 [unknown] (/tmp/perf-{pid}.map)",
    "7f0000020010 [unknown] (//anon)",  # anonymous memory maps addresses to themselves
    "7f0000030010 [unknown] ([heap])",
]


def test_anonymous_and_jit_maps(tmp_path, perf_map):
    s = Session(PerfDataFile.open(jit_file(tmp_path, perf_map)))
    got = [f"{f.file_offset:x} {f.sym or '[unknown]'} ({f.dso_obj.long_name})"
           for r in s.samples() for f in r.chain]
    assert got == [line.format(pid=perf_map) for line in JIT_EXPECTED]
    assert {d.short_name for d in s.machine.dsos} >= {f"[JIT] tid {perf_map}", "//anon", "[heap]"}


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(shutil.which("perf") or "/usr/bin/perf"), reason="needs real perf")
def test_anonymous_and_jit_maps_as_perf(tmp_path, perf_map):
    import subprocess
    out = subprocess.run(["perf", "script", "-f", "-i", jit_file(tmp_path, perf_map), "-F", "ip,sym,dso"],
                         capture_output=True, text=True, check=True).stdout
    assert [line.strip() for line in out.splitlines() if line.strip()] == \
        [line.format(pid=perf_map) for line in JIT_EXPECTED]


@pytest.mark.parametrize("caller_order", [False, True])
@pytest.mark.parametrize("max_stack", [2, 127])
def test_user_only_chain_one_pass_equals_generic_walk(tmp_path, binary, caller_order, max_stack):
    """A chain of user addresses only (with or without its leading PERF_CONTEXT_USER) takes the one-pass
    memo look-up: the same frames, and its misses looked up in the generic walk's order (leaf first, or
    root first in caller order), each address once, as ``_chain_frames`` over the marker-parsed entries."""
    leaf = file_offset_of(binary, "rd_leaf")
    addrs = (BASE + leaf, 0x1234, BASE + leaf + 1, 0x1234, 0x777, BASE + leaf)
    recs = [pb.mmap2(10, BASE, 0x10000, 0, binary, 1), pb.sample_cc(BASE + leaf, 10, 10, 2, [])]
    results = []
    for chain, generic in (((PERF_CONTEXT_USER,) + addrs, False), (addrs, False), (addrs, True)):
        s = session(tmp_path, recs, max_stack=max_stack)
        s.caller_order = caller_order
        (r,) = s.samples()
        s.drop_chain_memos()  # (the sample's location is in the memo: the chain's look-ups from none)
        thread = s.machine.threads[10]
        looked: list = []
        real = s.frames.frames

        def spy(m, avma, *a, real=real, looked=looked):
            looked.append(avma)
            return real(m, avma, *a)

        s.frames.frames = spy
        s.frames.frame = partial(spy, real=s.frames.__class__.frame.__get__(s.frames))  # (a user address's)
        if generic:
            entries = [(a, MISC_USER) for a in addrs]
            if caller_order:
                frames = s._chain_frames(thread, reversed(entries[-max_stack:]))
                frames.reverse()
            else:
                frames = s._chain_frames(thread, entries[:max_stack])
            got = tuple(frames)
        else:
            got = s._callchain(thread, chain)
        results.append(([(f.dso, f.sym, f.avma) for f in got], looked))
    kept = addrs[-max_stack:] if caller_order else addrs[:max_stack]
    assert [f[2] for f in results[0][0]] == list(kept)
    assert results[0] == results[1] == results[2]
    assert results[2][1] == list(dict.fromkeys(reversed(kept) if caller_order else kept))


def test_sample_groups_drops_chain_memos_and_resolution_stays(tmp_path, binary):
    """Once sample_groups has read the samples the chain memos go (they would only hold their keys through
    the report's peak); a chain resolved after that gets the same frames, made again by the frame table."""
    leaf = file_offset_of(binary, "rd_leaf")
    chain = [PERF_CONTEXT_USER, BASE + leaf, 0x1234, BASE + leaf + 1]
    recs = [pb.mmap2(10, BASE, 0x10000, 0, binary, 1), pb.sample_cc(BASE + leaf, 10, 10, 2, chain),
            pb.sample_cc(BASE + leaf, 10, 10, 3, chain)]
    s = session(tmp_path, recs)
    (groups,) = s.sample_groups()
    assert sum(count for _, count in groups.values()) == 2
    (grouped,) = [group[2] for group in groups]
    assert s._chains == {} and s._fp_memos == {} and s._kernel_memo[1] == {}
    again = s._callchain(s.machine.threads[10], tuple(chain))
    assert [(f.dso, f.sym, f.avma) for f in again] == [(f.dso, f.sym, f.avma) for f in grouped] == [
        ("rd_threads", "rd_leaf", BASE + leaf), ("[unknown]", None, 0x1234),
        ("rd_threads", "rd_leaf", BASE + leaf + 1)]
    assert s._chains  # made again
