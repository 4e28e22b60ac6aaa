"""perf report's sort keys on tracepoint fields (util/sort.c ``struct hpp_dynamic_entry``, perf 6.1).

``--sort EVENT.FIELD``, ``--sort FIELD`` (every tracepoint event that has the field), ``--sort EVENT.*``
(every field of one event), ``--sort trace_fields`` (every field of every tracepoint event), each with an
optional ``/raw``. EVENT is ``%N`` (the N-th event of the file), a full name (``sched:sched_switch``) or a
part of one name (``sched_switch``; ambiguous parts find nothing). A key belongs to its event: the other
events' hists neither compare nor print it (``perf_hpp__defined_dynamic_entry``).

What perf does, and this module with it:

* identity and order: ``memcmp`` of the field's bytes in the RAW records (``__sort__hde_cmp``); for a
  ``__data_loc`` field the bytes its offset/length word points at, read from the left-hand record. The
  entry trees take ``cmp(existing, new)``, the output tree ``cmp(new, existing) > 0`` to the left: output
  order is *descending* bytes (little-endian numbers compare by their low byte first);
* cell: the value after ``FIELD=`` (any character) in the entry's trace output, i.e. the first
  space-separated word that starts with the field's name, cut after ``strlen(name) + 1`` characters;
  where no word does, or with ``/raw``/``--raw-trace``, the field printed raw (``tep_print_field``).
  ``"%*.*s"``: right-aligned and cut to the column's width, and so is the header;
* width: the largest of the field's name, its size (strings) or ``2 * size + 2`` (numbers), and
  ``dynamic_len``, which grows with the value lengths found in the trace output of every entry (the output
  resort's ``sort(he, NULL)`` call) and, for ``__data_loc`` fields, with the length word (the string's size
  *with* its NUL) of the left-hand record of every comparison that reaches the key. The width is fixed
  the first time it is asked for (``hde_width``), which is the header.

Where a comparison's side effect depends on perf's trees, the trees are replayed (``report.rbtree``); the
in-tree's look-ups for samples that join an existing entry are counted as that entry's comparison, not
replayed node by node.
"""
from __future__ import annotations

from pyperf_probe.perfdata.format import AttrType

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable, Sequence

IS_STRING = 8      # TEP_FIELD_IS_STRING
IS_DYNAMIC = 16    # TEP_FIELD_IS_DYNAMIC
IS_RELATIVE = 256  # TEP_FIELD_IS_RELATIVE
U32 = 0xFFFFFFFF


class DynamicKey:
    """One ``hpp_dynamic_entry``: a field of one tracepoint event as a sort key and a column."""

    kind = "dynamic"
    padded = True          # "%*.*s" fills the column
    right_aligned = True   # header and cells
    frame_dependent = False

    def __init__(self, evsel: int, event, field, raw_trace: bool):
        self.evsel = evsel            # index of the event whose hists it belongs to
        self.event = event            # traceevent.printfmt.Event (tep_print_field, the field's flags)
        self.field = field            # its FormatField
        self.name = field.name
        self.header = field.name
        self.raw_trace = raw_trace    # /raw or --raw-trace: cells print the raw field
        self.dynamic_len = 0          # unsigned in perf
        self._width = 0               # hpp.len: fixed at the first width()
        self.tracks_width = bool(field.flags & IS_DYNAMIC)  # comparisons change the width

    def __repr__(self) -> str:
        return f"DynamicKey(evsel={self.evsel}, {self.name!r}, raw={self.raw_trace})"

    def same_column(self, other) -> bool:
        """``__sort__hde_equal``: the same field of the same event."""
        return isinstance(other, DynamicKey) and other.field is self.field

    # ---------------------------------------------------------------------------------- identity, order

    def _span(self, raw: bytes) -> tuple[int, int]:
        """(offset, size) of the bytes ``memcmp`` compares, read from ``raw``."""
        f = self.field
        if not f.flags & IS_DYNAMIC:
            return f.offset, f.size
        word = int.from_bytes(raw[f.offset:f.offset + f.size], "little") if f.size in (1, 2, 4, 8) else 0
        offset, size = word & 0xFFFF, (word >> 16) & 0xFFFF
        if f.flags & IS_RELATIVE:
            offset += f.offset + f.size
        return offset, size

    def identity(self, raw: bytes) -> bytes:
        offset, size = self._span(raw)
        return raw[offset:offset + size]

    def _memcmp(self, a: bytes, b: bytes) -> int:
        """``__sort__hde_cmp(a, b)`` (with its record of a ``__data_loc`` field's length)."""
        offset, size = self._span(a)
        if self.tracks_width and size > self.dynamic_len:
            self.dynamic_len = size
        x, y = a[offset:offset + size], b[offset:offset + size]
        return (x > y) - (x < y)

    def entry_cmp(self, new, old) -> int:
        """The entry trees (``hist_entry__cmp(existing, new)``): < 0 puts ``new`` to the left."""
        return self._memcmp(old.raw or b"", new.raw or b"")

    def sort_cmp(self, a, b) -> int:
        """The output tree (``hist_entry__sort(new, existing)``): > 0 puts ``a`` first."""
        return self._memcmp(a.raw or b"", b.raw or b"")

    # ---------------------------------------------------------------------------------- width, cells

    def seen(self, entry) -> None:
        """``__sort__hde_cmp(he, NULL)`` of the output resort: ``update_dynamic_len``."""
        if self.raw_trace:
            return
        found = _find_value(entry.trace_output, self.name)
        if found is not None and found[1] > self.dynamic_len:
            self.dynamic_len = found[1] & U32

    def width(self) -> int:
        """``hde_width``: computed once, then kept."""
        if not self._width:
            length = self.dynamic_len - (1 << 32) if self.dynamic_len >> 31 else self.dynamic_len  # int len
            length = max(length, len(self.name))
            f = self.field
            fieldlen = f.size if f.flags & IS_STRING else f.size * 2 + 2
            self._width = max(length, fieldlen)
        return self._width

    def text(self, entry) -> str:
        """The value ``__sort__hde_entry`` prints, before its padding."""
        if not self.raw_trace:
            found = _find_value(entry.trace_output, self.name)
            if found is not None:
                return found[0]
        return self.event.field_raw(self.field, entry.raw or b"")

    def cell(self, entry, width: int) -> str:
        return self.text(entry)[:width].rjust(width)


