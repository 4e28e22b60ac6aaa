"""Where the symbols and debug info of an ELF image live: the image itself or a separate debug file.

perf tries, in this order (tools/perf/util/symbol.c ``binary_type_symtab[]`` and
``dso__read_binary_type_filename`` in dso.c), and keeps only files whose build-id equals the image's
(``symsrc__init``: "Always reject images with a mismatched build-id"):

1. DEBUGLINK: the ``.gnu_debuglink`` name as given (relative to the current directory), beside the file,
   in ``.debug/`` beside it, and in ``/usr/lib/debug/<dir>/``;
2. BUILD_ID_CACHE: ``~/.debug/.build-id/xx/rest`` -> ``../../<path>/<BUILDID>/elf``;
3. BUILD_ID_CACHE_DEBUGINFO: the same link's ``debug`` file;
4. FEDORA_DEBUGINFO: ``/usr/lib/debug/<path>.debug``;
5. UBUNTU_DEBUGINFO: ``/usr/lib/debug/<path>``;
6. BUILDID_DEBUGINFO: ``/usr/lib/debug/.build-id/xx/rest.debug``;
7. SYSTEM_PATH_DSO: the file itself.

``--symfs DIR`` prefixes every one of these paths (perf's ``__symbol__join_symfs``).
"""
from __future__ import annotations

import os
import stat

from pyperf_probe.errors import SymbolError
from pyperf_probe.symbols.elf import ElfImage, open_elf

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: importing collections.abc costs start-up time
    from collections.abc import Iterator

DEBUG_ROOT = "/usr/lib/debug"


def buildid_cache_dir() -> str:
    """perf's build-id cache (``--buildid-dir``; default ``~/.debug``: symbols.buildid_dir)."""
    from pyperf_probe.symbols.buildid_dir import cache_dir
    return cache_dir()


def _join_symfs(symfs: str | None, path: str) -> str:
    return os.path.join(symfs, path.lstrip("/")) if symfs else path


def _debuglink_candidates(image: ElfImage, symfs: str | None) -> Iterator[str]:
    link = image.debuglink
    if link is None:
        return
    name = link[0]
    dso_dir = os.path.dirname(_join_symfs(symfs, os.path.abspath(image.path)))
    yield name
    yield os.path.join(dso_dir, name)
    yield os.path.join(dso_dir, ".debug", name)
    yield DEBUG_ROOT + os.path.dirname(os.path.abspath(image.path)) + "/" + name


def _buildid_cache_candidates(build_id: str) -> Iterator[str]:
    link = os.path.join(buildid_cache_dir(), ".build-id", build_id[:2], build_id[2:])
    try:
        target = os.readlink(link)
    except OSError:
        return
    target_dir = os.path.normpath(os.path.join(os.path.dirname(link), target))
    yield os.path.join(target_dir, "elf")
    yield os.path.join(target_dir, "debug")


def candidate_files(image: ElfImage, symfs: str | None = None) -> list[str]:
    """Every path perf would try for ``image``'s symbols, in perf's order, ending with the image itself
    (existence and build-ids are not checked here)."""
    path = os.path.abspath(image.path)
    out = list(_debuglink_candidates(image, symfs))
    bid = image.build_id
    if bid:
        out += list(_buildid_cache_candidates(bid))
    out.append(_join_symfs(symfs, DEBUG_ROOT + path + ".debug"))
    out.append(_join_symfs(symfs, DEBUG_ROOT + path))
    if bid:
        out.append(_join_symfs(symfs, f"{DEBUG_ROOT}/.build-id/{bid[:2]}/{bid[2:]}.debug"))
    out.append(_join_symfs(symfs, path))
    return out


def iter_matching_images(image: ElfImage, symfs: str | None = None) -> Iterator[ElfImage]:
    """The ELF files that exist among :func:`candidate_files` and carry ``image``'s build-id (all of them
    when the image has none), in perf's order, opened one at a time as the caller asks for them. The image
    itself is always last."""
    bid = image.build_id
    seen = set()            # (device, inode) of the files given: one file reached by two paths counts once
    for cand in candidate_files(image, symfs):
        identity = _file_identity(cand)
        if identity is None or identity in seen:
            continue
        try:
            other = open_elf(cand)
        except SymbolError:
            continue
        if bid is not None and other.build_id != bid:
            continue
        seen.add(identity)
        yield other
    if _file_identity(image.path) not in seen:
        yield image


def _file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a regular file, None for anything else or nothing (one stat, no realpath)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def matching_images(image: ElfImage, symfs: str | None = None) -> list[ElfImage]:
    """:func:`iter_matching_images` as a list."""
    return list(iter_matching_images(image, symfs))


def find_debug_file(image: ElfImage, symfs: str | None = None) -> str | None:
    """The first separate file with ``image``'s build-id that has a ``.symtab`` or ``.debug_info``
    (``/usr/lib/debug/.build-id/xx/rest.debug``, ``~/.debug`` cache, ``.gnu_debuglink``), or None."""
    own = os.path.realpath(image.path)
    for other in matching_images(image, symfs):
        if os.path.realpath(other.path) == own:
            continue
        if other.section(".symtab") is not None or other.section(".debug_info") is not None:
            return other.path
    return None
