#!/bin/bash
# Regenerates the reader/session goldens in this directory with REAL perf (6.1).
#
# 1. Records perf.data files (uprobes of group pyperf_t_reader only, removed on every path):
#    rd_mt (workloads/rd_threads.c: 3 threads named by prctl + main), rd_cxx (workloads/rd_cxx.cpp: C++
#    names), rd_two (two events in one file: samples carry PERF_SAMPLE_ID), rd_ret (a return probe),
#    rd_nocg (no -g), rd_make (`make` compiling C files, probe on libc's calloc: chains through code
#    without frame pointers, garbage addresses), rd_py (python3 calling os.getpid(), probe on libc getpid).
# 2. Packs what the chains need into symfs.tar.xz at their recorded paths: the two workloads, libc.so.6
#    and libc's debug file reduced to its symbol table (perf finds it by libc's build-id).
# 3. Stores `perf script -F comm,pid,tid,time,ip,sym,dso --symfs SYMFS` as expected/NAME.script: one block
#    per sample with its resolved call chain, in perf's delivery order (HOME at an empty directory: no
#    ~/.debug build-id cache).
#
# Usage (as root, from anywhere):  tests/golden/reader/make_goldens.sh
# The tests need no root: they unpack symfs.tar.xz and resolve with the same --symfs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WORK=/tmp/pyperf-golden-reader          # recorded paths point here: keep it fixed
GROUP=pyperf_t_reader
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C
MTIME="2026-01-01 00:00:00"
FIELDS=comm,pid,tid,time,ip,sym,dso

# On every path out (end, error, ^C, kill): no probe of GROUP left, and no $WORK, so that no test can pass
# by reading a recorded path (the tests assert that it does not exist).
remove_probes() { "$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; }
cleanup() { remove_probes; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
remove_probes

rm -rf "$WORK" && mkdir -p "$WORK/bin" "$WORK/home" "$WORK/symfs"
make -s -C "$ROOT/workloads" >/dev/null
cp "$ROOT/build/workloads/rd_threads" "$ROOT/build/workloads/rd_cxx" "$WORK/bin/"

"$PERF" probe -q -x "$WORK/bin/rd_threads" -a "$GROUP:rd_leaf=rd_leaf"
"$PERF" probe -q -x "$WORK/bin/rd_threads" -a "$GROUP:rd_compute=compute"
"$PERF" probe -q -x "$WORK/bin/rd_cxx" -a "$GROUP:rd_cxx_leaf=rd_cxx_leaf"
"$PERF" probe -q -x "$WORK/bin/rd_threads" -a "$GROUP:rd_ret=rd_leaf%return"
LIBC=/usr/lib/x86_64-linux-gnu/libc.so.6
"$PERF" probe -q -x "$LIBC" -a "$GROUP:rd_calloc=calloc"
"$PERF" probe -q -x "$LIBC" -a "$GROUP:rd_getpid=getpid"

mkdir -p "$WORK/mk"
for n in one two three; do
  printf '#include <stdio.h>\nint %s(int x) { return x + %d; }\n' "$n" "${#n}" > "$WORK/mk/$n.c"
done
printf 'int one(int); int two(int); int three(int);\nint main(void) { return one(1) + two(2) + three(3) > 99; }\n' > "$WORK/mk/main.c"
printf 'prog: main.o one.o two.o three.o\n\tgcc -o $@ $^\n%%.o: %%.c\n\tgcc -O1 -c -o $@ $<\n' > "$WORK/mk/Makefile"

rec() { local out=$1; shift; (cd "$WORK" && HOME="$WORK/home" "$PERF" record -N -q -o "$WORK/$out" "$@" >/dev/null 2>&1); }
rec rd_mt.data  -e "$GROUP:rd_leaf" -g -- bin/rd_threads 300 3
rec rd_cxx.data -e "$GROUP:rd_cxx_leaf" -g -- bin/rd_cxx 40
rec rd_two.data -e "$GROUP:rd_leaf" -e "$GROUP:rd_compute" -g -- bin/rd_threads 100 2
rec rd_ret.data -e "$GROUP:rd_ret__return" -g -- bin/rd_threads 100 2
rec rd_nocg.data -e "$GROUP:rd_leaf" -- bin/rd_threads 100 2
rec rd_make.data -e "$GROUP:rd_calloc" -g -- make -s -C mk
rec rd_py.data -e "$GROUP:rd_getpid" -g -- python3 -c 'import os
for i in range(200): os.getpid()'
remove_probes

SYMFS="$WORK/symfs"
mkdir -p "$SYMFS$WORK/bin" "$SYMFS$(dirname "$LIBC")"
cp "$WORK/bin/rd_threads" "$WORK/bin/rd_cxx" "$SYMFS$WORK/bin/"
cp "$LIBC" "$SYMFS$LIBC"
bid=$(readelf -n "$LIBC" | awk '/Build ID/{print $3}')
dbg="/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug"
mkdir -p "$SYMFS$(dirname "$dbg")"
objcopy --remove-section='.debug_*' "$dbg" "$SYMFS$dbg"   # libc's .symtab without its DWARF
tar -C "$SYMFS" --owner=0 --group=0 --sort=name --mtime="$MTIME" -cJf "$HERE/symfs.tar.xz" .

rm -rf "$HERE/data" "$HERE/expected" && mkdir -p "$HERE/data" "$HERE/expected"
cp "$WORK"/rd_*.data "$HERE/data/"
touch -d "$MTIME" "$HERE/data/"*.data
n=0
for f in "$HERE"/data/*.data; do
  name=$(basename "$f" .data)
  (cd "$WORK" && HOME="$WORK/home" "$PERF" script -i "$f" --symfs "$WORK/symfs" -F "$FIELDS" \
      > "$HERE/expected/$name.script" 2> "$HERE/expected/$name.err")
  n=$((n + 1))
done
echo "make_goldens: $n files, $(du -sh "$HERE" | cut -f1) in $HERE"
