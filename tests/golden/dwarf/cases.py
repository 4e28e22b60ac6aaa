"""The perf probe -D / -V / -L queries and addr2line lookups whose answers symbols/dwarf.py must reproduce
(tests/test_dwarf_golden.py); make_goldens.py ran them against real perf 6.1 and binutils 2.40 to write
expected/. ``@W@`` stands for build/workloads of this checkout, ``@S@`` for workloads/ (the sources).

libc cases depend on the exact libc6 / libc6-dbg build: LIBC_BUILD_ID records the one they were made with,
and the test skips them on another build.
"""
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBC_BUILD_ID = "93ac61ec5a8eb1396f9fbd350e3169a558528a40"
O0, O2, CXX = "@W@/dwarf_demo_O0", "@W@/dwarf_demo_O2", "@W@/probe_cxx"

# perf probe -x BIN -D DEF: sites, fetch arguments, and the DWARF layer's error messages
DEFINITIONS = {
    "O0_entry": (O0, "process_point"),
    "O0_params": (O0, "process_point pt scale name"),
    "O0_inline_fn_not_inlined": (O0, "clamp_add a b limit sum"),
    "O0_struct_ptr": (O0, "struct_sum p"),
    "O0_types": (O0, "mix_numbers n c f tag"),
    "O0_fields_strings": (O0, "process_point pt->x pt->label:string name:string"),
    "O0_dollar_params": (O0, "process_point $params"),
    "O0_char_ptr_string": (O0, "count_chars text:string wanted"),
    "O0_globals": (O0, "process_point total_calls global_scale"),
    "O0_local": (O0, "process_point acc"),
    "O0_bitfield": (O0, "process_point pt->flags"),
    "O0_array_member": (O0, "process_point pt->weights"),
    "O0_array_index": (O0, "process_point pt->weights[2]"),
    "O0_pointer_index": (O0, "process_point pt->label[1]"),
    "O0_dot_on_pointer": (O0, "process_point pt.x"),
    "O0_no_member": (O0, "process_point pt->nope"),
    "O0_not_struct": (O0, "process_point scale->x"),
    "O0_no_var": (O0, "process_point nosuch"),
    "O0_string_of_int": (O0, "process_point scale:string"),
    "O0_local_array": (O0, "main pts"),
    "O0_array_of_structs": (O0, "main pts[1].y"),
    "O0_argv_string": (O0, "main argv[0]:string"),
    "O0_union_member": (O0, "mix_numbers n.as_long"),
    "O0_ustring": (O0, "process_point name:ustring"),
    "O0_cast_x": (O0, "process_point scale:x"),
    "O0_cast_u16": (O0, "process_point scale:u16"),
    "O0_out_of_scope": (O0, "main num"),
    "O0_line": (O0, "process_point:6"),
    "O0_line_loop": (O0, "fill_points:6"),
    "O0_src_line": (O0, "dwarf_demo.c:54"),
    "O0_blank_line": (O0, "clamp_add:3"),
    "O0_lazy": (O0, "clamp_add;if*"),
    "O0_src_lazy": (O0, "dwarf_demo.c;*total_calls*"),
    "O2_entry": (O2, "process_point"),
    "O2_regs": (O2, "process_point pt scale name"),
    "O2_inlined": (O2, "clamp_add"),
    "O2_entry_value": (O2, "clamp_add a"),
    "O2_fill_empty": (O2, "struct_sum p"),
    "O2_xmm": (O2, "mix_numbers n c f tag"),
    "O2_enum_reg": (O2, "mix_numbers c"),
    "O2_fields": (O2, "process_point pt->x pt->label:string name:string"),
    "O2_params_inline": (O2, "clamp_add $params"),
    "O2_params": (O2, "fill_points $params"),
    "O2_globals": (O2, "process_point total_calls global_scale"),
    "O2_optimized_out": (O2, "process_point acc"),
    "O2_stack_array": (O2, "main pts[1].y"),
    "O2_struct_in_reg": (O2, "mix_numbers n.as_long"),
    "O2_shared_line": (O2, "process_point:2"),
    "O2_line": (O2, "process_point:6"),
    "O2_src_shared_line": (O2, "dwarf_demo.c:60"),
    "O2_lazy_inlined": (O2, "clamp_add;if*"),
    "O2_odd_suggestion": (O2, "struct_sum:4"),
    "cxx_method": (CXX, "scale this"),
    "cxx_overload_first": (CXX, "describe"),
    "cxx_linkage_name": (CXX, "_ZN6shapes8describeEi"),
    "cxx_inline_ctor": (CXX, "Circle"),
    "cxx_plain_arg": (CXX, "plain_function x"),
    "libc_inline_copies": (LIBC, "tcache_get"),
    "libc_inline_at_entries": (LIBC, "checked_request2size"),
    "libc_regs": (LIBC, "_int_malloc av bytes"),
    "libc_free_mem": (LIBC, "__libc_free mem"),
    "libc_sysmalloc": (LIBC, "sysmalloc nb av"),
    "libc_static_fn": (LIBC, "malloc_consolidate av"),
    "libc_unsupported": (LIBC, "tcache_get tc_idx"),
    "libc_ranges_only_fn": (LIBC, "_IO_fwrite"),
    "libc_params": (LIBC, "__qsort_r $params"),
    "libc_field": (LIBC, "_int_malloc av->top"),
    "libc_empty_first_range": (LIBC, "futex_wake"),
    "libc_glob": (LIBC, "tcache_*"),
    "O2_short_glob": (O2, "c*"),
    "prog_const_value_param": ("@W@/probe_prog_O2", "sum_array $params"),
    "dw4_inlined": ("@W@/dwarf_demo_dw4", "clamp_add"),
    "dw4_fill_empty": ("@W@/dwarf_demo_dw4", "struct_sum p"),
    "dw4_fields": ("@W@/dwarf_demo_dw4", "process_point pt->x pt->label:string name:string"),
    "dw4_cxx_method": ("@W@/dwarf_cxx_dw4", "scale this"),
    "prog_params_none_anywhere": ("@W@/probe_prog_O2", "clamp_add $params"),
    "cxx_trace_point_failure_args": (CXX, "_M_length $params"),
    "cxx_max_bitwidth_note": ("@W@/rd_cxx", "vector $params"),
    "cxx_no_instance_with_args": (CXX, "_M_max_size $params"),
}

