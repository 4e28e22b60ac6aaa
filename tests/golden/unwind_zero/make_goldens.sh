#!/bin/bash
# Regenerates this directory's goldens with REAL perf (6.1): perf's texts of the DWARF recording of
# tests/golden/rbreplay (data/spin.data.xz, workloads/ex_spin, `--call-graph dwarf,2048`), whose chains
# include some that perf 6.1 (libunwind) ends with `ffffffffffffffff [unknown]`: samples in the dynamic
# loader's start-up whose caller's return address lies past the 2 KB stack copy, which perf reads as 0
# (tools/perf/util/unwind-libunwind-local.c access_mem / access_dso_mem; pyperf: callchain/dwarf_unwind.py).
#
# Usage (as root, from anywhere):  tests/golden/unwind_zero/make_goldens.sh
# Needs: perf, xz, libc6-dbg; the system's ld.so and libc must be the recorded ones (../rbreplay/binaries.txt).
#
# Files:
#   expected/spin.script.xz   perf script -i spin.data --symfs DIR (xz: 2 MB of text)
#   expected/CASE.out         perf report -i spin.data --symfs DIR OPTIONS (the `# (Tip:` line dropped), CASE
#                             and OPTIONS from cases.txt
# DIR as tests/test_unwind_zero_frame.py makes it (and test_report_rbreplay_golden.py): ex_spin at its
# recorded path from ../rbreplay/symfs.tar.xz, links to the system files the chains go through and to their
# debug files; HOME an empty directory.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$HERE/../rbreplay"
WORK=/tmp/pyperf-golden-unwind-zero
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C

cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

rm -rf "$WORK" && mkdir -p "$WORK/symfs" "$WORK/home"
xz -dc "$SRC/data/spin.data.xz" > "$WORK/spin.data"
tar -C "$WORK/symfs" -xJf "$SRC/symfs.tar.xz"
while read -r path bid; do
  case "$path" in /tmp/pyperf-golden-rbreplay/*) continue ;; esac
  [ "$(readelf -n "$path" 2>/dev/null | awk '/Build ID/{print $3}')" = "$bid" ] \
    || { echo "make_goldens: $path is not the recorded file (build-id $bid)" >&2; exit 1; }
  for target in "$path" "/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug"; do
    [ -e "$target" ] || continue
    mkdir -p "$(dirname "$WORK/symfs$target")" && ln -s "$(realpath "$target")" "$WORK/symfs$target"
  done
done < "$SRC/binaries.txt"

run() { (cd "$WORK" && HOME="$WORK/home" "$PERF" "$@" -i "$WORK/spin.data" --symfs "$WORK/symfs" 2>/dev/null); }

rm -rf "$HERE/expected" && mkdir -p "$HERE/expected"
run script | xz -T1 -6 -c > "$HERE/expected/spin.script.xz"
while IFS='|' read -r name args; do
  case "$name" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086  # (the options split as the test splits them)
  run report $args | grep -v '^# (Tip:' > "$HERE/expected/$name.out"
done < "$HERE/cases.txt"
[ "$(xz -dc "$HERE/expected/spin.script.xz" | grep -c 'ffffffffffffffff \[unknown\]')" -gt 0 ] \
  || { echo "make_goldens: perf's script has no 0xffffffffffffffff frame" >&2; exit 1; }
echo "make_goldens: $(du -sh "$HERE" | cut -f1) in $HERE"