def _find_value(trace: str, name: str):
    """The value after ``name`` + one character in the first word of ``trace`` that starts with ``name``,
    and its length as perf computes it (``pos - str``: -1, as a size_t, when the word is the name alone, and
    then the value runs to the end of the text); None when no word starts with it."""
    namelen = len(name)
    start = 0
    while True:
        pos = trace.find(" ", start)
        last = pos < 0
        if last:
            pos = len(trace)
        if trace.startswith(name, start):
            value_at = start + namelen + 1
            length = pos - value_at
            if length < 0:  # the word is the name alone: strndup(str, (size_t)-1)
                return trace[value_at:], (1 << 64) - 1
            return trace[value_at:pos], length
        if last:
            return None
        start = pos + 1


# ------------------------------------------------------------------------------------------ parsing

class EventInfo:
    """What ``add_dynamic_entry`` needs of an event: its name, whether it is a tracepoint, its parsed format
    (``printfmt.Event``, parsed when first asked for; None when it has none)."""

    __slots__ = ("index", "name", "is_tracepoint", "_load", "_event")

    def __init__(self, index: int, name: str, is_tracepoint: bool, load: Callable[[], object] | None):
        self.index, self.name, self.is_tracepoint, self._load = index, name, is_tracepoint, load
        self._event = None

    @property
    def event(self):
        if self._event is None and self._load is not None:
            self._event, self._load = self._load(), None
        return self._event


def event_infos(evsels: Sequence, python_event: Callable[[int], object] | None) -> list[EventInfo]:
    """The session's events for ``parse``: ``python_event(config)`` gives a tracepoint's parsed format."""
    out = []
    for ev in evsels:
        tp = ev.attr.type == AttrType.TRACEPOINT
        load = None
        if tp and python_event is not None and ev.tp_format is not None:
            load = (lambda config: lambda: python_event(config))(ev.attr.config)
        out.append(EventInfo(ev.index, ev.name or "", tp, load))
    return out


def parse(token: str, events: Sequence[EventInfo], raw_trace: bool) -> list[DynamicKey] | None:
    """``add_dynamic_entry``: the keys ``token`` names, or None where perf's answer is an error (it then says
    ``Unknown --sort key``)."""
    event_name, dot, field_name = token.partition(".")
    if not dot:
        event_name, field_name = None, token
    field_name, slash, option = field_name.partition("/")
    if slash:
        if option != "raw":  # pr_debug("unsupported field option %s")
            return None
        raw_trace = True
    tracepoints = [e for e in events if e.is_tracepoint and e.event is not None]
    if field_name == "trace_fields":
        return [DynamicKey(e.index, e.event, f, raw_trace) for e in tracepoints for f in e.event.fields]
    if event_name is None:
        keys = [DynamicKey(e.index, e.event, f, raw_trace) for e in tracepoints
                for f in [e.event.find_any_field(field_name)] if f is not None]
        return keys or None
    info = _find_event(events, event_name)
    if info is None or not info.is_tracepoint or info.event is None:
        return None
    if field_name == "*":
        return [DynamicKey(info.index, info.event, f, raw_trace) for f in info.event.fields]
    field = info.event.find_any_field(field_name)
    return None if field is None else [DynamicKey(info.index, info.event, field, raw_trace)]


def _find_event(events: Sequence[EventInfo], name: str) -> EventInfo | None:
    """``find_evsel``: ``%N`` (1-based; 0 or less is the first), a full ``sys:name``, or the one event whose
    name contains ``name``."""
    if name.startswith("%"):
        nr = _strtol(name[1:])
        if nr > len(events) or not events:
            return None
        return events[max(nr, 1) - 1]
    if ":" in name:
        return next((e for e in events if e.name == name), None)
    found = [e for e in events if name in e.name]
    return found[0] if len(found) == 1 else None


def _strtol(text: str) -> int:
    """strtol(text, NULL, 0): the leading number (0x hex, 0 octal), 0 when none."""
    t = text.lstrip()
    sign = -1 if t.startswith("-") else 1
    t = t[1:] if t[:1] in "+-" else t
    base, digits = 10, "0123456789"
    if t[:2].lower() == "0x":
        base, digits, t = 16, "0123456789abcdefABCDEF", t[2:]
    elif t.startswith("0"):
        base, digits = 8, "01234567"
    n = 0
    while n < len(t) and t[n] in digits:
        n += 1
    return sign * int(t[:n], base) if n else 0
