"""A print fmt's pieces specialised into closures, once per event, for the common shapes: the per-record path
of the Python renderer (:class:`.printer.Printer` stays the reference and does everything else).

What is specialised, each exactly as the printer computes it:

* literal text: the text;
* a number (``%d %u %x %lu %08lx``...) of a field, or of a cast of a field (``(u64)REC->x``): the field's
  bytes read at a fixed offset (0 when the record is too short), the cast's mask, the conversion's
  sign or width (``h``/``l`` counts, ``%z``), and printf's text by one ``%`` operation (conversions with
  ``#``, whose text depends on the value, stay with the printer);
* a string (plain ``%s``) of a char array field (``REC->comm``) or of ``__get_str(field)``;
* a plain ``%p`` of such a number: ``(nil)`` or ``0x...``.

Anything else (a ``*`` width, flags and symbols, helpers, ``%pS``...) is a call to the printer's own code.
"""
from __future__ import annotations

import struct

from pyperf_probe.traceevent.args import Arg
from pyperf_probe.traceevent.conversions import Piece
from pyperf_probe.traceevent.fields import IS_ARRAY, cstr, dynamic_span
from pyperf_probe.traceevent.tokens import MASK64

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

_STRUCTS = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}
_INT_CONVERSIONS = {"d": "d", "i": "d", "u": "d", "x": "x", "X": "X", "o": "o"}


def compile_pieces(pieces: list[Piece], printer) -> list:
    """Each piece as a string (literal text) or a callable ``(data) -> str``."""
    return [_compile(piece, printer) for piece in pieces]


def _compile(piece: Piece, printer):
    if piece.type == "string":
        return piece.format
    if piece.len_arg is None:
        if piece.type == "digit":
            fn = _digit(piece, printer)
        elif piece.type == "str":
            fn = _string(piece, printer)
        else:
            fn = _pointer(piece, printer)
        if fn is not None:
            return fn
    out_of = printer.piece_text
    return lambda data: out_of(piece, data)


def _number(arg: Arg, printer) -> Callable[[bytes], int]:
    """``eval_num_arg`` of a field or a cast of one; the printer's for anything else."""
    if arg.kind == "field" and arg.v["field"] is not None:
        f = arg.v["field"]
        offset, size = f.offset, f.size
        st = _STRUCTS.get(size)
        if st is None:
            return lambda data: 0
        unpack, end = st.unpack_from, offset + size
        return lambda data: unpack(data, offset)[0] if end <= len(data) else 0
    if arg.kind == "type":
        from pyperf_probe.traceevent.printer import eval_type
        inner = _number(arg.v["item"], printer)
        mask = eval_type(MASK64, arg.v["type"], False)  # eval_type_str masks (or keeps) the value
        if mask == MASK64:
            return inner
        return lambda data: inner(data) & mask
    num = printer.num
    return lambda data: num(arg, data)


def _digit(piece: Piece, printer):
    spec = piece.format
    conv = spec[-1]
    body = spec[1:-1]
    flags = ""
    while body and body[0] in "-+ #0":
        flags += body[0]
        body = body[1:]
    if "#" in flags or "*" in body or conv not in _INT_CONVERSIONS:
        return None
    body = body.rstrip("hlLzZjt")
    if "." in body:
        flags = flags.replace("0", "")  # C ignores 0 with a precision
    pyfmt = "%" + flags + body + _INT_CONVERSIONS[conv]
    get = _number(piece.arg, printer)
    if "z" in spec or "Z" in spec:  # an int read as a size_t: the zero-extended low half
        return lambda data: pyfmt % (get(data) & 0xFFFFFFFF)
    bits = {-2: 8, -1: 16, 0: 32}.get(piece.ls, 64)
    mask = (1 << bits) - 1
    if conv in "di":
        top, wrap = 1 << (bits - 1), 1 << bits

        def signed(data: bytes) -> str:
            val = get(data) & mask
            return pyfmt % (val - wrap if val & top else val)
        return signed
    return lambda data: pyfmt % (get(data) & mask)


def _string(piece: Piece, printer):
    if piece.format != "%s":
        return None
    arg = piece.arg
    f = arg.v.get("field")
    if f is None:
        return None
    if arg.kind == "field" and f.flags & IS_ARRAY and f.size:
        start, end = f.offset, f.offset + f.size
        return lambda data: cstr(data[start:end])
    if arg.kind == "string":

        def dynamic(data: bytes) -> str:
            offset, length = dynamic_span(f, data)
            return cstr(data[offset:]) if length else ""
        return dynamic
    return None


def _pointer(piece: Piece, printer):
    if piece.format != "%p" or piece.arg.kind == "bstring":
        return None
    get = _number(piece.arg, printer)

    def pointer(data: bytes) -> str:
        val = get(data)
        return "(nil)" if not val else "0x%x" % val
    return pointer
