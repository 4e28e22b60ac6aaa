"""DSOs (the files behind maps) and address -> symbol resolution, as perf report does it.

A ``Dso`` is one file by its recorded path (``struct dso``): ``short_name`` is what report prints
(basename, or ``[vdso]``/``[kernel.kallsyms]`` as recorded), ``build_id`` comes from the BUILD_ID feature
section or an MMAP2 record. Its symbols are loaded on first use, from the first of (perf's
``dso__load`` order, perf-formats.md §1.7):

* the file at its recorded path (under ``--symfs DIR`` when given) if its build-id matches;
* the build-id cache (``buildid_cache_dir``), ``.build-id/xx/rest`` -> ``<path>/<id>/elf``
  (``vdso`` for ``[vdso]``), or the path-based layout ``<cache>/<path>/<id>/elf`` directly;

and then ``symbols.symtab.load_symtab`` picks the symbol source among that file's debug files
(``/usr/lib/debug/.build-id/..``, ``.gnu_debuglink``, the cache's ``debug``). A file whose build-id
differs from the recorded one is never used ("Always reject images with a mismatched build-id").
``[vdso]`` is found only through the build-id cache: the running kernel's vdso is not the recorded one,
and without the cache perf prints raw addresses. Anonymous and special maps (``//anon``, ``[heap]``,
``[stack]``, ``[uprobes]``) have no symbols; executable anonymous memory is JIT code, whose symbols come
from the JIT's ``/tmp/perf-PID.map`` (short name ``[JIT] tid PID``).

``Dso.resolve(file_offset)`` is cached per offset, so each distinct address is resolved once.
"""
from __future__ import annotations

import bisect
import os

from pyperf_probe import lazylog as log
from pyperf_probe.errors import SymbolError

STT_OBJECT = 1  # ELF st_info type of a data object (symbols.symtab.STT_OBJECT)

KERNEL_NAME = "[kernel.kallsyms]"
VDSO_NAME = "[vdso]"
UNKNOWN_NAME = "[unknown]"


def buildid_cache_dir() -> str:
    """The build-id cache: ``pyperf --buildid-dir DIR``, else ``$PERF_BUILDID_DIR``, else ``$HOME/.debug``
    (symbols.buildid_dir says how that follows perf)."""
    from pyperf_probe.symbols.buildid_dir import cache_dir
    return cache_dir()


def perf_map_pid(long_name: str) -> int | None:
    """The pid of a JIT symbol file ``/tmp/perf-PID.map`` (perf's ``perf_pid_map_tid``), else None."""
    if long_name.startswith("/tmp/perf-") and long_name.endswith(".map"):
        digits = long_name[len("/tmp/perf-"):-len(".map")]
        if digits.isdigit():
            return int(digits)
    return None


def short_name(long_name: str) -> str:
    """What perf prints in the Shared Object column (``dso__set_basename``: ``[JIT] tid PID`` for a JIT
    symbol file)."""
    pid = perf_map_pid(long_name)
    if pid is not None:
        return f"[JIT] tid {pid}"
    if long_name.startswith("[") or long_name.startswith("//"):
        return KERNEL_NAME if long_name.startswith(KERNEL_NAME) else long_name
    return os.path.basename(long_name)


class Resolved:
    """What one file offset of a dso resolves to: the symbol (``symbols.symtab.Symbol``), the name report
    prints (demangled), the symbol's start svma, and whether it is a data object (STT_OBJECT: report's
    Symbol column adds its offset). An answer from the disk cache (``lazy``) has the name, start and kind
    only; its ``symbol`` is looked up in the symbol table when first asked for."""

    __slots__ = ("_symbol", "name", "start", "object", "_dso", "_file_offset")

    def __init__(self, symbol, name: str, start: int, object: bool = False):
        self._symbol, self.name, self.start, self.object = symbol, name, start, object
        self._dso = None

    @classmethod
    def lazy(cls, dso: "Dso", file_offset: int, name: str, start: int, object: bool = False) -> "Resolved":
        res = cls(None, name, start, object)
        res._dso, res._file_offset = dso, file_offset
        return res

    @property
    def symbol(self):
        if self._symbol is None and self._dso is not None:
            found = self._dso._resolve(self._file_offset)
            self._symbol = found.symbol if found is not None else None
            self._dso = None
        return self._symbol


