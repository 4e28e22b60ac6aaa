"""Where ``pyperf probe --ptrace`` keeps its probe definitions: a file the user can write, in place of
tracefs's ``uprobe_events``.

``$XDG_STATE_HOME/pyperf/ptrace_events`` (``~/.local/state/pyperf/ptrace_events`` when XDG_STATE_HOME is
unset or not absolute: the XDG Base Directory rules). One definition per line in the text the kernel
takes (``p:GROUP/EVENT PATH:0xOFFSET[(0xREF_CTR)] ARGS``, probe/tracedef.py), so that the same parser
reads both and ``-D`` shows what is stored; a multi-probe event has several lines. Each line ends with
``# build-id HEX``, the file's when the probe was placed (uprobe_events takes the line as it is: '#' starts
a comment there): a file rebuilt since has other offsets, and an int3 at a stale one would corrupt the
program (a uprobe would too; here ``check_files`` refuses it). Every
change rewrites the file whole (a temporary file renamed over it) under an flock of
``ptrace_events.lock``, so concurrent ``pyperf probe --ptrace`` runs neither lose nor half-write a
definition.
"""
from __future__ import annotations

import contextlib
import errno as errno_mod
import fcntl
import fnmatch
import os
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.tracedef import UprobeDef, parse_uprobe_line

FILENAME = "ptrace_events"
HEADER = "# pyperf probe --ptrace definitions (uprobe_events syntax); edit with pyperf probe --ptrace / -d\n"


def state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "pyperf")


def path() -> str:
    return os.path.join(state_dir(), FILENAME)


def _read_lines(where: Optional[str] = None) -> List[Tuple[UprobeDef, Optional[str]]]:
    """(definition, build-id recorded with it) per stored line, in file order."""
    try:
        with open(where or path()) as f:
            lines = [line.strip() for line in f]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ProbeError(f"Cannot read {where or path()}: {exc.strerror}", errno=exc.errno) from None
    out = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        text, _, comment = line.partition(" # ")
        d = parse_uprobe_line(text)
        if d is not None:
            words = comment.split()
            out.append((d, words[1] if len(words) == 2 and words[0] == "build-id" else None))
    return out


def read_defs(where: Optional[str] = None) -> List[UprobeDef]:
    """The stored definitions, in file order (none when there is no file)."""
    return [d for d, _ in _read_lines(where)]


def _build_id(file_path: str) -> Optional[str]:
    from pyperf_probe.errors import SymbolError
    from pyperf_probe.symbols.elf import open_elf
    try:
        return open_elf(file_path).build_id
    except (SymbolError, OSError):
        return None


def check_files(defs: Sequence[UprobeDef]) -> None:
    """Refuse definitions whose file is not the one they were placed in (rebuilt since: its build-id
    differs from the one stored with them)."""
    wanted = {(d.group, d.event, d.path, d.file_offset): bid for d, bid in _read_lines()}
    seen: Dict[str, Optional[str]] = {}
    for d in defs:
        bid = wanted.get((d.group, d.event, d.path, d.file_offset))
        if not bid:
            continue
        if d.path not in seen:
            seen[d.path] = _build_id(d.path)
        if seen[d.path] != bid:
            raise ProbeError(f"{d.path} changed since {d.group}:{d.event} was placed at {d.file_offset:#x} "
                             f"(build-id {bid}, now {seen[d.path] or 'none'}): an int3 there would break "
                             f"the program. Place it again: pyperf probe -d {d.group}:{d.event}, then "
                             "pyperf probe --ptrace ...", errno=errno_mod.ESTALE)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    directory = state_dir()
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(directory, FILENAME + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ProbeError(f"Cannot write the ptrace probe store in {directory}: {exc.strerror}",
                         errno=exc.errno) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(lines: Sequence[Tuple[UprobeDef, Optional[str]]]) -> None:
    directory = state_dir()
    fd, tmp = tempfile.mkstemp(prefix=FILENAME + ".", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(HEADER + "".join(d.text() + (f" # build-id {bid}" if bid else "") + "\n" for d, bid in lines))
        os.replace(tmp, path())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def add(defs: Sequence[UprobeDef]) -> None:
    """Append named definitions, all or none; an event name already stored (in another group too, as
    perf's clash check) is refused unless it is the same event given more probe points."""
    ids = {p: _build_id(p) for p in {d.path for d in defs}}
    with _locked():
        current = _read_lines()
        names = {d.event for d, _ in current}
        fresh = {d.event for d in defs}
        clash = sorted(names & fresh)
        if clash:
            raise ProbeError(f'Error: event "{clash[0]}" already exists.\n Hint: Remove existing event by '
                             "'pyperf probe -d'\n       or force duplicates by 'pyperf probe -f'",
                             errno=errno_mod.EEXIST)
        _write(current + [(d, ids[d.path]) for d in defs])


def remove(names: Sequence[str]) -> None:
    """Remove every definition of these GROUP:EVENT names."""
    drop = set(names)
    with _locked():
        _write([(d, bid) for d, bid in _read_lines() if f"{d.group}:{d.event}" not in drop])


def event_names() -> set:
    """Event names (without group) of the stored probes, for naming new ones."""
    return {d.event for d in read_defs()}


def _parts(specs: Sequence[str]) -> List[str]:
    return [p.strip() for spec in specs for p in spec.split(",") if p.strip()]


def _pattern(part: str) -> Tuple[str, str]:
    group, sep, event = part.partition(":")
    if not sep:
        group, _, event = part.partition("/")
        event = event.rstrip("/")
    return group, event


def select(specs: Sequence[str], defs: Optional[Sequence[UprobeDef]] = None
           ) -> List[Tuple[str, List[UprobeDef]]]:
    """The stored events ``-e`` values name, in order: (GROUP:EVENT, its definitions). Parts that name no
    stored event are left out (``unmatched`` says which)."""
    defs = read_defs() if defs is None else defs
    by_name: Dict[str, List[UprobeDef]] = {}
    for d in defs:
        by_name.setdefault(f"{d.group}:{d.event}", []).append(d)
    out: List[Tuple[str, List[UprobeDef]]] = []
    for part in _parts(specs):
        group, event = _pattern(part)
        for name in by_name:  # in the order they were added, as perf expands a glob over tracefs here
            g, _, e = name.partition(":")
            if fnmatch.fnmatchcase(g, group or "*") and fnmatch.fnmatchcase(e, event or "*"):
                if all(name != n for n, _ in out):
                    out.append((name, by_name[name]))
    return out


def unmatched(specs: Sequence[str], defs: Optional[Sequence[UprobeDef]] = None) -> List[str]:
    defs = read_defs() if defs is None else defs
    return [part for part in _parts(specs) if not select([part], defs)]


def names_ptrace_events(specs: Sequence[str]) -> bool:
    """Whether ``-e`` values name stored ptrace events (then record and stat use this backend)."""
    if not specs:
        return False
    try:
        defs = read_defs()
    except ProbeError:
        return False
    return bool(defs) and bool(select(specs, defs))
