"""PERF_RECORD_SAMPLE: the ``Sample`` tuple and one compiled decoder per ``sample_type``.

The body layout is ``struct perf_event_header`` followed by the fields of ``include/uapi/linux/perf_event.h``
("PERF_RECORD_SAMPLE" comment), each present only if its bit is set in ``attr.sample_type``, in this fixed
order (perf-formats.md §1.4; perf's decoder is ``evsel__parse_sample()`` in tools/perf/util/evsel.c)::

    IDENTIFIER · IP · TID · TIME · ADDR · ID · STREAM_ID · CPU · PERIOD · READ · CALLCHAIN · RAW ·
    BRANCH_STACK · REGS_USER · STACK_USER · WEIGHT · DATA_SRC · TRANSACTION · REGS_INTR · PHYS_ADDR ·
    CGROUP · DATA_PAGE_SIZE · CODE_PAGE_SIZE · AUX

This is the reader's hot path (one call per sample), so the decoder for a given attr is compiled once:
consecutive fixed-size fields are merged into one ``struct.Struct`` (one ``unpack_from`` for
IP|TID|TIME|CPU|PERIOD), CALLCHAIN and RAW (in every ``-g`` uprobe sample) and REGS_USER and STACK_USER
(in every ``--call-graph dwarf`` sample) are written out inline, the rarer variable parts (READ,
BRANCH_STACK, ...) are one helper call each, every length is checked against the record's end before
anything is sliced, and the result is built with a single
``tuple.__new__`` (``Sample`` is a tuple record, ``pyperf_probe.records.Record``, built as a NamedTuple
is without ``typing``'s import: 0.16-0.3 us to build against 2.7-3.7 us for a frozen dataclass of the
same fields, bench/read_only). The decoder's source is generated from the attr, the way
``collections.namedtuple`` and ``dataclasses`` generate theirs; ``SampleDecoder.source`` shows it.
"""
from __future__ import annotations

import struct

from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata.format import EventAttr, ReadFormat, SampleType
from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.perfdata.speedups import speedups

U64 = struct.Struct("<Q")
U32 = struct.Struct("<I")
BRANCH_HW_INDEX = 1 << 17  # PERF_SAMPLE_BRANCH_HW_INDEX in attr.branch_sample_type


class CorruptRecord(PerfDataError):
    """A record whose fields do not fit in its own size (``OVERFLOW_CHECK`` in perf's evsel.c)."""


class Regs(Frozen):
    """A REGS_USER / REGS_INTR block: ``abi`` (PERF_SAMPLE_REGS_ABI_*), the attr's register ``mask``
    and one value per set bit of the mask, lowest bit first (empty when abi is NONE)."""

    __slots__ = ()
    _fields = ("abi", "mask", "values")
    __eq__, __ne__, __hash__ = tuple.__eq__, tuple.__ne__, tuple.__hash__  # a NamedTuple's: values only

    def __new__(cls, abi: int, mask: int, values: tuple[int, ...]):
        return tuple.__new__(cls, (abi, mask, values))

    def get(self, reg: int) -> int | None:
        """The value of register number ``reg`` (``enum perf_event_x86_regs``), if it was sampled."""
        if not self.values or not self.mask >> reg & 1:
            return None
        return self.values[bin(self.mask & ((1 << reg) - 1)).count("1")]


