"""Which fields ``perf script`` prints for each event: perf 6.1's ``output[]`` table (builtin-script.c).

One entry per output type (the attr's type: hardware, software, tracepoint, hardware-cache, raw,
breakpoint; synth; any other), with perf's defaults. ``-F`` changes it (``parse_output_fields``):

* ``-F a,b`` sets every type's fields (a field invalid for a type is left out there, with perf's
  "'trace' not valid for hardware events. Ignoring." on stderr); ``-F type:a,b`` sets one type's;
* ``+a``/``-a`` add to or remove from the defaults instead (of every type, or of ``type:``'s); mixing them
  with plain names is "Cannot mix +-field with overridden fields".

Then the file decides (``perf_session__check_output_opt``, ``evsel__check_attr``), for the first event of
each type: a default field the samples do not have (``cpu`` without PERF_SAMPLE_CPU, ``tid``/``pid``
without TID, ``time``, ``ip``) is dropped; one asked for by name with ``-F a,b`` (not per type, where
perf does not record the request) is an error, as are ``symoff`` without ``sym`` and ``sym``/``dso``
without an ip. Call chains are printed when some event has them and ``-G`` is not given; then
tracepoints that have them (and no ``-F trace:``) print ip, sym, symoff and dso.
"""
from __future__ import annotations

from pyperf_probe.errors import UsageError
from pyperf_probe.perfdata.format import SampleType

# all_output_options[] of perf 6.1, in its order (also the -F help text's)
ALL_FIELDS = ("comm", "tid", "pid", "time", "cpu", "event", "trace", "ip", "sym", "dso", "addr", "symoff",
              "srcline", "period", "iregs", "uregs", "brstack", "brstacksym", "data_src", "weight",
              "bpf-output", "callindent", "insn", "insnlen", "brstackinsn", "brstackoff", "synth", "phys_addr",
              "metric", "misc", "srccode", "ipc", "tod", "data_page_size", "code_page_size", "ins_lat",
              "brstackinsnlen")
# what pyperf prints (the others are refused by name, rather than silently not printed)
PRINTABLE = frozenset(("comm", "tid", "pid", "time", "cpu", "event", "trace", "ip", "sym", "dso", "symoff",
                       "period"))

HARDWARE, SOFTWARE, TRACEPOINT, HW_CACHE, RAW, BREAKPOINT, SYNTH, OTHER = range(8)
PERF_TYPE_MAX = 6
PERF_TYPE_SYNTH = 1 << 31
TYPE_PREFIXES = {"hw": HARDWARE, "sw": SOFTWARE, "trace": TRACEPOINT, "raw": RAW, "break": BREAKPOINT,
                 "synth": SYNTH}
_BASE = frozenset(("comm", "tid", "cpu", "time", "event", "ip", "sym", "symoff", "dso", "period"))
DEFAULTS = (
    _BASE,
    _BASE | {"bpf-output"},
    frozenset(("comm", "tid", "cpu", "time", "event", "trace")),
    _BASE,
    _BASE | {"addr", "data_src", "weight", "phys_addr", "data_page_size", "code_page_size", "ins_lat"},
    _BASE,
    frozenset(("comm", "tid", "cpu", "time", "event", "ip", "sym", "symoff", "dso", "synth")),
    _BASE,
)
_NOT_TRACE = frozenset(("trace", "bpf-output"))
INVALID = (_NOT_TRACE, frozenset(("trace",)), frozenset(), _NOT_TRACE, _NOT_TRACE, _NOT_TRACE, _NOT_TRACE,
           _NOT_TRACE)
CHAIN_FIELDS = frozenset(("ip", "sym", "symoff", "dso"))
USAGE = "\n Usage: pyperf script [<options>]"


def event_type(index: int) -> str:
    """builtin-script.c ``event_type``."""
    return {HARDWARE: "hardware", SOFTWARE: "software", TRACEPOINT: "tracepoint",
            HW_CACHE: "hardware-cache"}.get(index, "unknown")


def output_type(attr_type: int) -> int:
    """``output_type``: the attr's type, synth, or other."""
    if attr_type == PERF_TYPE_SYNTH:
        return SYNTH
    return attr_type if attr_type < PERF_TYPE_MAX else OTHER


class OutputTable:
    """perf's ``output[]``: per output type the fields, whether ``-F`` set them (``user_set``), for every
    type at once (``wildcard_set``), and the fields named with ``-F a,b`` (``user_set_fields``)."""

    def __init__(self):
        self.fields = [set(d) for d in DEFAULTS]
        self.user_set = [False] * 8
        self.wildcard_set = [False] * 8
        self.user_set_fields = [set() for _ in range(8)]
        self.warnings: list[str] = []


