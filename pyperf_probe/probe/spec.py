"""What the user wrote: a PROBEDEF parsed into a :class:`ProbeSpec` (perf's ``struct perf_probe_event``).

Grammar (tools/perf/util/probe-event.c ``parse_perf_probe_command``/``parse_perf_probe_point``)::

    [[GROUP:]EVENT=]FUNC[@SRC][+OFF|%return|:RLN|;PTN] [ARG ...]
    [[GROUP:]EVENT=]SRC:ALN | SRC;PTN [ARG ...]
    [[GROUP:]EVENT=]0xADDR [ARG ...]

A ProbeSpec prints back to the text that made it (``str(spec)``, perf's ``synthesize_perf_probe_command``),
and :meth:`ProbePoint.text` is the point as perf shows it in "(on ...)" and "Probe point '...' not found".
Errors carry perf's exact "Semantic error :" wording.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import re
from typing import List, Optional, Tuple

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.args import ProbeArg, is_c_varname, parse_probe_arg

MAX_PROBE_ARGS = 128


class SemanticError(ProbeError):
    """perf's ``semantic_error()``: a PROBEDEF that does not parse (-EINVAL unless said otherwise)."""

    def __init__(self, text: str, errno: int = errno_mod.EINVAL):
        super().__init__("Semantic error :" + text, errno=errno)


@dataclasses.dataclass(frozen=True)
class ProbePoint:
    """``struct perf_probe_point``: where in the program."""

    function: Optional[str] = None
    file: Optional[str] = None
    line: int = 0
    offset: int = 0
    retprobe: bool = False
    lazy_line: Optional[str] = None
    abs_address: Optional[int] = None

    def text(self) -> str:
        """perf's ``synthesize_perf_probe_point``: ``func+off``, ``func:line``, ``func%return``,
        then ``@file`` (the last 30 characters, cut after a '/'), and ``:line`` for a file-only point."""
        out = ""
        if self.function:
            out = self.function
            if self.offset:
                out += f"+{self.offset}"
            elif self.line:
                out += f":{self.line}"
            elif self.retprobe:
                out += "%return"
        if self.file:
            path = self.file
            if len(path) > 30:
                cut = path.find("/", len(path) - 30)
                path = path[cut + 1:] if cut >= 0 else path[len(path) - 30:]
            out += f"@{path}"
            if not self.function and self.line:
                out += f":{self.line}"
        return out


@dataclasses.dataclass(frozen=True)
class ProbeSpec:
    """``struct perf_probe_event``: a probe point, an optional group/event name and its arguments."""

    point: ProbePoint
    args: Tuple[ProbeArg, ...] = ()
    group: Optional[str] = None
    event: Optional[str] = None

    def __str__(self) -> str:
        out = f"{self.group or 'probe'}:{self.event}=" if self.event else ""
        out += self.point.text()
        return out + "".join(" " + a.text() for a in self.args)

    @property
    def with_var(self) -> bool:
        """Any argument that is a C variable, ``$params`` or ``$vars`` (perf's ``perf_probe_with_var``)."""
        return any(is_c_varname(a.var) or a.var in ("$params", "$vars") for a in self.args)

    @property
    def need_dwarf(self) -> bool:
        """perf's ``perf_probe_event_need_dwarf``: a file, a line, a lazy pattern or a C variable."""
        p = self.point
        return bool(p.file or p.line or p.lazy_line) or self.with_var

    def with_point(self, point: ProbePoint) -> "ProbeSpec":
        return dataclasses.replace(self, point=point)


_C_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_c_func_name(name: str) -> bool:
    """perf's ``is_c_func_name``: the event/group naming rule."""
    return bool(_C_NAME.match(name))


def _find_unescaped(text: str, chars: str) -> int:
    """perf's ``strpbrk_esc``: the first of ``chars`` not preceded by a backslash, or -1."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in chars:
            return i
        i += 1
    return -1


def _unescape(text: str) -> str:
    """perf's ``strdup_esc``: drop the backslash of each escaped character."""
    return re.sub(r"\\(.)", r"\1", text)


def _parse_event_name(text: str) -> Tuple[Optional[str], str]:
    """``[GROUP:]EVENT`` before '=' (perf's ``parse_perf_probe_event_name``)."""
    colon = _find_unescaped(text, ":")
    group = None
    if colon >= 0:
        group, text = text[:colon], text[colon + 1:]
        if not is_c_func_name(group):
            raise SemanticError(f"{group} is bad for event name -it must follow C symbol-naming rule.\n")
        group = _unescape(group)
    event = _unescape(text)
    if not is_c_func_name(event):
        raise SemanticError(f"{text} is bad for event name -it must follow C symbol-naming rule.\n")
    return group, event


