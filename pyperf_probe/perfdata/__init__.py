"""perf.data (PERFILE2): record dataclasses, a streaming reader, a writer with feature sections."""

from pyperf_probe.errors import PerfDataError

INCOMPATIBLE = "incompatible file format (rerun with -v to learn more)"


def incompatible(reason: str) -> PerfDataError:
    """perf's message for a file it cannot use; the reason goes to the debug log (perf's -v). Here, not in
    perfdata.stream, so that opening a file (perfdata.reader) does not import the record stream."""
    from pyperf_probe import lazylog as log
    log.debug(reason)
    return PerfDataError(INCOMPATIBLE)
