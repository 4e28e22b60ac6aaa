"""The ``# ========`` block of ``perf report --header`` / ``--header-only`` (util/header.c
``perf_header__fprintf_info``, util/perf_event_attr_fprintf.c): file facts, then one print per feature
section present, in bit order, then the missing features."""
from __future__ import annotations

import os
import struct
import time

from pyperf_probe.errors import PerfDataError
from pyperf_probe.perfdata.format import Feature

TYPE_CHECKING = False
if TYPE_CHECKING:       # for annotations only: collections.abc costs start-up time
    from collections.abc import Callable

LAST_FEATURE = 32  # HEADER_LAST_FEATURE in perf 6.1: bits 1..31 are features
# Features perf shows only with -I (feat_ops[].full_only).
FULL_ONLY = {Feature.CPU_TOPOLOGY, Feature.NUMA_TOPOLOGY, Feature.CACHE, Feature.MEM_TOPOLOGY}

SAMPLE_BITS = [("IP", 0), ("TID", 1), ("TIME", 2), ("ADDR", 3), ("READ", 4), ("CALLCHAIN", 5), ("ID", 6),
               ("CPU", 7), ("PERIOD", 8), ("STREAM_ID", 9), ("RAW", 10), ("BRANCH_STACK", 11),
               ("REGS_USER", 12), ("STACK_USER", 13), ("IDENTIFIER", 16), ("REGS_INTR", 18),
               ("DATA_SRC", 15), ("WEIGHT", 14), ("PHYS_ADDR", 19), ("AUX", 20), ("CGROUP", 21),
               ("DATA_PAGE_SIZE", 22), ("CODE_PAGE_SIZE", 23), ("WEIGHT_STRUCT", 24)]
READ_BITS = [("TOTAL_TIME_ENABLED", 0), ("TOTAL_TIME_RUNNING", 1), ("ID", 2), ("GROUP", 3), ("LOST", 4)]
FLAG_NAMES = ["disabled", "inherit", "pinned", "exclusive", "exclude_user", "exclude_kernel", "exclude_hv",
              "exclude_idle", "mmap", "comm", "freq", "inherit_stat", "enable_on_exec", "task", "watermark",
              "precise_ip", "precise_ip", "mmap_data", "sample_id_all", "exclude_host", "exclude_guest",
              "exclude_callchain_kernel", "exclude_callchain_user", "mmap2", "comm_exec", "use_clockid",
              "context_switch", "write_backward", "namespaces", "ksymbol", "bpf_event", "aux_output",
              "cgroup", "text_poke", "build_id", "inherit_thread", "remove_on_exec", "sigtrap"]


def _bits(value: int, table) -> str:
    return "|".join(name for name, bit in table if value >> bit & 1)


def attr_fields(attr) -> list[str]:
    """``perf_event_attr__fprintf``: ``name = value`` of every non-zero field, in perf's order."""
    out = []

    def add(name, value, fmt=str):
        if value:
            out.append(f"{name} = {fmt(value)}")
    add("type", attr.type)
    add("size", attr.size)
    add("config", attr.config, hex)
    add("{ sample_period, sample_freq }", attr.sample_period)
    add("sample_type", attr.sample_type, lambda v: _bits(v, SAMPLE_BITS))
    add("read_format", attr.read_format, lambda v: _bits(v, READ_BITS))
    flags = attr.flags
    precise = flags >> 15 & 3
    for bit, name in enumerate(FLAG_NAMES):
        if bit == 15:
            add("precise_ip", precise)
        elif bit != 16:
            add(name, flags >> bit & 1)
    add("{ wakeup_events, wakeup_watermark }", attr.wakeup)
    add("bp_type", attr.bp_type)
    add("{ bp_addr, config1 }", attr.config1, hex)
    add("{ bp_len, config2 }", attr.config2, hex)
    add("branch_sample_type", attr.branch_sample_type, hex)
    add("sample_regs_user", attr.sample_regs_user, hex)
    add("sample_stack_user", attr.sample_stack_user)
    add("clockid", attr.clockid)
    add("sample_regs_intr", attr.sample_regs_intr, hex)
    add("aux_watermark", attr.aux_watermark)
    add("sample_max_stack", attr.sample_max_stack)
    add("aux_sample_size", attr.aux_sample_size)
    add("sig_data", attr.sig_data)
    return out


