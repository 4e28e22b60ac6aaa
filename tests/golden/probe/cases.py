"""The ``perf probe`` invocations whose output pyperf must reproduce (tests/test_probe_golden.py), and
the ones make_goldens.py ran against real perf 6.1 to write expected/.

Placeholders: ``@W@`` is build/workloads of this checkout, ``@S@`` its workloads/ sources, ``@T@`` the scratch directory of the live
add/list/delete sequences (a copy of probe_prog_nodbg under a name no other test uses). Real perf's outputs
keep the placeholders in place of those paths.
"""
import os

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBSTDCXX = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30"
PYTHON = "/usr/bin/python3.11"          # large, stripped (.dynsym only), not PIE
O0, O2 = "@W@/probe_prog_O0", "@W@/probe_prog_O2"
NODBG, STRIPPED, CXX = "@W@/probe_prog_nodbg", "@W@/probe_prog_stripped", "@W@/probe_cxx"
# gcc -flto: every body in the "<artificial>" unit, named through DW_AT_abstract_origin into other units
LTO_O2, LTO_O0 = "@W@/lto_prog_O2", "@W@/lto_prog_O0"
LIVE_DIR = "/tmp/pyperf_t_probe_golden"
LIVE = "@T@/pyperf_t_probe_gold"        # group probe_pyperf_t_probe_gold

