"""symbols/symtab.py: perf's symbol selection, alias choice, end fixup and lookups."""
import fnmatch
import os
import shutil
import subprocess

import pytest

from elfbuild import TEXT_VADDR, build_elf
from pyperf_probe.symbols.symtab import (STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC,
                                         STT_NOTYPE, STT_OBJECT, Symbol, choose_best_symbol, load_symtab)

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
T = TEXT_VADDR


def table(tmp_path, syms, **kw):
    p = tmp_path / "prog"
    # a fresh build-id per file: symbol tables are cached per build-id
    p.write_bytes(build_elf(syms, build_id=os.urandom(20), **kw))
    return load_symtab(str(p))


STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3


def test_filter_keeps_functions_objects_and_text_labels(tmp_path):
    """elf_sym__filter and elf_sym__is_label: a NOTYPE label of any size, but not a hidden or internal one
    (annobin's markers); a FUNC whatever its visibility."""
    t = table(tmp_path, [
        ("f", T + 0x10, 16, STT_FUNC, STB_GLOBAL, "text"),
        ("ifn", T + 0x20, 16, STT_GNU_IFUNC, STB_GLOBAL, "text"),
        ("obj", T + 0x30, 8, STT_OBJECT, STB_LOCAL, "text"),
        ("label", T + 0x38, 0, STT_NOTYPE, STB_LOCAL, "text"),
        ("sized_notype", T + 0x40, 4, STT_NOTYPE, STB_LOCAL, "text"),
        ("protected_label", T + 0x44, 0, STT_NOTYPE, STB_GLOBAL, "text", STV_PROTECTED),
        (".annobin_f.c", T + 0x10, 0, STT_NOTYPE, STB_LOCAL, "text", STV_HIDDEN),
        (".annobin_f.c_end", T + 0x20, 0, STT_NOTYPE, STB_LOCAL, "text", STV_HIDDEN | 0x80),  # other bits
        ("internal_label", T + 0x48, 4, STT_NOTYPE, STB_LOCAL, "text", STV_INTERNAL),
        ("hidden_func", T + 0x50, 8, STT_FUNC, STB_LOCAL, "text", STV_HIDDEN),
        ("undef", 0, 0, STT_FUNC, STB_GLOBAL, "undef"),
        ("absfunc", 0x5, 0, STT_FUNC, STB_GLOBAL, "abs"),
        ("abslabel", 0x5, 0, STT_NOTYPE, STB_GLOBAL, "abs"),
        ("", T + 0x50, 4, STT_FUNC, STB_LOCAL, "text"),
    ])
    assert t.names() == ["f", "hidden_func", "ifn", "label", "obj", "protected_label", "sized_notype"]
    assert t.by_name("ifn")[0].is_ifunc
    assert t.lookup(T + 0x10).name == "f"
    assert t.lookup(T + 0x20).name == "ifn"


# A program with annobin-like markers: hidden NOTYPE labels (what annobin emits, as in Debian's node) and
# labels of every other visibility, size and section kind, compared with real perf's -F below.
ANNOBIN_C = r"""
__asm__(
  ".text\n"
  ".hidden .annobin_f.c\n"
  ".type .annobin_f.c, STT_NOTYPE\n"
  ".annobin_f.c:\n"
  ".hidden .annobin_f.c.start\n"
  ".annobin_f.c.start:\n"
  ".type .annobin_func_marker, STT_FUNC\n"
  ".hidden .annobin_func_marker\n"
  ".annobin_func_marker:\n"
  ".internal label_internal\n"
  "label_internal:\n"
  ".protected label_protected\n"
  ".globl label_protected\n"
  "label_protected:\n"
  "label_default:\n"
  "label_sized:\n"
  ".size label_sized, 8\n"
  ".hidden label_sized_hidden\n"
  "label_sized_hidden:\n"
  ".size label_sized_hidden, 8\n"
  "  nop; nop; nop; nop; nop; nop; nop; nop\n"
  ".hidden .annobin_f.c_end\n"
  ".annobin_f.c_end:\n"
  "  nop; nop\n"
  ".section .text.unlikely, \"ax\"\n"
  ".hidden .annobin_f.c.unlikely\n"
  ".annobin_f.c.unlikely:\n"
  "label_unlikely: nop\n"
  ".section .rodata\n"
  "label_rodata: .byte 1\n"
  ".hidden label_rodata_hidden\n"
  "label_rodata_hidden: .byte 1\n"
  ".section .annobin.notes, \"a\"\n"
  "label_notes_section: .byte 2\n"
  ".text\n"
);
int main(void) { return 0; }
"""


