"""Text of ``perf probe -V`` and ``perf probe -L``, from what symbols/dwarf.py computes.

Formats follow tools/perf/util/probe-event.c: ``show_available_vars_at`` (tabs, one ``@<symbol+offset>``
block per probe site, ``(No matched variables)``) and ``__show_line_range`` / ``show_one_line``
(``%7d`` line numbers for probe-able lines, 8 spaces for the others, the function's first line
highlighted with ``%7d`` too).
"""
from __future__ import annotations

import fnmatch
from typing import Callable, Iterable, List, Optional, Sequence

# perf's default --filter for --vars: "!__k???tab_* & !__crc_*"
DEFAULT_VAR_FILTER = ("__k???tab_*", "__crc_*")


def default_var_filter(name: str) -> bool:
    """perf's default ``--vars`` filter."""
    return not any(fnmatch.fnmatchcase(name, pat) for pat in DEFAULT_VAR_FILTER)


def format_vars(point_text: str, var_lists: Sequence, accept: Callable[[str], bool] = default_var_filter) -> str:
    """``Available variables at POINT`` and, per site (a ``dwarf.VariableList``), its ``@<sym+off>`` line and
    the ``type\\tname`` lines whose name passes ``accept``. ``point_text`` is the probe point as perf
    re-synthesizes it (``process_point``, ``process_point%return``, ``@dwarf_demo.c:60``)."""
    out = [f"Available variables at {point_text}\n"]
    for vl in var_lists:
        out.append(f"\t@<{vl.symbol}+{vl.offset}>\n")
        shown = [v for v in vl.variables if accept(v.split("\t", 1)[1])]
        out.extend(f"\t\t{v}\n" for v in shown)
        if not shown:
            out.append("\t\t(No matched variables)\n")
    return "".join(out)


def format_lines(listing) -> str:
    """``perf probe -L``: the ``<function@file:line>`` (or ``<file:line>``) header and the numbered source
    lines of a ``dwarf_lines.SourceListing``."""
    out = [listing.header + "\n"]
    for number, text, probeable in listing.lines:
        if probeable:
            out.append(f"{number:>7d}  {text}")
        else:
            out.append(f"         {text}")
    return "".join(out)
