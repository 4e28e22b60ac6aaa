"""setup.cfg holds the metadata; this file only declares the optional C loops (pyperf_probe/perfdata/_speedups.c).

``optional=True``: without a C compiler or Python's headers the build goes on without it, and
perfdata.sample_keys and perfdata.ordered use their Python code (same results, slower on large files:
bench/report).
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("pyperf_probe.perfdata._speedups", ["pyperf_probe/perfdata/_speedups.c"],
                             optional=True)])
