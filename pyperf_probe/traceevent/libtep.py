"""libtraceevent (Debian's ``libtraceevent1``) through ctypes: the code that prints perf's tracepoint text.

perf 6.1 carries its own copy of this library (tools/lib/traceevent; ``ldd /usr/bin/perf`` lists no
libtraceevent) and calls it as this module does (util/trace-event-read.c ``trace_report``, util/trace-event.c
``event_format__fprintf``, util/sort.c ``get_trace_output``):

* one ``tep_handle`` per file: ``tep_set_flag(TEP_NSEC_OUTPUT)``, the file's endianness, long and page size,
  ``tep_parse_header_page``, then ``tep_parse_event`` for each format text (``"ftrace"`` for the ftrace ones);
* the printk formats (``ADDR : "fmt"`` lines) registered with ``tep_register_print_string``, the saved
  cmdlines with ``tep_register_comm``; the kallsyms part of the section is skipped, as perf skips it, and
  ``%pS`` goes through a function resolver instead (perf's ``machine__resolve_kernel_addr``);
* per record, ``tep_print_event(tep, &seq, &record, "%s", TEP_PRINT_INFO)`` (``--raw-trace``:
  ``tep_print_fields``) into one reused ``trace_seq``.

perf loads no plugins here (``strace perf script`` opens no plugin directory), so neither does pyperf.
``load()`` answers None when the library is missing; the caller then uses the Python renderer
(:mod:`pyperf_probe.traceevent.printfmt`).
"""
from __future__ import annotations

import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

LIBRARY = "libtraceevent.so.1"
TEP_NSEC_OUTPUT = 1
TEP_PRINT_INFO = b"INFO"


class TraceSeq(ctypes.Structure):
    """``struct trace_seq`` (trace-seq.h)."""

    _fields_ = [("buffer", ctypes.c_void_p), ("buffer_size", ctypes.c_uint), ("len", ctypes.c_uint),
                ("readpos", ctypes.c_uint), ("state", ctypes.c_int)]


class TepRecord(ctypes.Structure):
    """``struct tep_record`` (event-parse.h, without DEBUG_RECORD). ``data`` is a ``char *``: a bytes object
    assigned to it is pointed at, not copied (and kept alive by the structure until the next one)."""

    _fields_ = [("ts", ctypes.c_ulonglong), ("offset", ctypes.c_ulonglong), ("missed_events", ctypes.c_longlong),
                ("record_size", ctypes.c_int), ("size", ctypes.c_int), ("data", ctypes.c_char_p),
                ("cpu", ctypes.c_int), ("ref_count", ctypes.c_int), ("locked", ctypes.c_int),
                ("priv", ctypes.c_void_p)]


# char *(tep_func_resolver_t)(void *priv, unsigned long long *addrp, char **modp): the name is returned as a
# void pointer to a buffer this module keeps alive (a c_char_p result of a callback would be freed).
RESOLVER = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulonglong),
                            ctypes.POINTER(ctypes.c_void_p))

_lib = None
_tried = False


