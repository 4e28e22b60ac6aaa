"""The build-id cache, ``~/.debug``, laid out exactly as perf lays it out (tools/perf/util/build-id.c), so
perf and pyperf share it::

    ~/.debug/.build-id/e7/3f96ea98...51c9 -> ../../tmp/tick/e73f96ea98...51c9      (symlink)
    ~/.debug/tmp/tick/e73f96ea98...51c9/elf        the binary (hard link, or a copy across file systems)
    ~/.debug/tmp/tick/e73f96ea98...51c9/debug      its separate debug file, when /usr/lib/debug has one
    ~/.debug/tmp/tick/e73f96ea98...51c9/probes     the probe cache: SDT markers (symbols/probe_cache.py)
    ~/.debug/[kernel.kallsyms]/32a7f3ba...0e/kallsyms   the running kernel's /proc/kallsyms (perf record)
    ~/.debug/[vdso]/9e188025...6d/{vdso,probes}         the vdso image perf record found mapped

``~/.debug`` is the default root: ``pyperf --buildid-dir DIR`` moves it (symbols/buildid_dir.py).
The per-path directory uses the real path of the file (symlinks resolved), as perf's ``nsinfo__realpath``.
A cached build-id is *valid* when the file at its original path still has that build-id
(``build_id_cache__valid_id``); ``--list``, ``perf list sdt`` and SDT lookups only use valid ones.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
import shutil
import string
from typing import List, Optional

from pyperf_probe.errors import SymbolError
from pyperf_probe.symbols import probe_cache

BUILD_ID_DIR = ".build-id"
SYSTEM_DEBUG_DIR = "/usr/lib/debug/.build-id"
KERNEL_NAME = "[kernel.kallsyms]"
VDSO_NAME = "[vdso]"
# SBUILD_ID_SIZE (20 bytes * 2 + 1) and SBUILD_ID_MIN_SIZE (8 bytes * 2 + 1): the lengths lsdir accepts
_TAIL_MIN, _TAIL_MAX = 17 - 3, 41 - 3
_HEX = frozenset(string.hexdigits)


def default_root() -> str:
    """perf's ``buildid_dir``: ``pyperf --buildid-dir DIR``, else ``$HOME/.debug`` (symbols.buildid_dir)."""
    from pyperf_probe.symbols.buildid_dir import cache_dir
    return cache_dir()


@dataclasses.dataclass(frozen=True)
class CachedFile:
    """A cached binary: its build-id, the path it was added from, and its cache directory."""

    build_id: str
    origname: str
    dir: str

    @property
    def elf(self) -> str:
        return os.path.join(self.dir, "elf")

    @property
    def probes(self) -> str:
        return os.path.join(self.dir, probe_cache.PROBES_FILE)


