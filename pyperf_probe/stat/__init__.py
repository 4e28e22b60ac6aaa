"""``pyperf stat``: counting tracepoint and uprobe events (no sampling), printed as ``perf stat`` prints them."""
