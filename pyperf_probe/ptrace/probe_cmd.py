"""``pyperf probe`` for the ptrace backend: ``--ptrace`` adds to the store (store.py) what ``-a`` would
write to uprobe_events, ``-l`` shows stored probes with ``[ptrace]``, ``-d`` removes them; and the one-line
answer of ``pyperf probe`` when this user cannot write uprobe_events.

Adding follows probe/adding.py (convert every definition, name them, validate) and then checks that the
ptrace backend can fetch every argument (fetch.py), so that a stored probe never fails later in record;
the store is rewritten once with all of them, or not at all.
"""
from __future__ import annotations

import os
import shlex
from typing import List, Sequence, Tuple

from pyperf_probe.errors import KernelError, ProbeError
from pyperf_probe.ptrace import store

TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def uprobe_events_writable() -> bool:
    """Whether this user can add uprobes (a tracefs it cannot see at all is root's to mount)."""
    for base in TRACEFS_DIRS:
        path = os.path.join(base, "uprobe_events")
        if os.path.exists(path):
            return os.access(path, os.W_OK)
    return os.geteuid() == 0


def no_uprobes_line(argv: Sequence[str]) -> str:
    """The one line ``pyperf probe`` says when it cannot write uprobe_events, with the --ptrace command."""
    words = " ".join(shlex.quote(a) for a in argv)
    return (f"Cannot write {TRACEFS_DIRS[0]}/uprobe_events (it needs root): 'pyperf probe --ptrace {words}' "
            "stores the probe for pyperf record/stat to trace with ptrace breakpoints instead.\n")


def _kernel_names() -> set:
    """Event names of the uprobes tracefs has, when this user can read them (else none)."""
    from pyperf_probe.probe.events import current_event_names
    try:
        return current_event_names()
    except (ProbeError, KernelError, OSError):
        return set()


def add(plans, *, force: bool, dry_run: bool) -> List[Tuple[object, list]]:
    """Name, validate and store every probe of ``plans`` (probe/adding.Plan); all or none."""
    from pyperf_probe.probe import adding
    from pyperf_probe.ptrace import fetch
    named = [[_kernel_arg_names(d) for d in defs]
             for defs in adding.name_plans(plans, store.event_names() | _kernel_names(), force)]
    flat = [d for defs in named for d in defs]
    adding.validate(flat)
    for d in flat:
        fetch.parse_args(d.args, d.retprobe)  # refuse here what the backend could not fetch
    if not dry_run:
        store.add(flat)
    return list(zip(plans, named))


def _kernel_arg_names(d):
    """Unnamed arguments named as the kernel names them in uprobe_events (argN, N its position)."""
    import dataclasses
    args = tuple(a if a.name else dataclasses.replace(a, name=f"arg{i + 1}") for i, a in enumerate(d.args))
    return dataclasses.replace(d, args=args)


def added_text(done) -> str:
    """perf's "Added new event(s)" text, each line marked [ptrace], and a record command that runs."""
    from pyperf_probe.probe import messages as M
    lines, last = [], None
    for plan, defs in done:
        args = [a.text() for a in plan.spec.args]
        for d in defs:
            lines.append(M.event_line(d.group, d.event, plan.spec.point.text(), d.path, args) + " [ptrace]")
            last = (d.group, d.event)
    if last is None:
        return ""
    head = "Added new events:" if len(lines) > 1 else "Added new event:"
    return (head + "\n" + "".join(line + "\n" for line in lines)
            + "\nYou can now use it with pyperf record and stat (traced with ptrace), such as:\n\n"
            f"\tpyperf record -e {last[0]}:{last[1]} -g -- COMMAND\n\n")


def list_text(flt) -> str:
    """``-l`` lines of the stored probes (the filter as for uprobes), sorted as perf sorts its list."""
    from pyperf_probe.probe.events import PointFinder, matches
    from pyperf_probe.probe.messages import event_line
    finder = PointFinder()
    out = []
    for d in sorted(store.read_defs(), key=lambda d: d.text().encode()):
        if not matches(flt, d):
            continue
        args = [a.name or a.text() for a in d.args]
        out.append(event_line(d.group, d.event, finder.point(d).text(), d.path, args) + " [ptrace]\n")
    return "".join(out)


def names_to_delete(flt) -> List[str]:
    from pyperf_probe.probe.events import matches
    return sorted({f"{d.group}:{d.event}" for d in store.read_defs() if matches(flt, d)},
                  key=lambda s: s.encode())


def delete(names: Sequence[str]) -> None:
    if names:
        store.remove(names)


def have_any() -> bool:
    try:
        return bool(store.read_defs())
    except ProbeError:
        return False

