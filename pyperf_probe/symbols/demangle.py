"""C++ symbol demangling as perf 6.1 does it.

Debian's perf 6.1 is built without libbfd and links libiberty's ``cplus_demangle`` statically
(``HAVE_CPLUS_DEMANGLE_SUPPORT``, tools/perf/util/symbol-elf.c ``demangle_sym``), with ``DMGL_NO_OPTS``
unless -v is given (``DMGL_PARAMS | DMGL_ANSI``): ``perf probe -F`` and ``perf report`` show
``std::vector<int, std::allocator<int> >::push_back``, without the parameter list.

pyperf calls the same libiberty function through the C accelerator (``_speedups.cplus_demangle``), which
links libiberty's static archive as perf does when it was built with libiberty-dev (``demangle_linked``), else
dlopens the copy binutils' shared ``libbfd-*.so`` exports (~0.6 ms and ~1 MiB mapped, for the first cold
report of a C++ program); through ctypes where the accelerator is not built (ctypes' import is ~4 ms). Without libbfd,
libstdc++'s ``__cxa_demangle`` (always with parameters) is used and the parameters and qualifiers are cut
off to get libiberty's no-options form. Results are cached: report calls this per symbol.
"""
from __future__ import annotations

import os

from pyperf_probe.perfdata.speedups import speedups

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

DMGL_NO_OPTS = 0
DMGL_PARAMS = 1 << 0
DMGL_ANSI = 1 << 1
_LIBBFD_GLOBS = ("/usr/lib/x86_64-linux-gnu/libbfd-*.so", "/usr/lib64/libbfd-*.so", "/usr/lib/libbfd-*.so")


def _load_libc_free() -> Callable:
    import ctypes
    libc = ctypes.CDLL(None)
    free = libc.free
    free.argtypes = [ctypes.c_void_p]
    free.restype = None
    return free


def _matching(pattern: str) -> list[str]:
    """``sorted(glob.glob(pattern))`` for a pattern ``DIR/PREFIX*SUFFIX`` (_LIBBFD_GLOBS'), without
    importing glob (and re, enum, fnmatch with it: ~5 ms of the first cold report of a C++ program)."""
    folder, name = os.path.split(pattern)
    prefix, suffix = name.split("*")
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(os.path.join(folder, n) for n in names
                  if n.startswith(prefix) and n.endswith(suffix) and len(n) >= len(prefix) + len(suffix))


def _ld_cache_matching(cache: str = "/etc/ld.so.cache") -> list[str]:
    """The libbfd-*.so paths the dynamic loader's cache lists (ldconfig's: every library of the trusted
    folders), sorted by name: found in its 40 KB (~0.1 ms) where listing /usr/lib/x86_64-linux-gnu takes
    ~0.7 ms. Only paths that exist are given; none when there is no cache (then _matching's listings)."""
    try:
        with open(cache, "rb") as f:
            data = f.read()
    except OSError:
        return []
    found = set()
    at = data.find(b"/libbfd-")
    while at >= 0:
        start, end = data.rfind(b"\0", 0, at) + 1, data.find(b"\0", at)
        path = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace")
        if path.startswith("/") and path.endswith(".so") and os.path.exists(path):
            found.add(path)
        at = data.find(b"/libbfd-", at + 1)
    return sorted(found, key=lambda path: (os.path.basename(path), path))


def _candidates():
    """Where libbfd may be: the loader cache's entries, then the folders' (_LIBBFD_GLOBS)."""
    yield from _ld_cache_matching()
    for pattern in _LIBBFD_GLOBS:
        yield from _matching(pattern)


def _load_cplus_demangle() -> Callable[[bytes, int], str | None] | None:
    c_demangle = getattr(speedups, "cplus_demangle", None)
    if c_demangle is not None and getattr(speedups, "demangle_linked", 0):
        def linked(name: bytes, flags: int, _f=c_demangle) -> str | None:
            return _f("", [name], flags)[0]
        return linked
    for path in _candidates():
        if c_demangle is not None:
            try:
                c_demangle(path, [], 0)  # (loads it, or OSError)
            except OSError:
                continue

            def c_call(name: bytes, flags: int, _f=c_demangle, _path=path) -> str | None:
                return _f(_path, [name], flags)[0]
            return c_call
        import ctypes
        try:
            lib = ctypes.CDLL(path)
            func = lib.cplus_demangle
        except (OSError, AttributeError):
            continue
        func.argtypes = [ctypes.c_char_p, ctypes.c_int]
        func.restype = ctypes.c_void_p
        free = _load_libc_free()

        def call(name: bytes, flags: int, _f=func, _free=free) -> str | None:
            ptr = _f(name, flags)
            if not ptr:
                return None
            try:
                return ctypes.string_at(ptr).decode("utf-8", "replace")
            finally:
                _free(ptr)
        return call
    return None


def _load_cxa_demangle() -> Callable[[bytes, int], str | None] | None:
    import ctypes
    import ctypes.util  # (subprocess, shutil, tempfile: ~20 ms, only without libbfd)
    path = ctypes.util.find_library("stdc++")
    if path is None:
        return None
    try:
        func = ctypes.CDLL(path).__cxa_demangle
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    func.restype = ctypes.c_void_p
    free = _load_libc_free()

    def call(name: bytes, flags: int) -> str | None:
        if not name.startswith(b"_Z"):
            return None
        status = ctypes.c_int(0)
        ptr = func(name, None, None, ctypes.byref(status))
        if not ptr or status.value != 0:
            return None
        try:
            text = ctypes.string_at(ptr).decode("utf-8", "replace")
        finally:
            free(ptr)
        return text if flags & DMGL_PARAMS else strip_params(text)
    return call


_BACKEND: list = []  # [the backend] once looked for (no functools on the report's path)


def _backend() -> Callable[[bytes, int], str | None] | None:
    if not _BACKEND:
        _BACKEND.append(_load_cplus_demangle() or _load_cxa_demangle())
    return _BACKEND[0]


def strip_params(text: str) -> str:
    """``int max<int>(int, int) const`` -> ``max<int>``: what libiberty prints without DMGL_PARAMS for a
    name __cxa_demangle printed in full (used only when libbfd is missing)."""
    end = _params_start(text)
    if end is None:
        return text
    head = text[:end]
    depth, start = 0, 0
    for i, ch in enumerate(head):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == " " and depth == 0 and not head[:i].endswith("operator"):
            start = i + 1
    return head[start:]


def _params_start(text: str) -> int | None:
    """Index of the '(' opening the outermost trailing parameter list, or None."""
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            depth -= 1
            if depth == 0:
                return i if i > 0 and not text[:i].endswith("operator") else None
    return None


_DEMANGLED: dict[tuple[str, bool], str] = {}
_CACHE_LIMIT = 65536


def demangle(name: str, params: bool = False) -> str:
    """``name`` demangled as perf shows it (``params=True``: as ``perf -v`` shows it); unchanged when it is
    not a mangled C++ name or no demangler is available. Kept per (name, params), at most _CACHE_LIMIT
    (then all dropped at once)."""
    got = _DEMANGLED.get((name, params))
    if got is not None:
        return got
    backend = _backend()
    if backend is None:
        return name
    flags = DMGL_PARAMS | DMGL_ANSI if params else DMGL_NO_OPTS
    out = backend(name.encode(), flags)
    got = out if out is not None else name
    if len(_DEMANGLED) >= _CACHE_LIMIT:
        _DEMANGLED.clear()
    _DEMANGLED[(name, params)] = got
    return got
