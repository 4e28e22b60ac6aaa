"""Text of ``perf probe -V`` and ``perf probe -L``, from what symbols/dwarf.py computes.

Formats follow tools/perf/util/probe-event.c: ``show_available_vars_at`` (tabs, one ``@<symbol+offset>``
block per probe site, ``(No matched variables)``) and ``__show_line_range`` / ``show_one_line``
(``%7d`` line numbers for probe-able lines, 8 spaces for the others, the function's first line
highlighted with ``%7d`` too).
"""
from __future__ import annotations

import fnmatch
from typing import Callable, List, Optional, Sequence

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


def format_line_range(line_range) -> str:
    """``perf probe -L`` for a ``dwarf.linewalk.LineRange``: the ``<FUNC@PATH:N>`` / ``<PATH:N>`` header,
    then the source from the range's start, probe-able lines numbered (relative to the function), up to
    the range's end or two lines past the last probe-able one (perf's NR_ADDITIONAL_LINES)."""
    from pyperf_probe.errors import ProbeError
    from pyperf_probe.symbols.dwarf.lineprobe import source_path
    lr = line_range
    path = source_path(lr.path, lr.comp_dir)
    out = [f"<{lr.function}@{path}:{lr.start - lr.offset}>\n" if lr.function else f"<{path}:{lr.start}>\n"]
    try:
        with open(path, "rb") as src:
            text = src.read().decode("utf-8", "replace")
    except OSError as err:
        raise ProbeError(f"Failed to open {path}: {err.strerror}", errno=err.errno) from None
    lines = text.splitlines(keepends=True)
    line_no = max(lr.start, 1)
    for number in lr.lines:
        while number > line_no:
            out.append(_one_line(lines, line_no, None))
            line_no += 1
        out.append(_one_line(lines, line_no, line_no - lr.offset))
        line_no += 1
    end = lr.end if lr.end is not None else line_no + NR_ADDITIONAL_LINES
    while line_no <= end and line_no <= len(lines):
        out.append("         " + lines[line_no - 1])
        line_no += 1
    return "".join(out)


NR_ADDITIONAL_LINES = 2


def _one_line(lines: List[str], line_no: int, shown: Optional[int]) -> str:
    """``show_one_line`` / ``show_one_line_with_num``: ``%7d  `` or nine spaces before the text."""
    from pyperf_probe.errors import ProbeError
    if line_no > len(lines):
        raise ProbeError("Source file is shorter than expected.", errno=1)
    prefix = f"{shown:7d}  " if shown is not None else "         "
    return prefix + lines[line_no - 1]


INT_MAX = 2**31 - 1


def parse_line_desc(desc: str):
    """perf's ``parse_line_range_desc``: ``FUNC[@SRC][:RLN[+NUM|-RLN2]]`` or ``SRC[:ALN[+NUM|-ALN2]]`` ->
    (function, file, start, end); ``end`` None means "to the end" (perf's INT_MAX)."""
    import errno as E
    import re
    from pyperf_probe.errors import ProbeError
    name, _, rng = desc.partition(":")
    start, end = 0, INT_MAX
    if _:
        m = re.match(r"(\d+)", rng)
        if m is None:
            raise ProbeError(f"Semantic error :Failed to parse start line: '{rng}'", errno=E.EINVAL)
        start, rest = int(m.group(1)), rng[m.end():]
        if rest[:1] in ("+", "-"):
            sign, rest = rest[0], rest[1:]
            m = re.match(r"(\d+)", rest)
            if m is None:
                raise ProbeError(f"Semantic error :Failed to parse end line: '{rest}'", errno=E.EINVAL)
            end, rest = int(m.group(1)), rest[m.end():]
            if sign == "+":
                end = start + end - 1
        if start > end:
            raise ProbeError("Semantic error :Start line must be smaller than end line.", errno=E.EINVAL)
        if rest:
            raise ProbeError(f"Semantic error :Tailing with invalid str '{rest}'.", errno=E.EINVAL)
    function = file = None
    if "@" in name:
        function, file = name.split("@", 1)
    elif "/" in name or "." in name:
        file = name
    elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        function = name
    else:
        raise ProbeError(f"Semantic error :'{name}' is not a valid function name.", errno=E.EINVAL)
    return function, file, start, (None if end == INT_MAX else end)


def lines_text(dinfo, desc: str, alternative: Optional[Callable] = None) -> str:
    """``perf probe -L DESC`` on a ``DwarfInfo``. ``alternative(function, line)`` gives, for a function
    known only to the symbol table, its DWARF (function, file, line) or None: perf's
    ``get_alternative_line_range`` (glibc's ``malloc`` is ``__GI___libc_malloc@./malloc/malloc.c``).
    Raises ProbeError("Specified source line is not found.") as perf does; the caller adds
    "  Error: Failed to show lines."."""
    import errno as E
    from pyperf_probe.errors import ProbeError
    function, file, start, end = parse_line_desc(desc)
    found = dinfo.line_range(function, file, start, end)
    if found is None and function and not file and alternative is not None:
        other = alternative(function, start)
        if other is not None:
            length = None if end is None else end - start
            function, file, start = other
            found = dinfo.line_range(function, file, start, None if length is None else start + length)
    if found is None:
        raise ProbeError("Specified source line is not found.", errno=E.ENOENT)
    return format_line_range(found)
