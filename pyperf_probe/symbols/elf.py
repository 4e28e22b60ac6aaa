"""ELF images: the file header, program headers (PT_LOAD), section headers, notes, ``.gnu_debuglink``.

Read a table at a time with ``os.pread`` (System V gABI, "ELF Header", "Program Header", "Sections"; the
note layout of "Note Section"); the whole file is mapped (``mmap``) only for a caller that asks for it
(``ElfImage.data``). Nothing here imports pyelftools: ``pyperf probe -F`` and the address lookups of
``report`` pay only for the headers and sections they read (``-F`` not even for importing mmap).

``open_elf(path)`` is cached per (device, inode, size, mtime), so every layer shares one ``ElfImage`` per file.
"""
from __future__ import annotations

import os
import stat
import sys
from itertools import repeat
from pyperf_probe.errors import SymbolError
from pyperf_probe.records import Record, field

ELF_MAGIC = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2

ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
PT_LOAD, PT_NOTE = 1, 4
PF_X, PF_W, PF_R = 1, 2, 4
SHT_SYMTAB, SHT_NOTE, SHT_NOBITS, SHT_DYNSYM = 2, 7, 8, 11
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
SHN_UNDEF = 0
SHN_XINDEX = 0xFFFF
NT_GNU_BUILD_ID = 3
EM_X86_64, EM_386, EM_AARCH64, EM_ARM = 62, 3, 183, 40


class ElfHeader(Record):
    """``Elf32_Ehdr`` / ``Elf64_Ehdr`` (after ``e_ident``).

    A light record (records.py), not a frozen dataclass: ``pyperf probe -F`` cannot pay dataclasses' import
    at start-up (measured, bench/probe_funcs)."""

    __slots__ = ()
    _fields = ("elf_class", "endian", "e_type", "e_machine", "e_entry", "e_phoff", "e_shoff", "e_phentsize",
               "e_phnum", "e_shentsize", "e_shnum", "e_shstrndx")

    def __new__(cls, elf_class: int, endian: str, e_type: int, e_machine: int, e_entry: int, e_phoff: int,
                e_shoff: int, e_phentsize: int, e_phnum: int, e_shentsize: int, e_shnum: int, e_shstrndx: int):
        return tuple.__new__(cls, (elf_class, endian, e_type, e_machine, e_entry, e_phoff, e_shoff, e_phentsize,
                                   e_phnum, e_shentsize, e_shnum, e_shstrndx))

    elf_class = field(0, "ELFCLASS32 or ELFCLASS64 (e_ident[EI_CLASS])")
    endian = field(1, "'<' or '>': the struct byte-order prefix of e_ident[EI_DATA]")
    e_type = field(2)
    e_machine = field(3)
    e_entry = field(4)
    e_phoff = field(5)
    e_shoff = field(6)
    e_phentsize = field(7)
    e_phnum = field(8)
    e_shentsize = field(9)
    e_shnum = field(10)
    e_shstrndx = field(11)

    # e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize, e_phentsize, e_phnum,
    # e_shentsize, e_shnum, e_shstrndx
    FORMAT = {ELFCLASS32: "HHIIIIIHHHHHH", ELFCLASS64: "HHIQQQIHHHHHH"}


class LoadSegment(Record):
    """A ``PT_LOAD`` entry of ``Elf64_Phdr``: where file bytes land in the image's address space.
    (A light record, as ElfHeader.)"""

    __slots__ = ()
    _fields = ("vaddr", "file_offset", "filesz", "memsz", "flags")

    def __new__(cls, vaddr: int, file_offset: int, filesz: int, memsz: int, flags: int):
        return tuple.__new__(cls, (vaddr, file_offset, filesz, memsz, flags))

    vaddr = field(0, "p_vaddr (an svma)")
    file_offset = field(1, "p_offset")
    filesz = field(2, "p_filesz")
    memsz = field(3, "p_memsz")
    flags = field(4, "p_flags (PF_X | PF_W | PF_R)")

    # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align (64-bit order)
    FORMAT64 = "IIQQQQQQ"
    # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align (32-bit order)
    FORMAT32 = "IIIIIIII"

    def contains_svma(self, svma: int) -> bool:
        """perf's ``elf_read_program_header``: vaddr <= svma < vaddr + max(memsz, filesz)."""
        return self[0] <= svma < self[0] + max(self[3], self[2])