class Sample(Frozen):
    """One decoded PERF_RECORD_SAMPLE (``struct perf_sample`` in tools/perf/util/sample.h).

    ``evsel`` is the index of the attr the sample belongs to; ``time`` is None without PERF_SAMPLE_TIME;
    ``callchain`` holds the raw u64 entries, context markers included; ``raw`` the tracepoint record;
    ``stack_user`` the valid (``dyn_size``) bytes of the copied user stack, a read-only ``memoryview`` of
    the record's own bytes (equal and hashing as the bytes would: a 4 KB ``--call-graph dwarf`` copy per
    sample, and its fresh pages, cost more than the unwinding of most samples); ``file_offset`` where the
    record starts in the file.
    """

    __slots__ = ()
    _fields = ("evsel", "misc", "time", "pid", "tid", "ip", "period", "cpu", "callchain", "raw", "id", "stream_id",
               "addr", "read", "branch_stack", "regs_user", "stack_user", "weight", "data_src", "transaction",
               "regs_intr", "phys_addr", "cgroup", "data_page_size", "code_page_size", "aux", "file_offset")
    __eq__, __ne__, __hash__ = tuple.__eq__, tuple.__ne__, tuple.__hash__  # a NamedTuple's: values only

    def __new__(cls, evsel: int, misc: int, time: int | None, pid: int | None, tid: int | None,
                ip: int | None, period: int, cpu: int | None, callchain: tuple[int, ...] | None,
                raw: bytes | None, id: int | None, stream_id: int | None, addr: int | None,
                read: tuple | None, branch_stack: tuple[tuple[int, int, int], ...] | None,
                regs_user: Regs | None, stack_user: bytes | None, weight: int | None,
                data_src: int | None, transaction: int | None, regs_intr: Regs | None,
                phys_addr: int | None, cgroup: int | None, data_page_size: int | None,
                code_page_size: int | None, aux: bytes | None, file_offset: int):
        return tuple.__new__(cls, (evsel, misc, time, pid, tid, ip, period, cpu, callchain, raw, id, stream_id, addr,
                                   read, branch_stack, regs_user, stack_user, weight, data_src, transaction,
                                   regs_intr, phys_addr, cgroup, data_page_size, code_page_size, aux, file_offset))


# Fixed-size fields: sample_type bit -> (struct codes, names); "_" names are padding dropped from Sample.
_FIXED = {
    SampleType.IDENTIFIER: ("Q", ("id",)),
    SampleType.IP: ("Q", ("ip",)),
    SampleType.TID: ("ii", ("pid", "tid")),
    SampleType.TIME: ("Q", ("time",)),
    SampleType.ADDR: ("Q", ("addr",)),
    SampleType.ID: ("Q", ("id",)),
    SampleType.STREAM_ID: ("Q", ("stream_id",)),
    SampleType.CPU: ("II", ("cpu", "_cpu_res")),
    SampleType.PERIOD: ("Q", ("period",)),
    SampleType.WEIGHT: ("Q", ("weight",)),
    SampleType.WEIGHT_STRUCT: ("Q", ("weight",)),
    SampleType.DATA_SRC: ("Q", ("data_src",)),
    SampleType.TRANSACTION: ("Q", ("transaction",)),
    SampleType.PHYS_ADDR: ("Q", ("phys_addr",)),
    SampleType.CGROUP: ("Q", ("cgroup",)),
    SampleType.DATA_PAGE_SIZE: ("Q", ("data_page_size",)),
    SampleType.CODE_PAGE_SIZE: ("Q", ("code_page_size",)),
}

# Variable-size fields: sample_type bit -> (Sample field, helper name in the generated code's namespace).
_VARIABLE = {
    SampleType.READ: ("read", "_read"),
    SampleType.CALLCHAIN: ("callchain", None),  # inline: _INLINE
    SampleType.RAW: ("raw", None),
    SampleType.BRANCH_STACK: ("branch_stack", "_branch_stack"),
    SampleType.REGS_USER: ("regs_user", None),  # inline: _regs_user_lines
    SampleType.STACK_USER: ("stack_user", None),  # inline: _INLINE
    SampleType.REGS_INTR: ("regs_intr", "_regs_intr"),
    SampleType.AUX: ("aux", "_aux"),
}

# evsel__parse_sample()'s order. WEIGHT and WEIGHT_STRUCT share one slot.
_ORDER = (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.TIME, SampleType.ADDR,
          SampleType.ID, SampleType.STREAM_ID, SampleType.CPU, SampleType.PERIOD, SampleType.READ,
          SampleType.CALLCHAIN, SampleType.RAW, SampleType.BRANCH_STACK, SampleType.REGS_USER,
          SampleType.STACK_USER, SampleType.WEIGHT | SampleType.WEIGHT_STRUCT, SampleType.DATA_SRC,
          SampleType.TRANSACTION, SampleType.REGS_INTR, SampleType.PHYS_ADDR, SampleType.CGROUP,
          SampleType.DATA_PAGE_SIZE, SampleType.CODE_PAGE_SIZE, SampleType.AUX)

