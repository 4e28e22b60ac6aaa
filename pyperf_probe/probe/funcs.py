"""``-F``: the functions (and objects) perf lists as probe-able, filtered (probe-event.c
``show_available_funcs``): every symbol perf loads, aliases included, sorted by name (strcmp order),
demangled, each name tested against the filter (default ``!_* & !*@plt``)."""
from __future__ import annotations

import errno as errno_mod
from typing import Optional

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.strfilter import StrFilter
from pyperf_probe.symbols.symtab import load_symtab


def funcs_text(target: str, flt: StrFilter, symfs: Optional[str] = None) -> str:
    table = load_symtab(target, symfs)
    if not len(table):
        raise ProbeError(f"Failed to load symbols in {target}", errno=errno_mod.EPERM)
    compare = flt.compare
    names = [n for n in table.names() if compare(n)]
    return "\n".join(names) + "\n" if names else ""
