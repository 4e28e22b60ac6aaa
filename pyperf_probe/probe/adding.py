"""``-a``/``-D``: convert every definition first (perf's "Loop 1"), name the probes, then show them or
write them (perf's ``apply_perf_probe_events``).

Beyond perf: every line is named and validated before the first write, and if the kernel refuses one, the
events this command already created are removed again, so a failed command leaves nothing behind.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
from typing import Callable, List, Optional, Sequence, Set, Tuple

from pyperf_probe.errors import KernelError, ProbeError
from pyperf_probe.probe import messages as M
from pyperf_probe.probe import naming
from pyperf_probe.probe.args import check_type
from pyperf_probe.probe.convert import convert
from pyperf_probe.probe.spec import ProbeSpec
from pyperf_probe.probe.tracedef import UprobeDef


@dataclasses.dataclass(frozen=True)
class Plan:
    """One definition, its group and its (still unnamed) probes."""

    spec: ProbeSpec
    target: str
    group: str
    defs: Tuple[UprobeDef, ...]


def convert_all(events: Sequence[Tuple[ProbeSpec, Optional[str]]], *, warn: Callable[[str], None],
                max_probes: int, symfs: Optional[str], no_inlines: bool) -> List[Plan]:
    from pyperf_probe.probe.sdt import SdtSpec, sdt_plans
    plans = []
    for spec, target in events:
        if isinstance(spec, SdtSpec):  # an SDT marker: its cached definitions (probe/sdt.py), no -x needed
            plans.extend(sdt_plans(spec, target))
            continue
        if not target:
            raise ProbeError("pyperf probes user-space programs only: give the program or library with -x.",
                             errno=errno_mod.EINVAL)
        group = naming.group_name(spec, target)
        defs = convert(spec, target, warn=warn, max_probes=max_probes, symfs=symfs, no_inlines=no_inlines)
        check_offsets(spec, defs)
        plans.append(Plan(spec, target, group, tuple(defs)))
    return plans


def check_offsets(spec: ProbeSpec, defs: Sequence[UprobeDef]) -> None:
    """Refuse ``FUNC+OFF`` inside an instruction (perf writes it; the traced program would then break)."""
    if not spec.point.offset:
        return
    from pyperf_probe.symbols.disasm import containing_insn
    from pyperf_probe.symbols.elf import open_elf
    for d in defs:
        image = open_elf(d.path)
        entry_file_offset = d.file_offset - d.offset
        entry_svma = image.file_offset_to_svma(entry_file_offset)
        if entry_svma is None or not d.offset:
            continue
        insn = containing_insn(image, entry_svma, d.offset)
        if insn is not None:
            raise ProbeError(
                f"Probe point '{spec.point.text()}' is inside an instruction: {d.symbol}+{d.offset} falls in "
                f"'{insn.text}' at {d.symbol}+{insn.offset} ({insn.size} bytes).\n"
                f"A uprobe there would corrupt the program; use {d.symbol}+{insn.offset} or "
                f"{d.symbol}+{insn.offset + insn.size}.", errno=errno_mod.EINVAL)


def name_plans(plans: Sequence[Plan], taken: Set[str], force: bool) -> List[List[UprobeDef]]:
    """perf's ``probe_trace_event__set_name`` for every probe. The kernel supports multi-probe events, so
    the probes of one definition share a name; a later definition sees the names of the earlier ones."""
    taken = set(taken)
    named = []
    for plan in plans:
        allow_suffix = force
        out = []
        for d in plan.defs:
            base = naming.base_event_name(plan.spec, d)
            event = naming.new_event_name(base, taken, d.retprobe, allow_suffix)
            out.append(d.named(plan.group, event))
            allow_suffix = True
        taken.update(d.event for d in out)
        named.append(out)
    return named


def definitions_text(plans: Sequence[Plan]) -> str:
    """``-D``: each probe's uprobe_events line (names from an empty list, suffixes allowed, as perf)."""
    lines = []
    for plan, defs in zip(plans, _name_for_show(plans)):
        lines.extend(d.text() + "\n" for d in defs)
    return "".join(lines)


def _name_for_show(plans: Sequence[Plan]) -> List[List[UprobeDef]]:
    out = []
    for plan in plans:
        defs = []
        for d in plan.defs:
            event = naming.new_event_name(naming.base_event_name(plan.spec, d), set(), d.retprobe, True)
            defs.append(d.named(plan.group, event))
        out.append(defs)
    return out


def validate(defs: Sequence[UprobeDef]) -> None:
    """Everything the kernel would refuse, refused before writing anything."""
    from pyperf_probe.kernel import tracefs
    for d in defs:
        for arg in d.args:
            if arg.type:
                check_type(arg.type)
        if " " in d.path or "\n" in d.path:
            raise ProbeError(f"Cannot probe {d.path!r}: uprobe_events takes no paths with blanks.",
                             errno=errno_mod.EINVAL)
        tracefs.check_definition(d.text())


def apply(plans: Sequence[Plan], *, force: bool, dry_run: bool) -> List[Tuple[Plan, List[UprobeDef]]]:
    """Name, validate and (unless dry run) write every probe; on a kernel refusal remove what was added."""
    from pyperf_probe.probe.events import current_event_names, write_lines
    named = name_plans(plans, current_event_names(), force)
    flat = [d for defs in named for d in defs]
    validate(flat)
    if not dry_run:
        written: List[UprobeDef] = []
        try:
            for d in flat:
                write_lines([d.text()])
                written.append(d)
        except (KernelError, ProbeError):
            _rollback(written)
            raise
    return list(zip(plans, named))


def _rollback(written: Sequence[UprobeDef]) -> None:
    from pyperf_probe.kernel import tracefs
    seen = []
    for d in written:
        line = f"-:{d.group}/{d.event}"
        if line not in seen:
            seen.append(line)
    try:
        tracefs.write_uprobe_events(seen)
    except KernelError as exc:      # the first error is the one reported; say that cleanup failed too
        import sys
        sys.stderr.write(f"Failed to remove the probes added before the error: {exc.message}\n")


def added_text(done: Sequence[Tuple[Plan, List[UprobeDef]]]) -> str:
    lines, last = [], None
    for plan, defs in done:
        args = [a.text() for a in plan.spec.args]
        for d in defs:
            lines.append(M.event_line(d.group, d.event, plan.spec.point.text(), d.path, args))
            last = (d.group, d.event)
    return M.added_text(lines, last) if last else ""
