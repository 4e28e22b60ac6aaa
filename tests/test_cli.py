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
