"""PERF_RECORD_SAMPLE as an aggregation key: the record's bytes without its TIME and CPU fields.

``perf report`` adds each sample's period to the entry its thread, ip and call chain select. Samples of one
thread that stopped in the same place have identical records except for TIME and CPU, so the report reads
a file of 10 million samples as a few thousand distinct *keys*: the scan cuts each sample into its key
(two slices, one concatenation) and its timestamp, the ordered queue orders keys like records, and the
session counts equal keys with ``collections.Counter`` and resolves each distinct key once. That keeps
the per-sample work to a handful of C calls (bench/report).

A key is ``misc · size · [IDENTIFIER] · [IP] · [TID] · [ADDR · ID · STREAM_ID] · PERIOD · ...``: the
record from its ``misc`` field on, without TIME and CPU (the field order of sample.py's docstring), so it
is itself a sample body for ``sample_type & ~(TIME | CPU)`` and the ordinary compiled decoder reads it
(``KeyLayout.decoder``). Sample types whose records are unique anyway (READ values, branch stacks,
registers, user stacks, AUX data) have no layout: the reader decodes those samples one by one.

The scan walks the chunk as u64 words (perf.data is little-endian, records are u64-aligned) and stops at
anything else (another record type, a sample too short for its fixed fields, a size that is not a
multiple of 8, a record that does not fit in the chunk), where the reader's careful path takes over. It
is ``_speedups.KeyScanner`` (C) when setup.py built it: about 55 ns a sample instead of 420, and a key
seen before comes back as the same bytes object, so ``Counter`` hashes each distinct key once. Otherwise
it is a Python loop generated per sample type with its offsets as constants (as ``sample.SampleDecoder``
is); both give the same keys (tests/test_speedups.py).
"""
from __future__ import annotations

import struct
import sys

from pyperf_probe.perfdata.format import EventAttr, SampleType
from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.perfdata.sample import SampleDecoder

from pyperf_probe.perfdata.speedups import speedups

# Fields that make (nearly) every record unique, or that need per-sample work (the DWARF unwinder).
UNKEYED = (SampleType.READ | SampleType.BRANCH_STACK | SampleType.REGS_USER | SampleType.STACK_USER |
           SampleType.REGS_INTR | SampleType.AUX)
# What a walking layout cannot walk past: READ values (the session delivers one sample per value: they are
# its input) and AUX data.
UNWALKED = SampleType.READ | SampleType.AUX
# Walk steps (see KeyLayout): the kinds _speedups.KeyScanner knows.
STEP_CALLCHAIN, STEP_RAW, STEP_BRANCH, STEP_REGS, STEP_STACK, STEP_WORDS = range(1, 7)
_FIXED_BEFORE = (SampleType.IDENTIFIER | SampleType.IP | SampleType.TID | SampleType.TIME | SampleType.ADDR |
                 SampleType.ID | SampleType.STREAM_ID | SampleType.CPU | SampleType.PERIOD)
# Header word: type (bits 0-31) is PERF_RECORD_SAMPLE and size (bits 48-63) is a multiple of 8.
_SAMPLE_WORD_MASK = 0x0007_0000_FFFF_FFFF
MAX_RECORD_WORDS = 0xFFFF >> 3  # perf_event_header.size is a u16
_SIZE_LOW_BITS = 7 << 48  # a header word's size is not a multiple of 8


