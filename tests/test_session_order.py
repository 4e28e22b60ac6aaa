"""session.counts' ``order``: each sample's (bucket, group, period) in perf's order, as ``Session.samples()``
yields them one by one (report.findnew replays perf's entry look-ups in that order), on every golden file and
on hand-made files whose keys change resolution inside a run (a pid learnt late, COMM between samples)."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

import perfdata_build as pb
from pyperf_probe.errors import PerfDataError
from pyperf_probe.session import Session

GOLDEN = Path(__file__).parent / "golden"
DATA_FILES = sorted(p for d in ("report", "reader", "kernel") for p in (GOLDEN / d / "data").glob("*.data")
                    if p.stat().st_size > 64)


def _frame(f):
    return (f.dso, f.sym, f.avma, f.file_offset, f.inlined)


def _plain(evsel, thread, loc, chain, raw, period):
    return (evsel, tuple(thread), _frame(loc), tuple(map(_frame, chain)), raw, period)


def _orders(path: str):
    try:
        session = Session(path, force=True)
    except PerfDataError:
        return None
    want = [_plain(ev, t, loc, chain, raw, period) for ev, t, period, raw, loc, chain, _ in session.samples()]
    session = Session(path, force=True)
    order: list = []
    groups = session.sample_groups(order=order)
    index = {id(bucket): i for i, bucket in enumerate(groups)}
    got = [_plain(index[id(bucket)], *group, period) for bucket, group, period in order]
    assert all(group in bucket for bucket, group, _ in order)
    return got, want


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_golden_files_order(path, speedups_or_not):
    both = _orders(str(path))
    if both is not None:
        assert both[0] == both[1]


def test_order_through_a_pid_learnt_late_and_comm(tmp_path, speedups_or_not):
    recs = [pb.comm(1, 1, "a", 0), pb.mmap2(1, 0x400000, 0x1000, 0, "/usr/bin/true", 0),
            pb.sample(0x10, 0xFFFFFFFF, 5, 10), pb.sample(0x400010, 1, 1, 10), pb.sample(0x10, 3, 5, 11),
            pb.sample(0x10, 0xFFFFFFFF, 5, 12), pb.sample(0x400010, 1, 1, 12), pb.comm(1, 1, "b", 13),
            pb.sample(0x400010, 1, 1, 14), pb.sample(0x400030, 1, 1, 14), pb.sample(0x400010, 1, 1, 15),
            pb.finished_round(), pb.sample(0x10, 0xFFFFFFFF, 6, 16), pb.sample(0x10, 4, 6, 17),
            pb.sample(0x10, 0xFFFFFFFF, 6, 18)]
    path = tmp_path / "t.data"
    path.write_bytes(pb.perf_data(recs))
    got, want = _orders(str(path))
    assert got == want and len(got) == 11
    short = struct.pack("<IHH", 9, 2, 24) + struct.pack("<QQ", 0x10, 1 | 1 << 32)
    path.write_bytes(pb.perf_data(recs[:5] + [short] + recs[5:]))
    got, want = _orders(str(path))
    assert got == want


def test_order_of_a_counted_run_with_keys_that_do_not_decode(tmp_path, speedups_or_not):
    """A run counted by key (pids known, no kernel key) whose new keys include one of an unknown id: its
    samples add nothing to the order, the others' resolutions keep their places (add_run tells _in_order
    that not every hit is a resolution; fails when it says they all are)."""
    from pyperf_probe.perfdata.format import SampleType
    st_ = pb.SW_SAMPLE_TYPE | SampleType.ID
    attrs = [(pb.sw_attr(st_), (7,)), (pb.sw_attr(st_).replace(config=1), (8,))]

    def smp(ip, time, sid):
        return pb.record(9, 2, struct.pack("<QIIQQIIQ", ip, 1, 1, time, sid, 0, 0, 1))
    recs = [smp(0x10, 1, 7), pb.finished_round(), smp(0x10, 2, 7), smp(0x10, 3, 9), smp(0x20, 4, 8),
            smp(0x10, 5, 9), smp(0x10, 6, 7), smp(0x20, 7, 8)]
    path = tmp_path / "t.data"
    path.write_bytes(pb.perf_data(recs, attrs))
    got, want = _orders(str(path))
    assert got == want and len(got) == 5
