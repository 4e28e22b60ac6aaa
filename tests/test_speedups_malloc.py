"""perfdata/speedups.py large_blocks_unmapped: glibc's mmap threshold at LARGE_BLOCK inside (the C accelerator's
malloc_mmap_threshold: mallopt), READ_BLOCK past it, so that the large blocks a symbol table is read into leave
the process once freed, and the reader's chunks are reused from the heap."""
import subprocess
import sys

import pytest

from pyperf_probe.perfdata.speedups import speedups

CODE = r"""
import ctypes, sys
from pyperf_probe.perfdata import speedups as s
def on_heap(block):
    at = ctypes.addressof(ctypes.c_char.from_buffer(block))
    with open("/proc/self/maps") as f:
        heap = [tuple(int(x, 16) for x in line.split()[0].split("-")) for line in f if line.rstrip().endswith("[heap]")]
    return int(any(lo <= at < hi for lo, hi in heap))
first = bytearray(1 << 20)   # (mapped by glibc; freed: its dynamic threshold rises to 1 MiB)
del first
if sys.argv[1] == "fixed":
    with s.large_blocks_unmapped:
        with s.large_blocks_unmapped:
            inner = bytearray(200 << 10)
        outer = bytearray(200 << 10)
    after = bytearray(2 << 20)
    print(on_heap(inner), on_heap(outer), on_heap(after))
else:
    print(on_heap(bytearray(200 << 10)))
"""


@pytest.mark.skipif(speedups is None or not hasattr(speedups, "malloc_mmap_threshold"), reason="no C accelerator")
def test_large_blocks_get_their_own_mapping():
    """Inside large_blocks_unmapped (nested too) a 200 KiB block is mapped on its own (unmapped when freed),
    even after a free of 1 MiB; past it a 2 MiB block (below READ_BLOCK) comes from the heap; with glibc's
    dynamic threshold, raised by that free, a 200 KiB block comes from the brk heap, whose freed pages stay
    resident while anything lives above them."""
    assert speedups.malloc_mmap_threshold(0) is False
    on_heap = {mode: subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True,
                                    check=True).stdout.strip() for mode in ("fixed", "dynamic")}
    assert on_heap == {"fixed": "0 0 1", "dynamic": "1"}