_CHAIN_STRUCTS: dict[int, struct.Struct] = {}


def _corrupt(what: str, pos: int) -> CorruptRecord:
    return CorruptRecord(f"corrupt sample: {what} overruns the record (at byte {pos})")


def _u64_array(buf, pos: int, end: int, nr: int, what: str) -> tuple[int, ...]:
    """``nr`` u64 at ``pos``, refusing (before allocating) an ``nr`` that the record cannot hold."""
    if nr > (end - pos) >> 3:
        raise _corrupt(what, pos)
    st = _CHAIN_STRUCTS.get(nr)
    if st is None:
        st = struct.Struct(f"<{nr}Q")
        if len(_CHAIN_STRUCTS) < 4096:
            _CHAIN_STRUCTS[nr] = st
    return st.unpack_from(buf, pos)


def _branch_stack(buf, pos: int, end: int, hw_index: bool):
    """``u64 nr; [u64 hw_idx;] struct perf_branch_entry lbr[nr]`` (from, to, flags: 3 u64)."""
    if pos + 8 > end:
        raise _corrupt("branch stack", pos)
    nr = U64.unpack_from(buf, pos)[0]
    pos += 16 if hw_index else 8
    words = _u64_array(buf, pos, end, nr * 3, "branch stack")
    return tuple(zip(words[0::3], words[1::3], words[2::3])), pos + 24 * nr


def _regs(buf, pos: int, end: int, mask: int):
    """``u64 abi; u64 regs[weight(mask)]`` (regs only if abi != PERF_SAMPLE_REGS_ABI_NONE)."""
    if pos + 8 > end:
        raise _corrupt("registers", pos)
    abi = U64.unpack_from(buf, pos)[0]
    if not abi:
        return Regs(0, mask, ()), pos + 8
    nr = bin(mask).count("1")
    return Regs(abi, mask, _u64_array(buf, pos + 8, end, nr, "registers")), pos + 8 + 8 * nr


def _aux(buf, pos: int, end: int):
    """``u64 size; char data[size]``."""
    if pos + 8 > end:
        raise _corrupt("aux data", pos)
    size = U64.unpack_from(buf, pos)[0]
    if size > end - pos - 8:
        raise _corrupt("aux data", pos)
    return bytes(buf[pos + 8:pos + 8 + size]), pos + 8 + size


def _read_values(buf, pos: int, end: int, read_format: int):
    """``struct read_format`` (perf_event.h): a group {nr, [enabled], [running], {value, [id], [lost]}[nr]}
    or a single {value, [enabled], [running], [id], [lost]}; returned as the flat tuple of its u64."""
    per = 1 + bool(read_format & ReadFormat.ID) + bool(read_format & ReadFormat.LOST)
    times = bool(read_format & ReadFormat.TOTAL_TIME_ENABLED) + bool(read_format & ReadFormat.TOTAL_TIME_RUNNING)
    if read_format & ReadFormat.GROUP:
        if pos + 8 > end:
            raise _corrupt("read values", pos)
        nr = U64.unpack_from(buf, pos)[0]
        if nr > (end - pos) >> 3:
            raise _corrupt("read values", pos)
        count = 1 + times + nr * per
    else:
        count = per + times
    return _u64_array(buf, pos, end, count, "read values"), pos + 8 * count


KNOWN_SAMPLE_TYPE = (SampleType.WEIGHT_STRUCT << 1) - 1
# What _speedups.SampleCodec leaves to the Python decoder: the rarer variable-size fields.
_NOT_IN_C = SampleType.READ | SampleType.BRANCH_STACK | SampleType.REGS_INTR | SampleType.AUX


