"""``pyperf report``: read perf.data, print perf 6.1's ``perf report --stdio`` text (builtin-report.c).

Pipeline: options -> open the file (perf's checks and messages) -> the header line or ``--header`` block ->
session samples into per-event hists (``report.builder``) -> per event: ``# Samples``, columns, entries and
call graphs (``report.stdio``, or ``report.style34`` for ``--stdio-style=3.4``) -> the tip line.
"""
from __future__ import annotations

import gc
import os
import sys

from pyperf_probe.errors import ReportError
from pyperf_probe.perfdata.format import AttrType, Feature, SampleType
from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.report.options import USAGE, CallgraphSpec, ReportOptions, parse_args, parse_callgraph

# cli.py may end the process without the interpreter's teardown after this command (cli._end_process:
# ~6 ms of a 132K-sample report's CPU, bench/report): report writes only to stdout (or to a pager it
# waits for) and starts no thread; the CFI cache's exit function still runs.
NO_TEARDOWN = True
NO_CYCLIC_GC = True  # the report keeps the collector off anyway (main); cli turns it off before the imports

HEADER_HINT = "# To display the perf.data header info, please use --header/--header-only options.\n#\n"
INVALID_ARGUMENT = 234  # perf report's exit status for -EINVAL
NO_CALLCHAIN = ("Error:\nSelected -g or --branch-history.\nBut no callchain or branch data.\n"
                "Did you call 'perf record' without -g or -b?")


def main(argv: list[str], opts) -> int:
    ropts = parse_args(argv)
    ropts.quiet = ropts.quiet or opts.quiet
    if ropts.quiet:  # perf -q drops --header and --header-only altogether (the report is printed)
        ropts.header = ropts.header_only = False
    legacy = ropts.style == "3.4"
    if ropts.kallsyms is not None and not os.access(ropts.kallsyms, os.R_OK):
        sys.stderr.write(f"Invalid file: {ropts.kallsyms}\n")  # symbol__validate_sym_arguments
        return INVALID_ARGUMENT
    from pyperf_probe.perfdata.reader import PerfDataFile
    data = PerfDataFile.open(ropts.input, force=ropts.force)
    out: list[str] = []
    if ropts.header or ropts.header_only:
        from pyperf_probe.report.header_info import header_block
        out.append(header_block(data))
    elif not ropts.quiet and not legacy:
        out.append(HEADER_HINT)
    if ropts.header_only:
        _emit(out)
        return 0
    # The cyclic collector stays off for the whole report, rendering included (report.builder pauses it
    # while building): the histograms and call-graph trees are hundreds of thousands of long-lived objects
    # and no garbage cycles, and every full collection walks them again (bench/unwind's make file sorted
    # comm,dso,sym: 1.32 -> 1.08 s of CPU, medians of 6; the same peak RSS).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _report(data, ropts, out)
    finally:
        if enabled:
            gc.enable()


class Plan(Frozen):
    """What the file and the options decide together: perf report's defaults applied."""

    __slots__ = ()
    _fields = ("legacy", "has_callchains", "spec", "children", "caller", "sort_text", "sample_type")
    # legacy: --stdio-style=3.4

    def __new__(cls, legacy: bool, has_callchains: bool, spec: CallgraphSpec, children: bool, caller: bool,
                sort_text: str, sample_type: int):
        return tuple.__new__(cls, (legacy, has_callchains, spec, children, caller, sort_text, sample_type))


