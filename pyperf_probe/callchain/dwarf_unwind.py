"""Unwind a perf.data sample's REGS_USER + STACK_USER (``--call-graph dwarf``) into a call chain.

The glue between the session and the pure unwinder: the session gives the sample's registers and stack
copy and a ``find_map(avma)`` of the sampled thread; this module finds each mapped DSO's ELF (``--symfs``,
the path, the ``~/.debug`` build-id cache; build-ids checked), its CFI table (``cfi_table``, cached by
build-id), and the avma -> svma bias of the map, then runs ``unwind``.

The chain it returns is what perf 6.1 stores for a dwarf sample: the sampled ip, then for each caller
``pc - 1`` when ``pc`` is a return address and ``pc`` itself after a signal frame
(tools/perf/util/unwind-libunwind-local.c ``get_entries``: "Decrement the IP for any non-activation
frames", unless ``unw_is_signal_frame``; unwind-libdw.c does the same through ``dwfl_frame_pc``'s
``isactivation``). These are also the addresses to resolve symbols and inline frames at.

Memory as perf 6.1's libunwind reads it (``access_mem`` in unwind-libunwind-local.c; Debian's perf links
libunwind 1.6, not libdw, for this), which ends some chains with ``ffffffffffffffff [unknown]``:

* a word comes from the stack copy only when ``sp <= addr`` and ``addr + 8 < sp + dyn_size``: the copy's
  last word is not read from it (the unwinders get the copy less its last byte);
* any other address goes to ``access_dso_mem``: no map holds it (perf's maps include the data maps:
  ``--call-graph dwarf`` records with ``mmap_data``) -> the read fails and the chain ends; a map holds it
  -> the word of the map's file at ``map__map_ip(addr)``, and 0 when that file cannot be read there
  (``[stack]``, ``//anon``, past its end) -- which libunwind takes as a successful read (access_dso_mem
  returns 1, not a negative error);
* a return address read as 0 is a frame for libunwind (``unw_step`` returns 1), which perf stores as
  ``0 - 1`` (get_entries' decrement): the chain ends with ``0xffffffffffffffff`` (the next step finds no
  map for it). After a signal frame the 0 is stored as is and get_entries skips it.
"""
from __future__ import annotations

import functools
import mmap
import operator
import os
import struct

from ..errors import SymbolError
from ..records import Record, field
from ..perfdata.format import PERF_SAMPLE_REGS_ABI_64
from .cfa_program import NUM_REGS, REG_RIP, Row
from .cfi import CfiSection, parse_eh_frame_hdr
from .cfi_table import CfiTable, table_for
from .unwind import (DEFAULT_MAX_FRAMES, MASK64, STOP_LOOP, STOP_MAX, STOP_MEMORY, STOP_NO_CFI, STOP_NO_REGS,
                     STOP_ROOT, STOP_UNSUPPORTED, STOP_ZERO, unwind_with_reason)

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable, Sequence

# perf's default --max-stack (sysctl kernel.perf_event_max_stack = 127), which bounds its dwarf chains too.
PERF_MAX_STACK = 127

# enum perf_event_x86_regs -> DWARF register number (x86_64 psABI Figure 3.36).
_PERF_TO_DWARF = {0: 0, 3: 1, 2: 2, 1: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: REG_RIP,
                  16: 8, 17: 9, 18: 10, 19: 11, 20: 12, 21: 13, 22: 14, 23: 15}
_U64 = struct.Struct("<Q")
PT_GNU_EH_FRAME = 0x6474E550  # the program header of .eh_frame_hdr (LSB)
MEMO_PROCESSES = 256


class CodeMap:
    """What the unwinder needs of a map (a protocol, for annotations: session's ``Map`` is one):
    ``[start, end)`` avmas, ``pgoff`` (the file offset mapped at ``start``) and either ``dso`` (a session
    ``Dso``: ``long_name``, ``build_id``, ``image`` once ``svma()`` loaded it) or ``filename`` and
    ``build_id`` (lower-case hex or None)."""

    start: int
    end: int
    pgoff: int


def perf_regs_to_dwarf(mask: int, values: Sequence[int]) -> tuple[int | None, ...]:
    """REGS_USER values (one per set bit of ``sample_regs_user``, lowest bit first) indexed by DWARF
    register number; None for registers not sampled (and for all of them when the record holds fewer
    values than its mask says: a damaged record)."""
    getter, needed = _picks_for(mask)
    if len(values) < needed:
        return _NO_REGS
    return getter((*values, None))  # index -1: the None of the registers the mask leaves out


