"""The package's compiled modules in one file, found by a meta-path finder: what ``import`` costs, cut.

A ``pyperf report`` imports ~58 of the package's modules before it reads a sample. Through the standard path
finder each costs a directory check, a stat of the source, an open, fstat, read and close of its ``.pyc``
and the Python code around them: ~110 us a module on the VMs the benches run on (57 empty modules: 6-9 ms),
against perf's whole flat report of a 75K-sample file in ~100 ms (bench/report). ``make compile`` writes
every module's code object, marshalled as ``compileall`` writes it, into one file of the package's
``__pycache__`` (``build``); :func:`install` (run by the package's ``__init__``) puts a finder before the
standard ones that serves a module from that file at the price of one ``stat`` of its source and one
``pread``: the start-up of a report and its imports measured 0.92x without it (bench/report_imports).

It is a cache as ``.pyc`` files are, validated the same way (PEP 3147): a module is served only while its
source has the size and mtime (ns) recorded when the bundle was written, for the interpreter's magic number
and optimisation level; anything else (a module edited, added or removed since ``make compile``, a bundle
missing, truncated or of another Python) is left to the standard finders, module by module. The loader is
a ``SourceFileLoader`` (source, filename, resources and ``runpy`` work as usual); only ``get_code`` reads the
bundle, and fixes each code object's file name as importlib does for a ``.pyc`` (``_imp._fix_co_filename``).

No library does this: zipimport reads zip archives (slower than the files: it decompresses and rebuilds
its index per archive), and the stdlib's own frozen modules need a rebuilt interpreter.

    python -c 'from pyperf_probe import codebundle; codebundle.main()'    # what make compile runs
"""
from __future__ import annotations

import _imp
import marshal
import os
import sys
# (importlib's bootstrap modules, loaded with the interpreter: importlib.util would import contextlib,
# collections and functools, ~11 ms)
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER, SourceFileLoader, cache_from_source

_VERSION = 2
_HEAD = 32  # magic (4), version (4), optimize (4), index length (8), padding to 32


def bundle_path(package_dir: str) -> str:
    """Where the bundle of the package in ``package_dir`` lives (its ``__pycache__``, by cache tag)."""
    return os.path.join(package_dir, "__pycache__", f"bundle.{sys.implementation.cache_tag}.bin")


def _header(index_size: int) -> bytes:
    return (MAGIC_NUMBER + _VERSION.to_bytes(4, "little") + sys.flags.optimize.to_bytes(4, "little")
            + index_size.to_bytes(8, "little")).ljust(_HEAD, b"\0")


_CODE = type(_header.__code__)
_Module = type(sys)