def _plan(data, ropts: ReportOptions) -> Plan:
    """perf's defaults: ``trace`` sort for tracepoint-only files, children and caller order when there
    are call chains; perf 3.4's ``fractal,0.5,callee`` and ``comm,dso,sym`` for the 3.4 layout."""
    attrs = [a.attr for a in data.attrs]
    sample_type = 0
    for attr in attrs:
        sample_type |= attr.sample_type
    has_cc = bool(sample_type & SampleType.CALLCHAIN)
    legacy = ropts.style == "3.4"
    if legacy:
        from pyperf_probe.report import style34
    default_spec = parse_callgraph(style34.DEFAULT_CALLGRAPH) if legacy else CallgraphSpec()
    spec = parse_callgraph(ropts.callgraph) if ropts.callgraph else default_spec
    wants_children = False if legacy else (ropts.children if ropts.children is not None else True)
    children = has_cc and wants_children
    sort_text = ropts.sort or (style34.DEFAULT_SORT if legacy else None)  # None: report.layout's default
    return Plan(legacy, has_cc, spec, children, _caller_order(spec, ropts, children), sort_text, sample_type)


def _report(data, ropts: ReportOptions, out: list[str]) -> int:
    plan = _plan(data, ropts)
    if ropts.callgraph is not None and plan.spec.mode != "none" and not plan.has_callchains:
        # perf: setup_sorting (its errors, the elided columns' lines), then report__setup_sample_type's error.
        # No session is made and no sample read; a tracepoint's format is parsed only if a key names one of
        # its fields (perf prints this in no measurable CPU time; the session and its imports: ~10 ms)
        layout = _setup_sorting(_lazy_events(data, ropts, plan), data.attrs, plan, ropts)
        _elided(layout.keys(), ropts, out)
        _emit(out)
        sys.stderr.write(NO_CALLCHAIN + "\n")
        return 0
    # perf unwinds DWARF stacks only when the report uses chains (sample__resolve_callchain: use_callchain,
    # which -g none clears, or cumulate_callchain, --children): with neither, the chains are not needed
    session = _session(data, ropts, plan.sample_type, unwind=plan.children or plan.spec.mode != "none")
    session.caller_order = plan.caller  # callchain_param.order: the order perf looks a chain's addresses up in
    made: list = []  # the file's TraceEvents, made when a sort key first asks for a format (see _layout)

    def trace_events_of_file():
        if not made:
            made.append(_trace_events(session))
        return made[0]
    layout = _layout(session, trace_events_of_file, plan, ropts)
    keys = layout.keys()
    hidden = _elided(keys, ropts, out)
    if not ropts.quiet and not plan.legacy:
        out.append("#\n")
    from pyperf_probe.report.builder import build
    built = build(session, keys, children=plan.children, callchains=plan.has_callchains,
                  caller_order=plan.caller, filters=_filters(ropts), layout=layout,
                  trace_events=made[0] if made else None,  # (build makes them if its keys print records)
                  raw_trace=ropts.raw_trace, graphs=plan.spec.mode != "none",
                  graph_min_percent=_graph_params(plan.spec, ropts, plan.sort_text).min_percent
                  if plan.spec.mode in ("graph", "flat", "folded") else None)
    if not ropts.quiet:  # perf -q silences its warnings
        _lost_warnings(session)
        _kptr_warning(session)
    if session.nr_samples == 0:
        _emit([out[0]] if out and not ropts.quiet and not plan.legacy else [])
        sys.stderr.write(f"Error:\nThe {ropts.input or 'perf.data'} data has no samples!\n")
        return 0
    if not ropts.quiet and not plan.legacy:
        out.append(f"# Total Lost Samples: {session.lost_samples}\n#\n")
    groups = [] if plan.legacy else _groups(data, built, ropts)
    _render_events(built, plan, ropts, hidden, out, groups)
    if not ropts.quiet and not plan.legacy:
        from pyperf_probe.report.tips import random_tip
        out.append(f"#\n# ({random_tip()})\n#\n")
    _emit(out)
    return 0


def _session(data, ropts: ReportOptions, sample_type: int, unwind: bool = True):
    from pyperf_probe.session import Session
    unwinder = None
    if unwind and sample_type & SampleType.REGS_USER and sample_type & SampleType.STACK_USER:  # --call-graph dwarf
        from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder
        unwinder = DwarfUnwinder(symfs=ropts.symfs, max_stack=ropts.max_stack)
    return Session(data, symfs=ropts.symfs, inline=ropts.inline, force=ropts.force, unwinder=unwinder,
                   max_stack=ropts.max_stack,
                   kallsyms=ropts.kallsyms, quiet=ropts.quiet)


