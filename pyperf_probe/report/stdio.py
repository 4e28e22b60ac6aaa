"""perf report --stdio text of perf 6.1 (builtin-report.c ``perf_evlist__tty_browse_hists``,
ui/stdio/hist.c ``hists__fprintf``): the block per event, its column header, entry lines and call graphs.
Layout in perf-formats.md §2.1-2.2.
"""
from __future__ import annotations

from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.report.hist import HistEntry, Hists
from pyperf_probe.report.sortkeys import column_widths, sym_cell

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: callgraph_text is imported by the reports that print graphs
    from pyperf_probe.report.callgraph_text import GraphParams

PERCENT_WIDTH = 8
SAMPLES_WIDTH = 12


class StdioOptions(Frozen):
    """What shapes the text: columns, graph parameters, limits."""

    __slots__ = ()
    _fields = ("show_nr_samples", "percent_limit", "quiet", "graph", "dso_filter_given", "hidden")
    # graph: None: no call graphs printed
    # hidden: sort keys elided from the columns

    def __new__(cls, show_nr_samples: bool = False, percent_limit: float = 0.0, quiet: bool = False,
                graph: GraphParams | None = None, dso_filter_given: bool = False,
                hidden: frozenset = frozenset()):
        return tuple.__new__(cls, (show_nr_samples, percent_limit, quiet, graph, dso_filter_given, hidden))


def visible_keys(hists: Hists, opts: StdioOptions):
    return [k for k in hists.keys if k.kind != "sort" or k.name not in opts.hidden]


def columns(hists: Hists, opts: StdioOptions) -> list:
    """The event's columns in order (``hists__for_each_format`` less ``perf_hpp__should_skip``): those of
    report.layout when it made the hists, else Children/Self or Overhead, Samples with -n, the keys."""
    cols = getattr(hists, "columns", None)
    if cols is None:
        from pyperf_probe.report.layout import hpp_column
        cols = [hpp_column("overhead_children")] if hists.children else []
        cols.append(hpp_column("overhead", hists.children))
        if opts.show_nr_samples:
            cols.append(hpp_column("sample"))
        cols += hists.keys
    return [c for c in cols if c.kind != "sort" or c.name not in opts.hidden]


def unit_count(n: int):
    """``convert_unit``: divide by 1000 while > 1000; the unit is then K, M or G (else a space)."""
    units = " KMG"
    i = 0
    while n > 1000 and i < 3:
        n //= 1000
        i += 1
    return n, units[i]


def samples_block(hists: Hists, evname: str, plural: bool = False) -> str:
    """``hists__fprintf_nr_sample_events`` and the ``#`` after it; ``plural``: the event leads a group of
    several ("of events"). A group in the group view counts all its events, under its description."""
    nr_samples, total = hists.nr_samples, hists.total_period
    if hists.group_members is not None:
        from pyperf_probe.report.group import totals
        nr_samples, total = totals(hists, hists.group_members)
    n, unit = unit_count(nr_samples)
    return (f"# Samples: {n}{unit} of event{'s' if plural else ''} '{evname}'\n"
            f"# Event count (approx.): {total}\n#\n")


def _widths(cols: list, entries: list[HistEntry], opts: StdioOptions, nr_members: int = 1) -> list[int]:
    widths = column_widths(cols, entries, not opts.dso_filter_given)
    if nr_members > 1:      # hpp__width_fn: a group's number columns hold one value per event
        widths = [max(w, c.fixed * nr_members) if c.kind == "hpp" else w for c, w in zip(cols, widths)]
    return widths


def _nr_members(hists: Hists) -> int:
    return 1 if hists.group_members is None else 1 + len(hists.group_members)


def header_lines(hists: Hists, opts: StdioOptions, entries: list[HistEntry], cols=None, widths=None) -> str:
    """``hists__fprintf_headers``: each header in its width (``%-*.*s`` for the sort keys, right-aligned
    for the numbers and the tracepoint fields), then the dots."""
    cols = columns(hists, opts) if cols is None else cols
    widths = _widths(cols, entries, opts, _nr_members(hists)) if widths is None else widths
    heads = [(c.header[:w].rjust(w) if c.right_aligned else c.header.ljust(w)[:w]) for c, w in zip(cols, widths)]
    dots = ["." * w for w in widths]
    return "# " + "  ".join(heads) + "\n# " + "  ".join(dots) + "\n#\n"


def entry_line(entry: HistEntry, hists: Hists, opts: StdioOptions, widths: list[int], cols=None) -> str:
    """``hist_entry__snprintf``: the cells, two spaces apart; a sort key's cell that does not fill its
    column is padded unless its column is the last of the sort list (``hist_entry__snprintf_alignment``,
    elided or other events' columns counted)."""
    cols = columns(hists, opts) if cols is None else cols
    last = _last_column(hists)
    total = hists.total_period
    cells = []
    members = hists.group_members
    for col, width in zip(cols, widths):
        kind = col.kind
        if kind == "hpp":
            if members is not None:
                cells.append(_group_cells(entry, hists, members, col))
                continue
            name = col.name
            if name == "overhead_children":
                cells.append(_pct(entry.period_acc, total))
            elif name == "overhead":
                cells.append(_pct(entry.period, total))
            else:
                cells.append("%*d" % (width, entry.nr_events if name == "sample" else entry.period))
            continue
        text = col.cell(entry, width)
        cells.append(text if col.padded or col is last else text.ljust(width))
    return "  " + "  ".join(cells) + "\n"


