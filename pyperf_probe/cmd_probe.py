"""``pyperf probe``: define uprobes as ``perf probe`` does (builtin-probe.c).

Options -> :class:`Params`; then one pipeline per command: ``-a``/``-D``: parse -> convert -> name ->
write or print; ``-l``, ``-d``, ``-F``, ``-V``, ``-L``. Messages, streams and exit statuses are perf's
(perf-formats.md §4.3), with ``pyperf`` in the commands perf suggests.
"""
from __future__ import annotations

import errno as errno_mod
import sys

from pyperf_probe.errors import KernelError, ProbeError, PyperfError, SymbolError, UsageError
from pyperf_probe.probe import options as O

# cli.py may end the process without the interpreter's teardown after this command (cli._end_process):
# every file probe writes (uprobe_events, the build-id and probe caches) is closed before it returns, and
# it starts no thread.
NO_TEARDOWN = True


class Failure(ProbeError):
    """A failed command: ``text`` is exactly what goes to stderr (nothing under -q)."""

    verbatim = True

    def __init__(self, text: str, errno: int):
        super().__init__(text, errno=errno)


class Params:
    """perf's ``params``: what the options asked for."""

    def __init__(self):
        self.command: str | None = None
        self.verbose = 0
        self.quiet = False
        self.force = False
        self.dry_run = False
        self.no_inlines = False
        self.externs = False
        self.range = False
        self.demangle = True
        self.max_probes = 0
        self.symfs: str | None = None
        self.target: str | None = None
        self.target_used = False
        self.events: list[tuple[object, str | None]] = []     # (ProbeSpec, target)
        self.filter = None
        self.line_desc: str | None = None
        self.notes: list[str] = []
        self.ptrace = False         # --ptrace: probes stored for the ptrace backend (pyperf_probe/ptrace)
        self.argv: list[str] = []

    # -- option callbacks -------------------------------------------------------------------------------

    def on_option(self, opt: O.Option, value: str | None, as_short: bool) -> None:
        name = opt.long
        if name == "verbose":
            self.verbose += 1
        elif name in ("quiet", "force", "dry-run", "no-inlines", "externs", "range", "ptrace"):
            setattr(self, name.replace("-", "_"), True)
        elif name in ("list", "del", "funcs"):
            self.command = opt.short
            self.add_filter(value)
        elif name == "filter":
            self.add_filter(value)
        elif name in ("add", "definition"):
            self.command = opt.short
            self.add_event(value)
        elif name == "vars":
            self.add_event(value)
            if self.events[-1][0].args:
                raise UsageError("  Error: '--vars' doesn't accept arguments.")
            self.command = "V"
        elif name == "line":
            self.on_line(value)
        elif name == "max-probes":
            self.max_probes = int(value or 0)      # parse-options checked it as strtol(value, 10) does
        elif name == "exec":
            self.set_target(value)
        elif name == "symfs":
            self.symfs = value
        elif name == "demangle":
            self.demangle = True
        else:
            raise UsageError(f"  Error: --{name} is for kernel probes, which pyperf does not make "
                             "(it probes user-space programs: use -x).")

    def on_unset(self, opt: O.Option) -> None:
        """--no-NAME: perf's booleans go back to false and -v's count to 0; its callbacks do nothing."""
        if opt.long == "verbose":
            self.verbose = 0
        elif opt.long in ("quiet", "force", "dry-run", "no-inlines", "externs", "range", "ptrace", "demangle"):
            setattr(self, opt.long.replace("-", "_"), False)

    def on_line(self, value: str) -> None:
        if self.command == "L":
            self.warn("Warning: more than one --line options are detected. Only the first one is valid.\n")
            return
        self.command = "L"
        self.line_desc = value

    def add_filter(self, rules: str | None) -> None:
        from pyperf_probe.probe.strfilter import StrFilter
        if rules is None:
            return
        try:
            if self.filter is None:
                self.filter = StrFilter(rules)
            else:
                self.filter.or_(rules)
        except ProbeError as err:
            raise UsageError(err.message) from None

    def add_event(self, text: str) -> None:
        from pyperf_probe.probe import sdt
        from pyperf_probe.probe.spec import parse_probe_command
        if self.verbose:
            sys.stderr.write(f"probe-definition({len(self.events)}): {text}\n")
        try:
            # SDT markers (sdt_PROVIDER:NAME, %[GROUP:]NAME[@FILE]) come from the build-id cache: probe/sdt.py
            first = (text.split() or [""])[0]
            spec = sdt.parse_sdt_command(text) if sdt.is_sdt_event(first) else parse_probe_command(text)
        except ProbeError as err:
            raise UsageError(err.message.rstrip("\n")) from None
        if self.verbose and hasattr(spec, "point"):
            sys.stderr.write(_debug_parse(spec))
        self.events.append((spec, self.target))
        if self.target:
            self.target_used = True

    def set_target(self, given: str) -> None:
        from pyperf_probe.symbols.targets import resolve_target
        try:
            found = resolve_target(given)
        except SymbolError as err:
            raise UsageError(err.message) from None
        if found.how != "path":
            self.notes.append(f"Using {found.path} for {given} (found in {found.how}).\n")
        self.target, self.target_used = found.path, False

    def warn(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(text)


def _debug_parse(spec) -> str:
    """perf's pr_debug lines of ``parse_perf_probe_point`` and ``parse_probe_event`` (-v)."""
    p = spec.point
    text = (f"symbol:{p.function or '(null)'} file:{p.file or '(null)'} line:{p.line} offset:{p.offset} "
            f"return:{int(p.retprobe)} lazy:{p.lazy_line or '(null)'}\n")
    for a in spec.args:
        text += f"parsing arg: {a.text()} into " + (f"name:{a.name} " if a.name else "")
        text += (f"type:{a.type} " if a.type else "") + a.var + "\n"
    return text + f"{len(spec.args)} arguments\n"


# ---------------------------------------------------------------------------------------------------------


def main(argv: list[str], opts) -> int:
    params = Params()
    params.argv = list(argv)
    try:
        rest = O.parse(argv, params.on_option, params.on_unset)
    except O.HelpRequested as req:
        sys.stdout.write(O.help_text(req))
        return 0
    if rest:
        positional(params, rest)
    if params.quiet and params.verbose:
        raise Failure("  Error: -v and -q are exclusive.\n", errno_mod.EINVAL)
    if params.max_probes == 0:
        params.max_probes = O.MAX_PROBES
    for note in params.notes:
        params.warn(note)
    command = params.command
    if command == "l":
        return cmd_list(params)
    if command == "F":
        return cmd_funcs(params)
    if command == "d":
        return cmd_del(params)
    if command == "V":
        return cmd_vars(params)
    if command == "L":
        return cmd_lines(params)
    if command in ("a", "D"):
        return cmd_add(params)
    raise O.ParseError(O.full_usage())


def positional(params: Params, rest: list[str]) -> None:
    """perf's ``parse_probe_event_argv``: an absolute path first is the target; the rest is one PROBEDEF."""
    if rest[0] == "-":
        raise O.ParseError(O.full_usage("'-' is not supported.\n"))
    if params.command and params.command != "a":
        raise O.ParseError(O.full_usage("another command except --add is set.\n"))
    if params.target is None and rest[0].startswith("/"):
        params.target, params.target_used = rest[0], False
        rest = rest[1:]
    if rest:
        try:
            params.add_event(" ".join(rest))
        except UsageError as err:
            text = err.message + "\n" + _messages().PARSE_FAILED + "\n"
            raise Failure(_quiet(params, text), errno_mod.EINVAL) from None
    params.command = "a"


def _messages():
    """probe/messages.py, imported when a message is printed: ``pyperf probe -F`` does not pay for it."""
    from pyperf_probe.probe import messages
    return messages


def _quiet(params: Params, text: str) -> str:
    return "" if params.quiet else text


def _fail(params: Params, err: PyperfError, trailer: str) -> Failure:
    """perf's ``pr_err_with_code(trailer)`` after the error's own message."""
    text = err.message.rstrip("\n")
    text = (text + "\n" if text else "") + trailer + "\n"
    return Failure(_quiet(params, text), err.errno or errno_mod.ENOENT)


# ---- -a / -D ------------------------------------------------------------------------------------------


def cmd_add(params: Params) -> int:
    if params.target and not params.target_used:
        raise Failure("  Error: -x/-m must follow the probe definitions.\n"
                      + O.option_usage(["m"]) + O.option_usage(["x"], header=False), errno_mod.EINVAL)
    from pyperf_probe.probe import adding
    try:
        plans = adding.convert_all(params.events, warn=params.warn, max_probes=params.max_probes,
                                   symfs=params.symfs, no_inlines=params.no_inlines)
        if params.command == "D":
            sys.stdout.write(adding.definitions_text(plans))
            return 0
        from pyperf_probe.ptrace import probe_cmd
        if params.ptrace:
            done = probe_cmd.add(plans, force=params.force, dry_run=params.dry_run)
            params.warn(probe_cmd.added_text(done))
            return 0
        if not params.dry_run and not probe_cmd.uprobe_events_writable():
            raise Failure(_quiet(params, probe_cmd.no_uprobes_line(params.argv)), errno_mod.EACCES)
        done = adding.apply(plans, force=params.force, dry_run=params.dry_run)
    except Failure:
        raise
    except (ProbeError, SymbolError, KernelError) as err:
        raise _fail(params, err, _messages().ADD_FAILED) from None
    params.warn(adding.added_text(done))
    return 0


# ---- -l / -d ------------------------------------------------------------------------------------------


def cmd_list(params: Params) -> int:
    if params.target:
        raise Failure("  Error: Don't use --list with --exec.\n" + O.option_usage(["l"])
                      + O.option_usage(["x"], header=False), errno_mod.EINVAL)
    from pyperf_probe.probe import events
    from pyperf_probe.ptrace import probe_cmd
    try:
        text = events.list_text(params.filter)
    except (ProbeError, KernelError) as err:
        if not probe_cmd.have_any():  # without root, the ptrace probes are what there is to list
            raise _fail(params, err, _messages().LIST_FAILED) from None
        text = ""
    sys.stdout.write(text + probe_cmd.list_text(params.filter))
    return 0


def cmd_del(params: Params) -> int:
    from pyperf_probe.probe import events
    from pyperf_probe.ptrace import probe_cmd
    try:
        traced = probe_cmd.names_to_delete(params.filter)
        try:
            names = events.events_to_delete(params.filter)
        except (ProbeError, KernelError):
            if not traced:
                raise
            names = []          # without root: only the ptrace probes
        if not names and not traced:
            raise ProbeError(f'"{params.filter.text()}" does not hit any event.', errno=errno_mod.ENOENT)
        params.warn(_messages().removed_text(sorted(set(names) | set(traced), key=lambda s: s.encode())))
        probe_cmd.delete(traced)
        if names:
            events.delete(names)
    except (ProbeError, KernelError) as err:
        raise _fail(params, err, _messages().DEL_FAILED) from None
    return 0


# ---- -F / -V / -L -------------------------------------------------------------------------------------


def _require_target(params: Params, what: str) -> str:
    if not params.target:
        raise Failure(_quiet(params, f"pyperf probe {what} needs -x TARGET: pyperf probes user-space "
                                     "programs, not the kernel.\n"), errno_mod.EINVAL)
    return params.target


def cmd_funcs(params: Params) -> int:
    """``-F``: the functions (and objects) perf lists as probe-able, filtered (probe-event.c
    ``show_available_funcs``): every symbol perf loads, aliases included, sorted by name (strcmp order),
    demangled, each name tested against the filter (default ``!_* & !*@plt``). The filter runs before the
    sort (the result is the same: each name is tested on its own), so only the names it keeps are sorted
    (symtab.SymbolTable.names)."""
    target = _require_target(params, "-F")
    from pyperf_probe.symbols.symtab import load_symtab
    try:
        table = load_symtab(target, params.symfs)
        if not len(table):
            raise ProbeError(f"Failed to load symbols in {target}", errno=errno_mod.EPERM)
        names = table.names(params.filter)
    except (ProbeError, SymbolError) as err:
        raise _fail(params, err, _messages().FUNCS_FAILED) from None
    if names:
        names.append("")            # the final newline, without a second copy of the joined text
        sys.stdout.write("\n".join(names))
    return 0


def cmd_vars(params: Params) -> int:
    from pyperf_probe.probe import vars_lines
    from pyperf_probe.probe.strfilter import StrFilter
    flt = params.filter or StrFilter(O.DEFAULT_VAR_FILTER)
    try:
        text = vars_lines.vars_text(params.events, flt, externs=params.externs, warn=params.warn,
                                    no_inlines=params.no_inlines, max_probes=params.max_probes,
                                    ranges=params.range)
    except (ProbeError, SymbolError) as err:
        raise _fail(params, err, _messages().VARS_FAILED) from None
    sys.stdout.write(text)
    return 0


def cmd_lines(params: Params) -> int:
    target = _require_target(params, "-L")
    from pyperf_probe.probe import vars_lines
    try:
        text = vars_lines.lines_text(target, params.line_desc, warn=params.warn)
    except (ProbeError, SymbolError) as err:
        raise _fail(params, err, _messages().LINES_FAILED) from None
    sys.stdout.write(text)
    return 0
