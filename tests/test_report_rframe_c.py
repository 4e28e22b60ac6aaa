"""perfdata/_speedups_report.c rframe_convert against its twin, report.frames.FrameTable._convert's Python code
for session frames: on random frames (resolved or not, inlined, data objects known or looked up, with or
without a file offset for their start, long names cut, addresses 0 and past 2^63, dsos of the BUILD_ID list or
not), every RFrame field, the dsos' ranks and the table's inlined flag equal."""
import random

import pytest

from pyperf_probe.report import frames as rframes
from pyperf_probe.report.frames import RFrame, FrameTable
from pyperf_probe.session.frames import Frame

FIELDS = RFrame.__slots__


class _Image:
    def __init__(self, shift):
        self.shift = shift

    def svma_to_file_offset(self, svma):
        return None if self.shift is None else svma - self.shift


class _Dso:
    def __init__(self, long_name, order, image, kernel=False):
        self.long_name, self.order, self.image, self.is_kernel = long_name, order, image, kernel


class _Symbol:
    def __init__(self, type_):
        self.type = type_


class _Resolved:
    def __init__(self, known, type_):
        self.object, self.symbol = known, _Symbol(type_)


def _frames(rng):
    dsos = [_Dso("/usr/lib/lib%d.so" % i, i, rng.choice([None, _Image(0x1000), _Image(None)]), rng.random() < 0.2)
            for i in range(4)]
    out = []
    for _ in range(rng.randrange(1, 60)):
        dso = rng.choice(dsos + [None])
        avma = rng.choice([0, 5, 0x401000, 1 << 63, (1 << 64) - 1]) + rng.randrange(3)
        name = rng.choice([None, "main", "f" * 1030, "g" * 1020, "malloc"])
        if dso is None:
            out.append(Frame("[unknown]", None, avma, None, None, False, None, None, rng.choice(".kH")))
            continue
        resolved = None if name is None or rng.random() < 0.2 else \
            _Resolved(rng.choice([True, False, None, 0, 1]), rng.choice([1, 2]))
        out.append(Frame("lib%d.so" % dso.order, name, avma, rng.choice([None, avma - 0x1000, 7]),
                         rng.choice([None, 0, 0x2000]), rng.random() < 0.3, dso, resolved, rng.choice(".k")))
    return out


def _fields(rf):
    return tuple(getattr(rf, f) for f in FIELDS)


def test_c_rframe_convert_equals_python(monkeypatch):
    if rframes._c_convert() is None:
        pytest.skip("no C rframe_convert")
    rng = random.Random(9)
    seen_inlined = 0
    for _ in range(300):
        frames = _frames(rng)
        header = ["/usr/lib/lib%d.so" % i for i in range(4) if rng.random() < 0.4]
        tables = []
        for c in (rframes._c_convert(), None):
            monkeypatch.setattr(rframes, "_C_CONVERT", c)
            table = FrameTable(header)
            got = [_fields(table.get(f)) for f in frames]
            tables.append((got, table.inlined_seen, list(table._dso_ranks.values()), table._seen_rank))
        assert tables[0] == tables[1]
        seen_inlined += tables[0][1]
    assert seen_inlined > 50


def test_c_rframe_convert_rejects_bad_input():
    convert = rframes._c_convert()
    if convert is None:
        pytest.skip("no C rframe_convert")
    with pytest.raises(AttributeError):
        convert(object(), RFrame, {}, None, None, None)
    frame = Frame("x", b"not a str", 1, None, None, False, _Dso("x", 0, None), None)
    with pytest.raises(TypeError):
        convert(frame, RFrame, {}, lambda d, n: (1, 0), None, None)