# perf probe -x BIN -V POINT: the whole stdout
VARS = {
    "O0_" + f: (O0, f) for f in ("process_point", "clamp_add", "struct_sum", "main", "count_chars", "mix_numbers")
}
VARS.update({
    "O2_" + f: (O2, f) for f in ("process_point", "clamp_add", "struct_sum", "main", "count_chars", "mix_numbers",
                                 "fill_points")
})
VARS.update({
    "O0_offset": (O0, "process_point+10"),
    "O2_offset": (O2, "process_point+10"),
    "cxx_scale": (CXX, "scale"),
    "cxx_describe": (CXX, "describe"),
    "cxx_inline_ctor_null": (CXX, "Circle"),
    "libc_malloc_impl": (LIBC, "__libc_malloc"),
    "libc_free_unknown_type": (LIBC, "__libc_free"),
    "libc_int_malloc": (LIBC, "_int_malloc"),
    "libc_tcache_get": (LIBC, "tcache_get"),
    "libc_checked_request2size": (LIBC, "checked_request2size"),
    "libc_vscanf_bias": (LIBC, "_IO_fwrite"),
    "libc_qsort": (LIBC, "__qsort_r"),
    "libc_start_main": (LIBC, "__libc_start_main_impl"),
    "libc_futex_wake_many": (LIBC, "futex_wake"),
    "threads_unnamed_var": ("@W@/uw_threads", "uw_vla"),
    "O2_elf_alias": (O2, "pp_alias"),
    "O0_src_line": (O0, "dwarf_demo.c:60"),
    "O2_func_line": (O2, "process_point:6"),
    "O2_lazy_line": (O2, "clamp_add;if*"),
    "O0_loop_line": (O0, "fill_points:6"),
    "libc_elf_alias": (LIBC, "malloc"),
    "dw4_clamp_add": ("@W@/dwarf_demo_dw4", "clamp_add"),
    "dw4_cxx_circle": ("@W@/dwarf_cxx_dw4", "Circle"),
})

# perf probe -x BIN -V POINT OPTIONS...: --range and --externs
VARS_OPTIONS = {
    "O0_range": (O0, "main", ["--range"]),
    "O2_range": (O2, "process_point", ["--range"]),
    "O2_range_inlined": (O2, "clamp_add", ["--range"]),
    "dw4_range": ("@W@/dwarf_demo_dw4", "process_point", ["--range"]),
    "O2_range_externs": (O2, "main", ["--range", "--externs"]),
    "O2_externs": (O2, "process_point", ["--externs"]),
    "cxx_range": (CXX, "scale", ["--range"]),
    "libc_range_no_cfi": (LIBC, "tcache_get", ["--range"]),
    "libc_range_malloc": (LIBC, "_int_malloc", ["--range"]),
}

# perf probe -x BIN -L DESC: the whole stdout, or the error
LINES = {
    f"{tag}_{i}": (binary, desc)
    for tag, binary in (("O0", O0), ("O2", O2))
    for i, desc in enumerate(("process_point", "clamp_add:1-3", "process_point:2", "process_point:6",
                              "process_point:9", "dwarf_demo.c:50-55", "dwarf_demo.c:115", "main", "fill_points",
                              "struct_sum", "count_chars", "mix_numbers", "dwarf_demo.c:1-200",
                              "process_point:3+4", "process_point@dwarf_demo.c:5"))
}
LINES.update({
    "cxx_scale": (CXX, "scale"),
    "cxx_main": (CXX, "main"),
    "O0_elf_alias": (O0, "pp_alias"),
    "O2_elf_alias_range": (O2, "pp_alias:6-8"),
    "libc_elf_alias": (LIBC, "malloc"),
    "cxx_uw_main": ("@W@/uw_cxx", "main"),
    "dw4_process_point": ("@W@/dwarf_demo_dw4", "process_point"),
    "dw4_cxx_main": ("@W@/dwarf_cxx_dw4", "main"),
    "libc_no_source": (LIBC, "tcache_get"),
    "not_found": (O2, "no_such_function"),
})

# addr2line -a -i -f over these binaries, at ADDRESSES_PER_BINARY addresses spread over .text
# (a fixed pseudo-random sequence, see make_goldens.py), in that order: one process per binary, as perf runs it
INLINE_BINARIES = {"O0": O0, "O2": O2, "cxx": CXX, "report_cxx": "@W@/report_cxx", "libc": LIBC,
                   "dw4": "@W@/dwarf_demo_dw4", "cxx_dw4": "@W@/dwarf_cxx_dw4"}
ADDRESSES_PER_BINARY = 300

# perf probe -F -x BIN --filter '*': every function name as perf demangles it (tests/test_demangle.py)
FUNCS = {"cxx": CXX, "report_cxx": "@W@/report_cxx", "libstdcxx": "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"}
