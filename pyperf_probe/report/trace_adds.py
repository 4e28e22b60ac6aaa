"""report.builder's per-group loop where every sort key is ``trace``, ``comm`` or ``pid`` (``--sort trace``,
``trace,comm``, ``comm,trace``...): each group's trace output made once per distinct RAW payload, its identity
and its Hists group made without ``Hists.add``'s general steps.

A system-wide tracepoint recording has about as many groups as samples (sys.data: 93K groups of 235K samples,
76K distinct outputs): the loop is per payload, in C where the accelerator is built
(perfdata/_speedups_script.c ``trace_adds``, whose Python twin is ``py_trace_adds``; the trace outputs
themselves come from the event's print plan, TracePlan in C where its format allows)."""
from __future__ import annotations

from pyperf_probe.perfdata.speedups import speedups

_LETTERS = {"trace": "t", "comm": "c", "pid": "p"}


def spec_of(hists) -> str | None:
    """The identity's letters ('t' trace output, 'c' comm, 'p' tid, in sort order) when ``hists``'s keys are all
    trace, comm or pid and one of them is trace (no frame key, no tracepoint-field key: ``Hists.add`` then
    makes the identity of those values alone); else None."""
    keys = hists.keys
    if not keys or any(k.kind != "sort" or k.name not in _LETTERS for k in keys) or \
            not any(k.name == "trace" for k in keys):
        return None
    return "".join(_LETTERS[k.name] for k in keys)


def py_trace_adds(bucket: dict, known: dict, to_rframe, chains: dict, chain_of, spec: str, text, texts: dict,
                  groups: dict, thread_comm: dict, gkeys: dict | None, rejects=None) -> None:
    """The twin of _speedups.trace_adds: ``Hists.add`` of each (thread, location, chain, raw) -> (period,
    count) of ``bucket`` as report.builder's loop calls it without filters: the location and chain converted
    (``known``/``to_rframe``, ``chains``/``chain_of``), the trace output of the payload (``texts``, else
    ``text(raw)``, "N/A" without ``text``), the thread's comm noted, the identity of ``spec``'s values, the
    group made (filtered if ``rejects(comm, location, loc)``: report.builder's Filters) or added to (``groups``: Hists' groups) and its number in ``gkeys`` (None: the caller keeps no
    sample order, report.builder's ``_Sequence``)."""
    last = None
    for group, (period, count) in list(bucket.items()):
        thread, location, chain, raw = group
        loc = known.get(location)
        if loc is None:
            loc = to_rframe(location)
        rchain = chains.get(chain)
        if rchain is None:
            rchain = chains[chain] = chain_of(chain)
        trace = texts.get(raw)
        if trace is None:
            trace = texts[raw] = text(raw or b"") if text is not None else "N/A"
        comm, tid = thread.comm, thread.tid
        if thread is not last:  # (a bucket's groups come mostly by thread)
            thread_comm[tid] = comm
            last = thread
        ident = tuple([trace if c == "t" else comm if c == "c" else tid for c in spec])
        gkey = (ident, chain)
        got = groups.get(gkey)
        if got is None:
            number = len(groups)
            filtered = rejects is not None and bool(rejects(comm, location, loc))
            groups[gkey] = [period, count, tid, comm, loc, rchain, trace, filtered, raw, number]
        else:
            got[0] += period
            got[1] += count
            number = got[9]
        if gkeys is not None:
            gkeys[group] = number


trace_adds = speedups.trace_adds if speedups is not None and hasattr(speedups, "trace_adds") else py_trace_adds
