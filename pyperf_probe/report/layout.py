"""perf report's sort list and columns from ``--sort``, ``-F``/``--fields`` and the file (util/sort.c
``setup_sorting``, ui/hist.c ``perf_hpp__init``, perf 6.1).

* the sort order: ``--sort`` as given, or the default (``trace`` when every event is a tracepoint,
  ``trace_fields`` then under ``--raw-trace``, else ``comm,dso,sym``; ``+KEYS`` appends to it); unless
  ``-F`` is given, ``overhead`` and (with children) ``overhead_children`` go in front when the text does
  not name them (``setup_overhead``: a substring test, as perf's ``strstr``);
* each word (separated by ``,``, space, ``{`` or ``}``) is matched, case-insensitively, as a prefix of
  perf's sort dimensions in perf's order (``sort_dimension__add``): the common keys, then the
  ``overhead``-style columns, then the branch and memory keys (perf's ``Invalid --sort key`` outside those
  modes), then a tracepoint field (:mod:`.dynamic`); anything else is ``Unknown --sort key``;
* the columns: ``Children``, ``Overhead`` (``Self`` with children), ``Samples`` with ``-n``, unless ``-F``
  replaces them; then ``-F``'s fields; then every sort key not already a column
  (``perf_hpp__setup_output_field``); and every column not in the sort list is appended to it
  (``perf_hpp__append_sort_keys``).
"""
from __future__ import annotations

from pyperf_probe.errors import UsageError
from pyperf_probe.report import dynamic
from pyperf_probe.report.sortkeys import KEYS

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Sequence

# util/sort.c's tables, in perf 6.1's order; pyperf implements the names that map to KEYS / HPP_COLUMNS.
COMMON_DIMENSIONS = ("pid", "comm", "dso", "symbol", "parent", "cpu", "socket", "srcline", "srcfile",
                     "local_weight", "weight", "transaction", "trace", "symbol_size", "dso_size", "cgroup",
                     "cgroup_id", "ipc_null", "time", "code_page_size", "local_ins_lat", "ins_lat",
                     "local_p_stage_cyc", "p_stage_cyc", "addr")
HPP_DIMENSIONS = ("overhead", "overhead_sys", "overhead_us", "overhead_guest_sys", "overhead_guest_us",
                  "overhead_children", "sample", "period")
BRANCH_DIMENSIONS = ("dso_from", "dso_to", "symbol_from", "symbol_to", "mispredict", "abort", "in_tx",
                     "cycles", "srcline_from", "srcline_to", "ipc_lbr", "addr_from", "addr_to")
MEMORY_DIMENSIONS = ("symbol_daddr", "dso_daddr", "locked", "tlb", "mem", "snoop", "dcacheline",
                     "symbol_iaddr", "phys_daddr", "data_page_size", "blocked")
ARCH_SKIPPED = ("local_p_stage_cyc", "p_stage_cyc")  # powerpc-only keys: perf on x86 skips them silently
SORT_NAMES = {"pid": "pid", "comm": "comm", "dso": "dso", "symbol": "sym", "trace": "trace"}

DEFAULT_SORT = "comm,dso,sym"
TRACEPOINT_SORT = "trace"
RAW_TRACEPOINT_SORT = "trace_fields"


class HppColumn:
    """One of perf's ``perf_hpp__format`` columns (``overhead``, ``overhead_children``, ``sample``,
    ``period``): a number of the entry, right-aligned; in the sort list, descending."""

    kind = "hpp"
    padded = True
    right_aligned = True
    tracks_width = False

    def __init__(self, name: str, header: str, width: int):
        self.name, self.header, self.fixed = name, header, width

    def __repr__(self) -> str:
        return f"HppColumn({self.name!r})"

    def same_column(self, other) -> bool:
        """``hpp__equal``: the same index."""
        return isinstance(other, HppColumn) and other.name == self.name

    def width(self) -> int:
        return max(self.fixed, len(self.header))


def hpp_column(name: str, children: bool = False, strict_fields: bool = False) -> HppColumn:
    if name == "overhead":
        return HppColumn(name, "Self" if children and not strict_fields else "Overhead", 8)
    if name == "overhead_children":
        return HppColumn(name, "Children", 8)
    return HppColumn(name, "Samples" if name == "sample" else "Period", 12)


class Layout:
    """The sort list (``hist_entry__sort``'s order: hpp columns, sort keys, dynamic keys) and the columns
    (``hists__fprintf``'s), shared by every event; ``for_event`` keeps what an event's hists use."""

    def __init__(self, sort_list: list, columns: list):
        self.sort_list, self.columns = sort_list, columns

    def keys(self) -> list:
        """The entries' identity keys: the sort list without the hpp columns."""
        return [f for f in self.sort_list if f.kind != "hpp"]

    def for_event(self, fmts: Sequence, index: int) -> list:
        """``perf_hpp__defined_dynamic_entry``: an event's own dynamic keys only."""
        return [f for f in fmts if f.kind != "dynamic" or f.evsel == index]


