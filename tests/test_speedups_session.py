"""_speedups_session.c against its Python twin (session/fixed_keys.py), and the session's per-key path for
keys with call chains (``FixedKeys.resolve_chained``) against the generic one (decode, ``Session.resolve``)
on the golden files with chains, in both lookup orders and with a short --max-stack."""
from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from conftest import need_speedups
from pyperf_probe.perfdata.format import PERF_CONTEXT_KERNEL, PERF_CONTEXT_MAX, PERF_CONTEXT_USER
from pyperf_probe.session import Session, fixed_keys
from test_session_counts import _plain

DATA = Path(__file__).parent / "golden" / "report" / "data"
CHAINED = [DATA / name for name in ("make.data", "mt.data", "cxx.data", "py.data", "ret.data")]
MARKERS = [PERF_CONTEXT_USER, PERF_CONTEXT_KERNEL, PERF_CONTEXT_MAX, (1 << 64) - 1]


def _random_key(rng: random.Random, pool: list[int]) -> tuple[bytes, int]:
    """(key, where its chain starts): a few head bytes, a chain of pool addresses (now and then a marker:
    leading PERF_CONTEXT_USER mostly), some tail bytes, and now and then a chain that overruns the key."""
    head = bytes(rng.randrange(256) for _ in range(rng.choice((0, 4, 12))))
    entries = [rng.choice(pool) for _ in range(rng.randrange(0, 12))]
    if entries and rng.random() < 0.4:
        entries[0] = PERF_CONTEXT_USER
    if entries and rng.random() < 0.15:
        entries[rng.randrange(len(entries))] = rng.choice(MARKERS)
    nr = len(entries)
    if rng.random() < 0.1:
        nr += rng.randrange(1, 4)
    key = head + struct.pack(f"<Q{len(entries)}Q", nr, *entries) + bytes(rng.randrange(0, 9))
    if rng.random() < 0.05:
        key = key[:rng.randrange(len(key) + 1)]
    return key, len(head)


def test_user_chain_equals_its_python_twin():
    need_speedups()
    from pyperf_probe.perfdata.speedups import speedups
    rng = random.Random(16)
    shapes = {"tuple": 0, "list": 0, "None": 0}
    for _ in range(4000):
        pool = [rng.randrange(1 << 47) for _ in range(rng.randrange(1, 9))] + [rng.randrange(1 << 64)]
        memo = {avma: object() for avma in pool if rng.random() < 0.7}
        key, at = _random_key(rng, pool)
        if rng.random() < 0.05:
            at = rng.choice((-1, len(key), len(key) - 7))
        max_stack = rng.choice((0, 1, 2, 3, 127))
        caller_order = rng.random() < 0.5
        want = fixed_keys._user_chain(key, at, memo, max_stack, caller_order)
        got = speedups.user_chain(key, at, memo, max_stack, caller_order)
        assert type(got) is type(want)
        if want is not None:
            assert len(got) == len(want) and all(a is b or (type(a) is int and a == b) for a, b in zip(got, want))
        shapes[type(want).__name__ if want is not None else "None"] += 1
    assert min(shapes.values()) > 200, shapes


def _groups(path: Path, caller_order: bool, max_stack: int, fast: bool, monkeypatch):
    session = Session(str(path), force=True, max_stack=max_stack)
    session.caller_order = caller_order
    if not fast:
        monkeypatch.setattr(fixed_keys.FixedKeys, "chained", classmethod(lambda cls, session, layout: None))
    hits = []
    real = fixed_keys.FixedKeys.resolve_chained
    monkeypatch.setattr(fixed_keys.FixedKeys, "resolve_chained",
                        lambda self, key: hits.append(1) or real(self, key))
    looked: list = []  # every address the frame table made a frame for, in order (the look-ups' order)
    real_frames = session.frames.frames
    session.frames.frames = lambda m, avma, *a: looked.append(avma) or real_frames(m, avma, *a)
    real_frame = session.frames.frame
    session.frames.frame = lambda m, avma: looked.append(avma) or real_frame(m, avma)
    order: list = []
    groups = session.sample_groups(order=order)
    monkeypatch.undo()
    plain_order = [(groups.index(bucket), group[0].tid, group[2] and group[2][0].avma, period)
                   for bucket, group, period in order]
    return _plain(groups), plain_order, session.nr_samples, looked, len(hits)


