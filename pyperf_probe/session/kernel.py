"""The kernel's address space of a session: ``[kernel.kallsyms]`` and the modules, as perf 6.1's machine.c
builds it from the file's kernel MMAP records and symbol.c loads its symbols.

* The ``[kernel.kallsyms]_text`` MMAP (pid -1, cpumode KERNEL) makes the kernel map: [start, start + len),
  addresses taken as they are (``identity__map_ip``), and the relocation symbol ``_text`` at ``pgoff``
  (none when pgoff is 0: kptr_restrict at record time). A file without one gets the running kernel's map
  and ``_text`` (``machine__create_kernel_maps``), made here on the first kernel address only.
* Any other kernel MMAP whose name starts with ``/``, or with ``[``, is a module (``machine__addnew_module_map``):
  its dso is named ``[name]`` from the path (``kmod_path__parse_name``: ``ext4.ko.xz`` -> ``[ext4]``, ``-``
  -> ``_``), its map [start, start + len) gives addresses relative to its start.
* Symbols are loaded when an address is first found in the kernel map (``thread__find_map``'s
  ``map__load``), from the first of (``dso__load_kernel_sym``, ``dso__find_kallsyms``): ``--kallsyms FILE``;
  nothing under ``--symfs``; ``/proc/kallsyms`` when the file has no kernel build-id or it is the running
  kernel's (``/sys/kernel/notes``); else the build-id cache's copy, ``[kernel.kallsyms]/BUILDID/kallsyms``
  (or the old layout, a file at ``[kernel.kallsyms]/BUILDID``), and without one perf's error
  "No kallsyms or vmlinux with build-id ... was found". Under kptr_restrict (``symbols.kallsyms.Host``)
  ``/proc/kallsyms`` itself is refused. The kernel map then spans its first symbol's start to its last
  symbol's end (``map__fixup_start``/``map__fixup_end``), and the modules' symbols move to their dsos
  (``symbols.kallsyms``).
* A KSYMBOL record (a BPF program's JIT image appearing) makes a map and a dso of that name with one symbol
  of that name, where no map is; its unregister record takes the map away (``machine__process_ksymbol``).
* Modules get no symbols of their own: perf would read the ``.ko`` (under /lib/modules or the build-id
  cache), which pyperf does not; a module's dso loaded before the kernel's therefore loses the first of
  its kallsyms symbols to perf's split, as in perf without the ``.ko``.

Not done (perf does them where they apply): /proc/kcore (absent on the machines this was checked on),
vmlinux files (``-k``, ``vmlinux_path``), the running system's /proc/modules maps that perf report adds at
start-up, and ``[kernel].N`` maps (their symbols are left out, as nothing finds them).
"""
from __future__ import annotations

import os
import sys

from pyperf_probe import lazylog as log
from pyperf_probe.session.dsos import KERNEL_NAME, Dso, Dsos, buildid_cache_dir
from pyperf_probe.session.maps import Map, Maps

U64_MAX = (1 << 64) - 1
REF_RELOC_NAMES = ("_text", "_stext")       # machine.c ref_reloc_sym_names


class KernelOptions:
    """What the command line says about kernel symbols: ``--kallsyms FILE``, ``--symfs DIR``, and the
    running system (``symbols.kallsyms.Host``)."""

    __slots__ = ("kallsyms", "symfs", "_host", "show_errors")

    def __init__(self, kallsyms: str | None = None, symfs: str | None = None, host=None, show_errors: bool = True):
        self.kallsyms, self.symfs, self.show_errors = kallsyms, symfs, show_errors
        self._host = host

    @property
    def host(self):
        """The running system (``symbols.kallsyms.Host``), made when first needed."""
        if self._host is None:
            from pyperf_probe.symbols.kallsyms import Host
            self._host = Host()
        return self._host


