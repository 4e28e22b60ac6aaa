"""`pyperf data convert --to-json`: byte-equal to perf 6.1's `perf data convert --to-json` (goldens of
tests/golden/export: cpu-clock recordings and the uprobe recordings of the report and unwind goldens), with
perf's messages, exit statuses and output-file rules."""
from __future__ import annotations

import json

import pytest

from export_helpers import cases, expected, input_copy, pyperf, source_of, unpack_symfs
from pyperf_probe.export.perf_json import json_string


@pytest.fixture(scope="module")
def symfs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("export_symfs")


@pytest.mark.parametrize("name, data, kind, args", cases("json"), ids=[c[0] for c in cases("json")])
def test_json_equals_perf(name, data, kind, args, symfs_root, tmp_path):
    group, _ = source_of(data)
    data_path = input_copy(data, tmp_path)
    out = tmp_path / "out.json"
    proc = pyperf("data", "convert", "-i", data_path, "--symfs", unpack_symfs(group, symfs_root),
                  "--to-json", out, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    want = expected(name, ".json.xz")
    assert out.read_text() == want
    nr = len(json.loads(want)["samples"])
    assert proc.stderr == (f"[ perf data convert: Converted '{data_path}' into JSON data '{out}' ]\n"
                           f"[ perf data convert: Converted and wrote {len(want.encode()) / 1024 / 1024:.3f} MB "
                           f"({nr} samples) ]\n")


def test_output_rules_as_perf(symfs_root, tmp_path):
    data = input_copy("cpu_fp.data", tmp_path)
    out = tmp_path / "out.json"
    out.write_text("old")
    proc = pyperf("data", "convert", "-i", data, "--to-json", out, home=tmp_path)
    assert (proc.returncode, proc.stderr) == (255, "Output file exists. Use --force to overwrite it.\n")
    assert out.read_text() == "old"
    proc = pyperf("data", "convert", "-i", data, "--to-json", out, "--force", home=tmp_path)
    assert proc.returncode == 0 and out.read_text().startswith("{\n\t\"linux-perf-json-version\": 1,")
    for flag, word in (("--all", "--all"), ("--tod", "--tod")):
        proc = pyperf("data", "convert", "-i", data, "--to-json", tmp_path / "x.json", flag, home=tmp_path)
        assert (proc.returncode, proc.stderr) == (255, f"{word} is currently unsupported for JSON output.\n")
    proc = pyperf("data", "convert", "-i", data, "--to-json", tmp_path / "no" / "x.json", home=tmp_path)
    assert (proc.returncode, proc.stderr) == (255, "Error opening output file!\n")
    # perf creates the output before it opens the input
    proc = pyperf("data", "convert", "-i", tmp_path / "nosuch.data", "--to-json", tmp_path / "y.json",
                  home=tmp_path)
    assert proc.returncode == 255
    assert proc.stderr == (f"failed to open {tmp_path / 'nosuch.data'}: No such file or directory\n"
                           "Error creating perf session!\n")
    assert (tmp_path / "y.json").exists()
    proc = pyperf("data", "convert", "-i", data, home=tmp_path)
    assert proc.returncode == 255 and proc.stderr.startswith("You must specify one of --to-ctf or --to-json.\n")
    proc = pyperf("data", home=tmp_path)
    assert proc.returncode == 129 and "Usage: pyperf data convert" in proc.stderr


def test_strings_escaped_as_perfs_signed_char():
    """output_json_string: C escapes, \\u00XX for control bytes, and each byte of a UTF-8 sequence as the
    negative int a signed char holds (perf 6.1 on x86)."""
    assert json_string(None) == b'""'
    assert json_string('a"b\\c\n\t\x01') == b'"a\\"b\\\\c\\n\\t\\u0001"'
    assert json_string("é") == b'"\\uffffffc3\\uffffffa9"'
