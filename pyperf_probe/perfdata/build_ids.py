"""Build-ids of the DSOs a recording hit, for the BUILD_ID feature section.

Files are read through ``symbols.elf`` (NT_GNU_BUILD_ID); the kernel's comes from /sys/kernel/notes. The
``[vdso]`` is not a file: like perf
(util/vdso.c, which copies it out of its own address space), we read this process's vdso image from
/proc/self/mem; the kernel maps the same image into every 64-bit process.
"""
from __future__ import annotations

from pyperf_probe import lazylog as log
from pyperf_probe.errors import SymbolError

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Iterable


def vdso_bytes() -> bytes | None:
    """This process's vdso image (what perf copies out of its own memory), or None."""
    try:
        with open("/proc/self/maps") as f:
            line = next((ln for ln in f if ln.rstrip().endswith("[vdso]")), None)
        if line is None:
            return None
        lo, _, hi = line.split()[0].partition("-")
        start, end = int(lo, 16), int(hi, 16)
        with open("/proc/self/mem", "rb") as mem:
            mem.seek(start)
            return mem.read(end - start)
    except (OSError, ValueError):
        return None


def vdso_build_id() -> str | None:
    from pyperf_probe.symbols import elf
    raw = vdso_bytes()
    if not raw:
        return None
    try:
        # The vdso is mapped exactly as its file image, so file offsets are offsets into these bytes.
        return elf.ElfImage("[vdso]", raw, elf._parse_header("[vdso]", raw)).build_id
    except SymbolError:
        return None


def kernel_build_id() -> str | None:
    """The running kernel's build-id, from the ELF notes in /sys/kernel/notes (as perf's
    ``sysfs__read_build_id``)."""
    from pyperf_probe.symbols import elf
    return elf.notes_build_id("/sys/kernel/notes")


def lookup(names: Iterable[str]) -> list[tuple[str, bytes]]:
    """(name, build-id bytes) for each DSO that has one; others are skipped with a debug message."""
    from pyperf_probe.symbols import elf
    out = []
    for name in names:
        try:
            if name == "[vdso]":
                hex_id = vdso_build_id()
            elif name == "[kernel.kallsyms]":
                hex_id = kernel_build_id()
            else:
                hex_id = elf.open_elf(name).build_id
        except SymbolError as exc:
            log.debug("no build-id for %s: %s", name, exc)
            continue
        if hex_id:
            out.append((name, bytes.fromhex(hex_id)))
    return out
