"""Where the build-id cache is: perf's ``buildid_dir`` (tools/perf/util/config.c ``set_buildid_dir``).

perf 6.1 takes it from ``perf --buildid-dir DIR`` (perf.c ``handle_options``), else ``buildid.dir`` in
perfconfig, else ``$HOME/.debug`` (``.debug`` without HOME), and exports the result as
``PERF_BUILDID_DIR`` "for communicating with external commands": the workload of ``perf record`` and
scripts such as perf-archive see it. pyperf does the same, with one reading of its own: a
``PERF_BUILDID_DIR`` already in the environment stands in for perfconfig's ``buildid.dir`` (pyperf reads
no perfconfig), so a pyperf run under a perf that was given ``--buildid-dir`` uses perf's cache. perf
itself ignores the variable when it starts.

``pyperf`` (cli.py) resolves the directory once, before the command runs, and exports it; every reader and
writer of the cache (record, report, script, probe, stat, list, buildid-cache, the unwinder) asks
:func:`cache_dir`, which reads it back. The directory is made absolute against the current directory: perf
keeps a relative one as given, and its record then caches nothing (``mkdir_p`` refuses relative paths).
"""
from __future__ import annotations

import os

ENV = "PERF_BUILDID_DIR"
DEBUG_CACHE_DIR = ".debug"


def resolve(given: str | None = None) -> str:
    """The cache directory for ``--buildid-dir given`` (None or empty: not given), as an absolute path."""
    path = given or os.environ.get(ENV)
    if not path:
        home = os.environ.get("HOME")
        path = os.path.join(home, DEBUG_CACHE_DIR) if home else DEBUG_CACHE_DIR
    return os.path.abspath(path)


def export(given: str | None = None) -> str:
    """perf's ``set_buildid_dir``: resolve the directory and export it as ``PERF_BUILDID_DIR``."""
    path = resolve(given)
    os.environ[ENV] = path
    return path


def cache_dir() -> str:
    """The build-id cache of this run (``$PERF_BUILDID_DIR`` as ``pyperf`` exported it, else
    ``$HOME/.debug``)."""
    return resolve()