def setup_sorting(sort_text: str | None, field_text: str | None, *, children: bool, events: Sequence,
                  all_tracepoints: bool, raw_trace: bool, show_nr_samples: bool) -> Layout:
    """``setup_sorting``; ``events`` are :class:`.dynamic.EventInfo`."""
    strict_fields = field_text is not None and not field_text.startswith("+")
    default = (RAW_TRACEPOINT_SORT if raw_trace else TRACEPOINT_SORT) if all_tracepoints else DEFAULT_SORT
    if sort_text is not None and sort_text.startswith("+"):
        if sort_text == "+":
            raise UsageError("Error:\nInvalid --sort key: `+'", usage=SORT_USAGE, gap="\n")
        sort_text = default + "," + sort_text[1:]
    if sort_text is None and not strict_fields:
        sort_text = default
    sort_list: list = []
    if sort_text is not None:
        if not strict_fields:
            sort_text = _setup_overhead(sort_text, children)
        sort_list = _sort_list(sort_text, events, raw_trace, children, strict_fields)
    columns = [] if strict_fields else _default_columns(children, show_nr_samples)
    if field_text is not None:
        columns += _field_list(field_text if strict_fields else field_text[1:], children, strict_fields)
    for fmt in sort_list:
        if not any(fmt.same_column(c) for c in columns):
            columns.append(fmt)
    for col in columns:
        if not any(col.same_column(f) for f in sort_list):
            sort_list.append(col)
    return Layout(sort_list, columns)


def _setup_overhead(text: str, children: bool) -> str:
    if "overhead" not in text:
        text = "overhead," + text
    if children and "overhead_children" not in text:
        text = "overhead_children," + text
    return text


def _default_columns(children: bool, show_nr_samples: bool) -> list:
    cols = [hpp_column("overhead_children")] if children else []
    cols.append(hpp_column("overhead", children))
    if show_nr_samples:
        cols.append(hpp_column("sample"))
    return cols


def _words(text: str, separators: str) -> list[str]:
    words, cur = [], ""
    for ch in text:
        if ch in separators:
            words.append(cur)
            cur = ""
        else:
            cur += ch
    words.append(cur)
    return [w for w in words if w]


def _prefix_of(word: str, names: Sequence[str]) -> str | None:
    """The first of ``names`` that ``word`` is a case-insensitive prefix of (``strncasecmp(tok, name,
    strlen(tok))``)."""
    low = word.lower()
    return next((n for n in names if n.startswith(low)), None)


def _sort_list(text: str, events: Sequence, raw_trace: bool, children: bool, strict_fields: bool) -> list:
    """``setup_sort_list``: each word as ``sort_dimension__add`` reads it. A common or hpp key is added
    once (``sd->taken``), a dynamic key each time it is named."""
    out: list = []
    taken: set[str] = set()
    for word in _words(text, "{}, "):
        if word in ARCH_SKIPPED:
            continue
        name = _prefix_of(word, COMMON_DIMENSIONS)
        if name is not None:
            if name not in SORT_NAMES:
                raise _unsupported(word, name)
            if name not in taken:
                taken.add(name)
                out.append(KEYS[SORT_NAMES[name]])
            continue
        name = _prefix_of(word, HPP_DIMENSIONS)
        if name is not None:
            if name not in ("overhead", "overhead_children", "sample", "period"):
                raise _unsupported(word, name)
            if name not in taken:
                taken.add(name)
                out.append(hpp_column(name, children, strict_fields))
            continue
        if _prefix_of(word, BRANCH_DIMENSIONS) or _prefix_of(word, MEMORY_DIMENSIONS):
            raise UsageError(f"Error:\nInvalid --sort key: `{word}'", usage=SORT_USAGE, gap="\n")
        keys = dynamic.parse(word, events, raw_trace)
        if keys is None:
            raise UsageError(f"Error:\nUnknown --sort key: `{word}'", usage=SORT_USAGE, gap="\n")
        out.extend(keys)
    return out


def _field_list(text: str, children: bool, strict_fields: bool) -> list:
    """``setup_output_list``: ``-F`` words (commas or spaces); no tracepoint fields there."""
    out: list = []
    taken: set[str] = set()
    for word in _words(text, ", "):
        name = _prefix_of(word, COMMON_DIMENSIONS)
        hpp = _prefix_of(word, HPP_DIMENSIONS) if name is None else None
        if name is None and hpp is None:
            if _prefix_of(word, BRANCH_DIMENSIONS) or _prefix_of(word, MEMORY_DIMENSIONS):
                raise UsageError(f"Error:\nInvalid --fields key: `{word}'", usage=FIELDS_USAGE, gap="\n")
            raise UsageError(f"Error:\nUnknown --fields key: `{word}'", usage=FIELDS_USAGE, gap="\n")
        if name is not None and name not in SORT_NAMES:
            raise _unsupported(word, name, "--fields")
        if hpp is not None and hpp not in ("overhead", "overhead_children", "sample", "period"):
            raise _unsupported(word, hpp, "--fields")
        key = name or hpp
        if key in taken:
            continue
        taken.add(key)
        out.append(KEYS[SORT_NAMES[name]] if name is not None else hpp_column(hpp, children, strict_fields))
    return out


def _unsupported(word: str, name: str, option: str = "--sort") -> UsageError:
    return UsageError(f"Error:\n{option} key `{word}' ({name}) is not supported by pyperf report",
                      usage=SORT_USAGE if option == "--sort" else FIELDS_USAGE, gap="\n")


SORT_USAGE = (" Usage: pyperf report [<options>]\n\n    -s, --sort <key[,key2...]>\n"
              "                          sort by key(s): overhead overhead_children sample period\n"
              "                          pid comm dso symbol trace trace_fields EVENT.FIELD[/raw] FIELD")
FIELDS_USAGE = (" Usage: pyperf report [<options>]\n\n    -F, --fields <key[,keys...]>\n"
                "                          output field(s): overhead overhead_children sample period\n"
                "                          pid comm dso symbol trace")
