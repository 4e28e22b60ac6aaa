"""SDT events in ``pyperf probe`` (and record/stat): ``sdt_PROVIDER:NAME`` / ``%[GROUP:]NAME[@TARGET]`` ->
the uprobe definitions cached for the marker (perf: tools/perf/util/probe-event.c ``is_sdt_event``,
``parse_perf_probe_point``, ``find_cached_events``, ``find_cached_events_all``).

An SDT event is found only in the build-id cache, never in the binary directly: without a target every valid
cached binary is searched (group and event are globs, ``%loop2`` matches any group); with ``-x FILE`` (or
``@FILE``) only that file's cache, and a file not yet cached is added first, as perf does. The cached lines
already are ``uprobe_events`` text with the semaphore as ``PATH:0xOFF(0xREF_CTR_OFFSET)``; they become
:class:`UprobeDef` through the probe layer's own parser, so naming, ``-D``, ``-n`` and the messages are the
ones every probe gets.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno as errno_mod
import fnmatch
import logging
from typing import Iterator, List, Optional, Sequence, Tuple

from pyperf_probe.errors import ProbeError

log = logging.getLogger("pyperf")


def is_sdt_event(text: str) -> bool:
    """perf's ``is_sdt_event``: ``%...``, or ``sdt_...:...`` without ``=``."""
    return text.startswith("%") or (text.startswith("sdt_") and ":" in text and "=" not in text)


@dataclasses.dataclass(frozen=True)
class SdtSpec:
    """An SDT probe point: group and event globs (group None = any), and a target file if one was given."""

    event: str
    group: Optional[str] = None
    target: Optional[str] = None
    arg_words: Tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.group}:{self.event}" if self.group else self.event


def parse_sdt_spec(text: str) -> SdtSpec:
    """``[%][GROUP:]EVENT[@TARGET]``; anything else after the name (``%return``, ``+4``, ``=``) is perf's
    semantic error "... must be an SDT name." (TARGET may be a cached build-id prefix, as in perf)."""
    from pyperf_probe.probe.spec import SemanticError

    body = text[1:] if text.startswith("%") else text
    cut = min((i for i in (body.find(c) for c in ";=@+%") if i >= 0), default=-1)
    target = None
    if cut >= 0:
        if body[cut] != "@":
            raise SemanticError(f"{body} must be an SDT name.\n")
        target = _target_of(body[cut + 1:])
        body = body[:cut]
    group, colon, event = body.partition(":")
    if not colon:
        group, event = None, body
    if not event:
        raise SemanticError(f"{text} must be an SDT name.\n")
    return SdtSpec(event=event, group=group or None, target=target)


def _target_of(text: str) -> str:
    """``build_id_cache__complement``: a unique build-id prefix names the cached file's original path."""
    from pyperf_probe.symbols.buildid_cache import BuildIdCache

    cache = BuildIdCache()
    if text and all(c in "0123456789abcdefABCDEF" for c in text):
        matches = [b for b in cache.list_all(valid_only=True) if b.startswith(text.lower())]
        if len(matches) == 1:
            return cache.origname(matches[0]) or text
    return text


def find_definitions(spec: SdtSpec, target: Optional[str] = None, cache=None) -> list:
    """The cached uprobe definitions (``UprobeDef``, named ``GROUP/EVENT`` as cached) of every marker the
    spec matches, in cache order; [] when none matches."""
    from pyperf_probe.symbols.buildid_cache import BuildIdCache

    cache = cache or BuildIdCache()
    target = spec.target or target
    if target:
        return _from_file_cache(spec, cache, _cached_build_id(cache, target))
    defs = []
    for build_id in cache.list_all(valid_only=True):
        defs += _from_file_cache(spec, cache, build_id)
    return defs


