"""pyperf-probe: Linux perf's user-space probing workflow (probe, record, report) in Python."""

__version__ = "0.1.0"