class SectionHeader(Record):
    """``Elf64_Shdr`` / ``Elf32_Shdr`` with its name resolved from ``.shstrtab``. (A light record, as
    ElfHeader: an image has dozens of sections and ``-F`` opens up to three images.)"""

    __slots__ = ()
    _fields = ("index", "name", "sh_type", "flags", "svma", "file_offset", "size", "link", "info", "addralign",
               "entsize")

    def __new__(cls, index: int, name: str, sh_type: int, flags: int, svma: int, file_offset: int, size: int,
                link: int, info: int, addralign: int, entsize: int):
        return tuple.__new__(cls, (index, name, sh_type, flags, svma, file_offset, size, link, info, addralign,
                                   entsize))

    index = field(0, "the section's index in the section header table")
    name = field(1, "sh_name, resolved")
    sh_type = field(2)
    flags = field(3, "sh_flags")
    svma = field(4, "sh_addr")
    file_offset = field(5, "sh_offset")
    size = field(6, "sh_size")
    link = field(7, "sh_link")
    info = field(8, "sh_info")
    addralign = field(9, "sh_addralign")
    entsize = field(10, "sh_entsize")

    # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign, sh_entsize
    FORMAT = {ELFCLASS32: "IIIIIIIIII", ELFCLASS64: "IIQQQQIIQQ"}


