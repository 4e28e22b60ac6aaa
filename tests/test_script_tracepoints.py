"""`pyperf script` on a system-wide recording of kernel tracepoints (sched, syscalls, irq, block, net,
signal, workqueue, writeback, kmem: tests/golden/tracepoints/record.sh) equals real perf 6.1's output
(make_goldens.sh there), with libtraceevent.so.1 and with the Python renderer; so does it on the recording
with kernel call chains (record_callchain.sh), whose %ps argument (timer:hrtimer_start's function) is named
from the kallsyms copy kept there, as perf's machine__resolve_kernel_addr names it."""
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "golden" / "tracepoints"
CASES = [line.split("|") for line in (HERE / "cases.txt").read_text().splitlines()
         if line and not line.startswith("#")]
CC_CASES = [line.split("|") for line in (HERE / "callchain_script_cases.txt").read_text().splitlines()
            if line and not line.startswith("#")]
KALLSYMS = str(HERE / "data" / "callchain.kallsyms")
# system.data's kernel is not the one the tests run on: its addresses are named by no one (an empty kallsyms;
# without one, the running kernel's would be read when its build-id is the recording's: make_goldens.sh)
SYSTEM_KALLSYMS = str(HERE / "data" / "system.kallsyms")
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
    proc = pyperf("-i", system_data, *args.split(), "--kallsyms", SYSTEM_KALLSYMS, home=tmp_path,
                  no_library=RENDERERS[renderer])
    assert proc.returncode == 0, proc.stderr
    expected = lzma.decompress((HERE / "expected" / f"{name}.out.xz").read_bytes()).decode()
    assert proc.stdout == expected


@pytest.fixture(scope="module")
def callchain_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("tracepoints_cc") / "callchain.data"
    path.write_bytes(lzma.decompress((HERE / "data" / "callchain.data.xz").read_bytes()))
    return str(path)


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("name, args", CC_CASES, ids=[c[0] for c in CC_CASES])
def test_script_with_kernel_chains_equals_perf(name, args, renderer, callchain_data, tmp_path):
    _library_or_skip(renderer)
    proc = pyperf("-i", callchain_data, *args.replace("KALLSYMS", KALLSYMS).split(), home=tmp_path,
                  no_library=RENDERERS[renderer])
    assert proc.returncode == 0, proc.stderr
    expected = lzma.decompress((HERE / "expected" / "script_cc" / f"{name}.out.xz").read_bytes()).decode()
    assert proc.stdout == expected


def test_kernel_function_names_come_from_the_session_kallsyms(callchain_data, tmp_path):
    """%ps is named through the session's kernel maps (--kallsyms here), not the running kernel's file."""
    renamed = tmp_path / "kallsyms"
    renamed.write_text(Path(KALLSYMS).read_text().replace(" hrtimer_wakeup\n", " hrtimer_wakeup_elsewhere\n"))
    for library in RENDERERS.values():
        proc = pyperf("-i", callchain_data, "--kallsyms", str(renamed), "-F", "trace", "-G", home=tmp_path,
                      no_library=library)
        assert "function=hrtimer_wakeup_elsewhere " in proc.stdout


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
