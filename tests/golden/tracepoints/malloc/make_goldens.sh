#!/bin/bash
# Regenerates the goldens of this directory with REAL perf (6.1): a uprobe on libc's malloc recorded with
# frame-pointer chains (-g) while make compiles two of workloads/uw_make_src's files with gcc -j2. A probe
# event has a trace output (its "(7f...930)": malloc's address in the process, which ASLR changes from one
# process to the next), so `--sort sym,trace` (trace after other keys) with perf's default --children makes
# each cumulative entry's identity (symbol, malloc's address of the process). The chains end in garbage
# words perf cannot resolve (unresolved entries of several dsos among libc's resolved symbols): sort__sym_cmp
# is then not a total order, and perf's entries_in search misses entries it made, so it prints two entries
# of one symbol and trace output (pyperf: report/findnew.py, by the look-ups of report/hist.py). The trace
# column's width counts only the outputs perf's comparisons computed, the he_cache comparisons of the
# cumulative look-ups among them (pyperf: report/order.py cache_marks).
#
# Usage (as root, from anywhere):  tests/golden/tracepoints/malloc/make_goldens.sh
# Needs: perf, gcc, make, xz, readelf, libc6-dbg.
#
# Whether perf splits an entry depends on the samples, so the recording is made again (up to 10 times) until
# perf's own `--sort sym,trace -g none` prints two entries of one symbol and trace output.
#
# Files:
#   data/make.data.xz     perf record -e pyperf_g_tpmalloc:malloc -g -- make -s -B -j2 unit1.o unit2.o
#                         (in $WORK/src; xz: the tests unpack it)
#   expected/CASE.out.xz  perf report -i make.data --symfs DIR OPTIONS (the `# (Tip:` line dropped), CASE and
#                         OPTIONS from cases.txt; DIR as the tests make it (HOME an empty directory)
#   binaries.txt          path and build-id of every ELF file the chains go through (checked by the tests)
#   symfs.tar.xz          empty: every program of the recording is the system's (tests/symfs_golden.py links them)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
WORK=/tmp/pyperf-golden-tpmalloc        # recorded paths point here: keep it fixed
GROUP=pyperf_g_tpmalloc
LIBC=/usr/lib/x86_64-linux-gnu/libc.so.6
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C
MTIME="2026-01-01 00:00:00"

# On every path out: no probe of GROUP left, no $WORK.
remove_probes() { "$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; }
cleanup() { remove_probes; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
remove_probes

rm -rf "$WORK" && mkdir -p "$WORK/home"
cp -r "$ROOT/workloads/uw_make_src" "$WORK/src"
"$PERF" probe -q -x "$LIBC" -a "$GROUP:malloc=malloc"

SYMFS="$WORK/symfs"
run() { (cd "$WORK" && HOME="$WORK/home" "$PERF" report -i "$WORK/make.data" --symfs "$SYMFS" "$@" 2>/dev/null); }
binaries() {
  "$PERF" script -i "$WORK/make.data" --show-mmap-events -F comm 2>/dev/null \
    | awk '/PERF_RECORD_MMAP2/ && / r-xp / {print $NF}' | sort -u | while read -r path; do
    [ -f "$path" ] || continue
    bid=$(readelf -n "$path" 2>/dev/null | awk '/Build ID/{print $3}')
    [ -n "$bid" ] && echo "$path $bid"
  done
}
make_symfs() {
  rm -rf "$SYMFS" && mkdir -p "$SYMFS"
  binaries > "$WORK/binaries.txt"
  local path bid target
  while read -r path bid; do
    for target in "$path" "/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug"; do
      [ -e "$target" ] || continue
      mkdir -p "$(dirname "$SYMFS$target")" && ln -s "$(realpath "$target")" "$SYMFS$target"
    done
  done < "$WORK/binaries.txt"
}
# two entries of one symbol and trace output (the columns after Children and Self)
split() { run --stdio --sort sym,trace -g none | awk '/%/ {$1 = ""; $2 = ""; print}' | sort | uniq -d | grep -q .; }
found=0
for attempt in $(seq 10); do
  (cd "$WORK/src" && HOME="$WORK/home" "$PERF" record -q -e "$GROUP:malloc" -g -o "$WORK/make.data" \
     -- make -s -B -j2 unit1.o unit2.o >/dev/null 2>&1)
  touch -d "$MTIME" "$WORK/make.data"
  make_symfs
  if split; then
    found=1
    break
  fi
done
[ $found = 1 ] || { echo "make_goldens: no recording with a split entry in 10 attempts" >&2; exit 1; }
remove_probes

rm -rf "$HERE/data" "$HERE/expected" && mkdir -p "$HERE/data" "$HERE/expected"
xz -T2 -6 -c "$WORK/make.data" > "$HERE/data/make.data.xz"
cp "$WORK/binaries.txt" "$HERE/binaries.txt"
while IFS='|' read -r name args; do
  case "$name" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086  # (the options split as the test splits them)
  run $args | grep -v '^# (Tip:' | xz -9 > "$HERE/expected/$name.out.xz"
done < "$HERE/cases.txt"

mkdir -p "$WORK/pack"
tar -C "$WORK/pack" --owner=0 --group=0 --sort=name --mtime="$MTIME" -cJf "$HERE/symfs.tar.xz" .
echo "make_goldens: attempt $attempt, $(du -sh "$HERE" | cut -f1) in $HERE"
