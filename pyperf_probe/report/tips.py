"""The ``# (Tip: ...)`` line: a random line of perf's tips file (util/util.c ``perf_tip``), or perf's
fallback sentence when the file is missing."""
from __future__ import annotations

import random
from typing import Optional

TIPS_FILE = "/usr/share/doc/linux-perf/tips.txt"
FALLBACK = "Cannot load tips.txt file, please install perf!"


def random_tip(path: str = TIPS_FILE, rng: Optional[random.Random] = None) -> str:
    """``Tip: <line>`` for a random non-empty line (perf loads them into a set: duplicates count once)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = sorted({line.rstrip("\n") for line in f if line.strip()})
    except OSError:
        return FALLBACK
    if not lines:
        return FALLBACK
    return "Tip: " + (rng or random).choice(lines)
