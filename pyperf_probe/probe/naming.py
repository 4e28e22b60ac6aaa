"""Group and event names as perf gives them (probe-event.c ``convert_exec_to_group``,
``probe_trace_event__set_name`` and ``get_new_event_name``; perf-formats.md §4.2).

* group: ``probe_`` + the -x file's basename cut at its first character that is not alnum or '_'
  (``libc.so.6`` -> ``probe_libc``), unless the user named one;
* event: the user's name, else the function (the symbol's real name for a glob or an address), cut at the
  first '.' or '@' (``.isra.0``, ``@GLIBC_2.2.5``), with ``__return`` for a return probe;
* a name already in use (by event name, in any group) is an error without ``-f``; with ``-f`` (and for
  every probe after the first of one definition) ``_1``, ``_2``, ... is appended to the base name.
"""
from __future__ import annotations

import errno as errno_mod
import os
from typing import Optional, Set

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.spec import ProbeSpec, is_c_func_name
from pyperf_probe.probe.strfilter import is_glob
from pyperf_probe.probe.tracedef import UprobeDef

PERFPROBE_GROUP = "probe"
MAX_EVENT_INDEX = 1024
NAME_MAX = 64          # perf's buf[64] for the event name


class EventExists(ProbeError):
    """perf's "event already exists" (-EEXIST, exit status 239), with perf's hint, ``pyperf`` for ``perf``."""

    def __init__(self, name: str):
        super().__init__(f'Error: event "{name}" already exists.\n'
                         " Hint: Remove existing event by 'pyperf probe -d'\n"
                         "       or force duplicates by 'pyperf probe -f'\n"
                         "       or set 'force=yes' in BPF source.", errno=errno_mod.EEXIST)


def group_for_exec(path: str) -> str:
    base = os.path.basename(path)
    for i, c in enumerate(base):
        if not (c.isascii() and c.isalnum()) and c != "_":
            base = base[:i]
            break
    group = f"{PERFPROBE_GROUP}_{base}"
    if len(group) >= NAME_MAX:
        raise ProbeError("Failed to make a group name.", errno=errno_mod.E2BIG)
    return group


def base_event_name(spec: ProbeSpec, tdef: UprobeDef) -> str:
    """The name before uniqueness suffixes (perf's choice of ``event`` in ``probe_trace_event__set_name``)."""
    if spec.event:
        return spec.event
    func = spec.point.function
    if func and not func.startswith("0x") and not is_glob(func):
        return func
    return tdef.realname or ""


def new_event_name(base: str, taken: Set[str], retprobe: bool, allow_suffix: bool) -> str:
    """perf's ``get_new_event_name``."""
    if base.startswith("."):
        base = base[1:]
    cut = min((i for i in (base.find("."), base.find("@")) if i > 0), default=-1)
    if cut > 0:
        base = base[:cut]
    name = base + ("__return" if retprobe else "")
    _check_length(name)
    if name in taken:
        if not allow_suffix:
            raise EventExists(name)
        for i in range(1, MAX_EVENT_INDEX):
            name = f"{base}_{i}"
            _check_length(name)
            if name not in taken:
                break
        else:
            raise ProbeError("Too many events are on the same function.", errno=errno_mod.ERANGE)
    if not is_c_func_name(name):
        raise ProbeError(f'Internal error: "{name}" is an invalid event name.', errno=errno_mod.EINVAL)
    return name


def _check_length(name: str) -> None:
    if len(name) >= NAME_MAX:
        raise ProbeError(f'Internal error: "{name}" is an invalid event name.', errno=errno_mod.E2BIG)


def group_name(spec: ProbeSpec, target: Optional[str]) -> str:
    if spec.group:
        return spec.group
    return group_for_exec(target) if target else PERFPROBE_GROUP