_NO_REGS = (None,) * NUM_REGS


@functools.lru_cache(maxsize=16)
def _picks_for(mask: int):
    """``(getter, values needed)`` for a ``sample_regs_user`` mask: ``getter(values + (None,))`` is the
    tuple of DWARF registers 0..16 (one C call per sample)."""
    index = [-1] * NUM_REGS
    i = 0
    for bit in range(mask.bit_length()):
        if mask >> bit & 1:
            if bit in _PERF_TO_DWARF:
                index[_PERF_TO_DWARF[bit]] = i
            i += 1
    needed = max(index) + 1
    return operator.itemgetter(*index), needed


@functools.lru_cache(maxsize=16)
def _c_indices(mask: int) -> tuple[int, int, int, int]:
    """``unwind_sample``'s register indices for a ``sample_regs_user`` mask: where ip, sp and bp are among
    the values (-1: not sampled), and the values ``perf_regs_to_dwarf`` needs."""
    index = [-1] * (max(_PERF_TO_DWARF) + 1)
    i = 0
    for bit in range(mask.bit_length()):
        if mask >> bit & 1:
            if bit < len(index):
                index[bit] = i
            i += 1
    return index[8], index[7], index[6], _picks_for(mask)[1]


def _c_unwind_sample():
    """``_speedups.unwind_sample`` (a whole sample's common frames in C), or None without the accelerator."""
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "unwind_sample", None)


_unwind_sample = _c_unwind_sample()
# unwind_sample's stop codes (see _speedups.c)
_C_STOPS = (None, STOP_ROOT, STOP_MEMORY, STOP_LOOP, STOP_ZERO, STOP_MAX, STOP_UNSUPPORTED, STOP_NO_CFI)
_C_ZERO = _C_STOPS.index(STOP_ZERO)
# unwind_sample's stop codes whose chains are perf's as they are (their STOP_*; None for the others): not
# STOP_ZERO (perf adds its 0 - 1 frame), nor the stops where a word outside the copy was wanted (the return
# address; the saved rbp a CFA needs), which perf reads through its maps (module docstring): the Python loop
# unwinds those again with that reader
_C_AS_IS = tuple(None if stop in (STOP_ZERO, STOP_MEMORY, STOP_UNSUPPORTED) else stop for stop in _C_STOPS)
PERF_ZERO_FRAME = MASK64  # a zero return address as perf stores it (0 - 1)


def perf_copy(stack) -> bytes | memoryview:
    """The part of a STACK_USER copy perf's ``access_mem`` reads words from: all but its last byte (a word
    at ``addr`` is read from the copy when ``addr + 8 < end``), without copying a memoryview."""
    return stack[:-1] if stack else b""


def stack_reader(sp: int, stack: bytes) -> Callable[[int], int | None]:
    """``read_word`` over a STACK_USER copy that starts at ``sp`` (the sampled rsp)."""
    limit = len(stack) - 8
    unpack = _U64.unpack_from

    def read_word(avma: int) -> int | None:
        offset = avma - sp
        if 0 <= offset <= limit:
            return unpack(stack, offset)[0]
        return None

    return read_word


class _Mapped(Record):
    """A map's CFI: ``row_for(svma)`` of its DSO's table, and ``bias`` (svma = avma + bias)."""

    __slots__ = ()
    _fields = ("bias", "row_for")

    def __new__(cls, bias: int, row_for: Callable[[int], Row]):
        return tuple.__new__(cls, (bias, row_for))

    bias = field(0)
    row_for = field(1)


