"""A file's tracepoint formats and the renderer that prints their records as perf 6.1 does.

Two renderers, one interface (``info``: ``tep_print_event(..., TEP_PRINT_INFO)``, ``raw_fields``:
``tep_print_fields``):

* ``libtraceevent``: the C library perf's own copy comes from, through ctypes (:mod:`.libtep`); chosen
  whenever ``libtraceevent.so.1`` loads;
* ``python``: :mod:`.printfmt`, an evaluator of the same ``print fmt`` grammar, where the library is missing
  or ``PYPERF_NO_LIBTRACEEVENT=1`` is set, and for the few formats libtraceevent 1.7 prints otherwise than
  perf 6.1's older copy (``printfmt.library_differs``: ``%zu``, tabs, helpers perf does not know).

Each format is parsed once, when the file is opened; a record costs one call that renders it. Formats made
only of numbers and strings of fields print through a plan (:mod:`.plan`: one unpack, one ``%``) with
either renderer: the Python renderer's text, a fraction of a call into the library.
``renderer`` names the one in use (``pyperf script -v`` prints it).
"""
from __future__ import annotations

import os

from pyperf_probe.perfdata.tracing_data import TracingData

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable
    Resolver = Callable[[int], "tuple[str, int, str | None] | None"]

ENV_NO_LIBRARY = "PYPERF_NO_LIBTRACEEVENT"
TEXT_CACHE_MAX = 16384  # records whose text info() keeps (then it starts again): a few MiB at most
FUNCTION_CONVERSIONS = ("pS", "ps", "pF", "pf")  # %pS-style: the text depends on the kernel maps of the moment


