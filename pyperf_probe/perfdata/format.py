"""The fixed parts of perf.data (PERFILE2): file header, attr entries, record header, the enums, and the
struct formats of the fixed-size record bodies.

Both directions use this module: ``perfdata.reader`` decodes with it and ``perfdata.writer`` encodes with it.
Layouts follow ``tools/perf/util/header.h`` (``struct perf_file_header``), ``include/uapi/linux/perf_event.h``
(``struct perf_event_attr``, ``enum perf_event_type``) and the project reference, perf-formats.md §1.
Everything is little-endian (x86_64 is the only host this project records on; a byte-swapped magic is
refused by the reader).

The enums are classes of plain int constants (``SampleType.TIME`` is the int 4), not ``enum`` members:
``import enum`` and building five enum classes cost ``pyperf report`` ~3 ms of start-up (bench/report),
and every use of them here is C-like bit arithmetic (an IntFlag's ``~`` would even keep only the known
bits). ``name_of(value)`` gives a constant's name for messages, ``members()`` all of them. The structs
are :class:`perfdata.frozen.Frozen` records, for the same reason.
"""
from __future__ import annotations

import struct

from pyperf_probe.perfdata.frozen import Frozen

MAGIC = b"PERFILE2"
MAGIC_SWAPPED = b"2ELIFREP"

# Record-header misc bits (perf_event.h)
MISC_CPUMODE_MASK = 0x7
MISC_KERNEL = 1
MISC_USER = 2
MISC_HYPERVISOR = 3
MISC_MMAP_DATA = 0x2000  # on MMAP/MMAP2
MISC_COMM_EXEC = 0x2000  # on COMM
MISC_MMAP_BUILD_ID = 0x4000  # on MMAP2
MISC_BUILD_ID_SIZE = 0x8000  # on BUILD_ID feature records

# Callchain context markers (PERF_CONTEXT_*): entries >= PERF_CONTEXT_MAX are not frames.
PERF_CONTEXT_HV = 0xFFFFFFFFFFFFFFE0
PERF_CONTEXT_KERNEL = 0xFFFFFFFFFFFFFF80
PERF_CONTEXT_USER = 0xFFFFFFFFFFFFFE00
PERF_CONTEXT_GUEST = 0xFFFFFFFFFFFFF800
PERF_CONTEXT_GUEST_KERNEL = 0xFFFFFFFFFFFFF780
PERF_CONTEXT_GUEST_USER = 0xFFFFFFFFFFFFF600
PERF_CONTEXT_MAX = 0xFFFFFFFFFFFFF001

PERF_SAMPLE_REGS_ABI_NONE = 0
PERF_SAMPLE_REGS_ABI_64 = 2


class Constants:
    """A namespace of int constants standing in for an ``enum``: the UPPER_CASE class attributes."""

    __slots__ = ()

    @classmethod
    def members(cls) -> dict[str, int]:
        """Name -> value, in definition order (an enum's ``__members__``)."""
        return {name: value for name, value in vars(cls).items() if name.isupper()}

    @classmethod
    def name_of(cls, value: int) -> str | None:
        """The name of the constant equal to ``value`` (an enum's ``Enum(value).name``), None if none is."""
        for name, const in vars(cls).items():
            if const == value and name.isupper():
                return name
        return None


class AttrType(Constants):
    """``enum perf_type_id``."""

    HARDWARE = 0
    SOFTWARE = 1
    TRACEPOINT = 2
    HW_CACHE = 3
    RAW = 4
    BREAKPOINT = 5


class SampleType(Constants):
    """``enum perf_event_sample_format`` (PERF_SAMPLE_*)."""

    IP = 1 << 0
    TID = 1 << 1
    TIME = 1 << 2
    ADDR = 1 << 3
    READ = 1 << 4
    CALLCHAIN = 1 << 5
    ID = 1 << 6
    CPU = 1 << 7
    PERIOD = 1 << 8
    STREAM_ID = 1 << 9
    RAW = 1 << 10
    BRANCH_STACK = 1 << 11
    REGS_USER = 1 << 12
    STACK_USER = 1 << 13
    WEIGHT = 1 << 14
    DATA_SRC = 1 << 15
    IDENTIFIER = 1 << 16
    TRANSACTION = 1 << 17
    REGS_INTR = 1 << 18
    PHYS_ADDR = 1 << 19
    AUX = 1 << 20
    CGROUP = 1 << 21
    DATA_PAGE_SIZE = 1 << 22
    CODE_PAGE_SIZE = 1 << 23
    WEIGHT_STRUCT = 1 << 24