class KernelDso(Dso):
    """``[kernel.kallsyms]``: its symbols are absolute addresses (the map is the identity), never
    demangled (perf's demangle_kernel is off), loaded by the ``KernelSpace``."""

    __slots__ = ("space",)
    is_kernel = True            # perf's dso->kernel: script prints the address itself, not map-relative

    def __init__(self, long_name: str, order: int, build_id: str | None, symfs: str | None, space):
        super().__init__(long_name, order, build_id, symfs)
        self.space = space

    @property
    def has_symbols(self) -> bool:
        return True

    @property
    def loaded(self) -> bool:
        return self._loaded

    def _load(self) -> None:
        self._loaded = True
        self.symtab = self.space.load_kernel(self)

    def _disk_part(self, symbols: bool):
        return False

    def _display_name(self, name: str) -> str:
        return name

    def svma(self, file_offset: int) -> int | None:
        return file_offset

    def inline_names(self, file_offset: int) -> list[str]:
        return []

    def candidate_images(self) -> list[str]:
        return []


class BpfDso(KernelDso):
    """Code a KSYMBOL record announced (a BPF program's JIT image, ...): named after it, one symbol of the
    same name at its start, relative to its map (``machine__process_ksymbol_register``)."""

    __slots__ = ()

    def __init__(self, name: str, order: int, length: int, space):
        super().__init__(name, order, None, None, space)
        self.short_name = name
        from array import array
        from pyperf_probe.symbols.kallsyms import KernelSymbols
        # symbol__new(0, len, 0, 0, name): a local symbol, not a data object (report prints no "+0x")
        self.symtab = KernelSymbols(array("Q", [0]), array("Q", [length]), [name.encode()], b"t", name)
        self._loaded = True

    def _load(self) -> None:
        self._loaded = True


class ModuleDso(KernelDso):
    """A kernel module (short name ``[name]``): symbols relative to its map, from the kernel's kallsyms
    split (``add_symbols``), none of its own (see the module docstring)."""

    __slots__ = ("script_name",)

    def __init__(self, long_name: str, short: str, order: int, build_id: str | None, symfs: str | None, space,
                 script_name: str):
        super().__init__(long_name, order, build_id, symfs, space)
        self.short_name = short
        self.script_name = script_name

    def _load(self) -> None:
        self._loaded = True     # perf would read the .ko here

    def add_symbols(self, table) -> None:
        """Symbols moved here by the kernel's split; earlier answers are forgotten (perf looks again)."""
        self.symtab = table
        self._cache.clear()


def module_name(path: str) -> str:
    """``kmod_path__parse_name``: ``[name]`` as given, else the file name without ``.ko`` (and a
    compression suffix) in brackets, ``-`` made ``_``; a file that is not a ``.ko`` keeps its name."""
    base = path.rsplit("/", 1)[-1]
    if base.startswith("["):
        return base
    for ext in (".gz", ".xz", ".zst", ".bz2", ".lzma"):   # is_supported_compression
        if base.endswith(ext):
            base = base[:-len(ext)]
            break
    dot = base.rfind(".")
    if dot > 0 and base[dot:dot + 3] == ".ko":
        base = f"[{base[:dot]}]"
    return base.replace("-", "_")


def is_kernel_name(name: str) -> bool:
    """The kernel image's MMAP name (``[kernel.kallsyms]_text``): machine.c compares all but the last
    character of ``[kernel.kallsyms]``."""
    return name.startswith(KERNEL_NAME[:-1])


