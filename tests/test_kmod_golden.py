"""Kernel modules, relocation and odd kallsyms files against real perf 6.1 (tests/golden/kmod: hand-made
perf.data and kallsyms files of craft.py, perf's output made by make_goldens.sh): module maps named from
their MMAPs, module symbols split out of kallsyms (and the first one lost when the module's dso was loaded
before the kernel's), the kernel map before and after its symbols load, the _text relocation delta, data
symbols' offsets, kallsyms__parse's handling of blank, long, upper-case and malformed lines."""
import os
import re

import pytest

from pyperf_probe import cli

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "kmod")


def _cases():
    with open(os.path.join(GOLDEN, "cases.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, data, kallsyms, args = line.rstrip("\n").split("|")
                yield pytest.param(name, data, kallsyms, args, id=name)


def _read(name: str) -> str:
    with open(os.path.join(GOLDEN, "expected", name)) as f:
        return f.read()


def _no_tip(text: str) -> str:
    return re.sub(r"^# \((Tip: .*|Cannot load tips\.txt file, please install perf!)\)$", "# (TIP)", text,
                  flags=re.M)


@pytest.mark.parametrize("name,data,kallsyms,args", list(_cases()))
def test_modules_and_kallsyms_equal_perf(name, data, kallsyms, args, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PERF_BUILDID_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    path = os.path.join(GOLDEN, "data", f"{data}.data")
    words = args.split()
    rc = cli.main([words[0], "-i", path, "--kallsyms", os.path.join(GOLDEN, kallsyms)] + words[1:])
    out, err = capsys.readouterr()
    assert _no_tip(out) == _no_tip(_read(f"{name}.out"))
    assert err.replace(path, "INPUT") == _read(f"{name}.err")
    assert rc == int(_read(f"{name}.rc"))
