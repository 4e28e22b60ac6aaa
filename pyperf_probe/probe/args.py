"""Probe arguments: what the user typed (:class:`ProbeArg`, perf's ``struct perf_probe_arg``) and what the
kernel gets (:class:`TraceArg`, ``struct probe_trace_arg``).

``[NAME=]VAR[->FIELD|.FIELD|[INDEX]...][:TYPE]`` where VAR is a C variable (resolved through DWARF), or
a raw fetch argument the kernel understands: ``%REG``, ``+OFF(%REG)``, ``$retval``, ``$stackN``,
``$comm``, ``$argN``, ``@ADDR`` (Documentation/trace/uprobetracer.rst; perf's ``parse_perf_probe_arg``).
TYPE is u8..u64, s8..s64, x8..x64, string, ustring (checked here so that nothing malformed reaches the kernel).
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import re
from typing import Optional, Tuple

from pyperf_probe.errors import ProbeError

TYPES = frozenset(f"{k}{w}" for k in "usx" for w in (8, 16, 32, 64)) | {"string", "ustring", "char",
                                                                      "symbol", "symstr"}
_BITFIELD = re.compile(r"b\d+@\d+/\d+\Z")


def is_c_varname(name: Optional[str]) -> bool:
    """perf's ``is_c_varname``: starts with a letter or '_' (``$params``, ``%di``, ``+8(%sp)`` are not)."""
    return bool(name) and (name[0].isalpha() or name[0] == "_")


@dataclasses.dataclass(frozen=True)
class ArgField:
    """One ``->name`` / ``.name`` / ``[index]`` step of a C variable argument."""

    name: str
    ref: bool           # '->' or an array index (a dereference)
    index: int = 0


@dataclasses.dataclass(frozen=True)
class ProbeArg:
    """``struct perf_probe_arg``."""

    var: str
    name: Optional[str] = None
    type: Optional[str] = None
    fields: Tuple[ArgField, ...] = ()
    user_access: bool = False

    def text(self) -> str:
        """perf's ``synthesize_perf_probe_arg`` (used in the "with ..." part of messages)."""
        out = f"{self.name}={self.var}" if self.name and self.var else (self.name or self.var)
        for f in self.fields:
            out += f.name if f.name.startswith("[") else ("->" if f.ref else ".") + f.name
        if self.type:
            out += f":{self.type}"
        return out


@dataclasses.dataclass(frozen=True)
class TraceArg:
    """``struct probe_trace_arg``: one FETCHARG of a uprobe_events line, ``[NAME=]VALUE[:TYPE]``."""

    value: str
    name: Optional[str] = None
    type: Optional[str] = None

    def text(self) -> str:
        out = f"{self.name}={self.value}" if self.name else self.value
        return out + (f":{self.type}" if self.type else "")


def check_type(type_: str) -> None:
    """Refuse a TYPE the kernel's fetch-argument parser would refuse (before anything is written)."""
    base = type_.split("[", 1)[0]
    if base not in TYPES and not _BITFIELD.match(base):
        raise ProbeError(f"Unknown argument type '{type_}': use u8..u64, s8..s64, x8..x64 or string.",
                         errno=errno_mod.EINVAL)


def parse_probe_arg(text: str) -> ProbeArg:
    """One argument word (perf's ``parse_perf_probe_arg``)."""
    name = None
    eq = text.find("=")
    if eq >= 0:
        name, text = text[:eq], text[eq + 1:]
    user_access = False
    at = text.find("@")
    if at > 0 and text[at + 1:] == "user":
        user_access, text = True, text[:at]
    type_ = None
    colon = text.find(":")
    if colon >= 0:
        text, type_ = text[:colon], text[colon + 1:]
    m = re.search(r"[-.\[]", text)
    if not is_c_varname(text) or not m:
        return ProbeArg(var=text, name=name, type=type_, user_access=user_access)
    var, fields = text[:m.start()], _parse_fields(text[m.start():], text)
    if name is None:
        named = [f.name for f in fields if not f.name.startswith("[")]
        name = named[-1] if named else var
    return ProbeArg(var=var, name=name, type=type_, fields=fields, user_access=user_access)


def _parse_fields(rest: str, whole: str) -> Tuple[ArgField, ...]:
    fields = []
    while rest:
        if rest[0] == "[":
            m = re.match(r"\[(-?(?:0x[0-9a-fA-F]+|\d+))\]", rest)
            if not m:
                raise ProbeError("Semantic error :Array index must be a number.\n", errno=errno_mod.EINVAL)
            fields.append(ArgField(f"[{m.group(1)}]", True, int(m.group(1), 0)))
            rest = rest[m.end():]
            continue
        if rest.startswith("->"):
            ref, rest = True, rest[2:]
        elif rest.startswith("."):
            ref, rest = False, rest[1:]
        else:
            raise ProbeError(f"Semantic error :Argument parse error: {whole}\n", errno=errno_mod.EINVAL)
        m = re.search(r"[-.\[]", rest)
        end = m.start() if m else len(rest)
        fields.append(ArgField(rest[:end], ref))
        rest = rest[end:]
    return tuple(fields)
