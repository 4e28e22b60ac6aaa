"""The entry point: help, unknown commands, and the one place that maps errors to exit codes."""
import errno
import subprocess
import sys

import pytest

from pyperf_probe import cli
from pyperf_probe.errors import KernelError, PerfDataError, ProbeError, UsageError


def run(*args):
    return subprocess.run([sys.executable, "-m", "pyperf_probe", *args], capture_output=True, text=True)


def test_help_lists_commands_without_importing_them():
    proc = run("--help")
    assert proc.returncode == 0
    for name in cli.COMMANDS:
        assert f"   {name}" in proc.stdout
    # The table is lazy: --help must not import any subcommand module.
    code = ("import sys; from pyperf_probe import cli; cli.main(['--help']); "
            "print(sorted(m for m in sys.modules if m.startswith('pyperf_probe.cmd_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip().endswith("[]")


def test_unknown_command_is_one_line_and_129():
    proc = run("nosuchcmd")
    assert proc.returncode == 129
    assert proc.stderr == "pyperf: 'nosuchcmd' is not a pyperf-command. See 'pyperf --help'.\n"
    assert "Traceback" not in proc.stderr


def test_unknown_global_option():
    proc = run("--bogus")
    assert proc.returncode == 129
    assert proc.stderr.startswith("Unknown option: --bogus\n")


@pytest.mark.parametrize("exc, code", [
    (ProbeError("x", errno=errno.ENOENT), 254),   # perf probe: -ENOENT
    (ProbeError("x", errno=errno.EEXIST), 239),   # perf probe: event exists
    (UsageError("x"), 129),
    (PerfDataError("x"), 255),
    (KernelError("x", errno=errno.EACCES), 243),
    (ProbeError("x"), 254),
])
def test_exit_codes(exc, code):
    assert cli.exit_code_for(exc) == code


def test_error_text_and_traceback_only_with_verbose(monkeypatch, capsys):
    def boom(argv, opts):
        raise ProbeError("Probe point 'nosuchfunc' not found.\n  Error: Failed to add events.", errno=errno.ENOENT)

    import types
    fake = types.ModuleType("pyperf_probe.cmd_fake")
    fake.main = boom
    monkeypatch.setitem(sys.modules, "pyperf_probe.cmd_fake", fake)
    monkeypatch.setitem(cli.COMMANDS, "fake", ("pyperf_probe.cmd_fake", "test"))
    assert cli.main(["fake"]) == 254
    err = capsys.readouterr().err
    assert err == "Probe point 'nosuchfunc' not found.\n  Error: Failed to add events.\n"
    assert cli.main(["-v", "fake"]) == 254
    assert "Traceback" in capsys.readouterr().err


FAKE_COMMAND = """
import atexit, sys, types
from pyperf_probe import cli
fake = types.ModuleType("pyperf_probe.cmd_fake")
fake.NO_TEARDOWN = True
def main(argv, opts):
    atexit.register(lambda: sys.stderr.write("exit function\\n"))
    sys.stdout.write("x" * 100000 + "\\n")      # more than the stream's buffer, and a rest left in it
    return int(argv[0])
fake.main = main
sys.modules[fake.__name__] = fake
cli.COMMANDS["fake"] = (fake.__name__, "test")
sys.argv = ["pyperf", "fake"] + sys.argv[1:]
sys.exit(cli.main())
"""


def test_no_teardown_end_flushes_output_and_runs_exit_functions():
    """A NO_TEARDOWN command's process ends through os._exit: its whole output still arrives, atexit
    functions still run, and its status is the exit status."""
    proc = subprocess.run([sys.executable, "-c", FAKE_COMMAND, "3"], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "x" * 100000 + "\n", "exit function\n")


def test_no_teardown_end_reports_a_failed_write():
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-c", FAKE_COMMAND, "0"], stdout=full, stderr=subprocess.PIPE,
                              text=True)
    assert proc.returncode == 1
    assert proc.stderr == "pyperf: No space left on device\nexit function\n"


def test_probe_funcs_output_whole_through_its_own_process(capsys):
    """``pyperf probe -F`` ends without teardown (cmd_probe.NO_TEARDOWN): the output of its own process
    equals the in-process one, byte for byte, with the same status."""
    assert cli.main(["probe", "-F", "*", "-x", "libc.so.6"]) == 0
    expected = capsys.readouterr().out
    proc = run("probe", "-F", "*", "-x", "libc.so.6")
    assert (proc.returncode, proc.stdout) == (0, expected)
    assert len(expected) > 8192


GC_COMMAND = """
import gc, sys, types
from pyperf_probe import cli
fake = types.ModuleType("pyperf_probe.cmd_fake")
if sys.argv[1] == "off":
    fake.NO_CYCLIC_GC = True
fake.main = lambda argv, opts: print(gc.isenabled()) or 0
sys.modules[fake.__name__] = fake
cli.COMMANDS["fake"] = (fake.__name__, "test")
real_import = cli._import
cli._import = lambda name: print("importing with the collector", gc.isenabled()) or real_import(name)
sys.argv = ["pyperf", "fake"]
sys.exit(cli.main())
"""


@pytest.mark.parametrize("declared,during_main", [("off", "False"), ("on", "True")])
def test_collector_off_while_importing_and_for_commands_that_ask(declared, during_main):
    """In pyperf's own process every command is imported with the cyclic collector off; it stays off for
    a command declaring NO_CYCLIC_GC (report) and is back on for the others."""
    proc = subprocess.run([sys.executable, "-c", GC_COMMAND, declared], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"importing with the collector False\n{during_main}\n"


def test_collector_left_alone_when_called_with_arguments(monkeypatch):
    """Tests and embedders call main(argv): their collector is not pyperf's to switch off."""
    import gc
    import types
    fake = types.ModuleType("pyperf_probe.cmd_fake")
    fake.NO_CYCLIC_GC = True
    seen = []
    fake.main = lambda argv, opts: seen.append(gc.isenabled()) or 0
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    monkeypatch.setitem(cli.COMMANDS, "fake", (fake.__name__, "test"))
    assert gc.isenabled()
    assert cli.main(["fake"]) == 0 and seen == [True] and gc.isenabled()
