#!/bin/bash
# Regenerates the output-order goldens in this directory with REAL perf (6.1): a DWARF recording of
# workloads/ex_spin in which perf's Children tie rule (ui/hist.c __hpp__sort_acc: two entries of equal
# Children of one thread ordered by their callchain's max_depth) sees the depth of an entry that
# hists__collapse_resort merged: callchain_merge adds the merged entry's chains but not its depth, so the
# survivor keeps the depth of its own chains (pyperf: callchain/tree.py CallchainRoot.merge). The entries
# merged are the duplicates perf's entries_in makes of an inlined symbol (sort__sym_cmp compares inlined
# symbols by name, plain ones by start: not a total order; pyperf: report/findnew.py).
#
# Usage (as root, from anywhere):  tests/golden/order/make_goldens.sh
# Needs: perf, gcc, make, xz, python3, libc6-dbg.
#
# Whether a recording has such a pair depends on the samples' order, so the recording is made again (up to
# 30 times) until judge.py finds, in perf's own `--sort comm,dso,sym -g folded,0,callee,function,count`,
# two adjacent entries of equal Children whose order neither Self nor the depth of their printed chains
# gives (perf is the only judge). perf record starts counting 50 ms in (-D 50): no samples of ld.so's
# start-up, whose chains perf's unwinder ends with a 0xffffffffffffffff frame.
#
# Files:
#   data/spin.data.xz     perf record -e cpu-clock:u -c 1000000 -D 50 --call-graph dwarf,2048 -- bin/ex_spin 5000
#                         (xz: the tests unpack it)
#   expected/CASE.out     perf report -i spin.data --symfs DIR OPTIONS (the `# (Tip:` line dropped), CASE and
#                         OPTIONS from cases.txt; DIR as the tests make it (HOME an empty directory)
#   binaries.txt          path and build-id of every ELF file the chains go through (checked by the tests)
#   symfs.tar.xz          ex_spin at its recorded path
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WORK=/tmp/pyperf-golden-order           # recorded paths point here: keep it fixed
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C
MTIME="2026-01-01 00:00:00"

cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

rm -rf "$WORK" && mkdir -p "$WORK/bin" "$WORK/home"
make -s -C "$ROOT/workloads" >/dev/null
cp "$ROOT/build/workloads/ex_spin" "$WORK/bin/"

# perf's report with --symfs at what the tests unpack: ex_spin at its recorded path, links to the system
# files the chains go through and to their debug files (libc6-dbg: libc's .symtab)
SYMFS="$WORK/symfs"
run() { (cd "$WORK" && HOME="$WORK/home" "$PERF" report -i "$WORK/spin.data" --symfs "$SYMFS" "$@" 2>/dev/null); }
binaries() {
  "$PERF" script -i "$WORK/spin.data" --show-mmap-events -F comm 2>/dev/null \
    | awk '/PERF_RECORD_MMAP2/ && / r-xp / {print $NF}' | sort -u | while read -r path; do
    [ -f "$path" ] || continue
    bid=$(readelf -n "$path" 2>/dev/null | awk '/Build ID/{print $3}')
    [ -n "$bid" ] && echo "$path $bid"
  done
}
make_symfs() {
  rm -rf "$SYMFS" && mkdir -p "$SYMFS$WORK/bin" && cp "$WORK/bin/ex_spin" "$SYMFS$WORK/bin/"
  binaries > "$WORK/binaries.txt"
  local path bid target
  while read -r path bid; do
    case "$path" in "$WORK"/*) continue ;; esac
    for target in "$path" "/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug"; do
      [ -e "$target" ] || continue
      mkdir -p "$(dirname "$SYMFS$target")" && ln -s "$(realpath "$target")" "$SYMFS$target"
    done
  done < "$WORK/binaries.txt"
}
found=0
for attempt in $(seq 30); do
  (cd "$WORK" && HOME="$WORK/home" "$PERF" record -q -e cpu-clock:u -c 1000000 -D 50 --call-graph dwarf,2048 \
     -o "$WORK/spin.data" -- bin/ex_spin 5000 >/dev/null 2>&1)
  touch -d "$MTIME" "$WORK/spin.data"
  make_symfs
  if run --stdio --sort comm,dso,sym -g folded,0,callee,function,count | python3 "$HERE/judge.py"; then
    found=1
    break
  fi
done
[ $found = 1 ] || { echo "make_goldens: no recording with such a pair in 30 attempts" >&2; exit 1; }

rm -rf "$HERE/data" "$HERE/expected" && mkdir -p "$HERE/data" "$HERE/expected"
xz -T2 -6 -c "$WORK/spin.data" > "$HERE/data/spin.data.xz"
cp "$WORK/binaries.txt" "$HERE/binaries.txt"
while IFS='|' read -r name args; do
  case "$name" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086  # (the options split as the test splits them)
  run $args | grep -v '^# (Tip:' > "$HERE/expected/$name.out"
done < "$HERE/cases.txt"

PACK="$WORK/pack"
mkdir -p "$PACK$WORK/bin" && cp "$WORK/bin/ex_spin" "$PACK$WORK/bin/"
tar -C "$PACK" --owner=0 --group=0 --sort=name --mtime="$MTIME" -cJf "$HERE/symfs.tar.xz" .
echo "make_goldens: attempt $attempt, $(du -sh "$HERE" | cut -f1) in $HERE"
