"""``pyperf tplist``: bcc's tools/tplist.py: kernel tracepoints (and probe events), or the SDT markers of a
binary or process, with ``-v`` a tracepoint's fields as the C declarations a BPF program's context struct
copies (the BPF-on-tracepoints seed: ``tplist -v random:urandom_read`` -> ``    int got_bits;``...).

As bcc prints them:

* without ``-l``/``-p``: every ``CATEGORY:EVENT`` of tracefs's ``events/`` (uprobe and other probe events
  are categories too) whose name matches the optional fnmatch FILTER; with ``-v``, after each, one
  ``    TYPE NAME;`` line per field of its format, the ``common_`` fields and ``__data_loc`` ones left out;
* with ``-l LIB`` (a path, or a library name as ``pyperf probe -x`` finds it) or ``-p PID`` (the binary and
  the libraries mapped by the process): one ``PATH PROVIDER:NAME`` line per SDT marker (first of each name),
  with ``-v`` bcc's probe summary (``PATH PROVIDER:NAME [sema 0xADDR]``, ``  N location(s)``,
  ``  N argument(s)``).
"""
from __future__ import annotations

import fnmatch
import os
import sys

from pyperf_probe.errors import UsageError

EXAMPLES = """
  pyperf tplist                          # every kernel tracepoint and probe event
  pyperf tplist -v 'random:urandom_read' # its fields, as a BPF program's context struct declares them
  pyperf tplist 'sched:*'                # tracepoints matching a filter
  pyperf tplist -l c                     # SDT markers of libc
  pyperf tplist -p 1234 -v '*:*malloc*'  # SDT markers of a process and its libraries
"""


def build_parser():
    from pyperf_probe.cmdline import Parser
    p = Parser("pyperf tplist", description="Display kernel tracepoints or USDT probes and their formats.",
               examples=EXAMPLES)
    p.add_argument("-p", "--pid", type=int, default=None, help="List USDT probes in the specified process")
    p.add_argument("-l", "--lib", default="", help="List USDT probes in the specified library or executable")
    p.add_argument("-v", dest="variables", action="store_true", help="Print the format (available variables)")
    p.add_argument("filter", nargs="?", default=None,
                   help="A filter that specifies which probes/tracepoints to print")
    return p


def field_declarations(format_text: str) -> list[str]:
    """bcc's ``print_tpoint_format``: ``    TYPE NAME;`` for each ``field:TYPE NAME;`` of the format text,
    ``common_*`` and ``__data_loc`` fields left out."""
    out = []
    for line in format_text.split("\n"):
        start = line.find("field:")
        end = line.find(";", start)
        if start < 0 or end < 0:
            continue
        parts = line[start + len("field:"):end].split()
        if not parts:
            continue
        name, type_ = parts[-1], " ".join(parts[:-1])
        if "__data_loc" in type_ or name.startswith("common_"):
            continue
        out.append(f"    {type_} {name};")
    return out


def _matches(name: str, pattern: str | None) -> bool:
    return not pattern or fnmatch.fnmatch(name, pattern)


def tracepoint_lines(events_dir: str, pattern: str | None, variables: bool) -> list[str]:
    """bcc's ``print_tracepoints`` (directory order, as os.listdir gives it)."""
    out = []
    for category in os.listdir(events_dir):
        cat_dir = os.path.join(events_dir, category)
        if not os.path.isdir(cat_dir):
            continue
        for event in os.listdir(cat_dir):
            evt_dir = os.path.join(cat_dir, event)
            if not os.path.isdir(evt_dir):
                continue
            name = f"{category}:{event}"
            if not _matches(name, pattern):
                continue
            out.append(name)
            if variables:
                try:
                    with open(os.path.join(evt_dir, "format")) as f:
                        out.extend(field_declarations(f.read()))
                except OSError:
                    pass
    return out


def _binaries(pid: int | None, lib: str) -> list[str]:
    """The ELF files whose markers are listed: ``-l`` (resolved as pyperf probe -x resolves it), or the
    executable and file-backed maps of ``-p``."""
    if lib:
        return [_library_path(lib)]
    paths, seen = [], set()
    try:
        paths.append(os.path.realpath(f"/proc/{pid}/exe"))
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].startswith("/"):
                    paths.append(fields[5].strip())
    except OSError as exc:
        raise UsageError(f"cannot read the maps of process {pid}: {exc.strerror}") from None
    return [p for p in paths if not (p in seen or seen.add(p))]


def _library_path(lib: str) -> str:
    """A path, a program on $PATH or a soname (as ``pyperf probe -x``), else bcc's short library name:
    ``c`` is the ld.so.cache entry ``libc.so*``."""
    from pyperf_probe.errors import SymbolError
    from pyperf_probe.symbols import targets
    try:
        return targets.resolve_target(lib).path
    except SymbolError:
        if "/" in lib:
            raise
    native = targets.native_required_flags()
    found = [e for e in targets.ld_cache_entries() if e.soname.startswith(f"lib{lib}.so") and os.path.exists(e.path)]
    found.sort(key=lambda e: (e.flags & targets.FLAG_REQUIRED_MASK) != native)
    if not found:
        raise SymbolError(f"Failed to get the absolute path of {lib}: No such file or directory", errno=2)
    return os.path.realpath(found[0].path)


def usdt_lines(pid: int | None, lib: str, pattern: str | None, variables: bool) -> list[str]:
    """bcc's ``print_usdt``: the first marker of each PROVIDER:NAME that matches."""
    from pyperf_probe.symbols.elf import open_elf
    from pyperf_probe.symbols.sdt import read_sdt_notes
    out, seen = [], set()
    for path in _binaries(pid, lib):
        try:
            notes = read_sdt_notes(open_elf(path))
        except Exception as exc:  # a map that is not an ELF file (or vanished) lists no marker
            from pyperf_probe.errors import PyperfError
            if not isinstance(exc, (PyperfError, OSError)):
                raise
            continue
        for note in notes:
            name = f"{note.provider}:{note.name}"
            if not _matches(name, pattern) or name in seen:
                continue
            seen.add(name)
            if variables:
                same = [n for n in notes if (n.provider, n.name) == (note.provider, note.name)]
                out.append(f"{path} {name} [sema 0x{note.semaphore:x}]")
                out.append(f"  {len(same)} location(s)")
                out.append(f"  {len(note.arg_list)} argument(s)")
            else:
                out.append(f"{path} {name}")
    return out


def main(argv: list[str], opts) -> int:
    args = build_parser().parse_args(argv)
    if args.pid or args.lib:
        lines = usdt_lines(args.pid, args.lib, args.filter, args.variables)
    else:
        from pyperf_probe.kernel import tracefs
        lines = tracepoint_lines(tracefs.path("events"), args.filter, args.variables)
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0