def parse(spec: str | None) -> OutputTable:
    """``parse_output_fields`` of one ``-F`` (None: perf's defaults). UsageError for what perf refuses
    while reading its options (exit 129)."""
    table = OutputTable()
    if spec is None:
        return table
    kind, colon, rest = spec.partition(":")
    type_index = -1
    if colon:
        if kind not in TYPE_PREFIXES:
            raise UsageError("Invalid event type in field string.", usage=USAGE)
        type_index = TYPE_PREFIXES[kind]
        tokens = rest
        if "+" not in rest and "-" not in rest:
            table.fields[type_index] = set()
            table.user_set[type_index] = True
            table.wildcard_set[type_index] = False
    else:
        tokens = spec
        if not spec:
            raise UsageError("Cannot set fields to 'none' for all event types.", usage=USAGE)
        if "+" not in spec and "-" not in spec:
            for j in range(8):
                table.fields[j] = set()
                table.user_set[j] = True
                table.wildcard_set[j] = True
    change = None
    for tok in (t for t in tokens.split(",") if t):      # strtok_r: empty tokens are skipped
        if tok[0] in "+-":
            if change == "set":
                raise UsageError("Cannot mix +-field with overridden fields", usage=USAGE)
            change, tok = ("add" if tok[0] == "+" else "remove"), tok[1:]
        else:
            if change not in (None, "set"):
                raise UsageError("Cannot mix +-field with overridden fields", usage=USAGE)
            change = "set"
        if tok not in ALL_FIELDS and tok != "flags":
            raise UsageError("Invalid field requested.", usage=USAGE)
        if tok not in PRINTABLE and change != "remove":
            raise UsageError(f"pyperf script does not print the '{tok}' field yet.", usage=USAGE)
        if tok not in ALL_FIELDS:       # flags: branch flags, none in the samples pyperf reads
            continue
        _apply(table, type_index, tok, change)
    return table


def _apply(table: OutputTable, type_index: int, tok: str, change: str) -> None:
    if type_index == -1:
        for j in range(8):
            if tok in INVALID[j]:
                table.warnings.append(f"'{tok}' not valid for {event_type(j)} events. Ignoring.")
                continue
            if change == "remove":
                table.fields[j].discard(tok)
                table.user_set_fields[j].discard(tok)
            else:
                table.fields[j].add(tok)
                table.user_set_fields[j].add(tok)
            table.user_set[j] = table.wildcard_set[j] = True
        return
    if tok in INVALID[type_index]:
        raise UsageError(f"'{tok}' not valid for {event_type(type_index)} events.", usage=USAGE)
    if change == "remove":
        table.fields[type_index].discard(tok)
    else:
        table.fields[type_index].add(tok)
    table.user_set[type_index] = table.wildcard_set[type_index] = True


class FieldError(Exception):
    """What ``perf_session__check_output_opt`` refuses once the file is known (perf exits 255)."""


def check(table: OutputTable, evsels, hide_call_graph: bool) -> tuple[list, bool]:
    """The fields of each event (a frozenset per evsel) and whether call chains are printed, after
    perf's checks against the file (FieldError with perf's message)."""
    types = [output_type(ev.attr.type) for ev in evsels]
    for j in range(8):
        if j not in types:
            if table.user_set[j] and not table.wildcard_set[j] and j != SYNTH:
                raise FieldError(f"{event_type(j)} events do not exist. Remove corresponding -F option to "
                                 "proceed.")
            continue
        if table.fields[j]:
            _check_attr(table, j, evsels[types.index(j)])
    use_callchain = not hide_call_graph and any(ev.attr.sample_type & SampleType.CALLCHAIN for ev in evsels)
    if use_callchain and not table.user_set[TRACEPOINT] and any(
            t == TRACEPOINT and ev.attr.sample_type & SampleType.CALLCHAIN for t, ev in zip(types, evsels)):
        table.fields[TRACEPOINT] |= CHAIN_FIELDS
    return [frozenset(table.fields[t]) for t in types], use_callchain


def _check_attr(table: OutputTable, j: int, evsel) -> None:
    """``evsel__check_attr`` for the first event of output type ``j``."""
    fields, sample_type, name = table.fields[j], evsel.attr.sample_type, evsel.name or ""

    def check_stype(field: str, bit: int, what: str) -> None:
        if sample_type & bit:
            return
        if field in table.user_set_fields[j]:
            raise FieldError(f"Samples for '{name}' event do not have {what} attribute set. Cannot print "
                             f"'{field}' field.")
        fields.discard(field)

    if "ip" in fields:
        check_stype("ip", SampleType.IP, "IP")
    if "sym" in fields and not sample_type & (SampleType.IP | SampleType.ADDR):
        raise FieldError("Display of symbols requested but neither sample IP nor sample address\navailable. "
                         "Hence, no addresses to convert to symbols.")
    if "symoff" in fields and "sym" not in fields:
        raise FieldError("Display of offsets requested but symbol is notselected.")
    if "dso" in fields and not sample_type & (SampleType.IP | SampleType.ADDR):
        raise FieldError("Display of DSO requested but no address to convert.")
    if ("pid" in fields or "tid" in fields) and not sample_type & SampleType.TID:
        if table.user_set_fields[j] & {"tid", "pid"}:   # perf names the field mask TID|PID: no name
            raise FieldError(f"Samples for '{name}' event do not have TID attribute set. Cannot print '' field.")
        fields.discard("tid")
        fields.discard("pid")
    if "time" in fields:
        check_stype("time", SampleType.TIME, "TIME")
    if "cpu" in fields:
        check_stype("cpu", SampleType.CPU, "CPU")
