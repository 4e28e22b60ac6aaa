"""The ``pyperf`` logger for modules on a start-up path: ``logging`` is imported only when a message can be
shown.

``import logging`` costs ``pyperf report`` ~4 ms of start-up (it pulls in traceback, string, threading;
bench/report), and a report without -v emits no message at all. A module writes
``from pyperf_probe import lazylog as log`` and calls ``log.debug(...)``/``log.warning(...)`` as it would
on ``logging.getLogger("pyperf")``, with the same effect:

* DEBUG and INFO messages go to the logger only when ``logging`` is imported already. Without it nobody
  configured the logger (cli.py's ``_setup_logging`` imports it for -v and -q, as does a test's
  ``caplog``), so the logger's effective level is the root's WARNING and it would drop them anyway.
* WARNING and ERROR messages import ``logging`` and go to the logger: shown by cli.py's handler, or by
  Python's last-resort handler as the bare message when nothing was set up (as cli.py expects).
"""
from __future__ import annotations

import sys

NAME = "pyperf"


def _logger():
    import logging
    return logging.getLogger(NAME)


def debug(msg, *args) -> None:
    if "logging" in sys.modules:
        _logger().debug(msg, *args)


def info(msg, *args) -> None:
    if "logging" in sys.modules:
        _logger().info(msg, *args)


def warning(msg, *args) -> None:
    _logger().warning(msg, *args)


def error(msg, *args) -> None:
    _logger().error(msg, *args)
