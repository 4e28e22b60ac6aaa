#!/bin/bash
# Regenerates the DWARF-unwinding goldens in this directory with REAL perf (6.1): builds the workloads
# without frame pointers, adds uprobes (group pyperf_g_unwind only; removed on every path), records
# perf.data files with `--call-graph dwarf`, and stores real `perf script` output for each of them.
#
# Usage (as root, from anywhere):  tests/golden/unwind/make_goldens.sh [--outputs-only]
#   --outputs-only: keep data/*.data and rerun only perf script/report on them (the workload binaries are
#   restored at their recorded paths from symfs.tar.xz)
# Needs: perf, gcc, g++, make.
#
# Files:
#   data/threads.data  workloads/uw_threads.c (-O2 -fomit-frame-pointer; 2 threads + main; recursion, VLA,
#                      realigned stack, qsort comparator, signal handler), probe on uw_leaf
#   data/cxx.data      workloads/uw_cxx.cpp (virtual calls, std::sort, std::function, throw/catch), probe on
#                      uw_cxx_leaf
#   data/make.data     `make -j2` compiling 3 of workloads/uw_make_src/*.c (make -> gcc -> cc1, as), probes on
#                      libc's fwrite and strdup (malloc fires 600K times there: 5 GB of stacks)
#   expected/NAME.noinline   perf script --no-inline -F comm,pid,tid,ip,sym,dso  (one line per real frame)
#   expected/NAME.script     perf script -F comm,pid,tid,ip,sym,dso              (with inline frames)
#   expected/NAME.report     perf report --stdio                                 (children, graph)
#   expected/NAME.flat       perf report --stdio --no-children -g flat
#   expected/NAME.dsosym     perf report --stdio --sort dso,sym                  (inlined and plain symbols
#   expected/NAME.dsosym_none   ... -g none, NAME.dsosym_flat ... -g flat,        side by side: perf's
#   expected/NAME.dsosym_folded ... -g folded                                     sort__sym_cmp order)
#   expected/NAME.nochildren_none  perf report --stdio --no-children --sort dso,sym -g none  (no chain used:
#                      perf does not unwind)
#   binaries.txt       path and build-id of every ELF file the chains go through (checked by the tests)
#   symfs.tar.xz       the two workload binaries at their recorded paths (the system ones are not copied:
#                      their build-ids are checked instead)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WORK=/tmp/pyperf-golden-unwind          # recorded paths point here: keep it fixed
GROUP=pyperf_g_unwind
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C
MTIME="2026-01-01 00:00:00"

