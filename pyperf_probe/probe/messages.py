"""The texts ``perf probe`` prints (builtin-probe.c, probe-event.c ``perf_probe_event__sprintf``),
with ``pyperf`` where perf names itself in a command to run. perf-formats.md §4.3."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: importing collections.abc costs start-up time
    from collections.abc import Iterable, Sequence

ADD_FAILED = "  Error: Failed to add events."
DEL_FAILED = "  Error: Failed to delete events."
LIST_FAILED = "  Error: Failed to show event list."
FUNCS_FAILED = "  Error: Failed to show functions."
VARS_FAILED = "  Error: Failed to show vars."
LINES_FAILED = "  Error: Failed to show lines."
PARSE_FAILED = "  Error: Command Parse Error."


def event_line(group: str, event: str, point_text: str, module: str | None, args: Sequence[str]) -> str:
    """``"  %-20s (on %s[ in %s][ with a b])"``: one added or listed event."""
    text = f"  {group + ':' + event:<20} (on {point_text}"
    if module:
        text += f" in {module}"
    if args:
        text += " with" + "".join(" " + a for a in args)
    return text + ")"


def added_text(lines: list[str], last: tuple[str, str]) -> str:
    """The report after adding: ``Added new event(s):``, one line per probe, and how to use the last one."""
    head = "Added new events:" if len(lines) > 1 else "Added new event:"
    text = head + "\n" + "".join(line + "\n" for line in lines)
    group, event = last
    return (text + "\nYou can now use it in all perf tools, such as:\n\n"
            f"\tpyperf record -e {group}:{event} -aR sleep 1\n\n")


def removed_text(names: Iterable[str]) -> str:
    return "".join(f"Removed event: {name}\n" for name in names)