@pytest.mark.perf
@pytest.mark.skipif(not shutil.which("perf") or not shutil.which("gcc"), reason="needs perf and gcc")
def test_annobin_like_labels_equal_perf(tmp_path):
    """perf 6.1 leaves out hidden and internal NOTYPE labels (annobin's ``.annobin_*``), keeps the others of
    any size in text and data sections, and keeps a hidden FUNC: ``-F '*'`` equal to perf's, and the
    hidden labels at a function's start do not take its name in report's lookups."""
    src, prog = tmp_path / "annobin.c", tmp_path / "annobin"
    src.write_text(ANNOBIN_C)
    subprocess.run(["gcc", "-O1", "-o", str(prog), str(src)], check=True)
    env = dict(os.environ, PERF_BUILDID_DIR=str(tmp_path / "buildid"))
    perf = subprocess.run(["perf", "probe", "-F*", "-x", str(prog)], capture_output=True, text=True, env=env)
    table = load_symtab(str(prog))
    names = table.names()
    assert "".join(n + "\n" for n in names) == perf.stdout
    for kept in ["label_default", "label_sized", "label_protected", "label_rodata", "label_unlikely",
                 ".annobin_func_marker"]:
        assert kept in names
    assert not [n for n in names if n.startswith(".annobin_f.c") or n in (
        "label_internal", "label_sized_hidden", "label_rodata_hidden", "label_notes_section")]
    # Past label_sized's 8 bytes only zero-size symbols cover the address: the last label at that start
    # (zero-size: up to the next start), not the hidden marker there.
    end_marker = table.by_name("label_sized")[0].svma + 8
    assert table.lookup(end_marker + 1).name == "label_protected"


def test_names_in_strcmp_order_with_utf8(tmp_path):
    """A non-ASCII name sorts by its UTF-8 bytes (strcmp), filtered or not."""
    from pyperf_probe.probe.strfilter import StrFilter
    t = table(tmp_path, [("\u00e9t\u00e9", T + 0x10, 4, STT_FUNC, STB_GLOBAL, "text"),
                         ("z", T + 0x20, 4, STT_FUNC, STB_GLOBAL, "text"),
                         ("_a", T + 0x30, 4, STT_FUNC, STB_GLOBAL, "text"),
                         ("\uff21", T + 0x40, 4, STT_FUNC, STB_GLOBAL, "text"),
                         ("a", T + 0x50, 4, STT_FUNC, STB_GLOBAL, "text")])
    assert t.names() == ["_a", "a", "z", "\u00e9t\u00e9", "\uff21"]
    assert t.names(StrFilter("!_*")) == ["a", "z", "\u00e9t\u00e9", "\uff21"]


def test_zero_size_symbols_extend_to_next(tmp_path):
    t = table(tmp_path, [("a", T, 0, STT_FUNC, STB_GLOBAL, "text"),
                         ("b", T + 0x40, 0x10, STT_FUNC, STB_GLOBAL, "text"),
                         ("last", T + 0x100, 0, STT_FUNC, STB_GLOBAL, "text")])
    assert t.lookup(T + 0x3f).name == "a"
    assert t.lookup(T + 0x40).name == "b"
    assert t.lookup(T + 0x50) is None           # gap between b's end and `last`
    assert t.lookup(T + 0x100).name == "last"
    assert t.by_name("last")[0].end == (T + 0x100 + 4095) // 4096 * 4096 + 4096   # roundup() + a page
    assert t.lookup(T - 1) is None


