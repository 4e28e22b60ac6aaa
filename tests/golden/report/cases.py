#!/usr/bin/env python3
"""Writes cases.txt: the `perf report` option combinations the goldens cover, one `name|data|args` line each
(args come after `-i FILE --symfs SYMFS`). make_goldens.sh runs it, then real perf on every line."""
import os

S = "--stdio"
CDS = "--sort comm,dso,sym"
CASES = []


def add(name, data, args):
    CASES.append(f"{name}|{data}|{args}")


def mt_cases():
    add("mt_default", "mt.data", S)
    add("mt_no_children", "mt.data", f"{S} --no-children")
    for g in ["graph", "flat", "fractal", "folded", "none"]:
        add(f"mt_cds_{g}", "mt.data", f"{S} {CDS} -g {g}")
        add(f"mt_cds_{g}_nochildren", "mt.data", f"{S} {CDS} -g {g} --no-children")
        for order in ["caller", "callee"]:
            add(f"mt_cds_{g}_{order}", "mt.data", f"{S} {CDS} -g {g},0.5,{order}")
            add(f"mt_cds_{g}_{order}_nochildren", "mt.data", f"{S} {CDS} -g {g},0.5,{order} --no-children")
    add("mt_cds_G", "mt.data", f"{S} {CDS} -G")
    add("mt_cds_G_nochildren", "mt.data", f"{S} {CDS} -G --no-children")
    add("mt_cds_G_flat_nochildren", "mt.data", f"{S} {CDS} -G -g flat --no-children")
    add("mt_cds_G_fractal_nochildren", "mt.data", f"{S} {CDS} -G -g fractal --no-children")
    add("mt_graph_thresh10", "mt.data", f"{S} {CDS} -g graph,10 --no-children")
    add("mt_graph_thresh10_children", "mt.data", f"{S} {CDS} -g graph,10")
    add("mt_graph_limit2", "mt.data", f"{S} {CDS} -g graph,0.5,2 --no-children")
    add("mt_fractal_30", "mt.data", f"{S} {CDS} -g fractal,30 --no-children")
    add("mt_fractal_5_1", "mt.data", f"{S} {CDS} -g fractal,5,1")
    add("mt_fractal_limit2_callee", "mt.data", f"{S} {CDS} -g fractal,0.5,2,callee")
    add("mt_flat_5", "mt.data", f"{S} {CDS} -g flat,5 --no-children")
    add("mt_flat_limit2", "mt.data", f"{S} {CDS} -g flat,0,2")
    add("mt_folded_1_caller", "mt.data", f"{S} {CDS} -g folded,1,caller --no-children")
    add("mt_folded_limit3", "mt.data", f"{S} {CDS} -g folded,0.5,3")
    add("mt_value_period", "mt.data", f"{S} {CDS} -g graph,0.5,callee,function,period")
    add("mt_value_count_nochildren", "mt.data", f"{S} {CDS} -g graph,0.5,caller,function,count --no-children")
    add("mt_value_count_flat", "mt.data", f"{S} {CDS} -g flat,0.5,callee,function,count --no-children")
    for key in ["comm", "dso", "sym", "pid", "trace", "dso,comm", "sym,comm", "pid,sym", "comm,sym", "dso,sym",
                "trace,comm", "comm,pid"]:
        slug = key.replace(",", "_")
        add(f"mt_sort_{slug}", "mt.data", f"{S} --sort {key}")
        add(f"mt_sort_{slug}_nochildren", "mt.data", f"{S} --sort {key} --no-children")
    add("mt_sort_sym_caller_nochildren", "mt.data", f"{S} --sort sym -g caller --no-children")
    add("mt_sort_sym_flat", "mt.data", f"{S} --sort sym -g flat")
    add("mt_n", "mt.data", f"{S} {CDS} -n")
    add("mt_n_nochildren", "mt.data", f"{S} {CDS} -n --no-children")
    add("mt_n_flat_nochildren", "mt.data", f"{S} {CDS} -n -g flat --no-children")
    add("mt_n_sort_pid", "mt.data", f"{S} --sort pid -n")
    add("mt_percent_limit5", "mt.data", f"{S} {CDS} --percent-limit 5")
    add("mt_percent_limit20_nochildren", "mt.data", f"{S} {CDS} --percent-limit 20 --no-children")
    add("mt_percent_limit10_flat", "mt.data", f"{S} {CDS} --percent-limit 10 -g flat --no-children")
    add("mt_percent_limit30_folded", "mt.data", f"{S} {CDS} --percent-limit 30 -g folded")
    add("mt_q", "mt.data", f"{S} {CDS} -q")
    add("mt_q_nochildren_flat", "mt.data", f"{S} {CDS} -q --no-children -g flat")
    add("mt_header", "mt.data", f"{S} --header")
    add("mt_header_only", "mt.data", f"{S} --header-only")
    add("mt_header_nochildren_none", "mt.data", f"{S} --header --no-children -g none")
    add("mt_comm", "mt.data", f"{S} {CDS} --comm rpt-beta,rpt-gamma")
    add("mt_comm_nochildren", "mt.data", f"{S} {CDS} --comm rpt-beta --no-children")
    add("mt_dso", "mt.data", f"{S} {CDS} --dso libc.so.6")
    add("mt_dso_nochildren", "mt.data", f"{S} {CDS} --dso report_mt --no-children")
    add("mt_symbols", "mt.data", f"{S} {CDS} --symbols path_alpha,rpt_mid")
    add("mt_symbols_nochildren", "mt.data", f"{S} {CDS} --symbols rpt_leaf --no-children")
    add("mt_comm_dso_all_elided", "mt.data", f"{S} --sort comm,dso --comm rpt-beta --dso report_mt")
    add("mt_no_inline", "mt.data", f"{S} {CDS} --no-inline")
    add("mt_no_inline_nochildren", "mt.data", f"{S} {CDS} --no-inline --no-children -g flat")
    add("mt_force", "mt.data", f"{S} {CDS} -f --no-children")


