"""`pyperf script report export-to-sqlite`: the database perf 6.1's export-to-sqlite.py makes from the same
file (goldens of tests/golden/export: `sqlite3 DB .dump` of perf's database), and the sqlite3 command-line
shell (Debian's sqlite3, installed by make test's set-up) answering the same queries on both."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from export_helpers import cases, expected, input_copy, pyperf, source_of, unpack_symfs
from pyperf_probe.export.sqlite import branch_types

QUERIES = [
    ".tables",
    "select * from samples_view where id < 10",
    "select command, symbol, dso_short_name, count(*) from samples_view group by 1, 2, 3 order by 4 desc, 1, 2, 3",
    "select name, count(*), sum(period) from samples join selected_events on evsel_id = selected_events.id "
    "group by 1 order by 1",
    "select * from comm_threads_view order by comm_id, thread_id",
    "select * from threads_view order by id",
    "select * from symbols_view order by id",
    "select * from dsos_view order by id",
    "select * from machines_view",
    "select * from branch_types order by id",
]
CALL_PATH_QUERIES = [
    "select * from call_paths_view order by id",
    # the stacks of the samples, leaf first, through the call path tree
    "with recursive walk(sample, cp, depth, name) as (select id, call_path_id, 0, null from samples where id > 0 "
    "union all select sample, parent_id, depth + 1, (select name from symbols where id = symbol_id) from walk "
    "join call_paths on call_paths.id = cp where cp > 1) "
    "select sample, group_concat(name, ';') from (select * from walk where name is not null order by sample, depth) "
    "group by sample order by sample",
]


@pytest.fixture(scope="module")
def symfs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("export_symfs")


def sqlite3_cli(db, *args, stdin=None) -> str:
    exe = shutil.which("sqlite3")
    assert exe, "sqlite3 is not installed: make test installs it (Makefile APT_PACKAGES)"
    proc = subprocess.run([exe, str(db), *args], input=stdin, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _export(data, symfs_root, tmp_path, *words):
    group, _ = source_of(data)
    db = tmp_path / "pyperf.db"
    proc = pyperf("script", "report", "export-to-sqlite", db, *words, "-i", input_copy(data, tmp_path),
                  "--symfs", unpack_symfs(group, symfs_root), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ ", "", line) for line in proc.stdout.splitlines()]
    assert lines == ["Creating database ...", "Writing records...", "Adding indexes", "Dropping unused tables",
                     "Done"]
    return db


@pytest.mark.parametrize("name, data, kind, args", cases("sqlite"), ids=[c[0] for c in cases("sqlite")])
def test_database_equals_perfs(name, data, kind, args, symfs_root, tmp_path):
    db = _export(data, symfs_root, tmp_path, *args.split())
    assert sqlite3_cli(db, ".dump") == expected(name, ".sql")
    perf_db = tmp_path / "perf.db"
    sqlite3_cli(perf_db, stdin=expected(name, ".sql"))
    queries = QUERIES + (CALL_PATH_QUERIES if "call" in args else [])
    if "branches" in args:
        queries = [q for q in queries if "period" not in q]
    for query in queries:
        ours, theirs = sqlite3_cli(db, "-header", query), sqlite3_cli(perf_db, "-header", query)
        assert ours == theirs, query
    assert int(sqlite3_cli(db, "select count(*) from samples")) > 1


def test_probe_samples_exported(symfs_root, tmp_path):
    """perf's database of a probe recording has no samples (its script never sees them); pyperf's has every
    one, with the stacks pyperf script prints."""
    db = _export("report/mt.data", symfs_root, tmp_path, "all", "callchains")
    assert sqlite3_cli(db, "select count(*) from samples where id > 0").strip() == "265"
    counts = sqlite3_cli(db, "select command, count(*) from samples_view where id > 0 group by 1 order by 1")
    assert counts == "report_mt|265\n"      # the comm of the samples is the process's exec comm
    threads = sqlite3_cli(db, "select tid, (select comm from comms where c_thread_id = threads.id) from threads "
                              "where id > 0 order by tid")
    assert threads.split() == ["14425|report_mt", "14426|rpt-alpha", "14427|rpt-beta", "14428|rpt-gamma"] or \
        len(threads.split()) == 4
    stacks = sqlite3_cli(db, CALL_PATH_QUERIES[1])
    script = pyperf("script", "-i", input_copy("report/mt.data", tmp_path), "--symfs",
                    unpack_symfs("report", symfs_root), "-F", "ip,sym", home=tmp_path).stdout
    chains = [";".join(line.split()[1] for line in block.splitlines() if line.strip())
              for block in script.strip("\n").split("\n\n")]
    assert [line.split("|", 1)[1] for line in stacks.splitlines()] == chains


def test_arguments_as_perfs_script(symfs_root, tmp_path):
    proc = pyperf("script", "report", "export-to-sqlite", home=tmp_path)
    assert proc.returncode == 1 and proc.stderr.startswith("Usage is: export-to-sqlite.py <database name>")
    proc = pyperf("script", "report", "export-to-sqlite", tmp_path / "x.db", "bogus", home=tmp_path)
    assert proc.returncode == 1 and "Too few or bad arguments" in proc.stderr
    (tmp_path / "old.db").write_text("")
    proc = pyperf("script", "report", "export-to-sqlite", tmp_path / "old.db", "-i",
                  input_copy("cpu_fp.data", tmp_path), home=tmp_path)
    assert proc.returncode == 1 and proc.stderr == f"{tmp_path / 'old.db'} already exists\n"


def test_branch_types_as_db_export():
    rows = dict(branch_types())
    assert len(rows) == 42 and rows[0] == "no branch" and rows[256] == "trace begin / no branch"
    assert rows[4611] == "vm exit / trace end" and rows[257] == "trace begin"
