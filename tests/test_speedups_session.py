"""_speedups_session.c against its Python twin (session/fixed_keys.py), and the session's per-key path for
keys with call chains (``FixedKeys.resolve_chained``) against the generic one (decode, ``Session.resolve``)
on the golden files with chains, in both lookup orders and with a short --max-stack."""
from __future__ import annotations

import glob
import os
import random
import struct
from array import array
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
        sort = symtab._c_speedup("symtab_sort")
        raw = sort(columns[1], columns[2], bytes(columns[3]), bytes(columns[4]), symtab.PAGE_SIZE)
        shapes["python" if raw is None else "sorted" if raw[0] is None else "reordered"] += 1
        # (u64 arrays, as symtab_keep's columns come: the same answer)
        assert sort(array("Q", columns[1]), array("Q", columns[2]), bytes(columns[3]), bytes(columns[4]),
                    symtab.PAGE_SIZE) == raw
        # (buffers read in place, or copied first when not 8-byte aligned: the same answer)
        unaligned = memoryview(bytes(4) + array("Q", columns[1]).tobytes())[4:]
        assert sort(unaligned, memoryview(array("Q", columns[2])).cast("B"), bytes(columns[3]), bytes(columns[4]),
                    symtab.PAGE_SIZE) == raw
        got = symtab._sorted_columns(columns[0], array("Q", columns[1]), array("Q", columns[2]), *columns[3:])
        assert [list(c) for c in got] == [list(c) for c in want]
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
    columns filtered and sorted in C and in Python."""
    need_speedups()
    from pyperf_probe.symbols import symtab
    for path in ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"):
        if not Path(path).exists():
            continue
        answers = []
        for c_sort in (True, False):
            symtab._CACHE.clear()
            if not c_sort:
                monkeypatch.setattr(symtab, "_c_speedup", lambda name: None)
            table = symtab.load_symtab(path)
            svmas = table._sorted()[1]
            probes = range(svmas[0] - 16, svmas[-1] + 64, max(1, (svmas[-1] - svmas[0]) // 20000))
            answers.append([table.lookup(a) for a in probes])
            monkeypatch.undo()
        assert answers[0] == answers[1] and sum(a is not None for a in answers[0]) > 1000
    symtab._CACHE.clear()


def _elf_files() -> list[str]:
    """ELF files of this machine of several kinds: libraries (with and without a .symtab), executables,
    a debug file, 32-bit objects where there are any."""
    found = []
    for pattern in ("/usr/lib/x86_64-linux-gnu/*.so*", "/usr/bin/*", "/usr/lib/gcc/x86_64-linux-gnu/*/cc1*",
                    "/usr/lib/debug/.build-id/*/*.debug", "/usr/lib32/*.so*", "/usr/lib/x86_64-linux-gnu/*.o"):
        found += sorted(glob.glob(pattern))[:80]
    return [p for p in found if os.path.isfile(p) and open(p, "rb").read(4) == b"\x7fELF"]


def _elf_images():
    """(path, image) of each of _elf_files() that open_elf reads."""
    from pyperf_probe.symbols.elf import open_elf
    for path in _elf_files():
        try:
            yield path, open_elf(path)
        except Exception:  # (not a file open_elf reads: not what these tests are about)
            continue


def test_symtab_keep_equals_its_python_twin(monkeypatch):
    """symtab_keep (C: perf's symbol filter and the kept entries' columns in one pass) = _kept and the
    strided columns (Python), table by table, on the .symtab and .dynsym of this machine's ELF files."""
    need_speedups()
    from pyperf_probe.symbols import symtab
    tables = 0
    for path, image in _elf_images():
        for section in (".symtab", ".dynsym"):
            names, rest = symtab.symbol_names(image, section)
            with monkeypatch.context() as m:
                m.setattr(symtab, "_c_speedup", lambda name: None)
                py_names, py_rest = symtab.symbol_names(image, section)
            assert list(names._offsets) == list(py_names._offsets), (path, section)
            assert [list(c) for c in rest()] == [list(c) for c in py_rest()], (path, section)
            tables += len(names) > 0
    assert tables > 50


