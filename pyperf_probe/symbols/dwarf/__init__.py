"""DWARF (DWARF 5 standard, https://dwarfstd.org/doc/DWARF5.pdf), read as perf's probe-finder.c and srcline.c
read it through libdw and addr2line. One module per chapter of the question asked, as pyelftools lays out its
``dwarf/`` package:

* ``open``      which file holds an image's DWARF (perf's ``debuginfo__new`` order)
* ``info``      :class:`info.DwarfInfo`, the interface probe/ and session/ use
* ``units``     finding compilation units without parsing them all (7.5.1 unit headers, 7.5.3 abbrevs)
* ``unit``      one compilation unit, parsed on demand
* ``aranges``   ``.debug_aranges`` (6.1.2): address -> unit
* ``dies``      DIE accessors with libdw's semantics
* ``scan``      a fast reader of one unit's function DIEs (report's inline frames)
* ``inline``    inline frames at an address, as addr2line -i prints them
* ``funcs``     where a named function can be probed (``probe_point_search_cb``)
* ``lines``     one unit's line table (6.2) and perf's prologue skipping
* ``linewalk``  source lines for ``perf probe -L`` (``die_walk_lines``)
* ``lineprobe`` probe sites from FUNC:RLN, SRC:ALN and lazy patterns
* ``scope``     the variables in scope at a probe site
* ``vars``      C variables as uprobe fetch arguments (2.5 location expressions)
* ``cfa``       the CFA at an address, for ``DW_OP_call_frame_cfa`` frame bases (6.4)
* ``reverse``   address -> probe point (``debuginfo__find_probe_point``)

Nothing is imported here: ``pyperf probe -F`` and a warm report must not pay for the DWARF modules they
do not use.
"""
