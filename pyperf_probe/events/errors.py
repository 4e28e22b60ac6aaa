"""``event syntax error`` as perf 6.1 prints it (tools/perf/util/parse-events.c ``parse_events_error__print``).

    event syntax error: 'cpu-clock:uu'
                                   \\___ Bad modifier

The caret sits under column ``idx`` of the event text; a text longer than the terminal is cut on the left
(``..`` marks the cut, the caret then sits at column 13 of what is shown) and on the right. An optional help
follows after a blank line. When the parser recorded two errors, the first follows under ``Initial error:``.
"""
from __future__ import annotations

import fcntl
import os
import struct
import sys
import termios
from typing import Optional, Tuple

from pyperf_probe.errors import UsageError

MAX_WIDTH = 1000
MAX_ERR_IDX = 13  # a caret further right cuts the text from the left
PREFIX = "event syntax error: "


class EventSyntaxError(Exception):
    """A parse error at column ``idx`` of the event text, with perf's message and optional help.
    ``first`` is the error recorded before this one (perf prints it as the "Initial error")."""

    def __init__(self, idx: int, message: str, help: Optional[str] = None,
                 first: Optional[Tuple[int, str, Optional[str]]] = None):
        super().__init__(message)
        self.idx, self.message, self.help, self.first = idx, message, help, first


def term_width() -> int:
    """perf's ``get_term_dimensions``: $LINES and $COLUMNS, else the window of stdout, else 80 columns."""
    lines, cols = os.environ.get("LINES"), os.environ.get("COLUMNS")
    if lines and cols and _atoi(lines) and _atoi(cols):
        return min(_atoi(cols), MAX_WIDTH)
    try:
        rows, width = struct.unpack("hh", fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 4))
        if rows and width:
            return min(width, MAX_WIDTH)
    except (OSError, ValueError, AttributeError):
        pass
    return 80


def _atoi(text: str) -> int:
    digits = ""
    for ch in text.strip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


def _one(idx: int, message: str, help: Optional[str], event: str, width: int) -> str:
    max_len = width - 2 - len(PREFIX)
    cut = idx - MAX_ERR_IDX if idx > MAX_ERR_IDX else 0
    shown = list(event[cut:cut + max_len])
    if cut:
        shown[0:2] = ".."
    if len(event) - cut > max_len:
        shown[max_len - 2:max_len] = ".."
    text = f"{PREFIX}'{''.join(shown)}'\n"
    column = len(PREFIX) + idx - cut
    text += " " * (column + 1) + "\\___ " + message + "\n"
    if help is not None:
        text += "\n" + help + "\n"
    return text


def format_error(err: EventSyntaxError, event: str, width: Optional[int] = None) -> str:
    """The text perf prints on stderr for ``err`` in ``event``, up to (not including) "Run 'perf list'..."."""
    if err.idx < 0:  # perf's words when the parser recorded no error of its own
        return f"invalid or unsupported event: '{event}'\n"
    width = width or term_width()
    text = _one(err.idx, err.message, err.help, event, width)
    if err.first is not None:
        text += "\nInitial error:\n" + _one(*err.first, event, width)
    return text


def usage_error(err: EventSyntaxError, event: str, command: str, usage: str) -> UsageError:
    """The UsageError a command raises: perf's text, the hint to run ``pyperf list``, and the -e usage."""
    return UsageError(format_error(err, event) + "Run 'pyperf list' for a list of valid events",
                      usage=f" Usage: pyperf {command} {usage}\n\n"
                            "    -e, --event <event>   event selector. use 'pyperf list' to list available events")
