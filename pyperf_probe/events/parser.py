"""perf 6.1's event grammar (tools/perf/util/parse-events.y) read by recursive descent over ``lexer`` tokens,
building ``Evsel`` values as perf's actions do.

    groups      := item (',' item)*
    item        := [NAME] '{' event (',' event)* '}' [':' MODIFIER]  |  event
    event       := [EVENT_NAME] event_def [MODIFIER]
    event_def   := SYM ('/' terms '/' | '/' '/' | ':' | )             hardware / software symbol
                 | CACHE_TYPE ['-' OP_RESULT ['-' OP_RESULT]] [config] [':']
                 | NAME ':' NAME [config] [':']                        tracepoint (globs)
                 | VALUE ':' VALUE [config] [':']                      numeric type:config
                 | RAW [config] [':']                                  rNNNN
                 | NAME '/' [terms] '/'                                PMU
    config      := '/' [terms] '/'
    terms       := term (',' term)*        term := (TERM | NAME) ['=' (NAME | VALUE)]

A parser error is reported where bison reports it (``Token.err_col``); errors of the actions (a bad
modifier, an unknown term or tracepoint, a missing PMU) at the column perf gives them.
"""
from __future__ import annotations

from typing import List, Optional

from pyperf_probe.events import modifiers, pmu as pmus, tables, terms as terms_mod, tracepoints
from pyperf_probe.events.errors import EventSyntaxError
from pyperf_probe.events.evsel import Evsel
from pyperf_probe.events.lexer import Token, tokenize
from pyperf_probe.events.terms import Term

TRACEPOINT_SAMPLE = (1 << 10) | (1 << 2) | (1 << 7) | (1 << 8)  # RAW | TIME | CPU | PERIOD
RAW_TYPE = 4


def parse(text: str, first_index: int = 0) -> List[Evsel]:
    """The events of one ``-e`` value; ``first_index`` is the number of events before it (group leaders
    are indices in the whole list)."""
    return _Parser(text, first_index).run()