@pytest.mark.parametrize("a,b,best", [
    (("x", 0, 16, STT_FUNC, STB_GLOBAL), ("y", 0, 0, STT_FUNC, STB_GLOBAL), "x"),      # nonzero size
    (("x", 0, 16, STT_FUNC, STB_WEAK), ("y", 0, 16, STT_FUNC, STB_LOCAL), "y"),        # non-weak
    (("x", 0, 16, STT_FUNC, STB_LOCAL), ("y", 0, 16, STT_FUNC, STB_GLOBAL), "y"),      # global
    (("__x", 0, 16, STT_FUNC, STB_GLOBAL), ("_yy", 0, 16, STT_FUNC, STB_GLOBAL), "_yy"),  # underscores
    (("abc", 0, 16, STT_FUNC, STB_GLOBAL), ("abcd", 0, 16, STT_FUNC, STB_GLOBAL), "abcd"),  # longer
    (("abc", 0, 16, STT_FUNC, STB_GLOBAL), ("xyz", 0, 16, STT_FUNC, STB_GLOBAL), "abc"),    # tie: first
])
def test_choose_best_symbol(a, b, best):
    sa, sb = Symbol(*a, end=a[1] + a[2]), Symbol(*b, end=b[1] + b[2])
    assert choose_best_symbol(sa, sb).name == best


def test_aliases_kept_by_name_but_lookup_picks_best(tmp_path):
    t = table(tmp_path, [("__libc_malloc", T, 32, STT_FUNC, STB_GLOBAL, "text"),
                         ("malloc", T, 32, STT_FUNC, STB_GLOBAL, "text"),
                         ("__malloc", T, 32, STT_FUNC, STB_LOCAL, "text")])
    assert sorted(t.names()) == ["__libc_malloc", "__malloc", "malloc"]
    assert t.lookup(T + 5).name == "malloc"


def test_dynsym_only_binary(tmp_path):
    t = table(tmp_path, [("exported", T, 8, STT_FUNC, STB_GLOBAL, "text")], symtab_name=".dynsym")
    assert not t.has_symtab
    assert t.names() == ["exported"]


def test_libc_malloc_is_malloc():
    t = load_symtab(LIBC)
    sym = t.lookup(t.by_name("malloc")[0].svma)
    assert sym.name == "malloc"
    assert {s.name for s in t.symbols if s.svma == sym.svma} >= {"malloc", "__libc_malloc"}


def test_libc_lookup_agrees_with_nm():
    """Every defined FUNC of libc's .dynsym resolves to a symbol starting at its address."""
    t = load_symtab(LIBC)
    out = subprocess.run(["nm", "-D", "--defined-only", LIBC], capture_output=True, text=True).stdout
    funcs = [int(line.split()[0], 16) for line in out.splitlines() if line.split()[1] in ("T", "i")]
    assert len(funcs) > 1000
    for svma in funcs:
        assert t.lookup(svma).svma == svma


@pytest.mark.perf
@pytest.mark.skipif(not shutil.which("perf"), reason="perf is not installed")
@pytest.mark.parametrize("path", [LIBC, "/usr/bin/ls", "/usr/bin/bash"])
def test_names_equal_perf_funcs(path):
    t = load_symtab(path)
    mine = [n for n in t.names() if not n.startswith("_") and not fnmatch.fnmatchcase(n, "*@plt")]
    perf = subprocess.run(["perf", "probe", "-F", "-x", path], capture_output=True, text=True).stdout.split("\n")
    assert mine == perf[:-1]


