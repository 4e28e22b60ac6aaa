"""stackcollapse's folded lines (tools/perf/scripts/python/stackcollapse.py, perf 6.1): ``STACK COUNT``, one line
per distinct stack, sorted by the stack text (Python's string order), the format Brendan Gregg's
flamegraph.pl and speedscope read.

A stack is the process name (spaces made ``_``; with ``--include-pid`` ``-PID``, with ``--include-tid`` then
``/TID``; left out with ``--no-comm``), then the frames from the outermost to the leaf, joined by ``;``. A
frame is its symbol name or ``[unknown]``, any ``;`` in it written ``:``; ``--tidy-java`` shortens Java
signatures as the script does, ``--kernel`` appends ``_[k]`` to frames of ``[kernel.kallsyms]``. A file
without call chains gives the process name alone. The count is the number of samples.

The counts are kept per stack text; a sample whose (thread, chain) was seen before reuses its text
through a memo.
"""
from __future__ import annotations

from pyperf_probe.perfdata.frozen import Frozen

MEMO_LIMIT = 1 << 16


class CollapseOptions(Frozen):
    """stackcollapse.py's options: --include-tid, --include-pid, --no-comm, --tidy-java, --kernel."""

    __slots__ = ()
    _fields = ("include_tid", "include_pid", "include_comm", "tidy_java", "annotate_kernel")

    def __new__(cls, include_tid: bool = False, include_pid: bool = False, include_comm: bool = True,
                tidy_java: bool = False, annotate_kernel: bool = False):
        return tuple.__new__(cls, (include_tid, include_pid, include_comm, tidy_java, annotate_kernel))


def tidy_function_name(sym: str | None, dso: str | None, opts: CollapseOptions) -> str:
    """The script's ``tidy_function_name``."""
    if sym is None:
        sym = "[unknown]"
    sym = sym.replace(";", ":")
    if opts.tidy_java:
        sym = sym.replace("<", "").replace(">", "")
        if sym[0] == "L" and sym.find("/"):   # the script's test (find() is -1 or > 0: true but at 0)
            sym = sym[1:]
        paren = sym.find("(")
        if paren >= 0:
            sym = sym[:paren]
    if opts.annotate_kernel and dso == "[kernel.kallsyms]":
        return sym + "_[k]"
    return sym


class Collapser:
    """Folded stack counts, fed one resolved sample at a time (see the module docstring)."""

    def __init__(self, opts: CollapseOptions = CollapseOptions()):
        self.opts = opts
        self.lines: dict[str, int] = {}
        self.nr_samples = 0
        self._memo: dict = {}

    def add(self, sample) -> None:
        key = (sample.thread, sample.sample.pid, sample.chain)
        text = self._memo.get(key)
        if text is None:
            text = self._stack(sample)
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = text
        lines = self.lines
        lines[text] = lines.get(text, 0) + 1
        self.nr_samples += 1

    def _stack(self, sample) -> str:
        opts = self.opts
        stack = [tidy_function_name(f.sym, f.dso_obj.long_name if f.dso_obj is not None else None, opts)
                 for f in reversed(sample.chain)]
        if opts.include_comm:
            t = sample.thread
            comm, sep = t.comm.replace(" ", "_"), "-"
            if opts.include_pid:
                comm += sep + str(_pid(sample))
                sep = "/"
            if opts.include_tid:
                comm += sep + str(_tid(sample))
            stack.insert(0, comm)
        return ";".join(stack)

    def output(self):
        """The lines, sorted as the script's ``sorted(lines)``."""
        lines = self.lines
        for stack in sorted(lines):
            yield f"{stack} {lines[stack]}\n"


def _pid(sample) -> int:
    pid = sample.sample.pid
    return -1 if pid is None else pid


def _tid(sample) -> int:
    tid = sample.sample.tid
    return -1 if tid is None else tid
