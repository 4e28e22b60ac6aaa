"""perf's event grammar -> ``perf_event_attr``s, shared by record, stat and list.

One concept per module, in the order the data flows:

* ``lexer``: the tokens of tools/perf/util/parse-events.l (perf 6.1), with the columns bison reports errors at;
* ``parser``: the grammar of parse-events.y (groups, modifiers, terms) -> ``Evsel`` (``evsel``) values;
* ``tables``: the hardware, software and hardware-cache events and their aliases (perf's evsel.c tables);
* ``terms``: ``/term=value/`` kinds and their checks (``config_term_common``);
* ``modifiers``: ``:ukhHGpSD`` as ``get_event_modifier`` applies them;
* ``pmu``: ``PMU/term=.../`` from /sys/bus/event_source/devices (type, format, events);
* ``tracepoints``: ``GROUP:EVENT`` (globs) from tracefs, probe events included;
* ``config``: ``evsel__config`` and ``evlist__config``: the attrs ``perf record`` and ``perf stat`` open;
* ``errors``: ``event syntax error`` with perf's caret layout.
"""
