"""Call frame information: CIEs and FDEs of ``.eh_frame`` and ``.debug_frame`` (DWARF 5 §6.4.1, LSB 5.0
"Exception Frames"), and the binary-search table of ``.eh_frame_hdr``.

This module reads the *structure* (which FDE covers which svma range, with which CIE and instruction
bytes); ``cfa_program`` executes the instructions and ``cfi_table`` compiles them into a lookup table.

Differences between the two sections handled here (DWARF 5 §6.4.1 vs LSB):

* CIE id: 0 in ``.eh_frame``, 0xffffffff (0xffffffffffffffff for 64-bit DWARF) in ``.debug_frame``.
* FDE's CIE pointer: ``.eh_frame`` counts back from the pointer field itself; ``.debug_frame`` gives the
  CIE's offset in the section.
* Addresses: ``.eh_frame`` encodes them as the CIE's ``R`` augmentation says (usually pcrel|sdata4);
  ``.debug_frame`` uses plain address_size words (version 4 CIEs state address_size).
"""
from __future__ import annotations

import struct
from bisect import bisect_right

from ..errors import ReportError
from ..perfdata.frozen import Frozen
from .leb128 import PE_ABSPTR, PE_OMIT, read_encoded, sleb, uleb

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterator

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_EH_HDR = struct.Struct("<BBBB")  # version, eh_frame_ptr_enc, fde_count_enc, table_enc


class Cie(Frozen):
    """A Common Information Entry (DWARF 5 §6.4.1 items 1-10 of the CIE; LSB "Common Information Entry").

    ``fde_encoding`` is the ``R`` augmentation (DW_EH_PE_*; absptr for ``.debug_frame``);
    ``signal_frame`` is the ``S`` augmentation: FDEs of this CIE describe a signal trampoline, whose
    caller address is *not* a return address (no ``ra - 1`` when looking it up).
    """

    __slots__ = ()
    _fields = ("offset", "version", "augmentation", "code_align", "data_align", "ra_register", "fde_encoding",
               "has_aug_data", "signal_frame", "instructions")

    def __new__(cls, offset: int, version: int, augmentation: str, code_align: int, data_align: int,
                ra_register: int, fde_encoding: int, has_aug_data: bool, signal_frame: bool, instructions: bytes):
        return tuple.__new__(cls, (offset, version, augmentation, code_align, data_align, ra_register,
                                   fde_encoding, has_aug_data, signal_frame, instructions))


class Fde(Frozen):
    """A Frame Description Entry: the svma range ``[start, end)`` and its CFA program (DWARF 5 §6.4.1)."""

    __slots__ = ()
    _fields = ("offset", "cie", "start", "end", "instructions")

    def __new__(cls, offset: int, cie: Cie, start: int, end: int, instructions: bytes):
        return tuple.__new__(cls, (offset, cie, start, end, instructions))


class CfiSection(Frozen):
    """The bytes of ``.eh_frame`` or ``.debug_frame`` with the svma they are mapped at (0 for
    ``.debug_frame``, which is not loaded) and which flavour they are."""

    __slots__ = ()
    _fields = ("data", "svma", "is_eh_frame")

    def __new__(cls, data: bytes, svma: int, is_eh_frame: bool):
        return tuple.__new__(cls, (data, svma, is_eh_frame))


def _entry_header(data: bytes, pos: int) -> tuple[int, int, int, bool]:
    """Initial length of an entry (DWARF 5 §7.4): ``(body_start, end, id_size, is_64bit)``."""
    (length,) = _U32.unpack_from(data, pos)
    if length == 0xFFFFFFFF:
        (length,) = _U64.unpack_from(data, pos + 4)
        return pos + 12, pos + 12 + length, 8, True
    return pos + 4, pos + 4 + length, 4, False


