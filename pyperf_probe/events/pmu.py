"""``PMU/term=value,.../`` events from /sys/bus/event_source/devices (tools/perf/util/pmu.c).

Each PMU directory has ``type`` (the attr type), ``format/NAME`` files saying which bits of config, config1
or config2 a term fills (``config:0-7,32-35``) and ``events/NAME`` files with named events as terms
(``event=0x00``). A term that is neither a keyword, a format nor an event is perf's
"unknown term 'X' for pmu 'P'".
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Sequence, Tuple

from pyperf_probe.events.errors import EventSyntaxError
from pyperf_probe.events.terms import VALID_TERMS, Term, check_type

DEVICES = "/sys/bus/event_source/devices"


@dataclasses.dataclass(frozen=True)
class Format:
    """Where a term's value goes: ``field`` (config, config1, config2) and its (low, high) bit ranges."""

    field: str
    ranges: Tuple[Tuple[int, int], ...]

    def encode(self, value: int) -> int:
        """Scatter ``value``'s low bits over the ranges, low range first (pmu.c ``pmu_format_value``)."""
        out, shift = 0, 0
        for low, high in self.ranges:
            width = high - low + 1
            out |= ((value >> shift) & ((1 << width) - 1)) << low
            shift += width
        return out


@dataclasses.dataclass(frozen=True)
class Pmu:
    name: str
    type: int
    formats: Dict[str, Format]
    events: Dict[str, str]  # event name -> its terms text


def parse_format(text: str) -> Format:
    field, _, bits = text.strip().partition(":")
    ranges = []
    for part in bits.split(","):
        low, _, high = part.partition("-")
        ranges.append((int(low), int(high or low)))
    return Format(field, tuple(ranges))


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def names(root: str = DEVICES) -> List[str]:
    try:
        return sorted(os.listdir(root))
    except OSError:
        return []


def find(name: str, root: str = DEVICES) -> Optional[Pmu]:
    """The PMU ``name``, or None when the kernel has none by that name."""
    base = os.path.join(root, name)
    type_text = _read(os.path.join(base, "type")) if "/" not in name else None
    if type_text is None:
        return None
    formats, events = {}, {}
    for sub, store in (("format", formats), ("events", events)):
        try:
            entries = sorted(os.listdir(os.path.join(base, sub)))
        except OSError:
            entries = []
        for entry in entries:
            text = _read(os.path.join(base, sub, entry))
            if text is None or (sub == "events" and "." in entry):  # .scale, .unit: not events
                continue
            store[entry] = parse_format(text) if sub == "format" else text.strip()
    return Pmu(name, int(type_text), formats, events)


def _alias_terms(text: str) -> List[Tuple[str, int]]:
    out = []
    for part in text.split(","):
        key, _, value = part.partition("=")
        out.append((key.strip(), int(value, 0) if value else 1))
    return out


def config(pmu: Pmu, terms: Sequence[Term]) -> Tuple[int, int, int]:
    """(config, config1, config2) of the PMU event these terms describe; keyword terms other than
    config/config1/config2 are left to ``terms.config_terms``."""
    fields = {"config": 0, "config1": 0, "config2": 0}
    for term in terms:
        if term.keyword:
            check_type(term)
            if term.key in fields:
                fields[term.key] = term.value
            continue
        if term.key in pmu.events:
            for key, value in _alias_terms(pmu.events[term.key]):
                _set_format(pmu, fields, key, value, term)
            continue
        _set_format(pmu, fields, term.key, term.value, term)
    return fields["config"], fields["config1"], fields["config2"]


def _set_format(pmu: Pmu, fields: Dict[str, int], key: str, value, term: Term) -> None:
    fmt = pmu.formats.get(key)
    if fmt is None or fmt.field not in fields:
        help = "valid terms: " + ",".join(list(pmu.formats) + [VALID_TERMS])
        message = f"unknown term '{term.key}' for pmu '{pmu.name}'"
        raise EventSyntaxError(term.start, message, help, first=(term.start, message, help))
    if not isinstance(value, int):
        raise EventSyntaxError(term.value_start, "expected numeric value")
    fields[fmt.field] |= fmt.encode(value)


def kernel_pmu_events(root: str = DEVICES) -> List[str]:
    """``PMU/EVENT/`` of every named PMU event in sysfs (perf list's "Kernel PMU event" lines)."""
    out = []
    for name in names(root):
        pmu = find(name, root)
        if pmu is not None:
            out += [f"{name}/{event}/" for event in pmu.events]
    return out