class ElfImage:
    """One ELF file, read-only. Build with :func:`open_elf` (cached).

    ``data`` is the image's bytes (any buffer: bytes, an mmap), or None with ``file``, the open file, of
    ``size`` bytes: its headers and sections are then read with ``os.pread``, and the file is mapped only
    when :attr:`data` is first asked for."""

    def __init__(self, path: str, data, header: ElfHeader, file=None, size: int | None = None):
        self.path = path
        self._data = data
        self._file = file
        self._size = len(data) if size is None else size
        self.header = header
        self.elf_type = header.e_type
        self.machine = header.e_machine
        self.is_64 = header.elf_class == ELFCLASS64
        self.endian = header.endian
        self.program_headers = _read_program_headers(path, self.read, self._size, header)
        self.load_segments: tuple[LoadSegment, ...] = tuple(
            LoadSegment(vaddr, off, filesz, memsz, flags)
            for p_type, flags, off, vaddr, filesz, memsz in self.program_headers if p_type == PT_LOAD)
        self.sections: tuple[SectionHeader, ...] = _read_section_headers(path, self.read, self._size, header)
        self._by_name: dict[str, SectionHeader] = {}
        for shdr in self.sections:
            self._by_name.setdefault(shdr.name, shdr)
        self._build_id: str | None = None
        self._build_id_done = False

    def __repr__(self) -> str:
        return f"ElfImage({self.path!r})"

    @property
    def data(self):
        """The whole file (an mmap, made on first use; slice it, or wrap it in a memoryview)."""
        if self._data is None:
            import mmap
            self._data = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        return self._data

    def read(self, file_offset: int, size: int) -> bytes:
        """``size`` bytes of the file from ``file_offset`` (fewer where the file ends)."""
        if self._data is not None:
            return self._data[file_offset:file_offset + size]
        return _pread(self._file.fileno(), size, file_offset)

    def section(self, name: str) -> SectionHeader | None:
        return self._by_name.get(name)

    def section_by_index(self, index: int) -> SectionHeader | None:
        return self.sections[index] if 0 <= index < len(self.sections) else None

    def section_buffer(self, shdr) -> bytes | MappedSection:
        """``section_bytes``, or for a section of MAPPED_SECTION bytes or more in a file this image reads
        with pread, a :class:`MappedSection` of it (the symbol tables' large sections: symbols.symtab)."""
        if (self._data is None and shdr is not None and shdr.sh_type != SHT_NOBITS and shdr.size >= MAPPED_SECTION
                and shdr.file_offset + shdr.size <= self._size):
            try:
                return MappedSection(self._file.fileno(), shdr.file_offset, shdr.size)
            except (OSError, ValueError):
                pass
        return self.section_bytes(shdr)

    def section_bytes(self, name_or_shdr) -> bytes:
        """The file bytes of a section (empty for SHT_NOBITS or a missing section)."""
        shdr = self.section(name_or_shdr) if isinstance(name_or_shdr, str) else name_or_shdr
        if shdr is None or shdr.sh_type == SHT_NOBITS:
            return b""
        if shdr.file_offset + shdr.size > self._size:
            raise SymbolError(f"{self.path}: section {shdr.name} runs past the end of the file (truncated?)")
        return self.read(shdr.file_offset, shdr.size)

    @property
    def build_id(self) -> str | None:
        """NT_GNU_BUILD_ID as lower-case hex, from PT_NOTE segments or SHT_NOTE sections."""
        if not self._build_id_done:
            self._build_id = self._find_build_id()
            self._build_id_done = True
        return self._build_id

    def _find_build_id(self) -> str | None:
        areas = [(off, filesz) for p_type, _f, off, _v, filesz, _m in self.program_headers if p_type == PT_NOTE]
        areas += [(s.file_offset, s.size) for s in self.sections if s.sh_type == SHT_NOTE]
        for off, size in areas:
            for n_type, name, desc in iter_notes(self.read(off, size), self.endian):
                if n_type == NT_GNU_BUILD_ID and name == b"GNU":
                    return desc.hex()
        return None

    @property
    def debuglink(self) -> tuple[str, int] | None:
        """``.gnu_debuglink``: (file name, CRC32 of the debug file), or None."""
        raw = self.section_bytes(".gnu_debuglink")
        nul = raw.find(b"\0")
        if nul <= 0:
            return None
        crc_at = (nul + 4) & ~3
        if crc_at + 4 > len(raw):
            return None
        crc = int.from_bytes(raw[crc_at:crc_at + 4], _ORDER[self.endian])
        return raw[:nul].decode("utf-8", "replace"), crc

    def segment_for_svma(self, svma: int) -> LoadSegment | None:
        for seg in self.load_segments:
            if seg.contains_svma(svma):
                return seg
        return None

    def svma_to_file_offset(self, svma: int) -> int | None:
        """File offset of an ELF address, through the first PT_LOAD holding it (perf's
        ``elf_read_program_header``; perf-formats.md §4.1). None when no segment holds it."""
        seg = self.segment_for_svma(svma)
        return None if seg is None else svma - seg.vaddr + seg.file_offset

    def file_offset_to_svma(self, file_offset: int) -> int | None:
        """The ELF address that a file offset is loaded at (the inverse, for the first PT_LOAD holding it)."""
        for seg in self.load_segments:
            if seg.file_offset <= file_offset < seg.file_offset + max(seg.filesz, 1):
                return file_offset - seg.file_offset + seg.vaddr
        return None

    def file_offset_to_svma_past(self, file_offset: int) -> int | None:
        """The ELF address of a file offset that no PT_LOAD's file bytes hold (the rest of a segment's last
        page, its .bss, the space before the next segment), through the PT_LOAD that starts last at or
        before it. perf 6.1 keeps user symbols at file offsets (``dso__load_sym``: st_value less p_vaddr -
        p_offset of the PT_LOAD holding it by max(p_memsz, p_filesz)) and looks a map-relative address up
        there whether or not a segment's file bytes hold it: the last symbol before such an offset (a
        zero-size one runs to the next symbol) still answers."""
        best = None
        for seg in self.load_segments:
            if seg.file_offset <= file_offset and (best is None or seg.file_offset >= best.file_offset):
                best = seg
        return None if best is None else file_offset - best.file_offset + best.vaddr

    def read_at_svma(self, svma: int, size: int) -> bytes:
        """Bytes of the file that are loaded at ``svma`` (code for the disassembler)."""
        file_offset = self.svma_to_file_offset(svma)
        if file_offset is None:
            return b""
        return self.read(file_offset, size)