class KeyLayout(Frozen):
    """Where a sample type's TIME and CPU are, and what its key is (see the module docstring).

    Offsets are bytes from the record's start (header included): the key is ``record[4:head_end]`` +
    ``record[mid_start:mid_end]`` (ADDR, ID, STREAM_ID: empty when absent) + ``record[tail_start:]``;
    ``time_word`` is TIME's offset in u64 words; ``fixed_end`` the end of the fixed-size fields every
    record of the type must hold; ``id_offset`` the sample id's offset in a key (IDENTIFIER, else ID) and
    ``pid_offset`` the pid/tid pair's, None without one.

    A ``timed`` layout (``of(sample_type, timed=True)``, script's walk: every sample is printed with its
    own time and cpu) keeps CPU in the key, drops only TIME, and its scanner gives each sample as the pair
    ``(key, time)``.

    A walking layout (``of(sample_type, walk=(regs_user, regs_intr, hw_index))``: for a reader that uses
    none of the variable fields but RAW, such as script without call chains) keys the fixed fields and RAW
    alone: ``walk`` lists the fields after ``fixed_end`` as steps ``(kind, param)`` (STEP_*), walked past
    with the decoder's checks (a record one of them overruns is not keyed: decoding it says what is
    wrong), so that samples differing by their chain, user stack or registers share a key. With
    ``raw=False`` its keys leave RAW out as well (report sorting tracepoint samples by comm, dso, sym: a
    system-wide recording's RAW records hold pids and counters, nearly every one new); with ``chain=True``
    they keep the call chain, which follows the fixed fields (``key_type`` says which fields a key holds)."""

    __slots__ = ()
    _fields = ("sample_type", "time_word", "head_end", "mid_start", "mid_end", "tail_start", "fixed_end",
               "key_type", "id_offset", "pid_offset", "timed", "walk")

    def __new__(cls, sample_type: int, time_word: int, head_end: int, mid_start: int, mid_end: int,
                tail_start: int, fixed_end: int, key_type: int, id_offset: int | None, pid_offset: int | None,
                timed: bool = False, walk: tuple = ()):
        return tuple.__new__(cls, (sample_type, time_word, head_end, mid_start, mid_end, tail_start, fixed_end,
                                   key_type, id_offset, pid_offset, timed, walk))

    @classmethod
    def of(cls, sample_type: int, timed: bool = False, walk: tuple | None = None,
           raw: bool = True, chain: bool = False) -> KeyLayout | None:
        """The layout of ``sample_type``, or None when its samples are not keyed (no TIME, UNKEYED fields,
        or a big-endian host); ``timed``: the layout whose keys keep CPU; ``walk``: (registers in the user
        mask, in the interrupt mask, whether branch stacks hold hw_idx) for a walking layout (see the class
        docstring); ``raw=False`` (with ``walk``): a walking layout whose keys leave RAW out too (RAW is
        still walked past with its check), for a reader that uses none of the variable fields; ``chain=True``
        (with ``walk``): its keys keep the call chain after the fixed fields (report --no-children of chained
        uprobe samples with an argument: the chains repeat, the arguments do not)."""
        if not sample_type & SampleType.TIME or sys.byteorder != "little":
            return None
        if sample_type & (UNKEYED if walk is None else UNWALKED):
            return None
        has = lambda bit: 1 if sample_type & bit else 0  # noqa: E731
        time_word = 1 + has(SampleType.IDENTIFIER) + has(SampleType.IP) + has(SampleType.TID)
        mid_words = has(SampleType.ADDR) + has(SampleType.ID) + has(SampleType.STREAM_ID)
        mid_start = 8 * (time_word + 1)
        mid_end = mid_start + 8 * mid_words
        tail_start = mid_end + 8 * has(SampleType.CPU)
        if not has(SampleType.CPU) or timed:  # TIME is the only field to drop: one slice after it
            mid_start = mid_end = tail_start = 8 * (time_word + 1)
        id_offset = None
        if sample_type & SampleType.IDENTIFIER:
            id_offset = 4
        elif sample_type & SampleType.ID:
            id_offset = 4 + 8 * (has(SampleType.IP) + has(SampleType.TID) + has(SampleType.ADDR))
        pid_offset = 4 + 8 * (has(SampleType.IDENTIFIER) + has(SampleType.IP)) if has(SampleType.TID) else None
        fixed_end = 8 * (time_word + 1 + mid_words + has(SampleType.CPU) + has(SampleType.PERIOD))
        dropped = SampleType.TIME if timed else SampleType.TIME | SampleType.CPU
        steps = _steps(sample_type, *walk, keep_raw=raw, keep_chain=chain) if walk is not None else ()
        key_type = sample_type & ~dropped
        if steps:
            key_type &= _FIXED_BEFORE | (SampleType.RAW if raw else 0) | (SampleType.CALLCHAIN if chain else 0)
        return cls(sample_type, time_word, 8 * time_word, mid_start, mid_end, tail_start, fixed_end,
                   key_type, id_offset, pid_offset, timed, steps)

    def raw_offset(self) -> int | None:
        """Where RAW's u32 size is in a key, when RAW ends the key at a fixed place (no CALLCHAIN before it,
        no field after it: tracepoint samples without call chains, or any key of a walking layout); else
        None."""
        st = self.sample_type
        after = st & ~((SampleType.RAW << 1) - 1) & ~SampleType.IDENTIFIER  # (IDENTIFIER comes first)
        chained = st & SampleType.CALLCHAIN if not self.walk else self.key_type & SampleType.CALLCHAIN
        if not self.key_type & SampleType.RAW or chained or (not self.walk and after):
            return None
        before = (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.ADDR, SampleType.ID,
                  SampleType.STREAM_ID, SampleType.PERIOD) + ((SampleType.CPU,) if self.timed else ())
        return 4 + 8 * sum(1 for bit in before if st & bit)

    def chain_offset(self) -> int | None:
        """Where the call chain's u64 ``nr`` is in a key whose chain is followed by RAW, which ends the key
        (frame-pointer chains of uprobe or tracepoint samples: CALLCHAIN and RAW are adjacent in the record,
        sample.py's field order): RAW's u32 size is then at that offset + 8 + 8 * nr; else None (the key
        has no chain, no RAW, or fields after RAW)."""
        st = self.sample_type
        after = st & ~((SampleType.RAW << 1) - 1) & ~SampleType.IDENTIFIER
        chained = st & SampleType.CALLCHAIN if not self.walk else self.key_type & SampleType.CALLCHAIN
        if not self.key_type & SampleType.RAW or not chained or (not self.walk and after):
            return None
        before = (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.ADDR, SampleType.ID,
                  SampleType.STREAM_ID, SampleType.PERIOD) + ((SampleType.CPU,) if self.timed else ())
        return 4 + 8 * sum(1 for bit in before if st & bit)

    def key_of(self, record: bytes) -> bytes | None:
        """The key of one whole sample record (at least ``fixed_end`` bytes); None when a walking layout's
        field overruns it."""
        if not self.walk:
            return record[4:self.head_end] + record[self.mid_start:self.mid_end] + record[self.tail_start:]
        walked = walk_record(self.walk, record, self.fixed_end)
        if walked is None:
            return None
        raw_at, raw_len, kept = walked
        return (record[4:self.head_end] + record[self.mid_start:self.mid_end] +
                record[self.tail_start:kept] + record[raw_at:raw_at + raw_len])

    def decoder(self, attr: EventAttr, evsel: int):
        """``decode(key) -> Sample`` for the keys of event ``evsel`` (``time``, ``cpu`` and ``file_offset``
        None); raises ``sample.CorruptRecord`` as decoding the record would."""
        decode = SampleDecoder(attr.replace(sample_type=self.key_type), evsel).decode
        return lambda key: decode(key, 4, len(key), key[0] | key[1] << 8, None)

    def scanner(self, side: tuple | None = None):
        """``scan(buf, words, i, nwords, times, keys) -> i``: from u64 word ``i`` of ``buf`` (``words`` its
        u64 view), append each sample's TIME to ``times`` and its key (a timed layout's: the pair
        ``(key, time)``) to ``keys``, up to the first record this loop does not take; return that record's
        word index (``nwords`` at the chunk's end). With ``side`` (``records.side_spec``), the MMAP, MMAP2,
        COMM, FORK and EXIT records ``records.side_record`` takes are taken too: their time to ``times``,
        the record itself to ``keys``. The C scan (``_speedups.KeyScanner``: equal keys come back as one
        object) when it was built, else the generated Python loop (``python_scanner``)."""
        if speedups is None:
            return self.python_scanner(side)
        return speedups.KeyScanner(self.time_word, self.head_end, self.mid_start, self.mid_end, self.tail_start,
                                   self.fixed_end, self.timed, self.walk, side)

    def python_scanner(self, side: tuple | None = None):
        """``scanner(side)`` as a Python loop generated for this layout, its offsets as constants (a walking
        layout's: ``key_of`` on each record); the side records by ``records.side_record``."""
        scan = self._python_sample_scanner()
        if side is None:
            return scan
        from pyperf_probe.perfdata.records import side_record

        def scan_side(buf, w, i, nw, times, keys):
            while True:
                i = scan(buf, w, i, nw, times, keys)
                if i >= nw:
                    return i
                h = w[i]
                s = h >> 51
                if h & _SIZE_LOW_BITS or not s or s > nw - i:
                    return i
                got = side_record(side, buf, i << 3, s << 3)
                if got is None:
                    return i
                times.append(got[0])
                keys.append(got[1])
                i += s
        return scan_side

    def _python_sample_scanner(self):
        mid = f" + buf[o + {self.mid_start}:o + {self.mid_end}]" if self.mid_end > self.mid_start else ""
        key = f"buf[o + 4:o + {self.head_end}]{mid} + buf[o + {self.tail_start}:o + (s << 3)]"
        if self.walk:
            key = "k"
        take = "k = key_of(buf[o:o + (s << 3)])\n        if k is None:\n            break\n        " \
            if self.walk else ""
        loop = f"""
    while i < LIMIT:
        h = w[i]
        if h & {_SAMPLE_WORD_MASK:#x} != 9:
            break
        s = h >> 51
        if s < {self.fixed_end >> 3}CHECK:
            break
        o = i << 3
        {take}t = w[i + {self.time_word}]
        ta(t)
        ka({f"({key}, t)" if self.timed else key})
        i += s"""
        # Records starting before nw - MAX_RECORD_WORDS end inside the chunk: that loop needs no bound check.
        source = ("def scan(buf, w, i, nw, times, keys):\n    ta = times.append\n    ka = keys.append\n"
                  f"    safe = nw - {MAX_RECORD_WORDS}" + loop.replace("LIMIT", "safe").replace("CHECK", "") +
                  "\n    if i < safe:\n        return i" +
                  loop.replace("LIMIT", "nw").replace("CHECK", " or i + s > nw") + "\n    return i\n")
        namespace: dict = {"key_of": self.key_of}
        exec(compile(source, f"<sample key scan 0x{self.sample_type:x}>", "exec"), namespace)
        return namespace["scan"]