def parse_cie(section: CfiSection, pos: int) -> Cie:
    """Parse the CIE whose initial-length field is at ``pos``."""
    data = section.data
    body, end, id_size, _ = _entry_header(data, pos)
    if end > len(data):
        raise ReportError(f"CIE at {pos:#x} runs past the end of its section")
    p = body + id_size
    version = data[p]
    p += 1
    nul = data.index(b"\0", p, end)
    augmentation = data[p:nul].decode("ascii", "replace")
    p = nul + 1
    if augmentation.startswith("eh"):  # GCC 2.x "eh" augmentation: a pointer-sized word follows
        p += 8
    if version >= 4:  # address_size, segment_selector_size (DWARF 4/5 only)
        p += 2
    code_align, p = uleb(data, p)
    data_align, p = sleb(data, p)
    if version == 1:
        ra_register = data[p]
        p += 1
    else:
        ra_register, p = uleb(data, p)
    fde_encoding = PE_ABSPTR
    signal = False
    has_aug_data = augmentation.startswith("z")
    if has_aug_data:
        aug_len, p = uleb(data, p)
        aug_end = p + aug_len
        fde_encoding, signal = _parse_augmentation(section, augmentation, p)
        p = aug_end
    else:
        signal = "S" in augmentation
    return Cie(pos, version, augmentation, code_align, data_align, ra_register, fde_encoding,
               has_aug_data, signal, bytes(data[p:end]))


def _parse_augmentation(section: CfiSection, augmentation: str, pos: int) -> tuple[int, bool]:
    """Walk the ``z`` augmentation data: L (LSDA encoding), P (personality encoding + pointer), R (FDE
    pointer encoding), S (signal frame), B (AArch64 BTI; no data). Returns ``(fde_encoding, signal)``."""
    data = section.data
    fde_encoding = PE_ABSPTR
    signal = False
    for char in augmentation[1:]:
        if char == "L":
            pos += 1
        elif char == "P":
            encoding = data[pos]
            _, pos = read_encoded(data, pos + 1, encoding & 0x7F, section.svma)
        elif char == "R":
            fde_encoding = data[pos]
            pos += 1
        elif char == "S":
            signal = True
        elif char not in "BG":
            break  # unknown letter: the augmentation length lets the caller skip the rest (LSB)
    return fde_encoding, signal


def parse_fde(section: CfiSection, pos: int, cie: Cie) -> Fde:
    """Parse the FDE at ``pos`` whose CIE is ``cie`` (LSB "Frame Description Entry")."""
    data = section.data
    body, end, id_size, _ = _entry_header(data, pos)
    if end > len(data):
        raise ReportError(f"FDE at {pos:#x} runs past the end of its section")
    p = body + id_size
    if section.is_eh_frame:
        start, p = read_encoded(data, p, cie.fde_encoding, section.svma)
        size, p = read_encoded(data, p, cie.fde_encoding & 0x0F, section.svma)
    else:
        start, size = _U64.unpack_from(data, p)[0], _U64.unpack_from(data, p + 8)[0]
        p += 16
    if cie.has_aug_data:
        aug_len, p = uleb(data, p)
        p += aug_len
    return Fde(pos, cie, start, start + size, bytes(data[p:end]))


def _cie_offset(section: CfiSection, pos: int) -> int | None:
    """The section offset of the CIE an entry at ``pos`` refers to, or None if the entry is a CIE."""
    data = section.data
    body, _, id_size, is64 = _entry_header(data, pos)
    raw = (_U64 if is64 else _U32).unpack_from(data, body)[0]
    if section.is_eh_frame:
        return None if raw == 0 else body - raw
    return None if raw == (1 << (8 * id_size)) - 1 else raw