# name -> argv after "perf probe"; every -D definition counts towards the >= 40 of the issue
DEFINITIONS = {
    # libc: symbols from the libc6-dbg .symtab, DWARF from libc6-dbg, aliases, IFUNCs, versions
    "libc_malloc": ["-x", LIBC, "-D", "malloc"],
    "libc_free": ["-x", LIBC, "-D", "free"],
    "libc_malloc_return": ["-x", LIBC, "-D", "malloc%return"],
    "libc_malloc_retval": ["-x", LIBC, "-D", "malloc%return $retval"],
    "libc_calloc_regs": ["-x", LIBC, "-D", "calloc %di %si:u64"],
    "libc_named": ["-x", LIBC, "-D", "mygrp:myev=realloc"],
    "libc_event_only": ["-x", LIBC, "-D", "allocs=malloc"],
    "libc_memcpy_ifunc": ["-x", LIBC, "-D", "memcpy"],
    "libc_strlen_ifunc": ["-x", LIBC, "-D", "strlen"],
    "libc_abs": ["-x", LIBC, "-D", "0x98930"],
    "libc_two": ["-x", LIBC, "-D", "fopen", "-D", "fclose%return"],
    "libc_sysmalloc_return": ["-x", LIBC, "-D", "sysmalloc%return"],
    "libc_nosuch": ["-x", LIBC, "-D", "no_such_function_xyz"],
    "libc_offset_too_big": ["-x", LIBC, "-D", "malloc+100000"],
    "libc_stack_arg": ["-x", LIBC, "-D", "puts+0 $stack1 +0(%di):string"],
    # libstdc++ (no debug info installed): demangled symbol names
    "cxxlib_throw_named": ["-x", LIBSTDCXX, "-D", "thr=std\\:\\:__throw_bad_alloc"],
    "cxxlib_throw_unnamed": ["-x", LIBSTDCXX, "-D", "std\\:\\:__throw_bad_alloc"],
    "cxxlib_mangled": ["-x", LIBSTDCXX, "-D", "_ZSt17__throw_bad_allocv"],
    "cxxlib_return": ["-x", LIBSTDCXX, "-D", "tl=std\\:\\:terminate%return"],
    # a large stripped system binary (.dynsym only, not PIE: file offset != address)
    "python_malloc": ["-x", PYTHON, "-D", "PyObject_Malloc"],
    "python_append_return": ["-x", PYTHON, "-D", "PyList_Append%return $retval"],
    "python_setitem_off": ["-x", PYTHON, "-D", "PyDict_SetItem+10"],
    "python_init_args": ["-x", PYTHON, "-D", "py:init=Py_Initialize %di"],
    "python_nosuch": ["-x", PYTHON, "-D", "nosuch_py_function"],
    "python_needs_dwarf": ["-x", PYTHON, "-D", "PyList_Append list"],
    # the bundled C program without debug info
    "nodbg_leaf": ["-x", NODBG, "-D", "leaf"],
    "nodbg_leaf_return": ["-x", NODBG, "-D", "leaf%return"],
    "nodbg_glob": ["-x", NODBG, "-D", "mid_*"],
    "nodbg_regs": ["-x", NODBG, "-D", "mid_b %di +0(%si):string"],
    "nodbg_named_types": ["-x", NODBG, "-D", "take_string txt=+0(%di):string len=%si:u64"],
    "nodbg_object": ["-x", NODBG, "-D", "probe_counter"],
    "nodbg_inline_only": ["-x", NODBG, "-D", "clamp_add"],
    "nodbg_c_var": ["-x", NODBG, "-D", "leaf n"],
    "nodbg_line": ["-x", NODBG, "-D", "leaf:2"],
    "nodbg_big_offset": ["-x", NODBG, "-D", "leaf+100"],
    "nodbg_abs": ["-x", NODBG, "-D", "0x12a0"],
    "nodbg_plt": ["-x", NODBG, "-D", "strlen@plt"],
    "stripped_leaf": ["-x", STRIPPED, "-D", "leaf"],
    # the bundled C program with debug info, -O0 and -O2
    "O0_leaf": ["-x", O0, "-D", "leaf"],
    "O0_leaf_return": ["-x", O0, "-D", "leaf%return"],
    "O0_leaf_n": ["-x", O0, "-D", "leaf n"],
    "O0_params": ["-x", O0, "-D", "mid_a $params"],
    "O0_mid_b": ["-x", O0, "-D", "mid_b tag"],
    "O0_main": ["-x", O0, "-D", "main"],
    "O0_glob": ["-x", O0, "-D", "mid_*"],
    "O0_regs": ["-x", O0, "-D", "leaf %di"],
    "O2_leaf": ["-x", O2, "-D", "leaf"],
    "O2_leaf_n": ["-x", O2, "-D", "leaf n"],
    "O2_inline": ["-x", O2, "-D", "clamp_add"],
    "O2_string": ["-x", O2, "-D", "take_string text:string len"],
    "O2_mid_b_tag": ["-x", O2, "-D", "mid_b tag"],
    "O2_unknown_var": ["-x", O2, "-D", "leaf nosuchvar"],
    "O2_nosuch": ["-x", O2, "-D", "nosuchfunc"],
    "O2_params": ["-x", O2, "-D", "mid_b $params"],
    "O2_offset": ["-x", O2, "-D", "leaf+7"],
    # line and lazy-pattern probes (DWARF line tables)
    "O0_line_rel": ["-x", O0, "-D", "sum_array:2"],
    "O0_line_abs": ["-x", O0, "-D", "probe_prog.c:30"],
    "O0_lazy": ["-x", O0, "-D", "mid_b;strlen"],
    "O0_line_var": ["-x", O0, "-D", "leaf:2 n"],
    "O0_line_shared": ["-x", O0, "-D", "mid_a:1"],
    "O0_line_two_sites": ["-x", O0, "-D", "take_string:2 len"],
    "O0_line_main": ["-x", O0, "-D", "main:5"],
    "O0_line_abs_var": ["-x", O0, "-D", "probe_prog.c:30 n"],
    "O0_lazy_file": ["-x", O0, "-D", "probe_prog.c;probe_counter"],
    "O2_line_missing": ["-x", O2, "-D", "sum_array:2"],
    "O2_lazy": ["-x", O2, "-D", "mid_b;strlen"],
    "O2_line_shared": ["-x", O2, "-D", "main:5"],
    "O2_line_abs_var": ["-x", O2, "-D", "probe_prog.c:30 n"],
    # the bundled C++ program
    "cxx_plain": ["-x", CXX, "-D", "plain_function"],
    "cxx_mangled": ["-x", CXX, "-D", "_ZN6shapes8describeEi"],
    "cxx_named_glob": ["-x", CXX, "-D", "ev=*describe*"],
    "cxx_area": ["-x", CXX, "-D", "a=_ZNK6shapes6Circle4areaEv%return"],
    # LTO: functions defined only in the link-time unit (global and static in the sources, all local after
    # LTO, some renamed .constprop/.isra in the symbol table)
    "lto_O2_global": ["-x", LTO_O2, "-D", "lto_scale"],
    "lto_O2_static": ["-x", LTO_O2, "-D", "lto_clip"],
    "lto_O2_main": ["-x", LTO_O2, "-D", "main"],
    "lto_O2_arg": ["-x", LTO_O2, "-D", "lto_driver iters"],
    "lto_O2_params": ["-x", LTO_O2, "-D", "lto_step $params"],
    "lto_O2_optimized_out": ["-x", LTO_O2, "-D", "lto_scale value factor scaled"],
    "lto_O2_return": ["-x", LTO_O2, "-D", "lto_driver%return $retval"],
    "lto_O2_return_constprop": ["-x", LTO_O2, "-D", "lto_sum%return $retval"],
    "lto_O2_glob": ["-x", LTO_O2, "-D", "lto_s*"],
    "lto_O2_file": ["-x", LTO_O2, "-D", "lto_span@lto_util.c"],
    "lto_O2_line_missing": ["-x", LTO_O2, "-D", "lto_sum:2"],
    "lto_O2_inlined_elsewhere": ["-x", LTO_O2, "-D", "atoi"],
    "lto_O0_args": ["-x", LTO_O0, "-D", "lto_scale value factor scaled"],
    "lto_O0_string": ["-x", LTO_O0, "-D", "lto_step why:string"],
    "lto_O0_field": ["-x", LTO_O0, "-D", "lto_span pair->hi"],
    "lto_O0_return": ["-x", LTO_O0, "-D", "lto_sum%return $retval"],
    "lto_O0_line": ["-x", LTO_O0, "-D", "lto_sum:2"],
    "lto_O0_line_var": ["-x", LTO_O0, "-D", "lto_step:2 twice"],
    "lto_O0_line_abs": ["-x", LTO_O0, "-D", "lto_util.c:23"],
    "lto_O0_lazy": ["-x", LTO_O0, "-D", "lto_sum;total"],
    "lto_O0_glob": ["-x", LTO_O0, "-D", "lto_s*"],
}

