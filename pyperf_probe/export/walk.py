"""The one pass every exporter makes over a perf.data file: the session (as ``pyperf script`` opens it, DWARF
unwinding included), its samples in perf's order, and a progress line on stderr while it runs.

``Walk(path, symfs=..., force=..., inline=..., kallsyms=...)`` opens the file; ``walk.samples(event=None)``
yields the session's ``ResolvedSample``s (only those of the event named ``event`` when given) and shows the
progress line when stderr is a terminal; ``walk.close()`` (or ``with``) closes the file.
"""
from __future__ import annotations

import sys
import time

from pyperf_probe.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterator

PROGRESS_EVERY = 4096      # samples between two looks at the clock
PROGRESS_PERIOD = 0.25     # seconds between two progress lines


def open_session(path: str | None, symfs: str | None = None, force: bool = False, inline: bool = True,
                 kallsyms: str | None = None):
    """The session ``pyperf script`` makes of ``path``: with the DWARF unwinder when the samples carry
    REGS_USER and STACK_USER (``--call-graph dwarf``); ``kallsyms`` is perf's --kallsyms."""
    from pyperf_probe.perfdata.format import SampleType
    from pyperf_probe.perfdata.reader import PerfDataFile
    from pyperf_probe.session import Session
    data = PerfDataFile.open(path, force=force)
    sample_type = 0
    for attr in data.attrs:
        sample_type |= attr.attr.sample_type
    unwinder = None
    if sample_type & SampleType.REGS_USER and sample_type & SampleType.STACK_USER:
        from pyperf_probe.callchain.dwarf_unwind import DwarfUnwinder
        unwinder = DwarfUnwinder(symfs=symfs)
    return Session(data, symfs=symfs, inline=inline, force=force, unwinder=unwinder, kallsyms=kallsyms)


class Progress:
    """``[ pyperf: NAME: 42% of the data, 123,456 samples ]`` rewritten in place on stderr, at most every
    PROGRESS_PERIOD seconds, only when stderr is a terminal; ``done()`` clears it."""

    def __init__(self, what: str, data_offset: int, data_size: int, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.what, self.offset, self.size = what, data_offset, max(data_size, 1)
        self.last = time.monotonic()
        self.shown = False

    def update(self, nr_samples: int, file_offset: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < PROGRESS_PERIOD:
            return
        self.last = now
        share = min(max((file_offset - self.offset) * 100 // self.size, 0), 100)
        self.stream.write(f"\r[ pyperf: {self.what}: {share}% of the data, {nr_samples:,} samples ]\x1b[K")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class Walk:
    """A perf.data file opened for one export pass (see the module docstring)."""

    def __init__(self, path: str | None, symfs: str | None = None, force: bool = False, inline: bool = True,
                 what: str = "export", kallsyms: str | None = None):
        self.session = open_session(path, symfs, force, inline, kallsyms)
        self.what = what
        self.nr_samples = 0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Walk":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def evsel_index(self, event: str | None) -> int | None:
        """The index of the event named ``event`` (flamegraph's ``-e``), None for all events."""
        if event is None:
            return None
        for evsel in self.session.evsels:
            if evsel.name == event:
                return evsel.index
        names = ", ".join(e.name or "?" for e in self.session.evsels)
        raise UsageError(f"event '{event}' is not in the file (it has: {names})")

    def samples(self, event: str | None = None) -> Iterator:
        """The session's resolved samples in perf's order (those of ``event`` only when given)."""
        wanted = self.evsel_index(event)
        header = self.session.data.header
        progress = Progress(self.what, header.data.offset, header.data.size)
        count = 0
        try:
            for sample in self.session.samples():
                count += 1
                if progress.enabled and not count % PROGRESS_EVERY:
                    progress.update(count, sample.sample.file_offset)
                if wanted is None or sample.evsel == wanted:
                    yield sample
        finally:
            self.nr_samples = count
            progress.done()
