"""The BPF_PROG_INFO and BPF_BTF feature sections: the BPF programs loaded while perf recorded, and their BTF.

Layouts (tools/perf/util/header.c, perf 6.1):

* BPF_PROG_INFO (``write_bpf_prog_info``/``process_bpf_prog_info``): u32 count, then per program a
  ``struct perf_bpil`` (util/bpf-utils.h): u32 info_len, u32 data_len, u64 arrays (a bit per array
  fetched), info_len bytes of the kernel's ``struct bpf_prog_info`` (include/uapi/linux/bpf.h), data_len
  bytes of the arrays it points at. Before writing, perf turns each array pointer into an offset into the
  data (``bpil_addr_to_offs``). perf refuses an info_len above its own ``sizeof(struct bpf_prog_info)``
  (232 bytes in 6.1: "detected invalid bpf_prog_info") and zero-fills a shorter one.
* BPF_BTF (``write_bpf_btf``/``process_bpf_btf``): u32 count, then per BTF object u32 id, u32 data_size and
  the raw BTF (``btf__get_raw_data``).

Both go into perf's env as rb-trees keyed by id, which keep the first of two nodes with one id
(``perf_env__insert_bpf_prog_info``, ``perf_env__insert_btf``): ``read_prog_infos``/``read_btfs`` do the
same, and the programs come out by id, the order ``print_bpf_prog_info`` walks them in.
"""
from __future__ import annotations

import struct

from pyperf_probe.perfdata.frozen import Frozen

# sizeof(struct bpf_prog_info) in perf 6.1's uapi header (its last field, attach_btf_id, ends at 228)
PROG_INFO_SIZE = 232
_HEAD = struct.Struct("<IIQ")  # struct perf_bpil: info_len, data_len, arrays
_U32 = struct.Struct("<I")
# struct bpf_prog_info fields used (offsets in include/uapi/linux/bpf.h)
_ID = struct.Struct("<4xI")                     # id at 4
_KSYMS = struct.Struct("<104xIIQQ")             # nr_jited_ksyms, nr_jited_func_lens, jited_ksyms, jited_func_lens
_FUNC_INFO = struct.Struct("<128xIIQI")         # btf_id, func_info_rec_size, func_info, nr_func_info
_TAGS = struct.Struct("<180xIQ")                # nr_prog_tags, prog_tags (u8[8] each)
BPF_TAG_SIZE = 8


class ProgInfo(Frozen):
    """One program's info, its arrays read out of the data: ``ksyms`` (jited_ksyms: each sub-program's
    address), ``func_lens`` (jited_func_lens), ``tags`` (prog_tags: 8 bytes each), ``func_type_ids``
    (func_info records' type_id, the BTF FUNC of each sub-program; empty without func info). A Frozen
    record, not a dataclass: ``report --header`` prints these, and importing dataclasses (inspect, re, enum)
    was ~10 ms of it, a fifth of a whole report of a DWARF file."""

    __slots__ = ()
    _fields = ("id", "name", "btf_id", "nr_jited_ksyms", "nr_jited_func_lens", "nr_prog_tags", "ksyms",
               "func_lens", "tags", "func_type_ids")

    def __new__(cls, id: int, name: str, btf_id: int, nr_jited_ksyms: int, nr_jited_func_lens: int,
                nr_prog_tags: int, ksyms: tuple[int, ...], func_lens: tuple[int, ...], tags: tuple[bytes, ...],
                func_type_ids: tuple[int, ...]):
        return tuple.__new__(cls, (id, name, btf_id, nr_jited_ksyms, nr_jited_func_lens, nr_prog_tags, ksyms,
                                   func_lens, tags, func_type_ids))


def _array(data: bytes, offset: int, count: int, fmt: str) -> tuple:
    """``count`` items of ``fmt`` at ``offset`` of the data, () where they are not all inside it."""
    size = struct.calcsize(fmt)
    if count <= 0 or offset < 0 or offset + count * size > len(data):
        return ()
    return struct.unpack_from("<%d%s" % (count, fmt), data, offset)


def _prog_info(info: bytes, data: bytes) -> ProgInfo:
    info = info + bytes(PROG_INFO_SIZE - len(info))  # perf zero-fills a shorter info
    (prog_id,) = _ID.unpack_from(info)
    n_ksyms, n_lens, ksyms_at, lens_at = _KSYMS.unpack_from(info)
    btf_id, rec_size, func_info_at, n_func_info = _FUNC_INFO.unpack_from(info)
    n_tags, tags_at = _TAGS.unpack_from(info)
    name = info[64:80].split(b"\0", 1)[0].decode("utf-8", "replace")
    tags = tuple(data[tags_at + i * BPF_TAG_SIZE:tags_at + (i + 1) * BPF_TAG_SIZE] for i in range(n_tags)
                 if 0 <= tags_at and tags_at + (i + 1) * BPF_TAG_SIZE <= len(data))
    type_ids: tuple[int, ...] = ()
    if rec_size >= 8 and n_func_info and func_info_at + n_func_info * rec_size <= len(data):
        # struct bpf_func_info {u32 insn_off; u32 type_id;}, func_info_rec_size bytes apart
        type_ids = tuple(_U32.unpack_from(data, func_info_at + i * rec_size + 4)[0] for i in range(n_func_info))
    return ProgInfo(prog_id, name, btf_id, n_ksyms, n_lens, n_tags, _array(data, ksyms_at, n_ksyms, "Q"),
                    _array(data, lens_at, n_lens, "I"), tags, type_ids)


def read_prog_infos(raw: bytes) -> list[ProgInfo]:
    """The BPF_PROG_INFO section's programs by id (the first of a repeated id); a section perf would refuse
    (an info longer than its struct, a truncated record) gives the programs before the bad one, as perf
    keeps those it inserted before it stops."""
    if len(raw) < 4:
        return []
    (count,) = _U32.unpack_from(raw)
    at, found = 4, {}
    for _ in range(count):
        if at + _HEAD.size > len(raw):
            break
        info_len, data_len, _arrays = _HEAD.unpack_from(raw, at)
        at += _HEAD.size
        if info_len > PROG_INFO_SIZE or at + info_len + data_len > len(raw):
            break
        prog = _prog_info(raw[at:at + info_len], raw[at + info_len:at + info_len + data_len])
        at += info_len + data_len
        found.setdefault(prog.id, prog)
    return [found[k] for k in sorted(found)]


def read_btfs(raw: bytes | None) -> dict[int, bytes]:
    """The BPF_BTF section: BTF id -> raw BTF (the first of a repeated id)."""
    out: dict[int, bytes] = {}
    if not raw or len(raw) < 4:
        return out
    (count,) = _U32.unpack_from(raw)
    at = 4
    for _ in range(count):
        if at + 8 > len(raw):
            break
        btf_id, size = struct.unpack_from("<II", raw, at)
        at += 8
        if at + size > len(raw):
            break
        out.setdefault(btf_id, raw[at:at + size])
        at += size
    return out
