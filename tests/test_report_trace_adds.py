"""report.trace_adds: perfdata/_speedups_script.c trace_adds against its twin py_trace_adds, and both against
the builder's own loop with Hists.add (the path they replace): on random buckets (threads, locations, chains,
RAW payloads some of which repeat under other threads; some locations and chains converted already), for
each key list of trace, comm and pid, the same hists groups (identity, chain, values), group numbers,
threads' comms, conversions and trace outputs (one call per payload)."""
import random

import pytest

from conftest import need_speedups
from pyperf_probe.perfdata.speedups import speedups
from pyperf_probe.report import trace_adds
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
    chains = [tuple(rng.choice(locs) for _ in range(rng.randrange(0, 6))) for _ in range(6)]
    raws = [None, b""] + [bytes([rng.randrange(4), rng.randrange(256)]) for _ in range(10)]
    bucket = {}
    for _ in range(rng.randrange(0, 60)):
        group = (rng.choice(threads), rng.choice(locs), rng.choice(chains), rng.choice(raws))
        bucket[group] = [rng.choice([1, 5, 1 << 40, 1 << 70]), rng.randrange(1, 4)]
    known = {loc: rframes[loc.n] for loc in locs if rng.random() < 0.3}
    done = {ch: tuple(rframes[f.n] for f in ch) for ch in chains if rng.random() < 0.3}
    return rframes, bucket, known, done


def _run(names, seed, how, tracepoint=True, no_gkeys=False, filters=False):
    rng = random.Random(seed)
    rframes, bucket, known, done = _case(rng)
    h = Hists([KEYS[n] for n in names], children=False, callchains=True, caller_order=False)
    spec = trace_adds.spec_of(h)
    assert spec is not None
    known, chains, gkeys, calls = dict(known), dict(done), {}, []

    def to_rframe(loc):
        calls.append(("loc", loc.n))
        known[loc] = rframes[loc.n]
        return rframes[loc.n]

    def chain_of(chain):
        calls.append(("chain", tuple(f.n for f in chain)))
        return tuple(rframes[f.n] for f in chain)

    def text(raw):
        calls.append(("text", raw))
        return "t%d" % (raw[0] % 3) if raw else "empty"  # (payloads of one text: the entries merge)
    text = text if tracepoint else None

    def rejects(comm, location, loc):  # (report.builder's Filters.rejects: the sample's comm and location)
        calls.append(("rejects", comm, location.n))
        return comm == "cc1" or location.n % 3 == 0
    rejects = rejects if filters else None
    if how == "add":  # the builder's general loop
        traces = {}
        for group, (period, count) in bucket.items():
            thread, location, chain, raw = group
            loc = known.get(location)
            if loc is None:
                loc = to_rframe(location)
            rchain = chains.get(chain)
            if rchain is None:
                rchain = chains[chain] = chain_of(chain)
            trace = traces.get(raw)
            if trace is None:
                trace = traces[raw] = text(raw or b"") if text is not None else "N/A"
            filtered = rejects is not None and rejects(thread.comm, location, loc)
            gkeys[group] = h.add(thread.comm, thread.tid, period, loc, rchain, chain, trace, count, filtered, raw)
    else:
        adds = speedups.trace_adds if how == "c" else trace_adds.py_trace_adds
        adds(bucket, known, to_rframe, chains, chain_of, spec, text, {}, h._groups, h._thread_comm,
             None if no_gkeys else gkeys, rejects)
    index = {id(rf): i for i, rf in enumerate(rframes)}

    def plain(obj):  # (run-own objects by their numbers)
        if isinstance(obj, _Loc):
            return ("L", obj.n)
        if isinstance(obj, RFrame):
            return ("R", index[id(obj)])
        if isinstance(obj, (tuple, list)):
            return type(obj)(map(plain, obj)) if type(obj) in (tuple, list) else tuple(map(plain, obj))
        return obj
    # (rejects has no side effect: the builder's loop asks it per group, trace_adds per group it makes)
    return plain((list(h._groups.items()), None if no_gkeys else list(gkeys.items()),
                  list(h._thread_comm.items()), list(chains.items()), [c for c in calls if c[0] != "rejects"]))


@pytest.mark.parametrize("names", [["trace"], ["trace", "comm"], ["comm", "trace"], ["pid", "trace"],
                                   ["trace", "pid", "comm"]], ids=",".join)
def test_c_trace_adds_equal_pythons(names):
    need_speedups()
    for seed in range(150):
        tracepoint = seed % 5 != 0
        filters = seed % 3 == 1
        want = _run(names, seed, "add", tracepoint, filters=filters)
        assert _run(names, seed, "py", tracepoint, filters=filters) == want
        assert _run(names, seed, "c", tracepoint, filters=filters) == want
        want = want[:1] + (None,) + want[2:]  # (no gkeys kept: the rest the same)
        assert _run(names, seed, "py", tracepoint, True, filters) == want
        assert _run(names, seed, "c", tracepoint, True, filters) == want


def test_spec_of():
    def spec(names, **kw):
        return trace_adds.spec_of(Hists([KEYS[n] for n in names], children=True, callchains=True,
                                        caller_order=False, **kw))
    assert spec(["trace", "comm"]) == "tc"
    assert spec(["pid", "trace"]) == "pt"
    assert spec(["comm"]) is None  # (no trace: builder_adds' path)
    assert spec(["sym", "trace"]) is None  # (a frame key: Hists.add's parts per location)


def test_c_trace_adds_rejects_bad_input():
    need_speedups()
    h = Hists([KEYS["trace"]], children=False, callchains=True, caller_order=False)
    args = ({}, lambda x: x, {}, lambda c: c)
    rest = (None, {}, h._groups, h._thread_comm, {})
    with pytest.raises(TypeError):
        speedups.trace_adds({("not", "four"): [1, 1]}, *args, "t", *rest)
    with pytest.raises(TypeError):
        speedups.trace_adds({(_Thread((1, "a")), _Loc(0), (), None): [1]}, *args, "t", *rest)
    with pytest.raises(ValueError):
        speedups.trace_adds({}, *args, "tx", *rest)
