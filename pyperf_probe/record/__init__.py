"""``pyperf record``'s library: which events and attrs, the workload, the event fds, the drain loop and the run that ties them (recorder)."""
