"""pyperf_probe.codebundle: modules served from the one-file bundle while their sources are the ones it was
built from, and by the standard finders as soon as they are not (edited, added, removed, bundle missing,
damaged or of another interpreter); code objects name their real file (moved packages included); runpy,
inspect and __cached__ work as for a .pyc. Each check runs in a fresh interpreter: the finder is process-wide."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "golden" / "report" / "data" / "mt.data"
INIT = """from pyperf_probe import codebundle as _cb
_cb.install(__name__, __path__[0])
"""


def make_package(where: Path) -> Path:
    pkg = where / "bpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text(INIT)
    (pkg / "a.py").write_text("VALUE = 'a1'\n\ndef where():\n    return where.__code__.co_filename\n")
    (pkg / "sub" / "__init__.py").write_text("VALUE = 'sub'\n")
    (pkg / "sub" / "b.py").write_text("from bpkg.a import VALUE as A\nVALUE = A + 'b'\n")
    (pkg / "main.py").write_text("print('ran as', __name__)\n")
    return pkg


def build(pkg: Path) -> Path:
    subprocess.run([sys.executable, "-c", f"from pyperf_probe import codebundle; print(codebundle.build({str(pkg)!r}))"],
                   check=True, cwd=ROOT, capture_output=True)
    from pyperf_probe.codebundle import bundle_path
    return Path(bundle_path(str(pkg)))


def probe(where: Path, names=("bpkg.a", "bpkg.sub", "bpkg.sub.b")) -> dict:
    """In a fresh interpreter: each module's loader class, file, __cached__ and a value from it."""
    code = f"""
import importlib, json, sys
sys.path[:0] = [{str(where)!r}, {str(ROOT)!r}]
out = {{}}
for name in {list(names)!r}:
    try:
        m = importlib.import_module(name)
    except ImportError as e:
        out[name] = ["ImportError", type(e).__name__]
        continue
    out[name] = [type(m.__loader__).__name__, m.__file__, m.__cached__,
                 m.VALUE,
                 m.where() if hasattr(m, "where") else None]
print(json.dumps(out))
"""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                     env=env).stdout)


def test_served_from_the_bundle(tmp_path):
    pkg = make_package(tmp_path)
    assert build(pkg).exists()
    got = probe(tmp_path)
    assert got["bpkg.a"] == ["BundleLoader", str(pkg / "a.py"), str(pkg / "__pycache__" / "a.cpython-311.pyc"),
                             "a1", str(pkg / "a.py")]
    assert got["bpkg.sub"][0] == "BundleLoader" and got["bpkg.sub"][1:4] == [
        str(pkg / "sub" / "__init__.py"), str(pkg / "sub" / "__pycache__" / "__init__.cpython-311.pyc"), "sub"]
    assert got["bpkg.sub.b"][0] == "BundleLoader" and got["bpkg.sub.b"][3] == "a1b"


def test_without_a_bundle_the_standard_finders(tmp_path):
    make_package(tmp_path)
    got = probe(tmp_path)
    assert {v[0] for v in got.values()} == {"SourceFileLoader"}
    assert got["bpkg.sub.b"][3] == "a1b"


def test_an_edited_module_is_read_from_its_source(tmp_path):
    pkg = make_package(tmp_path)
    build(pkg)
    (pkg / "a.py").write_text("VALUE = 'a2'\n\ndef where():\n    return where.__code__.co_filename\n")
    got = probe(tmp_path)
    assert got["bpkg.a"][0] == "SourceFileLoader" and got["bpkg.a"][3] == "a2"
    assert got["bpkg.sub"][0] == "BundleLoader"
    assert got["bpkg.sub.b"][0] == "BundleLoader" and got["bpkg.sub.b"][3] == "a2b"  # (it imports the new a)