FUNCS = {
    "F_libc_default": ["-x", LIBC, "-F"],
    "F_libc_mem": ["-x", LIBC, "-F", "mem*"],
    "F_libc_alloc_noplt": ["-x", LIBC, "--funcs=*alloc* & !_*"],
    "F_libc_plt": ["-x", LIBC, "-F*@plt"],
    "F_libc_unloaded": ["-x", LIBC, "-F", "__evoke_link_warning_*|*inet6_option*"],   # .gnu.warning.*: no SHF_ALLOC
    "F_libc_or": ["-x", LIBC, "-F", "--filter", "__libc_m*"],
    "F_libc_class": ["-x", LIBC, "-F", "[st]ime*|!*[a-z]*"],
    "F_libc_paren": ["-x", LIBC, "-F", "!(str*|mem*)&[a-c]?t*"],
    "F_cxxlib_default": ["-x", LIBSTDCXX, "-F"],
    "F_cxxlib_std": ["-x", LIBSTDCXX, "-F", "std::__throw*"],
    "F_python_default": ["-x", PYTHON, "-F"],
    "F_python_py": ["-x", PYTHON, "-F", "PyList_*"],
    "F_O2_default": ["-x", O2, "-F"],
    "F_O0_all": ["-x", O0, "-F", "*"],
    "F_nodbg_plt": ["-x", NODBG, "-F", "*@plt|leaf"],
    "F_cxx_default": ["-x", CXX, "-F"],
    "F_cxx_shapes": ["-x", CXX, "-F", "shapes*"],
    "F_stripped": ["-x", STRIPPED, "-F"],
    "F_filter_error": ["-x", LIBC, "-F", "--filter", "a b"],
    "F_lto_O2_default": ["-x", LTO_O2, "-F"],
}

