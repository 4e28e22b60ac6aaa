"""perfdata/_speedups_report.c builder_adds against its twin report.builder._py_adds, and both against the
builder's own loop with Hists.add: on random buckets (threads, locations, chains, raw payloads; some
locations and chains converted already), for each key list whose adds take the plain path, the same hists
groups (identity, chain, values), group numbers, threads' comms, location parts and conversions."""
import random

import pytest

from conftest import need_speedups
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.report import builder
from pyperf_probe.report.frames import RFrame
from pyperf_probe.report.hist import Hists
from pyperf_probe.report.sortkeys import KEYS


class _Thread(tuple):
    __slots__ = ()
    tid = property(lambda self: self[0])
    comm = property(lambda self: self[1])


class _Loc:
    """A session frame as the builder sees one: hashed by identity."""

    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n


def _case(rng):
    rframes = [RFrame(name=rng.choice(["f%d" % i, None]), inlined=False, dso_name=rng.choice(["a", "b", None]),
                      dso_rank=(0, i % 3), sym_start=16 * i, avma=16 * i + 3, rip=16 * i + 3) for i in range(12)]
    locs = [_Loc(i) for i in range(12)]
    threads = [_Thread((rng.randrange(1, 4), rng.choice(["make", "cc1", "as"]))) for _ in range(5)]
    chains = [tuple(rng.choice(locs) for _ in range(rng.randrange(0, 6))) for _ in range(8)]
    bucket = {}
    for _ in range(rng.randrange(0, 40)):
        group = (rng.choice(threads), rng.choice(locs), rng.choice(chains), rng.choice([None, b"r1", b"r2"]))
        bucket[group] = [rng.choice([1, 5, 1 << 40, 1 << 70]), rng.randrange(1, 4)]
    known = {loc: rframes[loc.n] for loc in locs if rng.random() < 0.3}
    done = {ch: tuple(rframes[f.n] for f in ch) for ch in chains if rng.random() < 0.3}
    return rframes, bucket, known, done


def _run(keys, rng_seed, how, per_frame=False, whole=False):
    rng = random.Random(rng_seed)
    rframes, bucket, known, done = _case(rng)
    h = Hists(keys, children=False, callchains=True, caller_order=False)
    assert h.whole_adds() if whole else h.plain_adds()
    known, chains, gkeys, calls = dict(known), dict(done), {}, []

    def to_rframe(loc):
        calls.append(("loc", loc.n))
        known[loc] = rframes[loc.n]
        return rframes[loc.n]

    def chain_of(chain):
        calls.append(("chain", tuple(f.n for f in chain)))
        return tuple(rframes[f.n] for f in chain)
    if how == "add":  # the builder's general loop
        for group, (period, count) in bucket.items():
            thread, location, chain, raw = group
            loc = known.get(location)
            if loc is None:
                loc = to_rframe(location)
            rchain = chains.get(chain)
            if rchain is None:
                if per_frame:  # (each frame as the location)
                    rchain = []
                    for frame in chain:
                        rf = known.get(frame)
                        rchain.append(rf if rf is not None else to_rframe(frame))
                    rchain = chains[chain] = tuple(rchain)
                else:
                    rchain = chains[chain] = chain_of(chain)
            gkeys[group] = h.add(thread.comm, thread.tid, period, loc, rchain, chain, None, count, False, raw)
    else:
        adds = speedups.builder_adds if how == "c" else builder._py_adds
        if whole:  # (report.builder's WHOLE adds: each (thread, location)'s whole identity)
            adds(bucket, known, to_rframe, chains, None if per_frame else chain_of, h._self_idents, h._self_ident,
                 builder.WHOLE_DSO_APART if h._dso_apart else builder.WHOLE, h._groups, h._thread_comm, gkeys)
        else:
            adds(bucket, known, to_rframe, chains, None if per_frame else chain_of, h._self_parts, h._self_part,
                 h._comm_head, h._groups, h._thread_comm, gkeys)
    index = {id(rf): i for i, rf in enumerate(rframes)}

    def plain(obj):  # (run-own objects by their numbers)
        if isinstance(obj, _Loc):
            return ("L", obj.n)
        if isinstance(obj, RFrame):
            return ("R", index[id(obj)])
        if isinstance(obj, (tuple, list)):
            return type(obj)(map(plain, obj)) if type(obj) in (tuple, list) else tuple(map(plain, obj))
        return obj
    if whole:  # (the identities kept: per location what add would make, whatever the thread)
        return plain((list(h._groups.items()), list(gkeys.items()), list(h._thread_comm.items()),
                      list(chains.items()), calls))
    return plain((list(h._groups.items()), list(gkeys.items()), list(h._thread_comm.items()),
                  list(h._self_parts.items()), list(chains.items()), calls))