def _cached_build_id(cache, target: str) -> str:
    """The build-id of ``target``, caching the file (and its markers) if it is not cached yet."""
    from pyperf_probe.symbols.buildid_cache import file_build_id

    build_id = file_build_id(target)
    if not cache.is_cached(build_id):
        log.debug("Adding %s to the build-id cache for its SDT markers", target)
        cache.add(target)
    return build_id


def _from_file_cache(spec: SdtSpec, cache, build_id: str) -> list:
    from pyperf_probe.probe.tracedef import parse_uprobe_line
    from pyperf_probe.symbols import probe_cache

    cached = cache.entry(build_id)
    if cached is None:
        return []
    defs = []
    for entry in probe_cache.load(cached.probes):
        if not entry.group or not entry.event:
            continue
        if spec.group and not fnmatch.fnmatchcase(entry.group, spec.group):
            continue
        if not fnmatch.fnmatchcase(entry.event, spec.event):
            continue
        for line in entry.commands:
            tdef = parse_uprobe_line(line)
            if tdef is None:
                raise ProbeError(f"Broken probe cache entry in {cached.probes}: {line!r}", errno=errno_mod.EINVAL)
            defs.append(tdef)
    return defs


def parse_sdt_command(text: str) -> SdtSpec:
    """A whole SDT definition as ``pyperf probe`` gets it: the SDT name, then arguments, which perf shows
    in its messages ("with ...") but does not use (a marker's arguments come from its note)."""
    words = text.split()
    if not words:
        from pyperf_probe.probe.spec import SemanticError
        raise SemanticError("No probe point is given.\n")
    return dataclasses.replace(parse_sdt_spec(words[0]), arg_words=tuple(words[1:]))


def sdt_plans(spec: SdtSpec, target: Optional[str]) -> list:
    """``pyperf probe``'s plans (``probe.adding.Plan``) for an SDT spec, which the probe layer then names,
    shows (-D), writes and reports as any other probe.

    As perf, one definition with all its probes in cache order (so ``%sdt_tick:loop*`` on two cached copies of
    a binary gives loop1..3 of the first, then of the second; equal names become multi-probe events), each
    named as cached (a user-given name is ignored for SDT events), and shown "on %PATTERN". There is one plan
    per group, since a plan has one group (a glob on the provider can match several)."""
    from pyperf_probe.probe.adding import Plan
    from pyperf_probe.probe.args import parse_probe_arg
    from pyperf_probe.probe.spec import ProbePoint, ProbeSpec
    from pyperf_probe.probe.strfilter import is_glob

    defs = find_definitions(spec, target)
    if not defs:
        raise not_found(spec if spec.target or not target else dataclasses.replace(spec, target=target))
    check_ref_ctr_support(defs)
    args = tuple(parse_probe_arg(w) for w in spec.arg_words)
    by_group: dict = {}
    for d in defs:
        # realname: the name a glob probe takes (naming.base_event_name), here the cached event name
        by_group.setdefault(d.group, []).append(dataclasses.replace(d, realname=d.event))
    event = None if is_glob(spec.event) else spec.event
    return [Plan(ProbeSpec(point=ProbePoint(function=f"%{spec.event}"), args=args, group=group, event=event),
                 found[0].path, group, tuple(found)) for group, found in by_group.items()]


def ref_ctr_supported() -> bool:
    """The kernel takes ``PATH:OFFSET(REF_CTR_OFFSET)`` (Linux 4.20+): its tracefs README says so (perf's
    ``uprobe_ref_ctr_is_supported``)."""
    from pyperf_probe.errors import KernelError
    from pyperf_probe.kernel import tracefs

    try:
        with open(tracefs.path("README")) as f:
            return "ref_ctr_offset" in f.read()
    except (OSError, KernelError):  # no README to ask (or no tracefs for this user: pyperf probe --ptrace
        return True                 # raises semaphores itself): let the kernel answer when the line is written