@pytest.mark.parametrize("path", CHAINED, ids=lambda p: p.name)
@pytest.mark.parametrize("caller_order,max_stack", [(False, 127), (True, 127), (False, 2), (True, 3)])
def test_chained_keys_resolve_as_the_generic_path(path, caller_order, max_stack, monkeypatch, speedups_or_not):
    fast = _groups(path, caller_order, max_stack, True, monkeypatch)
    if speedups_or_not == "python":
        monkeypatch.setattr(fixed_keys, "user_chain", fixed_keys._user_chain)
    generic = _groups(path, caller_order, max_stack, False, monkeypatch)
    assert fast[:4] == generic[:4]
    assert generic[4] == 0
    if path.name in ("make.data", "mt.data"):  # (user-only chains: the fast path takes their keys)
        assert fast[4] > 0


def _random_table(rng: random.Random, n: int):
    """Columns of a symbol table in table order: starts with repeats (aliases), zero sizes, now and then
    values near the top of the u64 range (ends that overflow it), sorted or not."""
    top = rng.random() < 0.15
    base = (1 << 64) - (1 << 14) if top else rng.randrange(1 << 40)
    svmas = [base + rng.randrange(0, 1 << 13) for _ in range(n)]
    if rng.random() < 0.3:
        svmas.sort()
    for _ in range(rng.randrange(n // 4 + 1)):  # aliases
        svmas[rng.randrange(n)] = svmas[rng.randrange(n)]
    sizes = [rng.choice((0, 0, 1, 8, 64, 4096, rng.randrange(1 << 16))) for _ in range(n)]
    types = [rng.randrange(16) for _ in range(n)]
    bindings = [rng.randrange(3) for _ in range(n)]
    names = [f"s{i}" for i in range(n)]
    return names, svmas, sizes, types, bindings


def test_symtab_sort_equals_its_python_twin():
    need_speedups()
    from pyperf_probe.symbols import symtab
    rng = random.Random(4096)
    shapes = {"sorted": 0, "reordered": 0, "python": 0}
    for _ in range(1500):
        columns = _random_table(rng, rng.randrange(2, 60))
        want = symtab._py_sorted_columns(*columns)
        got = symtab._sorted_columns(*columns)
        assert [list(c) for c in got] == [list(c) for c in want]
        assert [type(c) for c in got[1:]] == [type(c) for c in want[1:]]
        raw = symtab._c_symtab_sort()(columns[1], columns[2], bytes(columns[3]), bytes(columns[4]), symtab.PAGE_SIZE)
        shapes["python" if raw is None else "sorted" if raw[0] is None else "reordered"] += 1
    assert min(shapes.values()) > 50, shapes


def test_symtab_sort_any_svma_bytes():
    """The C sort (a radix sort on the svma's bytes, digits every key shares skipped) on tables whose starts
    differ in any of their 8 bytes, with aliases: the Python twin's stable sort."""
    need_speedups()
    from pyperf_probe.symbols import symtab
    rng = random.Random(8)
    for _ in range(300):
        n = rng.randrange(2, 400)
        shift = rng.randrange(0, 57)
        svmas = [rng.randrange(1 << rng.randrange(1, 8)) << shift for _ in range(n)]
        sizes = [0] * n
        columns = ([f"s{i}" for i in range(n)], svmas, sizes, [i % 7 for i in range(n)], [i % 3 for i in range(n)])
        want = symtab._py_sorted_columns(*columns)
        got = symtab._sorted_columns(*columns)
        assert [list(c) for c in got] == [list(c) for c in want]


def test_symtab_lookups_equal_with_and_without_the_c_sort(monkeypatch):
    """Every address of libc and cc1 (a stride through each table) resolves to the same symbol with the
    columns sorted in C and in Python."""
    need_speedups()
    from pyperf_probe.symbols import symtab
    for path in ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"):
        if not Path(path).exists():
            continue
        answers = []
        for c_sort in (True, False):
            symtab._CACHE.clear()
            if not c_sort:
                monkeypatch.setattr(symtab, "_c_symtab_sort", lambda: None)
            table = symtab.load_symtab(path)
            svmas = table._sorted()[1]
            probes = range(svmas[0] - 16, svmas[-1] + 64, max(1, (svmas[-1] - svmas[0]) // 20000))
            answers.append([table.lookup(a) for a in probes])
            monkeypatch.undo()
        assert answers[0] == answers[1] and sum(a is not None for a in answers[0]) > 1000
    symtab._CACHE.clear()


def test_any_kernel_key_is_any_kernel_key():
    """counts._any_kernel_key (C loops over a run's keys) = any(_kernel_key(key)) on random keys: kernel
    misc values, the PERF_CONTEXT_KERNEL mark anywhere, or neither."""
    from pyperf_probe.session import counts
    rng = random.Random(7)
    answers = set()
    for _ in range(5000):
        keys = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24))) +
                (counts.KERNEL_MARK if rng.random() < 0.04 else b"") for _ in range(rng.randrange(1, 5))]
        want = any(map(counts._kernel_key, keys))
        assert counts._any_kernel_key(keys) == want
        answers.add(want)
    assert answers == {True, False}
