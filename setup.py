"""setup.cfg holds the metadata; this file only declares the optional C loops (pyperf_probe/perfdata/_speedups*.c:
one extension, a file per area, _speedups.h shared).

``optional=True``: without a C compiler or Python's headers the build goes on without it, and
perfdata.sample_keys and perfdata.ordered use their Python code (same results, slower on large files:
bench/report).
"""
from glob import glob

from setuptools import Extension, setup

setup(ext_modules=[Extension("pyperf_probe.perfdata._speedups", sorted(glob("pyperf_probe/perfdata/_speedups*.c")),
                             depends=["pyperf_probe/perfdata/_speedups.h"], optional=True)])