def _declare(lib) -> None:
    vp, c_int, c_char_p = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    sigs = {
        "tep_alloc": (vp, []),
        "tep_free": (None, [vp]),
        "tep_set_flag": (None, [vp, c_int]),
        "tep_set_file_bigendian": (None, [vp, c_int]),
        "tep_set_local_bigendian": (None, [vp, c_int]),
        "tep_set_long_size": (None, [vp, c_int]),
        "tep_set_page_size": (None, [vp, c_int]),
        "tep_get_header_page_size": (c_int, [vp]),
        "tep_parse_header_page": (c_int, [vp, c_char_p, ctypes.c_ulong, c_int]),
        "tep_parse_event": (c_int, [vp, c_char_p, ctypes.c_ulong, c_char_p]),
        "tep_find_event": (vp, [vp, c_int]),
        "tep_register_print_string": (c_int, [vp, c_char_p, ctypes.c_ulonglong]),
        "tep_register_comm": (c_int, [vp, c_char_p, c_int]),
        "tep_set_function_resolver": (c_int, [vp, RESOLVER, vp]),
        "tep_print_fields": (None, [ctypes.POINTER(TraceSeq), vp, c_int, vp]),
        "trace_seq_init": (None, [ctypes.POINTER(TraceSeq)]),
        "trace_seq_reset": (None, [ctypes.POINTER(TraceSeq)]),
        "trace_seq_destroy": (None, [ctypes.POINTER(TraceSeq)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    # tep_print_event(tep, s, record, fmt, ...) is variadic: no argtypes (x86-64 passes pointers alike).
    lib.tep_print_event.restype = None


def load():
    """The library (ctypes CDLL with its functions declared), or None where it cannot be loaded."""
    global _lib, _tried
    if not _tried:
        _tried = True
        try:
            lib = ctypes.CDLL(LIBRARY)
            _declare(lib)
        except (OSError, AttributeError):
            lib = None
        _lib = lib
    return _lib


class TepHandle:
    """One ``tep_handle`` holding a file's event formats; renders records of them (see the module docstring)."""

    def __init__(self, lib, *, long_size: int = 8, page_size: int = 4096, big_endian: bool = False):
        self.lib = lib
        self.tep = lib.tep_alloc()
        if not self.tep:
            raise MemoryError("tep_alloc")
        lib.tep_set_flag(self.tep, TEP_NSEC_OUTPUT)
        lib.tep_set_file_bigendian(self.tep, int(big_endian))
        lib.tep_set_local_bigendian(self.tep, 0)
        lib.tep_set_long_size(self.tep, long_size)
        lib.tep_set_page_size(self.tep, page_size)
        self.seq = TraceSeq()
        lib.trace_seq_init(ctypes.byref(self.seq))
        self.record = TepRecord()
        # tep_print_event(tep, &seq, &record, "%s", TEP_PRINT_INFO): the arguments made once
        self._print_event = lib.tep_print_event
        self._info_args = (ctypes.c_void_p(self.tep), ctypes.byref(self.seq), ctypes.byref(self.record),
                           ctypes.c_char_p(b"%s"), ctypes.c_char_p(TEP_PRINT_INFO))
        self._view_of: tuple[int, int] | None = None  # (address, size) of the buffer _view reads
        self._view = None
        self._events: dict[int, int] = {}
        self._resolver = None  # the ctypes callback, kept alive with the handle
        self._names: dict[str, ctypes.Array] = {}  # the resolver's answers, alive as long as the handle

    def parse_header_page(self, text: bytes) -> None:
        """``tep_parse_header_page``; when it succeeds, the long size is the page header's commit field's
        (trace-event-read.c ``read_header_files``)."""
        if not self.lib.tep_parse_header_page(self.tep, text, len(text), 8):
            size = self.lib.tep_get_header_page_size(self.tep)
            if size:
                self.lib.tep_set_long_size(self.tep, size)

    def parse_event(self, text: bytes, system: str) -> bool:
        """``tep_parse_event``: False when the library refused the format (the event then prints nothing,
        as in perf)."""
        return self.lib.tep_parse_event(self.tep, text, len(text), system.encode()) == 0

    def register_printk(self, text: str) -> None:
        """perf's ``parse_ftrace_printk``: ``ADDR : fmt`` lines (the fmt after ``": "``, quotes kept)."""
        for line in text.split("\n"):
            addr, sep, fmt = line.partition(":")
            if not line or not sep:
                continue
            try:
                value = int(addr.strip(), 16)
            except ValueError:
                value = 0
            self.lib.tep_register_print_string(self.tep, fmt[1:].encode(), value)

    def register_comms(self, text: str) -> None:
        """Saved cmdlines (``PID COMM`` lines) for the ``%s`` of ``__get_comm``-style helpers."""
        for line in text.split("\n"):
            pid, _, comm = line.partition(" ")
            if pid.isdecimal() and comm:
                self.lib.tep_register_comm(self.tep, comm.encode(), int(pid))

    def set_resolver(self, resolve: Callable[[int], tuple[str, int, str | None] | None]) -> None:
        """``%pS``/``%ps`` names: ``resolve(addr)`` answers ``(name, start, module or None)`` or None."""
        names = self._names

        def callback(_priv, addrp, modp):
            try:
                got = resolve(addrp[0])
            except Exception:  # an exception cannot cross the C frames; the address then prints raw
                got = None
            if got is None:
                return None
            name, start, module = got
            addrp[0] = start
            buf = names.get(name)
            if buf is None:
                buf = names[name] = ctypes.create_string_buffer(name.encode())
            if module:
                mod = names.get("[" + module)
                if mod is None:
                    mod = names["[" + module] = ctypes.create_string_buffer(module.encode())
                modp[0] = ctypes.addressof(mod)
            else:
                modp[0] = None
            return ctypes.addressof(buf)

        self._resolver = RESOLVER(callback)
        self.lib.tep_set_function_resolver(self.tep, self._resolver, None)

    def event(self, event_id: int):
        """The ``struct tep_event *`` of this id (0 when the library has none)."""
        ev = self._events.get(event_id)
        if ev is None:
            ev = self._events[event_id] = self.lib.tep_find_event(self.tep, event_id) or 0
        return ev

    def _take(self) -> str:
        """The sequence's text, then ``trace_seq_reset`` (len and readpos 0) done on the structure. The text
        is read through a ctypes array over the buffer, made again when the library moved or grew it
        (``ctypes.string_at`` is a foreign call per record: ~0.7 us of the ~3)."""
        seq = self.seq
        n = seq.len
        if not n:
            return ""
        where = (seq.buffer, seq.buffer_size)
        if where != self._view_of:
            self._view_of = where
            self._view = (ctypes.c_char * where[1]).from_address(where[0])
        text = self._view[:n].decode(errors="replace")
        seq.len = seq.readpos = 0
        return text

    def print_info(self, raw: bytes, cpu: int = 0) -> str:
        """``tep_print_event(..., "%s", TEP_PRINT_INFO)`` of one RAW record (the event is found by the record's
        ``common_type``, as the library does)."""
        rec = self.record
        rec.data = raw if type(raw) is bytes else bytes(raw)
        rec.size = len(raw)
        rec.cpu = cpu
        self._print_event(*self._info_args)
        return self._take()

    def print_fields(self, event_id: int, raw: bytes) -> str:
        """``tep_print_fields`` of the record (``perf report --raw-trace``)."""
        ev = self.event(event_id)
        if not ev:
            return ""
        self.lib.tep_print_fields(ctypes.byref(self.seq), ctypes.cast(raw, ctypes.c_void_p), len(raw), ev)
        return self._take()

    def close(self) -> None:
        if self.tep:
            self.lib.trace_seq_destroy(ctypes.byref(self.seq))
            self.lib.tep_free(self.tep)
            self.tep = None