class Dso:
    """One file that maps point at (see the module docstring)."""

    __slots__ = ("long_name", "short_name", "build_id", "order", "_symfs", "_loaded", "_image", "symtab",
                 "_cache", "_inlines", "_dwarf", "_demangle", "_from_cache", "_disk", "_disk_resolved",
                 "_disk_inlines", "_picked")
    is_kernel = False  # (KernelDso's is True: frame tables ask every dso, getattr's default would raise inside)

    def __init__(self, long_name: str, order: int, build_id: str | None, symfs: str | None):
        self.long_name = long_name
        self.short_name = short_name(long_name)
        self.build_id = build_id
        self.order = order  # creation order: report's stand-in for perf's dso pointer order
        self._symfs = symfs
        self._loaded = False
        self._image = None
        self.symtab = None
        self._cache: dict[int, Resolved | None] = {}
        self._inlines: dict[int, list[str]] = {}
        self._disk = None  # resolved_cache.DsoCache once looked for (False: this dso is not cached)
        self._disk_resolved: dict | None = None
        self._disk_inlines: dict | None = None
        self._dwarf = None  # False once looked for and not found
        self._demangle = None
        self._from_cache = False
        self._picked = None  # _pick's answer before _load: (image, symbol source, has .symtab, from cache)

    def __repr__(self) -> str:
        return f"Dso({self.long_name!r})"

    @property
    def image(self):
        """The ``ElfImage`` the symbols come from (None without one): ``_load``'s, or before it ran
        ``_pick``'s, the same file (an answer from the disk cache loads no symbols)."""
        if self._image is None and self._picked and not self._loaded:
            return self._picked[0]
        return self._image

    @property
    def has_symbols(self) -> bool:
        return not self.long_name.startswith("//") and (
            not self.long_name.startswith("[") or self.long_name == VDSO_NAME)

    def resolve(self, file_offset: int) -> Resolved | None:
        """The symbol at ``file_offset`` in this file (``map__map_ip`` of the avma), or None."""
        try:
            return self._cache[file_offset]
        except KeyError:
            pass
        disk = self._disk_resolved
        if disk is None:
            disk = self._disk_resolved = self._disk_part(True)
        if disk is not False and file_offset in disk:
            answer = disk[file_offset]
            res = None if answer is None else Resolved.lazy(self, file_offset, *answer)
        else:
            res = self._resolve(file_offset)
            disk = self._disk_resolved  # (_resolve's load may have found other files than _pick: again)
            if disk is None:
                disk = self._disk_resolved = self._disk_part(True)
            if disk is not False:
                disk[file_offset] = None if res is None else (res.name, res.start, res.object)
                self._disk.changed()
        self._cache[file_offset] = res
        return res

    def _resolve(self, file_offset: int) -> Resolved | None:
        if not self._loaded:
            self._load()
        if self.symtab is None:
            return None
        image = self.image
        svma = image.file_offset_to_svma(file_offset) if image is not None else file_offset
        if svma is None:        # past a segment's file bytes: perf's symbols are at file offsets, still found
            svma = image.file_offset_to_svma_past(file_offset)
            if svma is None:
                return None
        sym = self.symtab.lookup(svma)
        if sym is None:
            return None
        if isinstance(self.symtab, PerfMapSymbols):  # perf shows JIT names as written
            return Resolved(sym, sym.name, sym.svma)
        return Resolved(sym, self._display_name(sym.name), sym.svma, getattr(sym, "type", None) == STT_OBJECT)

    def svma(self, file_offset: int) -> int | None:
        """The ELF address of a file offset (for inline info, CFI and script's symoff), None without the
        image; past a segment's file bytes, as ``resolve`` finds the symbol there. The image ``_load``
        would read: the picked one without loading the symbols once the disk cache holds answers for
        the picked files (written after a load of the same files succeeded: _disk_part), else loaded."""
        if not self._loaded:
            disk = self._disk_resolved
            if disk is None:
                disk = self._disk_resolved = self._disk_part(True)
            if not disk:
                self._load()
        if self.image is None:
            return None
        svma = self.image.file_offset_to_svma(file_offset)
        return svma if svma is not None else self.image.file_offset_to_svma_past(file_offset)

    def inline_names(self, file_offset: int) -> list[str]:
        """The function names DWARF gives at ``file_offset`` (innermost first, the containing function
        last), or [] without DWARF for it: perf runs ``addr2line -i`` on the dso (srcline.c
        ``dso__parse_addr_inlines``) at ``map__rip_2objdump``, the svma. Cached per file offset, as
        ``resolve``: the processes of a build map the same file at different avmas."""
        try:
            return self._inlines[file_offset]
        except KeyError:
            pass
        disk = self._disk_inlines
        if disk is None:
            disk = self._disk_inlines = self._disk_part(False)
        if disk is not False and file_offset in disk:
            names = disk[file_offset]
        else:
            names = self._inline_names(file_offset)
            disk = self._disk_inlines  # (as in resolve)
            if disk is None:
                disk = self._disk_inlines = self._disk_part(False)
            if disk is not False:
                disk[file_offset] = list(names)
                self._disk.changed()
        self._inlines[file_offset] = names
        return names

    def _disk_part(self, symbols: bool):
        """The disk cache's answers for symbols (or inline names) that hold for the files as they are
        now (``session.resolved_cache``), or False for a dso it does not keep: no file, or a file without
        a build-id (the recorded one, else the file's own: perf records only the dsos samples hit).

        The files are those ``_load`` picks (``_files``): before it runs, ``_pick`` finds them without
        reading the symbols (cc1's table, its PLT: ~6 ms), which an answer from the disk does not need.
        ``_load`` can only pick another file where reading the picked one's symbols fails; the cache then
        holds no answers for it (it is written only after such a read succeeded on files of the same
        size and mtime), and ``resolve`` asks again after loading."""
        files = self._files()
        if self._disk is None or (self._disk is not False and files is None):
            build_id = files is not None and (self.build_id or files[0].build_id)
            if build_id:
                from pyperf_probe.session import resolved_cache
                self._disk = resolved_cache.DsoCache.load(build_id)
            else:
                self._disk = False
        if self._disk is False or files is None:
            return False
        from pyperf_probe.session import resolved_cache as rc
        if symbols:
            return self._disk.resolved_for((self._symfs, rc.file_signature(files[0].path),
                                            rc.file_signature(files[1])))
        return self._disk.inlines_for(self._dwarf_signature(rc, files))

    def _files(self) -> tuple | None:
        """(image, symbol source path, has .symtab, from the build-id cache) of the files the symbols
        come from (or come from once loaded: ``_pick``), None without an ELF symbol table."""
        if self._loaded:
            if self.image is None or self.symtab is None or isinstance(self.symtab, PerfMapSymbols):
                return None
            return self.image, self.symtab.source, self.symtab.has_symtab, self._from_cache
        if self._picked is None:
            self._picked = self._pick()
        return self._picked or None

    def _pick(self):
        """``_load``'s choice of files made without reading any symbols: the first candidate image that
        opens with the recorded build-id, and ``symbols.symtab.symbol_source``'s choice among its debug
        files; False where ``_load`` would load no ELF table (JIT maps, special maps, no file)."""
        if perf_map_pid(self.long_name) is not None or not self.has_symbols:
            return False
        from pyperf_probe.symbols.elf import open_elf
        from pyperf_probe.symbols.symtab import symbol_source
        cached = set(self._cache_paths()) if self.build_id else set()
        for path in self.candidate_images():
            try:
                image = open_elf(path)
                if self.build_id and image.build_id and image.build_id != self.build_id:
                    continue
                source, has_symtab = symbol_source(image, self._symfs)
                return image, source, has_symtab, path in cached
            except SymbolError:
                continue
        return False

    def _dwarf_signature(self, rc, files: tuple) -> tuple:
        """The files ``_open_dwarf`` may read (``symbols.dwarf.open.candidates`` of the path it opens), and
        the file whose ELF symbols name inline frames (``_inline_symbols``)."""
        from pyperf_probe.symbols.dwarf.open import candidates
        image, _source, _has_symtab, from_cache = files
        path, symfs = (image.path, None) if from_cache else (self.long_name, self._symfs)
        return (path, symfs, rc.file_signature(self._inline_symbols())) + \
            tuple(rc.file_signature(p) for p in candidates(path, image.build_id, symfs))

    def _inline_symbols(self) -> str:
        """The file addr2line names functions from: perf hands it ``dso->symsrc_filename`` (srcline.c
        ``dso__name``), the first file ``dso__load`` found with a .symtab, here the symbol table's source.
        Without a .symtab perf hands the recorded path (``long_name``), which under --symfs need not
        exist; pyperf uses the image it loaded instead, whose .dynsym addr2line would read there.
        (The files ``_files`` gives: picked, when the symbols are not loaded yet.)"""
        image, source, has_symtab, _from_cache = self._files()
        return source if has_symtab else image.path

    def _inline_names(self, file_offset: int) -> list[str]:
        svma = self.svma(file_offset)
        if svma is None:
            return []
        dwarf = self._dwarf
        if dwarf is None:
            dwarf = self._dwarf = self._open_dwarf() or False
        return dwarf.inline_frames(svma) if dwarf else []

    def _open_dwarf(self):
        from pyperf_probe.symbols.dwarf.info import DwarfInfo
        try:
            symbols = self._inline_symbols()
            if self._files()[3]:  # the build-id cache's copy, or its debug file (picked or loaded)
                return DwarfInfo.open(self.image.path, symbols=symbols)
            return DwarfInfo.open(self.long_name, self._symfs, symbols=symbols)
        except (SymbolError, OSError, ValueError) as exc:
            log.debug(f"{self.long_name}: no DWARF for inline frames: {exc}")
            return None

    def _display_name(self, name: str) -> str:
        if not name.startswith(MANGLED_PREFIXES):  # nothing to demangle: the demangler is not even loaded
            return name
        if self._demangle is None:
            self._demangle = _demangler()
        return self._demangle(name)

    # --- finding the file -------------------------------------------------------------------------------

    def _load(self) -> None:
        self._loaded = True
        if perf_map_pid(self.long_name) is not None:
            self.symtab = load_perf_map(self.long_name)
            return
        if not self.has_symbols:
            return
        from pyperf_probe.symbols.elf import open_elf
        from pyperf_probe.symbols.symtab import load_symtab
        cached = set(self._cache_paths()) if self.build_id else set()
        for path in self.candidate_images():
            try:
                image = open_elf(path)
                if self.build_id and image.build_id and image.build_id != self.build_id:
                    log.debug(f"{path}: build id mismatch for {self.long_name}")
                    continue
                self.symtab = load_symtab(path, self._symfs)
                self._image = image
                self._from_cache = path in cached
                self._repick()
                return
            except SymbolError as exc:
                log.debug(f"{self.long_name}: {exc}")
        log.debug(f"{self.long_name}: no symbols found")
        self._repick()

    def _repick(self) -> None:
        """After ``_load``: if ``_pick`` chose other files (reading the picked one's symbols failed), the
        disk cache's parts taken for them go (``resolve`` and ``inline_names`` take them again)."""
        picked = self._picked
        if picked is not None and self._files() != (picked or None):
            self._disk = self._disk_resolved = self._disk_inlines = None

    def candidate_images(self) -> list[str]:
        """The files that may be this dso, in the order tried (existing ones only)."""
        out: list[str] = []
        if self.long_name != VDSO_NAME and self.long_name.startswith("/"):
            path = os.path.join(self._symfs, self.long_name.lstrip("/")) if self._symfs else self.long_name
            out.append(path)
        if self.build_id:
            out += self._cache_paths()
        return [p for p in out if os.path.isfile(p)]

    def _cache_paths(self) -> list[str]:
        cache = buildid_cache_dir()
        base = "vdso" if self.long_name == VDSO_NAME else "elf"
        link = os.path.join(cache, ".build-id", self.build_id[:2], self.build_id[2:])
        paths = []
        if os.path.isdir(link):
            paths.append(os.path.join(link, base))
        paths.append(os.path.join(cache, self.long_name.lstrip("/"), self.build_id, base))
        return paths