class ReadFormat(Constants):
    """``enum perf_event_read_format``."""

    TOTAL_TIME_ENABLED = 1 << 0
    TOTAL_TIME_RUNNING = 1 << 1
    ID = 1 << 2
    GROUP = 1 << 3
    LOST = 1 << 4


class AttrFlag(Constants):
    """The bitfield word at offset 40 of ``struct perf_event_attr``, bit by bit."""

    DISABLED = 1 << 0
    INHERIT = 1 << 1
    PINNED = 1 << 2
    EXCLUSIVE = 1 << 3
    EXCLUDE_USER = 1 << 4
    EXCLUDE_KERNEL = 1 << 5
    EXCLUDE_HV = 1 << 6
    EXCLUDE_IDLE = 1 << 7
    MMAP = 1 << 8
    COMM = 1 << 9
    FREQ = 1 << 10
    INHERIT_STAT = 1 << 11
    ENABLE_ON_EXEC = 1 << 12
    TASK = 1 << 13
    WATERMARK = 1 << 14
    PRECISE_IP_LO = 1 << 15
    PRECISE_IP_HI = 1 << 16
    MMAP_DATA = 1 << 17
    SAMPLE_ID_ALL = 1 << 18
    EXCLUDE_HOST = 1 << 19
    EXCLUDE_GUEST = 1 << 20
    EXCLUDE_CALLCHAIN_KERNEL = 1 << 21
    EXCLUDE_CALLCHAIN_USER = 1 << 22
    MMAP2 = 1 << 23
    COMM_EXEC = 1 << 24
    USE_CLOCKID = 1 << 25
    CONTEXT_SWITCH = 1 << 26
    WRITE_BACKWARD = 1 << 27
    NAMESPACES = 1 << 28
    KSYMBOL = 1 << 29
    BPF_EVENT = 1 << 30


class RecordType(Constants):
    """``enum perf_event_type`` (kernel records) and ``enum perf_user_event_type`` (perf's own, >= 64)."""

    MMAP = 1
    LOST = 2
    COMM = 3
    EXIT = 4
    THROTTLE = 5
    UNTHROTTLE = 6
    FORK = 7
    READ = 8
    SAMPLE = 9
    MMAP2 = 10
    AUX = 11
    ITRACE_START = 12
    LOST_SAMPLES = 13
    SWITCH = 14
    SWITCH_CPU_WIDE = 15
    NAMESPACES = 16
    KSYMBOL = 17
    BPF_EVENT = 18
    CGROUP = 19
    TEXT_POKE = 20
    AUX_OUTPUT_HW_ID = 21
    HEADER_ATTR = 64
    HEADER_EVENT_TYPE = 65
    HEADER_TRACING_DATA = 66
    HEADER_BUILD_ID = 67
    FINISHED_ROUND = 68
    ID_INDEX = 69
    AUXTRACE_INFO = 70
    AUXTRACE = 71
    AUXTRACE_ERROR = 72
    THREAD_MAP = 73
    CPU_MAP = 74
    STAT_CONFIG = 75
    STAT = 76
    STAT_ROUND = 77
    EVENT_UPDATE = 78
    TIME_CONV = 79
    HEADER_FEATURE = 80
    COMPRESSED = 81
    FINISHED_INIT = 82


class Feature(Constants):
    """``HEADER_*`` feature bits of the file header's bitmap (tools/perf/util/header.h)."""

    TRACING_DATA = 1
    BUILD_ID = 2
    HOSTNAME = 3
    OSRELEASE = 4
    VERSION = 5
    ARCH = 6
    NRCPUS = 7
    CPUDESC = 8
    CPUID = 9
    TOTAL_MEM = 10
    CMDLINE = 11
    EVENT_DESC = 12
    CPU_TOPOLOGY = 13
    NUMA_TOPOLOGY = 14
    BRANCH_STACK = 15
    PMU_MAPPINGS = 16
    GROUP_DESC = 17
    AUXTRACE = 18
    STAT = 19
    CACHE = 20
    SAMPLE_TIME = 21
    MEM_TOPOLOGY = 22
    CLOCKID = 23
    DIR_FORMAT = 24
    BPF_PROG_INFO = 25
    BPF_BTF = 26
    COMPRESSED = 27
    CPU_PMU_CAPS = 28
    CLOCK_DATA = 29
    HYBRID_TOPOLOGY = 30
    PMU_CAPS = 31


