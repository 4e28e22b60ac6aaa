"""Bad command lines get perf 6.1's parse-options text (parse_options.py): stderr and exit status byte for
byte against real perf's (tests/golden/parse_options), for every command that mirrors one of perf's, with
``pyperf`` in the usage lines. pyperf's extensions (options with parse_options.EXTENSION, declared where
each option is defined) are listed among perf's; their lines, and only theirs, are left out of the
comparison (:func:`without_extensions`)."""
import importlib.util
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOLDEN = os.path.join(HERE, "golden", "parse_options")
PERF = "/usr/bin/perf"


def _load_cases():
    spec = importlib.util.spec_from_file_location("parse_options_golden_cases", os.path.join(GOLDEN, "cases.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cases = _load_cases()


def table(command):
    """The table pyperf's command parses with: perf's options and pyperf's extensions."""
    from pyperf_probe import parse_options as po
    if command == "record":
        from pyperf_probe.cmd_record import build_parser
        return build_parser().perf_table()
    if command == "script":
        from pyperf_probe.cmd_script import build_parser
        return build_parser().perf_table()
    if command in ("data", "data convert"):
        from pyperf_probe.cmd_data import build_parser
        return build_parser().perf_table()
    if command == "buildid-cache":
        from pyperf_probe.cmd_buildid_cache import _parser
        return _parser().perf_table()
    if command == "report":
        from pyperf_probe.report.options import table as report_table
        return report_table()
    if command == "probe":
        from pyperf_probe.probe.options import TABLE
        return TABLE
    return po.perf_table(command)


def without_extensions(text, command):
    """``text`` without the help lines of pyperf's extensions to ``command``."""
    for opt in table(command).options:
        if opt.extension:
            text = text.replace(opt.usage_line(True), "")
    return text


def pyperf(*argv, cwd):
    return subprocess.run([sys.executable, "-m", "pyperf_probe", *argv], capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=ROOT))


def expected(command, name):
    base = os.path.join(GOLDEN, "expected", f"{command}.{name}")
    with open(base + ".out") as f:
        out = f.read()
    with open(base + ".err") as f:
        err = f.read()
    with open(base + ".rc") as f:
        return out, err, int(f.read())


ALL = [(command, name) for command, table_ in cases.CASES.items() for name in table_]


@pytest.mark.parametrize("command,name", ALL, ids=[f"{c}.{n}" for c, n in ALL])
def test_matches_perf(command, name, tmp_path):
    proc = pyperf(command, *cases.CASES[command][name], cwd=tmp_path)
    assert (proc.stdout, without_extensions(proc.stderr, command), proc.returncode) == expected(command, name)
    assert os.listdir(tmp_path) == []


def test_every_command_has_cases():
    assert set(cases.CASES) == {"record", "report", "script", "stat", "list", "buildid-cache", "data"}
    assert all(len(c) >= 4 for c in cases.CASES.values())


@pytest.mark.parametrize("command", ["probe", "report", "data convert"])
def test_extensions_are_declared_and_not_perfs(command):
    """Each command with pyperf-only options marks them (EXTENSION), none is one of perf's names, and
    their lines are what the comparison drops."""
    from pyperf_probe import parse_options as po
    opts = table(command).options
    extensions = [o for o in opts if o.extension]
    assert extensions
    if command != "probe":
        perf_names = {(o.short, o.long) for o in po.perf_table(command).options}
        assert not {(o.short, o.long) for o in extensions} & perf_names
    listing = table(command).full_usage()
    assert all(o.usage_line() in listing for o in extensions)
    assert all(o.usage_line() not in without_extensions(listing, command) for o in extensions)


@pytest.mark.parametrize("module,factory", [("cmd_record", "build_parser"), ("cmd_script", "build_parser"),
                                            ("cmd_data", "build_parser"), ("cmd_buildid_cache", "_parser")])
def test_argparse_options_are_perfs_or_extensions(module, factory):
    """Every option argparse holds is reached by perf's walk: a name of perf's table (or the negation of
    one, --no-NAME), or an extension; flags are perf's flags and options with a value perf's."""
    parser = getattr(__import__(f"pyperf_probe.{module}", fromlist=["_"]), factory)()
    t = parser.perf_table()
    reachable = {}
    for opt in t.options:
        pos, neg = parser._actions_for(opt)
        for action in (pos, neg):
            if action is not None:
                reachable[id(action)] = opt
        if pos is not None:
            assert (pos.nargs == 0) == (opt.kind in ("bool", "incr")), (opt, pos)
    for action in parser._actions:
        if action.option_strings:
            assert id(action) in reachable, action.option_strings


@pytest.mark.skipif(not os.path.exists(PERF), reason="needs /usr/bin/perf")
@pytest.mark.parametrize("command", ["record", "report", "script", "stat", "list", "buildid-cache", "data convert"])
def test_help_is_perfs_layout_of_what_pyperf_has(command, tmp_path):
    """``pyperf COMMAND -h`` (stdout, status 0): perf's -h lines (perf: stderr, 129) for the options pyperf
    has, in perf's order, then pyperf's examples; the extensions' lines among them."""
    ours = pyperf(*command.split(), "-h", cwd=tmp_path)
    theirs = subprocess.run([PERF, *command.split(), "-h"], capture_output=True, text=True, cwd=tmp_path)
    assert ours.returncode == 0 and ours.stderr == ""
    listing = without_extensions(ours.stdout.split("\n Examples:\n")[0], command)
    assert "\n Examples:\n" in ours.stdout
    perf_lines = cases.pyperf_usage(theirs.stderr).lstrip("\n").split("\n")
    it = iter(perf_lines)
    missing = [line for line in listing.split("\n") if not any(line == p for p in it)]
    assert missing == []


# Option words for random bad command lines: perf's names (abbreviated, negated, clustered, with values
# attached) that pyperf implements, and unknown ones. Left out: values perf's callbacks check during the
# walk (-e, -F, --call-graph, -m: pyperf checks them after it, so a later bad option may be reported
# first), -h (pyperf's help goes to stdout) and pyperf's extensions.
WORDS = {
    "record": ["-a", "-g", "-q", "-R", "-N", "-i", "-o", "--out", "--output=x", "-c", "-c5", "-c-5", "--count=x",
               "--no-inherit", "--inherit", "--no-inh", "--buildid-all", "--no-buildid-all", "--build", "-p",
               "-t", "-C", "--cpu", "-r", "--all", "--no-all-cpus", "-Q", "--foo", "-aq", "-ag", "--no-", "--no",
               "--n", "--kernel-callchains", "--user", "--us", "-ai"],
    "stat": ["-a", "-A", "-x", "-x,", "-r", "-r3", "-rx", "-I", "-I5", "-I-1", "--per-core", "--per",
             "--per-thread", "--no-aggr", "--aggr", "--no-per-core", "-p", "-t", "--pid=1", "--no-event", "-Q",
             "--foo", "-aA", "--all", "--no-all-cpus", "--field-separator=:", "--int"],
    "report": ["-i", "-G", "-n", "-q", "-f", "-s", "--sort=x", "--so", "--children", "--no-children", "--child",
               "--no-child", "--header", "--head", "--header-only", "--stdio", "--std", "--tui", "--no-tui", "-c",
               "--comm", "--comms=x", "-d", "-S", "--percent-limit=1", "--perc", "--inline", "--no-inline",
               "--raw-trace", "--symfs", "--kallsyms", "-Q", "--foo", "-nq", "--no-", "--group"],
    "script": ["-i", "--ns", "-G", "--symfs", "--kallsyms", "--show-kernel-path", "--show", "-f", "--no-inline",
               "--inline", "--comm", "--comms", "-c", "--pid", "--tid", "-v", "-vv", "--verbose", "-Q", "--foo",
               "-fG", "--no-ns", "--n"],
}


@pytest.mark.perf
@pytest.mark.skipif(not os.path.exists(PERF), reason="needs /usr/bin/perf")
@pytest.mark.parametrize("command", sorted(WORDS))
def test_random_bad_command_lines_as_perf(command, tmp_path):
    """Random option words, ended by two unknown options (so perf always stops in its walk: no command is
    run and no file read), give perf's text and status."""
    import random
    rnd = random.Random(f"parse-options {command}")
    for _ in range(25):
        argv = rnd.sample(WORDS[command], rnd.randint(1, 4)) + ["--zzzz", "--yyyy"]
        theirs = subprocess.run([PERF, command, *argv], capture_output=True, text=True, cwd=tmp_path,
                                stdin=subprocess.DEVNULL)
        assert theirs.returncode == 129, argv
        ours = pyperf(command, *argv, cwd=tmp_path)
        assert (ours.stdout, without_extensions(ours.stderr, command), ours.returncode) == \
            (theirs.stdout, cases.pyperf_usage(theirs.stderr), 129), argv
