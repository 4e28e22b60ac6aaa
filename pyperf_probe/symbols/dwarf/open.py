"""Which file holds the DWARF of an ELF image, in perf's probe-finder order (``debuginfo__new``).

perf tries the distribution debug files (``distro_dwarf_types[]``: Fedora ``/usr/lib/debug/PATH.debug``,
Ubuntu ``/usr/lib/debug/PATH``, OpenEmbedded ``DIR/.debug/NAME``, ``/usr/lib/debug/.build-id/xx/rest.debug``;
perf's "mixed-up Ubuntu" variant only matters for kernel modules), then the image itself, and keeps the first that has DWARF.
``--symfs DIR`` prefixes each path. Unlike perf, a debug file whose build-id differs from the image's is
skipped (a stale libc6-dbg would otherwise give wrong addresses without a word).
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable, Iterator  # not typing: ~5 ms that a warm DWARF report need not import

DEBUG_ROOT = "/usr/lib/debug"


def symfs_path(symfs: str | None, path: str) -> str:
    """``path`` under ``--symfs DIR`` (perf's ``__symbol__join_symfs``), or ``path`` without one."""
    return os.path.join(symfs, path.lstrip("/")) if symfs else path


def _build_id(path: str) -> str | None:
    from pyperf_probe.errors import SymbolError
    from pyperf_probe.symbols.elf import open_elf
    try:
        return open_elf(path).build_id
    except (SymbolError, OSError):
        return None


def candidates(path: str, build_id: str | None, symfs: str | None) -> Iterator[str]:
    """perf's ``distro_dwarf_types`` paths for ``path``, then ``path`` itself."""
    path = os.path.abspath(path)
    yield symfs_path(symfs, DEBUG_ROOT + path + ".debug")
    yield symfs_path(symfs, DEBUG_ROOT + path)
    yield symfs_path(symfs, os.path.join(os.path.dirname(path), ".debug", os.path.basename(path)))
    if build_id:
        yield symfs_path(symfs, f"{DEBUG_ROOT}/.build-id/{build_id[:2]}/{build_id[2:]}.debug")
    yield symfs_path(symfs, path)


class ElfOpener:
    """A factory of the pyelftools ELFFile of one file with DWARF (made, and pyelftools imported, on the
    first call only), with ``image``: the file as pyperf's own reader opens it, from which DwarfInfo reads
    the sections of inline-frame lookups without pyelftools (~60 ms to import, ~30 ms more to read libc's
    debug file's section headers through construct)."""

    __slots__ = ("path", "image", "_elf")

    def __init__(self, path: str, image):
        self.path, self.image, self._elf = path, image, None

    def __call__(self):
        if self._elf is None:
            from elftools.elf.elffile import ELFFile
            self._elf = ELFFile(open(self.path, "rb"))
        return self._elf


def _opener(path: str) -> Callable | None:
    """An ELFFile factory (:class:`ElfOpener`) for ``path`` when it is an ELF file with a non-empty
    ``.debug_info``."""
    from pyperf_probe.errors import SymbolError
    from pyperf_probe.symbols.elf import SHT_NOBITS, open_elf
    try:
        image = open_elf(path)
    except (SymbolError, OSError, ValueError):
        return None
    sec = image.section(".debug_info")
    if sec is None or sec.sh_type == SHT_NOBITS or sec.size == 0:
        return None
    return ElfOpener(path, image)


def dwarf_file_for(path: str, symfs: str | None = None) -> tuple[str, str | None, Callable] | None:
    """(path of the file with the DWARF, the image's build-id, a factory of its pyelftools ELFFile), or None
    when neither a debug file nor the image has DWARF."""
    image = symfs_path(symfs, os.path.abspath(path))
    build_id = _build_id(image)
    for cand in candidates(path, build_id, symfs):
        if not os.path.isfile(cand):
            continue
        if cand != image and build_id and _build_id(cand) not in (None, build_id):
            continue
        opener = _opener(cand)
        if opener is not None:
            return cand, build_id, opener
    return None
