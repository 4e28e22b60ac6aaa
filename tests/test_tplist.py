"""`pyperf tplist`: bcc's tools/tplist.py output: tracepoints, their fields as C declarations, SDT markers."""
import os
import subprocess
import sys

import pytest

from pyperf_probe.cmd_tplist import field_declarations, tracepoint_lines, usdt_lines

# random:urandom_read's format as the seed's kernel (4.x) had it; the seed shows tplist -v printing
#     int got_bits;
#     int pool_left;
#     int input_left;
URANDOM_READ = """name: urandom_read
ID: 1116
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int got_bits;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int pool_left;\toffset:12;\tsize:4;\tsigned:1;
\tfield:int input_left;\toffset:16;\tsize:4;\tsigned:1;

print fmt: "got_bits %d nonblocking_pool_entropy_left %d input_entropy_left %d", REC->got_bits, REC->pool_left, REC->input_left
"""

SCHED_PROCESS_EXEC = """name: sched_process_exec
ID: 300
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:char comm[16];\toffset:16;\tsize:16;\tsigned:0;
\tfield:const char * name;\toffset:32;\tsize:8;\tsigned:0;

print fmt: "filename=%s pid=%d", __get_str(filename), REC->pid
"""


def test_fields_as_the_seed_shows():
    assert field_declarations(URANDOM_READ) == ["    int got_bits;", "    int pool_left;", "    int input_left;"]


def test_fields_skip_common_and_data_loc_keep_arrays_and_pointers():
    assert field_declarations(SCHED_PROCESS_EXEC) == ["    pid_t pid;", "    char comm[16];", "    const char * name;"]


@pytest.fixture
def events_dir(tmp_path):
    for cat, ev, text in (("random", "urandom_read", URANDOM_READ), ("sched", "sched_process_exec", SCHED_PROCESS_EXEC)):
        d = tmp_path / cat / ev
        d.mkdir(parents=True)
        (d / "format").write_text(text)
    (tmp_path / "header_page").write_text("")  # files beside the categories are not categories
    return str(tmp_path)


def test_tracepoints_filter_and_variables(events_dir):
    assert sorted(tracepoint_lines(events_dir, None, False)) == ["random:urandom_read", "sched:sched_process_exec"]
    assert tracepoint_lines(events_dir, "random:*", True) == [
        "random:urandom_read", "    int got_bits;", "    int pool_left;", "    int input_left;"]
    assert tracepoint_lines(events_dir, "nomatch:*", True) == []


def test_live_tracepoint_as_tplist_v():
    fmt = "/sys/kernel/tracing/events/sched/sched_switch/format"
    if not os.path.exists(fmt):
        pytest.skip("needs tracefs")
    proc = subprocess.run([sys.executable, "-m", "pyperf_probe", "tplist", "-v", "sched:sched_switch"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with open(fmt) as f:
        assert proc.stdout.split("\n") == ["sched:sched_switch"] + field_declarations(f.read()) + [""]
    assert "    char prev_comm[16];" in proc.stdout


PYTHON = "/usr/bin/python3.11"


@pytest.mark.skipif(not os.path.exists(PYTHON), reason="needs Debian's python3.11 (it has SDT markers)")
def test_usdt_markers_of_a_binary():
    lines = usdt_lines(None, PYTHON, "python:function__*", False)
    assert lines == [f"{PYTHON} python:function__entry", f"{PYTHON} python:function__return"]
    verbose = usdt_lines(None, PYTHON, "python:function__entry", True)
    assert verbose[0].startswith(f"{PYTHON} python:function__entry [sema 0x")
    assert verbose[1:] == ["  1 location(s)", "  3 argument(s)"]