def _steps(sample_type: int, regs_user: int, regs_intr: int, hw_index: bool, keep_raw: bool = True,
           keep_chain: bool = False) -> tuple:
    """The walk steps of the fields after the fixed ones (perfdata.sample's order); RAW's step has
    param 1 when the key leaves it out (``keep_raw`` False), CALLCHAIN's when the key keeps it
    (``keep_chain``: it directly follows the fixed fields, READ being unwalked)."""
    steps: list[tuple[int, int]] = []

    def words(n: int) -> None:
        if steps and steps[-1][0] == STEP_WORDS:
            steps[-1] = (STEP_WORDS, steps[-1][1] + n)
        else:
            steps.append((STEP_WORDS, n))
    for bit, step in ((SampleType.CALLCHAIN, (STEP_CALLCHAIN, int(keep_chain))), (SampleType.RAW, (STEP_RAW, 0 if keep_raw else 1)),
                      (SampleType.BRANCH_STACK, (STEP_BRANCH, int(hw_index))),
                      (SampleType.REGS_USER, (STEP_REGS, regs_user)), (SampleType.STACK_USER, (STEP_STACK, 0)),
                      (SampleType.WEIGHT | SampleType.WEIGHT_STRUCT, None), (SampleType.DATA_SRC, None),
                      (SampleType.TRANSACTION, None), (SampleType.REGS_INTR, (STEP_REGS, regs_intr)),
                      (SampleType.PHYS_ADDR, None), (SampleType.CGROUP, None), (SampleType.DATA_PAGE_SIZE, None),
                      (SampleType.CODE_PAGE_SIZE, None)):
        if sample_type & bit:
            if step is None:
                words(1)
            else:
                steps.append(step)
    return tuple(steps)


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def walk_record(steps: tuple, record: bytes, fixed_end: int) -> tuple[int, int, int] | None:
    """_speedups.c's walk_record: (where RAW's u32 size is, its length with the data -- 0, 0 without RAW, or
    when its step's param says to leave it out --, the end of the key's fixed part: ``fixed_end``, or the
    call chain's end when its step's param says to keep it) past the variable fields of a whole record, or
    None when one of them overruns it (sample.py's checks)."""
    pos, end, raw, kept = fixed_end, len(record), (0, 0), fixed_end
    for kind, param in steps:
        if kind == STEP_RAW:
            if pos + 4 > end:
                return None
            size = _U32.unpack_from(record, pos)[0]
            if size > end - pos - 4:
                return None
            if not param:
                raw = (pos, 4 + size)
            pos += (size + 11) & ~7
        elif kind == STEP_WORDS:
            if pos + 8 * param > end:
                return None
            pos += 8 * param
        else:
            if pos + 8 > end:
                return None
            n = _U64.unpack_from(record, pos)[0]
            if kind == STEP_CALLCHAIN:
                pos += 8
                if n > (end - pos) >> 3:
                    return None
                pos += 8 * n
                if param:
                    kept = pos
            elif kind == STEP_BRANCH:
                pos += 16 if param else 8
                if n * 3 > (end - pos) >> 3:
                    return None
                pos += 24 * n
            elif kind == STEP_REGS:
                if not n:
                    pos += 8
                elif param > (end - pos - 8) >> 3:
                    return None
                else:
                    pos += 8 + 8 * param
            else:  # STEP_STACK
                if not n:
                    pos += 8
                elif n > end - pos - 16 or _U64.unpack_from(record, pos + 8 + n)[0] > n:
                    return None
                else:
                    pos += 16 + n
    return raw + (kept,)
