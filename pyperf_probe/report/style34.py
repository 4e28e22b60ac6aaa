"""The 2012 layout of ``perf report`` (Linux 3.4, util/hist.c ``hists__fprintf``), under
``--stdio-style=3.4``: the text of the uprobes announcement (../shared/seeds/000_..., perf-formats.md §3).

What differs from 6.1 (§3's table): only an Overhead column (no Children/Self), every column header
right-aligned (``"  %*s"``), the percent cell ``"   %6.2f%%"``, the comm cell right-aligned, the call graph
indented by the comm column's slack when comm is the first key, ``--- name`` trunks, ``--0.95%-- name``
branches, unresolved frames as ``%p``/``0x%llx``, flat values on each node's own hits as ``%6.2f%%``, and
no lost-samples or tip lines. Defaults were ``-g fractal,0.5,callee`` and ``--sort comm,dso,sym``.
Columns this layout never had (pid, trace) print as in 6.1.
"""
from __future__ import annotations

from pyperf_probe.report import callgraph_text
from pyperf_probe.report.hist import HistEntry, Hists
from pyperf_probe.report.sortkeys import column_widths
from pyperf_probe.report.stdio import StdioOptions, unit_count, visible_keys

DEFAULT_CALLGRAPH = "fractal,0.5,callee"
DEFAULT_SORT = "comm,dso,sym"


def samples_block(hists: Hists, evname: str) -> str:
    n, unit = unit_count(hists.nr_samples)
    return (f"# Samples: {n}{unit} of event '{evname}'\n"
            f"# Event count (approx.): {hists.total_period}\n#\n")


def header_lines(keys, widths: list[int]) -> str:
    heads = "".join("  " + k.header.strip().rjust(w) for k, w in zip(keys, widths))
    dots = "".join("  " + "." * w for w in widths)
    return "# Overhead" + heads + "\n# ........" + dots + "\n#\n"


def _cell(key, entry: HistEntry, width: int) -> str:
    if key.name == "comm":
        return entry.comm[:width].rjust(width)
    text = key.cell(entry, width)
    return text.ljust(width) if key.name == "sym" else text


def entry_line(entry: HistEntry, hists: Hists, keys, widths: list[int]) -> str:
    total = hists.total_period
    pct = entry.period * 100.0 / total if total else 0.0
    return "   %6.2f%%" % pct + "".join("  " + _cell(k, entry, w) for k, w in zip(keys, widths)) + "\n"


def render_hists(hists: Hists, opts: StdioOptions) -> str:
    show_graph = opts.graph is not None and opts.graph.mode != "none" and hists.callchains
    entries = [e for e in hists.sorted_entries(show_callchain=show_graph, hidden=opts.hidden) if not e.filtered]
    keys = visible_keys(hists, opts)
    widths = column_widths(keys, entries, not opts.dso_filter_given)
    out = [] if opts.quiet else [header_lines(keys, widths)]
    total = hists.total_period
    min_hit = int(total * (opts.graph.min_percent / 100)) if opts.graph else 0
    comm_first = bool(keys) and keys[0].name == "comm"
    for entry in entries:
        if total and entry.period * 100.0 / total < opts.percent_limit:
            continue
        out.append(entry_line(entry, hists, keys, widths))
        if show_graph:
            margin = widths[0] - len(entry.comm) if comm_first else 0
            params = opts.graph.replace(legacy=True, left_margin=max(margin, 0))
            out.append(callgraph_text.render(entry.callchain, params, total, entry.period, min_hit))
    return "".join(out)