class KernelSpace:
    """The kernel maps of a session (perf's ``machine->kmaps`` with its vmlinux map): see the module
    docstring. ``find(avma)`` is the lookup for addresses in kernel mode."""

    def __init__(self, maps: Maps, dsos: Dsos, options: KernelOptions, arch=None):
        self.maps, self.dsos, self.options = maps, dsos, options
        self._arch = arch                   # the recording's arch, or a callable giving it (read when loading)
        self.kernel_map: Map | None = None
        self.ref_reloc: tuple[str, int] | None = None
        self.modules: dict[str, Map] = {}
        self.hit = False                    # a sample's own address was in the kernel's dso
        self.epoch = 0                      # bumped when an address may resolve otherwise than before
        self._running = False               # the kernel map is the running kernel's (no MMAP record)
        self._kernel_dso: KernelDso | None = None
        self._ksym_dsos: list = []          # dsos of KSYMBOL records (perf's dso__new: not in the dsos list)

    @property
    def settled(self) -> bool:
        """The kernel's symbols are loaded (or found missing): lookups give the same answers from now on."""
        return self._kernel_dso is not None and self._kernel_dso._loaded

    # --- records ----------------------------------------------------------------------------------------

    def process_mmap(self, rec) -> None:
        """``machine__process_kernel_mmap_event``."""
        name = rec.filename
        kernel = is_kernel_name(name)
        start, end = rec.start, (rec.start + rec.length) & U64_MAX
        build_id = getattr(rec, "build_id", None)
        if name.startswith("/") or (not kernel and name.startswith("[")):
            self._add_module(name, start, end, build_id)
        elif kernel:
            dso = self.kernel_dso()
            if build_id:
                dso.build_id = build_id.hex()
            self._set_kernel_map(start, end)
            self._running = False
            self.ref_reloc = (name[len(KERNEL_NAME):], rec.pgoff) if rec.pgoff else None

    def kernel_dso(self) -> KernelDso:
        if self._kernel_dso is None:
            self._kernel_dso = self.dsos.findnew(KERNEL_NAME)
        return self._kernel_dso

    def _set_kernel_map(self, start: int, end: int) -> None:
        """``machine__update_kernel_mmap``: a zero-sized map (start and end 0) covers everything."""
        if start == 0 and end == 0:
            end = U64_MAX
        if self.kernel_map is not None:
            self.maps.remove(self.kernel_map)
        self.kernel_map = Map(start, end, 0, self.kernel_dso(), identity=True)
        self.maps.insert(self.kernel_map)

    def _add_module(self, filename: str, start: int, end: int, build_id: bytes | None) -> None:
        short = module_name(filename)
        dso = self.dsos.findnew_module(filename, short, self)
        if build_id and not dso.build_id:
            dso.build_id = build_id.hex()
        mod_map = Map(start, end, 0, dso)
        self.maps.insert(mod_map)
        self.modules.setdefault(short, mod_map)

    def process_ksymbol(self, rec) -> None:
        """``machine__process_ksymbol``: a new map and dso for code that appeared where no map was (a map
        already there keeps its dso: pyperf does not add symbols to it), or the map taken away again
        (not the kernel's own)."""
        found = self.maps.find(rec.addr)
        if rec.flags & rec.UNREGISTER:
            if found is not None and found is not self.kernel_map:
                self.maps.remove(found)
                self.epoch += 1
            return
        if found is not None:
            log.debug(f"ksymbol {rec.name} at {rec.addr:#x} inside {found!r}: its symbol is not added")
            return
        dso = BpfDso(rec.name, len(self.dsos._by_name) + len(self._ksym_dsos), rec.len, self)
        self._ksym_dsos.append(dso)
        self.maps.insert(Map(rec.addr, (rec.addr + rec.len) & U64_MAX, 0, dso))

    # --- lookups ----------------------------------------------------------------------------------------

    def find(self, avma: int) -> Map | None:
        """``thread__find_map`` in kernel mode: the map holding ``avma``, its dso loaded (the kernel's
        load may move the map's bounds, and gives the modules their symbols)."""
        if self.kernel_map is None and not self._running:
            self._running_kernel_map()
            self.epoch += 1
        found = self.maps.find(avma)
        if found is not None and not found.dso._loaded:
            found.dso._load()
            if found.dso is self._kernel_dso:
                self.epoch += 1
        return found

    def _running_kernel_map(self) -> None:
        """``machine__create_kernel_maps`` for a file without a kernel MMAP: the running kernel's _text (or
        _stext) to its _edata (or _etext), none under kptr_restrict (then all addresses)."""
        self._running = True
        from pyperf_probe.symbols import kallsyms
        host = self.options.host
        start, end, ref = 0, U64_MAX, None
        restricted = host.kptr_restrict()
        if not host.restricted_filename(host.kallsyms, "/proc/kallsyms", restricted):
            try:   # (only the kernel's own lines are looked at: a copy of them does)
                parsed = self._running_core(for_load=False) or kallsyms.read(host.kallsyms)
            except OSError:
                parsed = None
            if parsed is not None:
                for name in REF_RELOC_NAMES:
                    addr = parsed.function_start(name)
                    if addr is not None:
                        start, ref = addr, (name, addr)
                        break
                if ref is not None:
                    last = parsed.function_start("_edata")
                    if last is None:
                        last = parsed.function_start("_etext")
                    if last is not None:
                        end = last
        dso = self.kernel_dso()
        if not dso.build_id:                # dso__read_running_kernel_build_id
            dso.build_id = host.kernel_build_id()
        self.ref_reloc = ref
        self._set_kernel_map(start, end)
        self._running = True

    # --- loading ----------------------------------------------------------------------------------------

    def load_kernel(self, dso: KernelDso):
        """``dso__load_kernel_sym``: the kernel's symbol table, or None (see the module docstring)."""
        from pyperf_probe.symbols import kallsyms
        path = self._kallsyms_path(dso)
        if path is None:
            return None
        host = self.options.host
        if host.restricted_filename(path, "/proc/kallsyms", host.kptr_restrict()):
            return None
        parsed = self._running_core() if path == host.kallsyms and self.options.kallsyms is None else None
        try:
            if parsed is None:
                parsed = kallsyms.read(path)
        except OSError as exc:
            log.debug(f"{path}: {exc.strerror}")
            return None
        arch = self._arch() if callable(self._arch) else self._arch
        x86_64 = (arch or os.uname().machine) == "x86_64"
        table = kallsyms.load(parsed, self.ref_reloc, self._module_target, x86_64, path)
        if table is None:
            log.debug(f"{path}: no {self.ref_reloc[0] if self.ref_reloc else '_text'}: no kernel symbols")
            return None
        log.debug(f"Using {path} for symbols")
        self._fixup_kernel_map(table)
        return table

    def _running_core(self, for_load: bool = True):
        """The running kernel's /proc/kallsyms as its copy in the build-id cache gives it, where that is the
        same load (``symbols.kallsyms.running_core`` says when the copy holds the same lines), else None.
        Only the kernel's own lines are taken from the copy: its dynamic lines (modules, BPF programs, ftrace
        and kprobe trampolines) are the recording's, not the running system's. They change nothing here when
        no module has a map (the split then drops every one of them) and they lie above every kernel symbol,
        as on x86_64 (the module area, where all of them are allocated, is above the kernel image; the last
        kernel symbol then ends at the same page boundary with or without them). Not ``for_load``: only
        names of the kernel's own symbols are looked up (``_running_kernel_map``), which no dynamic line has."""
        if for_load and (self.modules or os.uname().machine != "x86_64"):
            return None
        from pyperf_probe.symbols import kallsyms
        build_id = self.options.host.kernel_build_id()     # (the running kernel's copy, whatever was recorded)
        if not build_id:
            return None
        cache = os.path.join(buildid_cache_dir(), KERNEL_NAME, build_id)
        parsed = kallsyms.running_core(self.options.host, (os.path.join(cache, "kallsyms"), cache))
        if parsed is not None:
            log.debug(f"{self.options.host.kallsyms}: the kernel's lines from {cache}")
        return parsed

    def _kallsyms_path(self, dso: KernelDso) -> str | None:
        options = self.options
        if options.kallsyms is not None:
            return options.kallsyms
        if options.symfs:                   # "do not try local files if a symfs was given"
            return None
        host = options.host
        if not dso.build_id or host.kernel_build_id() == dso.build_id:
            return host.kallsyms
        cache = os.path.join(buildid_cache_dir(), KERNEL_NAME, dso.build_id)
        for path in (os.path.join(cache, "kallsyms"), cache):   # build_id_cache__kallsyms_path
            if os.path.exists(path):
                return path
        if options.show_errors:
            sys.stderr.write(f"No kallsyms or vmlinux with build-id {dso.build_id} was found\n")
        return None

    def _module_target(self, name: str):
        from pyperf_probe.symbols import kallsyms
        mod_map = self.modules.get(name)
        if mod_map is None:
            return None
        dso = mod_map.dso
        return kallsyms.ModuleTarget(mod_map.start, dso._loaded, lambda table: self._give_module(dso, table))

    def _give_module(self, dso: ModuleDso, table) -> None:
        """Symbols of the split for a module; one whose dso was loaded already (without them) gets new map
        objects, so that what was resolved through the old ones is looked up again, as perf does."""
        was_loaded = dso._loaded
        dso.add_symbols(table)
        if was_loaded:
            for old in [m for m in self.maps if m.dso is dso]:
                self.maps.remove(old)
                fresh = Map(old.start, old.end, old.pgoff, dso)
                self.maps.insert(fresh)
                for name, mod_map in self.modules.items():
                    if mod_map is old:
                        self.modules[name] = fresh

    def _fixup_kernel_map(self, table) -> None:
        """``map__fixup_start``/``map__fixup_end``: the kernel map spans its symbols."""
        first, last = table.first_start(), table.last_end()
        if first is None or self.kernel_map is None:
            return
        old = self.kernel_map
        self.maps.remove(old)
        self.kernel_map = Map(first, last, 0, old.dso, identity=True)
        self.maps.insert(self.kernel_map)

    # --- what report says of it -------------------------------------------------------------------------

    def restricted_warning(self) -> str | None:
        """``report__warn_kptr_restrict``'s text when a sample hit the kernel and there is no relocation
        symbol (the kernel's addresses were hidden at record time), else None."""
        if not self.hit or (self.ref_reloc is not None and self.ref_reloc[1]):
            return None
        dso = self._kernel_dso
        if dso is not None and dso.symtab is not None:
            desc = "If some relocation was applied (e.g. kexec) symbols may be misresolved."
        else:
            desc = "As no suitable kallsyms nor vmlinux was found, kernel samples\ncan't be resolved."
        return ("Kernel address maps (/proc/{kallsyms,modules}) were restricted.\n\n"
                "Check /proc/sys/kernel/kptr_restrict before running 'perf record'.\n\n"
                f"{desc}\n\nSamples in kernel modules can't be resolved as well.\n\n")


