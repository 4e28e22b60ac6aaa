"""pyperf buildid-cache and pyperf list sdt: the ~/.debug cache perf makes, byte for byte, checked against the
goldens made by real perf (tests/golden/sdt/make_goldens.sh) and live against perf. Every test uses a
scratch HOME: the real ~/.debug is never touched."""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest
from tick_helpers import TICK, golden_tick

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden", "sdt")
PERF = "/usr/bin/perf"
SYSTEM_FILES = ["/usr/bin/python3.11", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib/x86_64-linux-gnu/libc.so.6", "/bin/true"]


def golden(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return f.read()


def layout(root):
    """The make_goldens.sh `layout` listing: type, path, link target or mode and md5."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            paths.append(os.path.join(dirpath, name))
    out = []
    for p in sorted("./" + os.path.relpath(p, root) for p in paths):
        full = os.path.join(root, p)
        if os.path.islink(full):
            out.append(f"L {p} -> {os.readlink(full)}")
        elif os.path.isdir(full):
            out.append(f"D {p} {os.stat(full).st_mode & 0o777:o}")
        else:
            with open(full, "rb") as f:
                digest = hashlib.md5(f.read()).hexdigest()
            out.append(f"F {p} {os.stat(full).st_mode & 0o777:o} {digest}")
    return "".join(line + "\n" for line in out)


def probes_listing(root):
    out = []
    for line in layout(root).splitlines():
        if line.startswith("F ") and line.split()[1].endswith("/probes") and os.path.getsize(
                os.path.join(root, line.split()[1])):
            out.append(f"== {line.split()[1]}\n")
            with open(os.path.join(root, line.split()[1])) as f:
                out.append(f.read())
    return "".join(out)


def tool(cmd, home, *args, check=True):
    env = dict(os.environ, HOME=str(home), PYTHONPATH=ROOT)
    argv = [PERF] if cmd == "perf" else [sys.executable, "-m", "pyperf_probe"]
    proc = subprocess.run(argv + list(args), env=env, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_system_binaries_cached_as_perf_caches_them(tmp_path):
    tool("pyperf", tmp_path, "buildid-cache", "--add", ",".join(SYSTEM_FILES))
    debug = str(tmp_path / ".debug")
    assert layout(debug) == golden("system.layout")
    assert probes_listing(debug) == golden("system.probes")
    assert tool("pyperf", tmp_path, "buildid-cache", "--list").stdout == golden("system.buildid-list")
    assert tool("pyperf", tmp_path, "list", "sdt").stdout == golden("system.list-sdt")
    assert tool("pyperf", tmp_path, "list", "sdt_libstdcxx:*").stdout == golden("system.list-glob")
    assert tool("pyperf", tmp_path, "list", "sdt_python:gc__*", "sdt_*:*throw").stdout == golden(
        "system.list-globs")


@pytest.mark.skipif(not os.path.exists(TICK), reason="make workloads builds tick")
def test_tick_cached_as_perf_caches_it(tmp_path):
    from pyperf_probe.symbols.elf import open_elf

    if open_elf(TICK).build_id != golden("tick.build-id").strip():
        pytest.skip("this tick was built differently from the goldens' (other compiler?): see the live test")
    with golden_tick() as path:
        tool("pyperf", tmp_path, "buildid-cache", "--add", path)
        debug = str(tmp_path / ".debug")
        assert layout(debug) == golden("tick.layout")
        assert probes_listing(debug) == golden("tick.probes")
        assert tool("pyperf", tmp_path, "buildid-cache", "-l").stdout == golden("tick.buildid-list")
        assert tool("pyperf", tmp_path, "list", "sdt").stdout == golden("tick.list-sdt")


@pytest.fixture
def fresh_tick(tmp_path):
    """A copy of tick at a path of its own (so the cache directories name it)."""
    if not os.path.exists(TICK):
        pytest.skip("make workloads builds tick")
    path = str(tmp_path / "bin" / "tick_copy")
    os.makedirs(os.path.dirname(path))
    shutil.copy(TICK, path)
    return path


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")
def test_live_add_remove_purge_equal_perf(tmp_path, fresh_tick):
    homes = {t: tmp_path / t for t in ("perf", "pyperf")}
    for t, home in homes.items():
        tool(t, home, "buildid-cache", "--add", fresh_tick)
    assert layout(str(homes["pyperf"] / ".debug")) == layout(str(homes["perf"] / ".debug"))
    for t, home in homes.items():
        tool(t, home, "buildid-cache", "--remove", fresh_tick)
    assert layout(str(homes["pyperf"] / ".debug")) == layout(str(homes["perf"] / ".debug"))
    for t, home in homes.items():
        tool(t, home, "buildid-cache", "--add", fresh_tick + ",/bin/true")
        tool(t, home, "buildid-cache", "--purge", fresh_tick)
    assert layout(str(homes["pyperf"] / ".debug")) == layout(str(homes["perf"] / ".debug"))
    assert tool("pyperf", homes["pyperf"], "buildid-cache", "--list").stdout == \
        tool("perf", homes["perf"], "buildid-cache", "--list").stdout


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")
def test_one_cache_shared_by_perf_and_pyperf(tmp_path, fresh_tick):
    tool("perf", tmp_path, "buildid-cache", "--add", fresh_tick)
    assert tool("pyperf", tmp_path, "list", "sdt").stdout == tool("perf", tmp_path, "list", "sdt").stdout
    tool("pyperf", tmp_path, "buildid-cache", "--add", "/usr/bin/python3.11")
    assert "sdt_python:function__entry" in tool("perf", tmp_path, "list", "sdt").stdout
    assert tool("pyperf", tmp_path, "buildid-cache", "-l").stdout == \
        tool("perf", tmp_path, "buildid-cache", "-l").stdout


def test_a_rebuilt_binary_is_listed_under_its_new_build_id_only(tmp_path, fresh_tick):
    """The old build-id stays cached (perf keeps it until --purge) but is no longer valid: --list and
    list sdt show only what the file at that path is now."""
    tool("pyperf", tmp_path, "buildid-cache", "--add", fresh_tick)
    with open(fresh_tick, "r+b") as f:          # a new build-id: flip a byte of the GNU build-id note
        from pyperf_probe.symbols.elf import open_elf
        image = open_elf(fresh_tick)
        note = image.section(".note.gnu.build-id")
        f.seek(note.file_offset + note.size - 1)
        last = f.read(1)
        f.seek(note.file_offset + note.size - 1)
        f.write(bytes([last[0] ^ 0xFF]))
    tool("pyperf", tmp_path, "buildid-cache", "--add", fresh_tick)
    listed = tool("pyperf", tmp_path, "buildid-cache", "--list").stdout.splitlines()
    assert len(listed) == 1 and listed[0].endswith(" " + fresh_tick)
    assert len(os.listdir(str(tmp_path / ".debug") + fresh_tick)) == 2
    assert tool("pyperf", tmp_path, "list", "sdt").stdout.count("[SDT event]") == 4
    tool("pyperf", tmp_path, "buildid-cache", "--purge", fresh_tick)
    assert os.listdir(str(tmp_path / ".debug") + fresh_tick) == []


@pytest.mark.parametrize("make,reason", [
    (lambda d: os.path.join(d, "missing"), "No such file or directory"),
    (lambda d: _write(os.path.join(d, "text"), b"hello\n"), "is not an ELF file"),
])
def test_bad_files_one_line_and_nonzero(tmp_path, make, reason):
    path = make(str(tmp_path))
    proc = tool("pyperf", tmp_path, "buildid-cache", "--add", path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Couldn't add {path}: ") and reason in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not os.path.exists(tmp_path / ".debug" / ".build-id")


def test_binary_without_build_id(tmp_path):
    src = tmp_path / "x.c"
    src.write_text("int main(void) { return 0; }\n")
    exe = str(tmp_path / "nobid")
    subprocess.run(["gcc", "-Wl,--build-id=none", "-o", exe, str(src)], check=True)
    proc = tool("pyperf", tmp_path, "buildid-cache", "--add", exe, check=False)
    assert proc.returncode == 1 and "has no build-id" in proc.stderr


def test_list_is_exclusive_and_usage_errors(tmp_path):
    proc = tool("pyperf", tmp_path, "buildid-cache", "-l", "-a", "/bin/true", check=False)
    assert proc.returncode == 129 and proc.stderr.startswith("  Error: -l is exclusive.")
    assert tool("pyperf", tmp_path, "buildid-cache", check=False).returncode == 129
    assert tool("pyperf", tmp_path, "buildid-cache", "--remove", "/bin/true").stderr == ""   # not cached: quiet


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_copy_when_a_hard_link_is_impossible(tmp_path, fresh_tick, monkeypatch):
    """Across file systems link() fails (EXDEV): perf copies the file with mode 0755; so does pyperf."""
    import errno

    from pyperf_probe.symbols.buildid_cache import BuildIdCache

    def no_link(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    cached = BuildIdCache(str(tmp_path / ".debug")).add(fresh_tick)
    assert os.stat(cached.elf).st_ino != os.stat(fresh_tick).st_ino
    assert os.stat(cached.elf).st_mode & 0o777 == 0o755
    with open(cached.elf, "rb") as a, open(fresh_tick, "rb") as b:
        assert a.read() == b.read()
    assert [n for n in os.listdir(cached.dir) if ".tmp" in n] == []


def test_probe_cache_keeps_other_entries_and_merges_markers(tmp_path):
    """`perf probe --cache` entries ('#') survive a rescan; a marker found again gains its lines, sorted
    and without duplicates (perf's strlist)."""
    from pyperf_probe.symbols import probe_cache

    path = str(tmp_path / "probes")
    with open(path, "w") as f:
        f.write("#probe_libc:malloc=malloc\np:probe_libc/malloc /x:0x10\n"
                "%sdt_a:b=b\np:sdt_a/b /x:0x30\n")
    entries = probe_cache.merge_sdt(probe_cache.load(path), [
        ("sdt_a", "b", "p:sdt_a/b /x:0x20"), ("sdt_a", "b", "p:sdt_a/b /x:0x30"), ("sdt_a", "c", "p:sdt_a/c /x:0x40")])
    probe_cache.save(path, entries)
    with open(path) as f:
        assert f.read() == ("#probe_libc:malloc=malloc\np:probe_libc/malloc /x:0x10\n"
                            "%sdt_a:b=b\np:sdt_a/b /x:0x20\np:sdt_a/b /x:0x30\n"
                            "%sdt_a:c=c\np:sdt_a/c /x:0x40\n")
    assert [(e.group, e.event, e.sdt) for e in probe_cache.load(path)] == [
        ("probe_libc", "malloc", False), ("sdt_a", "b", True), ("sdt_a", "c", True)]


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")
def test_update_and_purge_all_equal_perf(tmp_path, fresh_tick):
    homes = {t: tmp_path / t for t in ("perf", "pyperf")}
    for t, home in homes.items():
        tool(t, home, "buildid-cache", "--add", fresh_tick + ",/bin/true")
        tool(t, home, "buildid-cache", "--update", fresh_tick)
    assert layout(str(homes["pyperf"] / ".debug")) == layout(str(homes["perf"] / ".debug"))
    for t, home in homes.items():
        tool(t, home, "buildid-cache", "--purge-all")
    assert layout(str(homes["pyperf"] / ".debug")) == layout(str(homes["perf"] / ".debug"))
    assert tool("pyperf", homes["pyperf"], "buildid-cache", "-l").stdout == ""
