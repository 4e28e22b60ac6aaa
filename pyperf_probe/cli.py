"""The ``pyperf`` entry point: a lazy table of subcommands, global ``-v``/``-q``, and the one place that
turns errors into exit codes.

A subcommand is a module ``pyperf_probe.cmd_<name>`` with ``main(argv, opts) -> int``; it is imported only
when it runs, so ``pyperf --help`` and ``pyperf probe -F`` pay for nothing else. A command module that sets
``NO_TEARDOWN = True`` (it closes what it writes and leaves no thread) lets the ``pyperf`` process end
without the interpreter's teardown (:func:`_end_process`), and one that sets ``NO_CYCLIC_GC = True``
(it makes no garbage cycles) runs with the cyclic collector off from the start, its own lazy imports
included; every command is imported with it off. This module itself imports
nothing heavy for the same reason (no dataclasses, typing or logging: see bench/probe_funcs); ``logging``
is set up only when it is needed (:func:`_setup_logging`).
"""
from __future__ import annotations

import gc
import os
import sys

from pyperf_probe import __version__
from pyperf_probe.errors import (KernelError, PerfDataError, ProbeError, PyperfError, ReportError,
                                 SymbolError, UsageError)

# name -> (module, one-line summary as perf's `perf help` words it)
COMMANDS = {
    "record": ("pyperf_probe.cmd_record", "Run a command and record its profile into perf.data"),
    "probe": ("pyperf_probe.cmd_probe", "Define new dynamic tracepoints"),
    "report": ("pyperf_probe.cmd_report", "Read perf.data (created by perf record) and display the profile"),
    "buildid-cache": ("pyperf_probe.cmd_buildid_cache", "Manage build-id cache."),
    "list": ("pyperf_probe.cmd_list", "List all symbolic event types"),
    "stat": ("pyperf_probe.cmd_stat", "Run a command and gather performance counter statistics"),
    "script": ("pyperf_probe.cmd_script", "Read perf.data (created by perf record) and display trace output"),
    "data": ("pyperf_probe.cmd_data", "Data file related processing"),
    "tplist": ("pyperf_probe.cmd_tplist", "Display kernel tracepoints or USDT probes and their formats"),
    "argdist": ("pyperf_probe.cmd_argdist", "Trace a function and display a summary of its parameter values"),
}

# Exit status when an error carries no errno. perf's own: usage 129, "cannot open the file" 255.
EXIT_CODES = {
    UsageError: 129,
    ProbeError: 254,
    SymbolError: 254,
    KernelError: 255,
    PerfDataError: 255,
    ReportError: 255,
}



class GlobalOptions(tuple):
    """Options given before the subcommand name (``pyperf -v probe ...``): ``verbose`` (a count) and
    ``quiet``. Immutable and equal by value, as the frozen dataclass it stands in for; a tuple subclass
    because ``import dataclasses`` costs more start-up time than ``pyperf probe -F`` may spend
    (bench/probe_funcs)."""

    __slots__ = ()

    def __new__(cls, verbose: int = 0, quiet: bool = False):
        return tuple.__new__(cls, (verbose, quiet))

    @property
    def verbose(self) -> int:
        return self[0]

    @property
    def quiet(self) -> bool:
        return self[1]

    def __repr__(self) -> str:
        return f"GlobalOptions(verbose={self[0]!r}, quiet={self[1]!r})"


def exit_code_for(exc: PyperfError) -> int:
    """perf returns ``-errno`` from a command, which the shell sees as ``(-errno) & 0xff``."""
    if exc.errno:
        return (-exc.errno) & 0xFF
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


def usage_text() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = ["", " usage: pyperf [--version] [--help] [-v] [-q] [--buildid-dir DIR] COMMAND [ARGS]", "",
             " The most commonly used pyperf commands are:"]
    lines += [f"   {name:<{width}}  {summary}" for name, (_, summary) in sorted(COMMANDS.items())]
    lines += ["", " See 'pyperf COMMAND --help' for more information on a specific command.", "",
              " Examples:", "   pyperf probe -x libc.so.6 malloc",
              "   pyperf probe -F -x libc.so.6 'mem*'", "   pyperf probe -d 'probe_libc:*'", ""]
    return "\n".join(lines)


PERF_USAGE = " Usage: pyperf [--version] [--help] [OPTIONS] COMMAND [ARGS]"


def _split_globals(argv: list[str]):
    """(GlobalOptions, or None for --help, or "version"; the rest of argv; the ``--buildid-dir`` given)."""
    verbose, quiet, buildid_dir, i = 0, False, None, 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return None, argv[i:], buildid_dir
        if arg == "--version":
            return "version", argv[i:], buildid_dir
        if arg == "--buildid-dir":
            if i + 1 >= len(argv):        # perf.c handle_options: its words, its short usage, 129
                raise UsageError("No directory given for --buildid-dir.", usage=PERF_USAGE)
            buildid_dir = argv[i + 1]
            i += 1
        elif arg.startswith("--buildid-dir="):   # perf knows only the two-word form; this one is unambiguous
            buildid_dir = arg[len("--buildid-dir="):]
        elif arg in ("-v", "--verbose"):
            verbose += 1
        elif arg.startswith("-v") and set(arg[1:]) == {"v"}:
            verbose += len(arg) - 1
        elif arg in ("-q", "--quiet"):
            quiet = True
        else:
            raise UsageError(f"Unknown option: {arg}", usage=usage_text())
        i += 1
    return GlobalOptions(verbose=verbose, quiet=quiet), argv[i:], buildid_dir


