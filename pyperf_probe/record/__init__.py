"""``pyperf record``'s library: which events and attrs, the workload, and the recording session."""
