"""perfdata.sample: the compiled SAMPLE decoder on hand-made bodies, one field per line, every optional
field in perf_event.h's order; and its refusals (an overrun is a CorruptRecord, never an allocation)."""
from __future__ import annotations

import struct

import pytest

from pyperf_probe.perfdata.format import EventAttr, ReadFormat, SampleType as S
from pyperf_probe.perfdata.sample import CorruptRecord, SampleDecoder

ALL = (S.IDENTIFIER | S.IP | S.TID | S.TIME | S.ADDR | S.ID | S.STREAM_ID | S.CPU | S.PERIOD | S.READ |
       S.CALLCHAIN | S.RAW | S.BRANCH_STACK | S.REGS_USER | S.STACK_USER | S.WEIGHT | S.DATA_SRC |
       S.TRANSACTION | S.PHYS_ADDR | S.CGROUP | S.DATA_PAGE_SIZE | S.CODE_PAGE_SIZE)


def body_all() -> bytes:
    q = lambda *v: struct.pack(f"<{len(v)}Q", *v)  # noqa: E731
    return b"".join([
        q(77),                                   # IDENTIFIER
        q(0x401000),                             # IP
        struct.pack("<ii", 10, 11),              # TID: pid, tid
        q(123456789),                            # TIME
        q(0xdead),                               # ADDR
        q(77),                                   # ID
        q(5),                                    # STREAM_ID
        struct.pack("<II", 1, 0),                # CPU: cpu, res
        q(3),                                    # PERIOD
        q(2, 100, 77, 0, 200, 78, 0),            # READ (GROUP|ID|LOST): nr, {value, id, lost} x2
        q(3, 0xFFFFFFFFFFFFFE00, 0x401000, 0x401100),  # CALLCHAIN: nr, marker, ip, return address
        struct.pack("<I", 4) + b"abcd",          # RAW: size 4 + data (4+4 = 8 bytes)
        q(1, 0x10, 0x20, 0x3),                   # BRANCH_STACK: nr, {from, to, flags}
        q(2, 0x7ffe0000, 0x401000),              # REGS_USER: abi 64, SP and IP (mask bits 7, 8)
        q(16) + b"S" * 16 + q(8),                # STACK_USER: size 16, data, dyn_size 8
        q(9),                                    # WEIGHT
        q(0x42),                                 # DATA_SRC
        q(6),                                    # TRANSACTION
        q(0x1234000),                            # PHYS_ADDR
        q(8),                                    # CGROUP
        q(4096),                                 # DATA_PAGE_SIZE
        q(4096),                                 # CODE_PAGE_SIZE
    ])


def decoder(sample_type=ALL) -> SampleDecoder:
    attr = EventAttr(type=1, sample_type=sample_type, sample_period=1,
                     read_format=ReadFormat.GROUP | ReadFormat.ID | ReadFormat.LOST,
                     sample_regs_user=(1 << 7) | (1 << 8))
    return SampleDecoder(attr, evsel=4)


def test_every_field_in_order():
    body = body_all()
    s = decoder().decode(body, 0, len(body), 2, 0x200)
    assert (s.evsel, s.misc, s.id, s.ip, s.pid, s.tid, s.time, s.addr, s.stream_id, s.cpu, s.period) == \
        (4, 2, 77, 0x401000, 10, 11, 123456789, 0xdead, 5, 1, 3)
    assert s.read == (2, 100, 77, 0, 200, 78, 0)
    assert s.callchain == (0xFFFFFFFFFFFFFE00, 0x401000, 0x401100)
    assert s.raw == b"abcd"
    assert s.branch_stack == ((0x10, 0x20, 0x3),)
    assert s.regs_user.abi == 2 and s.regs_user.get(7) == 0x7ffe0000 and s.regs_user.get(8) == 0x401000
    assert s.regs_user.get(0) is None
    assert s.stack_user == b"S" * 8  # dyn_size bytes
    assert (s.weight, s.data_src, s.transaction, s.phys_addr, s.cgroup) == (9, 0x42, 6, 0x1234000, 8)
    assert (s.data_page_size, s.code_page_size, s.file_offset) == (4096, 4096, 0x200)