@pytest.mark.perf
@pytest.mark.skipif(not shutil.which("perf"), reason="perf is not installed")
@pytest.mark.parametrize("path", [LIBC, "/usr/bin/ls"])
def test_plt_names_equal_perf(path):
    t = load_symtab(path)
    mine = [n for n in t.names() if n.endswith("@plt")]
    perf = subprocess.run(["perf", "probe", "-x", path, "-F*@plt"], capture_output=True, text=True).stdout.split("\n")
    assert mine == perf[:-1]


# A hidden marker after a sized label: the code past the label's 8 bytes is covered only by zero-size
# symbols. perf's report names it after the default label there; with the marker kept it would be named
# ".annobin_r.c_end".
ANNOBIN_REPORT_C = r"""
__asm__(
  ".text\n"
  ".globl label_default\n"
  ".hidden .annobin_r.c\n"
  ".annobin_r.c:\n"
  "label_default:\n"
  "label_sized:\n"
  ".size label_sized, 8\n"
  "  nop; nop; nop; nop; nop; nop; nop; nop\n"
  ".hidden .annobin_r.c_end\n"
  ".annobin_r.c_end:\n"
  "  nop\n"
  "  ret\n"
);
extern void label_default(void);
int main(void) { for (int i = 0; i < 3; i++) label_default(); return 0; }
"""


@pytest.mark.perf
@pytest.mark.uprobes
@pytest.mark.skipif(not shutil.which("perf") or not shutil.which("gcc"), reason="needs perf and gcc")
def test_report_names_code_after_a_hidden_marker_as_perf(tmp_path):
    """report resolves through the same table: a sample past the hidden marker, recorded by real perf (a
    uprobe at the marker's address, group pyperf_t_annobin, removed on every path), gets perf's name."""
    import sys
    if os.geteuid() != 0 or not os.path.exists("/sys/kernel/tracing/uprobe_events"):
        pytest.skip("needs root and tracefs uprobe_events")
    src, prog, data = tmp_path / "rep.c", tmp_path / "rep", tmp_path / "rep.data"
    src.write_text(ANNOBIN_REPORT_C)
    subprocess.run(["gcc", "-O1", "-o", str(prog), str(src)], check=True)
    marker = load_symtab(str(prog)).by_name("label_sized")[0].svma + 8     # = .annobin_r.c_end (a PIE)
    group = "pyperf_t_annobin"
    try:
        added = subprocess.run(["perf", "probe", "-q", "-x", str(prog), "-a", f"{group}:gap={marker:#x}"],
                               capture_output=True, text=True)
        assert added.returncode == 0, added.stderr
        rec = subprocess.run(["perf", "record", "-N", "-q", "-o", str(data), "-e", f"{group}:gap", "--",
                              str(prog)], capture_output=True, text=True)
        assert rec.returncode == 0, rec.stderr
    finally:
        subprocess.run(["perf", "probe", "-q", "-d", f"{group}:*"], capture_output=True)
    env = dict(os.environ, HOME=str(tmp_path), TZ="UTC")
    args = ["-i", str(data), "--stdio", "--sort", "sym", "-n"]
    want = subprocess.run(["perf", "report", *args], capture_output=True, text=True, env=env).stdout
    got = subprocess.run([sys.executable, "-m", "pyperf_probe", "report", *args], capture_output=True,
                         text=True, env=env).stdout
    line = "   100.00%             3  [.] label_default"
    assert line in want.splitlines()
    assert line in got.splitlines()


# Always in the comparison when present: node (Debian's is built with annobin: 60 hidden .annobin_* labels
# perf leaves out, 2 sized NOTYPE labels it keeps; 181,472 names).
ALWAYS_COMPARED = ["/usr/bin/node"]


