"""SDT markers: the ``.note.stapsdt`` notes of ``<sys/sdt.h>`` and their uprobe definitions.

A marker (``DTRACE_PROBE1(tick, loop2, i)``) compiles to a ``nop`` and one ELF note in the non-allocated
section ``.note.stapsdt`` (owner ``stapsdt``, type 3; sys/sdt.h ``_SDT_ASM_BODY``; systemtap wiki
"UserSpaceProbeImplementation")::

    Elf_Addr pc;          address of the nop (svma, as linked)
    Elf_Addr base;        address of the .stapsdt.base section, as linked (detects prelink)
    Elf_Addr semaphore;   address of the unsigned short reference counter, or 0
    char provider[];      "tick\\0"
    char name[];          "loop2\\0"
    char args[];          "-4@-4(%rbp)\\0"   (space-separated SIZE@OPERAND, gas syntax)

The uprobe wants file offsets. As perf does (tools/perf/util/symbol-elf.c ``sdt_adjust_loc`` and
``sdt_adjust_refctr``), the pc is moved by the distance between the note's ``base`` and the file offset of
``.stapsdt.base``, and the semaphore by the distance between ``.probes``' address and its file offset. When a
file lacks those sections, the PT_LOAD segment holding the address is used (perf would pass the address on
unchanged, which the kernel would take as an offset).

The argument conversion is perf's (tools/perf/util/probe-file.c ``synthesize_sdt_probe_arg``,
tools/perf/arch/x86/util/perf_regs.c ``arch_sdt_arg_parse_op``): ``-4@%eax`` -> ``arg1=%ax:s32``,
``8@-16(%rbp)`` -> ``arg1=-16(%bp):u64``; constants (``-4@$5``), indexed and symbolic operands are skipped,
and later arguments keep their position number.
"""
from __future__ import annotations

import dataclasses
import re
import struct
from typing import List, Optional, Tuple

from pyperf_probe.errors import SymbolError

SDT_NOTE_SECTION = ".note.stapsdt"
SDT_BASE_SECTION = ".stapsdt.base"
SDT_PROBES_SECTION = ".probes"
SDT_NOTE_NAME = b"stapsdt"
SDT_NOTE_TYPE = 3
SHT_NOTE = 7
SHF_ALLOC = 0x2
# pc, base, semaphore: three Elf64_Addr (or Elf32_Addr), in the file's byte order; by ElfImage.is_64
SDT_ADDRS_FORMAT = {True: "3Q", False: "3I"}


@dataclasses.dataclass(frozen=True)
class SdtNote:
    """One ``stapsdt`` note: three ``Elf_Addr`` (pc, base, semaphore) then provider, name and argument
    strings. ``pc_file_offset`` and ``semaphore_file_offset`` are what ``uprobe_events`` takes
    (``PATH:0xPC(0xSEMAPHORE)``); ``semaphore_file_offset`` is 0 for a marker without semaphore."""

    provider: str
    name: str
    pc: int                      # svma of the nop
    base: int                    # svma of .stapsdt.base as the note states it
    semaphore: int               # svma of the reference counter, 0 if none
    args: Optional[str]          # "-4@-4(%rbp) 8@%rax", None when the marker has no argument
    pc_file_offset: int
    semaphore_file_offset: int

    @property
    def group(self) -> str:
        """perf's event group for the marker: ``sdt_`` + provider."""
        return f"sdt_{self.provider}"

    @property
    def arg_list(self) -> List[str]:
        return self.args.split() if self.args else []


def read_sdt_notes(image) -> Tuple[SdtNote, ...]:
    """The SDT notes of an ELF image (``symbols.elf.ElfImage``), in file order; () when there are none.

    As perf's ``construct_sdt_notes_list``: only a SHT_NOTE ``.note.stapsdt`` without SHF_ALLOC counts.
    """
    from pyperf_probe.symbols.elf import iter_notes

    shdr = image.section(SDT_NOTE_SECTION)
    if shdr is None or shdr.sh_type != SHT_NOTE or shdr.flags & SHF_ALLOC:
        return ()
    adjust = _Adjuster(image)
    addrs = struct.Struct(image.endian + SDT_ADDRS_FORMAT[image.is_64])
    notes = []
    for n_type, name, desc in iter_notes(image.section_bytes(shdr), image.endian):
        if name != SDT_NOTE_NAME:
            continue
        if n_type != SDT_NOTE_TYPE:
            break           # perf stops at the first stapsdt note of another type
        note = _parse_desc(image.path, desc, addrs, adjust)
        if note is not None:
            notes.append(note)
    return tuple(notes)


def _parse_desc(path: str, desc: bytes, addrs: struct.Struct, adjust: "_Adjuster") -> Optional[SdtNote]:
    """One note's descriptor (perf's ``populate_sdt_note``); None for a descriptor too short to hold one."""
    if len(desc) < addrs.size + 3:
        return None
    pc, base, semaphore = addrs.unpack_from(desc, 0)
    strings = desc[addrs.size:].split(b"\0")
    if len(strings) < 2:
        raise SymbolError(f"{path}: malformed SDT note (no marker name after provider {strings[0]!r})")
    provider, name = strings[0].decode("utf-8", "replace"), strings[1].decode("utf-8", "replace")
    args = strings[2].decode("utf-8", "replace") if len(strings) > 2 else ""
    if not args or args.startswith(":"):
        args = None
    return SdtNote(provider, name, pc, base, semaphore, args,
                   adjust.pc_to_file_offset(pc, base), adjust.semaphore_to_file_offset(semaphore))


