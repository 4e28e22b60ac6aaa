"""The only layer that touches the kernel: tracefs, perf_event_open, ioctls, ring buffers."""