class FileSection(Frozen):
    """``struct perf_file_section {u64 offset; u64 size;}``."""

    __slots__ = ()
    _fields = ("offset", "size")
    STRUCT = struct.Struct("<QQ")

    def __new__(cls, offset: int, size: int):
        return tuple.__new__(cls, (offset, size))

    def pack(self) -> bytes:
        return self.STRUCT.pack(*self)

    @classmethod
    def unpack_from(cls, buf, offset: int = 0) -> FileSection:
        return tuple.__new__(cls, cls.STRUCT.unpack_from(buf, offset))


NO_SECTION = FileSection(0, 0)


class FileHeader(Frozen):
    """``struct perf_file_header`` (104 bytes): magic, size, attr_size, attrs, data, event_types, and the
    256-bit feature bitmap (``adds_features``), kept here as one int, bit N = feature N."""

    __slots__ = ()
    _fields = ("attr_size", "attrs", "data", "features", "size", "event_types")
    STRUCT = struct.Struct("<8sQQ16s16s16s32s")

    def __new__(cls, attr_size: int, attrs: FileSection, data: FileSection, features: int, size: int = 104,
                event_types: FileSection = NO_SECTION):
        return tuple.__new__(cls, (attr_size, attrs, data, features, size, event_types))

    def pack(self) -> bytes:
        return self.STRUCT.pack(MAGIC, self.size, self.attr_size, self.attrs.pack(), self.data.pack(),
                                self.event_types.pack(), self.features.to_bytes(32, "little"))

    @classmethod
    def unpack_from(cls, buf, offset: int = 0) -> FileHeader:
        """Decode; the caller has checked the magic (and refused a byte-swapped one)."""
        _magic, size, attr_size, attrs, data, evt, feat = cls.STRUCT.unpack_from(buf, offset)
        return cls(attr_size=attr_size, attrs=FileSection.unpack_from(attrs), data=FileSection.unpack_from(data),
                   features=int.from_bytes(feat, "little"), size=size, event_types=FileSection.unpack_from(evt))

    def has_feature(self, feature: int) -> bool:
        return bool(self.features >> feature & 1)


class EventAttr(Frozen):
    """``struct perf_event_attr`` up to PERF_ATTR_SIZE_VER8 (136 bytes; perf 6.1 writes 128).

    ``flags`` is the bitfield word at offset 40 (``AttrFlag``). ``wakeup`` is the union
    wakeup_events/wakeup_watermark, ``config1``/``config2`` the unions with bp_addr/bp_len etc.
    ``sample_period`` is the union with sample_freq (AttrFlag.FREQ).
    """

    __slots__ = ()
    _fields = ("type", "config", "sample_period", "sample_type", "read_format", "flags", "wakeup", "bp_type",
               "config1", "config2", "branch_sample_type", "sample_regs_user", "sample_stack_user", "clockid",
               "sample_regs_intr", "aux_watermark", "sample_max_stack", "aux_sample_size", "sig_data",
               "config3", "size")
    # type u32, size u32, config, sample_period, sample_type, read_format, flags (u64 each), wakeup u32,
    # bp_type u32, config1, config2, branch_sample_type, sample_regs_user (u64), sample_stack_user u32,
    # clockid s32, sample_regs_intr u64, aux_watermark u32, sample_max_stack u16, __reserved_2 u16,
    # aux_sample_size u32, __reserved_3 u32, sig_data u64, config3 u64
    STRUCT = struct.Struct("<IIQQQQQIIQQQQIiQIHHIIQQ")
    SIZE_VER0 = 64

    def __new__(cls, type: int, config: int = 0, sample_period: int = 1, sample_type: int = 0,
                read_format: int = 0, flags: int = 0, wakeup: int = 0, bp_type: int = 0, config1: int = 0,
                config2: int = 0, branch_sample_type: int = 0, sample_regs_user: int = 0,
                sample_stack_user: int = 0, clockid: int = 0, sample_regs_intr: int = 0, aux_watermark: int = 0,
                sample_max_stack: int = 0, aux_sample_size: int = 0, sig_data: int = 0, config3: int = 0,
                size: int = 128):
        return tuple.__new__(cls, (type, config, sample_period, sample_type, read_format, flags, wakeup, bp_type,
                                   config1, config2, branch_sample_type, sample_regs_user, sample_stack_user,
                                   clockid, sample_regs_intr, aux_watermark, sample_max_stack, aux_sample_size,
                                   sig_data, config3, size))

    def pack(self, size: int = 0) -> bytes:
        """Encode as ``size`` bytes (default ``self.size``); the size field says the same."""
        size = size or self.size
        raw = self.STRUCT.pack(self.type, size, self.config, self.sample_period, self.sample_type,
                               self.read_format, self.flags, self.wakeup, self.bp_type, self.config1,
                               self.config2, self.branch_sample_type, self.sample_regs_user,
                               self.sample_stack_user, self.clockid, self.sample_regs_intr, self.aux_watermark,
                               self.sample_max_stack, 0, self.aux_sample_size, 0, self.sig_data, self.config3)
        return raw[:size].ljust(size, b"\0")

    @classmethod
    def unpack_from(cls, buf, offset: int = 0, size: int = 0) -> EventAttr:
        """Decode ``size`` bytes (default: the size field); a short (older) attr is zero-filled,
        a longer (newer) one is cut, as perf's read_attr() does."""
        size = size or U32.unpack_from(buf, offset + 4)[0]
        raw = bytes(buf[offset:offset + min(size, cls.STRUCT.size)]).ljust(cls.STRUCT.size, b"\0")
        f = cls.STRUCT.unpack(raw)
        return tuple.__new__(cls, (f[0], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12],
                                   f[13], f[14], f[15], f[16], f[17], f[19], f[21], f[22], f[1]))

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


