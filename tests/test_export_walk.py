"""export.walk: the progress line (only on a terminal, rewritten in place, cleared at the end), the event
filter, and memory that does not grow with the samples (the exporters' memos are bounded)."""
from __future__ import annotations

import io
import os
import pty
import subprocess
import sys

import pytest

from export_helpers import input_copy, unpack_symfs
from pyperf_probe.export import flamegraph, stackcollapse, walk


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(walk, "PROGRESS_PERIOD", 0)
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        p = walk.Progress("flamegraph", 100, 1000, stream)
        p.update(5000, 600)
        p.update(9000, 1100)
        p.done()
    assert pipe.getvalue() == ""
    assert tty.getvalue() == ("\r[ pyperf: flamegraph: 50% of the data, 5,000 samples ]\x1b[K"
                              "\r[ pyperf: flamegraph: 100% of the data, 9,000 samples ]\x1b[K\r\x1b[K")


def test_walk_shows_progress_on_a_tty(tmp_path, monkeypatch):
    """A real run with stderr on a pseudo-terminal prints the line (every sample here), and stdout stays
    the output alone."""
    data = input_copy("cpu_fp.data", tmp_path)
    symfs = unpack_symfs("export", tmp_path)
    master, slave = pty.openpty()
    env = dict(os.environ, HOME=str(tmp_path))
    code = ("import sys; from pyperf_probe.export import walk; walk.PROGRESS_EVERY = 1; walk.PROGRESS_PERIOD = 0;"
            "from pyperf_probe import cli; sys.exit(cli.main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "script", "report", "stackcollapse", "-i", str(data),
                           "--symfs", str(symfs)], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"\r[ pyperf: stackcollapse: " in err and err.endswith(b"\r\x1b[K")
    assert b"[ pyperf" not in proc.stdout


def test_memos_are_bounded(monkeypatch):
    """The per-stack memos are dropped at their limit: memory follows the distinct stacks, not the samples."""
    monkeypatch.setattr(flamegraph, "MEMO_LIMIT", 4)
    monkeypatch.setattr(stackcollapse, "MEMO_LIMIT", 4)

    class S:
        def __init__(self, i):
            self.thread = Thread(f"c{i % 9}")
            self.sample = Sample()
            self.chain = ()

    class Thread(tuple):
        def __new__(cls, comm):
            t = tuple.__new__(cls, (1, 1, comm))
            t.comm = comm
            return t

    class Sample:
        pid = tid = 1
    tree, coll = flamegraph.FlameTree(), stackcollapse.Collapser()
    for i in range(100):
        tree.add(S(i))
        coll.add(S(i))
    assert len(tree._memo) <= 4 and len(coll._memo) <= 4
    assert tree.nr_samples == coll.nr_samples == 100
    assert sum(coll.lines.values()) == 100 and len(coll.lines) == 9
