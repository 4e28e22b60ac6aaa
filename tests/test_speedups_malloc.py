"""perfdata/speedups.py unmap_large_blocks: glibc's mmap threshold fixed at LARGE_BLOCK for report and script
(the C accelerator's malloc_mmap_threshold: mallopt), so that their large freed blocks leave the process."""
import subprocess
import sys

import pytest

from pyperf_probe.perfdata.speedups import speedups

CODE = r"""
import ctypes, sys
from pyperf_probe.perfdata import speedups as s
if sys.argv[1] == "fixed":
    s.unmap_large_blocks()
first = bytearray(1 << 20)   # (mapped by glibc; freed: its dynamic threshold rises to 1 MiB)
del first
block = bytearray(200 << 10)
at = ctypes.addressof(ctypes.c_char.from_buffer(block))
with open("/proc/self/maps") as f:
    heap = [tuple(int(x, 16) for x in line.split()[0].split("-")) for line in f if line.rstrip().endswith("[heap]")]
print(int(any(lo <= at < hi for lo, hi in heap)))
"""


@pytest.mark.skipif(speedups is None or not hasattr(speedups, "malloc_mmap_threshold"), reason="no C accelerator")
def test_large_blocks_get_their_own_mapping():
    """With the fixed threshold a 200 KiB block is mapped on its own (unmapped when freed), even after a
    free of 1 MiB; with glibc's dynamic threshold, raised by that free, it comes from the brk heap, whose
    freed pages stay resident while anything lives above them."""
    assert speedups.malloc_mmap_threshold(0) is False
    on_heap = {mode: subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True,
                                    check=True).stdout.strip() for mode in ("fixed", "dynamic")}
    assert on_heap == {"fixed": "0", "dynamic": "1"}