class DwarfUnwinder:
    """Unwinds the samples of one session; caches per map (table, bias) and per DSO (by build-id).

    It is the session's unwinder hook: ``unwinder(sample, maps) -> avmas`` (``session/__init__.py``).
    """

    def __init__(self, symfs: str | None = None, max_stack: int = PERF_MAX_STACK):
        self.symfs = symfs
        self.max_stack = max_stack or DEFAULT_MAX_FRAMES
        self._maps: dict[object, _Mapped | None] = {}
        self._memos: dict[object, tuple] = {}  # Maps -> (generation, plans, lookup)
        self._last_memo: tuple = (None, None, None, None)  # (Maps, generation, plans, lookup) last used
        self._c_regs: tuple = (None,)  # (mask, ip, sp and bp indices, values needed) for unwind_sample
        # what the last sample unwound in C used, for the next one of the same process and mask (__call__'s
        # first test): (maps, generation, plans, mask, ip, sp and bp indices, values needed)
        self._fast: tuple = (None,) * 8
        self.last_stop = ""
        self._files: dict[str | None, object] = {}  # file name -> its bytes (_file_data), for perf's reads

    def _memo_for(self, maps) -> tuple:
        """``(maps, generation, plans, lookup)`` of an address space: the memos ``_new_memo`` makes, kept per
        process ``Maps`` while its ``generation`` stays (dropped all at once past ``MEMO_PROCESSES``)."""
        memo = self._memos.get(maps)
        generation = getattr(maps, "generation", None)
        if memo is None or memo[0] != generation:
            if len(self._memos) >= MEMO_PROCESSES:
                self._memos.clear()
            memo = self._memos[maps] = (generation,) + self._new_memo(maps.find)
        self._last_memo = (maps, generation) + memo[1:]
        return self._last_memo

    def __call__(self, sample, maps) -> tuple[int, ...]:
        """The session hook: a ``perfdata.sample.Sample`` with REGS_USER and STACK_USER, and the sampled
        process's ``Maps`` (``find(avma) -> Map``).

        Where the C accelerator was built, a sample whose every frame has a known plan of the common
        codes is unwound by one call (``_speedups.unwind_sample``: the steps of ``unwind_with_reason``'s
        loop, tests/test_unwind.py compares them); any other goes through the Python loop from its start,
        which also makes the plans that C call lacked."""
        regs = sample.regs_user
        fast = self._fast
        if fast[0] is maps and regs is not None and regs[1] == fast[3] and regs[0] == PERF_SAMPLE_REGS_ABI_64 \
                and maps.generation == fast[1] and len(regs[2]) >= fast[7]:
            # (the same process at the same generation and the same register mask as the last sample unwound
            # in C: the test and the call of the general path below, without its steps)
            stack = sample.stack_user  # (perf_copy's part, inline)
            got = _unwind_sample(regs[2], fast[4], fast[5], fast[6], stack[:-1] if stack else b"", fast[2],
                                 self.max_stack)
            if got is not None:
                last = _C_AS_IS[got[1]]
                if last is not None:
                    self.last_stop = last
                    return got[0]
                if got[1] == _C_ZERO:
                    self.last_stop = STOP_ZERO
                    return got[0] + (PERF_ZERO_FRAME,)
        return self._call(sample, regs, maps)

    def _call(self, sample, regs, maps) -> tuple[int, ...]:
        """``__call__`` in full."""
        if regs is None or not regs.values:
            self.last_stop = STOP_NO_REGS
            return ()
        abi, mask, values = regs
        if abi != PERF_SAMPLE_REGS_ABI_64:  # a 32-bit process: i386 CFI numbers its registers apart
            self.last_stop = STOP_UNSUPPORTED
            ip = perf_regs_to_dwarf(mask, values)[REG_RIP]
            return () if ip is None else (ip,)
        memo = self._last_memo
        if maps is not memo[0] or getattr(maps, "generation", None) != memo[1]:
            memo = self._memo_for(maps)
        stack = perf_copy(sample.stack_user)
        if _unwind_sample is not None:
            c_regs = self._c_regs
            if c_regs[0] != mask:
                c_regs = self._c_regs = (mask,) + _c_indices(mask)
            if len(values) >= c_regs[4]:
                got = _unwind_sample(values, c_regs[1], c_regs[2], c_regs[3], stack, memo[2], self.max_stack)
                if got is not None:
                    if memo[1] is not None and c_regs[4] > 0:  # (the next sample's shortcut)
                        self._fast = (maps, memo[1], memo[2]) + c_regs
                    last = _C_AS_IS[got[1]]
                    if last is not None:
                        self.last_stop = last
                        return got[0]
                    if got[1] == _C_ZERO:
                        self.last_stop = STOP_ZERO
                        return got[0] + (PERF_ZERO_FRAME,)
        return self._unwind(mask, values, stack, memo[1:], maps.find)

    def unwind(self, mask: int, values: Sequence[int], stack: bytes,
               find_map: Callable[[int], CodeMap | None]) -> tuple[int, ...]:
        """The chain of one sample (perf's addresses, see the module docstring) in the address space
        ``find_map`` describes; ``[ip]`` at least when the registers hold an ip. ``self.last_stop`` tells
        why it ended (``unwind.STOP_*``). ``stack`` is the whole STACK_USER copy (``dyn_size`` bytes)."""
        return self._unwind(mask, values, perf_copy(stack), (None,) + self._new_memo(find_map), find_map)

    def _unwind(self, mask: int, values: Sequence[int], stack, memo: tuple,
                find_map: Callable[[int], CodeMap | None]) -> tuple[int, ...]:
        """The Python loop (``unwind_with_reason``) over ``stack`` (``perf_copy``'s part of the copy), the
        other words read as perf reads them (``_perf_reader``); a zero return address ends the chain with
        perf's ``PERF_ZERO_FRAME``."""
        regs = perf_regs_to_dwarf(mask, values)
        sp = regs[7]
        if regs[REG_RIP] is None or sp is None:
            self.last_stop = STOP_NO_REGS
            return ()
        frames, self.last_stop = unwind_with_reason(regs, self._perf_reader(find_map), memo[2], self.max_stack,
                                                    stack, sp, memo[1])
        if self.last_stop == STOP_ZERO:
            frames.append(PERF_ZERO_FRAME)
        return tuple(frames)

    def _perf_reader(self, find_map: Callable[[int], CodeMap | None]) -> Callable[[int], int | None]:
        """``read_word`` for the words outside the copy, as perf's ``access_dso_mem`` reads them: None (a
        failed read) when no map holds the word (or ``addr + 8`` overflows), else the word of the map's file
        at its ``map__map_ip`` offset, 0 when the file has none there or cannot be read."""
        file_word = self._file_word

        def read_word(avma: int) -> int | None:
            if avma < 0 or avma + 8 > MASK64:
                return None
            code_map = find_map(avma)
            if code_map is None:
                return None
            return file_word(code_map, avma)

        return read_word

    def _file_word(self, code_map, avma: int) -> int:
        """The word perf's ``dso__data_read_addr`` reads at ``avma`` of ``code_map``, 0 when it reads none."""
        if getattr(code_map, "identity", False):
            return 0  # anonymous memory, [stack], [heap]: perf's dso of that name opens no file
        data = self._file_data(code_map)
        if data is None:
            return 0
        offset = avma - code_map.start + code_map.pgoff
        if offset + 8 > len(data):
            return 0
        return _U64.unpack_from(data, offset)[0]

    def _file_data(self, code_map):
        """The bytes of a map's file (the ELF image the unwinder uses, else the raw file at the path perf
        opens: the recorded path under ``--symfs``), once per file name; None when there is none."""
        dso = getattr(code_map, "dso", None)
        name = dso.long_name if dso is not None else getattr(code_map, "filename", None)
        try:
            return self._files[name]
        except KeyError:
            pass
        data = None
        try:
            image = self._image_for(code_map)
        except SymbolError:
            image = None
        if image is not None:
            data = image.data
        elif name and name.startswith("/"):
            path = os.path.join(self.symfs, name.lstrip("/")) if self.symfs else name
            try:
                with open(path, "rb") as f:
                    data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # (locale-archive: 3 MB)
            except (OSError, ValueError):  # (ValueError: an empty file)
                data = None
        self._files[name] = data
        return data

    def _new_memo(self, find_map: Callable[[int], CodeMap | None]) -> tuple:
        """``(plans, lookup)`` for an address space: ``plans`` is ``unwind_with_reason``'s pc -> rule
        memo, ``lookup`` finds the rule of a pc through the map holding it. ``__call__`` keeps them per
        process ``Maps`` while its ``generation`` (bumped by every mmap) stays, and drops them all past
        ``MEMO_PROCESSES`` address spaces (a build runs thousands of short processes: memory stays
        flat)."""
        entry_for = self._entry_for

        def lookup(avma: int) -> Row | None:  # once per distinct pc of an address space
            code_map = find_map(avma)
            if code_map is None:
                return None
            ent = entry_for(code_map)
            if ent is None:
                return None
            return ent.row_for(avma + ent.bias)

        return {}, lookup

    def _entry_for(self, code_map: CodeMap) -> _Mapped | None:
        """Table and avma -> svma bias of a map, once per map object (maps are immutable)."""
        try:
            return self._maps[code_map]
        except KeyError:
            pass
        ent = None
        image = self._image_for(code_map)
        if image is not None:
            seg = _segment_for_offset(image, code_map.pgoff)
            if seg is not None:
                table = dso_table(image, self.symfs)
                bias = seg.vaddr - seg.file_offset + code_map.pgoff - code_map.start
                ent = _Mapped(bias, table.row_for)
        self._maps[code_map] = ent
        return ent

    def _image_for(self, code_map: CodeMap):
        dso = getattr(code_map, "dso", None)
        if dso is None:
            return find_image(code_map.filename, code_map.build_id, self.symfs)  # type: ignore[attr-defined]
        dso.svma(code_map.pgoff)  # loads the file the session resolves symbols with ([vdso]: the cache)
        return dso.image or find_image(dso.long_name, dso.build_id, self.symfs)