def other_cases():
    for base, data in [("cxx", "cxx.data"), ("ret", "ret.data"), ("two", "two.data"), ("make", "make.data"),
                       ("py", "py.data")]:
        add(f"{base}_default", data, S)
        add(f"{base}_no_children", data, f"{S} --no-children")
        add(f"{base}_cds", data, f"{S} {CDS}")
        add(f"{base}_cds_nochildren", data, f"{S} {CDS} --no-children")
        add(f"{base}_cds_flat_nochildren", data, f"{S} {CDS} -g flat --no-children")
        add(f"{base}_cds_folded", data, f"{S} {CDS} -g folded")
        add(f"{base}_cds_fractal", data, f"{S} {CDS} -g fractal --no-children")
        add(f"{base}_sort_dso_sym", data, f"{S} --sort dso,sym")
        add(f"{base}_sort_sym_nochildren", data, f"{S} --sort sym --no-children")
    add("cxx_fractal_2_dso_sym", "cxx.data", f"{S} --sort dso,sym -g fractal,2")
    add("cxx_folded_caller_nochildren", "cxx.data", f"{S} {CDS} -g folded,0,caller --no-children")
    add("ret_trace_nochildren", "ret.data", f"{S} --sort trace --no-children")
    add("ret_fractal_5", "ret.data", f"{S} {CDS} -g fractal,5")
    add("two_q", "two.data", f"{S} {CDS} -q --no-children")
    add("two_header_only", "two.data", f"{S} --header-only")
    add("two_n", "two.data", f"{S} {CDS} -n")
    add("two_comm", "two.data", f"{S} {CDS} --comm rpt-beta")
    add("two_percent_limit20", "two.data", f"{S} {CDS} --percent-limit 20")
    add("make_sort_comm", "make.data", f"{S} --sort comm")
    add("make_sort_dso", "make.data", f"{S} --sort dso --no-children")
    add("make_sort_pid", "make.data", f"{S} --sort pid")
    add("make_g_none", "make.data", f"{S} {CDS} -g none")
    add("make_comm_cc1", "make.data", f"{S} {CDS} --comm cc1 --no-children")
    add("make_dso_libc_nochildren", "make.data", f"{S} {CDS} --dso libc.so.6 --no-children")
    add("make_q_folded_nochildren", "make.data", f"{S} {CDS} -q -g folded --no-children")
    add("make_percent_limit1", "make.data", f"{S} {CDS} --percent-limit 1")
    add("py_sort_pid_none", "py.data", f"{S} --sort pid -g none")
    add("nocg_default", "nocg.data", S)
    add("nocg_no_children", "nocg.data", f"{S} --no-children")
    add("nocg_cds", "nocg.data", f"{S} {CDS}")
    add("nocg_children", "nocg.data", f"{S} {CDS} --children")
    add("nocg_g_graph", "nocg.data", f"{S} {CDS} -g graph")
    add("nocg_n", "nocg.data", f"{S} {CDS} -n")
    add("nocg_sort_pid", "nocg.data", f"{S} --sort pid")
    add("nocg_q", "nocg.data", f"{S} {CDS} -q")
    add("nocg_header_only", "nocg.data", f"{S} --header-only")