def iter_fdes(section: CfiSection, errors: list[str] | None = None) -> Iterator[Fde]:
    """Every FDE of the section in file order; CIEs are parsed once and shared.

    A zero length ends ``.eh_frame`` (LSB); a zero-sized FDE (a discarded function left by the linker) is
    skipped. An entry that cannot be parsed (or whose CIE cannot) is skipped and described in ``errors``
    when given, so one odd function does not cost a DSO all its CFI; a length running past the section
    ends the walk with a ``ReportError``, as nothing after it can be trusted.
    """
    data = section.data
    cies: dict[int, Cie | None] = {}
    pos = 0
    limit = len(data)
    while pos + 4 <= limit:
        if _U32.unpack_from(data, pos)[0] == 0:  # zero terminator (.eh_frame) or padding
            if section.is_eh_frame:
                break
            pos += 4
            continue
        _, end, _, _ = _entry_header(data, pos)
        if end > limit:
            raise ReportError(f"CFI entry at {pos:#x} runs past the end of its section")
        try:
            fde = _fde_at(section, pos, cies)
        except _PARSE_ERRORS as exc:
            if errors is not None:
                errors.append(f"CFI entry at {pos:#x}: {exc}")
            fde = None
        if fde is not None and fde.end > fde.start and fde.start != 0:
            yield fde
        pos = end


_PARSE_ERRORS = (ReportError, IndexError, ValueError, OverflowError, struct.error)


def _fde_at(section: CfiSection, pos: int, cies: dict[int, Cie | None]) -> Fde | None:
    """The FDE at ``pos`` (None for a CIE), parsing its CIE on first use."""
    cie_pos = _cie_offset(section, pos)
    if cie_pos is None:
        return None
    if cie_pos not in cies:
        cies[cie_pos] = None  # a CIE that fails once is not parsed again for each of its FDEs
        cies[cie_pos] = parse_cie(section, cie_pos)
    cie = cies[cie_pos]
    if cie is None:
        raise ReportError(f"its CIE at {cie_pos:#x} could not be parsed")
    return parse_fde(section, pos, cie)


_FAST_EH = struct.Struct("<IIii")  # length, CIE pointer, pc_begin, pc_range (pcrel|sdata4: what gcc/ld emit)
MASK64 = (1 << 64) - 1


def fde_index(section: CfiSection, errors: list[str] | None = None) -> tuple[list, list, list]:
    """``(starts, ends, offsets)`` of the FDEs :func:`iter_fdes` yields, in the same (file) order, without
    reading their instructions: what a lazy table needs to find the FDE of an svma.

    The walk is the one of ``iter_fdes`` (same terminator, skips and errors); an FDE whose CIE says
    ``pcrel|sdata4`` (every gcc/ld ``.eh_frame``) costs one ``struct`` unpack, anything else goes through
    ``parse_fde``. Its augmentation data and instructions are read only when the FDE is compiled
    (``fde_at``), so an FDE damaged there is indexed and compiles to no rows."""
    data = section.data
    svma = section.svma
    is_eh = section.is_eh_frame
    cies: dict[int, Cie | None] = {}
    starts: list[int] = []
    ends: list[int] = []
    offsets: list[int] = []
    pos = 0
    limit = len(data)
    fast = _FAST_EH.unpack_from
    while pos + 4 <= limit:
        length = _U32.unpack_from(data, pos)[0]
        if length == 0:
            if is_eh:
                break
            pos += 4
            continue
        end = pos + 4 + length
        if length == 0xFFFFFFFF or end > limit or not is_eh or pos + 16 > limit:
            _, end, _, _ = _entry_header(data, pos)
            if end > limit:
                raise ReportError(f"CFI entry at {pos:#x} runs past the end of its section")
            _index_slow(section, pos, cies, errors, starts, ends, offsets)
            pos = end
            continue
        _, raw, begin, size = fast(data, pos)
        if raw == 0:  # a CIE
            pos = end
            continue
        cie_pos = pos + 4 - raw
        cie = cies.get(cie_pos, False)
        if cie is False:
            _index_slow(section, pos, cies, errors, starts, ends, offsets)
        elif cie is not None and cie.fde_encoding == 0x1B:
            start = (svma + pos + 8 + begin) & MASK64
            stop = min(start + (size & MASK64), MASK64)  # a damaged size: the range ends with the space
            if stop > start and start != 0:
                starts.append(start)
                ends.append(stop)
                offsets.append(pos)
        else:
            _index_slow(section, pos, cies, errors, starts, ends, offsets)
        pos = end
    return starts, ends, offsets


