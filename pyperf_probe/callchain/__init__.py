"""Call-graph trees (graph/flat/fractal/folded) and DWARF CFI unwinding of user stacks.

DWARF unwinding (``perf record --call-graph dwarf`` samples), bottom-up:

* ``leb128``       LEB128 and DW_EH_PE pointer encodings
* ``cfi``          CIEs/FDEs of ``.eh_frame`` and ``.debug_frame``, the ``.eh_frame_hdr`` table
* ``cfa_program``  call frame instructions -> rows of x86_64 rules (CFA, rip, rbp; PLT and signal frames)
* ``cfi_table``    a DSO's FDE index and the rows of the FDEs hit, cached in-process and on disk by build-id
* ``unwind``       the pure unwinder: ``unwind(regs, read_word, lookup) -> avmas``
* ``dwarf_unwind`` the session's unwinder hook: REGS_USER + STACK_USER + maps -> perf's chain addresses

``tree`` builds the call-graph trees that ``report`` prints.
"""
