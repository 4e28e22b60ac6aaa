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
