"""``/term=value,.../`` of an event: the kinds perf 6.1 knows and its checks on them
(tools/perf/util/parse-events.c ``config_term_common``, ``config_term_tracepoint``, ``check_type_val``).

A term given without a value (``/inherit/``, ``/period/``) is the number 1, as in perf.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Union

from pyperf_probe.events.errors import EventSyntaxError

# perf's config_term_names, in the order "valid terms:" lists them
VALID_TERMS = ("config,config1,config2,name,period,freq,branch_type,time,call-graph,stack-size,no-inherit,"
               "inherit,max-stack,nr,no-overwrite,overwrite,driver-config,percore,aux-output,aux-sample-size,"
               "metric-id")
VALID_TERMS_HELP = "valid terms: " + VALID_TERMS
TRACEPOINT_TERMS_HELP = "valid terms: call-graph,stack-size\n"

STRING_TERMS = {"name", "branch_type", "call-graph", "metric-id"}
NUMERIC_TERMS = {"config", "config1", "config2", "period", "freq", "time", "stack-size", "max-stack", "nr",
                 "inherit", "no-inherit", "overwrite", "no-overwrite", "percore", "aux-output", "aux-sample-size"}
TRACEPOINT_TERMS = {"call-graph", "stack-size", "inherit", "no-inherit", "max-stack", "nr", "overwrite",
                    "no-overwrite", "aux-output", "aux-sample-size"}


@dataclasses.dataclass(frozen=True)
class Term:
    """One term as written: ``key`` is a keyword of ``TERM_KEYWORDS`` when ``keyword``, else a user word
    (a PMU format or event name); ``value`` is an int or a str."""

    key: str
    value: Union[int, str]
    keyword: bool
    start: int  # column of the term (perf's err_term)
    value_start: int  # column of its value (err_val)

    @property
    def numeric(self) -> bool:
        return isinstance(self.value, int)


def check_type(term: Term) -> None:
    """``check_type_val``: a keyword term's value must be of the kind it takes."""
    if term.key in NUMERIC_TERMS and not term.numeric:
        raise EventSyntaxError(term.value_start, "expected numeric value")
    if term.key in STRING_TERMS and term.numeric:
        raise EventSyntaxError(term.value_start, "expected string value")
    if term.key in ("time", "percore") and term.value not in (0, 1):
        raise EventSyntaxError(term.value_start, "expected 0 or 1")


def check_common(terms: Sequence[Term]) -> None:
    """Terms of a symbol, raw or numeric event: keywords only."""
    for term in terms:
        if not term.keyword:
            raise EventSyntaxError(term.start, "unknown term", VALID_TERMS_HELP)
        check_type(term)


def check_tracepoint(terms: Sequence[Term]) -> None:
    for term in terms:
        if not term.keyword or term.key not in TRACEPOINT_TERMS:
            raise EventSyntaxError(term.start, "unknown term", TRACEPOINT_TERMS_HELP)
        check_type(term)


@dataclasses.dataclass(frozen=True)
class ConfigTerms:
    """What the terms ask of ``evsel__apply_config_terms`` (None: not given)."""

    period: Optional[int] = None
    freq: Optional[int] = None
    call_graph: Optional[str] = None
    stack_size: Optional[int] = None
    max_stack: Optional[int] = None
    inherit: Optional[bool] = None
    name: Optional[str] = None
    branch_type: Optional[str] = None
    time: Optional[int] = None


def config_terms(terms: Sequence[Term]) -> ConfigTerms:
    """The keyword terms that set something beyond config/config1/config2 (later ones win, as in perf)."""
    got = {}
    for term in terms:
        if not term.keyword:
            continue
        key, value = term.key, term.value
        if key == "period":
            got["period"] = value
        elif key == "freq":
            got["freq"] = value
        elif key == "call-graph":
            got["call_graph"] = value
        elif key == "stack-size":
            got["stack_size"] = value
        elif key == "max-stack":
            got["max_stack"] = value
        elif key == "inherit":
            got["inherit"] = bool(value)
        elif key == "no-inherit":
            got["inherit"] = not value
        elif key == "name":
            got["name"] = value
        elif key == "branch_type":
            got["branch_type"] = value
        elif key == "time":
            got["time"] = value
    return ConfigTerms(**got)


def apply_config(terms: Sequence[Term], config: int, config1: int = 0, config2: int = 0):
    """config/config1/config2 terms over the event's own values."""
    for term in terms:
        if term.keyword and term.key == "config":
            config = term.value
        elif term.keyword and term.key == "config1":
            config1 = term.value
        elif term.keyword and term.key == "config2":
            config2 = term.value
    return config, config1, config2
