"""A specifier resolved against the system: where its probes go and what its expressions mean there.

* ``p:LIB:func(sig)`` / ``r:...``: the function's addresses in LIB (a path, a program on $PATH, a soname, or
  bcc's short name: ``c`` is libc), found as ``pyperf probe -x LIB func`` finds them (probe/convert.py);
  parameters in the ABI's registers (bpf/context.py). A return probe that reads ``$entry(x)`` or
  ``$latency`` also gets an entry probe.
* ``t:CATEGORY:event()``: the tracepoint and its format's fields.
* ``u:LIB:marker()``: every location of the SDT marker in LIB (symbols/sdt.py), with its semaphore raised by
  the kernel (the uprobe's reference counter offset), its arguments as the note states them.

Everything is checked here, before anything is added to the kernel: a wrong name, a type argdist does not
know or an expression outside the language fails with the specifier and a caret under the culprit.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod

from pyperf_probe.argdist.program import key_layout
from pyperf_probe.argdist.spec import Spec, SpecError
from pyperf_probe.bpf import ctype as C
from pyperf_probe.bpf.context import FunctionContext, SdtContext, TracepointContext, parse_signature
from pyperf_probe.bpf.expr import ExprError, parse
from pyperf_probe.bpf.typed import Checker, check_value
from pyperf_probe.errors import ProbeError, SymbolError, UsageError


@dataclasses.dataclass
class Site:
    """One place a probe's program runs: a tracepoint (``tracepoint``: (category, event)) or a uprobe
    (``uprobe``: a probe layer UprobeDef, unnamed), with the typed trees valid there."""

    ctx: object
    exprs: list
    filter: object
    tracepoint: tuple | None = None
    uprobe: object = None
    entry_uprobe: object = None         # return probes reading entry values: the entry's UprobeDef
    entry_leaves: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Probe:
    spec: Spec
    index: int
    sites: list
    key_fields: list
    key_size: int
    path: str = ""

    @property
    def read(self) -> str:
        return "any" if self.spec.probe_type == "t" else "user"


class ExpressionError(UsageError):
    pass


def _expr_error(spec: Spec, exc: ExprError, offset: int) -> ExpressionError:
    if offset < 0:       # a default expression, not in the text
        return ExpressionError(f"error parsing probe '{spec.raw}': {exc.message}")
    text = exc.render(spec.raw, offset)
    return ExpressionError(f"error parsing probe '{spec.raw}': {text}")


def _types(spec: Spec) -> list:
    out = []
    for text in spec.expr_types:
        ctype = C.parse_type(text.strip())
        if ctype is None:
            raise SpecError(spec.raw, f"unknown type '{text.strip()}' (C integer types, pointers, char* strings)")
        out.append(ctype)
    if spec.type == "hist" and out[0].is_char_pointer:
        raise SpecError(spec.raw, "a histogram needs a number, not a char* string")
    return out


def typed_trees(spec: Spec, ctx, types: list) -> tuple:
    """(typed expressions, typed filter or None) in ``ctx``."""
    exprs = []
    for part, ctype in zip(spec.exprs, types):
        try:
            exprs.append(check_value(parse(part.text), ctx, ctype))
        except ExprError as exc:
            raise _expr_error(spec, exc, part.offset) from None
    filt = None
    if spec.filter.text.strip():
        try:
            filt = Checker(ctx).scalar(parse(spec.filter.text))
        except ExprError as exc:
            raise _expr_error(spec, exc, spec.filter.offset) from None
    return exprs, filt


def library_path(name: str) -> str:
    """bcc's ``BPF.find_library(name) or BPF.find_exe(name)``, as ``pyperf tplist -l`` resolves it."""
    from pyperf_probe.cmd_tplist import _library_path
    try:
        return _library_path(name)
    except SymbolError as exc:
        raise UsageError(f"unable to find library {name}: {exc.message}") from None


def resolve(spec: Spec, index: int, string_size: int) -> Probe:
    types = _types(spec)
    key_fields, key_size = key_layout(types, string_size)
    if spec.probe_type == "t":
        sites = [_tracepoint_site(spec, types)]
        path = ""
    elif spec.probe_type == "u":
        path = _user_library(spec)
        sites = _sdt_sites(spec, path, types)
    else:
        path = _user_library(spec)
        sites = _function_sites(spec, path, types)
    return Probe(spec, index, sites, key_fields, key_size, path)


def _user_library(spec: Spec) -> str:
    if not spec.library:
        raise SpecError(spec.raw, "pyperf argdist probes user space: give the library or program "
                                  f"('{spec.probe_type}:c:{spec.function}(...)'); kernel functions need kprobes")
    return library_path(spec.library)