def _number(text: str) -> Optional[int]:
    """``strtoul(text, &end, 0)`` that must consume everything (0x.., 0.. octal, decimal)."""
    try:
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        if re.fullmatch(r"0[0-7]*", text):
            return int(text, 8)
        if re.fullmatch(r"[1-9][0-9]*", text):
            return int(text)
    except ValueError:
        pass
    return None


def parse_probe_point(arg: str) -> Tuple[Optional[str], Optional[str], ProbePoint]:
    """(group, event, point) of the first word of a PROBEDEF."""
    group = event = None
    eq = _find_unescaped(arg, ";=@+%")
    if eq >= 0 and arg[eq] == "=":
        group, event = _parse_event_name(arg[:eq])
        arg = arg[eq + 1:]
    # A file spec has no "+@%", has ':' or ';', and a '.' before it (perf's heuristic).
    file_spec = False
    if _find_unescaped(arg, "+@%") < 0:
        sep = _find_unescaped(arg, ";:")
        if sep >= 0 and "." in arg[:sep]:
            file_spec = True
    sep = _find_unescaped(arg, ";:+@%")
    head, rest = (arg, None) if sep < 0 else (arg[:sep], arg[sep:])
    fields = dict(function=None, file=None, line=0, offset=0, retprobe=False, lazy_line=None, abs_address=None)
    name = _unescape(head) if head else None
    if file_spec:
        fields["file"] = name
    else:
        fields["function"] = name
        if name and name.startswith("0x"):
            addr = _number(name)
            if addr is None:
                raise SemanticError("Invalid absolute address.\n")
            fields["abs_address"] = addr
    _parse_point_tail(rest, fields)
    point = ProbePoint(**fields)
    _check_point(point)
    return group, event, point


def _parse_point_tail(rest: Optional[str], fields: dict) -> None:
    while rest:
        c, body = rest[0], rest[1:]
        if c == ";":                        # a lazy pattern is always the last part
            fields["lazy_line"] = body
            return
        sep = _find_unescaped(body, ";:+@%")
        part, rest = (body, None) if sep < 0 else (body[:sep], body[sep:])
        if c == ":":
            line = _number(part) if part else 0
            if line is None:
                raise SemanticError("There is non-digit char in line number.\n")
            fields["line"] = line
        elif c == "+":
            offset = _number(part) if part else 0
            if offset is None:
                raise SemanticError("There is non-digit character in offset.\n")
            fields["offset"] = offset
        elif c == "@":
            if fields["file"]:
                raise SemanticError("SRC@SRC is not allowed.\n")
            fields["file"] = _unescape(part)
        elif c == "%":
            if part != "return":
                raise SemanticError(f"%{part} is not supported.\n", errno=errno_mod.ENOTSUP)
            fields["retprobe"] = True


def _check_point(pp: ProbePoint) -> None:
    """perf's exclusion checks, in perf's order."""
    if pp.lazy_line and pp.line:
        raise SemanticError("Lazy pattern can't be used with line number.\n")
    if pp.lazy_line and pp.offset:
        raise SemanticError("Lazy pattern can't be used with offset.\n")
    if pp.line and pp.offset:
        raise SemanticError("Offset can't be used with line number.\n")
    if not pp.line and not pp.lazy_line and pp.file and not pp.function:
        raise SemanticError("File always requires line number or lazy pattern.\n")
    if pp.offset and not pp.function:
        raise SemanticError("Offset requires an entry function.\n")
    if (pp.offset or pp.line or pp.lazy_line) and pp.retprobe:
        raise SemanticError("Offset/Line/Lazy pattern can't be used with return probe.\n")


def split_command(cmd: str) -> List[str]:
    """perf's ``argv_split``: words separated by blanks (no quoting: the shell already did it)."""
    return cmd.split()


def parse_probe_command(cmd: str) -> ProbeSpec:
    """Parse one PROBEDEF with its arguments (perf's ``parse_perf_probe_command``)."""
    words = split_command(cmd)
    if not words:
        raise SemanticError("No probe point is given.\n")
    if len(words) - 1 > MAX_PROBE_ARGS:
        raise SemanticError(f"Too many probe arguments ({len(words) - 1}).\n", errno=errno_mod.ERANGE)
    group, event, point = parse_probe_point(words[0])
    if not event and point.function and point.line and not point.lazy_line and not point.offset:
        event = f"{point.function}_L{point.line}"
    args = []
    for word in words[1:]:
        arg = parse_probe_arg(word)
        if is_c_varname(arg.var) and point.retprobe:
            raise SemanticError("You can't specify local variable for kretprobe.\n")
        args.append(arg)
    return ProbeSpec(point=point, args=tuple(args), group=group, event=event)
