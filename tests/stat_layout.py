"""perf stat's text with the numbers taken out and the layout kept: the comparison of pyperf stat with perf
stat's goldens (tests/golden/stat) and live runs.

A standard line becomes its length and its words, each at its column: a number (a count, a metric, a
percentage, a time, the CPUs of an aggregate) is right-aligned by perf, so it stands as ``N`` at the column
where it ends; any other word (a unit, an event name, ``CPU1``, ``S0-D0-C1``, ``sleep-1234``) at the column
where it starts, with its digit runs as ``9`` (pids and the like). A rate's K/M/G goes (it follows the value).
A noise suffix ``  ( +- 10.49% )`` is checked for perf's format and dropped: whether a run varied is the
data's business. The ``-r`` footer ``T +- SD seconds time elapsed`` has a precision that follows the data:
only the column where its mean ends is kept.

A ``-x`` line becomes its fields, numbers as ``N`` (the interval time keeps its leading blanks), the others
with their digit runs as ``9``. Under --per-thread the lines of one event are sorted once masked: perf sorts
the threads by their counts, which differ from run to run.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

_NUMBER = re.compile(r"^[+-]?[0-9][0-9.,]*%?$")
_DIGITS = re.compile(r"[0-9]+")
_RATE = re.compile(r"^[KMG]?/sec$")
_NOISE = re.compile(r"  \( \+-[ 0-9]{3}\.[0-9]{2}% \)$")
_REPEAT_FOOTER = re.compile(r"^( +)([0-9.]+) \+- [0-9.]+ seconds time elapsed(  \( \+-[ 0-9.]+% \))?$")
_IDS = re.compile(r"(process|thread) id '[0-9,]+'")
_TOKEN = re.compile(r"\S+")


def _word(token: str) -> str:
    if _NUMBER.match(token):
        return "N%" if token.endswith("%") else "N"
    if _RATE.match(token):
        return "/sec"
    return _DIGITS.sub("9", token)


def std_line(line: str) -> Tuple:
    """One line of perf stat's standard layout, numbers out, columns kept."""
    line = _IDS.sub(r"\1 id 'N'", line.replace("pyperf", "perf"))
    m = _REPEAT_FOOTER.match(line)
    if m:
        return ("footer", len(m.group(1)) + len(m.group(2)))
    if _NOISE.search(line):
        line = _NOISE.sub("", line)
    words = []
    for t in _TOKEN.finditer(line):
        word = _word(t.group())
        words.append((t.end() if word in ("N", "N%") else t.start(), word))
    return (len(line), tuple(words))


def csv_line(line: str, sep: str) -> Tuple:
    """One -x line: its fields, numbers out."""
    fields = line.replace("pyperf", "perf").split(sep)
    out = []
    for f in fields:
        stripped = f.lstrip(" ")
        word = _word(stripped) if stripped else ""
        out.append(" " * (len(f) - len(stripped)) + word)
    return tuple(out)


def layout(text: str, csv_sep: Optional[str] = None, per_thread: bool = False) -> List[Tuple]:
    """Every line of ``text`` (perf stat's stderr) as ``std_line`` or ``csv_line`` makes it; under
    ``per_thread`` each run of lines of the same event is sorted."""
    out = []
    for line in text.split("\n"):
        is_csv = csv_sep is not None and csv_sep in line and not line.startswith(" Performance")
        out.append(csv_line(line, csv_sep) if is_csv else std_line(line))
    if per_thread:
        out = _sort_runs(out, text.split("\n"), csv_sep)
    return out


_TIME = re.compile(r"^ *[0-9]+\.[0-9]{9}")


def _block_of(line: str, csv_sep: Optional[str]) -> Tuple[str, str]:
    """(interval time, event name) of a --per-thread counter line; ("", "") for any other line."""
    time = _TIME.match(line)
    prefix = time.group() if time else ""
    if csv_sep is not None and csv_sep in line:
        fields = line.split(csv_sep)
        k = 3 + bool(time)            # [time,] comm-pid, value, unit, name
        return (prefix, fields[k]) if len(fields) > k + 3 else ("", "")
    m = re.search(r"(?<=\s)(?:<not counted>|<not supported>|[0-9][0-9.,]*) +(?:msec +)?(\S+)", line[len(prefix):])
    return (prefix, m.group(1)) if m and "seconds" not in line else ("", "")


def _sort_runs(masked: List[Tuple], lines: List[str], csv_sep: Optional[str]) -> List[Tuple]:
    out, i = [], 0
    while i < len(lines):
        key = _block_of(lines[i], csv_sep)
        j = i + 1
        while key[1] and j < len(lines) and _block_of(lines[j], csv_sep) == key:
            j += 1
        out += sorted(masked[i:j], key=repr)
        i = j
    return out


def diff(ours: List[Tuple], theirs: List[Tuple]) -> str:
    """The first lines where two layouts differ, for an assertion message."""
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return f"line {n}:\n ours  {a}\n perf  {b}"
    return f"{len(ours)} lines against {len(theirs)}"
