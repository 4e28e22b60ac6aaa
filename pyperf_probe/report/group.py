"""perf report's event groups (perf 6.1: header.c ``process_group_desc``, builtin-report.c
``report__collapse_hists``, ui/hist.c ``__hpp__fmt``/``hpp__width_fn``, ``evsel__group_desc``).

A file recorded with ``-e '{a,b}'`` (or ``NAME{a,b}``) says in HEADER_GROUP_DESC which events form a group:
a leader and the events after it. perf report shows each group as one table, the leader's
("group view", on by default, off with ``--no-group``): every entry prints one value per member in each
number column (Overhead, Children, Samples, Period: ``  50.03%  61.46%``), each member's entry being the
one of the same key in its own hists (``hists__match``), or 0 where it has none; a key only a member has
becomes an empty entry of the leader's (``hists__link``). Entries sort by the leader's value, ties broken
by the members' in order (report.hist). ``# Samples`` and ``# Event count`` add up the group's events, and
the event name is ``anon group { a, b }`` (``NAME { a, b }``). ``--group`` on a file without groups makes one
of all its events, named ``a, b`` (``evlist__force_leader``), and so does ``--no-group`` (perf's
OPT_BOOLEAN_SET: either option sets ``report.group_set``). Whatever the view, a leader of several events is
said to have samples "of events".
"""
from __future__ import annotations

from pyperf_probe.perfdata.format import Feature
from pyperf_probe.perfdata.frozen import Frozen
from pyperf_probe.report.hist import HistEntry, Hists


class Group(Frozen):
    """A group of the file: the leader's index, its members' indices (after it), its name ("" when forced)."""

    __slots__ = ()
    _fields = ("leader", "members", "name")

    def __new__(cls, leader: int, members: tuple[int, ...], name: str):
        return tuple.__new__(cls, (leader, members, name))


def file_groups(data, nr_events: int, force: bool) -> list[Group]:
    """The groups of HEADER_GROUP_DESC (``process_group_desc``); with ``force`` (``--group``) and none in
    the file, one group of every event, led by the first (``--group`` or ``--no-group`` given)."""
    from pyperf_probe.errors import PerfDataError
    try:
        descs = data.feature(Feature.GROUP_DESC) or ()
    except PerfDataError:
        descs = ()
    if isinstance(descs, (bytes, bytearray)):   # a reader without the decoder
        descs = ()
    groups = []
    for desc in descs:
        last = min(desc.leader_idx + desc.nr_members, nr_events)
        if desc.nr_members > 1 and desc.leader_idx < nr_events:
            name = "anon group" if desc.name == "{anon_group}" else desc.name
            groups.append(Group(desc.leader_idx, tuple(range(desc.leader_idx + 1, last)), name))
    if not groups and force and nr_events > 1:
        groups.append(Group(0, tuple(range(1, nr_events)), ""))
    return groups


def description(group: Group, names: list[str]) -> str:
    """``evsel__group_desc``: ``NAME { leader, member, ... }``, without the braces for a forced group."""
    events = ", ".join(names[i] for i in (group.leader, *group.members))
    return f"{group.name} {{ {events} }}" if group.name else events


def link(leader: Hists, members: list[Hists]) -> None:
    """``hists__match`` then ``hists__link`` for each member: the leader's entries get ``pairs`` (one
    member entry or None per member), and a member's entry with no leader entry of its key gets an empty
    one in the leader's hists, made after every other."""
    for entry in leader.entries.values():
        entry.pairs = [None] * len(members)
    for k, member in enumerate(members):
        for ident, theirs in member.entries.items():
            ours = leader.entries.get(ident)
            if ours is None:
                ours = leader.entries[ident] = _dummy(theirs, leader.callchains, len(members))
            ours.pairs[k] = theirs
    leader.group_members = members


def _dummy(template: HistEntry, callchains: bool, nr_members: int) -> HistEntry:
    """``hists__add_dummy_entry``: the member's entry, its periods and counts zero, its call graph empty."""
    entry = HistEntry(template.ident, template.comm, template.tid, template.loc, template.trace, template.is_self,
                      template.thread, callchains, template.filtered, template.level, template.raw)
    entry.thread_comm = template.thread_comm
    entry.trace_output = template.trace_output
    entry.pairs = [None] * nr_members
    return entry


def totals(leader: Hists, members: list[Hists]) -> tuple[int, int]:
    """The group's ``# Samples`` and ``# Event count``: the leader's and its members' added up."""
    return (leader.nr_samples + sum(m.nr_samples for m in members),
            leader.total_period + sum(m.total_period for m in members))
