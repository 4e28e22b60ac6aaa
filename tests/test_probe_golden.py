"""pyperf probe against real perf 6.1's recorded outputs (tests/golden/probe): stdout, stderr and exit
status byte for byte, with ``pyperf`` where perf names itself in a command (usage lines and hints).
A live differential run against /usr/bin/perf covers the same cases when perf is installed."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

import golden_module

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "probe")
ROOT = os.path.dirname(HERE)

cases = golden_module.load("probe")

PYPERF = [sys.executable, "-m", "pyperf_probe"]


def as_pyperf(text: str) -> str:
    """perf's own name in commands it suggests becomes pyperf's."""
    return (text.replace(" perf probe ", " pyperf probe ").replace("'perf probe", "'pyperf probe")
            .replace("\tperf record", "\tpyperf record"))


def without_additions(result):
    """pyperf's documented additions to perf's error text: ``  Hint: ...`` lines (close names, why a symbol
    cannot be probed; perf's own hint, `` Hint: Remove existing event``, has one leading space), and the
    usage lines of pyperf's own options (those marked parse_options.EXTENSION: --ptrace), which the usage
    lists among perf's."""
    from pyperf_probe.probe.options import TABLE
    out, err, rc = result
    err = "".join(line for line in err.splitlines(True) if not line.startswith("  Hint: "))
    for opt in TABLE.options:
        if opt.extension:
            err = err.replace(opt.usage_line(True), "")
    return out, err, rc



@pytest.fixture(scope="module")
def env():
    cache = tempfile.mkdtemp(prefix="pyperf_t_probe_cache_")
    yield dict(os.environ, PERF_BUILDID_DIR=cache, PYTHONPATH=ROOT)
    shutil.rmtree(cache, ignore_errors=True)


def run(cmd, argv, env, t_dir=cases.LIVE_DIR):
    proc = subprocess.run(cmd + cases.expand(argv, t_dir), capture_output=True, text=True, env=env, cwd=ROOT)
    return cases.normalize(proc.stdout, t_dir), cases.normalize(proc.stderr, t_dir), proc.returncode


def expected(name):
    base = os.path.join(GOLDEN, "expected", name)
    with open(base + ".out") as f:
        out = f.read()
    for wrong, right in cases.PERF_BUG_CORRECTIONS.get(name, ()):
        assert wrong in out, f"{name}: perf's known bug is not in its output any more: {wrong}"
        out = out.replace(wrong, right)
    with open(base + ".err") as f:
        err = f.read()
    with open(base + ".rc") as f:
        rc = int(f.read())
    return as_pyperf(out), as_pyperf(err), rc


STATIC = {**cases.DEFINITIONS, **cases.FUNCS, **cases.VARS_LINES, **cases.ERRORS}


def test_enough_definitions():
    defs = sum(a.count("-D") for a in cases.DEFINITIONS.values())
    binaries = {a[1] for a in cases.DEFINITIONS.values()}
    assert defs >= 40 and len(binaries) >= 7


@pytest.mark.parametrize("name", sorted(STATIC))
def test_matches_perf(name, env):
    assert without_additions(run(PYPERF + ["probe"], STATIC[name], env)) == expected(name)


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists("/usr/bin/perf"), reason="perf is not installed")
@pytest.mark.parametrize("name", sorted(cases.DEFINITIONS) + sorted(cases.FUNCS) + sorted(cases.VARS_LINES))
def test_live_differential(name, env):
    perf_out, perf_err, perf_rc = run(["/usr/bin/perf", "probe"], STATIC[name], env)
    assert without_additions(run(PYPERF + ["probe"], STATIC[name], env)) == \
        (as_pyperf(perf_out), as_pyperf(perf_err), perf_rc)


@pytest.fixture
def live_copy():
    """The live copy of the program at its fixed path (the goldens name it), removed with its probes after the test."""
    os.makedirs(cases.LIVE_DIR, exist_ok=True)
    try:
        shutil.copy(os.path.join(cases.W, "probe_prog_nodbg"), cases.LIVE.replace("@T@", cases.LIVE_DIR))
        yield
    finally:
        for group in cases.GROUPS:
            subprocess.run(PYPERF + ["probe", "-q", "-d", f"{group}:*"], capture_output=True, cwd=ROOT,
                           env=dict(os.environ, PYTHONPATH=ROOT))
        shutil.rmtree(cases.LIVE_DIR, ignore_errors=True)


@pytest.mark.uprobes
@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"),
                    reason="needs root and uprobe events")
@pytest.mark.parametrize("name", sorted(cases.SEQUENCES))
def test_live_sequence_matches_perf(name, env, live_copy):
    for i, argv in enumerate(cases.SEQUENCES[name]):
        assert without_additions(run(PYPERF + ["probe"], argv, env)) == expected(f"{name}.{i}"), \
            f"step {i}: {argv}"