MAPPED_SECTION = 64 * 1024  # (ElfImage.section_buffer: smaller sections are read, in one pread)


class MappedSection:
    """The bytes of one section through a private read-only mapping of its file's pages, mapped in one call
    (MAP_POPULATE), not copied (``ElfImage.section_buffer``). The symbol tables' large sections are read whole
    once (symtab_keep, the PLT's names) or at a few offsets (names looked up one by one): a copy took a fresh
    page of memory for every 4 KiB (cc1's .dynsym and .dynstr: ~490 pages, ~3 us each on the VMs the benches
    run on), where mapping pages the page cache holds takes ~0.25 us each. The mapping goes with this object.

    The part of ``bytes`` symbols.symtab uses: ``len``, ``find``, an index (an int), a slice (bytes), ``view``
    (a memoryview of the section, for the C accelerator) and ``tobytes``."""

    __slots__ = ("_map", "_base", "_end", "view")

    def __init__(self, fileno: int, file_offset: int, size: int):
        import mmap
        start = file_offset - file_offset % mmap.ALLOCATIONGRANULARITY
        self._map = mmap.mmap(fileno, file_offset + size - start, flags=mmap.MAP_PRIVATE | mmap.MAP_POPULATE,
                              prot=mmap.PROT_READ, offset=start)
        self._base, self._end = file_offset - start, file_offset - start + size
        self.view = memoryview(self._map)[self._base:self._end]

    def __len__(self) -> int:
        return self._end - self._base

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        base = self._base
        got = self._map.find(sub, base + max(start, 0), self._end if end is None else base + min(end, len(self)))
        return got - base if got >= 0 else -1

    def __getitem__(self, key):
        if type(key) is slice:
            start, stop, step = key.indices(len(self))
            if step != 1:
                return self.tobytes()[key]
            return self._map[self._base + start:self._base + max(stop, start)]
        if key < 0:
            key += len(self)
        if not 0 <= key < len(self):
            raise IndexError("section index out of range")
        return self._map[self._base + key]

    def tobytes(self) -> bytes:
        return self._map[self._base:self._end]


def _pread(fd: int, size: int, offset: int) -> bytes:
    """``os.pread`` until ``size`` bytes or the end of the file (one call for any section below 2 GiB)."""
    data = os.pread(fd, size, offset) if size > 0 else b""
    while 0 < len(data) < size:
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            break
        data += more
    return data


def iter_notes(raw: bytes, endian: str = "<"):
    """(n_type, name, desc) of each ``Elf_Nhdr`` record (namesz, descsz, type; both padded to 4)."""
    pos, end, order = 0, len(raw), _ORDER[endian]
    while pos + 12 <= end:
        namesz, descsz, n_type = (int.from_bytes(raw[at:at + 4], order) for at in (pos, pos + 4, pos + 8))
        name_at = pos + 12
        desc_at = name_at + ((namesz + 3) & ~3)
        nxt = desc_at + ((descsz + 3) & ~3)
        if nxt > end:
            return
        yield n_type, bytes(raw[name_at:name_at + namesz]).rstrip(b"\0"), bytes(raw[desc_at:desc_at + descsz])
        pos = nxt


