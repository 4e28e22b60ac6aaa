#!/bin/sh
# make demo: the main job on a bundled workload. Every probe it adds is removed on every path (trap).
set -eu
cd "$(dirname "$0")/.."
PYPERF=".venv/bin/pyperf"
SDT_HOME=$(mktemp -d)     # the SDT part caches into a scratch HOME: ~/.debug is not touched
cleanup() {
  $PYPERF probe -q -d 'probe_libc:malloc' 2>/dev/null || true
  $PYPERF probe -q -d 'probe_rec_calls:rec_leaf' 2>/dev/null || true
  HOME=$SDT_HOME $PYPERF probe -q -d 'sdt_tick:loop2' 2>/dev/null || true
  rm -rf "$SDT_HOME"
}
trap cleanup EXIT INT TERM
$PYPERF probe -x libc.so.6 malloc
$PYPERF probe -l 'probe_libc:*'
# record: rec_calls calls rec_leaf 910 times in threads and child processes; -g keeps the call chains.
$PYPERF probe -x build/workloads/rec_calls rec_leaf
$PYPERF record -e probe_rec_calls:rec_leaf -g -o build/demo.data build/workloads/rec_calls
# report: perf 6.1's flat call-graph report of that recording (what `perf report -g flat` prints).
$PYPERF report -i build/demo.data -g flat
# SDT markers (seeds/004): cache tick's markers, probe the one behind a semaphore, count both; stat adds
# sdt_tick:loop1 for its run and removes it after. Both counts equal the iterations.
HOME=$SDT_HOME $PYPERF buildid-cache --add build/workloads/tick
HOME=$SDT_HOME $PYPERF list sdt
HOME=$SDT_HOME $PYPERF probe sdt_tick:loop2
HOME=$SDT_HOME $PYPERF stat -e sdt_tick:loop1,sdt_tick:loop2 -- build/workloads/tick 5
