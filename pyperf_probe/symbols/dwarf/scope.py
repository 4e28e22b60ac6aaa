"""The scope of a probe site and the variables perf finds in it (probe-finder.c ``find_variable``,
``copy_variables_cb``, ``collect_variables_cb``, ``fill_empty_trace_arg``)."""
from __future__ import annotations

import errno as E
from dataclasses import dataclass
from typing import List, Optional

from pyperf_probe.errors import ProbeError
from pyperf_probe.symbols.dwarf import dies as D
from pyperf_probe.symbols.dwarf import vars as V
from pyperf_probe.symbols.dwarf.unit import Unit

# probe-finder.c: the value perf gives an argument that has no location at some of the probe sites
MAGIC_NUM = 0xDEADE12D


@dataclass(frozen=True)
class ResolvedArg:
    """One fetch argument of one probe site: ``expr`` as written (or a ``$params`` member)."""
    expr: str
    fetcharg: str
    type: Optional[str]


class Scope:
    """perf's ``probe_finder`` state for one site: the scope DIE, its real function, the frame base."""

    def __init__(self, unit: Unit, sc_die, sp_die, svma: int, fb_ops):
        self.unit, self.sc_die, self.sp_die, self.svma, self.fb_ops = unit, sc_die, sp_die, svma, fb_ops


def children_at(die, svma: int):
    """Descendants holding ``svma``, looking through lexical blocks (``die_find_child`` + haspc)."""
    for child in die.iter_children():
        if D.haspc(child, svma):
            yield child
            if child.tag == "DW_TAG_lexical_block":
                yield from children_at(child, svma)


def find_variable(scope_die, name: str, svma: Optional[int]):
    """``die_find_variable_at``: a parameter or variable called ``name`` that is external or has a location
    or a constant value, searching into children that hold ``svma`` (only the top level when None)."""
    for child in scope_die.iter_children():
        if child.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable") and D.diename(child) == name and \
                any(a in child.attributes for a in ("DW_AT_external", "DW_AT_location", "DW_AT_const_value")):
            return child
        if svma is not None and child.has_children and D.haspc(child, svma):
            found = find_variable(child, name, svma)
            if found is not None:
                return found
    return None


def visible_vars(scope: Scope, params_only: bool):
    """``copy_variables_cb`` / ``collect_variables_cb``: parameters (and variables) whose location
    converts at the address, descending into children that hold it."""
    def visit(die):
        for child in die.iter_children():
            if child.tag == "DW_TAG_formal_parameter" or (child.tag == "DW_TAG_variable" and not params_only):
                if converts(child, scope):
                    yield child
            if child.has_children and D.haspc(child, scope.svma):
                yield from visit(child)
    return list(visit(scope.sc_die))


def param_names(scope: Scope) -> List[str]:
    """``expand_probe_args`` for ``$params``: an unnamed parameter makes perf fail with -ENOMEM."""
    names = [D.diename(d) for d in visible_vars(scope, params_only=True)]
    if None in names:
        raise ProbeError("", errno=E.ENOMEM)
    return names


def range_lines(scope: Scope, externs: bool) -> set:
    """``collect_variables_cb`` with ``--range`` (probe_conf.show_location_range)."""
    out = set()

    def visit(die):
        for child in die.iter_children():
            if child.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable"):
                status = V.range_status(child, scope.svma, scope.fb_ops, scope.sp_die)
                where = V.var_range_text(scope.sp_die, child) if status else None
                if where is not None:
                    out.add(f"[{status}]\t{V.var_line(child)}\t{where}")
            if child.has_children and D.haspc(child, scope.svma):
                visit(child)
    visit(scope.sc_die)
    if externs:
        for child in scope.unit.die.iter_children():
            if child.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable") and \
                    V.range_status(child, scope.svma, scope.fb_ops, scope.sp_die):
                out.add(f"[EXT]\t{V.var_line(child)}")
    return out


def unit_globals(scope: Scope):
    return [d for d in scope.unit.die.iter_children()
            if d.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable") and converts(d, scope)]


def converts(var_die, scope: Scope) -> bool:
    try:
        V.convert_location(var_die, scope.svma, scope.fb_ops, scope.sp_die, check_only=True)
    except ProbeError:
        return False
    return True


def fill_empty(per_site, args) -> List[List[ResolvedArg]]:
    """perf's ``fill_empty_trace_arg``: for each argument as written (index i), the sites whose i-th
    argument has no location get ``\\deade12d`` with the type found at another site; when no site has it,
    perf's "Failed to find the location" error names the variable (``$params`` included)."""
    for i, (expr, _cast) in enumerate(args):
        found = [row[i] for row in per_site if i < len(row) and row[i][1] is not None]
        if not found:
            var = expr if expr.startswith("$") else V.parse_var_expr(expr)[0]
            raise V.NoLocation(V.not_found_message(var), errno=E.ENOENT)
        for row in per_site:
            if i < len(row) and row[i][1] is None:
                row[i] = (row[i][0], f"\\{MAGIC_NUM:x}", found[0][2])
    return [[ResolvedArg(*a) for a in row] for row in per_site]