VARS_LINES = {
    "V_O0_leaf": ["-x", O0, "-V", "leaf"],
    "V_O2_mid_b": ["-x", O2, "-V", "mid_b"],
    "V_O2_inline": ["-x", O2, "-V", "clamp_add"],
    "V_O0_externs": ["-x", O0, "-V", "leaf", "--externs"],
    "V_O0_filter": ["-x", O0, "--filter", "t*", "-V", "take_string"],
    "V_libc_malloc": ["-x", LIBC, "-V", "malloc"],
    "V_nodbg": ["-x", NODBG, "-V", "leaf"],
    "V_nosuch": ["-x", O0, "-V", "nosuch"],
    "L_O0_leaf": ["-x", O0, "-L", "leaf"],
    "L_O2_mid_b": ["-x", O2, "-L", "mid_b"],
    "L_O0_range": ["-x", O0, "-L", "probe_prog.c:25-30"],
    "V_lto_O2_scale": ["-x", LTO_O2, "-V", "lto_scale"],
    "V_lto_O2_driver_externs": ["-x", LTO_O2, "-V", "lto_driver", "--externs"],
    "V_lto_O0_sum_range": ["-x", LTO_O0, "-V", "lto_sum", "--range"],
    "V_lto_O0_line": ["-x", LTO_O0, "-V", "lto_driver:8"],
    "L_lto_O2_scale": ["-x", LTO_O2, "-L", "lto_scale"],
    "L_lto_O0_driver": ["-x", LTO_O0, "-L", "lto_driver"],
    "L_lto_O2_file": ["-x", LTO_O2, "-L", "lto_util.c"],
    "L_lto_O2_range": ["-x", LTO_O2, "-L", "lto_main.c:10-20"],
}

ERRORS = {
    "err_no_args": [],
    "err_unknown_switch": ["-Q"],
    "err_two_commands": ["-d", "x", "-l"],
    "err_add_and_def": ["-a", "leaf", "-D", "mid", "-x", NODBG],
    "err_no_file": ["-x", "@W@/no_such_file", "leaf"],
    "err_positional_after_cmd": ["-x", NODBG, "-D", "leaf", "mid_a"],
    "err_parse_positional": ["-x", NODBG, "leaf+x"],
    "err_parse_option": ["-x", NODBG, "-a", "leaf+x"],
    "err_exec_last": ["-D", "leaf", "-x", NODBG],
    "err_list_exec": ["-l", "-x", NODBG],
    "err_max_probes": ["--max-probes", "x"],
    "err_return_offset": ["-x", NODBG, "-D", "leaf+4%return"],
    "err_src_src": ["-x", NODBG, "-D", "a@b@c"],
    "err_bad_event": ["-x", NODBG, "-D", "1x=leaf"],
    "err_bad_group": ["-x", NODBG, "-D", "g-1:e=leaf"],
    "err_percent": ["-x", NODBG, "-D", "leaf%entry"],
    "err_local_var_return": ["-x", NODBG, "-D", "leaf%return n"],
    "err_line_offset": ["-x", NODBG, "-D", "leaf:3+4"],
    "err_quiet": ["-q", "-x", NODBG, "-D", "nosuch"],
    "err_quiet_verbose": ["-q", "-v", "-x", NODBG, "-D", "leaf"],
    "err_del_nothing": ["-d", "pyperf_t_probe_nothing_here:*"],
    "err_del_two_filters": ["-d", "pyperf_t_probe_nothing_here:a", "-d", "pyperf_t_nothing:b*|c"],
    "err_file_without_line": ["-x", NODBG, "-D", "probe_prog.c"],
    "err_too_many": ["-x", NODBG, "--max-probes", "1", "-D", "mid_*"],
}

