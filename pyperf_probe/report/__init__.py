"""Histogram entries, sort keys, children accumulation, and perf report's text renderers."""
