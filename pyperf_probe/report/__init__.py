"""What ``pyperf report`` computes and prints from session samples (perf 6.1's builtin-report.c, util/hist.c,
util/sort.c, ui/stdio/hist.c), bottom-up:

* ``frames``        session frames -> ``RFrame`` (what entries and trees compare: dso order, symbol start)
* ``sortkeys``      comm, pid, dso, sym, trace: identity, perf's tree comparators, output order, cells
* ``dynamic``       tracepoint fields as sort keys (EVENT.FIELD, FIELD, EVENT.*, trace_fields, /raw)
* ``layout``        ``--sort`` and ``-F`` -> the sort list and the columns (overhead, sample, period among them)
* ``rbtree``        the in-order result of perf's rb-tree insertions (its comparators are not total orders)
* ``hist``          entries per event: self and children (cumulative) periods, call-graph trees, output order
* ``builder``       session samples -> hists (samples aggregated per interned thread/location/chain)
* ``callgraph_text`` graph / fractal / flat / folded text under an entry
* ``stdio``         perf 6.1's --stdio layout;  ``style34``: perf 3.4's (``--stdio-style=3.4``)
* ``header_info``   the ``--header`` / ``--header-only`` block
* ``options``, ``tips``, ``pager``: the command line, the tip line, the pager on a terminal

The call-graph trees themselves live in ``callchain.tree``, tracepoint records are printed by
``traceevent`` (the ``trace`` key, ``--raw-trace``); the command is ``cmd_report``.
"""
