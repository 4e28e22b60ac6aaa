"""ELF images, symbol tables, vaddr <-> file offset, debuginfo lookup, DWARF, SDT notes, probe targets."""
