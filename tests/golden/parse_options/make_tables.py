#!/usr/bin/env python3
"""Write pyperf_probe/perf_options/*.py: perf 6.1's option tables (tools/lib/subcmd's ``struct option``
arrays), read from the installed perf itself, for the parse-options engine (pyperf_probe/parse_options.py).

    sudo python3 tests/golden/parse_options/make_tables.py      # needs /usr/bin/perf 6.1

For each command, perf tells:
* ``--help-all``: every option that is not disabled, hidden ones included, sorted, in print_option_help's
  layout: the short and long names, the argument (`` <argh>``, ``[=<argh>]``, `` ...``: which kind of value),
  the help text, ``(not built-in because X)`` for PARSE_OPT_NOBUILD;
* ``-h``: the same without the PARSE_OPT_HIDDEN ones;
* ``--list-opts``: the long names in the table's own order (abbreviations and per-option usage follow it);
* probes, each ended by an option no table has, so that perf stops at parsing and runs nothing:
  ``--OPT --zzzz --yyyy`` says whether an option takes the next word even when it starts with '-'
  (PARSE_OPT_LASTARG_DEFAULT takes its default instead: then ``zzzz`` is the unknown option), and
  ``--no-OPT --yyyy`` whether it can be negated (PARSE_OPT_NONEG: "isn't available"), ``--OPT=-1 --yyyy``
  and ``--OPT=1x --yyyy`` whether its value is a number, unsigned or not (``expects ... numerical value``).
The table is rendered back with the engine and compared with both help texts before it is written.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "pyperf_probe", "perf_options")
sys.path.insert(0, ROOT)

# command -> (module name, words before the options, PARSE_OPT_STOP_AT_NON_OPTION: perf stops at the first
# word that is not an option; checked below: `perf CMD word --zzzz` fails on --zzzz only without it)
COMMANDS = {
    "record": ("record", ["record"]),
    "report": ("report", ["report"]),
    "script": ("script", ["script"]),
    "stat": ("stat", ["stat"]),
    "list": ("list", ["list"]),
    "buildid-cache": ("buildid_cache", ["buildid-cache"]),
    "data convert": ("data_convert", ["data", "convert"]),
}

HEADER = re.compile(r"^    (?:-(?P<short>\S)|    )(?:, )?(?:--(?P<long>[^\s\[=]+))?(?P<arg>.*)$")
NOBUILD = re.compile(r"^ {26}\(not built-in because (?P<why>.*)\)$")


def perf(words, cwd):
    proc = subprocess.run(["perf"] + words, capture_output=True, text=True, errors="replace",
                          stdin=subprocess.DEVNULL, cwd=cwd, timeout=30, env=dict(os.environ, PAGER="cat"))
    return proc.stdout, proc.stderr, proc.returncode


def split_usage(text):
    """(usage lines without ' Usage: ' / '    or: ', the option lines)."""
    lines = text.split("\n")
    assert lines[0] == "" and lines[1].startswith(" Usage: "), lines[:2]
    usage = [lines[1][len(" Usage: "):]]
    i = 2
    while lines[i].startswith("    or: "):
        usage.append(lines[i][len("    or: "):])
        i += 1
    assert lines[i] == "", lines[i]
    assert lines[-1] == "" and lines[-2] == "", "ends with the blank line and a newline"
    return usage, lines[i + 1:-2]


def parse_listing(lines, longs):
    """[(short, long, kind, argh, help, build_opt)] from print_option_help's lines."""
    entries, cur = [], None
    for line in lines:
        m = HEADER.match(line)
        head = None
        if m and (m.group("short") or m.group("long")):
            long = m.group("long")
            if long is None or long in longs:
                head = line[:24].rstrip() if len(line) > 24 and line[24:26] == "  " else line
                m = HEADER.match(head)
                if m.group("long") != long:
                    head = None
        if head is not None:
            arg = m.group("arg")
            kind, argh = arg_kind(arg, m.group("long"))
            cur = [m.group("short"), m.group("long"), kind, argh, None, None]
            entries.append(cur)
            if head != line:
                cur[4] = line[26:]
            continue
        nb = NOBUILD.match(line)
        if nb:
            cur[5] = nb.group("why")
            continue
        if cur[4] is None:
            assert line.startswith(" " * 26), line
            cur[4] = line[26:]
        else:
            cur[4] += "\n" + line
    return [tuple(e) for e in entries]


def arg_kind(arg, long):
    if arg == "":
        return "bool", None
    if arg == " ...":
        return "str", None
    if arg in ("[=...]", "[...]"):
        return "optarg", None
    m = re.fullmatch(r" <(.*)>", arg)
    if m:
        return "str", m.group(1)
    m = re.fullmatch(r"\[=?<(.*)>\]", arg)
    if m:
        return "optarg", m.group(1)
    raise ValueError(f"argument text {arg!r} of --{long}")


