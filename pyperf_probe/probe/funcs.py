"""``-F``: the functions (and objects) perf lists as probe-able, filtered (probe-event.c
``show_available_funcs``): every symbol perf loads, aliases included, sorted by name (strcmp order),
demangled, each name tested against the filter (default ``!_* & !*@plt``).

The filter runs before the sort (the result is the same: each name is tested on its own), so only the
names it keeps are sorted."""
from __future__ import annotations

import errno as errno_mod

from pyperf_probe.errors import ProbeError
from pyperf_probe.symbols.symtab import load_symtab

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only
    from pyperf_probe.probe.strfilter import StrFilter


def funcs_text(target: str, flt: StrFilter, symfs: str | None = None) -> str:
    table = load_symtab(target, symfs)
    if not len(table):
        raise ProbeError(f"Failed to load symbols in {target}", errno=errno_mod.EPERM)
    names = table.names(flt)
    return "\n".join(names) + "\n" if names else ""