class SampleDecoder:
    """The compiled decoder of one attr: ``decode(buf, pos, end, misc, file_offset) -> Sample`` reads the
    body that starts at ``pos`` (just after the record header) and must end by ``end``. ``decode`` is
    ``_speedups.SampleCodec`` (C) when it was built and reads every field of the type, else the generated
    Python decoder (``python_decode``, its twin); ``decode_run`` is the C loop over delivered entries
    (``stream._decode_batches``), or None.

    A sample_type with bits this decoder does not know is refused (PerfDataError): their fields' sizes,
    and so the place of every field after them, are unknown."""

    def __init__(self, attr: EventAttr, evsel: int):
        if attr.sample_type & ~KNOWN_SAMPLE_TYPE:
            raise PerfDataError(f"unsupported sample_type bits {attr.sample_type & ~KNOWN_SAMPLE_TYPE:#x} "
                                f"in event {evsel}")
        self.sample_type = attr.sample_type
        self._attr, self._evsel = attr, evsel
        self._source = self._python_decode = None
        self.decode_run = None
        # the C loop (_speedups.SampleCodec: this decoder is its twin and its fallback) where it reads
        # every field of the type; the Python decoder is then generated only when the codec hands it a
        # record (compiling it is ~2 ms of CPU, a fortieth of a whole make.data report that never calls it)
        if speedups is not None and hasattr(speedups, "SampleCodec") and not attr.sample_type & _NOT_IN_C:
            codec = speedups.SampleCodec(attr.sample_type, evsel, attr.sample_period, attr.sample_regs_user,
                                         Sample, Regs, self._fallback)
            self.decode, self.decode_run = codec, codec.decode_run
        else:
            self.decode = self.python_decode

    @property
    def source(self) -> str:
        """The generated Python decoder's source."""
        if self._source is None:
            self._generate()
        return self._source

    @property
    def python_decode(self):
        """The generated Python decoder (compiled on first use; events of one sample_type share the code)."""
        if self._python_decode is None:
            self._generate()
        return self._python_decode

    def _generate(self) -> None:
        attr = self._attr
        self._source, structs = _generate(attr, self._evsel)
        namespace = _namespace(attr)
        namespace.update(structs)
        namespace["_evsel"] = self._evsel
        code = _CODE.get(self._source)
        if code is None:  # (events of one sample_type share it: a system-wide recording has dozens)
            code = _CODE[self._source] = compile(self._source, f"<sample decoder 0x{attr.sample_type:x}>", "exec")
        exec(code, namespace)
        self._python_decode = namespace["decode"]

    def _fallback(self, *args):
        """What the C codec calls for a record it does not decode: the Python decoder, which raises what it raises."""
        return self.python_decode(*args)


_CODE: dict[str, object] = {}  # generated source -> its code object


# CALLCHAIN (u64 nr; u64 ips[nr]: struct ip_callchain) and RAW (u32 size; char data[size], the two
# together u64-aligned), in every -g uprobe sample, are written out in the decoder: no call each.
_INLINE = {
    SampleType.CALLCHAIN: [
        "    if pos + 8 > end: raise _corrupt('callchain', pos)",
        "    nr = _u64(buf, pos)[0]",
        "    pos += 8",
        "    if nr > (end - pos) >> 3: raise _corrupt('callchain', pos)",
        "    callchain = (_chains.get(nr) or _chain_struct(nr)).unpack_from(buf, pos)",
        "    pos += nr << 3",
    ],
    SampleType.RAW: [
        "    if pos + 4 > end: raise _corrupt('raw data', pos)",
        "    size = _u32(buf, pos)[0]",
        "    if size > end - pos - 4: raise _corrupt('raw data', pos)",
        "    raw = buf[pos + 4:pos + 4 + size]",
        "    pos += (size + 11) & ~7",
    ],
    # STACK_USER (u64 size; char data[size]; u64 dyn_size when size != 0: the valid bytes, viewed in
    # place), in every --call-graph dwarf sample
    SampleType.STACK_USER: [
        "    if pos + 8 > end: raise _corrupt('user stack', pos)",
        "    stack_size = _u64(buf, pos)[0]",
        "    if stack_size:",
        "        if stack_size > end - pos - 16: raise _corrupt('user stack', pos)",
        "        dyn_size = _u64(buf, pos + 8 + stack_size)[0]",
        "        if dyn_size > stack_size: raise _corrupt('user stack dump (dyn_size > size)', pos)",
        "        stack_user = _view(buf)[pos + 8:pos + 8 + dyn_size]",
        "        pos += 16 + stack_size",
        "    else:",
        "        stack_user = b''",
        "        pos += 8",
    ],
}


