"""``pyperf buildid-cache``: manage the build-id cache (``~/.debug``) that perf and pyperf share.

As ``perf buildid-cache`` (tools/perf/builtin-buildid-cache.c): ``-a/--add``, ``-r/--remove``,
``-p/--purge`` take comma-separated file lists (processed in sorted order, as perf's strlist does),
``-P/--purge-all``, ``-l/--list`` (exclusive), ``-u/--update``. Adding a binary also caches its SDT markers,
which ``pyperf list sdt`` shows and ``pyperf probe sdt_PROVIDER:NAME`` uses.

Where perf differs: perf reports a file it cannot add with a stale errno text ("Inappropriate ioctl for
device") and exits 0; pyperf says why (not an ELF file, no build-id, no such file) and exits 1.
"""
from __future__ import annotations

import logging
import sys
from typing import List

from pyperf_probe.errors import SymbolError, UsageError

log = logging.getLogger("pyperf")

EXAMPLES = """
    pyperf buildid-cache --add /tmp/tick          # cache it, with its SDT markers
    pyperf list sdt                               # the cached markers
    pyperf probe sdt_tick:loop2                   # a uprobe on one of them
    pyperf buildid-cache --list
    pyperf buildid-cache --purge /tmp/tick
"""


def _parser():
    """perf buildid-cache's walk and texts (cmdline.Parser over perf 6.1's table); -k, -M, --debuginfod and
    --target-ns are refused in perf's words."""
    from pyperf_probe.cmdline import Parser
    p = Parser("pyperf buildid-cache", perf="buildid-cache", examples=EXAMPLES)
    p.add_argument("-a", "--add")
    p.add_argument("-r", "--remove")
    p.add_argument("-p", "--purge")
    p.add_argument("-P", "--purge-all", action="store_true")
    p.add_argument("-u", "--update")
    p.add_argument("-l", "--list", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.add_argument("rest", nargs="*")
    return p


def _usage(message: str = "") -> UsageError:
    """perf's usage_with_options, after ``message`` when there is one."""
    from pyperf_probe.parse_options import ParseError
    return ParseError(message + _parser().perf_table().full_usage())


def _file_list(text: str) -> List[str]:
    """perf's ``strlist__new(list)``: comma-separated, sorted, without duplicates or empty items."""
    return sorted({item for item in text.split(",") if item})


def main(argv: List[str], opts) -> int:
    args = _parser().parse_args(argv)
    actions = [args.add, args.remove, args.purge, args.update, args.purge_all]
    if args.rest or not (args.list or any(actions)):
        raise _usage()
    if args.list and any(actions):
        raise _usage("  Error: -l is exclusive.\n\n")
    if args.verbose:
        log.setLevel(logging.DEBUG)

    from pyperf_probe.symbols.buildid_cache import BuildIdCache

    cache = BuildIdCache()
    if args.list:
        for build_id in cache.list_all(valid_only=True):
            print(f"{build_id} {cache.origname(build_id)}")
        return 0
    failed = 0
    for path in _file_list(args.add or ""):
        failed += _run(f"Couldn't add {path}", lambda p=path: _add(cache, p), path)
    for path in _file_list(args.remove or ""):
        failed += _run(f"Couldn't remove {path}", lambda p=path: _remove(cache, p), path)
    for path in _file_list(args.purge or ""):
        failed += _run(f"Couldn't remove {path}", lambda p=path: _purge(cache, p), path)
    if args.purge_all:
        failed += _run("Couldn't remove some caches", lambda: _purge_all(cache))
    for path in _file_list(args.update or ""):
        failed += _run(f"Couldn't update {path}", lambda p=path: _update(cache, p), path)
    return 1 if failed else 0


def _run(what: str, action, path: str = "") -> int:
    """One file's action; its failure is reported and counted, and the next file still runs (as perf)."""
    try:
        action()
        return 0
    except SymbolError as exc:
        sys.stderr.write(f"{what}: {_reason(exc.message, path)}\n")
        return 1


def _reason(message: str, path: str) -> str:
    """The error without the file name ``what`` already shows ("/x: No such file" -> "No such file")."""
    for head in (f"{path}: ", f"{path} "):
        if path and message.startswith(head):
            return message[len(head):]
    return message


def _add(cache, path: str) -> None:
    cached = cache.add(path)
    log.debug("Adding %s %s: Ok", cached.build_id, path)


def _remove(cache, path: str) -> None:
    build_id = cache.remove_file(path)
    if build_id is None:
        log.debug("%s wasn't in the cache", path)
    else:
        log.debug("Removing %s %s: Ok", build_id, path)


def _purge(cache, path: str) -> None:
    removed = cache.purge(path)
    for build_id in removed:
        log.debug("Removing %s %s: Ok", build_id, path)
    log.debug("Purging %s: Ok", path)


def _purge_all(cache) -> None:
    for build_id in cache.purge_all():
        log.debug("Removing %s: Ok", build_id)
    log.debug("Purged all: Ok")


def _update(cache, path: str) -> None:
    from pyperf_probe.symbols.buildid_cache import file_build_id

    build_id = file_build_id(path)
    if cache.is_cached(build_id):
        cache.remove(build_id)
    cache.add(path)
    log.debug("Updating %s %s: Ok", build_id, path)