def _trace_events(session):
    """The file's tracepoint formats and their renderer (traceevent.TraceEvents), None without tracepoints."""
    if not any(ev.tp_format is not None for ev in session.evsels):
        return None
    from pyperf_probe.traceevent.events import for_session
    return for_session(session)


def _layout(session, trace_events_of_file, plan: Plan, ropts: ReportOptions):
    """``setup_sorting``: the sort list and columns (report.layout), tracepoint fields included: a
    tracepoint's format is parsed (``trace_events_of_file()`` made) only when a sort key names one of its
    fields, as perf's add_dynamic_entry reads it (a -g uprobe report sorted by comm,dso,sym parses none)."""
    from pyperf_probe.report import dynamic
    events = dynamic.event_infos(session.evsels, lambda config: trace_events_of_file().python_event(config))
    return _setup_sorting(events, session.evsels, plan, ropts)


def _lazy_events(data, ropts: ReportOptions, plan: Plan) -> list:
    """``dynamic.event_infos`` of the file's events without a session: a tracepoint's format is loaded (the
    session and its TraceEvents made, once) when a sort key first asks for it; None for an event without
    one, as event_infos gives."""
    from pyperf_probe.report.dynamic import EventInfo
    made: list = []

    def load(index: int, config: int):
        if not made:
            session = _session(data, ropts, plan.sample_type)
            made.append((session, _trace_events(session)))
        session, trace_events = made[0]
        if trace_events is None or session.evsels[index].tp_format is None:
            return None
        return trace_events.python_event(config)

    return [EventInfo(a.index, a.name or "", a.attr.type == AttrType.TRACEPOINT,
                      (lambda index, config: lambda: load(index, config))(a.index, a.attr.config)
                      if a.attr.type == AttrType.TRACEPOINT else None) for a in data.attrs]


def _setup_sorting(events: list, evsels, plan: Plan, ropts: ReportOptions):
    """report.layout's ``setup_sorting`` for these events (``evsels``: the file's events, attr each)."""
    from pyperf_probe.report import layout
    all_tp = bool(evsels) and all(ev.attr.type == AttrType.TRACEPOINT for ev in evsels)
    return layout.setup_sorting(plan.sort_text, None if plan.legacy else ropts.fields, children=plan.children,
                                events=events, all_tracepoints=all_tp and not plan.legacy,
                                raw_trace=ropts.raw_trace, show_nr_samples=ropts.show_nr_samples)


def _groups(data, built, ropts: ReportOptions) -> list:
    """The file's event groups (report.group), their members linked to their leaders in the group view."""
    if Feature.GROUP_DESC not in data.features and (ropts.group is None or len(built.hists) < 2):
        return []  # (file_groups' answer for a file without groups, none forced: report.group left unimported)
    from pyperf_probe.report import group
    groups = group.file_groups(data, len(built.hists), force=ropts.group is not None)
    if ropts.group is not False:
        for g in groups:
            group.link(built.hists[g.leader], [built.hists[i] for i in g.members])
    return groups


def _render_events(built, plan: Plan, ropts: ReportOptions, hidden: list[str], out: list[str],
                   groups: list = ()) -> None:
    """Per event with samples: ``# Samples`` block, columns, entries and graphs, then a blank pair. In
    the group view a group prints as its leader, under the group's description (report.group)."""
    from pyperf_probe.report import stdio
    use_graph = plan.has_callchains and plan.spec.mode != "none"
    params = _graph_params(plan.spec, ropts, plan.sort_text) if use_graph else None
    sopts = stdio.StdioOptions(show_nr_samples=ropts.show_nr_samples, percent_limit=ropts.percent_limit,
                               quiet=ropts.quiet, graph=params, dso_filter_given=ropts.dsos is not None,
                               hidden=frozenset(hidden))
    render = stdio
    if plan.legacy:
        from pyperf_probe.report import style34 as render
    leaders = {g.leader: g for g in groups}
    view = ropts.group is not False
    members = {i for g in groups for i in g.members} if view else set()
    for index, (hists, name) in enumerate(zip(built.hists, built.names)):
        if index in members or not hists.nr_samples:
            continue
        if not ropts.quiet:
            if index not in leaders:
                out.append(render.samples_block(hists, name))
            else:
                from pyperf_probe.report.group import description
                text = description(leaders[index], built.names) if view else name
                out.append(render.samples_block(hists, text, plural=True))
        out.append(render.render_hists(hists, sopts))
        out.append("\n\n")