def _row_cells(hists: Hists, opts: StdioOptions, widths: list[int], cols: list):
    """``entry_line``'s cells as one function per column, chosen once per event: entry -> text."""
    last = _last_column(hists)
    total = hists.total_period
    pct = "%" + str(PERCENT_WIDTH - 1) + ".2f%%"  # (_pct's, with its expression: the same rounding)
    fns = []
    for col, width in zip(cols, widths):
        kind = col.kind
        if kind == "hpp":
            name = col.name
            if hists.group_members is not None:
                return None  # (a group's cells: entry_line's own loop)
            if name == "overhead_children":
                fns.append(lambda e: pct % (e.period_acc * 100.0 / total if total else 0.0))
            elif name == "overhead":
                fns.append(lambda e: pct % (e.period * 100.0 / total if total else 0.0))
            elif name == "sample":
                fns.append(lambda e, w=width: "%*d" % (w, e.nr_events))
            else:
                fns.append(lambda e, w=width: "%*d" % (w, e.period))
        elif kind == "sort" and col.name == "comm" and col.padded:  # (sortkeys' cells, one call less)
            fns.append(lambda e, w=width: e.comm[:w].ljust(w))
        elif kind == "sort" and col.name == "dso" and col.padded:
            fns.append(lambda e, w=width: (e.loc.dso_name if e.loc.dso_name is not None else "[unknown]")[:w].ljust(w))
        elif kind == "sort" and col.name == "sym" and col is last:
            fns.append(lambda e: sym_cell(e.loc, e.is_self, e.level))
        elif col.padded or col is last:
            fns.append(lambda e, cell=col.cell, w=width: cell(e, w))
        else:
            fns.append(lambda e, cell=col.cell, w=width: cell(e, w).ljust(w))
    return fns


def _group_cells(entry: HistEntry, hists: Hists, members: list, col) -> str:
    """``__hpp__fmt`` of a group: the leader's value, then each member's (0 where it has no entry of
    this key), each in the column's own width."""
    field = _FIELDS[col.name]
    out = []
    for e, h in zip((entry, *entry.pairs), (hists, *members)):
        value = getattr(e, field) if e is not None else 0
        if col.name in ("overhead", "overhead_children"):
            out.append(_pct(value, h.total_period))
        else:
            out.append("%*d" % (col.fixed, value))
    return "".join(out)


_FIELDS = {"overhead": "period", "overhead_children": "period_acc", "sample": "nr_events", "period": "period"}


def _last_column(hists: Hists):
    last = getattr(hists, "last_column", None)
    if last is None and getattr(hists, "columns", None) is None and hists.keys:
        return hists.keys[-1]
    return last


def _pct(period: int, total: int) -> str:
    return "%*.2f%%" % (PERCENT_WIDTH - 1, period * 100.0 / total if total else 0.0)


def render_hists(hists: Hists, opts: StdioOptions) -> str:
    """Column header (unless quiet), then every entry above the percent limit with its call graph."""
    show_graph = opts.graph is not None and opts.graph.mode != "none" and hists.callchains
    entries = [e for e in hists.sorted_entries(show_callchain=show_graph, hidden=opts.hidden) if not e.filtered]
    cols = columns(hists, opts)
    widths = _widths(cols, entries, opts, _nr_members(hists))
    out = [] if opts.quiet else [header_lines(hists, opts, entries, cols, widths)]
    total = hists.total_period
    min_hit = _graph_min_hit(total, opts)
    cells = _row_cells(hists, opts, widths, cols)
    if opts.percent_limit > 0:
        entries = [e for e in entries if _entry_percent(e, hists) >= opts.percent_limit]
    if cells is None:
        lines = [entry_line(entry, hists, opts, widths, cols) for entry in entries]
    else:  # (column by column: one map per column, then the rows joined)
        lines = list(map("  ".join, zip(*[list(map(cell, entries)) for cell in cells]))) if cells else \
            [""] * len(entries)
        lines = ["  " + line + "\n" for line in lines]
    if not show_graph:
        out.extend(lines)
        return "".join(out)
    from pyperf_probe.report import callgraph_text  # (only reports that print graphs)
    graph, children = opts.graph, hists.children
    # (callgraph_text.render's first test, here: most of a children report's entries print no graph)
    below = not graph.legacy and graph.mode in ("graph", "flat", "folded")
    for entry, line in zip(entries, lines):
        out.append(line)
        if below and entry.callchain.node.children_hit < min_hit:
            continue
        parent = entry.period_acc if children else entry.period
        out.append(callgraph_text.render(entry.callchain, graph, total, parent, min_hit))
    return "".join(out)


def _graph_min_hit(total: int, opts: StdioOptions) -> float:
    """``hists__output_resort``: (u64)(total period * min_percent / 100), for graph, flat and folded."""
    if opts.graph is None:
        return 0
    return int(total * (opts.graph.min_percent / 100))


def _entry_percent(entry: HistEntry, hists: Hists) -> float:
    """``hist_entry__get_percent_limit``: Children with --children, else Self."""
    period = entry.period_acc if hists.children else entry.period
    return period * 100.0 / hists.total_period if hists.total_period else 0.0