def _system_elf_files(count=40):
    import glob
    files = sorted(f for f in glob.glob("/usr/lib/x86_64-linux-gnu/*.so*") + glob.glob("/usr/bin/*")
                   if os.path.isfile(f) and not os.path.islink(f))
    out = []
    for f in files[::max(1, len(files) // (count * 2))]:
        with open(f, "rb") as fh:
            if fh.read(4) == b"\x7fELF":
                out.append(f)
    out = out[:count]
    return out + [f for f in ALWAYS_COMPARED if os.path.isfile(f) and f not in out]


@pytest.mark.perf
@pytest.mark.skipif(not shutil.which("perf"), reason="perf is not installed")
def test_every_name_of_many_system_files_equals_perf(tmp_path):
    """Aliases, duplicates (.symtab and .dynsym), @plt entries, demangled C++: ``perf probe -F '*'``."""
    env = dict(os.environ, PERF_BUILDID_DIR=str(tmp_path))
    files = _system_elf_files()
    assert len(files) >= 20
    for path in files:
        perf = subprocess.run(["perf", "probe", "-F*", "-x", path], capture_output=True, text=True, env=env)
        names = load_symtab(path).names()
        assert "".join(n + "\n" for n in names) == perf.stdout, path


# ---- the column reader against a plain per-entry reading of the gABI layouts ----------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from pyperf_probe.symbols.elf import SHF_ALLOC, SHT_NOBITS, SHT_SYMTAB, SectionHeader  # noqa: E402
from pyperf_probe.symbols.symtab import plt_symbols, read_elf_symbols  # noqa: E402


class _Image:
    """Just what the symbol reader asks of an ElfImage: sections by name and index, their bytes, the
    class and byte order."""

    def __init__(self, is_64, endian, sections, unloaded=()):
        self.path, self.is_64, self.endian, self.machine = "fake", is_64, endian, 62
        self.sections = tuple(SectionHeader(i, name, sh_type, 0 if i in unloaded else SHF_ALLOC, 0, 0, len(data),
                                            link, 0, 0, 0)
                              for i, (name, sh_type, link, data) in enumerate(sections))
        self._bytes = [data for _, _, _, data in sections]

    def section(self, name):
        return next((s for s in self.sections if s.name == name), None)

    def section_by_index(self, index):
        return self.sections[index] if 0 <= index < len(self.sections) else None

    def section_bytes(self, shdr):
        shdr = self.section(shdr) if isinstance(shdr, str) else shdr
        return b"" if shdr is None else self._bytes[shdr.index]

    section_buffer = section_bytes  # (an image in memory: nothing to map)


def _reference(image, entries, strtab):
    """perf's elf_sym__filter / elf_sym__is_label, one entry at a time (the rule the columns must match)."""
    texts = {s.index for s in image.sections if "text" in s.name or "data" in s.name}
    out = []
    for st_name, info, other, shndx, value, size in entries:
        stype = info & 0xF
        if not st_name or shndx == 0:
            continue
        if shndx < len(image.sections) and not image.sections[shndx].flags & SHF_ALLOC:
            continue            # not loaded (perf 6.1 dso__load_sym: glibc's .gnu.warning.* symbols)
        if stype in (STT_FUNC, STT_GNU_IFUNC, STT_OBJECT):
            if shndx >= len(image.sections):
                continue
        elif stype != STT_NOTYPE or other & 3 in (STV_HIDDEN, STV_INTERNAL) or shndx not in texts:
            continue
        end = strtab.find(b"\0", st_name)
        out.append((strtab[st_name:end if end >= 0 else len(strtab)].decode("utf-8", "replace"), value, size,
                    stype, info >> 4))
    return out


def _pack(is_64, endian, entries):
    fmt = endian + ("IBBHQQ" if is_64 else "IIIBBH")
    rows = [(n, info, other, shndx, value, size) if is_64 else (n, value, size, info, other, shndx)
            for n, info, other, shndx, value, size in entries]
    import struct
    return b"".join(struct.pack(fmt, *row) for row in rows)


_STRTAB = b"\0malloc\0_Z3fooi\0free\0\xc3\xa9t\xc3\xa9\0a.c\0__libc_malloc\0"
_ASCII_STRTAB = b"\0malloc\0_Z3fooi\0free\0a.c\0__libc_malloc\0\0\0\0\0\0"    # same size


@settings(max_examples=300, deadline=None)
@given(is_64=st.booleans(), big=st.booleans(), nsections=st.sampled_from([3, 255, 256, 257, 700]),
       strtab=st.sampled_from([_STRTAB, _ASCII_STRTAB]),
       entries=st.lists(st.tuples(st.integers(0, len(_STRTAB) - 1), st.integers(0, 255), st.integers(0, 255),
                                  st.sampled_from([0, 1, 2, 3, 254, 255, 256, 257, 512, 699, 700, 0xFFF1, 0xFFFF]),
                                  st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 256, 2**31])), max_size=40),
       unloaded=st.sets(st.sampled_from([1, 2, 3, 4, 254, 255, 256, 257, 512, 699])))