def _index_slow(section: CfiSection, pos: int, cies: dict[int, Cie | None], errors: list[str] | None,
                starts: list[int], ends: list[int], offsets: list[int]) -> None:
    """One entry of :func:`fde_index` the way ``iter_fdes`` reads it."""
    try:
        fde = _fde_at(section, pos, cies)
    except _PARSE_ERRORS as exc:
        if errors is not None:
            errors.append(f"CFI entry at {pos:#x}: {exc}")
        return
    if fde is not None and fde.end > fde.start and fde.start != 0:
        starts.append(fde.start)
        ends.append(min(fde.end, MASK64))
        offsets.append(pos)


def fde_at(section: CfiSection, pos: int, cies: dict[int, Cie | None]) -> Fde | None:
    """The FDE whose entry is at ``pos`` (an offset :func:`fde_index` gave); ``cies`` caches the CIEs
    parsed so far (shared by the calls on one section). Raises ``_PARSE_ERRORS`` on damaged bytes."""
    return _fde_at(section, pos, cies)


PARSE_ERRORS = _PARSE_ERRORS  # what damaged CFI raises: cfi_table catches these


class EhFrameHdr(Frozen):
    """``.eh_frame_hdr`` (LSB "The .eh_frame_hdr section"): a sorted table of ``(initial_location svma,
    FDE svma)`` pairs for binary search, as libunwind and libgcc use it."""

    __slots__ = ()
    _fields = ("eh_frame_svma", "starts", "fde_svmas")

    def __new__(cls, eh_frame_svma: int, starts: tuple[int, ...], fde_svmas: tuple[int, ...]):
        return tuple.__new__(cls, (eh_frame_svma, starts, fde_svmas))

    def fde_svma_for(self, svma: int) -> int | None:
        """The svma of the FDE whose range may hold ``svma`` (the caller checks the FDE's end)."""
        i = bisect_right(self.starts, svma) - 1
        return self.fde_svmas[i] if i >= 0 else None


def parse_eh_frame_hdr(data: bytes, svma: int) -> EhFrameHdr:
    """Decode ``.eh_frame_hdr`` mapped at ``svma``; table entries are datarel to its start."""
    if len(data) < 4:
        raise ReportError(".eh_frame_hdr is truncated")
    version, ptr_enc, count_enc, table_enc = _EH_HDR.unpack_from(data, 0)
    if version != 1:
        raise ReportError(f".eh_frame_hdr version {version} is not supported")
    eh_frame_svma, pos = read_encoded(data, 4, ptr_enc, svma, svma)
    if count_enc == PE_OMIT or table_enc == PE_OMIT:
        return EhFrameHdr(eh_frame_svma, (), ())
    count, pos = read_encoded(data, pos, count_enc, svma, svma)
    if table_enc == 0x3B and pos + 8 * count <= len(data):  # datarel|sdata4: the universal case, bulk
        flat = struct.unpack_from(f"<{2 * count}i", data, pos)
        return EhFrameHdr(eh_frame_svma, tuple(v + svma for v in flat[0::2]),
                          tuple(v + svma for v in flat[1::2]))
    starts: list[int] = []
    fdes: list[int] = []
    for _ in range(count):
        start, pos = read_encoded(data, pos, table_enc, svma, svma)
        fde, pos = read_encoded(data, pos, table_enc, svma, svma)
        starts.append(start)
        fdes.append(fde)
    return EhFrameHdr(eh_frame_svma, tuple(starts), tuple(fdes))