class EventHeader(Frozen):
    """``struct perf_event_header {u32 type; u16 misc; u16 size;}``; size counts the header."""

    __slots__ = ()
    _fields = ("type", "misc", "size")
    STRUCT = struct.Struct("<IHH")

    def __new__(cls, type: int, misc: int, size: int):
        return tuple.__new__(cls, (type, misc, size))

    def pack(self) -> bytes:
        return self.STRUCT.pack(*self)


# Fixed-size heads of record bodies (after the 8-byte header); variable tails noted beside each.
MMAP_HEAD = struct.Struct("<iiQQQ")  # pid, tid, addr, len, pgoff; then filename NUL-padded to 8, sample_id
MMAP2_HEAD = struct.Struct("<iiQQQIIQQII")  # ..., maj, min, ino, ino_generation, prot, flags; filename, sample_id
MMAP2_BUILD_ID_HEAD = struct.Struct("<iiQQQB3x20sII")  # misc & MMAP_BUILD_ID: build_id_size, build_id[20]
COMM_HEAD = struct.Struct("<ii")  # pid, tid; then comm NUL-padded to 8, sample_id
FORK_EXIT = struct.Struct("<IIIIQ")  # pid, ppid, tid, ptid, time; sample_id
LOST = struct.Struct("<QQ")  # id, lost; sample_id
LOST_SAMPLES = struct.Struct("<Q")  # lost; sample_id
KSYMBOL_HEAD = struct.Struct("<QIHH")  # addr, len, ksym_type, flags; then name NUL-padded to 8, sample_id
ID_INDEX_ENTRY = struct.Struct("<QQQQ")  # id, idx, cpu, tid (after u64 nr)
BUILD_ID_RECORD_HEAD = struct.Struct("<IHHi20sB3x")  # header, pid, build_id[20], size; then filename (64-padded)
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")


def sample_id_fields(sample_type: int) -> tuple[str, ...]:
    """The ``sample_id`` trailer's fields, in order, for ``sample_type`` (perf_event.h, 'struct sample_id').

    IDENTIFIER comes last here, unlike in a SAMPLE where it comes first.
    """
    fields = []
    if sample_type & SampleType.TID:
        fields += ["pid", "tid"]
    if sample_type & SampleType.TIME:
        fields.append("time")
    if sample_type & SampleType.ID:
        fields.append("id")
    if sample_type & SampleType.STREAM_ID:
        fields.append("stream_id")
    if sample_type & SampleType.CPU:
        fields += ["cpu", "res"]
    if sample_type & SampleType.IDENTIFIER:
        fields.append("identifier")
    return tuple(fields)


def sample_id_struct(sample_type: int) -> struct.Struct:
    """The trailer's struct: u32 for pid/tid/cpu/res, u64 for the rest."""
    codes = {"pid": "I", "tid": "I", "cpu": "I", "res": "I"}
    return struct.Struct("<" + "".join(codes.get(f, "Q") for f in sample_id_fields(sample_type)))


def align(n: int, to: int = 8) -> int:
    return (n + to - 1) & ~(to - 1)
