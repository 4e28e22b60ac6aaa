"""DWARF for ``pyperf probe`` and ``pyperf report``: functions by name, variables at an address, source
lines, inline frames. One :class:`DwarfInfo` per debug file, cached by build-id.

It answers what perf's probe-finder.c answers with libdw, in perf's order and with perf's messages, while
parsing only the compilation units a question needs (see units.py): ``pyperf probe -V -x libc.so.6
malloc`` reads one of libc's 4,000 units.

The interface (probe/ and session/ use these names):

* ``DwarfInfo.open(path, symfs=None, symbols=None)`` -> DwarfInfo | None
* ``function_sites(name, file=None, no_inlines=False, warn=None, for_vars=False)`` -> [FunctionSite]
* ``line_sites(function=None, file=None, line=0, lazy=None)`` -> [FunctionSite] (FUNC:RLN, SRC:ALN, ;PTN)
* ``resolve_args(sites, [(expr, cast)], svmas=None, warn=None)`` -> [[ResolvedArg]] per site (perf's
  $params expansion and \\deade12d filling); ``resolve_variable(site | svma, expr, cast=None, svma=None)``
  -> (fetcharg, type) for one variable; ``params_at(site, svma=None)``
* ``variables_at(site | svma, externs=False, svma=None, ranges=False)`` -> VariableList (-V; text by
  probe/show.py ``format_vars``)
* ``trace_point(site, svma=None)`` -> (function, offset) as perf names a probe point (``@<f+off>``)
* ``probe_point_at(svma)`` -> ProbePoint (perf's reverse lookup: -l display, symbol-table retries)
* ``line_range(function=None, file=None, start=0, end=None)`` (alias ``lines_of``) -> LineRange | None
  (-L; text by probe/show.py ``lines_text`` / ``format_line_range``)
* ``inline_frames(svma)`` -> [names] innermost first, as perf report gets them from addr2line
"""
from __future__ import annotations

import bisect
import errno as E
import functools
import os
import struct

from pyperf_probe import lazylog as log
from pyperf_probe.errors import ProbeError, SymbolError
from pyperf_probe.symbols.dwarf import dies as D

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable, Sequence

class _Lazy:
    """A module imported on its first attribute access, then bound in this module's globals in its place:
    report's inline frames use none of probe's modules (scope, vars, funcs, lines, unit) nor the
    dataclasses they are made of (~25 ms of imports in a cold report)."""

    def __init__(self, alias: str, name: str):
        self._alias, self._name = alias, name

    def __getattr__(self, attr: str):
        import importlib
        module = importlib.import_module(self._name)
        globals()[self._alias] = module
        return getattr(module, attr)


S = _Lazy("S", "pyperf_probe.symbols.dwarf.scope")
V = _Lazy("V", "pyperf_probe.symbols.dwarf.vars")
F = _Lazy("F", "pyperf_probe.symbols.dwarf.funcs")
L = _Lazy("L", "pyperf_probe.symbols.dwarf.lines")
U = _Lazy("U", "pyperf_probe.symbols.dwarf.unit")
P = _Lazy("P", "pyperf_probe.symbols.dwarf.points")
_INTERFACE = {"MAGIC_NUM": "S", "ResolvedArg": "S", "FunctionSite": "F", "ProbePoint": "P", "VariableList": "P"}


