"""perf.data (PERFILE2): record dataclasses, a streaming reader, a writer with feature sections."""
