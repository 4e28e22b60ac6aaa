#!/bin/bash
# Regenerates the reader/session goldens in this directory with REAL perf (6.1).
#
# 1. Records perf.data files of the reader's own workloads (uprobes of group pyperf_t_reader only, removed
#    on every path): rd_mt (workloads/rd_threads.c: 3 threads named by prctl + main), rd_cxx
#    (workloads/rd_cxx.cpp: C++ names), rd_two (two events in one file: samples carry PERF_SAMPLE_ID).
#    Their binaries go into symfs.tar.xz at their recorded paths.
# 2. For those and for the report goldens' files (../report/data, with ../report/symfs.tar.xz: libc and
#    its symbols), stores `perf script -F comm,pid,tid,time,ip,sym,dso` as expected/NAME.script: one block
#    per sample with its resolved call chain, in perf's delivery order.
#
# Usage (as root, from anywhere):  tests/golden/reader/make_goldens.sh
# The tests need no root: they unpack both symfs tarballs into one directory and resolve with --symfs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
REPORT="$HERE/../report"
WORK=/tmp/pyperf-golden-reader          # recorded paths point here: keep it fixed
GROUP=pyperf_t_reader
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C
MTIME="2026-01-01 00:00:00"
FIELDS=comm,pid,tid,time,ip,sym,dso

cleanup() { "$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM
cleanup

rm -rf "$WORK" && mkdir -p "$WORK/bin" "$WORK/home" "$WORK/symfs"
make -s -C "$ROOT/workloads" >/dev/null
cp "$ROOT/build/workloads/rd_threads" "$ROOT/build/workloads/rd_cxx" "$WORK/bin/"

"$PERF" probe -q -x "$WORK/bin/rd_threads" -a "$GROUP:rd_leaf=rd_leaf"
"$PERF" probe -q -x "$WORK/bin/rd_threads" -a "$GROUP:rd_compute=compute"
"$PERF" probe -q -x "$WORK/bin/rd_cxx" -a "$GROUP:rd_cxx_leaf=rd_cxx_leaf"

rec() { local out=$1; shift; (cd "$WORK" && HOME="$WORK/home" "$PERF" record -N -q -o "$WORK/$out" "$@" >/dev/null 2>&1); }
rec rd_mt.data  -e "$GROUP:rd_leaf" -g -- bin/rd_threads 300 3
rec rd_cxx.data -e "$GROUP:rd_cxx_leaf" -g -- bin/rd_cxx 40
rec rd_two.data -e "$GROUP:rd_leaf" -e "$GROUP:rd_compute" -g -- bin/rd_threads 100 2
cleanup

mkdir -p "$WORK/symfs$WORK/bin"
cp "$WORK/bin/rd_threads" "$WORK/bin/rd_cxx" "$WORK/symfs$WORK/bin/"
tar -C "$WORK/symfs" --owner=0 --group=0 --sort=name --mtime="$MTIME" -cJf "$HERE/symfs.tar.xz" .

rm -rf "$HERE/data" "$HERE/expected" && mkdir -p "$HERE/data" "$HERE/expected"
cp "$WORK"/rd_*.data "$HERE/data/"
touch -d "$MTIME" "$HERE/data/"*.data

# One --symfs tree for everything: the report goldens' (libc, its symbols, report_*) plus ours.
tar -C "$WORK/symfs" -xJf "$REPORT/symfs.tar.xz"
n=0
for f in "$HERE"/data/*.data "$REPORT"/data/{mt,cxx,ret,two,nocg,make,py}.data; do
  name=$(basename "$f" .data)
  (cd "$WORK" && HOME="$WORK/home" "$PERF" script -i "$f" --symfs "$WORK/symfs" -F "$FIELDS" \
      > "$HERE/expected/$name.script" 2> "$HERE/expected/$name.err")
  n=$((n + 1))
done
echo "make_goldens: $n files, $(du -sh "$HERE" | cut -f1) in $HERE"