def __getattr__(name: str):
    """The names this module's interface has always offered (``from ...info import VariableList``),
    imported when asked for (PEP 562)."""
    if name in _INTERFACE:
        return getattr(globals()[_INTERFACE[name]], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PARAMS = "$params"
OFFLINE_REDZONE = 0x10000  # elfutils libdwfl/offline.c: where dwfl_report_offline places the first module
VARS = "$vars"
Where = "FunctionSite | int"  # (an alias for annotations, which are never evaluated)


class TracePointError(ProbeError):
    """perf cannot name the probe point of a concrete function ("Failed to find symbol at 0x...")."""


# The sections every DwarfInfo reads at once (its unit index); pyelftools' get_dwarf_info reads (and
# decompresses) all the others too, which an inline-frame lookup mostly never touches: libc's debug file
# spends ~14 of its ~55 ms of zlib on .debug_line and .debug_loclists alone.
_READ_AT_ONCE = frozenset({".debug_info", ".debug_abbrev", ".debug_str", ".zdebug_info", ".zdebug_abbrev",
                           ".zdebug_str"})


class _SectionStream:
    """A debug section's stream, read (and decompressed) when first used: the BytesIO that pyelftools'
    ``_read_dwarf_section`` makes, behind the same methods."""

    __slots__ = ("_read", "_stream")

    def __init__(self, read: Callable):
        self._read, self._stream = read, None

    def __getattr__(self, name: str):
        stream = self._stream
        if stream is None:
            stream = self._stream = self._read().stream
        return getattr(stream, name)


def _dwarf_info(elffile):
    """``elffile.get_dwarf_info(relocate_dwarf_sections=False)``, with the sections other than
    ``_READ_AT_ONCE`` read when first used. Their descriptors (size: the decompressed size from the
    section's header, offsets, address) are what pyelftools makes; only the reading waits."""
    from elftools.dwarf.dwarfinfo import DebugSectionDescriptor
    read = elffile._read_dwarf_section

    def read_later(section, relocate: bool):
        if section.name in _READ_AT_ONCE:
            return read(section, relocate)
        return DebugSectionDescriptor(stream=_SectionStream(lambda: read(section, relocate)), name=section.name,
                                      global_offset=section["sh_offset"], size=section.data_size,
                                      address=section["sh_addr"])

    elffile._read_dwarf_section = read_later
    try:
        return elffile.get_dwarf_info(relocate_dwarf_sections=False)
    finally:
        del elffile._read_dwarf_section


_SHF_COMPRESSED = 0x800
_ELFCOMPRESS_ZLIB = 1
_CHDR64 = (24, "<IIQQ")   # Elf64_Chdr: ch_type, ch_reserved, ch_size, ch_addralign


class _RawSections:
    """Debug sections' bytes read by pyperf's ELF reader (symbols.elf), SHF_COMPRESSED zlib sections
    inflated: the bytes pyelftools' ``_read_dwarf_section`` gives (relocate_dwarf_sections=False) for
    a 64-bit little-endian file. ``of`` gives None (pyelftools then reads them) for any other file, GNU
    ``.zdebug_*`` sections, or another compression."""

    def __init__(self, image):
        self._image = image
        self._read: dict[str, bytes] = {}  # each section inflated once (the unit index and the scanner share)

    @classmethod
    def of(cls, image) -> "_RawSections" | None:
        if image is None or not image.is_64 or image.endian != "<":
            return None
        for shdr in image.sections:
            if shdr.name.startswith(".zdebug"):
                return None
            if shdr.name.startswith(".debug") and shdr.flags & _SHF_COMPRESSED:
                (ch_type,) = struct.unpack("<I", image.read(shdr.file_offset, 4))
                if ch_type != _ELFCOMPRESS_ZLIB:
                    return None
        return cls(image)

    def has(self, name: str) -> bool:
        return self._image.section(name) is not None

    def read(self, name: str) -> bytes:
        """The section's (inflated) bytes, b"" without it."""
        data = self._read.get(name)
        if data is None:
            data = self._read[name] = self._inflated(name)
        return data

    def _inflated(self, name: str) -> bytes:
        shdr = self._image.section(name)
        if shdr is None:
            return b""
        data = self._image.section_bytes(shdr)
        if shdr.flags & _SHF_COMPRESSED and data:
            size, fmt = _CHDR64
            _type, _reserved, ch_size, _align = struct.unpack_from(fmt, data)
            data = inflate(data, size, ch_size)
            if len(data) != ch_size:
                raise ValueError(f"{self._image.path}: {name} inflates to {len(data)} bytes, not {ch_size}")
        return bytes(data)


def py_inflate(data, offset: int, size: int) -> bytes:
    """The zlib stream at ``data[offset:]`` inflated (``size``: what the section header says it holds)."""
    import zlib
    return zlib.decompress(data[offset:])


def inflate(data, offset: int, size: int) -> bytes:
    """``py_inflate`` by libdeflate (``_speedups.inflate_zlib``: 2-3x faster, libc's .debug_info 41 -> 17 ms)
    when it is built and libdeflate is installed and the stream inflates to ``size`` bytes; else zlib (which
    gives the same bytes, or its error)."""
    fast = _C_INFLATE
    got = fast(data, offset, size) if fast is not None else None
    return got if got is not None else py_inflate(data, offset, size)


def _c_inflate():
    from pyperf_probe.perfdata.speedups import speedups
    return getattr(speedups, "inflate_zlib", None)


_C_INFLATE = _c_inflate()  # (tests set None: the zlib path)


class _PyelftoolsSections:
    """The same reads through pyelftools' DWARFInfo (a file ``_RawSections`` does not read)."""

    _ATTRS = {".debug_info": "debug_info_sec", ".debug_str": "debug_str_sec", ".debug_abbrev": "debug_abbrev_sec",
              ".debug_aranges": "debug_aranges_sec", ".debug_ranges": "debug_ranges_sec",
              ".debug_rnglists": "debug_rnglists_sec"}

    def __init__(self, owner: "DwarfInfo"):
        self._owner = owner

    def has(self, name: str) -> bool:
        return self._owner._elffile.get_section_by_name(name) is not None

    def read(self, name: str) -> bytes:
        sec = getattr(self._owner.dwarfinfo, self._ATTRS[name])
        return bytes(sec.stream.getbuffer()) if sec is not None else b""


class DwarfInfo:
    """The DWARF of one ELF file (the file itself or its separate debug file)."""

    _by_build_id: dict[tuple[str, str], "DwarfInfo"] = {}

    def __init__(self, path: str, elffile, build_id: str | None):
        """``elffile``: the pyelftools ELFFile, or a factory of it (``open.ElfOpener``, as ``open`` passes):
        then the sections that inline frames read come from pyperf's own ELF reader (``_RawSections``) and
        pyelftools is imported only for what needs it (probe's questions, a unit the scanner cannot read)."""
        from pyperf_probe.symbols.dwarf.units import UnitIndex
        self.path = path
        self.build_id = build_id
        self._elffile_of = elffile if callable(elffile) else (lambda: elffile)
        raw = _RawSections.of(getattr(elffile, "image", None))
        self._raw = raw if raw is not None else _PyelftoolsSections(self)
        info = self._raw.read(".debug_info")
        strtab = self._raw.read(".debug_str")
        uses_strx = self._raw.has(".debug_str_offsets")
        abbrev = self._raw.read(".debug_abbrev")
        self.units = UnitIndex(info, strtab, uses_strx, abbrev)
        self._unit_cache: dict[int, Unit] = {}
        self._aranges = None
        self._inline_cache: dict[int, list[str]] = {}
        self._inline_index = None
        self._unlisted = None
        self._scanner = None
        self._scanned: dict[int, object] = {}
        self.image_path = path
        self._func_syms = None

    @functools.cached_property
    def _elffile(self):
        return self._elffile_of()

    @functools.cached_property
    def dwarfinfo(self):
        """pyelftools' DWARFInfo of the file (made on first use)."""
        return _dwarf_info(self._elffile)

    @functools.cached_property
    def cfa(self):
        from pyperf_probe.symbols.dwarf.cfa import CfaFinder
        return CfaFinder(self._elffile, self.dwarfinfo)

    # ---- opening -------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str, symfs: str | None = None,
             symbols: str | None = None) -> "DwarfInfo" | None:
        """The DWARF for the ELF file at ``path`` (under ``symfs``): its separate debug file when one
        matches its build-id (``/usr/lib/debug/.build-id/...``, ``.gnu_debuglink``), else the file itself;
        None without DWARF.

        ``symbols`` is the file whose ELF symbols name the innermost inline frame (:meth:`elf_function_at`):
        perf hands addr2line ``dso->symsrc_filename``, the first file of ``dso__load`` with a .symtab
        (srcline.c ``dso__name``, symbol.c ``dso__load``); report passes that. By default, the image as
        found under ``symfs``: never the recorded path, which need not exist here."""
        from pyperf_probe.symbols.dwarf.open import dwarf_file_for, symfs_path
        found = dwarf_file_for(path, symfs)
        if found is None:
            return None
        dpath, build_id, opener = found
        image = os.path.abspath(symbols or symfs_path(symfs, os.path.abspath(path)))
        # keyed by the DWARF file too: a stripped copy's debug file (no .eh_frame) answers differently
        # from the unstripped image with the same build-id; and by the symbol file, which names frames
        key = (build_id, os.path.realpath(dpath), image)
        if build_id and key in cls._by_build_id:
            return cls._by_build_id[key]
        info = cls(dpath, opener, build_id)
        info.image_path = image
        if build_id:
            cls._by_build_id[key] = info
        return info

    # ---- units ---------------------------------------------------------------------------------------

    def unit(self, cu_offset: int) -> Unit:
        unit = self._unit_cache.get(cu_offset)
        if unit is None:
            unit = U.Unit(self.dwarfinfo, self.dwarfinfo.get_CU_at(cu_offset))
            self._unit_cache[cu_offset] = unit
        return unit

    def unit_at(self, svma: int) -> Unit | None:
        """``dwarf_addrdie``: the unit whose ranges hold ``svma``."""
        cu_offset = self.unit_offset_at(svma)
        return self.unit(cu_offset) if cu_offset is not None else None

    def unit_offset_at(self, svma: int) -> int | None:
        """The offset of the unit holding ``svma``: .debug_aranges, then the ranges of the unit DIEs that
        .debug_aranges does not list (read once, sorted)."""
        if self._aranges is None:
            from pyperf_probe.symbols.dwarf.aranges import ArangeIndex
            self._aranges = ArangeIndex.parse(self._raw.read(".debug_aranges"))
        cu_offset = self._aranges.unit_at(svma)
        if cu_offset is not None:
            return cu_offset
        if self._unlisted is None:
            self._unlisted = self._unlisted_unit_spans()
        lows, spans = self._unlisted
        i = bisect.bisect_right(lows, svma) - 1
        for j in range(i, max(i - 8, -1), -1):
            low, high, cu_offset = spans[j]
            if low <= svma < high:
                return cu_offset
        return None

    def _unlisted_unit_spans(self):
        from pyperf_probe.symbols.dwarf.scan import Unsupported
        listed = self._aranges.listed
        if self._scanner is None:
            self._scanner = self.unit_scanner()
        scanner = self._scanner
        spans = []
        for cu_offset in self.units.offsets:
            if cu_offset in listed:
                continue
            try:
                ranges = scanner.unit_ranges(cu_offset)
            except Unsupported:
                ranges = D.ranges(self.unit(cu_offset).die)
            spans.extend((low, high, cu_offset) for low, high in ranges)
        spans.sort()
        return [s[0] for s in spans], spans

    # ---- functions -----------------------------------------------------------------------------------

    def function_sites(self, name: str, file: str | None = None, no_inlines: bool = False,
                       warn: Callable[[str], None] | None = None, for_vars: bool = False) -> list[FunctionSite]:
        """Every place perf would probe for ``FUNC[@SRC]``: each concrete function and each inlined instance,
        unit by unit in ``.debug_info`` order (perf's ``debuginfo__find_probe_location``).

        A site whose probe point perf cannot name (``convert_to_trace_point``: a function known only by
        DW_AT_ranges, whose address the symbol table misses) is handled as perf does: for a concrete
        function, :class:`TracePointError`; for an inlined copy, ``warn("Failed to find symbol at 0x...")``
        and the end of that function's instance walk - the failed site kept with ``trace_ok=False`` when
        ``for_vars`` (``perf probe -V`` lists it as ``@<(null)+0>``), dropped otherwise."""
        sites: list[FunctionSite] = []
        for cu_offset in self._units_for_name(name):
            unit = self.unit(cu_offset)
            for func in F.matching_funcs(unit.die, name, unit.decl_file, file):
                sites.extend(self._sites_of(unit, func, no_inlines, warn, for_vars))
        return F.collect(sites)

    def _units_for_name(self, name: str) -> list[int]:
        if any(c in name for c in "*?["):
            return self.units.units_matching(name)
        return self.units.units_naming(name)

    def _sites_of(self, unit: Unit, func, no_inlines: bool, warn, for_vars: bool) -> list[FunctionSite]:
        if D.is_func_instance(func):
            entry = D.die_entrypc(func)
            if not entry:
                return []
            failure = self._trace_point_failure(func, entry)
            if failure:
                raise TracePointError(failure, errno=E.ENOENT)
            return [self._site(unit, func, entry, self._prologue_end(unit, func, entry))]
        if no_inlines:
            return []
        out = []
        for inst in F.instances(unit.die, func, unit.decl_file_index, self._referring(unit, func)):
            entry = D.die_entrypc(inst)
            if not entry:
                break  # perf: "Failed to get entry address" / "no valid entry address" ends the walk
            real = self._real_func(unit, entry) if inst.tag == "DW_TAG_inlined_subroutine" else inst
            if real is None:
                continue  # perf: "Ignoring tail call from ..."
            failure = self._trace_point_failure(real, entry)
            if failure:
                if warn is not None:
                    warn(failure + "\n")
                if for_vars:
                    from dataclasses import replace as dataclass_replace
                    out.append(dataclass_replace(self._site(unit, inst, entry, None), trace_ok=False))
                break
            out.append(self._site(unit, inst, entry, None))
        return out

    def _referring(self, unit: Unit, abstract):
        """DIEs of the unit whose abstract origin (or specification) is ``abstract``, in DIE order, found by
        the fast scanner; None (walk the unit with pyelftools) when it cannot read the unit."""
        scanned = self.scan_unit(unit.offset)
        if scanned is None:
            return None
        return (unit.die_at(f.offset) for f in scanned[1] if f.origin == abstract.offset)

    def scan_unit(self, cu_offset: int):
        """``dwarf.scan`` records of a unit (language, [FuncDie]), cached; None when unreadable that way."""
        from pyperf_probe.symbols.dwarf.scan import Unsupported
        if cu_offset not in self._scanned:
            if self._scanner is None:
                self._scanner = self.unit_scanner()
            try:
                self._scanned[cu_offset] = self._scanner.scan(cu_offset)
            except Unsupported:
                self._scanned[cu_offset] = None
        return self._scanned[cu_offset]

    def _trace_point_failure(self, sp_die, svma: int) -> str | None:
        """perf's ``convert_to_trace_point`` failure text for a probe at ``svma`` in ``sp_die``, or None."""
        if D.entrypc(sp_die) is not None:
            return None
        try:
            self._addrsym(svma)
        except ProbeError as err:
            return err.message
        return None

    def _site(self, unit: Unit, die, entry: int, prologue_end: int | None) -> FunctionSite:
        return F.FunctionSite(name=D.diename(die) or "", entry_svma=entry, prologue_end_svma=prologue_end,
                            is_inline=die.tag == "DW_TAG_inlined_subroutine", decl_file=unit.decl_file(die),
                            decl_line=unit.decl_line(die), cu_name=unit.name, cu_offset=unit.offset,
                            die_offset=die.offset)

    @staticmethod
    def _prologue_end(unit: Unit, func, entry: int) -> int | None:
        """perf's ``skip_prologue`` conditions that depend on DWARF (the rest depend on the probe)."""
        if unit.optimized:
            return None
        high = D.highpc(func)
        if high is None:
            return entry
        moved = L.postprologue_svma(unit.lines, entry, high)
        return entry if moved is None else moved

    def _real_func(self, unit: Unit, svma: int):
        return unit.realfunc(svma)

    # ---- scopes and variables -----------------------------------------------------------------------

    def _scope(self, where: Where, svma: int | None) -> S.Scope:
        if isinstance(where, F.FunctionSite):
            unit = self.unit(where.cu_offset)
            sc_die = unit.die_at(where.die_offset)
            svma = where.entry_svma if svma is None else svma
        else:
            svma = where
            unit = self.unit_at(svma)
            if unit is None:
                raise ProbeError(f"Failed to find debug information for address {svma:x}", errno=E.EINVAL)
            sc_die = self._innermost(unit, svma)
        sp_die = sc_die if D.is_func_def(sc_die) else self._real_func(unit, svma)
        if sp_die is None:
            raise ProbeError("Failed to find probe point in any functions.", errno=E.ENOENT)
        return S.Scope(unit, sc_die, sp_die, svma, self._frame_base(sp_die, svma))

    def _innermost(self, unit: Unit, svma: int):
        func = self._real_func(unit, svma)
        if func is None:
            raise ProbeError("Failed to find probe point in any functions.", errno=E.ENOENT)
        die = func
        while True:
            inner = next((d for d in S.children_at(die, svma) if d.tag == "DW_TAG_inlined_subroutine"), None)
            if inner is None:
                return die
            die = inner

    def _frame_base(self, sp_die, svma: int):
        """``call_probe_finder``: DW_AT_frame_base at ``svma``, a CFA rule when it is DW_OP_call_frame_cfa."""
        ops = D.location_at(sp_die, "DW_AT_frame_base", svma)
        if not ops:
            return None
        if len(ops) == 1 and ops[0].op_name == "DW_OP_call_frame_cfa" and self.cfa.available:
            rule = self.cfa.cfa_at(svma)
            if rule is None:
                raise ProbeError(f"Failed to get call frame on 0x{svma:x}", errno=E.ENOENT)
            return ("bregx", rule[0], rule[1])
        return ops

    def resolve_variable(self, where: Where, expr: str, cast: str | None = None,
                         svma: int | None = None, warn: Callable[[str], None] | None = None
                         ) -> tuple[str, str | None]:
        """``expr`` (``var``, ``var->field``, ``arr[2]``...) at a site (at ``svma`` when the probe moved,
        e.g. past the prologue or by +OFF) or at an address: (fetcharg, type or None).

        Raises :class:`dwarf.vars.NoLocation` (perf's "Failed to find the location of..." text) when the
        variable is not there, ProbeError with perf's message for the other failures."""
        scope = self._scope(where, svma)
        arg = self._convert(scope, expr, cast, warn)
        return arg.fetcharg(), arg.type

    def _convert(self, scope: S.Scope, expr: str, cast: str | None, warn=None) -> V.TraceArg:
        var, fields = V.parse_var_expr(expr)
        var_die = S.find_variable(scope.sc_die, var, scope.svma)
        if var_die is None:
            var_die = S.find_variable(scope.unit.die, var, None)
        if var_die is None:
            raise V.NoLocation(V.not_found_message(var), errno=E.ENOENT)
        try:
            arg = V.convert_location(var_die, scope.svma, scope.fb_ops, scope.sp_die)
        except V.NoLocation as err:
            raise V.NoLocation(V.not_found_message(var), errno=err.errno) from None
        type_die = V.convert_fields(var_die, var, fields, arg) if fields else var_die
        V.convert_type(type_die, arg, cast, warn)
        return arg

    def params_at(self, where: Where, svma: int | None = None) -> list[str]:
        """``$params``: the parameters that have a location at the site (``expand_probe_args``)."""
        return S.param_names(self._scope(where, svma))

    def resolve_args(self, sites: Sequence[Where], args: Sequence[tuple[str, str | None]],
                     svmas: Sequence[int] | None = None,
                     warn: Callable[[str], None] | None = None) -> list[list[ResolvedArg]]:
        """perf's argument search over all sites of one probe: ``$params`` expanded per site; an argument
        missing at some sites gets ``\\deade12d`` there with the type found elsewhere
        (``fill_empty_trace_arg``); missing everywhere, perf's "Failed to find the location" error; no site
        at all, perf's message-less ENOENT."""
        if not sites and args:
            # perf: fill_empty_trace_arg() with no probe point is -ENOENT, reported without a message
            # ("  Error: Failed to add events.") and with no retry through the symbol table
            raise ProbeError("", errno=E.ENOENT)
        per_site = []
        for i, site in enumerate(sites):
            scope = self._scope(site, svmas[i] if svmas else None)
            row = []
            for expr, cast in args:
                if expr == PARAMS:
                    row.extend(self._try(scope, name, None, warn) for name in S.param_names(scope))
                else:
                    row.append(self._try(scope, expr, cast, warn))
            per_site.append(row)
        return S.fill_empty(per_site, args)

    def _try(self, scope: S.Scope, expr: str, cast: str | None, warn=None):
        try:
            arg = self._convert(scope, expr, cast, warn)
        except V.NoLocation:
            return (expr, None, None)
        return (expr, arg.fetcharg(), arg.type)

    def variables_at(self, where: Where, externs: bool = False, svma: int | None = None,
                     ranges: bool = False) -> VariableList:
        """``perf probe -V``: the variables with a location at the site (``add_available_vars``);
        ``externs`` adds the unit's globals (``--externs``), ``ranges`` gives ``--range``'s lines:
        ``[VAL]``/``[INV]``/``[EXT]``, "type<TAB>name" and the location range ``@<func+[a-b,...]>``."""
        if isinstance(where, F.FunctionSite) and not where.trace_ok:
            return P.VariableList("(null)", 0, ())
        scope = self._scope(where, svma)
        if ranges:
            names = S.range_lines(scope, externs)
        else:
            names = {V.var_line(d) for d in S.visible_vars(scope, params_only=False)}
            if externs:
                names |= {V.var_line(d) for d in S.unit_globals(scope)}
        symbol, offset = self.trace_point(scope)
        return P.VariableList(symbol, offset, tuple(sorted(names)))

    def trace_point(self, scope_or_site, svma: int | None = None) -> tuple[str, int]:
        """``convert_to_trace_point``: the real function holding the probe and the offset from its entry."""
        scope = scope_or_site if isinstance(scope_or_site, S.Scope) else self._scope(scope_or_site, svma)
        sp_die = scope.sp_die
        if not D.haspc(sp_die, scope.svma):
            raise ProbeError(f"Specified offset is out of {D.diename(sp_die)}", errno=E.EINVAL)
        entry = D.entrypc(sp_die)
        if entry is not None:
            return D.diename(sp_die) or "", scope.svma - entry
        return self._addrsym(scope.svma)

    def _addrsym(self, svma: int) -> tuple[str, int]:
        """perf's fallback for a function known only by DW_AT_ranges: ``dwfl_module_addrsym`` on the DWARF
        file's symbols. perf opens that file with libdwfl offline, which places an ET_DYN module at
        OFFLINE_REDZONE (0x10000), and passes the unbiased address: the symbol found is the one 0x10000
        below (libc's ``_IO_fwrite`` shows as ``__vfscanf_internal+32592``). pyperf reproduces it."""
        from pyperf_probe.symbols.elf import open_elf
        from pyperf_probe.symbols.symtab import read_elf_symbols
        bias = OFFLINE_REDZONE if self._elffile.header["e_type"] == "ET_DYN" else 0
        target = svma - bias
        best = None
        for name, value, size, _type, binding in read_elf_symbols(open_elf(self.path), ".symtab"):
            if value <= target < value + max(size, 1):
                rank = (value, {1: 2, 2: 1}.get(binding, 0))
                if best is None or rank > best[0]:
                    best = (rank, name, value)
        if best is None:
            raise ProbeError(f"Failed to find symbol at 0x{svma:x}", errno=E.ENOENT)
        return best[1], svma - (best[2] + bias)

    # ---- source lines --------------------------------------------------------------------------------

    def line_sites(self, function: str | None = None, file: str | None = None, line: int = 0,
                   lazy: str | None = None) -> list[FunctionSite]:
        """Sites of ``FUNC:RLN`` (``line`` relative to the declaration), ``SRC:ALN``, ``FUNC;PTN`` and
        ``SRC;PTN``, in perf's order; the scope of each is the function perf names the probe after.
        Raises ProbeError with perf's "This line is sharing the address with other lines." text."""
        from pyperf_probe.symbols.dwarf import lineprobe as LP
        found = []
        for unit in self._line_units(function, file):
            if function:
                for func in F.matching_funcs(unit.die, function, unit.decl_file, file):
                    found += self._func_line_sites(unit, func, function, line, lazy)
            else:
                fname = LP.realpath_in_unit(unit, file)
                if fname is None:
                    continue
                if lazy is not None:
                    found += LP.sites_by_lazy(unit, None, fname, LP.lazy_lines(unit, fname, lazy), None)
                else:
                    found += LP.sites_by_line(unit, fname, line, None)
        return F.collect([self._site_at(self.unit_for_die(die), die, svma) for svma, die in found])

    def _func_line_sites(self, unit: Unit, func, function: str, line: int, lazy: str | None):
        from pyperf_probe.symbols.dwarf import lineprobe as LP
        fname = unit.decl_file(func)
        if lazy is None:
            return LP.sites_by_line(unit, fname, (unit.decl_line(func) or 0) + line, function)
        wanted = LP.lazy_lines(unit, fname, lazy)
        if D.is_func_instance(func):
            return LP.sites_by_lazy(unit, func, fname, wanted, function)
        out = []
        for inst in F.instances(unit.die, func, unit.decl_file_index):
            out += LP.sites_by_lazy(unit, inst, fname, wanted, function)
        return out

    def _line_units(self, function: str | None, file: str | None) -> list[Unit]:
        if function:
            return [self.unit(off) for off in self._units_for_name(function)]
        if file is None:
            return []
        return [self.unit(off) for off in self.units.offsets]

    def unit_for_die(self, die) -> Unit:
        return self.unit(die.cu.cu_offset)

    def _site_at(self, unit: Unit, die, svma: int) -> FunctionSite:
        return self._site(unit, die, svma, None)

    def line_range(self, function: str | None = None, file: str | None = None, start: int = 0,
                   end: int | None = None):
        """``perf probe -L``: the probe-able lines of ``FUNC[:RLN[-RLN2]]`` (relative to the declaration)
        or ``SRC:ALN[-ALN2]``, as a ``dwarf.linewalk.LineRange``; None when nothing is found
        (perf: "Specified source line is not found.")."""
        from pyperf_probe.symbols.dwarf import linewalk as LW
        from pyperf_probe.symbols.dwarf import lineprobe as LP
        for unit in self._line_units(function, file):
            if function:
                func = next(iter(F.matching_funcs(unit.die, function, unit.decl_file, file)), None)
                if func is None:
                    continue
                offset = unit.decl_line(func) or 0
                fname = unit.decl_file(func)
                lo, hi = offset + start, None if end is None else offset + end
                scopes = [func] if D.is_func_instance(func) else \
                    list(F.instances(unit.die, func, unit.decl_file_index))
            else:
                fname = LP.realpath_in_unit(unit, file)
                if fname is None:
                    continue
                offset, lo, hi, scopes = 0, start, end, [None]
            lines, path = set(), None
            lineinfo = LW.StaleLineinfo(unit)
            for scope in scopes:
                got, first = LW.probeable_lines(unit, scope, fname, lo, hi, lineinfo)
                lines.update(got)
                path = path or first
            if lines:
                return LW.LineRange(function, path, lo, hi, offset, tuple(sorted(lines)), unit.comp_dir)
        return None

    def lines_of(self, function: str | None = None, file: str | None = None, start: int = 0,
                 end: int | None = None):
        """The name the first design gave :meth:`line_range`."""
        return self.line_range(function, file, start, end)

    # ---- reverse lookup -----------------------------------------------------------------------------

    def probe_point_at(self, svma: int) -> ProbePoint | None:
        """perf's ``debuginfo__find_probe_point``: where ``svma`` is, as perf names a probe point
        (used for ``perf probe -l`` and to retry a function found only in the symbol table)."""
        from pyperf_probe.symbols.dwarf.reverse import find_probe_point
        unit = self.unit_at(svma)
        if unit is None:
            return None
        found = find_probe_point(unit, svma)
        return P.ProbePoint(*found) if found else None

    def unit_scanner(self):
        """A ``dwarf.scan.UnitScanner`` over this file's sections (the fast DIE reader of report)."""
        from pyperf_probe.symbols.dwarf.scan import UnitScanner
        read = self._raw.read
        return UnitScanner(self.units.info, read(".debug_abbrev"), self.units.strtab, read(".debug_ranges"),
                           read(".debug_rnglists"))

    def elf_function_at(self, svma: int) -> tuple[str, int] | None:
        """binutils' ``elf_find_function`` on the image's symbols: the FUNC symbol with the highest address
        at or below ``svma`` (the larger one among equals, then the first): (name, address)."""
        if self._func_syms is None:
            self._func_syms = self._image_function_symbols()
        svmas, syms = self._func_syms
        i = bisect.bisect_right(svmas, svma) - 1
        if i < 0:
            return None
        while i > 0 and svmas[i - 1] == svmas[i]:
            i -= 1
        name, value, _size = syms[i]
        return name, value

    def _image_function_symbols(self) -> tuple[list[int], list[tuple[str, int, int]]]:
        """:func:`_function_symbols` of ``image_path`` when it is there and has the DWARF's build-id; else
        none (the DWARF's own names are used), said under -v: a missing file must not pass silently."""
        from pyperf_probe.symbols.elf import open_elf
        try:
            image = open_elf(self.image_path)
            if self.build_id and image.build_id and image.build_id != self.build_id:
                raise SymbolError(f"{self.image_path}: build id {image.build_id} is not the DWARF's "
                                  f"({self.build_id})")
            return _function_symbols(image)
        except (SymbolError, OSError) as exc:
            log.debug(f"no ELF symbols for inline frames of {self.path}, DWARF names used: {exc}")
            return [], []

    # ---- inline frames ------------------------------------------------------------------------------

    def inline_frames(self, svma: int) -> list[str]:
        """The function names at ``svma`` as addr2line -i reports them, innermost first, the outermost
        (non-inlined) function last, demangled as perf does. ``[]`` when no DWARF covers ``svma``.

        perf report turns each name into a frame and marks it `` (inlined)`` when it differs from the
        ELF symbol's name (srcline.c ``new_inline_sym``); that comparison is the caller's."""
        cached = self._inline_cache.get(svma)
        if cached is None:
            if self._inline_index is None:
                from pyperf_probe.symbols.dwarf.inline import InlineIndex
                self._inline_index = InlineIndex(self, self.elf_function_at)
            cached = self._inline_index.frames(svma)
            self._inline_cache[svma] = cached
        return cached


def _function_symbols(image) -> tuple[list[int], list[tuple[str, int, int]]]:
    """FUNC symbols of ``image`` (.symtab, else .dynsym) sorted by address, for :meth:`elf_function_at`."""
    from pyperf_probe.symbols.symtab import read_elf_symbols
    rows = read_elf_symbols(image, ".symtab") or read_elf_symbols(image, ".dynsym")
    funcs = [(value, -size, i, name) for i, (name, value, size, stype, _b) in enumerate(rows)
             if stype in (2, 10) and size]  # STT_FUNC, STT_GNU_IFUNC
    funcs.sort()
    return [f[0] for f in funcs], [(f[3], f[0], -f[1]) for f in funcs]
