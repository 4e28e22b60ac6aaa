"""pprof's profile.proto (github.com/google/pprof, proto/profile.proto), gzipped: what ``go tool pprof`` reads
and what the continuous-profiling servers (Pyroscope, Parca) ingest. Beyond perf.

The profile: two sample types per event, ``EVENT`` (unit ``count``: samples) and ``EVENT:period``
(``nanoseconds`` for the software clocks, else ``events``: the periods' sum), the first event's count the
default; one Sample per distinct (call stack, pid, tid, comm), with labels ``pid``, ``tid`` (numbers) and
``comm``; a Mapping per mapped file range (filename, build-id, file offset); a Location per distinct
address, leaf first in each Sample; a Function per (name, file) with the file and declaration line where
DWARF has them; inline frames as the Location's extra ``Line`` entries, innermost first and the function
they were inlined into last (profile.proto's convention), each with the line DWARF gives (the call site's
line for the callers). The stacks are the session's, as ``pyperf report`` and ``pyperf script`` show them:
tracepoint and probe samples too, DWARF-unwound chains included.

The encoder is written here (about 40 lines of the protobuf wire format: varints, length-delimited fields,
packed repeated integers) rather than taken from the ``protobuf`` package: that package is a 2.7 MB install
whose ``descriptor_pb2`` alone takes ~30 ms to import (upb backend, measured for protobuf 7.36 here), and
profile.proto would still need generated code tied to its runtime version or descriptors built at run
time; the profile needs five scalar wire types and no parsing. Samples are aggregated before encoding, so
the encoding work grows with the distinct stacks, not with the samples.
"""
from __future__ import annotations

import gzip

from pyperf_probe import lazylog as log

# --- protobuf wire format (developers.google.com/protocol-buffers/docs/encoding) ---------------------------

VARINT, LEN = 0, 2


