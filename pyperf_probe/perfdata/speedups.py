"""The optional C loops of the report's reading path (``_speedups.c``: its comment says what each does).

``speedups`` is the compiled module, or None when setup.py could not build it (no C compiler or no
Python headers) or when ``PYPERF_PURE_PYTHON`` is set in the environment; its users (``sample_keys``,
``ordered``) then run their Python code, which gives the same results more slowly (bench/report).
"""
import os

try:
    if os.environ.get("PYPERF_PURE_PYTHON"):
        raise ImportError("PYPERF_PURE_PYTHON is set")
    from pyperf_probe.perfdata import _speedups as speedups
except ImportError:
    speedups = None

LARGE_BLOCK = 128 * 1024  # glibc's own initial threshold
READ_BLOCK = 4 << 20  # above perfdata.stream's chunks (1 MiB and a header), reused from the heap
_MALLOPT = getattr(speedups, "malloc_mmap_threshold", None)


class LargeBlocksUnmapped:
    """``with large_blocks_unmapped:`` -- the blocks of LARGE_BLOCK bytes or more that glibc hands out inside get a
    mapping of their own, returned to the system when freed (the C accelerator's ``malloc_mmap_threshold``,
    mallopt); past the outermost block, those below READ_BLOCK come from the heap again. symbols.symtab
    reads and sorts a table inside: a cold report's sections, columns and sort scratch (cc1's: 2 MB of
    .dynsym and .dynstr, ~1.5 MB of columns) are then unmapped when the table is released, where on the brk
    heap their pages stayed resident under later blocks (make.data --no-children sets: peak RSS 1.4-1.8 MiB
    over the warm report's; perf's own by up to 1.3). Not the whole run: the reader's 1 MiB chunks, mapped
    afresh for each one, took a DWARF report from 8K page faults to 59K. Nothing without the accelerator."""

    __slots__ = ("depth",)

    def __init__(self):
        self.depth = 0

    def __enter__(self):
        if self.depth == 0 and _MALLOPT is not None:
            _MALLOPT(LARGE_BLOCK)
        self.depth += 1
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0 and _MALLOPT is not None:
            _MALLOPT(READ_BLOCK)
        return False


large_blocks_unmapped = LargeBlocksUnmapped()
