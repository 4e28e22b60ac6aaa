"""`pyperf report` as a command: the 3.4 layout on a real recording, perf's lost-sample warnings, usage
errors, and (marked perf) the goldens still being what the installed perf prints."""
import os
import re
import shutil
import subprocess
import types

import pytest

from pyperf_probe import cli, cmd_report

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "report")
PERF = "/usr/bin/perf"


@pytest.fixture
def symfs(report_symfs):
    return str(report_symfs)


def test_stdio_style_34_on_a_real_recording(symfs, capsys):
    rc = cli.main(["report", "-i", os.path.join(GOLDEN, "data", "mt.data"), "--symfs", symfs,
                   "--stdio-style=3.4", "-g", "graph"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "# Samples: 265  of event 'pyperf_g_report:rpt_leaf'"
    assert lines[3] == "# Overhead    Command  Shared Object        Symbol"
    assert lines[6] == "    45.28%  rpt-alpha  report_mt      [.] rpt_leaf"
    assert lines[7] == "            |" and lines[8] == "            --- rpt_leaf"
    assert "               |--22.64%-- path_alpha" in lines
    assert "Tip" not in out and "Children" not in out


def test_lost_warnings_as_perf_words_them(capsys):
    session = types.SimpleNamespace(nr_lost_chunks=2, nr_events=1234, nr_samples=90, lost_samples=10)
    cmd_report._lost_warnings(session)
    assert capsys.readouterr().err == ("Warning:\nProcessed 1234 events and lost 2 chunks!\n\n"
                                       "Check IO/CPU overload!\n\nWarning:\nProcessed 100 samples and lost "
                                       "10.00%!\n\n")


def test_unknown_option_is_a_usage_error(capsys):
    assert cli.main(["report", "--bogus"]) == 129
    err = capsys.readouterr().err
    assert "unknown option `bogus'" in err and "Usage: pyperf report" in err


def test_unknown_sort_key(capsys):
    rc = cli.main(["report", "-i", os.path.join(GOLDEN, "data", "mt.data"), "--sort", "nope"])
    assert rc == 129 and "Unknown --sort key: `nope'" in capsys.readouterr().err


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="real perf is not installed")
@pytest.mark.parametrize("name", ["mt_cds_graph_nochildren", "mt_default", "make_cds_fractal", "two_cds",
                                  "cxx_cds_flat_nochildren"])
def test_goldens_are_what_this_perf_prints(name, symfs, tmp_path):
    with open(os.path.join(GOLDEN, "cases.txt")) as f:
        data, args = next(line.rstrip("\n").split("|")[1:] for line in f if line.startswith(name + "|"))
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(os.path.join(GOLDEN, "data", data), tmp_path / data)
    out = subprocess.run([PERF, "report", "-i", str(tmp_path / data), "--symfs", symfs] + args.split(),
                         capture_output=True, text=True, env=dict(os.environ, HOME=str(home))).stdout
    norm = lambda t: re.sub(r"^# \(.*\)$", "#", t, flags=re.M).replace("[...] (inlined)", "[...]")  # noqa
    with open(os.path.join(GOLDEN, "expected", name + ".out")) as f:
        assert norm(out) == norm(f.read())


def test_pager_on_a_terminal(symfs):
    """On a tty the report goes through $PAGER, as perf's setup_pager does (here a sed that marks lines)."""
    import pty
    import sys
    env = dict(os.environ, PAGER="sed s/^/PAGED:/", PERF_PAGER="sed s/^/PAGED:/")
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout is the pty
        os.execve(sys.executable, [sys.executable, "-m", "pyperf_probe", "report", "-i",
                                   os.path.join(GOLDEN, "data", "mt.data"), "--symfs", symfs, "-q"], env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.WEXITSTATUS(status) == 0
    assert "PAGED:   100.00%   100.00%  (" in text and "PAGED:            |--96.23%--start_thread" in text
