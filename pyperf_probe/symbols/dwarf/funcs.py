"""Where a named function can be probed: perf's search of one unit (probe-finder.c ``probe_point_search_cb``).

In each unit, perf takes the first subprogram (``dwarf_getfuncs`` order) that is a definition
(``die_is_func_def``) and whose name - through abstract origins, else its linkage name - matches (a glob
when the name has wildcards, then every match counts). A concrete function gives one site at its entry;
an abstract inline function gives every instance of it in that unit (``die_walk_instances``: inlined
copies and the out-of-line copy, minus the "redundant" ones whose call site is the declaration line), in
DIE order. A site whose address was already found is dropped (``trace_event_finder_overlap``).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional

from pyperf_probe.symbols.dwarf import dies as D


@dataclass(frozen=True)
class FunctionSite:
    """One probe-able instance of a function.

    ``prologue_end_svma`` is where perf moves a probe that fetches variables (``skip_prologue`` in
    probe-finder.c): set only for a concrete function of a unit compiled without optimization (no location
    list anywhere in the unit), and equal to ``entry_svma`` when the line table gives no better place. When it
    is set and the probe has C-variable arguments, perf prints "Target program is compiled without
    optimization. Skipping prologue.\\nProbe on address 0x%x to force probing at the function entry.\\n\\n"
    with ``entry_svma`` (before applying it).

    ``trace_ok`` is False only for the site ``DwarfInfo.function_sites(for_vars=True)`` keeps although perf
    could not name its probe point (``perf probe -V`` shows it as ``@<(null)+0>``)."""
    name: str
    entry_svma: int
    prologue_end_svma: Optional[int]
    is_inline: bool
    decl_file: Optional[str]
    decl_line: Optional[int]
    cu_name: str
    cu_offset: int
    die_offset: int
    trace_ok: bool = True


def name_matcher(pattern: str) -> Callable[[Optional[str]], bool]:
    """perf's ``strglobmatch`` when the name has glob characters, equality otherwise."""
    if any(c in pattern for c in "*?["):
        return lambda name: name is not None and fnmatch.fnmatchcase(name, pattern)
    return lambda name: name == pattern


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def match_name(die, matches: Callable[[Optional[str]], bool]) -> bool:
    """perf's ``die_match_name``: the DIE name, else its linkage name."""
    return matches(D.diename(die)) or matches(D.linkage_name(die))


def strtailcmp(s1: str, s2: Optional[str]) -> bool:
    """perf's ``strtailcmp(s1, s2) == 0``: one string is a tail of the other."""
    if s2 is None:
        return False
    n = min(len(s1), len(s2))
    return n == 0 or s1[-n:] == s2[-n:]


def matching_funcs(cu_die, pattern: str, decl_file_of, file: Optional[str] = None) -> Iterator:
    """The subprogram DIEs perf's search accepts in one unit: the first match, or every match of a glob."""
    matches = name_matcher(pattern)
    glob = is_glob(pattern)
    for func in D.getfuncs(cu_die):
        if not D.is_func_def(func) or not match_name(func, matches):
            continue
        if file is not None and not strtailcmp(file, decl_file_of(func)):
            continue
        yield func
        if not glob:
            return


def instances(cu_die, abstract, decl_file_index_of, candidates: Optional[Iterable] = None) -> Iterator:
    """perf's ``die_walk_instances``: DIEs with an entry whose DW_AT_abstract_origin is ``abstract``.
    ``candidates`` (DIEs in DIE order that refer to it, from the fast scanner) saves the walk of the
    whole unit; the checks are the same."""
    decl_line = D.attr_integrate(abstract, "DW_AT_decl_line")
    decl_file = decl_file_index_of(abstract)
    for die in (D.walk(cu_die) if candidates is None else candidates):
        if not D.is_func_instance(die) or "DW_AT_abstract_origin" not in die.attributes:
            continue
        if die.attributes["DW_AT_abstract_origin"].value + _ref_base(die) != abstract.offset:
            continue
        if die.tag == "DW_TAG_inlined_subroutine" and _redundant(die, decl_line, decl_file):
            continue
        yield die


def _ref_base(die) -> int:
    form = die.attributes["DW_AT_abstract_origin"].form
    return 0 if form in ("DW_FORM_ref_addr", "DW_FORM_GNU_ref_alt") else die.cu.cu_offset


def _redundant(inst, decl_line, decl_file) -> bool:
    call_line = inst.attributes.get("DW_AT_call_line")
    call_file = inst.attributes.get("DW_AT_call_file")
    line = decl_line.value if decl_line is not None else 0
    if call_line is None or call_line.value != line:
        return False
    return call_file is not None and call_file.value == decl_file


def collect(sites: List[FunctionSite]) -> List[FunctionSite]:
    """Drop sites at an address already found, keeping the first (``trace_event_finder_overlap``)."""
    seen = set()
    out = []
    for site in sites:
        if site.entry_svma in seen:
            continue
        seen.add(site.entry_svma)
        out.append(site)
    return out