# On every path out (end, error, ^C, kill): no probe of GROUP left, and no $WORK, so that no test can pass
# by reading a recorded path (the tests assert that it does not exist).
remove_probes() { "$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; }
cleanup() { remove_probes; rm -rf "$WORK" "${tmp:-}"; }   # tmp: --outputs-only's unpacked symfs
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# perf's outputs for one recording, run where it was recorded, with HOME at an empty directory
outputs() {
  local f=$1 name
  name=$(basename "$f" .data)
  run() { (cd "$WORK" && HOME="$WORK/home" "$PERF" "$@" 2>/dev/null); }
  run script -i "$f" --no-inline -F comm,pid,tid,ip,sym,dso > "$HERE/expected/$name.noinline"
  run script -i "$f" -F comm,pid,tid,ip,sym,dso > "$HERE/expected/$name.script"
  run report -i "$f" --stdio | grep -v '^# (Tip:' > "$HERE/expected/$name.report"
  run report -i "$f" --stdio --no-children -g flat | grep -v '^# (Tip:' > "$HERE/expected/$name.flat"
  run report -i "$f" --stdio --sort dso,sym | grep -v '^# (Tip:' > "$HERE/expected/$name.dsosym"
  run report -i "$f" --stdio --no-children --sort dso,sym -g none | grep -v '^# (Tip:' \
    > "$HERE/expected/$name.nochildren_none"
  local g
  for g in none flat folded; do
    run report -i "$f" --stdio --sort dso,sym -g $g | grep -v '^# (Tip:' > "$HERE/expected/$name.dsosym_$g"
  done
}

if [ "${1:-}" = "--outputs-only" ]; then
  rm -rf "$WORK" && mkdir -p "$WORK/home" && tmp=$(mktemp -d)
  tar -C "$tmp" -xJf "$HERE/symfs.tar.xz" && cp -r "$tmp$WORK/bin" "$WORK/" && rm -rf "$tmp"
  for f in "$HERE"/data/*.data; do outputs "$f"; done
  echo "make_goldens: outputs of $(ls "$HERE/data" | wc -l) files rewritten"
  exit 0
fi
remove_probes

rm -rf "$WORK" && mkdir -p "$WORK/bin" "$WORK/mk" "$WORK/home"
make -s -C "$ROOT/workloads" >/dev/null
cp "$ROOT/build/workloads/uw_threads" "$ROOT/build/workloads/uw_cxx" "$WORK/bin/"
cp "$ROOT/workloads/uw_make_src/"*.c "$ROOT/workloads/uw_make_src/Makefile" "$WORK/mk/"

LIBC=/usr/lib/x86_64-linux-gnu/libc.so.6
probe() { "$PERF" probe -q "$@"; }
probe -x "$WORK/bin/uw_threads" -a "$GROUP:uw_leaf=uw_leaf"
probe -x "$WORK/bin/uw_cxx" -a "$GROUP:uw_cxx_leaf=uw_cxx_leaf"
probe -x "$LIBC" -a "$GROUP:fwrite=fwrite"
probe -x "$LIBC" -a "$GROUP:strdup=strdup"

rec() { local out=$1; shift; (cd "$WORK" && HOME="$WORK/home" "$PERF" record -N -q --call-graph dwarf \
        -o "$WORK/$out" "$@" >/dev/null 2>&1); }
rec threads.data -e "$GROUP:uw_leaf" -- bin/uw_threads
rec cxx.data     -e "$GROUP:uw_cxx_leaf" -- bin/uw_cxx
# A clean environment: make strdup()s every variable of it, which would only add make samples.
rec make.data    -e "$GROUP:fwrite" -e "$GROUP:strdup" -- env -i PATH=/usr/bin:/bin make -s -j2 -C mk \
                 unit1.o unit2.o unit3.o
remove_probes

rm -rf "$HERE/data" "$HERE/expected" && mkdir -p "$HERE/data" "$HERE/expected"
: > "$HERE/binaries.txt"
for f in "$WORK"/*.data; do
  name=$(basename "$f" .data)
  cp "$f" "$HERE/data/" && touch -d "$MTIME" "$HERE/data/$name.data"
  outputs "$HERE/data/$name.data"
  # every ELF file named by an executable mapping of the recording
  "$PERF" script -i "$f" --show-mmap-events -F comm 2>/dev/null \
    | awk '/PERF_RECORD_MMAP2/ && / r-xp / {print $NF}' >> "$HERE/binaries.txt.tmp"
done
sort -u "$HERE/binaries.txt.tmp" | while read -r path; do
  [ -f "$path" ] || continue
  bid=$(readelf -n "$path" 2>/dev/null | awk '/Build ID/{print $3}')
  [ -n "$bid" ] && echo "$path $bid" >> "$HERE/binaries.txt"
done
rm -f "$HERE/binaries.txt.tmp"

SYMFS="$WORK/symfs"
mkdir -p "$SYMFS$WORK/bin"
cp "$WORK/bin/uw_threads" "$WORK/bin/uw_cxx" "$SYMFS$WORK/bin/"
tar -C "$SYMFS" --owner=0 --group=0 --sort=name --mtime="$MTIME" -cJf "$HERE/symfs.tar.xz" .
echo "make_goldens: $(ls "$HERE/data" | wc -l) files, $(du -sh "$HERE" | cut -f1) in $HERE"
