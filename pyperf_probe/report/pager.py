"""A pager for report text on a terminal, as perf's ``setup_pager`` (tools/lib/subcmd/pager.c): when
stdout is a tty, $PERF_PAGER, else $PAGER, else ``less`` (``LESS=FRSX`` unless set); ``cat`` or an empty
value means none. Report text is written to the pager's stdin; the pager's exit ends the output quietly.
``shutil`` and ``subprocess`` are imported only when a terminal asks for a pager (start-up cost of report)."""
from __future__ import annotations

import os
import sys


def pager_command(environ=os.environ) -> str | None:
    import shutil
    cmd = environ.get("PERF_PAGER")
    if cmd is None:
        cmd = environ.get("PAGER")
    if cmd is None:
        cmd = "less" if shutil.which("less") else ("more" if shutil.which("more") else None)
    if not cmd or cmd == "cat":
        return None
    return cmd


def write_paged(text: str, stream=None) -> None:
    """Write ``text`` to ``stream`` (stdout), through a pager if it is a terminal."""
    stream = stream or sys.stdout
    cmd = pager_command() if stream.isatty() else None
    if cmd is None:
        stream.write(text)
        stream.flush()
        return
    env = dict(os.environ)
    env.setdefault("LESS", "FRSX")
    env.setdefault("LV", "-c")
    import subprocess
    proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, env=env)
    try:
        proc.communicate(text.encode(errors="replace"))
    except BrokenPipeError:
        pass
    proc.wait()