def lost_cases():
    add("lost_default", "lost.data", S)
    add("lost_cds_nochildren", "lost.data", f"{S} {CDS} --no-children -g flat")
    add("lost_q", "lost.data", f"{S} {CDS} -q")


def found_by_random_runs():
    """Combinations a random differential run against perf once got wrong (kept as regressions)."""
    add("mt_G_wins_over_callee", "mt.data", f"{S} --sort dso,sym -g graph,callee -G -n")
    add("ret_G_wins_over_callee_fractal", "ret.data", f"{S} --sort trace -g fractal,callee --no-children -G -n")
    add("make_trace_sym_fractal25", "make.data", f"{S} --sort trace,sym -g fractal,25")
    add("make_sym_pid_dso_graph", "make.data", f"{S} --sort sym,pid,dso -g graph,0.5,2,caller")
    add("lost_pid_comm_folded", "lost.data", f"{S} --sort pid,comm -g folded,1,callee")
    add("make_fractal_count_remainder", "make.data", f"{S} --sort pid,comm -g fractal,function,count")
    add("ret_trace_comm_filter_merges", "ret.data", f"{S} --sort trace -g none,callee --comm rpt-alpha")
    add("nocg_g_with_elided_dso", "nocg.data", f"{S} --sort dso,comm -g graph --dso [unknown]")
    add("nocg_q_elided_comm", "nocg.data", f"{S} --sort comm --no-children --comm rpt-alpha -q")
    add("lost_elided_last_dso_pads_sym", "lost.data", f"{S} --sort sym,dso -g flat,1,1,caller -n --dso report_mt")
    add("mt_elided_sym_not_in_order", "mt.data", f"{S} --sort sym,pid,dso -g none,caller --symbols rpt_leaf")
    add("mt_q_drops_header_only", "mt.data", f"{S} --header-only -q")
    add("make_q_drops_header", "make.data", f"{S} --sort comm,dso -g folded,1,1 -n -q --header")
    add("two_fractal_count_limit_G", "two.data", f"{S} --sort sym,dso -g fractal,25,2,callee,function,count -G")


def error_cases():
    add("err_missing", "none", S)
    add("err_empty", "empty.data", S)
    add("err_not_perf", "notperf.data", S)
    add("err_no_samples", "nosamples.data", S)
    add("err_not_owned", "notowned.data", S)
    add("notowned_force", "notowned.data", f"{S} -f --no-children")


def main() -> None:
    mt_cases()
    other_cases()
    lost_cases()
    found_by_random_runs()
    error_cases()
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "cases.txt"), "w") as f:
        f.write("# name|input file in data/ (none = missing)|perf report arguments (after -i FILE --symfs SYMFS)\n")
        f.write("\n".join(CASES) + "\n")
    print(len(CASES))


if __name__ == "__main__":
    main()
