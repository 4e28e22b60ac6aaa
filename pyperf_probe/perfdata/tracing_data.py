"""The TRACING_DATA feature section: tracefs format texts that let a reader decode PERF_SAMPLE_RAW.

perf refuses a file with tracepoint attrs and no (or a broken) TRACING_DATA ("incompatible file format",
perf-formats.md §1.6). Layout as perf 6.1 writes it (tools/perf/util/trace-event-info.c ``tracing_data_get``,
read back by trace-event-read.c ``trace_report``), perf-formats.md §1.5::

    "\\x17\\x08\\x44tracing" "0.6\\0"  u8 big_endian  u8 long_size  u32 page_size
    "header_page\\0"  u64 size  text          "header_event\\0"  u64 size  text
    u32 nr_ftrace  {u64 size, text}...        u32 nr_systems  {"group\\0" u32 nr  {u64 size, text}...}...
    u32 kallsyms_size  bytes                  u32 printk_size  bytes
    u64 saved_cmdlines_size  bytes            (version >= 0.6)

``build`` makes the section from the live tracefs (the only part that reads the system), ``parse`` turns the
bytes back into a ``TracingData`` (event format texts by id) for the report side.
"""
from __future__ import annotations

import struct

from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata.frozen import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterable, Sequence

MAGIC = b"\x17\x08\x44tracing"
VERSION = b"0.6"


class EventFormat(Frozen):
    """One ``events/GROUP/EVENT/format`` text with the group it was stored under."""

    __slots__ = ()
    _fields = ("system", "name", "id", "text")

    def __new__(cls, system: str, name: str, id: int, text: str):
        return tuple.__new__(cls, (system, name, id, text))


class TracingData(Frozen):
    """A parsed TRACING_DATA section; ``events`` maps tracepoint ids (= attr.config) to their formats."""

    __slots__ = ()
    _fields = ("version", "big_endian", "long_size", "page_size", "header_page", "header_event", "ftrace_formats",
               "events", "kallsyms", "printk_formats", "saved_cmdlines")

    def __new__(cls, version: str, big_endian: bool, long_size: int, page_size: int, header_page: str,
                header_event: str, ftrace_formats: tuple[str, ...], events: dict[int, EventFormat],
                kallsyms: bytes, printk_formats: str, saved_cmdlines: str):
        return tuple.__new__(cls, (version, big_endian, long_size, page_size, header_page, header_event,
                                   ftrace_formats, events, kallsyms, printk_formats, saved_cmdlines))

    def event_name(self, event_id: int) -> str:
        """``system:name`` of the event with this id, as perf names a tracepoint without EVENT_DESC."""
        fmt = self.events[event_id]
        return f"{fmt.system}:{fmt.name}"


# ------------------------------------------------------------------------------------------------ build