def test_columns_equal_a_per_entry_reading(is_64, big, nsections, strtab, entries, unloaded):
    """Both ELF classes and byte orders, section counts around the 256 boundary of the shndx test, ASCII
    and UTF-8 string tables, names cut by the end of the table, sections without SHF_ALLOC, every st_other
    (visibility in its low bits)."""
    endian = ">" if big else "<"
    names = ["", ".strtab", ".symtab"] + [(".text", ".data.rel", ".comment")[i % 3] for i in range(3, nsections)]
    sections = [(name, 1, 0, b"") for name in names]
    sections[1] = (".strtab", 3, 0, strtab[:-1])
    sections[2] = (".symtab", SHT_SYMTAB, 1, _pack(is_64, endian, entries) + b"\0" * 3)   # a ragged tail
    image = _Image(is_64, endian, sections, unloaded)
    assert read_elf_symbols(image, ".symtab") == _reference(image, entries, strtab[:-1])


def test_missing_and_nobits_tables_are_empty():
    image = _Image(True, "<", [("", 0, 0, b""), (".symtab", SHT_NOBITS, 0, b"")])
    assert read_elf_symbols(image, ".symtab") == [] and read_elf_symbols(image, ".dynsym") == []


def test_plt_names_in_relocation_order():
    """.rela.plt entries name .dynsym entries; the PLT entries follow PLT0 (x86-64: 16 bytes each)."""
    import struct
    dynstr = b"\0puts\0exit\0"
    dynsym = struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0) + struct.pack("<IBBHQQ", 1, 0x12, 0, 0, 0, 0) \
        + struct.pack("<IBBHQQ", 6, 0x12, 0, 0, 0, 0)
    rela = struct.pack("<QQq", 0x4000, (2 << 32) | 7, 0) + struct.pack("<QQq", 0x4008, (1 << 32) | 7, 0) \
        + struct.pack("<QQq", 0x4010, 7, 0)
    image = _Image(True, "<", [("", 0, 0, b""), (".dynstr", 3, 0, dynstr), (".dynsym", 11, 1, dynsym),
                               (".rela.plt", 4, 2, rela), (".plt", 1, 0, b"")])
    plt_svma = image.sections[4].svma
    assert plt_symbols(image) == [("exit@plt", plt_svma + 16, 16, STT_FUNC, STB_GLOBAL),
                                  ("puts@plt", plt_svma + 32, 16, STT_FUNC, STB_GLOBAL),
                                  ("@plt", plt_svma + 48, 16, STT_FUNC, STB_GLOBAL)]