def probe_flags(words, entries, cwd):
    """{(short, long): flags} from perf's answers to the LASTARG_DEFAULT and NONEG probes."""
    from pyperf_probe.parse_options import LASTARG_DEFAULT, NONEG
    flags = {}
    for short, long, kind, *_ in entries:
        f = 0
        name = f"--{long}" if long else f"-{short}"
        if kind == "str":
            err = perf(words + [name, "--zzzz", "--yyyy"], cwd)[1]
            if "unknown option `zzzz'" in err:
                f |= LASTARG_DEFAULT
        if long:
            neg = long[3:] if long.startswith("no-") else "no-" + long
            err = perf(words + [f"--{neg}", "--yyyy"], cwd)[1]
            if "isn't available" in err.split("\n")[0]:
                f |= NONEG
        flags[(short, long)] = f
    return flags


def number_kind(words, short, long, cwd):
    """'uint' (OPTION_UINTEGER, OPTION_U64: a leading '-' is refused first), 'int' (OPTION_INTEGER,
    OPTION_LONG) or 'str', from what perf says of ``-1`` and of ``1x`` given to the option."""
    def says(value):
        word = f"--{long}={value}" if long else f"-{short}{value}"
        return perf(words + [word, "--yyyy"], cwd)[1].split("\n")[0]
    if says("-1").endswith("expects an unsigned numerical value"):
        return "uint"
    return "int" if says("1x").endswith("expects a numerical value") else "str"


def stops_at_non_option(words, cwd):
    err = perf(words + ["someword", "--zzzz"], cwd)[1]
    return "unknown option `zzzz'" not in err


def build(command, cwd):
    module, words = COMMANDS[command]
    out, err_all, rc = perf(words + ["--help-all"], cwd)
    assert rc == 129 and not out
    err_h = perf(words + ["-h"], cwd)[1]
    listed = perf(words + ["--list-opts"], cwd)[0].split()
    longs = [w[2:] for w in listed]
    usage, lines_all = split_usage(err_all)
    usage_h, lines_h = split_usage(err_h)
    assert usage == usage_h
    entries = parse_listing(lines_all, set(longs))
    shown = {(e[0], e[1]) for e in parse_listing(lines_h, set(longs))}
    missing = set(longs) - {e[1] for e in entries}
    assert not missing, f"{command}: options without help (disabled?): {missing}"
    # the table's order: long names as --list-opts gives them, the short-only ones after (their place
    # does not change what the parser does: no abbreviation reaches them)
    order = {long: i for i, long in enumerate(longs)}
    entries.sort(key=lambda e: order.get(e[1], len(order)))
    from pyperf_probe.parse_options import CANSKIP, HIDDEN, NOBUILD as NOBUILD_FLAG
    flags = probe_flags(words, entries, cwd)
    table = []
    for short, long, kind, argh, help_, why in entries:
        if kind == "str":
            kind = number_kind(words, short, long, cwd)
        f = flags[(short, long)] | (0 if (short, long) in shown else HIDDEN)
        if why:     # ignored with a warning (CANSKIP), or refused
            name = f"--{long}" if long else f"-{short}"
            skip = "is being ignored" in perf(words + [name, "--zzzz", "--yyyy"], cwd)[1]
            f |= NOBUILD_FLAG | (CANSKIP if skip else 0)
        table.append((short, long, kind, argh, help_, f, why))
    return module, usage, stops_at_non_option(words, cwd), table, err_all, err_h


def check(usage, table, err_all, err_h):
    from pyperf_probe.parse_options import Option, Table
    t = Table(tuple(usage), tuple(Option.from_row(r) for r in table))
    assert t.full_usage(full=True) == err_all, "round trip (--help-all)"
    assert t.full_usage() == err_h, "round trip (-h)"


def write(command, module, usage, stop, table, version):
    path = os.path.join(OUT, module + ".py")
    with open(path, "w") as f:
        f.write(f'"""perf {version}\'s options for ``perf {command}``: generated by '
                "tests/golden/parse_options/make_tables.py\nfrom the installed perf's --help-all, -h, --list-opts "
                'and probes; do not edit (run it again)."""\n\n')
        f.write(f"USAGE = {tuple(usage)!r}\n")
        f.write(f"STOP_AT_NON_OPTION = {stop!r}\n")
        f.write("# (short, long, kind, argh, help, flags, build_opt), in the table's order\n")
        f.write("OPTIONS = (\n")
        for row in table:
            f.write(f"    {row!r},\n")
        f.write(")\n")


def main():
    version = perf(["version"], None)[0].split()[-1]
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="pyperf_tables_") as cwd:
        for command in COMMANDS:
            if only and command not in only:
                continue
            module, usage, stop, table, err_all, err_h = build(command, cwd)
            check(usage, table, err_all, err_h)
            write(command, module, usage, stop, table, version)
            print(f"{command}: {len(table)} options, stop at non-option: {stop}")


if __name__ == "__main__":
    main()
