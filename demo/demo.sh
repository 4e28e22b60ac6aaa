#!/bin/sh
# make demo: the main job on a bundled workload: probe, record, report (and the SDT workflow), then remove
# the probes it added, on every path (trap). A probe that already existed is used and left in place.
set -eu
cd "$(dirname "$0")/.."
PYPERF=".venv/bin/pyperf"
SDT_HOME=$(mktemp -d)     # the SDT part caches into a scratch HOME: ~/.debug is not touched
ADDED=""
cleanup() {
  for ev in $ADDED; do $PYPERF probe -q -d "$ev" 2>/dev/null || true; done
  rm -rf "$SDT_HOME"
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