class _Adjuster:
    """svma -> file offset for marker addresses and semaphores, perf's way (see the module docstring)."""

    def __init__(self, image):
        self._image = image
        base = image.section(SDT_BASE_SECTION)
        probes = image.section(SDT_PROBES_SECTION)
        self._base_file_offset = base.file_offset if base is not None else 0
        self._probes_delta = probes.svma - probes.file_offset if probes is not None else None

    def pc_to_file_offset(self, pc: int, base: int) -> int:
        if self._base_file_offset:
            return pc + self._base_file_offset - base
        return self._by_segment(pc)

    def semaphore_to_file_offset(self, semaphore: int) -> int:
        if not semaphore:
            return 0
        if self._probes_delta is not None:
            return semaphore - self._probes_delta
        return self._by_segment(semaphore)

    def _by_segment(self, svma: int) -> int:
        file_offset = self._image.svma_to_file_offset(svma)
        return svma if file_offset is None else file_offset


# --- arguments -------------------------------------------------------------------------------------------

# perf's type_to_suffix[], indexed by SIZE + 8: -8 -> s64 ... 8 -> u64; other sizes give no type.
_TYPE_SUFFIX = {-8: ":s64", -4: ":s32", -2: ":s16", -1: ":s8", 1: ":u8", 2: ":u16", 4: ":u32", 8: ":u64"}

# arch/x86/util/perf_regs.c SDT_OP_REGEX: [+-]NUM(%REG) with sign, number and parentheses optional.
_OP = re.compile(r"([+\-]?)([0-9]*)(\(?)(%[a-z][a-z0-9]+)(\)?)\Z")
_REG_NAME_MAX = 6           # SDT_REG_NAME_SIZE: longer register names are skipped

# gas register -> uprobe register (sdt_reg_tbl[]), searched in order with perf's prefix comparison
_X86_REGS = (
    ("%eax", "%ax"), ("%rax", "%ax"), ("%al", "%ax"), ("%ah", "%ax"),
    ("%ebx", "%bx"), ("%rbx", "%bx"), ("%bl", "%bx"), ("%bh", "%bx"),
    ("%ecx", "%cx"), ("%rcx", "%cx"), ("%cl", "%cx"), ("%ch", "%cx"),
    ("%edx", "%dx"), ("%rdx", "%dx"), ("%dl", "%dx"), ("%dh", "%dx"),
    ("%esi", "%si"), ("%rsi", "%si"), ("%sil", "%si"),
    ("%edi", "%di"), ("%rdi", "%di"), ("%dil", "%di"),
    ("%ebp", "%bp"), ("%rbp", "%bp"), ("%bpl", "%bp"),
    ("%rsp", "%sp"), ("%esp", "%sp"), ("%spl", "%sp"),
) + tuple((f"%r{n}{w}", f"%r{n}") for n in range(8, 16) for w in "bwd")


def _rename_register(reg: str) -> str:
    """perf's ``sdt_rename_register``: the first table name that ``reg`` is a prefix of
    (``strncmp(sdt_name, reg, strlen(reg))``), else the register unchanged."""
    for sdt_name, uprobe_name in _X86_REGS:
        if sdt_name.startswith(reg):
            return uprobe_name
    return reg


def convert_operand(op: str) -> Optional[str]:
    """An SDT operand in uprobe fetch-arg syntax, or None when perf skips it (constants ``$5``, indexed
    ``(%rax,%rsi,8)``, symbolic ``var(%rip)``, register names over 6 characters)."""
    if "," in op or "$" in op:
        return None
    m = _OP.match(op)
    if m is None or len(m.group(4)) > _REG_NAME_MAX:
        return None
    sign, number, lparen, reg, rparen = m.groups()
    prefix = ""
    if lparen:
        prefix = sign if sign else ("+" if number else "+0")
    return f"{prefix}{number}{lparen}{_rename_register(reg)}{rparen}"


def convert_arg(position: int, arg: str) -> Optional[str]:
    """``arg{position}=FETCHARG:TYPE`` for one ``SIZE@OPERAND`` (SIZE optional), or None if perf skips it.

    A size outside -8..8 is an error (perf then drops the whole marker from its cache)."""
    size_text, at, op = arg.partition("@")
    suffix = ""
    if at:
        size = _c_strtol(size_text)
        if not -8 <= size <= 8:
            raise SymbolError(f"Failed to get a valid sdt type: {arg!r}")
        suffix = _TYPE_SUFFIX.get(size, "")
    else:
        op = arg
    fetch = convert_operand(op)
    return None if fetch is None else f"arg{position}={fetch}{suffix}"


def _c_strtol(text: str) -> int:
    """``strtol(text, NULL, 10)``: the leading decimal integer, 0 when there is none."""
    m = re.match(r"\s*([+\-]?\d+)", text)
    return int(m.group(1)) if m else 0


def probe_command(note: SdtNote, path: str) -> str:
    """The ``uprobe_events`` line perf caches for a marker (``synthesize_sdt_probe_command``):
    ``p:sdt_PROVIDER/NAME PATH:0xPC[(0xSEMAPHORE)] arg1=... arg2=...``."""
    line = f"p:{note.group}/{note.name} {path}:{note.pc_file_offset:#x}"
    if note.semaphore_file_offset:
        line += f"({note.semaphore_file_offset:#x})"
    for i, arg in enumerate(note.arg_list):
        fetch = convert_arg(i + 1, arg)
        if fetch is not None:
            line += " " + fetch
    return line
