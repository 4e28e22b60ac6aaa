"""The tick workload (workloads/tick.c, SDT provider "tick") in the SDT tests: its copy at the fixed path the
goldens were made with, and the lock every test that adds or names ``sdt_tick`` events holds (the group comes
from the provider, not the file: two runs' copies would share it). Both in /tmp, removed by their last user
(``leftovers.exclusive``)."""
import contextlib
import os
import shutil

import leftovers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.path.join(ROOT, "build", "workloads", "tick")
GOLDEN_TICK_DIR = "/tmp/pyperf_sdt_golden"      # the path the goldens were made with (make_goldens.sh)
GOLDEN_TICK = os.path.join(GOLDEN_TICK_DIR, "tick")
SDT_TICK_LOCK = "/tmp/pyperf_t_sdt_tick.lock"


@contextlib.contextmanager
def golden_tick():
    """workloads/tick at the goldens' fixed path for the block, under a lock (other runs may want it too)."""
    with leftovers.exclusive(GOLDEN_TICK_DIR + ".lock"):
        os.makedirs(GOLDEN_TICK_DIR, exist_ok=True)
        shutil.copy(TICK, GOLDEN_TICK + ".tmp")
        os.replace(GOLDEN_TICK + ".tmp", GOLDEN_TICK)
        try:
            yield GOLDEN_TICK
        finally:
            os.unlink(GOLDEN_TICK)
            os.rmdir(GOLDEN_TICK_DIR)


def sdt_tick_lock():
    """The lock of the sdt_tick events (a context manager)."""
    return leftovers.exclusive(SDT_TICK_LOCK)
