"""perf report --stdio text of perf 6.1 (builtin-report.c ``perf_evlist__tty_browse_hists``,
ui/stdio/hist.c ``hists__fprintf``): the block per event, its column header, entry lines and call graphs.
Layout in perf-formats.md §2.1-2.2.
"""
from __future__ import annotations

from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.report import callgraph_text
from pyperf_probe.report.hist import HistEntry, Hists
from pyperf_probe.report.sortkeys import column_widths

PERCENT_WIDTH = 8
SAMPLES_WIDTH = 12


class StdioOptions(Frozen):
    """What shapes the text: columns, graph parameters, limits."""

    __slots__ = ()
    _fields = ("show_nr_samples", "percent_limit", "quiet", "graph", "dso_filter_given", "hidden")
    # graph: None: no call graphs printed
    # hidden: sort keys elided from the columns

    def __new__(cls, show_nr_samples: bool = False, percent_limit: float = 0.0, quiet: bool = False,
                graph: callgraph_text.GraphParams | None = None, dso_filter_given: bool = False,
                hidden: frozenset = frozenset()):
        return tuple.__new__(cls, (show_nr_samples, percent_limit, quiet, graph, dso_filter_given, hidden))


def visible_keys(hists: Hists, opts: StdioOptions):
    return [k for k in hists.keys if k.name not in opts.hidden]


def unit_count(n: int):
    """``convert_unit``: divide by 1000 while > 1000; the unit is then K, M or G (else a space)."""
    units = " KMG"
    i = 0
    while n > 1000 and i < 3:
        n //= 1000
        i += 1
    return n, units[i]


def samples_block(hists: Hists, evname: str) -> str:
    """``hists__fprintf_nr_sample_events`` and the ``#`` after it."""
    n, unit = unit_count(hists.nr_samples)
    return (f"# Samples: {n}{unit} of event '{evname}'\n"
            f"# Event count (approx.): {hists.total_period}\n#\n")


def _columns(hists: Hists, opts: StdioOptions):
    """(header, width, right_aligned) of the percent columns, then the sort keys' widths."""
    cols = []
    if hists.children:
        cols += [("Children", PERCENT_WIDTH), ("Self", PERCENT_WIDTH)]
    else:
        cols += [("Overhead", PERCENT_WIDTH)]
    if opts.show_nr_samples:
        cols += [("Samples", SAMPLES_WIDTH)]
    return cols


def header_lines(hists: Hists, opts: StdioOptions, entries: list[HistEntry]) -> str:
    pct_cols = _columns(hists, opts)
    keys = visible_keys(hists, opts)
    widths = column_widths(keys, entries, not opts.dso_filter_given)
    heads = [h.rjust(w) for h, w in pct_cols] + [k.header.ljust(w) for k, w in zip(keys, widths)]
    dots = ["." * w for _, w in pct_cols] + ["." * w for w in widths]
    return "# " + "  ".join(heads) + "\n# " + "  ".join(dots) + "\n#\n"


def entry_line(entry: HistEntry, hists: Hists, opts: StdioOptions, widths: list[int]) -> str:
    total = hists.total_period
    cells = []
    if hists.children:
        cells.append(_pct(entry.period_acc, total))
    cells.append(_pct(entry.period, total))
    if opts.show_nr_samples:
        cells.append("%*d" % (SAMPLES_WIDTH, entry.nr_events))
    keys = visible_keys(hists, opts)
    last = hists.keys[-1] if hists.keys else None
    for key, width in zip(keys, widths):
        text = key.cell(entry, width)
        # sym and trace cells are not padded by their formats; hist_entry__snprintf_alignment pads every
        # column but the last of the sort list, elided or not
        cells.append(text if key.padded or key is last else text.ljust(width))
    return "  " + "  ".join(cells) + "\n"


def _pct(period: int, total: int) -> str:
    return "%*.2f%%" % (PERCENT_WIDTH - 1, period * 100.0 / total if total else 0.0)


def render_hists(hists: Hists, opts: StdioOptions) -> str:
    """Column header (unless quiet), then every entry above the percent limit with its call graph."""
    show_graph = opts.graph is not None and opts.graph.mode != "none" and hists.callchains
    entries = [e for e in hists.sorted_entries(show_callchain=show_graph, hidden=opts.hidden) if not e.filtered]
    widths = column_widths(visible_keys(hists, opts), entries, not opts.dso_filter_given)
    out = [] if opts.quiet else [header_lines(hists, opts, entries)]
    total = hists.total_period
    min_hit = _graph_min_hit(total, opts)
    for entry in entries:
        if _entry_percent(entry, hists) < opts.percent_limit:
            continue
        out.append(entry_line(entry, hists, opts, widths))
        if show_graph:
            parent = entry.period_acc if hists.children else entry.period
            out.append(callgraph_text.render(entry.callchain, opts.graph, total, parent, min_hit))
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