def check_ref_ctr_support(defs) -> None:
    """A marker with a semaphore cannot be probed usefully without the kernel raising it: say so."""
    if any(d.ref_ctr_offset for d in defs) and not ref_ctr_supported():
        name = next(f"{d.group}:{d.event}" for d in defs if d.ref_ctr_offset)
        raise ProbeError(f"SDT event {name} has a semaphore (reference counter), and this kernel cannot raise "
                         "it: uprobes with a ref_ctr_offset need Linux 4.20 or later.", errno=errno_mod.ENOTSUP)


def not_found(spec: SdtSpec) -> ProbeError:
    """perf says only "Error: Failed to add events." (-ENOENT); pyperf says where it looked first (the
    command adds perf's line after it)."""
    where = f"the build-id cache of {spec.target}" if spec.target else "the build-id cache"
    return ProbeError(f"SDT event {spec} is not in {where} (add the binary with "
                      "'pyperf buildid-cache --add FILE', or give it with -x FILE).", errno=errno_mod.ENOENT)


# --- record / stat: SDT events named with -e ----------------------------------------------------------------

def _missing(specs: Sequence[str]) -> List[Tuple[str, str]]:
    """(group, event) of each plain ``sdt_G:E`` name in -e specs that tracefs does not have."""
    from pyperf_probe.kernel import tracefs

    from pyperf_probe.events.lexer import tokenize

    missing = []
    for spec in specs:  # tracepoint names as perf's grammar reads them: {a,sdt_G:E}:S, sdt_G:E/terms/
        toks = tokenize(spec)
        for i in range(len(toks) - 2):
            group, colon, event = toks[i], toks[i + 1], toks[i + 2]
            if (group.kind, colon.kind, event.kind) != ("NAME", ":", "NAME") or \
                    not group.text.startswith("sdt_") or any(c in group.text + event.text for c in "*?["):
                continue
            pair = (group.text, event.text)
            if not tracefs.event_exists(*pair) and pair not in missing:
                missing.append(pair)
    return missing


@contextlib.contextmanager
def temporary_sdt_events(specs: Sequence[str], *, usage_error) -> Iterator[List[str]]:
    """Add the cached SDT markers that -e names but tracefs lacks, for the duration of the block, and
    remove them after (on every path). ``usage_error(part, detail)`` builds the command's event-syntax error
    for a marker that is not cached either (with perf's hint to ``probe`` it first).

    perf 6.1 refuses such events ("SDT event cannot be directly recorded on"); pyperf adds them, as the
    SDT workflow of the reference-counter patch series (seeds/004) expects, and leaves nothing behind."""
    from pyperf_probe.kernel import tracefs

    lines = []
    for group, event in _missing(specs):
        defs = find_definitions(SdtSpec(event=event, group=group))
        if not defs:
            raise usage_error(f"{group}:{event}",
                              f"Error:\tFile {tracefs.event_dir(group, event)} not found.\n"
                              "Hint:\tSDT event cannot be directly recorded on.\n"
                              f"\tPlease first use 'pyperf probe {group}:{event}' before recording it.")
        check_ref_ctr_support(defs)
        lines += [d.text() for d in defs]
    added = []
    try:
        for line in lines:
            tracefs.write_uprobe_events([line])
            name = line.split()[0].split(":", 1)[1]
            if name not in added:
                added.append(name)
            log.debug("Added %s for the SDT event", line)
        yield [a.replace("/", ":") for a in added]
    finally:
        if added:
            _remove(added)


def _remove(names: List[str]) -> None:
    """Remove the events this command added; one still in use elsewhere (EBUSY) is left with a warning."""
    from pyperf_probe.errors import KernelError
    from pyperf_probe.kernel import tracefs

    for name in names:
        try:
            tracefs.write_uprobe_events([f"-:{name}"])
        except KernelError as exc:
            log.warning("Could not remove %s, which pyperf added for this run: %s\n  Remove it with "
                        "'pyperf probe -d %s' once it is no longer in use.", name.replace("/", ":"),
                        exc.message.splitlines()[0], name.replace("/", ":"))