class KernelDsos(Dsos):
    """``Dsos`` whose kernel image and modules are ``KernelDso``/``ModuleDso`` of one ``KernelSpace``."""

    def __init__(self, build_ids: dict[str, str], symfs: str | None, kernel_files=frozenset()):
        super().__init__(build_ids, symfs)
        self.space: KernelSpace | None = None
        self._kernel_files = kernel_files  # the BUILD_ID table's kernel-mode names (modules by path)

    def findnew(self, long_name: str, build_id: bytes | None = None) -> Dso:
        if not long_name.startswith(KERNEL_NAME):
            return super().findnew(long_name, build_id)
        dso = self._by_name.get(KERNEL_NAME)
        if dso is None:
            bid = build_id.hex() if build_id else self._build_ids.get(KERNEL_NAME)
            dso = KernelDso(KERNEL_NAME, len(self._by_name), bid, self._symfs, self.space)
            self._by_name[KERNEL_NAME] = dso
        return dso

    def findnew_module(self, filename: str, short: str, space: KernelSpace) -> ModuleDso:
        """``dsos__findnew_module_dso``: one dso per module name; perf names it after the path when the
        BUILD_ID table made it (a kernel-mode entry), else ``[name]`` (what ``perf script`` prints)."""
        key = "\0module:" + short
        dso = self._by_name.get(key)
        if dso is None:
            header = filename in self._kernel_files
            bid = self._build_ids.get(filename) if header else None
            script_name = filename if header else short
            dso = ModuleDso(filename, short, len(self._by_name), bid, self._symfs, space, script_name)
            self._by_name[key] = dso
        return dso