@pytest.mark.parametrize("path", [LIBC, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/bash"])
@pytest.mark.parametrize("rules", ["!_* & !*@plt", "_Z*", "*", "mem*|_*", "!std::*", "*@plt"])
def test_filtered_names_equal_names_filtered(path, rules, monkeypatch):
    """names(flt) skips names by their first character only where the filter rejects them all (a fresh
    table each time: a table whose names were all made answers from them)."""
    from pyperf_probe.probe.strfilter import StrFilter
    from pyperf_probe.symbols import symtab
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed")
    flt = StrFilter(rules)
    monkeypatch.setattr(symtab, "_CACHE", {})
    every = load_symtab(path).names()
    monkeypatch.setattr(symtab, "_CACHE", {})
    assert load_symtab(path).names(flt) == [n for n in every if flt.compare(n)]


@settings(max_examples=500, deadline=None)
@given(strtab=st.binary(max_size=300).map(lambda b: bytes(b"_Z\0aZ"[x % 5] for x in b)))
def test_mangled_search_equals_the_plain_one(strtab):
    """The search for "_Z" from the "Z"s (with its fall-back after 64 lone "Z"s) answers as ``in``."""
    from pyperf_probe.symbols.symtab import _mentions_mangled
    assert _mentions_mangled(strtab) == (b"_Z" in strtab)


def _reference_fixup_end(rows):
    """symbols__fixup_end one row at a time: stable sort by start, a zero size ends at the next start (the
    last one at the page after its own)."""
    rows = sorted(rows, key=lambda r: r[1])
    out = []
    for i, (name, svma, size, stype, bind) in enumerate(rows):
        end = svma + size
        if size == 0:
            end = rows[i + 1][1] if i + 1 < len(rows) else (svma + 4095) // 4096 * 4096 + 4096
        out.append((name, svma, size, stype, bind, end))
    return out


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "_a", "__a", "bb", "c"]), st.integers(0, 40),
                               st.sampled_from([0, 0, 1, 8]), st.sampled_from([STT_FUNC, STT_OBJECT]),
                               st.sampled_from([STB_LOCAL, STB_GLOBAL, STB_WEAK])), max_size=30))
def test_symbols_from_rows_and_columns_equal_a_per_row_fixup(rows):
    """The column-at-a-time fixup (from rows or from a table's columns) equals the per-row rule, and the
    de-duplicated list keeps choose_best_symbol's pick per start."""
    from pyperf_probe.symbols.symtab import SymbolNames, SymbolTable, fixup_duplicate, fixup_end
    expected = _reference_fixup_end(rows)
    assert [tuple(s) for s in fixup_end(rows)] == expected
    columns = [list(c) for c in zip(*rows)] if rows else [[], [], [], [], []]
    table = SymbolTable.from_columns("x", [SymbolNames.ready(columns[0])], lambda: tuple(columns[1:]), "x", True)
    assert [tuple(s) for s in table.symbols] == expected and all(type(s) is Symbol for s in table.symbols)
    unique = []
    for sym in table.symbols:
        if unique and unique[-1].svma == sym.svma:
            unique[-1] = choose_best_symbol(unique[-1], sym)
        else:
            unique.append(sym)
    assert fixup_duplicate(table.symbols) == unique
    fresh = SymbolTable.from_columns("x", [SymbolNames.ready(columns[0])], lambda: tuple(columns[1:]), "x", True)
    assert fresh.unique() == unique and all(type(s) is Symbol for s in fresh.unique())    # no alias list made
    assert fresh._symbols is None


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "_a", "__a", "bb", "c"]), st.integers(0, 40),
                               st.sampled_from([0, 0, 1, 8]), st.sampled_from([STT_FUNC, STT_OBJECT]),
                               st.sampled_from([STB_LOCAL, STB_GLOBAL, STB_WEAK])), max_size=30))
def test_lookup_without_the_unique_list_is_the_lookup_with_it(rows):
    """report's lookups on a fresh table (no de-duplicated list made: each start's aliases judged alone)
    answer what lookups on the de-duplicated list answer, at every address around every symbol."""
    from pyperf_probe.symbols.symtab import SymbolNames, SymbolTable

    def table():
        columns = [list(c) for c in zip(*rows)] if rows else [[], [], [], [], []]
        return SymbolTable.from_columns("x", [SymbolNames.ready(columns[0])], lambda: tuple(columns[1:]), "x",
                                        True)
    lazy, full = table(), table()
    full.unique()
    for svma in range(-1, 4200):
        assert lazy.lookup(svma) == full.lookup(svma)
    assert lazy._unique is None and lazy._symbols is None


