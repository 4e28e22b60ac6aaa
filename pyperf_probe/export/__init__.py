"""Profiles leaving the terminal: flame graph (HTML and perf's JSON), stackcollapse's folded lines, perf's
JSON (``perf data convert --to-json``), pprof's profile.proto and perf's SQLite database.

Every exporter walks the session's resolved samples once (``export.walk``), in perf's order, and keeps
only what grows with the distinct stacks, never with the samples: memory stays flat on long recordings.
They compute and write, as report's renderers do; the ``cmd_*`` modules choose files and options.

Tracepoint and probe samples are exported like any other. perf's Python scripts (flamegraph.py,
stackcollapse.py, export-to-sqlite.py) never see them: perf hands a tracepoint sample to the script's
per-event handler, not to ``process_event`` or the database export, so the flame graph of a probe
recording is empty there. On files without tracepoint samples the outputs equal perf's.
"""
