"""The Python renderer of tracepoint records: a format text parsed into an :class:`Event` whose records print
as libtraceevent prints them (src/event-parse.c of the copy perf 6.1 carries, the December 2020 state of
libtraceevent).

Used where ``libtraceevent.so.1`` cannot be loaded, and for the formats perf's copy prints otherwise than
libtraceevent 1.7 (:func:`library_differs`; :mod:`.events` chooses). The pieces follow the C functions they
stand for, so a difference can be traced to one of them:

* :mod:`.tokens`      ``__read_token``: the format text's tokens, ``strtoul``;
* :mod:`.fields`      ``event_read_fields``: the fields and their ``TEP_FIELD_IS_*`` flags; reading values,
                      ``__data_loc`` spans, ``print_field_raw``/``tep_print_fields`` (:meth:`Event.fields_text`);
* :mod:`.args`        ``process_arg``/``process_op``: the print fmt's arguments as expression trees;
* :mod:`.conversions` ``parse_args``: the format string cut into text and conversions; printf of one;
* :mod:`.printer`     ``pretty_print``/``eval_num_arg``/``print_str_arg`` (:meth:`Event.info`), with
                      :mod:`.pointers` for ``%pM %pI %pIS %pU %ph``;
* :mod:`.compiled`    the common pieces (numbers and strings of fields) made closures once per event.

An event whose ``print fmt`` cannot be parsed prints ``[FAILED TO PARSE]`` and its fields, as perf does
(a helper function only a libtraceevent plugin defines, such as ``jiffies_to_msecs``, makes that happen, and
so do the helpers newer than perf's copy: ``__get_cpumask``, ``__get_sockaddr``, ``__get_rel_*``,
``sizeof``). Where perf's copy and libtraceevent 1.7 differ, this module follows perf.
"""
from __future__ import annotations

from pyperf_probe.traceevent.args import Arg, read_print_args
from pyperf_probe.traceevent.conversions import Piece, parse_pieces
from pyperf_probe.traceevent.fields import (IS_ARRAY, IS_DYNAMIC, IS_LONG, IS_POINTER, IS_RELATIVE, IS_SIGNED,
                                            IS_STRING, FormatField, field_raw, fields_text, parse_fields)
from pyperf_probe.traceevent.printer import Printer
from pyperf_probe.traceevent.tokens import DELIM, DQUOTE, ITEM, NEWLINE, NONE, OP, ParseError, Tokens, strtoul

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

__all__ = ["Event", "FormatField", "ParseError", "library_differs", "parse_printk_formats", "IS_ARRAY",
           "IS_POINTER", "IS_SIGNED", "IS_STRING", "IS_DYNAMIC", "IS_LONG", "IS_RELATIVE"]


