"""pyperf probe in-process: bad input and kernel conditions that cannot be produced for real here
(not root, no uprobe events), pyperf's additions (bare library names, instruction boundaries, close
names, validation before writing), with tracefs replaced where needed."""
import errno
import os
import shutil

import pytest

from pyperf_probe import cli
from pyperf_probe.kernel import tracefs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W = os.path.join(ROOT, "build", "workloads")
NODBG = os.path.join(W, "probe_prog_nodbg")


def run(capsys, *argv):
    rc = cli.main(["probe", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def fake_tracefs(tmp_path, monkeypatch):
    """A tracefs with an empty uprobe_events that records what is written to it."""
    (tmp_path / "README").write_text("")
    (tmp_path / "uprobe_events").write_text("")
    written = []
    monkeypatch.setattr(tracefs, "root", lambda: str(tmp_path))
    monkeypatch.setattr(tracefs, "write_uprobe_events", lambda lines: written.extend(lines))
    return written


def test_not_root(capsys, monkeypatch):
    def denied():
        raise PermissionError(errno.EACCES, "Permission denied", "/sys/kernel/tracing/uprobe_events")
    monkeypatch.setattr(tracefs, "read_uprobe_events", denied)
    rc, out, err = run(capsys, "-x", NODBG, "leaf")
    assert (rc, out) == (243, "")
    assert err == "No permission to write tracefs.\nPlease run this command again with sudo.\n" \
                  "  Error: Failed to add events.\n"
    rc, out, err = run(capsys, "-l")
    assert rc == 243 and err.endswith("  Error: Failed to show event list.\n")


def test_kernel_without_uprobe_events(capsys, tmp_path, monkeypatch):
    (tmp_path / "README").write_text("")
    monkeypatch.setattr(tracefs, "root", lambda: str(tmp_path))
    rc, out, err = run(capsys, "-x", NODBG, "leaf")
    assert rc == 254
    assert err == ("uprobe_events file does not exist - please rebuild kernel with CONFIG_UPROBE_EVENTS.\n"
                   "  Error: Failed to add events.\n")
    rc, out, err = run(capsys, "-d", "x:*")
    assert rc == 254 and err.endswith("  Error: Failed to delete events.\n")


def test_add_writes_the_validated_line(capsys, fake_tracefs):
    rc, out, err = run(capsys, "-x", NODBG, "leaf %di:s32")
    assert rc == 0
    assert fake_tracefs == ["p:probe_probe_prog_nodbg/leaf " + NODBG + ":0x12a0 %di:s32"] or \
        fake_tracefs[0].startswith("p:probe_probe_prog_nodbg/leaf " + NODBG + ":0x")


def test_bad_type_refused_before_any_write(capsys, fake_tracefs):
    rc, out, err = run(capsys, "-x", NODBG, "-a", "leaf", "-a", "mid_a %di:u33")
    assert rc == 234 and fake_tracefs == []
    assert "Unknown argument type 'u33'" in err and err.endswith("  Error: Failed to add events.\n")


def test_bare_library_name_is_resolved_and_shown(capsys):
    rc, out, err = run(capsys, "-x", "libc.so.6", "-D", "malloc")
    libc = os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6")
    assert rc == 0
    assert err == f"Using {libc} for libc.so.6 (found in ld.so.cache).\n"
    assert out.startswith(f"p:probe_libc/malloc {libc}:0x")


def test_program_on_path(capsys):
    rc, out, err = run(capsys, "-x", "bash", "-D", "main")
    assert rc == 0 and out.startswith("p:probe_bash/main " + os.path.realpath(shutil.which("bash")))


def test_offset_inside_an_instruction_is_refused(capsys):
    rc, out, err = run(capsys, "-x", NODBG, "-D", "mid_a+4")
    assert rc == 234 and out == ""
    assert err.startswith("Probe point 'mid_a+4' is inside an instruction: mid_a+4 falls in ")
    assert err.endswith("  Error: Failed to add events.\n")
    rc, out, err = run(capsys, "-x", NODBG, "-D", "mid_a+3")
    assert rc == 0 and out.endswith(":0x12c3\n")


def test_close_names_are_suggested(capsys):
    rc, out, err = run(capsys, "-x", NODBG, "-D", "mid_c")
    assert rc == 254
    assert err == (f"Failed to find symbol mid_c in {NODBG}\n  Hint: did you mean mid_a, mid_b?\n"
                   "  Error: Failed to add events.\n") or "did you mean mid_b, mid_a?" in err


def test_not_elf_says_so(capsys):
    rc, out, err = run(capsys, "-x", "/etc/passwd", "leaf")
    assert rc == 254
    assert err == ("Failed to load symbols from /etc/passwd: /etc/passwd is not an ELF file\n"
                   "  Error: Failed to add events.\n")


def test_quiet_prints_nothing(capsys):
    assert run(capsys, "-q", "-x", NODBG, "-D", "nosuch") == (254, "", "")


def test_help_ends_with_examples(capsys):
    rc, out, err = run(capsys, "--help")
    assert (rc, err) == (0, "") and out.lstrip().startswith("Usage: pyperf probe")
    assert out.rstrip().splitlines()[-1].strip().startswith("pyperf probe -d")


def test_ifunc_and_object_without_debuginfo_say_why(capsys, tmp_path):
    """perf's symbol path skips anything but STT_FUNC and fails without a word; pyperf adds a hint."""
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from elfbuild import TEXT_VADDR, build_elf
    prog = tmp_path / "ifuncs"
    prog.write_bytes(build_elf([("fastcopy", TEXT_VADDR, 16, 10, 1, "text"),     # STT_GNU_IFUNC
                                ("counter", TEXT_VADDR + 0x40, 8, 1, 1, "text"),  # STT_OBJECT
                                ("work", TEXT_VADDR + 0x80, 16, 2, 1, "text")],   # STT_FUNC
                               build_id=os.urandom(20)))
    rc, out, err = run(capsys, "-x", str(prog), "-D", "fastcopy")
    assert rc == 254 and err.startswith("  Hint: fastcopy is a GNU indirect function")
    rc, out, err = run(capsys, "-x", str(prog), "-D", "counter")
    assert rc == 254 and err == ("  Hint: counter is not a function (a data object): nothing to probe.\n"
                                 "  Error: Failed to add events.\n")
    rc, out, err = run(capsys, "-x", str(prog), "-D", "work+4")
    assert (rc, out) == (0, f"p:probe_ifuncs/work {prog}:0x1084\n")
