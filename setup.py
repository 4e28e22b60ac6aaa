"""setup.cfg holds the metadata; this file only declares the optional C loops (pyperf_probe/perfdata/_speedups*.c:
one extension, a file per area, _speedups.h shared).

``optional=True``: without a C compiler or Python's headers the build goes on without it, and
perfdata.sample_keys and perfdata.ordered use their Python code (same results, slower on large files:
bench/report).
"""
import os
import sysconfig
from glob import glob


def libiberty() -> dict:
    """The build options that link libiberty's static archive (Debian's libiberty-dev) for its cplus_demangle,
    as perf 6.1 links it (symbols/demangle.py), when the archive and its header are there; none (the C code
    then dlopens libbfd's copy) otherwise. --exclude-libs keeps the archive's symbols out of the module's
    exports."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    header = "/usr/include/libiberty/demangle.h"
    for folder in (os.path.join("/usr/lib", multiarch), "/usr/lib64", "/usr/lib"):
        archive = os.path.join(folder, "libiberty.a")
        if os.path.exists(archive) and os.path.exists(header):
            return {"define_macros": [("PYPERF_LIBIBERTY", "1")], "extra_objects": [archive],
                    "extra_link_args": ["-Wl,--exclude-libs,libiberty.a"]}
    return {}


def cc_flags() -> list[str]:
    """``libiberty()``'s options as a C compiler's arguments (bench/shapes.py builds its copies with them)."""
    options = libiberty()
    return ([f"-D{name}={value}" for name, value in options.get("define_macros", [])]
            + options.get("extra_objects", []) + options.get("extra_link_args", []))


if __name__ == "__main__":  # (setuptools runs this file as __main__; bench/shapes.py imports it for cc_flags)
    from setuptools import Extension, setup
    setup(ext_modules=[Extension("pyperf_probe.perfdata._speedups", sorted(glob("pyperf_probe/perfdata/_speedups*.c")),
                                 depends=["pyperf_probe/perfdata/_speedups.h"], optional=True, **libiberty())])