class BuildIdCache:
    """One cache root (``~/.debug`` unless told otherwise). Methods raise :class:`SymbolError`."""

    def __init__(self, root: Optional[str] = None):
        self.root = root or default_root()

    # --- naming (build-id.c: build_id_cache__linkname, __cachedir, __origname) -------------------------
    def linkname(self, build_id: str) -> str:
        return os.path.join(self.root, BUILD_ID_DIR, build_id[:2], build_id[2:])

    def cachedir(self, build_id: str, realname: str) -> str:
        return f"{self.root}{realname}/{build_id}"

    def is_cached(self, build_id: str) -> bool:
        """``build_id_cache__cached``: the link exists and resolves."""
        return os.path.exists(self.linkname(build_id))

    def origname(self, build_id: str) -> Optional[str]:
        """The path the build-id was cached from: the link reads ``../..<origpath>/<build-id>``."""
        try:
            target = os.readlink(self.linkname(build_id))
        except OSError:
            return None
        cut = target.rfind("/")
        if cut <= 5:
            return None
        offs = 6 if target[6:7] == "[" else 5      # "[kernel.kallsyms]": not a path
        return target[offs:cut]

    def entry(self, build_id: str) -> Optional[CachedFile]:
        origname = self.origname(build_id)
        if origname is None:
            return None
        return CachedFile(build_id, origname, os.path.join(os.path.dirname(self.linkname(build_id)),
                                                           os.readlink(self.linkname(build_id))))

    # --- listing ----------------------------------------------------------------------------------------
    def list_all(self, valid_only: bool = True) -> List[str]:
        """Every cached build-id, sorted (``build_id_cache__list_all``); with ``valid_only`` only those whose
        original file still has that build-id."""
        top = os.path.join(self.root, BUILD_ID_DIR)
        try:
            heads = sorted(d for d in os.listdir(top) if len(d) == 2 and set(d) <= _HEX)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SymbolError(f"Failed to read {top}: {exc.strerror}", errno=exc.errno) from None
        found = []
        for head in heads:
            try:
                tails = sorted(os.listdir(os.path.join(top, head)))
            except OSError:
                continue                         # not a directory: not perf's layout, skip it as perf does
            for tail in tails:
                if _TAIL_MIN <= len(tail) <= _TAIL_MAX and set(tail) <= _HEX:
                    found.append(head + tail)
        if valid_only:
            found = [b for b in found if self.is_valid(b)]
        return sorted(found)

    def is_valid(self, build_id: str) -> bool:
        origname = self.origname(build_id)
        if not origname or not origname.startswith("/"):
            return False
        return file_build_id(origname, quiet=True) == build_id

    def entries(self, valid_only: bool = True) -> List[CachedFile]:
        return [e for e in (self.entry(b) for b in self.list_all(valid_only)) if e is not None]

    def list_build_ids(self, path: str) -> List[str]:
        """The build-ids cached under one path (``build_id_cache__list_build_ids``), sorted."""
        try:
            return sorted(n for n in os.listdir(f"{self.root}{_realpath(path)}") if not n.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []

    # --- adding -----------------------------------------------------------------------------------------
    def add(self, path: str) -> CachedFile:
        """``perf buildid-cache --add``: cache the file under its build-id, its debug file if the system has
        one, and its SDT markers in the probe cache. Adding a cached file again refreshes its markers."""
        build_id = file_build_id(path)
        realname = _realpath(path)
        dir_name = self._new_dir(self.cachedir(build_id, realname))
        _link_or_copy(realname, os.path.join(dir_name, "elf"))
        debugfile = _system_debug_file(build_id)
        if debugfile and not realname.endswith(".ko"):
            _link_or_copy(debugfile, os.path.join(dir_name, "debug"))
        self._link(build_id, dir_name)
        cached = CachedFile(build_id, realname, dir_name)
        self._scan_sdt(cached, realname)
        return cached

    def add_kernel(self, build_id: str, kallsyms: str = "/proc/kallsyms") -> str:
        """What perf record caches for the running kernel: ``[kernel.kallsyms]/<build-id>/kallsyms``, a copy
        of /proc/kallsyms (mode 0755, perf's ``copyfile``), no probe cache. Returns the directory."""
        dir_name = self._new_dir(f"{self.root}/{KERNEL_NAME}/{build_id}")
        _link_or_copy(kallsyms, os.path.join(dir_name, "kallsyms"))
        self._link(build_id, dir_name)
        return dir_name

    def add_vdso(self, build_id: str, image: bytes) -> str:
        """What perf record caches for the ``[vdso]``: ``[vdso]/<build-id>/vdso`` and an empty ``probes``.
        perf writes the image it copied from its own memory to ``/tmp/perf-vdso.so-XXXXXX`` (util/vdso.c)
        and links that file into the cache (a copy, mode 0755, across file systems); so does this.
        Returns the directory."""
        import tempfile
        dir_name = self._new_dir(f"{self.root}/{VDSO_NAME}/{build_id}")
        fd, tmp = tempfile.mkstemp(prefix="perf-vdso.so-", dir="/tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(image)
            _link_or_copy(tmp, os.path.join(dir_name, "vdso"))
            self._link(build_id, dir_name)
            self._scan_sdt(CachedFile(build_id, VDSO_NAME, dir_name), tmp)
        finally:
            os.unlink(tmp)
        return dir_name

    @staticmethod
    def _new_dir(dir_name: str) -> str:
        if os.path.isfile(dir_name):            # the old layout: a file where the directory goes
            os.unlink(dir_name)
        _makedirs(dir_name)
        return dir_name

    def _link(self, build_id: str, dir_name: str) -> None:
        link = self.linkname(build_id)
        _makedirs(os.path.dirname(link))
        try:
            os.symlink("../.." + dir_name[len(self.root):], link)
        except FileExistsError:
            pass                                 # perf keeps an existing link (pr_debug only)
        except OSError as exc:
            raise SymbolError(f"Failed to link {link}: {exc.strerror}", errno=exc.errno) from None

    def _scan_sdt(self, cached: CachedFile, realname: str) -> None:
        from pyperf_probe.symbols.elf import open_elf
        from pyperf_probe.symbols.sdt import probe_command, read_sdt_notes

        if not os.path.exists(cached.probes):
            open(cached.probes, "a").close()     # perf opens it O_CREAT even when there is no marker
            os.chmod(cached.probes, 0o644)
        notes = read_sdt_notes(open_elf(realname))
        if not notes:
            return
        found = []
        for note in notes:
            try:
                found.append((note.group, note.name, probe_command(note, realname)))
            except SymbolError:
                return                           # perf drops the whole scan on an invalid argument size
        entries = probe_cache.merge_sdt(probe_cache.load(cached.probes), found)
        probe_cache.save(cached.probes, entries)

    # --- removing ---------------------------------------------------------------------------------------
    def remove(self, build_id: str) -> bool:
        """``build_id_cache__remove_s``: drop the link and the per-path build-id directory. False when the
        build-id is not cached."""
        link = self.linkname(build_id)
        if not os.path.exists(link):
            return False
        target = os.path.join(os.path.dirname(link), os.readlink(link))
        os.unlink(link)
        shutil.rmtree(target, ignore_errors=True)
        return True

    def remove_file(self, path: str) -> Optional[str]:
        """``--remove FILE``: remove the file's current build-id; returns it, or None if it was not cached."""
        build_id = file_build_id(path)
        return build_id if self.remove(build_id) else None

    def purge(self, path: str) -> List[str]:
        """``--purge FILE``: remove every build-id cached for that path (old versions too)."""
        return [b for b in self.list_build_ids(path) if self.remove(b)]

    def purge_all(self) -> List[str]:
        return [b for b in self.list_all(valid_only=False) if self.remove(b)]


def _realpath(path: str) -> str:
    return os.path.realpath(path)


def file_build_id(path: str, quiet: bool = False) -> Optional[str]:
    """The NT_GNU_BUILD_ID of a file as hex; SymbolError (or None when ``quiet``) if it has none."""
    from pyperf_probe.symbols.elf import open_elf

    try:
        build_id = open_elf(path).build_id
    except SymbolError:
        if quiet:
            return None
        raise
    if build_id is None and not quiet:
        raise SymbolError(f"{path} has no build-id (link it with -Wl,--build-id)", errno=errno_mod.ENODATA)
    return build_id


def _makedirs(path: str) -> None:
    try:
        os.makedirs(path, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise SymbolError(f"Failed to create {path}: {exc.strerror}", errno=exc.errno) from None


def _link_or_copy(src: str, dst: str) -> None:
    """perf: ``link(src, dst)``, else a copy with mode 0755 (``copyfile``); an existing ``dst`` is kept."""
    if os.path.exists(dst):
        return
    try:
        os.link(src, dst)
        return
    except FileExistsError:
        return
    except OSError:
        pass
    tmp = f"{dst}.tmp{os.getpid()}"
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dst)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SymbolError(f"Failed to copy {src} to {dst}: {exc.strerror}", errno=exc.errno) from None


def _system_debug_file(build_id: str) -> Optional[str]:
    """``build_id_cache__find_debug``: /usr/lib/debug/.build-id/xx/rest.debug, resolved, if readable."""
    path = os.path.realpath(os.path.join(SYSTEM_DEBUG_DIR, build_id[:2], build_id[2:] + ".debug"))
    return path if os.access(path, os.R_OK) else None
