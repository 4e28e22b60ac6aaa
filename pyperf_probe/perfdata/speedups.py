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


# (128 KiB: glibc's own initial threshold, kept fixed; see _speedups.c malloc_mmap_threshold)
LARGE_BLOCK = 128 * 1024


def unmap_large_blocks() -> None:
    """Have glibc give every block of LARGE_BLOCK bytes or more its own mapping, returned to the system when
    freed (``malloc_mmap_threshold``): report and script call it first, for their peak RSS. Nothing without
    the C accelerator."""
    if speedups is not None and hasattr(speedups, "malloc_mmap_threshold"):
        speedups.malloc_mmap_threshold(LARGE_BLOCK)
