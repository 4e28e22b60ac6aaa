"""perf report's sort keys (tools/perf/util/sort.c): ``comm``, ``pid``, ``dso``, ``sym``, ``trace``
(tracepoint fields: report.dynamic; the sort list and columns: report.layout).

Each key gives an entry's identity (``se_cmp``/``se_collapse``: samples with equal identities for every key
merge into one entry), its output order (``se_sort``), its column header, width and cell text.

Orders (perf-formats.md §2.3, from sort.c): comm, dso, sym (by name) and trace ascending by strcmp, pid by
tid; an entry with no dso or no symbol after those that have one. The tie order of whole entries is the
collapse order (``hists__collapse_resort`` walks its tree in order), i.e. identities ascending.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable


UNRESOLVED_COL_WIDTH = 16  # BITS_PER_LONG / 4 (sort.c)


def sym_identity(loc, is_self: bool) -> tuple:
    """``sort__sym_cmp``: unresolved entries by ip (the map-relative ip for a sample's own location, the
    raw address for a callchain entry, as perf's ``he->ip`` is), others by dso then symbol."""
    if not loc.has_sym:
        return ("a", "", loc.rip if is_self else loc.avma)
    if loc.inlined:
        return ("i", loc.dso_name or "", loc.name, loc.sym_start)
    return ("s", loc.dso_name or "", loc.sym_start, loc.name)


def sym_cell(loc, is_self: bool, level: str | None = None) -> str:
    """``_hist_entry__sym_snprintf``: ``[.] name`` or ``[.] 0x%016llx`` (``%-#.16llx``: 0 has no 0x), the
    letter being the entry's level (``he->level``: ``k`` for the kernel's maps)."""
    level = f"[{level if level is not None else getattr(loc, 'level', '.')}] "
    if loc.has_sym:
        if loc.object_sym:  # a data symbol: "+0x%llx" of he->ip - map->unmap_ip(map, sym->start), which
            # for a process (he->ip map-relative, the start mapped back into the process) is no real offset
            # but is printed as perf prints it
            ip = loc.rip if is_self else loc.avma
            return level + loc.name + "+0x%x" % ((ip - loc.object_start - (loc.avma - loc.rip)) & 0xFFFFFFFFFFFFFFFF)
        return level + loc.name + (" (inlined)" if loc.inlined else "")
    ip = loc.rip if is_self else loc.avma
    return level + ("%#018x" % ip if ip else "0" * 16)


def _sign(value) -> int:
    return (value > 0) - (value < 0)


def _strcmp(new: str, old: str) -> int:
    return (new > old) - (new < old)


def _s64(value: int) -> int:
    """A u64 difference read as s64, as perf's ``(int64_t)(right - left)``."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


def _dso_cmp(new, old) -> int:
    """``sort__dso_cmp(iter, he)``: strcmp of short names, an entry without a dso after one with."""
    nd, od = new.loc.dso_name, old.loc.dso_name
    if nd is None or od is None:
        return 0 if nd is None and od is None else (1 if nd is None else -1)
    return _strcmp(nd, od)


def _sym_cmp(new, old, with_dso: bool = True) -> int:
    """``sort__sym_cmp(iter, he)`` as a sign for ``he`` (new) against ``iter`` (old). It compares the dsos
    first only when dso is not a sort key (``if (!hists__has(left->hists, dso))``: 6.1.y stable's fix of
    the condition, in perf 6.1.192; ``entry_cmps`` picks the form)."""
    nl, ol = new.loc, old.loc
    if not nl.has_sym and not ol.has_sym:
        return _sign(_s64((nl.rip if new.is_self else nl.avma) - (ol.rip if old.is_self else ol.avma)))
    if with_dso:
        ret = _dso_cmp(new, old)
        if ret:
            return ret
    if not nl.has_sym or not ol.has_sym:
        return 1 if not nl.has_sym else -1
    if nl.inlined or ol.inlined:  # strcmp(sym_l->name, sym_r->name): the old entry's name first
        ret = _strcmp(ol.name, nl.name)
        if ret:
            return ret
    if nl.sym_start != ol.sym_start:
        return _sign(_s64(nl.sym_start - ol.sym_start))
    return _strcmp(nl.name, ol.name)


def _trace_cmp(new, old) -> int:
    """``sort__trace_cmp``: strcmp of the trace outputs, which it computes for both entries (a tracepoint's
    entry has its ``he->trace_output`` from then on, and only then does it widen the column)."""
    if new.trace is None or old.trace is None or new.trace == "N/A":  # not a tracepoint: 0, nothing computed
        return 0
    new.trace_known = old.trace_known = True
    return _strcmp(new.trace, old.trace)


def _trace_width(entry) -> int:
    """``hists__calc_col_len``: the trace output's length if the entry had it computed by then."""
    return len(entry.trace) if entry.trace_known and entry.trace is not None else 0


# ``he`` (new) against ``iter`` (old) in perf's input and collapse trees (``hist_entry__cmp``): < 0 puts
# the new entry to the left. Mostly "new - old"; for unresolved addresses a wrapping s64 difference, which
# is not a total order, so the trees are replayed (``rbtree``) rather than sorted.
ENTRY_CMP = {
    "comm": lambda new, old: _strcmp(new.comm, old.comm),
    "pid": lambda new, old: _sign(new.tid - old.tid),
    "dso": _dso_cmp,
    "sym": _sym_cmp,
    "trace": lambda new, old: _trace_cmp(new, old),
}


def _sym_cmp_dso_key(new, old) -> int:
    """``sort__sym_cmp`` where dso is a sort key: no dso comparison."""
    return _sym_cmp(new, old, False)


def entry_cmps(keys) -> list:
    """The keys' ``hist_entry__cmp`` comparators, sym's in the form the sort list asks for."""
    dso_key = any(k.kind == "sort" and k.name == "dso" for k in keys)
    return [_sym_cmp_dso_key if dso_key and k.kind == "sort" and k.name == "sym" else k.entry_cmp for k in keys]


class SortKey:
    """One ``--sort`` key (sort.c ``struct sort_entry``): header, identity, output order and cell text of an
    entry."""

    kind = "sort"
    right_aligned = False
    tracks_width = False  # no comparison changes a column width (report.dynamic's keys may)

    def __init__(self, name: str, header: str, identity: Callable, order: Callable, cell: Callable,
                 width: Callable, padded: bool):
        self.name = name
        self.header = header
        self.identity = identity  # (comm, tid, loc, trace, is_self) -> hashable
        self.order = order        # entry -> ascending sort key
        self.cell = cell          # (entry, width) -> text
        self.width = width        # entry -> needed width
        self.padded = padded
        self.entry_cmp = ENTRY_CMP[name]  # the entry trees' comparator: (new, old) -> < 0: new goes left
        self.frame_dependent = name in ("dso", "sym")
        # trace: which comparisons happen decides the column's width (_trace_cmp): perf's trees are replayed
        self.tracks_width = name == "trace"

    def __repr__(self) -> str:
        return f"SortKey({self.name!r})"

    def same_column(self, other) -> bool:
        """``__sort__hpp_equal``: the same sort entry."""
        return isinstance(other, SortKey) and other.name == self.name


def _dso_text(entry) -> str:
    return entry.loc.dso_name if entry.loc.dso_name is not None else "[unknown]"


def _pad(text: str, width: int) -> str:
    return text[:width].ljust(width)


def _thread_cell(entry, width: int) -> str:
    inner = max(7, width) - 8
    return "%7d:%s" % (entry.tid, _pad(entry.thread_comm or "", inner))


KEYS: dict[str, SortKey] = {
    "comm": SortKey("comm", "Command", lambda comm, tid, loc, trace, s: comm, lambda e: (e.comm,),
                    lambda e, w: _pad(e.comm, w), lambda e: len(e.thread_comm or ""), True),
    "pid": SortKey("pid", "    Pid:Command", lambda comm, tid, loc, trace, s: tid, lambda e: (e.tid,),
                   _thread_cell, lambda e: len(e.thread_comm or "") + 8, True),
    "dso": SortKey("dso", "Shared Object", lambda comm, tid, loc, trace, s: loc.dso_name,
                   lambda e: (e.loc.dso_name is None, e.loc.dso_name or ""),
                   lambda e, w: _pad(_dso_text(e), w), lambda e: len(_dso_text(e)) if e.loc.dso_name else 0,
                   True),
    "sym": SortKey("sym", "Symbol", lambda comm, tid, loc, trace, s: sym_identity(loc, s),
                   lambda e: (not e.loc.has_sym, e.loc.name if e.loc.has_sym else ""),
                   lambda e, w: sym_cell(e.loc, e.is_self, getattr(e, "level", None)),
                   lambda e: len(e.loc.name) + 4 if e.loc.has_sym else UNRESOLVED_COL_WIDTH + 6, False),
    "trace": SortKey("trace", "Trace output", lambda comm, tid, loc, trace, s: trace, lambda e: (e.trace,),
                     lambda e, w: (e.trace or "")[:w], _trace_width, False),
}


def parse_sort(text: str) -> list[SortKey]:
    """``--sort a,b`` of these keys only (no tracepoint fields), as perf names them; ``overhead`` and
    ``overhead_children`` are left out (report.layout places them)."""
    from pyperf_probe.report.layout import setup_sorting
    layout = setup_sorting(text, None, children=False, events=(), all_tracepoints=False, raw_trace=False,
                           show_nr_samples=False)
    return [k for k in layout.keys() if isinstance(k, SortKey)]


def column_widths(keys: list, entries, unresolved_dso_min: bool) -> list[int]:
    """``hists__calc_col_len``: header length, widened by every entry's value. An unresolved symbol widens
    the dso column to 16 unless a ``--dso`` list is given (``hists__set_unres_dso_col_len``). The other
    columns (report.layout's hpp columns, report.dynamic's keys) know their own width."""
    sort_keys = [(i, k) for i, k in enumerate(keys) if k.kind == "sort"]
    widths = [len(k.header) if k.kind == "sort" else k.width() for k in keys]
    if entries:  # (each key's widths by one map: the width functions have no side effect)
        for i, k in sort_keys:
            w = max(map(k.width, entries))
            if w > widths[i]:
                widths[i] = w
    need_unres = not all(e.loc.has_sym for e in entries)
    if need_unres and unresolved_dso_min:
        for i, k in enumerate(keys):
            if k.name == "dso" and widths[i] < UNRESOLVED_COL_WIDTH:
                widths[i] = UNRESOLVED_COL_WIDTH
    return widths