def _usec(ns: int) -> str:
    return "%d.%06d" % (ns // 1_000_000_000, ns % 1_000_000_000 // 1000)


def _pmu_mappings(raw: bytes) -> str:
    nr = struct.unpack_from("<I", raw, 0)[0]
    pos, items = 4, []
    for _ in range(min(nr, len(raw) // 8)):
        pmu_type, length = struct.unpack_from("<II", raw, pos)
        name = raw[pos + 8:pos + 8 + length].split(b"\0", 1)[0].decode(errors="replace")
        items.append(f"{name} = {pmu_type}")
        pos += 8 + length
    return "# pmu mappings: " + ", ".join(items) + "\n"


def _event_desc(data) -> str:
    lines = []
    for ev in data.feature(Feature.EVENT_DESC) or ():
        text = f"# event : name = {ev.name}, "
        if ev.ids:
            text += ", id = {" + ",".join(f" {i}" for i in ev.ids) + " }"
        for field in attr_fields(ev.attr):
            text += ", " + field
        lines.append(text + "\n")
    return "".join(lines)


def _printers(data) -> dict[int, Callable[[], str]]:
    f = data.feature
    return {
        Feature.HOSTNAME: lambda: f"# hostname : {f(Feature.HOSTNAME)}\n",
        Feature.OSRELEASE: lambda: f"# os release : {f(Feature.OSRELEASE)}\n",
        Feature.VERSION: lambda: f"# perf version : {f(Feature.VERSION)}\n",
        Feature.ARCH: lambda: f"# arch : {f(Feature.ARCH)}\n",
        Feature.NRCPUS: lambda: (f"# nrcpus online : {f(Feature.NRCPUS).online}\n"
                                 f"# nrcpus avail : {f(Feature.NRCPUS).available}\n"),
        Feature.CPUDESC: lambda: f"# cpudesc : {f(Feature.CPUDESC)}\n",
        Feature.CPUID: lambda: f"# cpuid : {f(Feature.CPUID)}\n",
        Feature.TOTAL_MEM: lambda: f"# total memory : {f(Feature.TOTAL_MEM)} kB\n",
        Feature.CMDLINE: lambda: "# cmdline : " + "".join(a + " " for a in f(Feature.CMDLINE)) + "\n",
        Feature.EVENT_DESC: lambda: _event_desc(data),
        Feature.PMU_MAPPINGS: lambda: _pmu_mappings(data.feature_bytes(Feature.PMU_MAPPINGS) or b"\0" * 4),
        Feature.GROUP_DESC: lambda: _group_desc(data),
        Feature.SAMPLE_TIME: lambda: _sample_time(f(Feature.SAMPLE_TIME)),
        Feature.BPF_PROG_INFO: lambda: _bpf_prog_info(data),
        Feature.BPF_BTF: lambda: _bpf_btf(data),
    }


def _group_desc(data) -> str:
    """``print_group_desc``: ``# group: NAME{leader,member,...}`` per group of more than one event."""
    names = [a.name or "" for a in data.attrs]
    lines = []
    for desc in data.feature(Feature.GROUP_DESC) or ():
        if desc.nr_members > 1 and desc.leader_idx < len(names):
            name = "" if desc.name == "{anon_group}" else desc.name
            events = names[desc.leader_idx:desc.leader_idx + desc.nr_members]
            lines.append(f"# group: {name}{{{','.join(events)}}}\n")
    return "".join(lines)


def _bpf_prog_info(data) -> str:
    """``print_bpf_prog_info``: each program by id (``bpf_event__print_bpf_prog_info``, util/bpf-event.c)."""
    from pyperf_probe.perfdata.bpf_prog_info import read_btfs, read_prog_infos
    progs = read_prog_infos(data.feature_bytes(Feature.BPF_PROG_INFO) or b"")
    btfs = read_btfs(data.feature_bytes(Feature.BPF_BTF)) if any(p.btf_id for p in progs) else {}
    return "".join(_one_prog(prog, btfs) for prog in progs)


def _one_prog(prog, btfs: dict) -> str:
    """One program: a line, or a line per sub-program when it has several; nothing when its arrays'
    counts disagree. The BTF (``perf_env__find_btf`` by the program's btf_id) names the sub-programs."""
    count = prog.nr_jited_ksyms
    if count != prog.nr_prog_tags or count != prog.nr_jited_func_lens:
        return ""
    btf = None
    if prog.btf_id and prog.btf_id in btfs:
        from pyperf_probe.bpf.btf import Btf
        btf = Btf.parse(btfs[prog.btf_id])
    if count == 1:
        return "# bpf_prog_info %u: %s addr %#x size %u\n" % (prog.id, _prog_name(prog, btf, 0),
                                                              _at(prog.ksyms, 0), _at(prog.func_lens, 0))
    return "# bpf_prog_info %u:\n" % prog.id + "".join(
        "# \tsub_prog %u: %s addr %#x size %u\n" % (i, _prog_name(prog, btf, i), _at(prog.ksyms, i),
                                                    _at(prog.func_lens, i)) for i in range(count))


def _at(values: tuple, i: int) -> int:
    return values[i] if i < len(values) else 0


def _prog_name(prog, btf, sub_id: int) -> str:
    """``synthesize_bpf_prog_name`` (util/bpf-event.c): ``bpf_prog_<tag>``, then ``_<name>``: the BTF FUNC
    of the sub-program's func_info record, else the program's name if it is its only sub-program and has
    one, else ``F``."""
    tag = prog.tags[sub_id].hex() if sub_id < len(prog.tags) else ""
    if btf is not None:
        type_id = prog.func_type_ids[sub_id] if sub_id < len(prog.func_type_ids) else 0
        short = btf.name_of(type_id)
    elif sub_id == 0 and prog.nr_jited_ksyms == 1:
        short = prog.name or None
    else:
        short = "F"
    return "bpf_prog_" + tag + ("_" + short if short is not None else "")


def _bpf_btf(data) -> str:
    """``print_bpf_btf``: a line per BTF object, by id."""
    from pyperf_probe.perfdata.bpf_prog_info import read_btfs
    return "".join("# btf info of id %u\n" % i for i in sorted(read_btfs(data.feature_bytes(Feature.BPF_BTF))))


def _sample_time(st) -> str:
    return (f"# time of first sample : {_usec(st.first)}\n# time of last sample : {_usec(st.last)}\n"
            f"# sample duration : {(st.last - st.first) / 1e6:10.3f} ms\n")


def header_block(data) -> str:
    """The whole block, ``# ========`` to ``# ========`` and the ``#`` after it."""
    hdr = data.header
    mtime = os.stat(data.path).st_mtime
    out = ["# ========\n", f"# captured on    : {time.ctime(mtime)}\n", "# header version : 1\n",
           f"# data offset    : {hdr.data.offset}\n", f"# data size      : {hdr.data.size}\n",
           f"# feat offset    : {hdr.data.offset + hdr.data.size}\n"]
    printers = _printers(data)
    for bit in range(1, LAST_FEATURE):
        if not hdr.has_feature(bit):
            continue
        if bit in FULL_ONLY:
            out.append(f"# {Feature.name_of(bit)} info available, use -I to display\n")
        elif bit in printers:
            try:
                out.append(printers[bit]())
            except (PerfDataError, struct.error, AttributeError, TypeError):
                continue  # a damaged section prints nothing, as in perf
    missing = [Feature.name_of(bit) for bit in range(1, LAST_FEATURE) if not hdr.has_feature(bit)]
    out.append("# missing features: " + "".join(m + " " for m in missing) + "\n")
    out.append("# ========\n#\n")
    return "".join(out)
