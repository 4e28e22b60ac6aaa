"""pyperf-probe: Linux perf's user-space probing workflow (probe, record, report) in Python."""

__version__ = "0.1.0"

# the package's modules from one file when ``make compile`` wrote it (codebundle: the start-up of every command)
from pyperf_probe import codebundle as _codebundle  # noqa: E402

_codebundle.install(__name__, __path__[0])