# live sequences on the copy at @T@ (each step: argv); the last step removes everything they added.
# Every filter names the group: other areas' tests run at the same time and may have events called leaf.
SEQUENCES = {
    "seq_add_list_del": [
        ["-x", LIVE, "leaf"],
        ["-x", LIVE, "leaf"],
        ["-f", "-x", LIVE, "leaf"],
        ["-x", LIVE, "-a", "leaf%return", "-a", "mid_a %di +0(%si):string"],
        ["-n", "-x", LIVE, "named=mid_b"],
        ["-l", "probe_pyperf_t_probe_gold:*"],
        ["-l", "probe_pyperf_t_probe_gold:leaf*"],
        ["-d", "probe_pyperf_t_probe_gold:leaf*", "-d", "probe_pyperf_t_probe_gold:mid_a"],
        ["-l", "probe_pyperf_t_probe_gold:*"],
        ["-d", "probe_pyperf_t_probe_gold:*"],
        ["-d", "probe_pyperf_t_probe_gold:*"],
    ],
    "seq_list_dwarf": [
        ["-x", LIBC, "-a", "pyperf_t_gold_l:m=malloc", "-a", "pyperf_t_gold_l:f=free%return $retval"],
        ["-x", O0, "-a", "pyperf_t_gold_l:leaf0=leaf n", "-a", "pyperf_t_gold_l:line0=sum_array:2",
         "-a", "pyperf_t_gold_l:mb=mid_b tag:string"],
        ["-x", O2, "-a", "pyperf_t_gold_l:inl=clamp_add", "-a", "pyperf_t_gold_l:ts=take_string text:string len"],
        ["-x", NODBG, "-a", "pyperf_t_gold_l:off=mid_a+3", "-a", "pyperf_t_gold_l:abs=0x12a0"],
        ["-l", "pyperf_t_gold_l:*"],
        ["-d", "pyperf_t_gold_l:*"],
    ],
    "seq_groups": [
        ["-x", LIVE, "-a", "pyperf_t_gold_g:one=leaf", "-a", "pyperf_t_gold_g:two=mid_a+0 $stack1"],
        ["-l", "pyperf_t_gold_g:*"],
        ["-x", LIVE, "pyperf_t_gold_g:one=mid_b"],
        ["-d", "pyperf_t_gold_g:one", "-d", "pyperf_t_gold_g:two"],
    ],
    "seq_lto": [
        ["-x", LTO_O2, "-a", "pyperf_t_gold_lto:scale=lto_scale value factor",
         "-a", "pyperf_t_gold_lto:step=lto_step $params", "-a", "pyperf_t_gold_lto:drvr=lto_driver%return $retval",
         "-a", "pyperf_t_gold_lto:clip=lto_clip+7"],
        ["-x", LTO_O0, "-a", "pyperf_t_gold_lto:drv=lto_driver iters",
         "-a", "pyperf_t_gold_lto:sumr=lto_sum%return $retval", "-a", "pyperf_t_gold_lto:line=lto_sum:2",
         "-a", "pyperf_t_gold_lto:span=lto_span pair->hi", "-a", "pyperf_t_gold_lto:lz=lto_sum;total"],
        ["-x", LTO_O2, "pyperf_t_gold_lto:main=main"],
        ["-l", "pyperf_t_gold_lto:*"],
        ["-d", "pyperf_t_gold_lto:s*", "-d", "pyperf_t_gold_lto:main"],
        ["-l", "pyperf_t_gold_lto:*"],
        ["-d", "pyperf_t_gold_lto:*"],
    ],
}

# every group the sequences add probes to: removed at the end of make_goldens.py and of each live test
GROUPS = ("probe_pyperf_t_probe_gold", "pyperf_t_gold_g", "pyperf_t_gold_l", "pyperf_t_gold_lto")

# Where pyperf deliberately does not copy perf. perf -l reuses one perf_probe_point for every listed probe
# and never resets its offset/line (probe-event.c __show_perf_probe_events: clear_perf_probe_event frees the
# strings only), so a probe listed after an offset-based one shows that stale offset: take_string+3 for a
# probe at take_string's entry, free+3 for a return probe. pyperf shows where the probe really is; the test
# applies these corrections to perf's recorded text (the files in expected/ stay as perf wrote them).
PERF_BUG_CORRECTIONS = {
    "seq_list_dwarf.4": [("take_string+3@", "take_string@"), ("__GI___libc_free+3@", "__GI___libc_free%return@")],
}


# --- placeholders for this checkout's paths (shared by make_goldens.py and tests/test_probe_golden.py) ---
_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
W = os.path.join(_ROOT, "build", "workloads")
S = os.path.join(_ROOT, "workloads")          # the sources, as -L shows them


def expand(argv, t_dir):
    return [a.replace("@W@", W).replace("@T@", t_dir) for a in argv]


def cut30(path):
    """perf's ``synthesize_perf_probe_point``: a file longer than 30 characters is shown from the first
    '/' in its last 30 characters."""
    if len(path) <= 30:
        return path
    i = path.find("/", len(path) - 30)
    return path[i + 1:] if i >= 0 else path[len(path) - 30:]


def normalize(text, t_dir):
    """Paths of this checkout -> placeholders (-l shows sources cut to 30 characters: @S30@)."""
    for fname in sorted(os.listdir(S)):
        text = text.replace(f"@{cut30(os.path.join(S, fname))} ", f"@@S30@/{fname} ")
    return text.replace(W, "@W@").replace(S, "@S@").replace(t_dir, "@T@")