def test_period_defaults_to_the_attr():
    body = struct.pack("<QiiQ", 0x401000, 1, 1, 5)
    s = SampleDecoder(EventAttr(type=2, sample_type=S.IP | S.TID | S.TIME, sample_period=7), 0).decode(
        body, 0, len(body), 2, 0)
    assert (s.ip, s.time, s.period, s.callchain) == (0x401000, 5, 7, None)


@pytest.mark.parametrize("cut", [7, 80, 180, 200, 250, len(body_all()) - 1])
def test_overruns_are_corrupt_records(cut):
    body = body_all()
    with pytest.raises(CorruptRecord):
        decoder().decode(body, 0, cut, 2, 0)


def test_dyn_size_above_size_is_refused():
    st = S.IP | S.STACK_USER
    body = struct.pack("<QQ", 1, 8) + b"x" * 8 + struct.pack("<Q", 9)
    with pytest.raises(CorruptRecord, match="dyn_size"):
        SampleDecoder(EventAttr(type=1, sample_type=st), 0).decode(body, 0, len(body), 2, 0)


def test_generated_source_is_readable():
    src = decoder(S.IP | S.TID | S.TIME | S.CPU | S.PERIOD | S.CALLCHAIN | S.RAW).source
    assert "ip, pid, tid, time, cpu, _, period, = _S0.unpack_from(buf, pos)" in src
    assert "callchain = (" in src and "raw = buf[pos + 4:pos + 4 + size]" in src  # written out, no calls
    assert "_callchain(" not in src and "_raw(" not in src


def test_registers_and_stack_written_out():
    """REGS_USER and STACK_USER are written out in the decoder (no helper call); abi NONE has no values,
    size 0 no dyn_size, and an overrun in each is a corrupt record naming the field."""
    st = S.IP | S.REGS_USER | S.STACK_USER
    dec = SampleDecoder(EventAttr(type=1, sample_type=st, sample_regs_user=(1 << 6) | (1 << 7) | (1 << 8)), 0)
    assert "_regs_user(" not in dec.source and "_stack_user(" not in dec.source
    body = struct.pack("<QQQQQ", 1, 2, 0x10, 0x20, 0x30) + struct.pack("<Q", 16) + b"A" * 16 + struct.pack("<Q", 12)
    s = dec.decode(body, 0, len(body), 2, 0)
    assert tuple(s.regs_user) == (2, 0x1C0, (0x10, 0x20, 0x30)) and s.stack_user == b"A" * 12
    assert isinstance(s.stack_user, memoryview) and s.stack_user.obj is body  # viewed in place, not copied
    assert hash(s.stack_user) == hash(b"A" * 12) and s == s._replace(stack_user=b"A" * 12)
    body = struct.pack("<QQQ", 1, 0, 0)  # abi NONE, no stack
    s = dec.decode(body, 0, len(body), 2, 0)
    assert tuple(s.regs_user) == (0, 0x1C0, ()) and s.stack_user == b""
    with pytest.raises(CorruptRecord, match="registers"):
        dec.decode(struct.pack("<QQQ", 1, 2, 0x10), 0, 24, 2, 0)
    with pytest.raises(CorruptRecord, match="user stack"):
        dec.decode(struct.pack("<QQQQQQ", 1, 2, 0x10, 0x20, 0x30, 16), 0, 48, 2, 0)


def test_decoders_of_one_sample_type_share_code_not_their_event():
    attr = EventAttr(type=2, sample_type=S.IP | S.TID | S.TIME | S.PERIOD)
    first, second = SampleDecoder(attr, 1), SampleDecoder(attr, 2)
    body = struct.pack("<QIIQQ", 0x10, 3, 4, 5, 6)
    assert first.python_decode.__code__ is second.python_decode.__code__
    assert (first.decode(body, 0, len(body), 2, 0).evsel, second.decode(body, 0, len(body), 2, 0).evsel) == (1, 2)