def varint(value: int) -> bytes:
    """Base-128 varint; negative int64 values as their two's complement (10 bytes)."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    """A varint field; proto3 leaves a zero scalar out."""
    return varint(number << 3 | VARINT) + varint(value) if value else b""


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | LEN) + varint(len(payload)) + payload


def field_packed(number: int, values) -> bytes:
    """A packed repeated integer field (proto3's default for repeated scalars)."""
    if not values:
        return b""
    return field_bytes(number, b"".join(varint(v) for v in values))


# --- profile.proto field numbers ---------------------------------------------------------------------------
# Profile: sample_type 1, sample 2, mapping 3, location 4, function 5, string_table 6, time_nanos 9,
#   duration_nanos 10, comment 13, default_sample_type 14.  ValueType: type 1, unit 2.
# Sample: location_id 1, value 2, label 3.  Label: key 1, str 2, num 3.
# Mapping: id 1, memory_start 2, memory_limit 3, file_offset 4, filename 5, build_id 6, has_functions 7,
#   has_filenames 8, has_line_numbers 9, has_inline_frames 10.
# Location: id 1, mapping_id 2, address 3, line 4.  Line: function_id 1, line 2.
# Function: id 1, name 2, system_name 3, filename 4, start_line 5.

CLOCK_EVENTS = ("cpu-clock", "task-clock")
MEMO_LIMIT = 1 << 16


class Stats:
    """What was written: bytes, samples and the distinct locations and functions."""

    def __init__(self):
        self.size = self.samples = self.locations = self.functions = 0


class ProfileBuilder:
    """Aggregates resolved samples into a profile.proto message (see the module docstring)."""

    def __init__(self, session, evsels, lines: bool = True):
        self.session = session
        self.strings: dict[str, int] = {"": 0}
        self.nr_values = 2 * len(evsels)
        self.sample_types = []
        for ev in evsels:
            name = ev.name or f"event{ev.index}"
            unit = "nanoseconds" if name.split(":")[0] in CLOCK_EVENTS else "events"
            self.sample_types += [(name, "count"), (f"{name}:period", unit)]
        self.mappings: dict = {}         # (start, end, pgoff, dso) -> (id, message without flags)
        self.locations: dict = {}        # frame group (tuple of Frames) -> id
        self.location_msgs: list[bytes] = []
        self.functions: dict = {}        # (name, filename, start_line) -> id
        self.function_msgs: list[bytes] = []
        self.samples: dict = {}          # (location ids, thread) -> values
        self._stacks: dict = {}          # chain -> location ids
        self._sources = SourceLines(session.symfs) if lines else None
        self.first_time = self.last_time = None
        self.nr_samples = 0

    def string(self, text: str) -> int:
        index = self.strings.get(text)
        if index is None:
            index = self.strings[text] = len(self.strings)
        return index

    # --- samples -----------------------------------------------------------------------------------------

    def add(self, sample) -> None:
        chain = sample.chain or (sample.location,)
        ids = self._stacks.get(chain)
        if ids is None:
            ids = self._locations_of(chain, sample)
            if len(self._stacks) >= MEMO_LIMIT:
                self._stacks.clear()
            self._stacks[chain] = ids
        key = (ids, sample.thread)
        values = self.samples.get(key)
        if values is None:
            values = self.samples[key] = [0] * self.nr_values
        values[2 * sample.evsel] += 1
        values[2 * sample.evsel + 1] += sample.period
        self.nr_samples += 1
        t = sample.sample.time
        if t is not None:
            if self.first_time is None:
                self.first_time = t
            self.last_time = t

    def _locations_of(self, chain, sample) -> tuple:
        """Location ids, leaf first: one per address, its inline frames (the session expands them before
        the frame of their function, all at that address) as the Location's lines. A run of frames at one
        address closes at a frame not inlined, at another address, or at a frame already in it (a
        recursion through the same call site: the session's frames are interned, so each expansion holds
        distinct objects)."""
        ids, group = [], []
        for frame in chain:
            if group and (frame.avma != group[-1].avma or any(f is frame for f in group)):
                ids.append(self._location(tuple(group), sample))
                group = []
            group.append(frame)
            if not frame.inlined:
                ids.append(self._location(tuple(group), sample))
                group = []
        if group:
            ids.append(self._location(tuple(group), sample))
        return tuple(ids)

    def _location(self, group: tuple, sample) -> int:
        loc = self.locations.get(group)
        if loc is not None:
            return loc
        loc = self.locations[group] = len(self.locations) + 1
        own = group[-1]
        msg = field_varint(1, loc) + field_varint(3, own.avma)
        mapping = self._mapping(own, sample)
        if mapping:
            msg += field_varint(2, mapping)
        if own.sym is not None:
            sources = self._sources.lines(own, len(group)) if self._sources else None
            for i, frame in enumerate(group):
                source = sources[i] if sources else (None, 0, None, 0)
                if frame.sym is None:
                    continue
                function = self._function(frame.sym, _system_name(frame), source[2] or "", source[3] or 0)
                msg += field_bytes(4, field_varint(1, function) + field_varint(2, source[1] or 0))
        self.location_msgs.append(field_bytes(4, msg))
        return loc

    def _mapping(self, frame, sample) -> int:
        if frame.dso_obj is None:
            return 0
        machine = self.session.machine
        thread = machine.threads.get(sample.thread.tid)
        map_ = thread.maps.find(frame.avma) if thread is not None else None
        if map_ is None or map_.dso is not frame.dso_obj:
            map_ = machine.kernel_maps.find(frame.avma)
        if map_ is None:
            return 0
        key = (map_.start, map_.end, map_.pgoff, frame.dso_obj)
        got = self.mappings.get(key)
        if got is None:
            dso = frame.dso_obj
            msg = (field_varint(1, len(self.mappings) + 1) + field_varint(2, map_.start) +
                   field_varint(3, map_.end) + field_varint(4, map_.pgoff) +
                   field_varint(5, self.string(dso.long_name)) + field_varint(6, self.string(dso.build_id or "")))
            got = self.mappings[key] = [len(self.mappings) + 1, msg, False]
        if frame.sym is not None:
            got[2] = True
        return got[0]

    def _function(self, name: str, system_name: str, filename: str, start_line: int) -> int:
        key = (name, system_name, filename, start_line)
        fid = self.functions.get(key)
        if fid is None:
            fid = self.functions[key] = len(self.functions) + 1
            self.function_msgs.append(field_bytes(5, field_varint(1, fid) + field_varint(2, self.string(name)) +
                                                  field_varint(3, self.string(system_name)) +
                                                  field_varint(4, self.string(filename)) +
                                                  field_varint(5, start_line)))
        return fid

    # --- the message --------------------------------------------------------------------------------------

    def encode(self, comments=()) -> bytes:
        parts = []
        for kind, unit in self.sample_types:
            parts.append(field_bytes(1, field_varint(1, self.string(kind)) + field_varint(2, self.string(unit))))
        k_pid, k_tid, k_comm = self.string("pid"), self.string("tid"), self.string("comm")
        for (ids, thread), values in self.samples.items():
            labels = (field_bytes(3, field_varint(1, k_pid) + field_varint(3, thread.pid)) +
                      field_bytes(3, field_varint(1, k_tid) + field_varint(3, thread.tid)) +
                      field_bytes(3, field_varint(1, k_comm) + field_varint(2, self.string(thread.comm))))
            parts.append(field_bytes(2, field_packed(1, ids) + field_packed(2, values) + labels))
        lines = self._sources is not None
        for mid, msg, has_functions in self.mappings.values():
            flags = (field_varint(7, has_functions) + field_varint(8, lines and has_functions) +
                     field_varint(9, lines and has_functions) + field_varint(10, has_functions))
            parts.append(field_bytes(3, msg + flags))
        parts += self.location_msgs
        parts += self.function_msgs
        if self.first_time is not None:
            parts.append(field_varint(10, self.last_time - self.first_time))
        for comment in comments:
            parts.append(field_varint(13, self.string(comment)))
        if self.sample_types:
            parts.append(field_varint(14, self.string(self.sample_types[0][0])))
        # the string table last: every index above is known by now
        parts += [field_bytes(6, s.encode("utf-8", "surrogateescape")) for s in self.strings]
        return b"".join(parts)


def _system_name(frame) -> str:
    """The symbol's name as the ELF file has it (mangled), else "". Not the demangled name: pprof simplifies a
    name equal to its system name that looks like demangled C++ (templates and arguments dropped), and
    leaves a function whose name differs from its system name as given."""
    symbol = frame.symbol if not frame.inlined else None
    raw = getattr(symbol, "name", None)
    return raw if raw and raw != frame.sym else ""


class SourceLines:
    """File and line of an address, and of the inline calls around it, from the dso's DWARF: for a group of
    ``n`` frames (innermost first) ``[(file, line, function file, function decl line)] * n``, or None."""

    def __init__(self, symfs: str | None):
        self.symfs = symfs
        self._dwarf: dict = {}

    def _info(self, dso):
        info = self._dwarf.get(dso)
        if info is None and dso not in self._dwarf:
            info = None
            if dso.long_name.startswith("/"):
                try:
                    from pyperf_probe.symbols.dwarf.info import DwarfInfo
                    info = DwarfInfo.open(dso.long_name, self.symfs)
                except Exception as exc:  # no usable DWARF: functions without files and lines
                    log.debug(f"{dso.long_name}: no DWARF for pprof lines: {exc}")
            self._dwarf[dso] = info
        return info

    def lines(self, frame, n: int):
        dso = frame.dso_obj
        if dso is None or frame.file_offset is None:
            return None
        info = self._info(dso)
        if info is None:
            return None
        try:
            return _lines_at(info, dso.svma(frame.file_offset), n)
        except Exception as exc:  # a DWARF construct the reader does not know: no lines for this address
            log.debug(f"{dso.long_name}: no line for {frame.file_offset:#x}: {exc}")
            return None


def _lines_at(info, svma, n: int):
    """[(line's file, line, function's file, function's declaration line)] for the ``n`` frames at ``svma``,
    innermost first: the line table's row holding the address for the innermost, each inlined call's
    DW_AT_call_line for the function around it."""
    from pyperf_probe.symbols.dwarf import dies as D
    if svma is None:
        return None
    unit = info.unit_at(svma)
    if unit is None:
        return None
    file, line = _row_at(unit, svma)
    func = unit.realfunc(svma)
    if func is None:
        return [(file, line, file, 0)] + [(None, 0, None, 0)] * (n - 1)
    chain = [func]                      # the real function, then the inlined calls holding svma, outermost first
    while True:
        inner = next((c for c in D.walk(chain[-1]) if c.tag == "DW_TAG_inlined_subroutine" and D.haspc(c, svma)),
                     None)
        if inner is None:
            break
        chain.append(inner)
    if len(chain) != n:                 # the frames' names came from elsewhere (the symbol table's view)
        return [(file, line, file, 0)] + [(None, 0, None, 0)] * (n - 1)
    out = []
    for i, die in enumerate(chain):     # each level's line: the call site of the next level, the address's last
        if i + 1 < len(chain):
            call = chain[i + 1].attributes.get("DW_AT_call_line")
            where = (unit.call_file(chain[i + 1]), call.value if call is not None else 0)
        else:
            where = (file, line)
        out.append((where[0], where[1], unit.decl_file(die) or where[0], unit.decl_line(die) or 0))
    out.reverse()                       # innermost first, as the frames
    return out


def _row_at(unit, svma: int):
    """(file, line) of the line-table row whose range holds ``svma`` (addr2line's answer), else (None, 0)."""
    import bisect
    table = unit.lines
    starts = getattr(table, "_pyperf_pprof_starts", None)
    if starts is None:
        starts = table._pyperf_pprof_starts = [r.svma for r in table.rows]
    i = bisect.bisect_right(starts, svma) - 1
    if i < 0 or table.rows[i].end_sequence:
        return None, 0
    row = table.rows[i]
    return row.file or None, row.line


def write_profile(walk, out, lines: bool = True) -> Stats:
    """Convert every sample of the walk's session; write the gzipped profile to the binary file ``out``."""
    session = walk.session
    builder = ProfileBuilder(session, session.evsels, lines=lines)
    for sample in walk.samples():
        builder.add(sample)
    comments = [f"pyperf data convert --to-pprof {session.data.path}"]
    payload = builder.encode(comments)
    data = gzip.compress(payload, mtime=0)
    out.write(data)
    stats = Stats()
    stats.size, stats.samples = len(data), builder.nr_samples
    stats.locations, stats.functions = len(builder.locations), len(builder.functions)
    return stats
