#!/usr/bin/env python3
"""Hand-made perf.data and kallsyms files for tests/golden/kmod (make_goldens.sh runs real perf on them):
kernel and module frames of a made-up kernel, so that what perf does with modules, relocation and odd
kallsyms files is checked on a machine without modules. Every sample is in kernel mode (cpu-clock, with
a chain: PERF_CONTEXT_KERNEL, the addresses, PERF_CONTEXT_USER, one user address without a map).

* order1.data: a kernel MMAP ([kernel.kallsyms]_text, 0x1000 long) and two module MMAPs (mod1.ko at
  M1, mod-two.ko.xz at M2); a core address first (the kernel's symbols load, the modules get theirs from
  the split), an address past the MMAP's end before and after the load, an address of a module without a
  map, a data symbol (STT_OBJECT: "+0x" in report's Symbol column).
* order2.data: the same maps, a module's address first: its dso is loaded (empty) before the kernel's, so
  the split drops that module's first symbol and gives it the others.
* reloc.data: the kernel 0x10000000 above the kallsyms file's addresses, as KASLR moves it.
* names.data: a module MMAP named [mod1], a BUILD_ID table naming mod-two's path in kernel mode (perf script
  then prints the path), a user-space address in kernel mode, a hypervisor sample.
* edges.data: one address after another through the made-up kernel, for the odd kallsyms files.
* bpf.data: KSYMBOL records: a BPF program's code appears (its own map, dso and symbol), is sampled, and
  goes away again (its addresses then have no map).
* dummy.data: two events, cpu-clock and a dummy (another sample_type, as perf record -a adds), the
  samples carrying PERF_SAMPLE_IDENTIFIER.
* kallsyms: the made-up kernel (aliases, a dropped 'r' symbol, a weak and a data symbol, module symbols
  out of order, a module without a map); variants: notext (no _text: no kernel symbols), long (a
  600-character name), blank (a blank line, which takes the next line with it), upper (upper-case
  addresses), junk (no space after an address, a non-hex line, '$' names).

Usage: python3 craft.py   (writes data/ and kallsyms* here; uses tests/perfdata_build.py)
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", ".."), os.path.join(HERE, "..", "..", "..")]

import perfdata_build as pb  # noqa: E402
from pyperf_probe.perfdata import feature_writer as fw  # noqa: E402
from pyperf_probe.perfdata.format import (BUILD_ID_RECORD_HEAD, MISC_BUILD_ID_SIZE, MISC_KERNEL,  # noqa: E402
                                          PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER, AttrFlag, Feature, RecordType,
                                          SampleType)

K = 0xFFFFFFFF81000000                  # _text
M1, M2 = 0xFFFFFFFFC0002000, 0xFFFFFFFFC0010000
MOD1, MOD2 = "/lib/modules/6.1.0/kernel/mod1.ko", "/lib/modules/6.1.0/extra/mod-two.ko.xz"
ATTR = pb.sw_attr(sample_type=pb.CC_SAMPLE_TYPE, flags=AttrFlag.SAMPLE_ID_ALL)
CORE_A, CORE_B, CORE_C, DATA = K + 0x110, K + 0x208, K + 0x404, K + 0x2010
M1A, M1B, M1C, M2X, M2Y, NOMAP = M1 + 4, M1 + 0x108, M1 + 0x210, M2 + 0x10, M2 + 0x120, 0xFFFFFFFFC0020010

KALLSYMS = """\
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000100 T core_a
ffffffff81000200 t core_b
ffffffff81000200 T core_b_alias
ffffffff81000300 r core_rodata
ffffffff81000400 T core_c
ffffffff81000800 W core_weak
ffffffff81001000 T _etext
ffffffff81002000 D core_data
ffffffffc0002100 t mod1_b\t[mod1]
ffffffffc0002000 t mod1_a\t[mod1]
ffffffffc0002200 T mod1_c\t[mod1]
ffffffffc0010000 t mod2_x\t[mod_two]
ffffffffc0010100 t mod2_y\t[mod_two]
ffffffffc0020000 t nomap_f\t[nomap]
"""
VARIANTS = {
    "kallsyms.notext": "".join(ln for ln in KALLSYMS.splitlines(True) if "_text" not in ln),
    "kallsyms.long": KALLSYMS.replace("ffffffff81000400 T core_c\n", "ffffffff81000400 T core_c\nffffffff81000500 T "
                                      + "x" * 600 + "\nffffffff81000600 T after_long\n"),
    "kallsyms.blank": KALLSYMS.replace("ffffffff81000400 T core_c\n",
                                       "\nffffffff81000400 T core_c\nffffffff81000410 T after_blank\n"),
    "kallsyms.upper": KALLSYMS.replace("ffffffff8100", "FFFFFFFF8100"),
    "kallsyms.junk": KALLSYMS.replace("ffffffff81000400 T core_c\n", "ffffffff81000400 T core_c\n"
                                      "ffffffff81000500T glued\nffffffff81000600 T ok_after\nzzz\n"
                                      "ffffffff81000700 $x dollar\nffffffff81000710 t $d\n"),
}


def kernel_mmap(start: int, length: int, pgoff: int, name: str = "[kernel.kallsyms]_text") -> bytes:
    """PERF_RECORD_MMAP, cpumode KERNEL, pid -1: the kernel (pgoff: _text's address) or a module (0)."""
    raw = name.encode() + b"\0"
    raw += b"\0" * (-len(raw) % 8)
    return pb.record(RecordType.MMAP, MISC_KERNEL, struct.pack("<iiQQQ", -1, 0, start, length, pgoff) + raw
                     + pb.trailer(0, 0, 0))


def kernel_sample(time: int, chain) -> bytes:
    return pb.sample_cc(chain[0], 100, 100, time, [PERF_CONTEXT_KERNEL, *chain, PERF_CONTEXT_USER, 0x400123],
                        misc=MISC_KERNEL)


def kernel_build_ids(entries) -> bytes:
    """HEADER_BUILD_ID entries in kernel mode (as perf record writes modules')."""
    out = []
    for filename, build_id in entries:
        name = filename.encode() + b"\0"
        name = name.ljust(-(-len(name) // 64) * 64, b"\0")
        out.append(BUILD_ID_RECORD_HEAD.pack(0, MISC_BUILD_ID_SIZE | MISC_KERNEL, BUILD_ID_RECORD_HEAD.size + len(name),
                                             -1, build_id, len(build_id)) + name)
    return b"".join(out)


def ksymbol(addr: int, length: int, name: str, time: int, unregister: bool = False) -> bytes:
    """PERF_RECORD_KSYMBOL: addr, len, ksym_type (1: BPF), flags (1: unregister), name; sample_id."""
    raw = name.encode() + b"\0"
    raw += b"\0" * (-len(raw) % 8)
    return pb.record(RecordType.KSYMBOL, 0, struct.pack("<QIHH", addr, length, 1, 1 if unregister else 0) + raw
                     + pb.trailer(0, 0, time))


def write_dummy(name: str) -> None:
    """cpu-clock (IDENTIFIER first in its samples) and a dummy event with another sample_type."""
    ident = SampleType.IDENTIFIER
    clock = pb.sw_attr(sample_type=pb.CC_SAMPLE_TYPE | ident, flags=AttrFlag.SAMPLE_ID_ALL)
    dummy = pb.sw_attr(sample_type=(pb.CC_SAMPLE_TYPE | ident) & ~SampleType.PERIOD, flags=AttrFlag.SAMPLE_ID_ALL)
    dummy = dummy.replace(config=9)
    trailer = lambda time: struct.pack("<IIQIIQ", 0, 0, time, 0, 0, 7)   # noqa: E731 pid,tid,time,cpu,res,id
    records = [pb.record(RecordType.MMAP, MISC_KERNEL, struct.pack("<iiQQQ", -1, 0, K, 0x1000, K)
                         + b"[kernel.kallsyms]_text\0\0" + trailer(0)),
               pb.record(RecordType.COMM, 0x2000, struct.pack("<II", 100, 100) + b"work\0\0\0\0" + trailer(1))]
    for i, chain in enumerate([[CORE_A, CORE_B], [CORE_C, CORE_A], [CORE_A, CORE_B], [M1A, CORE_A]]):
        body = struct.pack("<QQIIQIIQ", 7, chain[0], 100, 100, 11 + i, i % 2, 0, 1)
        full = [PERF_CONTEXT_KERNEL, *chain, PERF_CONTEXT_USER, 0x400123]
        records.append(pb.record(RecordType.SAMPLE, MISC_KERNEL, body + struct.pack(f"<Q{len(full)}Q", len(full),
                                                                                      *full)))
    feats = {Feature.EVENT_DESC: fw.event_desc([fw.EventDesc(clock, "cpu-clock", (7,)),
                                                fw.EventDesc(dummy, "dummy:HG", (8,))])}
    with open(os.path.join(HERE, "data", name), "wb") as f:
        f.write(pb.perf_data(records, attrs=((clock, (7,)), (dummy, (8,))), features=feats))


def write(name: str, maps, chains, extra=(), features=None) -> None:
    records = list(maps) + [pb.comm(100, 100, "work", 1, exec_=True)]
    records += [kernel_sample(11 + i, chain) for i, chain in enumerate(chains)] + list(extra)
    feats = {Feature.EVENT_DESC: fw.event_desc([fw.EventDesc(ATTR, "cpu-clock", (7,))])}
    feats.update(features or {})
    with open(os.path.join(HERE, "data", name), "wb") as f:
        f.write(pb.perf_data(records, attrs=((ATTR, (7,)),), features=feats))


def main() -> None:
    os.makedirs(os.path.join(HERE, "data"), exist_ok=True)
    maps = [kernel_mmap(K, 0x1000, K), kernel_mmap(M1, 0x1000, 0, MOD1), kernel_mmap(M2, 0x1000, 0, MOD2)]
    write("order1.data", maps, [[DATA, CORE_A], [CORE_A, CORE_B], [M1A, CORE_C], [M1B, M2X, CORE_A],
                                [M1C, M2Y, CORE_B], [NOMAP, CORE_C], [DATA, CORE_A], [CORE_C + 0x800], [K + 0x1000],
                                [M1B]])
    write("order2.data", maps, [[M1B, M1A], [M1A, CORE_A], [M1B, CORE_B], [M1C, CORE_C], [M2X, CORE_A], [M1A],
                                [M1B]])
    r = K + 0x10000000
    write("reloc.data", [kernel_mmap(r, 0x1000, r)], [[r + 0x110, r + 0x208], [r + 0x404, r + 0x110],
                                                      [r + 0x2010, r + 0x110], [r + 0xC04]])
    hypervisor = pb.sample_cc(0x1234, 100, 100, 30, [], misc=3)
    write("names.data", [kernel_mmap(K, 0x1000, K), kernel_mmap(M1, 0x1000, 0, "[mod1]"),
                         kernel_mmap(M2, 0x1000, 0, MOD2)],
          [[M1B, CORE_A], [M2X, CORE_B], [0x400200, CORE_C], [M2Y, M1C]], extra=[hypervisor],
          features={Feature.BUILD_ID: kernel_build_ids([(MOD2, b"\x22" * 20)])})
    write("edges.data", [kernel_mmap(K, 0x1000, K)],
          [[K + a] for a in (0x110, 0x404, 0x412, 0x520, 0x610, 0x650, 0x705, 0x712, 0xFFF, 0x2FFF, 0x3000)])
    b = 0xFFFFFFFFA0001000          # where x86_64's BPF JIT puts programs: no kernel or module map there
    bpf_name = "bpf_prog_0123456789abcdef_my_prog"
    write("bpf.data", [kernel_mmap(K, 0x1000, K), ksymbol(b, 0x100, bpf_name, 5)],
          [[b + 0x10, CORE_A], [b + 0x80, b + 0x10, CORE_B], [b + 0x100, CORE_C]],
          extra=[ksymbol(b, 0x100, bpf_name, 20, unregister=True),
                 kernel_sample(21, [b + 0x10, CORE_A]), kernel_sample(22, [b + 0x20, CORE_A])])
    write_dummy("dummy.data")
    for name, text in [("kallsyms", KALLSYMS)] + list(VARIANTS.items()):
        with open(os.path.join(HERE, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