@pytest.mark.parametrize("names", [["comm", "dso", "sym"], ["dso", "sym"], ["comm", "sym", "dso"], ["dso"]],
                         ids=",".join)
def test_c_builder_adds_equal_pythons(names):
    need_speedups()
    keys = [KEYS[n] for n in names]
    for seed in range(150):
        per_frame = seed % 2 == 0
        want = _run(keys, seed, "add", per_frame)
        assert _run(keys, seed, "py", per_frame) == want
        assert _run(keys, seed, "c", per_frame) == want


@pytest.mark.parametrize("names", [["comm"], ["dso", "comm"], ["sym", "comm"], ["pid", "sym"], ["comm", "dso", "sym"],
                                   ["dso", "sym"], ["dso"]], ids=",".join)
def test_c_builder_adds_whole_equal_pythons(names):
    """The WHOLE mode (any keys but tracepoint fields, no group kept apart per dso): the groups Hists.add makes."""
    need_speedups()
    keys = [KEYS[n] for n in names]
    for seed in range(150):
        per_frame = seed % 2 == 0
        want = _run(keys, seed, "add", per_frame, True)
        assert _run(keys, seed, "py", per_frame, True) == want
        assert _run(keys, seed, "c", per_frame, True) == want


def test_c_builder_adds_rejects_bad_input():
    need_speedups()
    h = Hists([KEYS["dso"], KEYS["sym"]], children=False, callchains=True, caller_order=False)
    args = ({}, lambda x: x, {}, lambda c: c, h._self_parts, h._self_part, False, h._groups, h._thread_comm, {})
    with pytest.raises(TypeError):
        speedups.builder_adds({("not", "four"): [1, 1]}, *args)
    with pytest.raises(TypeError):
        speedups.builder_adds({(_Thread((1, "a")), _Loc(0), (), None): [1]}, *args)


def test_c_builder_adds_converts_session_frames_as_frame_table_does():
    """With FrameTable.c_convert, builder_adds converts session frames itself (rframe_convert's work): the same
    RFrames (by every field the report reads), groups and kept conversions as FrameTable.get's, and whether an
    inlined frame was met."""
    need_speedups()
    from pyperf_probe.report.frames import FrameTable
    from pyperf_probe.session.frames import Frame

    class _Dso:
        def __init__(self, name, order):
            self.long_name, self.order = "/lib/" + name, order

    dsos = [_Dso("a.so", 0), _Dso("b.so", 1)]
    rng = random.Random(3)

    def frames():
        out = []
        for i in range(14):
            dso = rng.choice(dsos + [None])
            sym = rng.choice([None, "f%d" % i, "g"]) if dso is not None else None
            out.append(Frame(dso.long_name[5:] if dso else "[unknown]", sym, 0x1000 + 16 * i, 16 * i if dso else None,
                             8 * i if sym else None, bool(sym) and rng.random() < 0.2, dso, None, "."))
        return out

    fields = ("name", "has_sym", "inlined", "dso_name", "dso_rank", "sym_start", "avma", "rip", "key", "chain_text",
              "level", "mapped", "object_sym", "object_start")
    for seed in range(60):
        rng.seed(seed)
        pool = frames()
        threads = [_Thread((rng.randrange(1, 4), rng.choice(["make", "cc1"]))) for _ in range(3)]
        bucket = {}
        for _ in range(rng.randrange(1, 30)):
            chain = tuple(rng.choice(pool) for _ in range(rng.randrange(0, 5)))
            bucket[(rng.choice(threads), rng.choice(pool), chain, None)] = [rng.randrange(1, 9), rng.randrange(1, 3)]
        got = []
        for c_side in (True, False):
            table = FrameTable([])
            h = Hists([KEYS["comm"], KEYS["dso"], KEYS["sym"]], children=False, callchains=True, caller_order=False)
            gkeys = {}
            adds = speedups.builder_adds if c_side else builder._py_adds
            inlined = adds(dict(bucket), table.known, table.get, {}, None, h._self_parts, h._self_part,
                           h._comm_head, h._groups, h._thread_comm, gkeys, table.c_convert())
            rframes = lambda objs: tuple(tuple(getattr(rf, f) for f in fields) for rf in objs)  # noqa: E731
            got.append(([(k[0], len(k[1]), v[:4], rframes([v[4]]), rframes(v[5])) for k, v in h._groups.items()],
                        sorted(gkeys.values()), sorted(map(repr, rframes(table.known.values()))),
                        bool(inlined) or table.inlined_seen))
        assert got[0] == got[1]