def _regs_user_lines(mask: int, structs: dict[str, struct.Struct]) -> list[str]:
    """REGS_USER written out (``_regs`` for this attr's mask: its register count and struct made once),
    in every --call-graph dwarf sample."""
    nr = bin(mask).count("1")
    structs["_REGS_USER"] = struct.Struct(f"<{nr}Q")
    return [
        "    if pos + 8 > end: raise _corrupt('registers', pos)",
        "    abi = _u64(buf, pos)[0]",
        "    if abi:",
        f"        if {nr} > (end - pos - 8) >> 3: raise _corrupt('registers', pos + 8)",
        f"        regs_user = _new(Regs, (abi, {mask}, _REGS_USER.unpack_from(buf, pos + 8)))",
        f"        pos += {8 + 8 * nr}",
        "    else:",
        f"        regs_user = _new(Regs, (0, {mask}, ()))",
        "        pos += 8",
    ]


def _chain_struct(nr: int) -> struct.Struct:
    st = struct.Struct(f"<{nr}Q")
    if len(_CHAIN_STRUCTS) < 4096:
        _CHAIN_STRUCTS[nr] = st
    return st


def _namespace(attr: EventAttr) -> dict:
    hw_index = bool(attr.branch_sample_type & BRANCH_HW_INDEX)
    return {
        "_u64": U64.unpack_from, "_u32": U32.unpack_from, "_chains": _CHAIN_STRUCTS, "_chain_struct": _chain_struct,
        "_new": tuple.__new__, "Sample": Sample, "Regs": Regs, "_corrupt": _corrupt, "_view": memoryview,
        "_aux": _aux,
        "_read": lambda b, p, e: _read_values(b, p, e, attr.read_format),
        "_branch_stack": lambda b, p, e: _branch_stack(b, p, e, hw_index),
        "_regs_intr": lambda b, p, e: _regs(b, p, e, attr.sample_regs_intr),
    }


def _generate(attr: EventAttr, evsel: int) -> tuple[str, dict[str, struct.Struct]]:
    """Python source of ``decode`` for this attr, and the structs it refers to (``_S0``, ``_S1``...)."""
    values = {"evsel": "_evsel", "misc": "misc", "file_offset": "file_offset",
              "period": str(attr.sample_period)}  # no PERIOD bit: perf uses attr.sample_period
    body: list[str] = []
    structs: dict[str, struct.Struct] = {}
    run: list[tuple[str, tuple[str, ...]]] = []  # the pending run of fixed-size fields

    def flush_run():
        if not run:
            return
        name = f"_S{len(structs)}"
        structs[name] = st = struct.Struct("<" + "".join(codes for codes, _ in run))
        fields = [f for _, names in run for f in names]
        body.append(f"    if pos + {st.size} > end: raise _corrupt('fixed fields', pos)")
        body.append(f"    {', '.join(f if f[0] != '_' else '_' for f in fields)}, = {name}.unpack_from(buf, pos)")
        body.append(f"    pos += {st.size}")
        values.update({f: f for f in fields if f[0] != "_"})
        run.clear()

    for bits in _ORDER:
        bit = attr.sample_type & bits
        if not bit:
            continue
        if bits in _VARIABLE:
            flush_run()
            field, helper = _VARIABLE[bits]
            if bits == SampleType.REGS_USER:
                body.extend(_regs_user_lines(attr.sample_regs_user, structs))
            elif bits == SampleType.RAW and attr.sample_type & SampleType.STACK_USER:
                # the reader may hand these records as memoryviews (stream._view_samples): RAW as bytes
                body.extend(line.replace("raw = buf[", "raw = bytes(buf[").replace("+ size]", "+ size])")
                            if line.lstrip().startswith("raw =") else line for line in _INLINE[bits])
            else:
                body.extend(_INLINE.get(bits) or [f"    {field}, pos = {helper}(buf, pos, end)"])
            values[field] = field
        else:
            run.append(_FIXED[bit & -bit])  # WEIGHT and WEIGHT_STRUCT: one u64
    flush_run()
    args = ", ".join(values.get(name, "None") for name in Sample._fields)
    source = "def decode(buf, pos, end, misc, file_offset):\n" + "\n".join(body)
    return source + f"\n    return _new(Sample, ({args}))\n", structs
