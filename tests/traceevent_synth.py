"""A perf.data with one synthetic record of every tracepoint format it is given, for comparing pyperf's
renderers with real ``perf script`` (tests/test_traceevent_formats.py).

Each format gets its own tracepoint attr (``perf script`` prints a record through its evsel's format) and
one sample: IDENTIFIER, TID, TIME, CPU, PERIOD, RAW. The RAW bytes follow the format's fields: the common
fields (common_type = the event's id), numbers from a seeded generator (small values, flags, -1, large
ones: enough for __print_symbolic and __print_flags to hit and to miss), char arrays and __data_loc /
__rel_loc strings of printable text, dynamic arrays of a few bytes. The file carries no kernel MMAP record,
so %pS arguments print as numbers in both tools.
"""
from __future__ import annotations

import random
import struct

from pyperf_probe.perfdata.format import AttrType, EventAttr, Feature, RecordType, SampleType
from pyperf_probe.perfdata.tracing_data import encode
from pyperf_probe.traceevent.printfmt import IS_ARRAY, IS_DYNAMIC, IS_RELATIVE, IS_STRING, Event
from tests.perfdata_build import comm, perf_data, record

SAMPLE_TYPE = (SampleType.IDENTIFIER | SampleType.TID | SampleType.TIME | SampleType.CPU | SampleType.PERIOD
               | SampleType.RAW)
PID = 4242
_LENGTH_WORDS = ("len", "size", "count", "nr", "num", "cnt")


def _number(rng: random.Random, size: int) -> int:
    pick = rng.random()
    if pick < 0.3:
        value = rng.randrange(0, 8)
    elif pick < 0.5:
        value = 1 << rng.randrange(0, size * 8)
    elif pick < 0.6:
        value = (1 << size * 8) - 1
    else:
        value = rng.getrandbits(size * 8)
    return value & ((1 << size * 8) - 1)


def _text(rng: random.Random, n: int) -> bytes:
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz_0123456789") for _ in range(n))


def raw_record(ev: Event, rng: random.Random) -> bytes:
    """RAW bytes for one record of ``ev`` (see the module docstring)."""
    fixed = max((f.offset + f.size for f in ev.common_fields + ev.fields), default=8)
    buf = bytearray(fixed)
    tail = bytearray()
    for f in ev.common_fields + ev.fields:
        if f.name == "common_type":
            struct.pack_into("<H", buf, f.offset, ev.id)
            continue
        if f.name == "common_pid":
            struct.pack_into("<i", buf, f.offset, PID)
            continue
        if f.flags & IS_DYNAMIC:
            if f.flags & IS_STRING:
                data = _text(rng, rng.randrange(1, 12)) + b"\0"
            else:
                data = bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 4, 8, 16))))
            start = fixed + len(tail)
            tail += data + b"\0" * (-len(data) % 4)
            offset = start - (f.offset + f.size) if f.flags & IS_RELATIVE else start
            value = (len(data) << 16) | offset if f.size == 4 else offset
            buf[f.offset:f.offset + f.size] = value.to_bytes(f.size, "little")
        elif f.flags & IS_ARRAY and f.flags & IS_STRING:
            n = rng.randrange(0, max(f.size, 1))
            buf[f.offset:f.offset + f.size] = (_text(rng, n) + b"\0" * f.size)[:f.size]
        elif f.flags & IS_ARRAY:
            buf[f.offset:f.offset + f.size] = bytes(rng.getrandbits(8) for _ in range(f.size))
        elif f.size in (1, 2, 4, 8):
            # a length (of a __print_hex or __print_array) stays within the record: the tools read that far
            value = rng.randrange(0, 8) if any(w in f.name for w in _LENGTH_WORDS) else _number(rng, f.size)
            buf[f.offset:f.offset + f.size] = value.to_bytes(f.size, "little")
    return bytes(buf + tail)


def _sample(ident: int, tid: int, time: int, raw: bytes) -> bytes:
    raw = raw + b"\0" * (-(len(raw) + 4) % 8)  # the u32 size + data keep the record 8-aligned
    body = struct.pack("<QIIQIIQI", ident, PID, tid, time, 0, 0, 1, len(raw)) + raw
    return record(RecordType.SAMPLE, 2, body)


def build(formats: list[tuple[str, str]], seed: int = 13,
          header_page: bytes = b"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n",
          header_event: bytes = b"") -> tuple[bytes, list[Event]]:
    """(perf.data bytes, the parsed events) for these (system, format text) pairs."""
    rng = random.Random(seed)
    events = [(system, text, Event.parse(text, system)) for system, text in formats]
    systems: dict[str, list[bytes]] = {}
    for system, text, _ in events:
        systems.setdefault(system, []).append(text.encode())
    tracing = encode(header_page=header_page, header_event=header_event, systems=list(systems.items()))
    attrs, records = [], [comm(PID, PID, "synth", 1)]
    for i, (_, _, ev) in enumerate(events):
        ident = 1000 + i
        attrs.append((EventAttr(type=AttrType.TRACEPOINT, config=ev.id, sample_period=1, sample_type=SAMPLE_TYPE,
                                flags=0), (ident,)))
        records.append(_sample(ident, PID, 1_000_000_000 + 1000 * i, raw_record(ev, rng)))
    return perf_data(records, attrs, features={Feature.TRACING_DATA: tracing}), [e for _, _, e in events]
