"""pyperf's DWARF unwinding against real perf 6.1 on files recorded by real `perf record --call-graph dwarf`
(tests/golden/unwind: see its README and make_goldens.sh).

For every sample, perf's chain is read from ``perf script --no-inline`` (one line per real frame, the
address as perf prints it: ``avma - map.start + map.pgoff``). A chain reaches the root when its outermost
frame lies in code whose CFI says the return address is undefined (``_start``, ``clone3``): the test asks
pyperf's own CFI tables that question about perf's last frame, so it does not depend on symbol names
(``as`` and ``cc1`` are stripped).

Acceptance (issue 6): every sample perf unwinds to the root, pyperf unwinds to the same chain; pyperf
reaches the root at least as often as perf, and for at least 95% of the samples of each file (of the cc1
samples in the make file).
"""
import os
import subprocess
import sys

import pytest

from pyperf_probe.session import resolved_cache

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unwind_compare import GOLDEN as HERE, RECORDED_AT, golden_symfs  # noqa: E402
from unwind_compare import is_root_frame, perf_chains, pyperf_chains  # noqa: E402


@pytest.fixture(scope="module")
def symfs(tmp_path_factory):
    return golden_symfs(str(tmp_path_factory.mktemp("symfs")))


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """No ~/.debug build-id cache, and a cold CFI cache: the tables are compiled by this test. The
    workloads' recorded paths must not exist (make_goldens.sh removes them): every file comes from the
    --symfs, or the test would pass only on the machine that made the goldens."""
    assert not os.path.exists(RECORDED_AT), f"{RECORDED_AT} exists: remove it (left by make_goldens.sh?)"
    monkeypatch.setenv("PERF_BUILDID_DIR", str(tmp_path / "debug"))
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("name,comm", [("threads", None), ("cxx", None), ("make", "cc1")])
def test_chains_equal_perf_where_perf_reaches_the_root(name, comm, symfs):
    perf = perf_chains(os.path.join(HERE, "expected", f"{name}.noinline"))
    ours = pyperf_chains(os.path.join(HERE, "data", f"{name}.data"), symfs)
    assert len(ours) == len(perf) > 50
    perf_roots = ours_roots = 0
    for (perf_comm, perf_frames), (our_comm, our_frames, our_root) in zip(perf, ours):
        assert perf_comm == our_comm
        ours_roots += our_root
        if perf_frames and is_root_frame(*perf_frames[-1], symfs):
            perf_roots += 1
            assert our_frames == perf_frames
            assert our_root
    assert ours_roots >= perf_roots
    selected = [o for o in ours if comm is None or o[0] == comm]
    reached = sum(o[2] for o in selected)
    assert reached >= 0.95 * len(selected), f"{reached} of {len(selected)} samples unwound to the root"


@pytest.fixture(scope="module")
def libc_symbols():
    """perf named libc's static functions (``__libc_start_call_main``) from libc6-dbg's .symtab."""
    with open(os.path.join(HERE, "binaries.txt")) as f:
        (bid,) = [line.split()[1] for line in f if "/libc.so.6 " in line]
    if not os.path.exists(f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"):
        pytest.skip("libc6-dbg is not installed: the text would name fewer libc functions than perf's")


def _blocks(text):
    return [b for b in text.split("\n\n") if b.strip()]


@pytest.mark.parametrize("variant", ["noinline", "script"])
@pytest.mark.parametrize("name", ["threads", "cxx", "make"])
def test_pyperf_script_text_equals_perf_where_perf_reaches_the_root(name, variant, symfs, libc_symbols):
    """``pyperf script`` against perf's text, without (``--no-inline``) and with inline frames
    (``__libc_start_main_impl (inlined)``): the whole output for the workloads (perf unwinds every sample
    of them), each rooted sample's block for the make file. Run twice: cold, then warm (symbols and inline
    names from the disk cache the first run wrote, session/resolved_cache.py), same text."""
    argv = [sys.executable, "-m", "pyperf_probe", "script", "-i", os.path.join(HERE, "data", f"{name}.data"),
            "--symfs", symfs, "-F", "comm,pid,tid,ip,sym,dso"] + (["--no-inline"] if variant == "noinline" else [])
    ours = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ), check=True).stdout
    assert os.listdir(resolved_cache.cache_dir())
    warm = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ), check=True).stdout
    assert warm == ours
    with open(os.path.join(HERE, "expected", f"{name}.{variant}")) as f:
        perf = f.read()
    if name != "make":
        assert ours == perf
        return
    expected = os.path.join(HERE, "expected", f"{name}.noinline")
    rooted = [i for i, (_, frames) in enumerate(perf_chains(expected)) if frames and is_root_frame(*frames[-1], symfs)]
    ours_blocks, perf_blocks = _blocks(ours), _blocks(perf)
    assert len(ours_blocks) == len(perf_blocks) and len(rooted) > 100
    assert [ours_blocks[i] for i in rooted] == [perf_blocks[i] for i in rooted]