def _caller_order(spec: CallgraphSpec, ropts: ReportOptions, children: bool) -> bool:
    """perf: caller with -G (it wins over ``-g ...,callee``), else ``-g ...,caller|callee`` if given, else
    caller with --children, else callee."""
    if ropts.inverted:
        return True
    if spec.order is not None:
        return spec.order == "caller"
    return children


def _graph_params(spec: CallgraphSpec, ropts: ReportOptions, sort_text: str):
    """report.callgraph_text's ``GraphParams`` of the options."""
    from pyperf_probe.report import callgraph_text
    threshold = ropts.percent_limit if ropts.percent_limit else spec.threshold
    skip_first = ropts.sort is not None and sort_text.startswith("sym")
    return callgraph_text.GraphParams(mode=spec.mode, min_percent=threshold, print_limit=spec.print_limit,
                                      value=spec.value, skip_first=skip_first)


def _elided(keys, ropts: ReportOptions, out: list[str]) -> list[str]:
    """``sort__setup_elide``: a column whose filter list has one entry is hidden, and said once as
    ``# comm: X``; if that would hide every column, none is hidden."""
    lists = {"comm": ("comm", ropts.comms), "dso": ("dso", ropts.dsos), "sym": ("symbol", ropts.symbols)}
    keys = [k for k in keys if k.kind == "sort"]  # perf_hpp__is_sort_entry: not the tracepoint fields
    hidden = []
    for key in keys:
        label, values = lists.get(key.name, (None, None))
        if values is not None and len(set(values)) == 1:
            out.append(f"# {label}: {values[0]}\n")  # printed even with -q, as perf does
            hidden.append(key.name)
    return [] if len(hidden) == len(keys) else hidden


def _filters(ropts: ReportOptions):
    from pyperf_probe.report.builder import Filters
    as_set = lambda v: frozenset(v) if v is not None else None  # noqa: E731
    return Filters(as_set(ropts.comms), as_set(ropts.dsos), as_set(ropts.symbols))


def _lost_warnings(session) -> None:
    """``perf_session__warn_about_errors``: lost chunks, and lost samples above 5%."""
    if session.nr_lost_chunks:
        sys.stderr.write(f"Warning:\nProcessed {session.nr_events} events and lost {session.nr_lost_chunks} "
                         "chunks!\n\nCheck IO/CPU overload!\n\n")
    total = session.nr_samples + session.lost_samples
    if total and session.lost_samples / total > 0.05:
        sys.stderr.write(f"Warning:\nProcessed {total} samples and lost "
                         f"{session.lost_samples * 100.0 / total:3.2f}%!\n\n")


def _kptr_warning(session) -> None:
    """``report__warn_kptr_restrict``: samples in the kernel of a file recorded without its addresses
    (unless every event excludes the kernel)."""
    from pyperf_probe.perfdata.format import AttrFlag
    if all(ev.attr.flags & AttrFlag.EXCLUDE_KERNEL for ev in session.evsels):
        return
    text = session.machine.kernel.restricted_warning()
    if text:
        sys.stderr.write("Warning:\n" + text)


def _emit(out: list[str]) -> None:
    from pyperf_probe.report.pager import write_paged
    write_paged("".join(out))


__all__ = ["main", "USAGE", "ReportError"]
