"""Where perf 6.1 finds a process's symbols, against real perf on small binaries built here.

perf keeps a user dso's symbols at file offsets (symbol-elf.c ``dso__load_sym``, user dsos always
``adjust_symbols``: st_value less p_vaddr - p_offset of the PT_LOAD holding it by max(p_memsz, p_filesz),
else of its section) and looks a sample's map-relative address (``map__map_ip``: a file offset) up there,
whether or not a segment's file bytes hold it; pyperf maps the file offset to an ELF address through the
PT_LOAD whose file bytes hold it. The two agree inside the segments (checked on every page of libc, libstdc++,
libLLVM, python and perf itself while writing this) and differed past a segment's file bytes: the rest of
the exec map's last page after .fini (or .eh_frame_hdr), where perf still finds the last symbol before it
(``_fini+0x9``, a zero-size symbol running to the next one) and pyperf found none. And perf's report prints a
data object (STT_OBJECT: here ``blob``, code in .text typed @object) with ``+0x`` and the difference of the
map-relative ip and the symbol's start mapped back into the process (``_hist_entry__sym_snprintf``, meant for
the kernel's map: for a process a huge number), which pyperf did for kernel symbols only.

Each binary (PIE and not with GNU ld, a shared object with gold, whose data segment shares the text's last
page) is mapped as the loader maps its exec segment in a hand-made perf.data, with a sample every 16 bytes
of the mapping and at each symbol's edges; perf script's and perf report's text of it must equal pyperf's.
"""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import perfdata_build as pb  # noqa: E402

PERF = "/usr/bin/perf"
pytestmark = [pytest.mark.perf,
              pytest.mark.skipif(not os.path.exists(PERF) or shutil.which("gcc") is None,
                                 reason="needs real perf and gcc")]

SOURCE = r"""
/* code typed as data (an STT_OBJECT in .text) and a zero-size function of its own section */
__asm__(".text\n.globl blob\n.type blob,@object\nblob:\n mov $1000,%ecx\n1: dec %ecx\n jnz 1b\n ret\n"
        ".size blob,.-blob\n");
__asm__(".section .text.zz,\"ax\"\n.globl tail_fn\n.type tail_fn,@function\ntail_fn:\n nop\n nop\n ret\n");
extern void blob(void);
extern void tail_fn(void);
char big_bss[100000];
int data_obj[1000] = {1};
int main(void) { blob(); tail_fn(); return big_bss[5] + data_obj[3]; }
"""
# (A gold-linked PIE is left out: there perf 6.1 synthesizes no __cxa_finalize@plt at .plt's first entry,
# where pyperf does, a difference of the PLT symbols, not of the mapping.)
BUILDS = {"pie": ["-pie"], "nopie": ["-no-pie"], "gold_so": ["-fuse-ld=gold", "-shared", "-fPIC"]}
BASE = 0x7F0000000000


def _perf_data(binary: str) -> bytes:
    """A COMM, the exec PT_LOAD's MMAP2 as ld.so maps it, and samples over that whole mapping."""
    from pyperf_probe.symbols.elf import open_elf
    from pyperf_probe.symbols.symtab import read_elf_symbols
    image = open_elf(binary)
    records = [pb.comm(100, 100, "layouts", 1, True)]
    ips = set()
    for seg in image.load_segments:
        if not seg.flags & 1:        # PF_X
            continue
        start, end = BASE + (seg.vaddr & ~0xFFF), BASE + ((seg.vaddr + seg.memsz + 0xFFF) & ~0xFFF)
        records.append(pb.mmap2(100, start, end - start, seg.file_offset & ~0xFFF, binary, 2))
        ips.update(range(start, end, 16))
        for name, svma, size, _type, _bind in (read_elf_symbols(image, ".symtab")
                                                + read_elf_symbols(image, ".dynsym")):
            if seg.vaddr <= svma < seg.vaddr + seg.memsz:
                ips.update(BASE + svma + d for d in (0, 1, max(size, 1) - 1, max(size, 1), max(size, 1) + 1))
    records += [pb.sample(ip, 100, 100, 10 + i) for i, ip in enumerate(sorted(ips))]
    return pb.perf_data(records)


@pytest.fixture(scope="module", params=sorted(BUILDS))
def layout(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"layout_{request.param}")
    src = tmp / "layouts.c"
    src.write_text(SOURCE)
    binary = str(tmp / request.param)
    built = subprocess.run(["gcc", "-O1", *BUILDS[request.param], "-o", binary, str(src)], capture_output=True,
                           text=True)
    if built.returncode != 0:
        pytest.skip(f"gcc {' '.join(BUILDS[request.param])}: {built.stderr.strip()[:200]}")
    data = tmp / "layouts.data"
    data.write_bytes(_perf_data(binary))
    return str(data), binary, tmp


def _both(data: str, *args, cache: str):
    env = dict(os.environ, PYPERF_CACHE_DIR=cache)
    theirs = subprocess.run([PERF, *args[:1], "-i", data, *args[1:]], capture_output=True, text=True)
    ours = subprocess.run([sys.executable, "-m", "pyperf_probe", *args[:1], "-i", data, *args[1:]],
                          capture_output=True, text=True, env=env)
    return theirs, ours


def _body(report: str) -> list[str]:
    """Report lines without its tip, and without '# Samples' (perf names an event without EVENT_DESC from
    its attr, 'cpu-clock:uh'; pyperf leaves the name out)."""
    return [line for line in report.splitlines() if not line.startswith(("# (Tip", "# Samples"))]


@pytest.mark.parametrize("fields", ["ip,sym,symoff,dso", "ip,sym,dso"])
def test_script_finds_the_symbols_perf_finds(layout, fields):
    data, binary, tmp = layout
    theirs, ours = _both(data, "script", "-F", fields, cache=str(tmp / "cache"))
    assert theirs.returncode == ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    if fields.startswith("ip,sym,symoff"):       # what the case is about is in perf's text
        assert "_fini+0x" in theirs.stdout or "__FRAME_END__+0x" in theirs.stdout


@pytest.mark.parametrize("opts", [["--sort", "sym"], ["--sort", "dso,sym", "-g", "none"],
                                  ["--no-children", "--sort", "comm,dso,sym"]])
def test_report_symbol_column_as_perf(layout, opts):
    """The data object's '+0x' (cold, then warm from the resolved-symbol cache)."""
    data, binary, tmp = layout
    for _ in ("cold", "warm"):
        theirs, ours = _both(data, "report", "--stdio", *opts, cache=str(tmp / "cache"))
        assert theirs.returncode == ours.returncode == 0, ours.stderr
        assert _body(ours.stdout) == _body(theirs.stdout)
    assert "[.] blob+0x" in theirs.stdout