def test_same_size_edit_is_seen_by_its_mtime(tmp_path):
    pkg = make_package(tmp_path)
    build(pkg)
    st = os.stat(pkg / "a.py")
    (pkg / "a.py").write_text("VALUE = 'a3'\n\ndef where():\n    return where.__code__.co_filename\n")
    assert os.stat(pkg / "a.py").st_size == st.st_size
    os.utime(pkg / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert probe(tmp_path)["bpkg.a"][3] == "a3"


def test_removed_and_added_modules(tmp_path):
    pkg = make_package(tmp_path)
    build(pkg)
    (pkg / "sub" / "b.py").unlink()
    (pkg / "c.py").write_text("VALUE = 'c'\n")
    got = probe(tmp_path, ("bpkg.sub.b", "bpkg.c"))
    assert got["bpkg.sub.b"] == ["ImportError", "ModuleNotFoundError"]
    assert got["bpkg.c"][0] == "SourceFileLoader" and got["bpkg.c"][3] == "c"


@pytest.mark.parametrize("damage", ["truncated", "magic", "empty"])
def test_a_damaged_bundle_is_not_used(tmp_path, damage):
    pkg = make_package(tmp_path)
    bundle = build(pkg)
    raw = bundle.read_bytes()
    bundle.write_bytes({"truncated": raw[:40], "magic": b"\0\0\0\0" + raw[4:], "empty": b""}[damage])
    got = probe(tmp_path)
    assert {v[0] for v in got.values()} == {"SourceFileLoader"} and got["bpkg.sub.b"][3] == "a1b"


def test_a_bundle_truncated_in_its_code_falls_back_per_module(tmp_path):
    pkg = make_package(tmp_path)
    bundle = build(pkg)
    raw = bundle.read_bytes()
    bundle.write_bytes(raw[:len(raw) - 10])  # (the index reads; the last module's code does not)
    got = probe(tmp_path, ("bpkg.a", "bpkg.sub", "bpkg.sub.b"))
    assert all(v[3] in ("a1", "sub", "a1b") for v in got.values())


def test_a_moved_package_names_its_new_files(tmp_path):
    pkg = make_package(tmp_path / "old")
    build(pkg)
    new = tmp_path / "new"
    shutil.copytree(tmp_path / "old", new, copy_function=shutil.copy2)  # (mtimes kept: the bundle is valid)
    shutil.rmtree(tmp_path / "old")
    got = probe(new)
    assert got["bpkg.a"][0] == "BundleLoader"
    assert got["bpkg.a"][1] == got["bpkg.a"][4] == str(new / "bpkg" / "a.py")


def test_runpy_and_inspect(tmp_path):
    pkg = make_package(tmp_path)
    build(pkg)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    out = subprocess.run([sys.executable, "-m", "bpkg.main"], capture_output=True, text=True, env=env, check=True)
    assert out.stdout == "ran as __main__\n"
    code = "import bpkg, bpkg.a, inspect; print(type(bpkg.a.__loader__).__name__); print(inspect.getsource(bpkg.a.where))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.startswith("BundleLoader\ndef where():\n")


def test_the_package_report_through_its_bundle(tmp_path):
    """A copy of pyperf_probe with its bundle: the report path's modules come from it, and the text is the
    text without it."""
    copy = tmp_path / "pkg"
    shutil.copytree(ROOT / "pyperf_probe", copy / "pyperf_probe", copy_function=shutil.copy2,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for so in (ROOT / "pyperf_probe" / "perfdata").glob("_speedups*.so"):
        shutil.copy2(so, copy / "pyperf_probe" / "perfdata" / so.name)
    env = dict(os.environ, PYTHONPATH=str(copy), PYPERF_CACHE_DIR=str(tmp_path / "cache"))
    argv = [sys.executable, "-c", "import sys; from pyperf_probe.cli import main; sys.exit(main())", "report",
            "--stdio", "--no-children", "--sort", "comm,dso,sym", "-g", "flat", "-i", str(DATA)]
    run = dict(capture_output=True, text=True, env=env, check=True, cwd=tmp_path)  # (not this tree's package)
    plain = subprocess.run(argv, **run).stdout
    subprocess.run([sys.executable, "-c", "from pyperf_probe import codebundle; codebundle.main()"], **run)
    check = ("import sys; from pyperf_probe import cmd_report, session; "
             "print(type(cmd_report.__loader__).__name__, type(session.__loader__).__name__, session.__file__)")
    out = subprocess.run([sys.executable, "-c", check], **run).stdout
    assert out.split() == ["BundleLoader", "BundleLoader", str(copy / "pyperf_probe" / "session" / "__init__.py")]
    bundled = subprocess.run(argv, **run).stdout
    strip = lambda text: [line for line in text.splitlines() if not line.startswith("# (Tip:")]  # noqa: E731
    assert strip(bundled) == strip(plain) and "Samples" in plain


def test_a_bundle_that_cannot_be_written_is_one_line(tmp_path):
    """make compile's step on a package whose __pycache__ cannot be a directory: one line, status 1, nothing
    left behind (the package's modules then come from the standard finders)."""
    pkg = make_package(tmp_path)
    (pkg / "__pycache__").write_text("")
    out = subprocess.run([sys.executable, "-c", f"import sys; from pyperf_probe import codebundle; "
                          f"sys.exit(codebundle.main({str(pkg)!r}))"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == f"codebundle: cannot write {pkg / '__pycache__' / 'bundle.cpython-311.bin'}\n"
    assert sorted(p.name for p in pkg.iterdir()) == ["__init__.py", "__pycache__", "a.py", "main.py", "sub"]
    assert probe(tmp_path)["bpkg.sub.b"][::3] == ["SourceFileLoader", "a1b"]
