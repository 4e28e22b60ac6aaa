"""One error type per layer.

Each layer raises only its own type; ``cli.py`` turns any of them into text on stderr and an exit code
(``cli.exit_code_for``), so no module below the command line calls ``sys.exit`` or prints an error.

The message is what the user sees, in perf's wording where perf has one (it may span the lines perf
prints, e.g. ``Probe point 'x' not found.\\n  Error: Failed to add events.``). ``errno`` is set where perf
would return ``-errno`` from its command: perf's exit status is then ``(-errno) & 0xff`` (``-ENOENT`` -> 254,
``-EEXIST`` -> 239), and pyperf keeps that contract.
"""
from __future__ import annotations


class PyperfError(Exception):
    """Base of every error pyperf reports to the user."""

    def __init__(self, message: str, *, errno: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.errno = errno
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PyperfError):
    """Bad command line: perf prints the message and the usage text, and exits 129. ``gap``: what perf prints
    between them (a blank line for most; a bare line end after a message that perf's ``parse_options_usage``
    follows with its "\n Usage:", as setup_sorting's errors)."""

    def __init__(self, message: str, *, usage: str = "", gap: str = "\n\n", **kw):
        super().__init__(message, **kw)
        self.usage = usage
        self.gap = gap


class SymbolError(PyperfError):
    """symbols/: a file that is missing, not ELF, truncated, or lacks what was asked of it."""


class ProbeError(PyperfError):
    """probe/: a probe definition that cannot be parsed or placed."""


class KernelError(PyperfError):
    """kernel/: tracefs, uprobe_events, perf_event_open, ioctls, ring buffers."""


class PerfDataError(PyperfError):
    """perfdata/: a perf.data file that cannot be read or written."""


class ReportError(PyperfError):
    """session, report/, callchain/: a recording that cannot be turned into the asked-for output."""


class BpfError(KernelError):
    """bpf/: a map or program the kernel refused; ``log`` is the verifier's explanation, when it gave one."""

    def __init__(self, message: str, *, log: str = "", **kw):
        super().__init__(message, **kw)
        self.log = log