def _segment_for_offset(image, file_offset: int):
    for seg in image.load_segments:
        if seg.file_offset <= file_offset < seg.file_offset + max(seg.filesz, 1):
            return seg
    return None


def find_image(filename: str, build_id: str | None, symfs: str | None = None):
    """The ELF image to unwind a map with: ``filename`` (under ``--symfs`` when given: never the recorded
    path itself then, as perf's ``dso__read_binary_type_filename`` joins every system path with the
    symfs), then the build-id cache (``~/.debug/.build-id/xx/rest/elf``), skipping files whose build-id
    differs from the map's."""
    from ..symbols.debuginfo import buildid_cache_dir
    from ..symbols.elf import open_elf

    if not filename.startswith("/"):
        return None  # [vdso], [heap], //anon: no file (the vdso's CFI is not in the recording)
    candidates = [os.path.join(symfs, filename.lstrip("/")) if symfs else filename]
    if build_id:
        link = os.path.join(buildid_cache_dir(), ".build-id", build_id[:2], build_id[2:])
        candidates.append(os.path.join(os.path.dirname(link), os.readlink(link), "elf")
                          if os.path.islink(link) else link + "/elf")
    for path in candidates:
        try:
            image = open_elf(path)
        except SymbolError:
            continue
        if build_id and image.build_id and image.build_id != build_id:
            continue
        return image
    return None