class PerfMapSymbols:
    """The symbols of a JIT's ``/tmp/perf-PID.map`` (perf's ``dso__load_perf_map``): lines
    ``START SIZE name`` (hex, no 0x) in the process's own addresses; a symbol covers [START, START+SIZE)
    and, unlike ELF symbols, is not stretched to the next one."""

    def __init__(self, path: str, symbols: list):
        self.path = self.source = path
        self.symbols = sorted(symbols, key=lambda s: s.svma)
        self._starts = [s.svma for s in self.symbols]

    def lookup(self, avma: int):
        i = bisect.bisect_right(self._starts, avma) - 1
        if i >= 0:
            sym = self.symbols[i]
            if avma < sym.end or avma == sym.svma:
                return sym
        return None


def load_perf_map(path: str) -> PerfMapSymbols | None:
    """Read a JIT symbol file as is (perf does not look for it under --symfs); None when it cannot be
    read (perf then prints raw addresses)."""
    from pyperf_probe.symbols.symtab import STB_GLOBAL, STT_FUNC, Symbol
    symbols = []
    try:
        with open(path, "r", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) < 3:
                    continue
                try:
                    start, size = int(parts[0], 16), int(parts[1], 16)
                except ValueError:
                    continue
                symbols.append(Symbol(parts[2], start, size, STT_FUNC, STB_GLOBAL, start + size))
    except OSError as exc:
        log.debug(f"{path}: {exc.strerror}")
        return None
    return PerfMapSymbols(path, symbols)