class _Parser:
    def __init__(self, text: str, first_index: int):
        self.text, self.toks, self.i = text, tokenize(text), 0
        self.base, self.evsels = first_index, []

    # -- tokens
    def peek(self, ahead: int = 0) -> Token:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, kind: str) -> Token:
        if self.peek().kind != kind:
            self.fail()
        return self.take()

    def fail(self):
        raise EventSyntaxError(self.peek().err_col, "parser error")

    # -- grammar
    def run(self) -> List[Evsel]:
        self.item()
        while self.peek().kind == ",":
            self.take()
            self.item()
        if self.peek().kind != "EOF":
            self.fail()
        return self.evsels

    def item(self) -> None:
        if self.peek().kind == "{" or (self.peek().kind == "NAME" and self.peek(1).kind == "{"):
            self.group()
        else:
            self.event()

    def group(self) -> None:
        name = self.take().text if self.peek().kind == "NAME" else None
        self.expect("{")
        start = len(self.evsels)
        self.event()
        while self.peek().kind == ",":
            self.take()
            self.event()
        self.expect("}")
        members = self.evsels[start:]
        members[0].nr_members, members[0].group_name = len(members), name
        for ev in members[1:]:
            ev.leader = self.base + start
        if self.peek().kind == ":":
            self.take()
            mod = self.expect("MOD")
            if not modifiers.apply(members, mod.text, group=True):
                raise EventSyntaxError(mod.start, "Bad modifier")

    def event(self) -> None:
        name = self.take() if self.peek().kind == "EVENT_NAME" else None
        start = len(self.evsels)
        self.event_def()
        new = self.evsels[start:]
        if name is not None:
            for ev in new:
                if ev.name is None:
                    ev.name = name.text
        if self.peek().kind == "MOD":
            mod = self.take()
            if not modifiers.apply(new, mod.text, group=False):
                raise EventSyntaxError(mod.start, "Bad modifier")

    def event_def(self) -> None:
        tok = self.peek()
        kind = tok.kind
        if kind in ("SYM", "TOOL"):
            self.symbol()
        elif kind == "CACHE_TYPE":
            self.cache()
        elif kind == "NAME" and self.peek(1).kind == ":":
            self.tracepoint()
        elif kind == "NAME" and self.peek(1).kind == "-" and self.peek(2).kind == "NAME" \
                and self.peek(3).kind == ":":
            self.tracepoint()
        elif kind == "NAME" and self.peek(1).kind == "/":
            self.pmu_event()
        elif kind == "VALUE" and self.peek(1).kind == ":":
            self.numeric()
        elif kind == "RAW":
            self.take()
            terms = self.opt_config()
            self.add_numeric(RAW_TYPE, tok.value, terms)
            self.sep_dc()
        else:
            if kind in ("NAME", "VALUE", "MEM"):  # bison shifts a token that can start an event
                self.take()
            self.fail()

    def sep_dc(self) -> None:
        if self.peek().kind == ":":
            self.take()

    def symbol(self) -> None:
        tok = self.take()
        if tok.kind == "TOOL":
            type_, config = tables.SOFTWARE, tables.SW_DUMMY
        else:
            type_, config = tok.value
        terms: List[Term] = []
        if self.peek().kind == "/":
            self.take()
            if self.peek().kind == "/":
                self.take()
            else:
                terms = self.term_list()
                self.expect("/")
        elif self.peek().kind == ":":
            self.take()
        ev = self.add_numeric(type_, config, terms)
        if tok.kind == "TOOL":
            ev.name = ev.name or tok.text
        elif type_ == tables.SOFTWARE and config == tables.SW_BPF_OUTPUT:
            ev.sample_period, ev.base_sample_type = 1, TRACEPOINT_SAMPLE

    def cache(self) -> None:
        first = self.take()
        words = []
        while len(words) < 2 and self.peek().kind == "-":
            self.take()
            words.append(self.expect("CACHE_OPRES").text)
        terms = self.opt_config()
        config = tables.cache_config(first.text, words)
        if config is None:
            raise EventSyntaxError(-1, "")
        self.add_numeric(tables.HW_CACHE, config, terms)
        self.sep_dc()

    def tracepoint(self) -> None:
        first = self.take()
        group = first.text
        if self.peek().kind == "-":
            self.take()
            group += "-" + self.take().text
        self.expect(":")
        event = self.expect("NAME").text
        terms = self.opt_config()
        terms_mod.check_tracepoint(terms)
        try:
            found = tracepoints.resolve(group, event, first.start)
        except tracepoints.NothingFound:
            found = []
        cfg = terms_mod.config_terms(terms)
        for g, e, tp_id in found:
            self.evsels.append(Evsel(type=2, config=tp_id, name=f"{g}:{e}", tp_group=g, tp_event=e, terms=cfg,
                                     sample_period=1, base_sample_type=TRACEPOINT_SAMPLE))
        self.sep_dc()

    def numeric(self) -> None:
        type_tok = self.take()
        self.expect(":")
        config = self.expect("VALUE")
        terms = self.opt_config()
        self.add_numeric(type_tok.value & 0xFFFFFFFF, config.value, terms)
        self.sep_dc()

    def pmu_event(self) -> None:
        name = self.take()
        self.expect("/")
        terms: List[Term] = []
        if self.peek().kind == "/":
            self.take()
        else:
            terms = self.term_list()
            self.expect("/")
        found = pmus.find(name.text)
        if found is None:
            raise EventSyntaxError(name.start, f"Cannot find PMU `{name.text}'. Missing kernel support?")
        config, config1, config2 = pmus.config(found, terms)
        cfg = terms_mod.config_terms(terms)
        self.evsels.append(Evsel(type=found.type, config=config, config1=config1, config2=config2,
                                 pmu=found.name, terms=cfg, name=cfg.name))

    def opt_config(self) -> List[Term]:
        if self.peek().kind != "/":
            return []
        self.take()
        if self.peek().kind == "/":
            self.take()
            return []
        terms = self.term_list()
        self.expect("/")
        return terms

    def term_list(self) -> List[Term]:
        out = [self.term()]
        while self.peek().kind == ",":
            self.take()
            out.append(self.term())
        return out

    def term(self) -> Term:
        key = self.peek()
        if key.kind not in ("TERM", "NAME", "RAW"):
            self.fail()
        self.take()
        if self.peek().kind != "=":
            return Term(key.text, 1, key.kind == "TERM", key.start, key.start)
        self.take()
        value = self.peek()
        if value.kind == "VALUE":
            self.take()
            return Term(key.text, value.value, key.kind == "TERM", key.start, value.start)
        if value.kind in ("NAME", "TERM", "CACHE_TYPE", "CACHE_OPRES", "SYM", "MOD"):
            self.take()
            return Term(key.text, value.text, key.kind == "TERM", key.start, value.start)
        self.fail()

    # -- actions
    def add_numeric(self, type_: int, config: int, terms: List[Term]) -> Evsel:
        """``parse_events_add_numeric``: a symbol, cache, raw or type:config event with its terms."""
        terms_mod.check_common(terms)
        config, config1, config2 = terms_mod.apply_config(terms, config)
        cfg = terms_mod.config_terms(terms)
        ev = Evsel(type=type_, config=config, config1=config1, config2=config2, terms=cfg, name=cfg.name)
        self.evsels.append(ev)
        return ev


def parse_all(specs, on_error=None) -> List[Evsel]:
    """The events of several ``-e`` values, in order; ``on_error(spec, err)`` turns an error into the
    command's exception (it must raise)."""
    out: List[Evsel] = []
    for spec in specs:
        try:
            out += parse(spec, len(out))
        except EventSyntaxError as err:
            if on_error is None:
                raise
            on_error(spec, err)
    return out


def leader_of(evsels: List[Evsel], index: int) -> int:
    ev = evsels[index]
    return index if ev.leader < 0 else ev.leader


def is_leader(ev: Evsel) -> bool:
    return ev.leader < 0


def group_members(evsels: List[Evsel], leader: int) -> List[int]:
    return [i for i, ev in enumerate(evsels) if i == leader or ev.leader == leader]


def find_name(evsels: List[Evsel], name: str) -> Optional[Evsel]:
    return next((ev for ev in evsels if ev.display_name() == name), None)
