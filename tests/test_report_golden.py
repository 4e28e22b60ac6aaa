"""`pyperf report` against real perf 6.1's own output, byte for byte (tests/golden/report/, made by
make_goldens.sh there): every case of cases.txt, stdout, stderr and exit status.

Two things are masked because perf itself does not repeat them: the random `# (Tip: ...)` line and a
` (inlined)` after `[...]` (perf prints an uninitialized flag there; see the goldens' README)."""
import os
import re
import shutil

import pytest

from pyperf_probe import cli

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "report")
MTIME = 1767225600  # 2026-01-01 00:00:00 UTC, as make_goldens.sh touched the files ("captured on")
NOT_OWNED_UID = 4242


def _cases():
    with open(os.path.join(GOLDEN, "cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, data, args = line.rstrip("\n").split("|")
                yield pytest.param(name, data, args, id=name)


@pytest.fixture(scope="module")
def golden_env(tmp_path_factory, report_symfs):
    root = tmp_path_factory.mktemp("report_golden")
    (root / "symfs").symlink_to(report_symfs)
    data = root / "data"
    shutil.copytree(os.path.join(GOLDEN, "data"), data)
    for name in os.listdir(data):
        os.utime(data / name, (MTIME, MTIME))
    (root / "home").mkdir()
    return root



def _normalize(text: str) -> str:
    text = re.sub(r"^# \((Tip: .*|Cannot load tips\.txt file, please install perf!)\)$", "# (TIP)", text,
                  flags=re.M)
    return text.replace("[...] (inlined)", "[...]")


def _expected(name: str, ext: str) -> str:
    with open(os.path.join(GOLDEN, "expected", f"{name}.{ext}")) as f:
        return f.read()


@pytest.mark.parametrize("name,data,args", list(_cases()))
def test_report_equals_perf(name, data, args, golden_env, monkeypatch, capsys, utc, speedups_or_not):
    monkeypatch.setenv("HOME", str(golden_env / "home"))
    if data == "none":
        path = str(golden_env / "does-not-exist.data")
    else:
        path = str(golden_env / "data" / data)
    if data == "notowned.data":
        if os.geteuid() != 0:
            pytest.skip("needs root to give the file to another user")
        os.chown(path, NOT_OWNED_UID, NOT_OWNED_UID)
    rc = cli.main(["report", "-i", path, "--symfs", str(golden_env / "symfs")] + args.split())
    out, err = capsys.readouterr()
    assert _normalize(out) == _normalize(_expected(name, "out"))
    assert rc == int(_expected(name, "rc"))
    assert err.replace(path, "INPUT") == _expected(name, "err")


@pytest.mark.parametrize("name", ["mt_cds_flat_nochildren", "mt_default"])
def test_cold_report_releases_its_symbol_tables(name, golden_env, monkeypatch, capsys, utc, tmp_path):
    """A cold report (empty cache: the symbol tables are read) lets every table go once its samples are
    resolved (report.builder: SymbolTable.release, for the memory of Hists.finish's peak), reads none of
    them again before it ends, and prints perf's text."""
    from pyperf_probe.session import resolved_cache
    from pyperf_probe.symbols import symtab
    _, data, args = next(p.values for p in _cases() if p.id == name)
    monkeypatch.setattr(resolved_cache, "_LOADED", {})  # (this process's answers of earlier reports: none)
    monkeypatch.setenv("HOME", str(golden_env / "home"))
    monkeypatch.setenv("PYPERF_CACHE_DIR", str(tmp_path / "cache"))
    symtab._CACHE.clear()
    restored = []
    real_restore = symtab.SymbolTable._restore
    monkeypatch.setattr(symtab.SymbolTable, "_restore", lambda table: restored.append(table) or real_restore(table))
    rc = cli.main(["report", "-i", str(golden_env / "data" / data), "--symfs", str(golden_env / "symfs")]
                  + args.split())
    out, _ = capsys.readouterr()
    assert rc == 0 and _normalize(out) == _normalize(_expected(name, "out"))
    tables = list(symtab._CACHE.values())
    assert tables and all(t._columns is None and t._sorted_columns is None for t in tables)
    assert restored == []
    symtab._CACHE.clear()
