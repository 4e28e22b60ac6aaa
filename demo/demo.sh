#!/bin/sh
# make demo: the main job on a bundled workload. Every probe it adds is removed on every path (trap).
set -eu
cd "$(dirname "$0")/.."
PYPERF=".venv/bin/pyperf"
cleanup() {
  $PYPERF probe -q -d 'probe_libc:malloc' 2>/dev/null || true
  $PYPERF probe -q -d 'probe_rec_calls:rec_leaf' 2>/dev/null || true
}
trap cleanup EXIT INT TERM
$PYPERF probe -x libc.so.6 malloc
$PYPERF probe -l 'probe_libc:*'
# record: rec_calls calls rec_leaf 910 times in threads and child processes; -g keeps the call chains.
$PYPERF probe -x build/workloads/rec_calls rec_leaf
$PYPERF record -e probe_rec_calls:rec_leaf -g -o build/demo.data build/workloads/rec_calls
# report: perf 6.1's flat call-graph report of that recording (what `perf report -g flat` prints).
$PYPERF report -i build/demo.data -g flat
