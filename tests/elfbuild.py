"""Hand-made ELF64 little-endian files for the symbols/ unit tests (System V gABI layouts, one field a line)."""
import struct

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")

TEXT_VADDR = 0x401000      # a non-PIE-like layout: vaddr != file offset, so conversions are visible
TEXT_OFFSET = 0x1000


def note(name: bytes, n_type: int, desc: bytes) -> bytes:
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name) + 1, len(desc), n_type) + pad(name + b"\0") + pad(desc)


def build_elf(symbols, build_id=b"\x12\x34\x56\x78" * 5, debuglink=None, text_size=0x200, e_type=2,
              symtab_name=".symtab", rela_plt=None):
    """symbols: (name, value, size, type, bind, section[, st_other]) with section 'text' / 'undef' / 'abs'."""
    text = b"\x90" * text_size
    shstr, strtab = bytearray(b"\0"), bytearray(b"\0")

    def sname(s):
        shstr.extend(s.encode() + b"\0")
        return len(shstr) - len(s) - 1

    def stname(s):
        if not s:
            return 0
        at = len(strtab)
        strtab.extend(s.encode() + b"\0")
        return at

    # sections: 0 null, 1 .text, 2 .note.gnu.build-id, 3 symtab, 4 .strtab, 5 .gnu_debuglink, 6 .shstrtab
    syms = SYM.pack(0, 0, 0, 0, 0, 0)
    shndx = {"text": 1, "undef": 0, "abs": 0xFFF1}
    for name, value, size, stype, bind, sec, *other in symbols:
        syms += SYM.pack(stname(name),              # st_name
                         (bind << 4) | stype,       # st_info
                         other[0] if other else 0,  # st_other: the visibility (STV_*) in its low 2 bits
                         shndx[sec],                # st_shndx
                         value,                     # st_value
                         size)                      # st_size
    notes = note(b"GNU", 3, build_id) if build_id else b""
    link = b""
    if debuglink:
        link = debuglink.encode() + b"\0"
        link += b"\0" * (-len(link) % 4) + struct.pack("<I", 0xDEADBEEF)
    body = bytearray(b"\0" * TEXT_OFFSET)
    placed = {}
    for key, blob in (("text", text), ("note", notes), ("symtab", syms), ("strtab", bytes(strtab)),
                      ("link", link)):
        while len(body) % 8:
            body.append(0)
        placed[key] = (len(body), len(blob))
        body.extend(blob)
    secs = [(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    t_off, t_size = placed["text"]
    secs.append((sname(".text"), 1, 0x6, TEXT_VADDR, t_off, t_size, 0, 0, 16, 0))
    n_off, n_size = placed["note"]
    secs.append((sname(".note.gnu.build-id"), 7, 0x2, 0, n_off, n_size, 0, 0, 4, 0))
    s_off, s_size = placed["symtab"]
    secs.append((sname(symtab_name), 2 if symtab_name == ".symtab" else 11, 0, 0, s_off, s_size, 4, 1, 8, 24))
    st_off, st_size = placed["strtab"]
    secs.append((sname(".strtab"), 3, 0, 0, st_off, st_size, 0, 0, 1, 0))
    l_off, l_size = placed["link"]
    secs.append((sname(".gnu_debuglink" if debuglink else ".comment"), 1, 0, 0, l_off, l_size, 0, 0, 4, 0))
    shstrndx = len(secs)
    secs.append((sname(".shstrtab"), 3, 0, 0, 0, 0, 0, 0, 1, 0))
    sh_off_str = len(body)
    body.extend(shstr)
    secs[-1] = secs[-1][:4] + (sh_off_str, len(shstr)) + secs[-1][6:]
    while len(body) % 8:
        body.append(0)
    shoff = len(body)
    for s in secs:
        body.extend(SHDR.pack(*s))
    phdrs = PHDR.pack(1,                 # p_type PT_LOAD
                      5,                 # p_flags R+X
                      TEXT_OFFSET,       # p_offset
                      TEXT_VADDR,        # p_vaddr
                      TEXT_VADDR,        # p_paddr
                      t_size,            # p_filesz
                      t_size,            # p_memsz
                      0x1000)            # p_align
    phnum = 1
    if build_id:
        phdrs += PHDR.pack(4, 4, n_off, 0, 0, n_size, n_size, 4)   # PT_NOTE over the build-id note
        phnum += 1
    ehdr = EHDR.pack(b"\x7fELF\x02\x01\x01" + b"\0" * 9,   # e_ident: ELFCLASS64, LSB, version 1
                     e_type,                               # e_type
                     62,                                   # e_machine EM_X86_64
                     1,                                    # e_version
                     TEXT_VADDR,                           # e_entry
                     64,                                   # e_phoff (right after this header)
                     shoff,                                # e_shoff
                     0,                                    # e_flags
                     64,                                   # e_ehsize
                     56,                                   # e_phentsize
                     phnum,                                # e_phnum
                     64,                                   # e_shentsize
                     len(secs),                            # e_shnum
                     shstrndx)                             # e_shstrndx
    body[0:64] = ehdr
    body[64:64 + len(phdrs)] = phdrs
    return bytes(body)