def test_symtab_keep_corner_entries():
    """Entries each rule keeps or drops, in 64- and 32-bit tables of both byte orders: types, an unnamed
    entry, section indexes past the table and special ones, NOTYPE labels by visibility and section."""
    need_speedups()
    from pyperf_probe.perfdata.speedups import speedups
    import struct as st
    loaded, texts = bytes([0, 1, 1, 1]), bytes([0, 1, 0, 0])  # 1: .text, 2: .rodata, 3: another
    rows = [  # (name, info, other, shndx, value, size, kept)
        (1, 0x12, 0, 1, 0x1000, 16, 1),      # GLOBAL FUNC in .text
        (2, 0x01, 0, 2, 0x2000, 8, 1),       # LOCAL OBJECT in .rodata
        (3, 0x1a, 0, 1, 0x1010, 4, 1),       # GNU_IFUNC
        (4, 0x03, 0, 1, 0x1020, 0, 0),       # SECTION
        (5, 0x04, 0, 1, 0x1030, 0, 0),       # FILE
        (0, 0x12, 0, 1, 0x1040, 8, 0),       # no name
        (6, 0x12, 0, 0, 0, 0, 0),            # undefined
        (7, 0x12, 0, 0xfff1, 5, 0, 0),       # SHN_ABS
        (8, 0x12, 0, 9, 0x1050, 8, 0),       # a section index past the table
        (9, 0x10, 0, 1, 0x1060, 0, 1),       # NOTYPE label in .text, default visibility
        (10, 0x10, 2, 1, 0x1070, 0, 0),      # hidden label
        (11, 0x10, 1, 1, 0x1080, 0, 0),      # internal label
        (12, 0x10, 3, 1, 0x1090, 0, 1),      # protected label
        (13, 0x10, 0, 2, 0x2010, 0, 0),      # label outside text and data
        (14, 0x22, 0, 3, 0x3000, 1 << 40, 1),  # WEAK FUNC, a big size
    ]
    for is64 in (True, False):
        for little in (True, False):
            e = "<" if little else ">"
            raw = b"".join(st.pack(e + "IBBHQQ", n, i, o, sh, v, sz) if is64 else
                           st.pack(e + "IIIBBH", n, v, sz & 0xFFFFFFFF, i, o, sh)
                           for n, i, o, sh, v, sz, _ in rows)
            keep, names, svmas, sizes, info = speedups.symtab_keep(raw + b"\0" * 3, is64, little, loaded, texts)
            assert list(keep) == [r[6] for r in rows]
            kept = [r for r in rows if r[6]]
            assert list(array("I", names)) == [r[0] for r in kept]
            assert list(array("Q", svmas)) == [r[4] for r in kept]
            assert list(array("Q", sizes)) == [r[5] if is64 else r[5] & 0xFFFFFFFF for r in kept]
            assert list(info) == [r[1] for r in kept]


def test_plt_names_equal_their_python_twin(monkeypatch):
    """plt_names (C) = _py_plt_names on this machine's ELF files (the PLT symbols as plt_symbols gives them)
    and on made tables: symbol index 0, an index past .dynsym, a name without NUL at the table's end,
    bytes that are not UTF-8, a name longer than the C buffer, 32-bit Rel entries, big-endian."""
    need_speedups()
    from pyperf_probe.perfdata.speedups import speedups
    from pyperf_probe.symbols import symtab
    tables = 0
    for path, image in _elf_images():
        got = symtab.plt_symbols(image)
        with monkeypatch.context() as m:
            m.setattr(symtab, "_c_speedup", lambda name: None)
            assert symtab.plt_symbols(image) == got, path
        tables += len(got) > 0
    assert tables > 20

    class Image:  # (what _py_plt_names reads of an image)
        def __init__(self, is_64, endian):
            self.is_64, self.endian = is_64, endian
    strtab = b"\0malloc\0\xff\xfebad\0" + b"x" * 600 + b"\0tail"
    offsets = [1, 8, strtab.index(b"x"), strtab.index(b"tail")]
    for is64 in (True, False):
        for little in (True, False):
            e = "<" if little else ">"
            entry = "IBBHQQ" if is64 else "IIIBBH"
            syms = st_pack(e + entry, 0, *([0] * 5))
            for off in offsets:
                syms += st_pack(e + entry, off, *([0] * 5))
            shift = 32 if is64 else 8
            indexes = [0, 1, 2, 3, 4, 99, 1]
            for rel_size in ((24, 16) if is64 else (12, 8)):
                width = 8 if is64 else 4
                raw = b"".join(st_pack(e + ("Q" if is64 else "I") * (rel_size // width), 0, (i << shift) | 7,
                                       *([0] * (rel_size // width - 2))) for i in indexes)
                want = symtab._py_plt_names(raw, rel_size, Image(is64, e), syms, strtab)
                assert speedups.plt_names(raw, rel_size, is64, little, syms, strtab) == want
                assert want[0] == "@plt" and want[1] == "malloc@plt" and want[5] == "@plt"
                assert want[4] == "tail@plt" and len(want[3]) == 604


def st_pack(fmt: str, *values) -> bytes:
    return struct.pack(fmt, *values)


def test_any_kernel_key_is_any_kernel_key():
    """counts._any_kernel_key (C loops over a run's keys) = any(_kernel_key(key)) = a kernel misc value or
    the PERF_CONTEXT_KERNEL mark anywhere in a key, on random keys: kernel misc values, the mark anywhere
    (cut across the key's end too), or neither."""
    from pyperf_probe.session import counts
    rng = random.Random(7)
    answers = set()
    for _ in range(5000):
        keys = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 24))) +
                (counts.KERNEL_MARK[:rng.choice((3, 8, 8, 8))] if rng.random() < 0.06 else b"") +
                bytes(rng.randrange(256) for _ in range(rng.choice((0, 0, 5))))
                for _ in range(rng.randrange(1, 5))]
        keys = [key for key in keys if key] or [b"\0"]
        want = any(key[0] & 7 == 1 or counts.KERNEL_MARK in key for key in keys)  # (1: PERF_RECORD_MISC_KERNEL)
        assert any(map(counts._kernel_key, keys)) == want
        assert counts._any_kernel_key(keys) == want
        answers.add(want)
    assert answers == {True, False}