class Event:
    """One parsed format: name, common and event fields, print fmt pieces (or the reason they failed)."""

    def __init__(self, name: str, system: str, event_id: int, long_size: int,
                 resolve: Callable | None = None, printk: dict | None = None):
        self.name, self.system, self.id, self.long_size = name, system, event_id, long_size
        self.common_fields: list[FormatField] = []
        self.fields: list[FormatField] = []
        self.print_fmt: str | None = None
        self.args: list[Arg] = []
        self.pieces: list[Piece] = []
        self.failed: str | None = None
        self.resolve = resolve
        self.printk = printk or {}
        self.printer = Printer(long_size, resolve, self.printk)
        self._compiled: list | None = None  # the pieces specialised (compiled.py), made at the first record

    # --- parsing ----------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, system: str = "", long_size: int = 8, resolve: Callable | None = None,
              printk: dict | None = None) -> Event:
        """A format text (``name:``, ``ID:``, ``format:`` with the fields, ``print fmt:``); a print fmt that
        does not parse leaves ``failed`` set (the fields still print)."""
        tok = Tokens(text)
        tok.expect(ITEM, "name", newline_ok=False)
        tok.expect(OP, ":")
        name = tok.expect(ITEM)
        tok.expect(ITEM, "ID", newline_ok=False)
        tok.expect(OP, ":")
        event_id = strtoul(tok.expect(ITEM))
        ev = cls(name, system, event_id, long_size, resolve, printk)
        tok.expect(ITEM, "format", newline_ok=False)
        tok.expect(OP, ":")
        tok.expect(NEWLINE)
        ev.common_fields = parse_fields(tok, long_size)
        for f in ev.common_fields:
            f.common = True
        ev.fields = parse_fields(tok, long_size)
        try:
            ev._parse_print(tok)
        except (ParseError, IndexError, KeyError, RecursionError) as exc:
            ev.failed = str(exc) or type(exc).__name__
        return ev

    def _parse_print(self, tok: Tokens) -> None:
        tok.expect(ITEM, "print", newline_ok=False)
        tok.expect(ITEM, "fmt")
        tok.expect(OP, ":")
        fmt = tok.expect(DQUOTE)
        kind, text = tok.item()
        while kind == DQUOTE:
            fmt += text
            kind, text = tok.item()
        self.print_fmt = fmt
        if kind != NONE:
            if kind != DELIM or text != ",":
                raise ParseError("expected ',' after the format string")
            self.args = read_print_args(tok, self)
        self.pieces = parse_pieces(fmt, self.args)

    def find_field(self, name: str) -> FormatField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def find_any_field(self, name: str) -> FormatField | None:
        for f in self.common_fields:
            if f.name == name:
                return f
        return self.find_field(name)

    # --- printing ---------------------------------------------------------------------------------------

    def info(self, data: bytes) -> str:
        """``pretty_print`` (TEP_PRINT_INFO)."""
        if self.failed is not None:
            return "[FAILED TO PARSE]" + self.fields_text(data)
        compiled = self._compiled
        if compiled is None:
            from pyperf_probe.traceevent.compiled import compile_pieces
            compiled = self._compiled = compile_pieces(self.pieces, self.printer)
        return self.printer.print_compiled(compiled, data)

    def fields_text(self, data: bytes) -> str:
        """``tep_print_fields`` of perf 6.1: `` name=value`` for every non-common field."""
        return fields_text(self.fields, data)

    def field_raw(self, f: FormatField, data: bytes) -> str:
        """``print_field_raw`` (``tep_print_field``)."""
        return field_raw(f, data)


def parse_printk_formats(text: str) -> dict[int, str]:
    """``ADDR : "fmt"`` lines: address -> the text after ``": "`` (perf's ``parse_ftrace_printk``)."""
    out = {}
    for line in text.split("\n"):
        addr, sep, fmt = line.partition(":")
        if not sep:
            continue
        try:
            out[int(addr.strip(), 16)] = fmt[1:]
        except ValueError:
            continue
    return out


_NEWER_HELPERS = ("__get_cpumask", "__get_rel_", "__get_sockaddr", "sizeof")


def library_differs(text: str) -> bool:
    """Whether libtraceevent 1.7 prints this format's records otherwise than perf 6.1's copy: a ``%zu``-style
    conversion (an int there, a long in 1.7), a tab in the format string (perf's tokenizer takes any byte
    up to the quote, 1.7 stops), or a helper perf's copy does not know (1.7 prints it, perf prints
    ``[FAILED TO PARSE]`` and the fields)."""
    line = text[text.find("print fmt:"):]
    if any(h in line for h in _NEWER_HELPERS):
        return True
    fmt = line.split('"', 2)[1] if line.count('"') >= 2 else ""
    if "\t" in line or any(not ch.isprintable() and ch != "\n" for ch in fmt):
        return True
    pos = fmt.find("%")
    while pos >= 0:
        end = pos + 1
        while end < len(fmt) and fmt[end] in "-+ #0123456789.*hlLzZjt":
            end += 1
        if "z" in fmt[pos + 1:end] or "Z" in fmt[pos + 1:end]:
            return True
        pos = fmt.find("%", end + 1 if end < len(fmt) and fmt[end] == "%" else end)
    return False
