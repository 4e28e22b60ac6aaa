"""``perf script``'s text from sample keys: each distinct sample rendered once, then only its time per sample.

perf script prints every sample, but the samples of a thread that stopped in the same place differ only by
their time: the reader delivers them as timed keys (``perfdata.sample_keys``: the record without TIME, CPU
kept, paired with its time) in perf's order, between the records that change the machine. The first sample
of a key is decoded, resolved and formatted as the one-by-one path does it (``ScriptPrinter.template``:
its text with the time left as ``%``-conversions); every later one costs a dictionary lookup and one
string formatting. So the Python work grows with distinct keys, not samples.

Why that prints what replaying ``session.samples()`` prints: between two records (COMM, MMAP, FORK, ...)
a sample's text depends only on its key, its time and the machine, and the only changes a sample makes to
the machine are the ones ``session.counts`` lists (a thread created, a pid learnt late, the kernel's
symbols loaded). Every kept text is dropped at each record that changes the machine, and at a resolution
that learnt a pid or changed the kernel; the text of a resolution that changed the kernel is not kept.
Samples whose id no event has, or that are corrupt, are never kept: the reader counts each one.
"""
from __future__ import annotations

from collections.abc import Callable

from pyperf_probe.perfdata.records import ExitRecord, LostRecord, LostSamplesRecord
from pyperf_probe.perfdata.sample import Sample

MEMO_LIMIT = 1 << 16  # texts kept: memory stays flat when keys are as many as the samples
SECOND = 1_000_000_000
# Records after which kept texts still hold (an EXIT only marks the thread: resolve never reads it).
_STATELESS = (LostRecord, LostSamplesRecord, ExitRecord)


def write_samples(session, printer, accept: Callable, write: Callable[[str], object]) -> bool:
    """Write the text of every sample of ``session`` that ``accept(thread)`` takes, by keys; False (nothing
    read) when the file's samples are not keyed: the caller replays them one by one."""
    batches = session.data.keyed_batches(timed=True)
    if batches is None:
        return False
    walk = _Walk(session, printer, accept)
    handlers = session.record_handlers()
    for item in batches:
        if type(item) is list:
            text = walk.run(item)
            if text:
                write(text)
        elif type(item) is Sample:  # a sample the reader decoded (not keyed: another event's layout)
            session.nr_samples += 1
            resolved = session.resolve(item)
            walk.machine_changed()
            if accept(resolved.thread):
                write(printer.format(resolved))
        else:
            handler = handlers.get(type(item))
            if handler is not None:
                handler(item)
            if not isinstance(item, _STATELESS):
                walk.memo.clear()
    session.data.warn_summary()
    return True


class _Walk:
    """Runs of (key, time) pairs -> text; ``memo`` maps a key to its template while the machine stays as
    it was ("" for a sample that prints nothing)."""

    def __init__(self, session, printer, accept: Callable):
        self.session = session
        self.printer = printer
        self.accept = accept
        self.machine = session.machine
        self.kernel = self.machine.kernel
        self.pid_updates = self.machine.pid_updates
        self.kernel_epoch = self.kernel.epoch
        self.decode = session.data.decode_key
        self.memo: dict[bytes, str] = {}
        # --ns: the rest of the second in nanoseconds, else in microseconds
        self.divisor = 1 if printer.options.nanosecs else 1000

    def run(self, items: list) -> str:
        """The text of a run of delivered samples."""
        memo_get = self.memo.get
        divisor = self.divisor
        out: list[str] = []
        append = out.append
        dropped = 0
        for key, time in items:
            template = memo_get(key)
            if template is None:
                template = self.miss(key)
                if template is None:
                    dropped += 1
                    continue
            if template:
                append(template % (time // SECOND, time % SECOND // divisor))
        self.session.nr_samples += len(items) - dropped
        return "".join(out)

    def miss(self, key: bytes) -> str | None:
        """The template of a key not kept: decoded, resolved, formatted (and kept while valid); None when
        the reader drops the sample."""
        sample = self.decode(key)
        if sample is None:
            return None
        resolved = self.session.resolve(sample)
        template = self.printer.template(resolved) if self.accept(resolved.thread) else ""
        if not self.machine_changed():
            memo = self.memo
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            memo[key] = template
        return template

    def machine_changed(self) -> bool:
        """After a resolution: if it gave a thread its pid or changed the kernel's maps or symbols, what was
        kept no longer holds (nor, for the kernel, the text just made: it is not kept)."""
        changed = False
        if self.machine.pid_updates != self.pid_updates:
            self.pid_updates = self.machine.pid_updates
            self.memo.clear()
        if self.kernel.epoch != self.kernel_epoch:
            self.kernel_epoch = self.kernel.epoch
            self.memo.clear()
            changed = True
        return changed
