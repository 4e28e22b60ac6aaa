"""Event modifiers (``cpu-clock:u``, ``{a,b}:S``) as perf 6.1 applies them (tools/perf/util/parse-events.c
``get_event_modifier``, ``check_modifier``, ``parse_events__modifier_event``).

u/k/h: count only these levels (the first one excludes the other two); H/G: host/guest likewise; p: one more
level of precise_ip (and exclude_guest); P: the highest precision; S: leader sampling (the group is read at
each sample of the leader); D: pinned; e: exclusive; W: weak group; I: exclude idle; b: BPF counter.
An event's own modifier starts from nothing; a group's starts from each member's current bits.
"""
from __future__ import annotations

from typing import Sequence

from pyperf_probe.events.evsel import Evsel

ALL = "ukhGHpppPSDIWeb"


def valid(mods: str) -> bool:
    """``check_modifier``: not longer than every modifier once (p thrice), no letter twice but p."""
    if len(mods) > len(ALL):
        return False
    return all(ch == "p" or mods.count(ch) == 1 for ch in mods)


def apply(evsels: Sequence[Evsel], mods: str, group: bool) -> bool:
    """Set the modifier bits on every event; False where perf says "Bad modifier"."""
    if not valid(mods):
        return False
    for ev in evsels:
        if not _apply_one(ev, mods, ev if group else None):
            return False
    return True


def _apply_one(ev: Evsel, mods: str, base) -> bool:
    eu = base.exclude_user if base else False
    ek = base.exclude_kernel if base else False
    eh = base.exclude_hv if base else False
    eH = base.exclude_host if base else False
    eG = base.exclude_guest if base else False
    eI = base.exclude_idle if base else False
    precise = base.precise_ip if base else 0
    pinned = base.pinned if base else False
    exclusive = base.exclusive if base else False
    exclude = eu or ek or eh
    exclude_GH = base.exclude_GH if base else False
    precise_max = sample_read = weak = False
    for ch in mods:
        if ch in "ukh":
            if not exclude:
                exclude = eu = ek = eh = True
            if ch == "u":
                if not exclude_GH:  # and perf is not recording a guest
                    eG = True
                eu = False
            elif ch == "k":
                ek = False
            else:
                eh = False
        elif ch in "GH":
            if not exclude_GH:
                exclude_GH = eG = eH = True
            if ch == "G":
                eG = False
            else:
                eH = False
        elif ch == "I":
            eI = True
        elif ch == "p":
            precise += 1
            if not exclude_GH:
                eG = True
        elif ch == "P":
            precise_max = True
        elif ch == "S":
            sample_read = True
        elif ch == "D":
            pinned = True
        elif ch == "e":
            exclusive = True
        elif ch == "W":
            weak = True
    if precise > 3:
        return False
    ev.exclude_user, ev.exclude_kernel, ev.exclude_hv = eu, ek, eh
    ev.exclude_host, ev.exclude_guest, ev.exclude_idle = eH, eG, eI
    ev.precise_ip, ev.exclude_GH, ev.sample_read = precise, exclude_GH, sample_read
    ev.precise_max, ev.weak = precise_max, weak
    if ev.leader < 0:  # evsel__is_group_leader: a group's members are set after their own modifiers
        ev.pinned, ev.exclusive = pinned, exclusive
    return True
