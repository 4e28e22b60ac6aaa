"""BTF, the BPF Type Format (Documentation/bpf/btf.rst, include/uapi/linux/btf.h): enough of it to name a
type by id, which is what perf needs from a program's BTF (``synthesize_bpf_prog_name``: the FUNC type of
each sub-program's func_info record names it).

Layout: ``struct btf_header`` {u16 magic 0xeB9F, u8 version, u8 flags, u32 hdr_len, u32 type_off, u32
type_len, u32 str_off, u32 str_len}; the type and string sections start hdr_len bytes in, at their offsets.
Types are numbered from 1 in section order (0 is void); each is a ``struct btf_type`` {u32 name_off, u32
info (vlen in bits 0-15, kind in bits 24-28), u32 size/type} and the kind's trailing data (``_TRAILING``).

Written here rather than through libbpf (``btf__new``, ``btf__type_by_id``, ``btf__name_by_offset``):
Debian's libbpf is not among the packages pyperf needs, and walking the type section is thirty lines.
"""
from __future__ import annotations

import struct

BTF_MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")


def _trailing(kind: int, vlen: int) -> int | None:
    """Bytes after a ``struct btf_type`` of ``kind`` with ``vlen`` items (btf.rst §2.2), None for an
    unknown kind (libbpf refuses the object then)."""
    if kind in (2, 7, 8, 9, 10, 11, 12, 16, 18):  # PTR FWD TYPEDEF VOLATILE CONST RESTRICT FUNC FLOAT TYPE_TAG
        return 0
    if kind in (1, 14, 17):                         # INT: u32 encoding; VAR: u32 linkage; DECL_TAG: u32
        return 4
    if kind == 3:                                   # ARRAY: struct btf_array
        return 12
    if kind in (4, 5, 15, 19):                      # STRUCT UNION: btf_member; DATASEC: var_secinfo; ENUM64
        return 12 * vlen
    if kind in (6, 13):                             # ENUM: btf_enum; FUNC_PROTO: btf_param
        return 8 * vlen
    return None


class Btf:
    """A parsed BTF object: ``name_of(type_id)``. ``Btf.parse(raw)`` is None for bytes libbpf's
    ``btf__new`` would refuse (bad magic, sections outside the data, an unknown kind)."""

    __slots__ = ("_strings", "_name_offs")

    def __init__(self, strings: bytes, name_offs: list[int]):
        self._strings = strings
        self._name_offs = name_offs  # per type id, from 1 (index 0: void)

    @classmethod
    def parse(cls, raw: bytes) -> "Btf | None":
        if len(raw) < _HEADER.size:
            return None
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(raw)
        if magic != BTF_MAGIC or hdr_len < _HEADER.size:
            return None
        types_at, strings_at = hdr_len + type_off, hdr_len + str_off
        if types_at + type_len > len(raw) or strings_at + str_len > len(raw):
            return None
        strings = raw[strings_at:strings_at + str_len]
        name_offs = [0]
        at, end = types_at, types_at + type_len
        while at < end:
            if at + _TYPE.size > end:
                return None
            name_off, info, _size = _TYPE.unpack_from(raw, at)
            more = _trailing((info >> 24) & 0x1F, info & 0xFFFF)
            if more is None:
                return None
            name_offs.append(name_off)
            at += _TYPE.size + more
        return cls(strings, name_offs)

    def __len__(self) -> int:
        """The number of types, void included (``btf__type_cnt``)."""
        return len(self._name_offs)

    def name_of(self, type_id: int) -> str | None:
        """``btf__name_by_offset(btf, btf__type_by_id(btf, type_id)->name_off)``: None for an id past the
        last type or a name outside the string section."""
        if not 0 <= type_id < len(self._name_offs):
            return None
        off = self._name_offs[type_id]
        if off >= len(self._strings):
            return None
        end = self._strings.find(b"\0", off)
        return self._strings[off:end if end >= 0 else len(self._strings)].decode("utf-8", "replace")