class TraceEvents:
    """The events of one TRACING_DATA section, rendered by the library or by Python (module docstring)."""

    def __init__(self, tracing: TracingData, resolve: Resolver | None = None, use_library: bool | None = None):
        self.tracing = tracing
        self._python: dict[int, object] = {}
        self._python_only: dict[int, bool] = {}
        self._routes: dict[int, tuple] = {}   # event id -> (render(raw, cpu), whether its texts are kept)
        self._texts: dict[bytes, str] = {}    # RAW record (its common_type names the event) -> text
        self._infos: dict[int, Callable] = {}  # event id -> info_of's function
        self._planned: set[int] = set()  # event ids whose route is a plan (plan.flat_plan)
        self._resolve = resolve
        if use_library is None:
            use_library = not os.environ.get(ENV_NO_LIBRARY)
            self._why_python = f"{ENV_NO_LIBRARY} is set"
        else:
            self._why_python = "the library was not asked for"
        self._use_library = use_library
        self._tep = None
        self._opened = False  # the library is loaded and the formats parsed on first use (a report that
        # prints no trace text, or stops at an error, pays nothing for it)

    @property
    def tep(self):
        """The library's handle (libtep.TepHandle, the file's formats parsed), None when it is not used."""
        if not self._opened:
            self._opened = True
            if self._use_library:
                self._tep = self._open_library(self.tracing, self._resolve)
                if self._tep is None:
                    self._why_python = "libtraceevent.so.1 could not be loaded"
        return self._tep

    @property
    def renderer(self) -> str:
        """"libtraceevent" or "python": the renderer in use."""
        return "libtraceevent" if self.tep is not None else "python"

    @staticmethod
    def _open_library(tracing: TracingData, resolve: Resolver | None):
        from pyperf_probe.traceevent import libtep
        lib = libtep.load()
        if lib is None:
            return None
        tep = libtep.TepHandle(lib, long_size=tracing.long_size, page_size=tracing.page_size,
                               big_endian=tracing.big_endian)
        tep.parse_header_page(tracing.header_page.encode())
        for text in tracing.ftrace_formats:
            tep.parse_event(text.encode(), "ftrace")
        for fmt in tracing.events.values():
            tep.parse_event(fmt.text.encode(), fmt.system)
        tep.register_printk(tracing.printk_formats)
        tep.register_comms(tracing.saved_cmdlines)
        if resolve is not None:
            tep.set_resolver(resolve)
        return tep

    def describe(self) -> str:
        """The -v line that says which renderer prints the tracepoint fields."""
        if self.tep is not None:
            from pyperf_probe.traceevent.libtep import LIBRARY
            return f"tracepoint fields: printed by {LIBRARY} (libtraceevent through ctypes)"
        why = self._why_python
        return f"tracepoint fields: printed by pyperf's Python print-fmt renderer ({why})"

    def python_event(self, event_id: int):
        """The Python renderer's parsed event of this id (parsed on first use), or None."""
        ev = self._python.get(event_id)
        if ev is None and event_id in self.tracing.events:
            from pyperf_probe.traceevent.printfmt import Event
            fmt = self.tracing.events[event_id]
            ev = self._python[event_id] = Event.parse(fmt.text, fmt.system, self.tracing.long_size,
                                                      resolve=self._resolve,
                                                      printk=self._printk_table())
        return ev

    def _printk_table(self) -> dict[int, str]:
        table = getattr(self, "_printk", None)
        if table is None:
            from pyperf_probe.traceevent.printfmt import parse_printk_formats
            table = self._printk = parse_printk_formats(self.tracing.printk_formats)
        return table

    def _use_python(self, event_id: int) -> bool:
        """Whether this event prints through Python although the library is loaded: its format is one
        libtraceevent 1.7 prints otherwise than perf 6.1's copy (``printfmt.library_differs``)."""
        use = self._python_only.get(event_id)
        if use is None:
            from pyperf_probe.traceevent.printfmt import library_differs
            fmt = self.tracing.events.get(event_id)
            use = self._python_only[event_id] = fmt is not None and library_differs(fmt.text)
        return use

    def info(self, event_id: int, raw: bytes, cpu: int = 0) -> str:
        """The event's ``print fmt`` applied to ``raw`` (what ``perf script`` prints after the event name).

        A record seen before gets the text it got then (records repeat: a loop's system calls, a task's
        switches), unless the format prints kernel functions (``%pS``: named from the kernel maps, which
        records change); the text does not depend on ``cpu`` (TEP_PRINT_INFO prints the fields only)."""
        text = self._texts.get(raw)
        if text is not None:
            return text
        route = self._routes.get(event_id)
        if route is None:
            route = self._routes[event_id] = self._route(event_id)
        render, keep = route
        text = render(raw, cpu)
        if keep:
            texts = self._texts
            if len(texts) >= TEXT_CACHE_MAX:
                texts.clear()
            texts[raw] = text
        return text

    def info_of(self, event_id: int) -> Callable[[bytes, int], str]:
        """``info`` of one event as a function ``(raw, cpu) -> text`` (the route looked up once: the loop of
        script's tracepoint samples)."""
        info = self._infos.get(event_id)
        if info is None:
            info = self._infos[event_id] = self._info_of(event_id)
        return info

    def text_of(self, event_id: int, raw_fields: bool = False) -> Callable[[bytes], str]:
        """``raw -> text`` of one event for perf report's trace key (``get_trace_output``): ``info`` (or with
        ``raw_fields`` ``raw_fields``) as a function of the record alone, the route looked up once: a plan
        itself where the event has one (in C: TracePlan), so that report's loop over payloads calls it
        directly (report.trace_adds keeps the texts per payload)."""
        if raw_fields:
            return lambda raw: self.raw_fields(event_id, raw)
        info = self.info_of(event_id)
        if event_id in self._planned:  # (render(data, cpu=0): the record alone will do)
            return info
        return lambda raw: info(raw, 0)

    def _info_of(self, event_id: int) -> Callable[[bytes, int], str]:
        route = self._routes.get(event_id)
        if route is None:
            route = self._routes[event_id] = self._route(event_id)
        render, keep = route
        if not keep or event_id in self._planned:
            # (a plan prints a record in about the time a kept text is looked up and kept: script's loop keeps
            # its texts per sample key anyway. A kept text is another event's record: its common_type differs)
            return render
        texts = self._texts

        def info(raw: bytes, cpu: int = 0) -> str:
            text = texts.get(raw)
            if text is None:
                text = render(raw, cpu)
                if len(texts) >= TEXT_CACHE_MAX:
                    texts.clear()
                texts[raw] = text
            return text
        return info

    def _route(self, event_id: int) -> tuple:
        """How an event's records print: the library's or the Python renderer's call, and whether a text
        may be kept for the same record."""
        from pyperf_probe.traceevent.plan import flat_plan  # (its import: only for a file with formats)
        fmt = self.tracing.events.get(event_id)
        line = fmt.text[fmt.text.find("print fmt:"):] if fmt is not None else ""
        keep = not any(conv in line for conv in FUNCTION_CONVERSIONS)
        if self._use_library and not self._opened and not self._use_python(event_id):
            # a plan without loading the library (it parses every format of the file): the library only for
            # the records the plan leaves to it (too short for its fields), loaded then; the Python
            # renderer's where it does not load
            ev = self._plannable(event_id)
            plan = flat_plan(ev, lambda raw: self._slow_info(ev, raw)) if ev is not None else None
            if plan is not None:
                self._planned.add(event_id)
                return plan, keep
        if self.tep is not None and not self._use_python(event_id):
            print_info = self.tep.print_info
            ev = self._plannable(event_id)
            plan = flat_plan(ev, lambda raw: print_info(raw, 0)) if ev is not None else None
            if plan is not None:
                self._planned.add(event_id)
            return plan or print_info, keep
        ev = self.python_event(event_id)
        if ev is None:
            return (lambda raw, cpu: ""), keep
        plan = flat_plan(ev)
        if plan is not None:
            self._planned.add(event_id)
            return plan, keep
        info = ev.info
        return (lambda raw, cpu: info(raw)), keep

    def _slow_info(self, ev, raw: bytes) -> str:
        """The text of a record a plan made before the library was loaded leaves to the renderer."""
        tep = self.tep
        return tep.print_info(raw, 0) if tep is not None else ev.info(raw)

    def _plannable(self, event_id: int):
        """The Python renderer's event for a plan beside the library: None when its format does not parse
        in Python (the library prints it, as it did before plans)."""
        from pyperf_probe.traceevent.tokens import ParseError
        try:
            return self.python_event(event_id)
        except (ParseError, ValueError, IndexError, KeyError, RecursionError):
            return None

    def raw_fields(self, event_id: int, raw: bytes) -> str:
        """Every field as `` name=value`` (``tep_print_fields``: ``perf report --raw-trace``). Python with either
        renderer: perf 6.1's copy prints each field raw (``print_field_raw``), where libtraceevent >= 1.4 prints
        a field through its conversion in the print fmt (``%x`` fields in hex)."""
        ev = self.python_event(event_id)
        return "" if ev is None else ev.fields_text(raw)