@pytest.mark.parametrize("path", ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                                  "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"])
def test_lazy_lookup_on_system_libraries(path):
    """The same on real tables (libc: its debug file's .symtab, 8,166 symbols, 1,600 runs of aliases; cc1:
    27K mangled C++ names, demangled one by one when looked up), at each start and end and one byte either
    side; and the names made one by one equal the names made all at once."""
    from pyperf_probe.symbols import symtab
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed")
    lazy = symtab._load(symtab.open_elf(path), None)
    full = symtab._load(symtab.open_elf(path), None)
    full.unique()
    _, svmas, _, _, _, ends = lazy._sorted()
    for start, end in zip(svmas, ends):
        for svma in (start - 1, start, start + 1, end - 1, end, end + 1):
            assert lazy.lookup(svma) == full.lookup(svma)
    assert lazy._unique is None
    names = symtab._load(symtab.open_elf(path), None)._sorted()[0]
    assert isinstance(names, symtab.LazyNames)
    one_by_one = [names[i] for i in range(len(names))]
    assert one_by_one == list(names) == [s.name for s in full.symbols]


@pytest.mark.parametrize("path", ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"])
def test_released_table_reads_itself_again(path):
    """A table released (SymbolTable.release: what a report does once its samples are resolved) lets its
    columns go, and answers every lookup, its length and its names as before, reading them again; a
    released table that was never sorted, and release_tables over the module's cache, the same."""
    from pyperf_probe.symbols import symtab
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed")
    full = symtab._load(symtab.open_elf(path), None)
    full.unique()
    table = symtab._load(symtab.open_elf(path), None)
    _, svmas, _, _, _, ends = table._sorted()
    probes = [svma for start, end in zip(svmas[::7], ends[::7]) for svma in (start - 1, start, end - 1, end)]
    before = [table.lookup(svma) for svma in probes[: len(probes) // 2]]
    table.release()
    assert table._columns is None and table._sorted_columns is None
    assert before == [table.lookup(svma) for svma in probes[: len(probes) // 2]]
    assert [table.lookup(svma) for svma in probes] == [full.lookup(svma) for svma in probes]
    table.release()
    assert len(table) == len(full.symbols) and table.names() == full.names()
    unsorted = symtab._load(symtab.open_elf(path), None)
    unsorted.release()
    assert [unsorted.lookup(svma) for svma in probes] == [full.lookup(svma) for svma in probes]
    symtab._CACHE.clear()
    cached = symtab.load_symtab(path)
    cached._sorted()
    symtab.release_tables()
    assert cached._sorted_columns is None and cached.lookup(probes[1]) == full.lookup(probes[1])
    symtab._CACHE.clear()


def test_ready_names_are_demangled_when_asked_for(monkeypatch):
    """The PLT's ``NAME@plt`` of a C++ program are demangled (as perf's dso__synthesize_plt_symbols does)
    when a name is first asked for, not when the table is loaded: a report whose addresses hit no PLT
    entry never loads the demangler."""
    from pyperf_probe.symbols import symtab
    raw = ["_ZNSt6vectorIiSaIiEE9push_backERKi@plt", "malloc@plt", "_ZdlPv@plt", "@plt"]
    want = symtab.demangled_names(raw)
    assert want[0] != raw[0] and want[1:] == [symtab.demangled_names([n])[0] for n in raw[1:]]
    calls = []
    real = symtab.demangled_names
    monkeypatch.setattr(symtab, "demangled_names", lambda names: calls.append(list(names)) or real(names))
    names = symtab.SymbolNames.ready(raw, demangle=True)
    assert calls == [] and len(names) == len(raw)
    assert [names.name(i) for i in range(len(raw))] == want
    assert calls == [[raw[0]], [raw[2]]]  # one at a time, the mangled ones only
    assert names.all() == want and names.all_ascii(names.all())
    plain = symtab.SymbolNames.ready(raw, demangle=False)
    assert plain.all() == raw and plain.name(0) == raw[0]
