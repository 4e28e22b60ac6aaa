"""DWARF pointer encodings (LEB128 itself is symbols.leb128) (DWARF 5 §7.6; LSB 5.0 "DWARF Extensions" for
the DW_EH_PE_* values).

Decoders take ``(data, pos)`` and return ``(value, new_pos)`` so that the CFI parser walks one ``bytes``
object without slicing it.
"""
from __future__ import annotations

import struct

from ..errors import ReportError
from ..symbols.leb128 import sleb, uleb  # noqa: F401  (re-exported for cfi and cfa_program)

# DW_EH_PE_* value formats (low nibble) and applications (bits 4-6); 0x80 = indirect, 0xff = omit.
PE_ABSPTR = 0x00
PE_ULEB128 = 0x01
PE_UDATA2 = 0x02
PE_UDATA4 = 0x03
PE_UDATA8 = 0x04
PE_SLEB128 = 0x09
PE_SDATA2 = 0x0A
PE_SDATA4 = 0x0B
PE_SDATA8 = 0x0C
PE_PCREL = 0x10
PE_TEXTREL = 0x20
PE_DATAREL = 0x30
PE_FUNCREL = 0x40
PE_ALIGNED = 0x50
PE_INDIRECT = 0x80
PE_OMIT = 0xFF

_FIXED = {
    PE_UDATA2: struct.Struct("<H"), PE_UDATA4: struct.Struct("<I"), PE_UDATA8: struct.Struct("<Q"),
    PE_SDATA2: struct.Struct("<h"), PE_SDATA4: struct.Struct("<i"), PE_SDATA8: struct.Struct("<q"),
    PE_ABSPTR: struct.Struct("<Q"),
}
MASK64 = (1 << 64) - 1




def read_encoded(data: bytes, pos: int, encoding: int, section_svma: int,
                 datarel_base: int = 0) -> tuple[int, int]:
    """Decode a DW_EH_PE-encoded pointer at ``pos`` of a section mapped at ``section_svma``.

    ``pcrel`` is relative to the svma of the encoded value itself; ``datarel`` to ``datarel_base`` (the
    start of ``.eh_frame_hdr`` for its table, as the LSB says). ``indirect`` pointers would need the
    process's memory, which a recorded sample does not hold for data: they are refused.
    """
    if encoding == PE_OMIT:
        return 0, pos
    fmt = encoding & 0x0F
    start = pos
    if fmt == PE_ULEB128:
        value, pos = uleb(data, pos)
    elif fmt == PE_SLEB128:
        value, pos = sleb(data, pos)
    else:
        layout = _FIXED.get(fmt)
        if layout is None:
            raise ReportError(f"unsupported DWARF pointer encoding {encoding:#x}")
        (value,) = layout.unpack_from(data, pos)
        pos += layout.size
    app = encoding & 0x70
    if app == PE_PCREL:
        value += section_svma + start
    elif app == PE_DATAREL:
        value += datarel_base
    elif app != PE_ABSPTR:  # textrel/funcrel/aligned: not emitted for x86_64 Linux
        raise ReportError(f"unsupported DWARF pointer encoding {encoding:#x}")
    if encoding & PE_INDIRECT:
        raise ReportError(f"indirect DWARF pointer encoding {encoding:#x} in CFI")
    return value & MASK64, pos
