"""`pyperf script` on a system-wide recording of kernel tracepoints (sched, syscalls, irq, block, net,
signal, workqueue, writeback, kmem: tests/golden/tracepoints/record.sh) equals real perf 6.1's output
(make_goldens.sh there), with libtraceevent.so.1 and with the Python renderer."""
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "golden" / "tracepoints"
CASES = [line.split("|") for line in (HERE / "cases.txt").read_text().splitlines()
         if line and not line.startswith("#")]
RENDERERS = {"libtraceevent": "", "python": "1"}


@pytest.fixture(scope="module")
def system_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("tracepoints") / "system.data"
    path.write_bytes(lzma.decompress((HERE / "data" / "system.data.xz").read_bytes()))
    return str(path)


def pyperf(*args, home, no_library=""):
    env = dict(os.environ, HOME=str(home), PYPERF_NO_LIBTRACEEVENT=no_library)
    env.pop("PERF_BUILDID_DIR", None)
    return subprocess.run([sys.executable, "-m", "pyperf_probe", "script", *args], capture_output=True,
                          text=True, env=env)


def _library_or_skip(renderer):
    if renderer == "libtraceevent":
        from pyperf_probe.traceevent import libtep
        if libtep.load() is None:
            pytest.skip("libtraceevent.so.1 is not installed (Debian libtraceevent1)")


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("name, args", CASES, ids=[c[0] for c in CASES])
def test_script_equals_perf(name, args, renderer, system_data, tmp_path):
    _library_or_skip(renderer)
    proc = pyperf("-i", system_data, *args.split(), home=tmp_path, no_library=RENDERERS[renderer])
    assert proc.returncode == 0, proc.stderr
    expected = lzma.decompress((HERE / "expected" / f"{name}.out.xz").read_bytes()).decode()
    assert proc.stdout == expected


@pytest.mark.parametrize("renderer", RENDERERS)
def test_verbose_says_which_renderer(renderer, system_data, tmp_path):
    _library_or_skip(renderer)
    proc = pyperf("-v", "-i", system_data, "-F", "trace", home=tmp_path, no_library=RENDERERS[renderer])
    assert proc.returncode == 0, proc.stderr
    if renderer == "python":
        assert "tracepoint fields: printed by pyperf's Python print-fmt renderer " \
               "(PYPERF_NO_LIBTRACEEVENT is set)" in proc.stderr
    else:
        assert "tracepoint fields: printed by libtraceevent.so.1" in proc.stderr