def kernel_resolver(kernel, has_kernel_map: Callable[[], bool]) -> Resolver:
    """``machine__resolve_kernel_addr`` for ``%pS``: the symbol of the session's kernel maps (``kernel``: a
    session.kernel.KernelSpace, its symbols loaded as perf loads them: --kallsyms, the running kernel's
    or the build-id cache's kallsyms, the relocation, the modules) as (name, start address, module or None);
    nothing while ``has_kernel_map()`` is false: perf reading a file makes its kernel maps from the kernel
    MMAP record only, so a file without one prints the addresses as numbers."""

    def resolve(addr: int):
        if not has_kernel_map():
            return None
        found = kernel.find(addr)
        if found is None or found.dso is None:
            return None
        res = found.dso.resolve(found.file_offset(addr))
        if res is None:
            return None
        start = res.start if found.identity else res.start - found.pgoff + found.start  # map->unmap_ip
        module = None if found is kernel.kernel_map else found.dso.short_name
        return res.name, start, module

    return resolve


def for_session(session, use_library: bool | None = None) -> TraceEvents | None:
    """The TraceEvents of a session's file (None when no event of it is a tracepoint with a format), its
    ``%pS`` names resolved through the session's kernel maps, as ``perf script``/``perf report`` set
    libtraceevent's function resolver to ``machine__resolve_kernel_addr``."""
    if not any(ev.tp_format is not None for ev in session.evsels):
        return None
    from pyperf_probe.perfdata.format import Feature
    tracing = session.data.feature(Feature.TRACING_DATA)
    machine = session.machine
    kernel_maps = machine.kernel_maps
    resolver = kernel_resolver(machine.kernel, lambda: len(kernel_maps) > 0)
    return TraceEvents(tracing, resolve=resolver, use_library=use_library)
