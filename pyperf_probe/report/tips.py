"""The ``# (Tip: ...)`` line: a random line of perf's tips file (util/util.c ``perf_tip``), or perf's
fallback sentence when the file is missing.

Every report prints one, so the choice draws from ``os.urandom`` rather than importing ``random`` (about
1 ms of start-up with its hash modules, bench/report); a test passes its own ``rng`` with a ``choice``.
"""
from __future__ import annotations

import os

TIPS_FILE = "/usr/share/doc/linux-perf/tips.txt"
FALLBACK = "Cannot load tips.txt file, please install perf!"


def random_tip(path: str = TIPS_FILE, rng=None) -> str:
    """``Tip: <line>`` for a random non-empty line (perf loads them into a set: duplicates count once)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = sorted({line.rstrip("\n") for line in f if line.strip()})
    except OSError:
        return FALLBACK
    if not lines:
        return FALLBACK
    if rng is not None:
        return "Tip: " + rng.choice(lines)
    return "Tip: " + lines[int.from_bytes(os.urandom(8), "little") % len(lines)]