def _tracepoint_site(spec: Spec, types: list) -> Site:
    from pyperf_probe.kernel import tracefs
    from pyperf_probe.traceevent.printfmt import Event
    if not tracefs.event_exists(spec.library, spec.function):
        raise SpecError(spec.raw, f"no tracepoint {spec.library}:{spec.function} "
                                  f"({tracefs.event_dir(spec.library, spec.function)} not found)")
    fmt = Event.parse(tracefs.event_format(spec.library, spec.function), spec.library)
    ctx = TracepointContext(fmt.common_fields + fmt.fields)
    exprs, filt = typed_trees(spec, ctx, types)
    return Site(ctx, exprs, filt, tracepoint=(spec.library, spec.function))


STT_FUNC = 2


def exported_function_defs(path: str, name: str) -> list:
    """The uprobes at an exported function (``.dynsym``: libraries' malloc, write...), without loading the
    whole symbol table; [] when ``.dynsym`` has no such function (a static one, an indirect function), for
    the probe layer's full search to find or explain."""
    from pyperf_probe.probe.tracedef import UprobeDef
    from pyperf_probe.symbols.elf import open_elf
    from pyperf_probe.symbols.symtab import symbol_columns
    image = open_elf(path)
    names, svmas, _, types, _ = symbol_columns(image, ".dynsym")
    found = sorted({svma for n, svma, t in zip(names, svmas, types) if t == STT_FUNC and n.split("@", 1)[0] == name})
    defs = []
    for svma in found:
        offset = image.svma_to_file_offset(svma)
        defs.append(UprobeDef(path=path, file_offset=svma if offset is None else offset, realname=name, symbol=name))
    return defs


def function_defs(spec: Spec, path: str) -> list:
    """Where ``spec.function`` is in ``path``, as ``pyperf probe -x PATH FUNCTION`` finds it (probe/convert.py
    ``from_symbols``; an exported function by its ``.dynsym`` entry first, which is what that finds too)."""
    plain = not any(c in spec.function for c in "*?[\\@")
    defs = exported_function_defs(path, spec.function) if plain else []
    if defs:
        return defs
    from pyperf_probe.probe.convert import from_symbols
    from pyperf_probe.probe.spec import ProbePoint, ProbeSpec
    try:
        return from_symbols(ProbeSpec(point=ProbePoint(function=spec.function)), path, warn=lambda _: None)
    except (ProbeError, SymbolError) as exc:
        raise ProbeError(f"error attaching probe '{spec.raw}': {exc.message.strip()}",
                         errno=exc.errno or errno_mod.ENOENT) from None


def _function_sites(spec: Spec, path: str, types: list) -> list:
    try:
        params = parse_signature(spec.signature)
    except ValueError as exc:
        raise SpecError(spec.raw, str(exc)) from None
    retprobe = spec.probe_type == "r"
    ctx = FunctionContext(params, retprobe)
    exprs, filt = typed_trees(spec, ctx, types)
    defs = function_defs(spec, path)
    sites = []
    for d in defs:
        site = Site(ctx, exprs, filt, uprobe=dataclasses.replace(d, retprobe=retprobe))
        if retprobe and ctx.saved:
            site.entry_uprobe = d
            site.entry_leaves = ctx.entry_leaves()
        sites.append(site)
    return sites


def _sdt_sites(spec: Spec, path: str, types: list) -> list:
    from pyperf_probe.probe.tracedef import UprobeDef
    from pyperf_probe.symbols.elf import open_elf
    from pyperf_probe.symbols.sdt import read_sdt_notes
    image = open_elf(path)
    notes = [n for n in read_sdt_notes(image) if n.name == spec.function]
    if not notes:
        raise ProbeError(f"error attaching probe '{spec.raw}': no SDT marker {spec.function} in {path} "
                         f"(pyperf tplist -l {spec.library} lists them)", errno=errno_mod.ENOENT)
    sites = []
    for note in notes:
        ctx = SdtContext(note.arg_list, symbol_svma=_symbol_lookup(path), pc_svma=note.pc)
        exprs, filt = typed_trees(spec, ctx, types)
        d = UprobeDef(path=path, file_offset=note.pc_file_offset, ref_ctr_offset=note.semaphore_file_offset,
                      realname=note.name, symbol=f"{note.provider}:{note.name}")
        sites.append(Site(ctx, exprs, filt, uprobe=d))
    return sites


def _symbol_lookup(path: str):
    def lookup(name: str):
        from pyperf_probe.symbols.symtab import load_symtab
        syms = load_symtab(path).by_name(name)
        return syms[0].svma if syms else None
    return lookup