def _setup_logging(opts: GlobalOptions) -> None:
    """Messages of the ``pyperf`` logger go to stderr as bare text, at DEBUG with -v, ERROR with -q.

    Without -v/-q, and when the command has not imported ``logging`` itself, nothing is set up: a command
    that logs later (a lazily imported module) gets Python's last-resort handler, which prints WARNING and
    above to stderr as the bare message, exactly as the handler below would."""
    if not (opts.verbose or opts.quiet or "logging" in sys.modules):
        return
    import logging
    level = logging.DEBUG if opts.verbose else (logging.ERROR if opts.quiet else logging.WARNING)
    log = logging.getLogger("pyperf")
    for handler in log.handlers:
        if getattr(handler, "pyperf_cli", False):      # main() run again in one process (tests)
            log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.pyperf_cli = True
    log.addHandler(handler)
    log.setLevel(level)


def _report(exc: PyperfError, opts: GlobalOptions) -> int:
    if opts.verbose:
        import traceback
        traceback.print_exc()
    if getattr(exc, "verbatim", False):
        # The message is the complete text perf prints, blank lines included (or nothing under -q).
        sys.stderr.write(exc.message)
        return exit_code_for(exc)
    text = exc.message
    if exc.hint:
        text += "\n" + exc.hint
    if isinstance(exc, UsageError) and exc.usage:
        text += exc.gap + exc.usage
    sys.stderr.write(text.rstrip("\n") + "\n")
    return exit_code_for(exc)


def _freeze_imports() -> None:
    """Move every object alive now (modules, classes and functions of everything imported) to the
    collector's permanent generation (``gc.freeze``): they live until the process ends, so full
    collections, the ones at exit included, need not walk them again. Measured on ``pyperf probe -F -x
    libc.so.6``: about 2 ms of CPU less, a seventh of what pyperf adds to Python's own start-up
    (bench/probe_funcs). Not done when ``main`` is called with arguments (tests, embedding): the caller's
    objects are not ours to freeze."""
    gc.freeze()


def _import(module_name: str):
    """``importlib.import_module`` without importing importlib (the module is then in sys.modules)."""
    __import__(module_name)
    return sys.modules[module_name]


def _end_process(status: int) -> None:
    """End the process now, with ``status``, skipping the interpreter's teardown: the exit functions
    (``atexit``) run and the standard streams are flushed, as at a normal exit, but the objects of every
    imported module are not freed one by one. That teardown is about 1.3 ms of CPU even for ``python -c
    pass`` here, and for ``pyperf probe -F`` a tenth of its whole run (bench/probe_funcs). Used only for
    commands that declare ``NO_TEARDOWN = True``: they close every file they write and start no thread,
    so the teardown has nothing left to do for them. As Python's own exit, a failed flush makes the
    status 120."""
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            status = 120
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    """Run ``pyperf ARGS``; returns the exit status. Without ``argv`` (the ``pyperf`` script, ``python -m
    pyperf_probe``) the process is pyperf's own: the collector is told so (:func:`_freeze_imports`), and a
    command that declares ``NO_TEARDOWN`` ends the process itself (:func:`_end_process`)."""
    own_process = argv is None
    if own_process:
        status = _main(sys.argv[1:], own_process)
    else:
        # the caller's environment is theirs: PERF_BUILDID_DIR as it was before this run
        from pyperf_probe.symbols.buildid_dir import ENV
        saved = os.environ.get(ENV)
        try:
            status = _main(argv, own_process)
        finally:
            if saved is None:
                os.environ.pop(ENV, None)
            else:
                os.environ[ENV] = saved
    if own_process and _no_teardown:
        _end_process(status)
    return status


_no_teardown = False        # set by _main when the command run in pyperf's own process declares NO_TEARDOWN


def _main(argv: list[str], own_process: bool) -> int:
    global _no_teardown
    argv = list(argv)
    opts = GlobalOptions()
    try:
        opts, rest, buildid_dir = _split_globals(argv)
        # perf's set_buildid_dir: the build-id cache of every command, exported to what they run
        from pyperf_probe.symbols.buildid_dir import export
        cache_dir = export(buildid_dir)
        if buildid_dir and os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
            # perf goes on and caches nothing, silently (record) or file by file (buildid-cache)
            raise UsageError(f"--buildid-dir {buildid_dir}: Not a directory")
        if opts == "version":
            print(f"pyperf version {__version__}")
            return 0
        if opts is None or not rest or rest[0] == "help":
            if len(rest) > 1 and rest[0] == "help":
                rest = [rest[1], "--help"]
            else:
                sys.stdout.write(usage_text())
                return 0 if opts is None or (rest and rest[0] == "help") else 1
        name, cmd_argv = rest[0], rest[1:]
        if name not in COMMANDS:
            raise UsageError(f"pyperf: '{name}' is not a pyperf-command. See 'pyperf --help'.")
        if own_process:
            gc.disable()            # importing makes no garbage cycles: nothing for a collection to find
        module = _import(COMMANDS[name][0])
        if own_process:
            _freeze_imports()
            _no_teardown = getattr(module, "NO_TEARDOWN", False)
            if not getattr(module, "NO_CYCLIC_GC", False):
                gc.enable()
        _setup_logging(opts)
        status = module.main(cmd_argv, opts)
        if _no_teardown:
            sys.stdout.flush()      # here, so that a failed write is reported as any other (below)
        return status
    except PyperfError as exc:
        return _report(exc, opts if isinstance(opts, GlobalOptions) else GlobalOptions())
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`pyperf report | head`): not an error.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except OSError as exc:
        if isinstance(opts, GlobalOptions) and opts.verbose:
            raise
        sys.stderr.write(f"pyperf: {exc.strerror or exc}{': ' + exc.filename if exc.filename else ''}\n")
        return 1