def dso_table(image, symfs: str | None = None) -> CfiTable:
    """The CFI table of an ELF image: ``.eh_frame`` plus ``.debug_frame`` of the image and of its separate
    debug file; indexed once per build-id, each FDE compiled when first hit (memory and disk cache). The
    cache key says whether a debug file's ``.debug_frame`` went in, so installing the debug file later
    indexes the table again."""
    debug_frames = _debug_frames(image, symfs)

    def sections() -> list[CfiSection | None]:
        """Read when the table is built, or when it compiles an FDE its disk copy lacks."""
        return [_eh_frame(image)] + [CfiSection(bytes(img.section_bytes(".debug_frame")), 0, False)
                                     for _, img in debug_frames]

    key = image.build_id
    if key and any(separate for separate, _ in debug_frames):
        key += ".debug"
    return table_for(key, sections)


def _eh_frame(image) -> CfiSection | None:
    """``.eh_frame`` by its section header, else through ``PT_GNU_EH_FRAME`` (an image without section
    headers, as libgcc's and libunwind's runtime lookups find it): the segment is ``.eh_frame_hdr``, whose
    ``eh_frame_ptr`` gives the start of ``.eh_frame``; its zero terminator gives the end."""
    shdr = image.section(".eh_frame")
    if shdr is not None:
        data = image.section_bytes(shdr)
        return CfiSection(bytes(data), shdr.svma, True) if data else None
    for p_type, _flags, file_offset, svma, filesz, _memsz in image.program_headers:
        if p_type == PT_GNU_EH_FRAME:
            hdr = parse_eh_frame_hdr(bytes(image.data[file_offset:file_offset + filesz]), svma)
            seg = image.segment_for_svma(hdr.eh_frame_svma)
            if seg is None:
                return None
            start = hdr.eh_frame_svma - seg.vaddr + seg.file_offset
            return CfiSection(bytes(image.data[start:seg.file_offset + seg.filesz]), hdr.eh_frame_svma, True)
    return None


def _debug_frames(image, symfs: str | None) -> list[tuple[bool, object]]:
    """``(is the separate debug file, ElfImage)`` for the image and its debug file (symbols.debuginfo's
    search: debuglink, build-id directories, ``~/.debug``) when they have a ``.debug_frame``."""
    from ..symbols.debuginfo import find_debug_file
    from ..symbols.elf import open_elf

    images = [(False, image)]
    try:
        debug_path = find_debug_file(image, symfs)
        if debug_path:
            images.append((True, open_elf(debug_path)))
    except SymbolError:
        pass
    out = []
    for separate, img in images:
        shdr = img.section(".debug_frame")
        if shdr is not None and shdr.size:
            out.append((separate, img))
    return out