# What libiberty's cplus_demangle (auto style, as perf calls it) demangles at all: the C++ ABI's "_Z" and
# Rust v0's "_R" (legacy Rust names are "_Z" names); any other name comes back unchanged.
MANGLED_PREFIXES = ("_Z", "_R")


def _demangler():
    """C++ names as perf shows them, through symbols.demangle when it is available."""
    try:
        from pyperf_probe.symbols import demangle as dm
    except ImportError:
        return _identity
    return getattr(dm, "demangle", _identity)


def _identity(name: str) -> str:
    return name


class Dsos:
    """Every dso of a session, one per recorded path (``struct dsos``)."""

    def __init__(self, build_ids: dict[str, str], symfs: str | None):
        self._by_name: dict[str, Dso] = {}
        self._build_ids = build_ids
        self._symfs = symfs

    def findnew(self, long_name: str, build_id: bytes | None = None) -> Dso:
        if long_name.startswith(KERNEL_NAME):  # "[kernel.kallsyms]_text": perf's kernel dso is "[kernel.kallsyms]"
            long_name = KERNEL_NAME
        dso = self._by_name.get(long_name)
        if dso is None:
            bid = build_id.hex() if build_id else self._build_ids.get(long_name)
            dso = Dso(long_name, len(self._by_name), bid, self._symfs)
            self._by_name[long_name] = dso
        return dso

    def __iter__(self):
        return iter(self._by_name.values())


def build_id_table(entries) -> dict[str, str]:
    """path -> hex build-id from the BUILD_ID feature's entries."""
    return {e.filename: e.build_id.hex() for e in entries or ()}