def build(package_dir: str) -> str:
    """Write the bundle of every module under ``package_dir`` (its path); atomic: a reader sees the old
    file or the new one. A module that does not compile is left out (its import reports the error)."""
    package_dir = os.path.abspath(package_dir)
    root, package = os.path.split(package_dir)
    index, blobs, offset = {}, [], 0
    for folder, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for file in sorted(files):
            if not file.endswith(".py"):
                continue
            path = os.path.join(folder, file)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            st = os.stat(path)
            with open(path, "rb") as f:
                source = f.read()
            try:
                code = compile(source, path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                continue
            blob = marshal.dumps(code)
            index[name] = (st.st_mtime_ns, st.st_size, offset, len(blob), is_package)
            blobs.append(blob)
            offset += len(blob)
    head = marshal.dumps(index)
    out = bundle_path(package_dir)
    from pyperf_probe import cachefile  # (its atomic write; imported here, not at every start-up)
    if not cachefile.write(os.path.dirname(out), os.path.basename(out), _header(len(head)) + head + b"".join(blobs)):
        raise OSError(f"cannot write {out}")
    os.chmod(out, 0o644)  # (a cache entry is its user's; the bundle is read by every user, as .pyc files are)
    return out


class BundleLoader(SourceFileLoader):
    """A source module's loader whose ``get_code`` reads the bundle (the rest is ``SourceFileLoader``'s)."""

    def __init__(self, fullname: str, path: str, bundle: str, where: tuple):
        super().__init__(fullname, path)
        self._bundle = bundle
        self._where = where  # (offset, length) of the marshalled code in the bundle

    def create_module(self, spec):
        """The module with ``__file__`` and ``__cached__`` set (importlib sets them only after asking for each
        with ``getattr``: a miss formats an AttributeError, ~3,000 instructions a module)."""
        module = _Module(spec.name)
        module.__file__, module.__cached__ = spec.origin, spec.cached
        return module

    def get_code(self, fullname: str):
        if fullname == self.name:
            code = _read_code(self._bundle, *self._where)
            if code is not None:
                _imp._fix_co_filename(code, self.path)
                return code
        return super().get_code(fullname)


def _read_code(bundle: str, offset: int, length: int):
    """The code object at ``offset`` of the bundle, or None (the file changed or went: the .pyc path)."""
    try:
        fd = os.open(bundle, os.O_RDONLY | os.O_CLOEXEC)
        try:
            blob = os.pread(fd, length, offset)
        finally:
            os.close(fd)
        code = marshal.loads(blob) if len(blob) == length else None
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return code if type(code) is _CODE else None


class BundleFinder:
    """The meta-path finder of one package's bundle (see the module docstring)."""

    def __init__(self, package: str, package_dir: str, bundle: str, index: dict, base: int):
        self.package, self.package_dir, self.bundle = package, package_dir.rstrip("/") or "/", bundle
        self._index, self._base = index, base
        self._prefix = package + "."
        self._pyc = cache_from_source("x.py")[len(os.path.join("__pycache__", "x")):]  # ".cpython-311.pyc"

    def find_spec(self, fullname: str, path=None, target=None):
        if not fullname.startswith(self._prefix):
            return None
        entry = self._index.get(fullname)
        if entry is None:
            return None
        mtime_ns, size, offset, length, is_package = entry
        # (the file names follow from the module's: the index stays small, ~60 bytes a module; joined with
        # "/", POSIX's separator, as os.path.join would, at a fifth of its cost)
        folder = self.package_dir + "/" + fullname[len(self._prefix):].replace(".", "/")
        if is_package:
            base = "__init__"
        else:
            folder, _, base = folder.rpartition("/")
        source = folder + "/" + base + ".py"
        try:
            st = os.stat(source)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None
        loader = BundleLoader(fullname, source, self.bundle, (self._base + offset, length))
        spec = ModuleSpec(fullname, loader, origin=source, is_package=is_package)
        spec.has_location = True
        spec.cached = folder + "/__pycache__/" + base + self._pyc  # (else computed: ~15 us a module)
        if is_package:
            spec.submodule_search_locations = [folder]
        return spec

    def invalidate_caches(self) -> None:
        pass


def install(package: str, package_dir: str) -> BundleFinder | None:
    """Put the finder of ``package``'s bundle first on ``sys.meta_path`` (once); None, and nothing done, when
    there is no bundle of this interpreter's magic number and optimisation level."""
    for finder in sys.meta_path:
        if isinstance(finder, BundleFinder) and finder.package == package:
            return finder
    bundle = bundle_path(package_dir)
    try:
        fd = os.open(bundle, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        head = os.pread(fd, _HEAD, 0)
        size = int.from_bytes(head[12:20], "little")
        if len(head) != _HEAD or head != _header(size):
            return None
        raw = os.pread(fd, size, _HEAD)
        index = marshal.loads(raw) if len(raw) == size else None
    except (OSError, EOFError, ValueError, TypeError):
        return None
    finally:
        os.close(fd)
    if type(index) is not dict:
        return None
    finder = BundleFinder(package, package_dir, bundle, index, _HEAD + size)
    sys.meta_path.insert(0, finder)
    return finder


def main(package_dir: str | None = None) -> int:
    """``make compile``'s step: (re)write the bundle of this package (or of the one in ``package_dir``); one line
    on stderr and status 1 when it cannot."""
    try:
        build(package_dir or os.path.dirname(os.path.abspath(__file__)))
    except OSError as exc:
        sys.stderr.write(f"codebundle: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
