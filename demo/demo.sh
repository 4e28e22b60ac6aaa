#!/bin/sh
# make demo: the main job on a bundled workload: probe, record, report (and the SDT workflow, the default
# cpu-clock event with kernel frames, a flame graph, tracepoint fields, argdist and --ptrace), then remove
# the probes it added, on every path (trap). A probe that already existed is used and left in place.
set -eu
cd "$(dirname "$0")/.."
PYPERF=".venv/bin/pyperf"
SDT_HOME=$(mktemp -d)     # the SDT part caches into a scratch HOME: ~/.debug is not touched
PTRACE_STATE=$(mktemp -d) # ptrace probe definitions live here, not in the user's ~/.local/state/pyperf
ADDED=""
cleanup() {
  for ev in $ADDED; do $PYPERF probe -q -d "$ev" 2>/dev/null || true; done
  XDG_STATE_HOME=$PTRACE_STATE $PYPERF probe -q -d 'pyperf_demo:*' 2>/dev/null || true
  rm -rf "$SDT_HOME" "$PTRACE_STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# add EVENT PROBE-ARGS...: add a probe unless EVENT exists; remember it for the cleanup only if added here.
add() {
  ev=$1; shift
  if [ -n "$($PYPERF probe -l "$ev")" ]; then
    echo "demo: $ev already exists: using it, and leaving it in place" >&2
    return 0
  fi
  ADDED="$ADDED $ev"
  HOME=$SDT_HOME $PYPERF probe "$@"
}
add probe_libc:malloc -x libc.so.6 malloc
$PYPERF probe -l 'probe_libc:*'
# record: rec_calls calls rec_leaf 910 times in threads and child processes; -g keeps the call chains.
add probe_rec_calls:rec_leaf -x build/workloads/rec_calls rec_leaf
$PYPERF record -e probe_rec_calls:rec_leaf -g -o build/demo.data build/workloads/rec_calls
# report: perf 6.1's flat call-graph report of that recording (what `perf report -g flat` prints).
$PYPERF report -i build/demo.data -g flat
# SDT markers (seeds/004): cache tick's markers, probe the one behind a semaphore, count both; stat adds
# sdt_tick:loop1 for its run and removes it after. Both counts equal the iterations.
HOME=$SDT_HOME $PYPERF buildid-cache --add build/workloads/tick
HOME=$SDT_HOME $PYPERF list sdt
add sdt_tick:loop2 sdt_tick:loop2
HOME=$SDT_HOME $PYPERF stat -e sdt_tick:loop1,sdt_tick:loop2 -- build/workloads/tick 5
# perf's event model: no -e records perf's default event (cycles, or cpu-clock where there is no PMU, as in a
# VM), kernel and user frames in one chain; the flame graph is one offline HTML file.
$PYPERF record -g -o build/demo-cpu.data -- build/workloads/ex_spin 300
$PYPERF report -i build/demo-cpu.data --no-children --sort dso,sym -g none --percent-limit 3
$PYPERF script report flamegraph -i build/demo-cpu.data -o build/demo-flame.html
# Tracepoint fields as perf prints them (from the format's print fmt), and a histogram computed in the kernel
# by a BPF program pyperf writes itself (seed 003: no compiler, no kernel headers).
$PYPERF record -e sched:sched_process_exec -e syscalls:sys_enter_write -o build/demo-tp.data -- build/workloads/ad_work 3 writes
$PYPERF script -i build/demo-tp.data -F trace:comm,pid,event,trace
$PYPERF argdist -H 't:syscalls:sys_enter_write():u64:args->count' -n 1 -- build/workloads/ad_work 3000 writes
# Without uprobes or root: the same probe by ptrace breakpoints (seed 001), counted by stat.
XDG_STATE_HOME=$PTRACE_STATE $PYPERF probe --ptrace -x build/workloads/rec_calls -a 'pyperf_demo:leaf=rec_leaf'
XDG_STATE_HOME=$PTRACE_STATE $PYPERF stat -e pyperf_demo:leaf -- build/workloads/rec_calls
