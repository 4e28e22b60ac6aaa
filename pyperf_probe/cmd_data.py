"""``pyperf data convert``: a perf.data file in another format (tools/perf/builtin-data.c).

``--to-json FILE`` writes what perf 6.1's ``perf data convert --to-json`` writes (``export.perf_json``), with
its messages and exit statuses; ``--to-pprof FILE`` (beyond perf) writes pprof's profile.proto, gzipped,
for ``go tool pprof`` and the profiling servers that ingest pprof (``export.pprof``). perf's ``--to-ctf``
(Common Trace Format, through libbabeltrace) is not written by pyperf. ``--symfs`` (beyond perf, whose
convert reads every file at its recorded path) looks for the binaries under a directory.
"""
from __future__ import annotations

import errno
import os
import sys

from pyperf_probe.errors import UsageError

EXAMPLES = """
  pyperf data convert --to-json perf.json              # perf 6.1's JSON of ./perf.data
  pyperf data convert -i lib.data --to-pprof lib.pb.gz
  go tool pprof -top lib.pb.gz
"""

EXIT_FAILED = 255


def build_parser():
    from pyperf_probe.cmdline import Parser
    p = Parser("pyperf data convert", description="Convert a perf.data file to another format.",
               examples=EXAMPLES, perf="data convert")
    p.add_argument("-f", "--force", action="store_true", help="don't complain, do it")
    p.add_argument("-i", "--input", default=None, help="input file name")
    p.add_argument("-v", "--verbose", action="count", default=0, help="be more verbose")
    p.add_argument("--all", action="store_true", help="Convert all events")
    p.add_argument("--to-ctf", default=None, metavar="FILE", help="Convert to CTF format (not by pyperf)")
    p.add_argument("--to-json", default=None, metavar="FILE", help="Convert to JSON format")
    p.add_argument("--to-pprof", default=None, metavar="file", help="Convert to pprof's profile.proto (gzipped)",
                   extension=True)
    p.add_argument("--symfs", default=None, metavar="directory", extension=True,
                   help="Look for files with symbols relative to this directory")
    p.add_argument("--kallsyms", default=None, metavar="file", help="kallsyms pathname", extension=True)
    p.add_argument("--no-inline", dest="inline", action="store_false", extension=True,
                   help="pprof: no inline frames (Line entries) from DWARF")
    p.add_argument("--tod", action="store_true", help="Convert time to wall clock time")
    return p


def _convert_argv(argv: list[str]) -> list[str]:
    """perf data's own walk (convert's options, up to the first other word), which must be ``convert``:
    the words convert reads, the options before it included."""
    from pyperf_probe import parse_options as po
    parser = build_parser()
    table = parser.perf_table()
    rest = po.parse_command(po.Table(table.usage, table.options, stop_at_non_option=True), argv, lambda occ: None,
                            parser.unsupported, parser.examples_text())
    if not rest:
        raise po.ParseError(table.full_usage())
    if rest[0] != "convert":
        raise po.ParseError(f"Unknown command: {rest[0]}\n" + table.full_usage())
    return argv[:len(argv) - len(rest)] + rest[1:]


def main(argv: list[str], opts) -> int:
    args = build_parser().parse_args(_convert_argv(argv))
    targets = [t for t in (args.to_ctf, args.to_json, args.to_pprof) if t is not None]
    if len(targets) > 1:
        sys.stderr.write("You cannot specify both --to-ctf and --to-json.\n" if args.to_pprof is None else
                         "You can specify only one of --to-ctf, --to-json and --to-pprof.\n")
        return EXIT_FAILED
    if not targets:
        sys.stderr.write("You must specify one of --to-ctf or --to-json.\n" + build_parser().perf_table().full_usage())
        return EXIT_FAILED
    if args.to_ctf is not None:
        sys.stderr.write("pyperf data convert: --to-ctf is not supported (use --to-json or --to-pprof)\n")
        return EXIT_FAILED
    if args.to_json is not None:
        return _to_json(args)
    return _to_pprof(args)


def _open_output(path: str, force: bool):
    """perf's ``open(output, O_CREAT|O_WRONLY|(force ? O_TRUNC : O_EXCL), 0666)``, before the input is read."""
    flags = os.O_CREAT | os.O_WRONLY | (os.O_TRUNC if force else os.O_EXCL)
    try:
        return os.fdopen(os.open(path, flags, 0o666), "wb")
    except OSError as exc:
        sys.stderr.write("Output file exists. Use --force to overwrite it.\n" if exc.errno == errno.EEXIST
                         else "Error opening output file!\n")
        return None


def _session(args):
    from pyperf_probe.errors import PerfDataError
    from pyperf_probe.export.walk import Walk
    try:
        return Walk(args.input, symfs=args.symfs, force=args.force, inline=args.inline, what="data convert",
                    kallsyms=args.kallsyms)
    except PerfDataError as exc:
        sys.stderr.write(f"{exc.message}\nError creating perf session!\n")
        return None


def _to_json(args) -> int:
    if args.all:
        sys.stderr.write("--all is currently unsupported for JSON output.\n")
        return EXIT_FAILED
    if args.tod:
        sys.stderr.write("--tod is currently unsupported for JSON output.\n")
        return EXIT_FAILED
    out = _open_output(args.to_json, args.force)
    if out is None:
        return EXIT_FAILED
    with out:
        walk = _session(args)
        if walk is None:
            return EXIT_FAILED
        from pyperf_probe.export.perf_json import JsonConverter
        with walk:
            conv = JsonConverter(walk.session, out)
            conv.begin()
            for sample in walk.samples():
                conv.add(sample)
            conv.end()
            path = walk.session.data.path
        size = conv.bytes_written
    sys.stderr.write(f"[ perf data convert: Converted '{path}' into JSON data '{args.to_json}' ]\n"
                     f"[ perf data convert: Converted and wrote {size / 1024 / 1024:.3f} MB "
                     f"({conv.nr_samples} samples) ]\n")
    return 0


def _to_pprof(args) -> int:
    if args.tod:
        raise UsageError("--tod is not supported for pprof output (pprof keeps the profile's start time)")
    out = _open_output(args.to_pprof, args.force)
    if out is None:
        return EXIT_FAILED
    with out:
        walk = _session(args)
        if walk is None:
            return EXIT_FAILED
        from pyperf_probe.export.pprof import write_profile
        with walk:
            stats = write_profile(walk, out)
            path = walk.session.data.path
    sys.stderr.write(f"[ pyperf data convert: Converted '{path}' into pprof data '{args.to_pprof}' ]\n"
                     f"[ pyperf data convert: Converted and wrote {stats.size / 1024 / 1024:.3f} MB "
                     f"({stats.samples} samples, {stats.locations} locations, {stats.functions} functions) ]\n")
    return 0