def _blob(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def encode(*, header_page: bytes, header_event: bytes, systems: Sequence[tuple[str, Sequence[bytes]]],
           printk_formats: bytes = b"", page_size: int = 4096, long_size: int = 8,
           ftrace_formats: Sequence[bytes] = (), kallsyms: bytes = b"", saved_cmdlines: bytes = b"") -> bytes:
    """The section bytes from the texts (pure; ``build`` supplies them from tracefs)."""
    if not header_page:
        raise PerfDataError("TRACING_DATA: empty header_page (perf would refuse the file)")
    parts = [MAGIC, VERSION, b"\0", struct.pack("<BBI", 0, long_size, page_size),
             b"header_page\0", _blob(header_page), b"header_event\0", _blob(header_event),
             struct.pack("<I", len(ftrace_formats))]
    parts += [_blob(t) for t in ftrace_formats]
    parts.append(struct.pack("<I", len(systems)))
    for system, formats in systems:
        parts += [system.encode() + b"\0", struct.pack("<I", len(formats))]
        parts += [_blob(t) for t in formats]
    parts += [struct.pack("<I", len(kallsyms)), kallsyms, struct.pack("<I", len(printk_formats)), printk_formats,
              _blob(saved_cmdlines)]
    return b"".join(parts)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def build(events: Iterable[tuple[str, str]], page_size: int = 4096) -> bytes:
    """TRACING_DATA for these (group, event) pairs from the live tracefs, grouped by system in first-seen
    order as perf does; ``printk_formats`` is copied, kallsyms and saved_cmdlines are empty (as perf 6.1)."""
    from pyperf_probe.kernel import tracefs
    systems: dict[str, list[bytes]] = {}
    seen = set()
    for group, event in events:
        if (group, event) in seen:
            continue
        seen.add((group, event))
        systems.setdefault(group, []).append(tracefs.event_format(group, event).encode())
    try:
        printk = _read(tracefs.path("printk_formats"))
    except OSError:
        printk = b""
    return encode(header_page=_read(tracefs.path("events", "header_page")),
                  header_event=_read(tracefs.path("events", "header_event")),
                  systems=list(systems.items()), printk_formats=printk, page_size=page_size)


# ------------------------------------------------------------------------------------------------ parse


class _Cursor:
    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise PerfDataError(f"TRACING_DATA is truncated at byte {self.pos} (needs {n} more)")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def cstr(self) -> bytes:
        end = self.buf.find(b"\0", self.pos)
        if end < 0:
            raise PerfDataError(f"TRACING_DATA: unterminated string at byte {self.pos}")
        out, self.pos = self.buf[self.pos:end], end + 1
        return out

    def u(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def blob(self, fmt: str = "<Q") -> bytes:
        return self.take(self.u(fmt))


def _named_blob(cur: _Cursor, name: bytes) -> bytes:
    got = cur.cstr()
    if got != name:
        raise PerfDataError(f"TRACING_DATA: expected '{name.decode()}', found {got[:20]!r}")
    return cur.blob()


def _line_word(text: bytes, key: bytes, digits: bool = False) -> bytes:
    """The word after ``key`` on the first line that starts with it and has one (``name: probe_x``,
    ``ID: 1234``; with ``digits`` the word's leading digits, which must not be empty), or b"". A line scan,
    not a regular expression: ``re`` is not imported on report's path (start-up, bench/report)."""
    for line in text.split(b"\n"):
        if line.startswith(key):
            words = line[len(key):].split(None, 1)
            word = words[0] if words else b""
            if digits:
                end = 0
                while end < len(word) and word[end] in b"0123456789":
                    end += 1
                word = word[:end]
            if word:
                return word
    return b""


def _event_format(system: str, text: bytes) -> EventFormat:
    """A format text's ``name:`` and ``ID:`` lines."""
    event_id, name = _line_word(text, b"ID:", digits=True), _line_word(text, b"name:")
    if not event_id or not name:
        raise PerfDataError(f"TRACING_DATA: a format of system '{system}' has no name:/ID: line")
    return EventFormat(system, name.decode(), int(event_id), text.decode(errors="replace"))


def parse(buf: bytes) -> TracingData:
    """Decode a TRACING_DATA section (``trace_report`` in trace-event-read.c). Only little-endian files with
    version 0.5/0.6 are read; a wrong magic or a truncation raises PerfDataError."""
    cur = _Cursor(bytes(buf))
    if cur.take(len(MAGIC)) != MAGIC:
        raise PerfDataError("TRACING_DATA: bad magic (not a perf tracing data section)")
    version = cur.cstr().decode()
    big_endian, long_size, page_size = struct.unpack("<BBI", cur.take(6))
    if big_endian:
        raise PerfDataError("TRACING_DATA: big-endian tracing data is not supported")
    header_page = _named_blob(cur, b"header_page")
    if not header_page:
        raise PerfDataError("TRACING_DATA: did not read header page")
    header_event = _named_blob(cur, b"header_event")
    ftrace = tuple(cur.blob().decode(errors="replace") for _ in range(cur.u("<I")))
    events: dict[int, EventFormat] = {}
    for _ in range(cur.u("<I")):
        system = cur.cstr().decode()
        for _ in range(cur.u("<I")):
            fmt = _event_format(system, cur.blob())
            events[fmt.id] = fmt
    kallsyms = cur.blob("<I")
    printk = cur.blob("<I").decode(errors="replace")
    saved = cur.blob().decode(errors="replace") if version >= "0.6" and cur.pos < len(cur.buf) else ""
    return TracingData(version, False, long_size, page_size, header_page.decode(), header_event.decode(),
                       ftrace, events, kallsyms, printk, saved)
