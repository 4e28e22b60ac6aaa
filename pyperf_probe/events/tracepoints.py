"""``GROUP:EVENT`` events from tracefs (kernel tracepoints and the probe events perf probe and pyperf probe
add), globs allowed on both parts (tools/perf/util/parse-events.c ``parse_events_add_tracepoint``).

Errors are perf's: the caret under the event and the help naming the tracefs file.
"""
from __future__ import annotations

import fnmatch
import os
from typing import List, Tuple

from pyperf_probe.events.errors import EventSyntaxError

NOT_FOUND_HINT = "Hint:\tPerhaps this kernel misses some CONFIG_ setting to enable this feature?.\n"


class NothingFound(Exception):
    """A group glob that matched no group: perf says only "WARNING: event parser found nothing"."""


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def resolve(group: str, event: str, idx: int) -> List[Tuple[str, str, int]]:
    """(group, event, tracefs id) of every tracepoint the pattern names, groups and events sorted as perf
    reads the directories (alphasort)."""
    from pyperf_probe.errors import KernelError
    from pyperf_probe.kernel import tracefs
    base = tracefs.TRACEFS
    if os.path.isdir(base) and not os.access(base, os.R_OK | os.X_OK):
        raise EventSyntaxError(idx, "can't access trace events",
                               f"Error:\tNo permissions to read {base}/events/{group}/{event}\n"
                               f"Hint:\tTry 'sudo mount -o remount,mode=755 {base}/'\n")
    matches = tracefs.list_events(f"{group}:{event}")
    if not matches:
        if _is_glob(group) and not _groups_matching(group):
            raise NothingFound()
        raise EventSyntaxError(idx, "unknown tracepoint",
                               f"Error:\tFile {tracefs.event_dir(group, event)} not found.\n" + NOT_FOUND_HINT)
    out = []
    for g, e in matches:
        try:
            out.append((g, e, tracefs.event_id(g, e)))
        except KernelError as exc:
            raise EventSyntaxError(idx, "unknown tracepoint", f"Error:\t{exc.message}\n") from exc
    return out


def _groups_matching(pattern: str) -> List[str]:
    from pyperf_probe.kernel import tracefs
    try:
        groups = os.listdir(tracefs.path("events"))
    except OSError:
        return []
    return [g for g in groups if fnmatch.fnmatchcase(g, pattern)]