@pytest.mark.parametrize("variant,args", [
    ("report", ["--stdio"]), ("flat", ["--stdio", "--no-children", "-g", "flat"]),
    ("dsosym", ["--stdio", "--sort", "dso,sym"]), ("dsosym_none", ["--stdio", "--sort", "dso,sym", "-g", "none"]),
    ("dsosym_flat", ["--stdio", "--sort", "dso,sym", "-g", "flat"]),
    ("dsosym_folded", ["--stdio", "--sort", "dso,sym", "-g", "folded"]),
    ("nochildren_none", ["--stdio", "--no-children", "--sort", "dso,sym", "-g", "none"])])
@pytest.mark.parametrize("name", ["threads", "cxx"])
def test_pyperf_report_equals_perf_report(name, variant, args, symfs, libc_symbols):
    """``pyperf report`` on the dwarf files perf unwinds completely: perf's text byte for byte (its random
    ``# (Tip: ...)`` line aside). The make file is left out: perf's report there is built from the chains
    it lost (README.md). Cold, then warm from the disk caches the first run wrote."""
    argv = [sys.executable, "-m", "pyperf_probe", "report", "-i", os.path.join(HERE, "data", f"{name}.data"),
            "--symfs", symfs] + args
    with open(os.path.join(HERE, "expected", f"{name}.{variant}")) as f:
        expected = f.read()
    for _run in ("cold", "warm"):
        ours = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ), check=True).stdout
        ours = "".join(line for line in ours.splitlines(True) if not line.startswith("# (Tip:"))
        assert ours == expected


def test_kept_chains_stay_bounded_and_give_the_same_frames(symfs, monkeypatch):
    """user_chain keeps the frames of unwound chains per process; past CHAIN_CACHE_LIMIT chains (or
    MEMO_PROCESSES processes) it drops them all and resolves again: the same frames, memory bounded. On the
    make file (a process per compiler step)."""
    import pyperf_probe.session as session_module
    from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder
    from pyperf_probe.session import Session
    path = os.path.join(HERE, "data", "make.data")

    def chains():
        session = Session(path, symfs=symfs, unwinder=DwarfUnwinder(symfs=symfs))
        out = [tuple((f.dso, f.sym, f.avma, f.inlined) for f in s.chain) for s in session.samples()]
        kept = sum(len(memo[3]) for memo in session._avma_memos.values())
        return out, kept, session._unwound_chains
    plenty, _, _ = chains()
    monkeypatch.setattr(session_module, "CHAIN_CACHE_LIMIT", 3)
    monkeypatch.setattr(session_module, "MEMO_PROCESSES", 2)
    bounded, kept, counted = chains()
    assert bounded == plenty and len(set(plenty)) > 3
    assert kept <= 3 and counted <= 3


@pytest.mark.parametrize("name", ["make", "threads", "cxx"])
def test_unwinder_shortcut_is_the_full_call(name, symfs):
    """DwarfUnwinder.__call__'s shortcut (the process, generation and register mask of the last sample it
    unwound in C) gives what its full path gives, sample after sample, on recordings of many processes (the
    make file: a process per compiler step, mmaps between samples) and threads; the shortcut is taken."""
    import pyperf_probe.callchain.dwarf_unwind as dwarf_unwind
    from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder
    from pyperf_probe.session import Session
    if dwarf_unwind._unwind_sample is None:
        pytest.skip("the C accelerator is not built")
    hook, full = DwarfUnwinder(symfs=symfs), DwarfUnwinder(symfs=symfs)
    shortcuts = 0

    def both(sample, maps):
        nonlocal shortcuts
        before = hook._fast
        got = hook(sample, maps)
        shortcuts += before[0] is maps and hook._fast is before
        assert got == full._call(sample, sample.regs_user, maps) and hook.last_stop == full.last_stop
        return got
    session = Session(os.path.join(HERE, "data", f"{name}.data"), symfs=symfs, unwinder=both)
    samples = sum(1 for _ in session.samples())
    assert samples > 50 and shortcuts > samples // 2


@pytest.mark.parametrize("name", ["threads", "cxx", "make"])
def test_no_children_g_none_unwinds_nothing(name, symfs, libc_symbols, monkeypatch, capsys, utc):
    """``--no-children -g none`` uses no chain, so perf does not unwind (sample__resolve_callchain runs for
    use_callchain, which -g none clears, or cumulate_callchain): pyperf makes no DWARF unwinder then (an
    unwinder that fails if built or called) and prints perf's text, make.data's too (whose chains perf
    partly loses: its entries do not depend on them)."""
    from pyperf_probe import cli
    from pyperf_probe.callchain import dwarf_unwind

    class NoUnwinder:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a DWARF unwinder was made for a report that uses no chain")

    monkeypatch.setattr(dwarf_unwind, "DwarfUnwinder", NoUnwinder)
    rc = cli.main(["report", "-i", os.path.join(HERE, "data", f"{name}.data"), "--symfs", symfs, "--stdio",
                   "--no-children", "--sort", "dso,sym", "-g", "none"])
    out, _err = capsys.readouterr()
    assert rc == 0
    with open(os.path.join(HERE, "expected", f"{name}.nochildren_none")) as f:
        assert "".join(line for line in out.splitlines(True) if not line.startswith("# (Tip:")) == f.read()