def notes_build_id(path: str) -> str | None:
    """NT_GNU_BUILD_ID of a file that holds bare notes, as perf's ``sysfs__read_build_id`` reads
    /sys/kernel/notes and /sys/module/NAME/notes/.note.gnu.build-id; None when unreadable or absent."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    for n_type, name, desc in iter_notes(raw):
        if n_type == NT_GNU_BUILD_ID and name == b"GNU":
            return desc.hex()
    return None


_ORDER = {"<": "little", ">": "big"}
_NATIVE = "<" if sys.byteorder == "little" else ">"
_WIDTH = {"B": 1, "H": 2, "I": 4, "Q": 8}


def _size(fmt: str) -> int:
    """``struct.calcsize`` of a standard-size format ('<' or '>' then BHIQ codes)."""
    return sum(_WIDTH[code] for code in fmt[1:])


def unpack_table(fmt: str, data, offset: int, count: int, stride: int) -> list[tuple]:
    """``struct.unpack_from(fmt, data, offset + i * stride)`` for each of ``count`` entries, as a list of
    tuples. In the host's byte order each field is read for all entries at once (a strided memoryview
    cast), which also spares ``pyperf probe -F`` the import of ``struct``; other files go through
    ``struct``. ``fmt``: '<' or '>', then B/H/I/Q codes (the gABI structs need no padding)."""
    table = data[offset:offset + count * stride]
    widths = [_WIDTH[code] for code in fmt[1:]]
    at = [sum(widths[:i]) for i in range(len(widths))]
    if fmt[0] != _NATIVE or any((stride | pos) % width for pos, width in zip(at, widths)):
        import struct
        return [struct.unpack_from(fmt, table, i * stride) for i in range(count)]
    view = memoryview(table)
    columns = [view.cast(code)[pos // width::stride // width] for code, pos, width in zip(fmt[1:], at, widths)]
    return list(zip(*columns))


def _parse_header(path: str, data) -> ElfHeader:
    if len(data) < 16 or data[:4] != ELF_MAGIC:
        raise SymbolError(f"{path} is not an ELF file")
    elf_class, elf_data = data[4], data[5]
    if elf_class not in (ELFCLASS32, ELFCLASS64) or elf_data not in (ELFDATA2LSB, ELFDATA2MSB):
        raise SymbolError(f"{path}: unsupported ELF class {elf_class} / data encoding {elf_data}")
    endian = "<" if elf_data == ELFDATA2LSB else ">"
    fmt = endian + ElfHeader.FORMAT[elf_class]
    if len(data) < 16 + _size(fmt):
        raise SymbolError(f"{path}: truncated ELF header")
    (e_type, e_machine, _ver, e_entry, e_phoff, e_shoff, _flags, _ehsize, e_phentsize, e_phnum,
     e_shentsize, e_shnum, e_shstrndx) = unpack_table(fmt, data, 16, 1, _size(fmt))[0]
    return ElfHeader(elf_class, endian, e_type, e_machine, e_entry, e_phoff, e_shoff, e_phentsize, e_phnum,
                     e_shentsize, e_shnum, e_shstrndx)


def _read_program_headers(path: str, read, file_size: int, hdr: ElfHeader
                          ) -> list[tuple[int, int, int, int, int, int]]:
    """(p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz) of every program header (``read(offset,
    size)`` reads the file)."""
    if hdr.e_phnum == 0:
        return []
    is64 = hdr.elf_class == ELFCLASS64
    fmt = hdr.endian + (LoadSegment.FORMAT64 if is64 else LoadSegment.FORMAT32)
    table_size = hdr.e_phnum * hdr.e_phentsize
    if hdr.e_phentsize < _size(fmt) or hdr.e_phoff + table_size > file_size:
        raise SymbolError(f"{path}: truncated ELF file (program headers past the end)")
    out = []
    for f in unpack_table(fmt, read(hdr.e_phoff, table_size), 0, hdr.e_phnum, hdr.e_phentsize):
        if is64:
            p_type, p_flags, off, vaddr, _paddr, filesz, memsz, _align = f
        else:
            p_type, off, vaddr, _paddr, filesz, memsz, p_flags, _align = f
        out.append((p_type, p_flags, off, vaddr, filesz, memsz))
    return out


def _read_section_headers(path: str, read, file_size: int, hdr: ElfHeader) -> tuple[SectionHeader, ...]:
    """Every section header, its name resolved (``read(offset, size)`` reads the file)."""
    if hdr.e_shoff == 0:
        return ()
    fmt = hdr.endian + SectionHeader.FORMAT[hdr.elf_class]
    shnum, shstrndx = hdr.e_shnum, hdr.e_shstrndx
    if hdr.e_shoff + _size(fmt) > file_size:
        raise SymbolError(f"{path}: truncated ELF file (section headers past the end)")
    if shnum == 0 or shstrndx == SHN_XINDEX:
        first = unpack_table(fmt, read(hdr.e_shoff, _size(fmt)), 0, 1, _size(fmt))[0]
        if shnum == 0:          # gABI: the real count is in section 0's sh_size when >= SHN_LORESERVE
            shnum = first[5]
        if shstrndx == SHN_XINDEX:
            shstrndx = first[6]
    if hdr.e_shoff + shnum * hdr.e_shentsize > file_size or (shnum and hdr.e_shentsize < _size(fmt)):
        raise SymbolError(f"{path}: truncated ELF file (section headers past the end)")
    raw = unpack_table(fmt, read(hdr.e_shoff, shnum * hdr.e_shentsize), 0, shnum, hdr.e_shentsize)
    strtab = b""
    if 0 < shstrndx < shnum:
        s = raw[shstrndx]
        strtab = read(s[4], s[5])
    if not raw:
        return ()
    columns = list(zip(*raw))
    names = _section_names(strtab, columns[0])
    # SectionHeader(index, name, sh_type, ...) for every row, the tuples made and typed in C
    return tuple(map(tuple.__new__, repeat(SectionHeader), zip(range(shnum), names, *columns[1:])))


def _section_names(strtab: bytes, offsets) -> list[str]:
    """The NUL-terminated names at ``offsets`` in ``.shstrtab``: "" for an offset past the table or a name
    with no NUL after it, undecodable bytes replaced."""
    if strtab.endswith(b"\0") and strtab.isascii() and max(offsets) < len(strtab):
        text = strtab.decode("ascii")
        index = text.index
        return [text[o:index("\0", o)] for o in offsets]
    out = []
    for sh_name in offsets:
        end = strtab.find(b"\0", sh_name) if sh_name < len(strtab) else -1
        out.append(strtab[sh_name:end].decode("utf-8", "replace") if end >= 0 else "")
    return out


_CACHE: dict[tuple[int, int, int, int], ElfImage] = {}


def open_elf(path: str) -> ElfImage:
    """The :class:`ElfImage` of ``path``; a :class:`SymbolError` with a clear message when the file is
    missing, unreadable, not ELF or truncated. Cached per file identity (device, inode, size, mtime)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SymbolError(f"{path}: No such file or directory", errno=2) from None
    except OSError as exc:
        raise SymbolError(f"{path}: {exc.strerror}", errno=exc.errno) from None
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)      # no realpath: a syscall per path part
    image = _CACHE.get(key)
    if image is None:
        file = _open_file(path, st)
        try:
            image = ElfImage(path, None, _parse_header(path, _pread(file.fileno(), 64, 0)), file, st.st_size)
        except BaseException:
            file.close()
            raise
        _CACHE[key] = image
    return image


def _open_file(path: str, st: os.stat_result):
    """The file, open for reading (unbuffered: it is read with pread), once it is known to be a
    non-empty regular file."""
    if not stat.S_ISREG(st.st_mode):
        raise SymbolError(f"{path} is not a regular file")
    if st.st_size == 0:
        raise SymbolError(f"{path} is not an ELF file (empty)")
    try:
        return open(path, "rb", buffering=0)
    except PermissionError:
        raise SymbolError(f"{path}: Permission denied", errno=13) from None
    except OSError as exc:
        raise SymbolError(f"{path}: {exc.strerror}", errno=exc.errno) from None
