#!/bin/bash
# Regenerates this directory's goldens with REAL perf (6.1): perf's texts of the DWARF recording of
# tests/golden/rbreplay (data/spin.data.xz, workloads/ex_spin, `--call-graph dwarf,2048`), whose chains
# include some that perf 6.1 (libunwind) ends with `ffffffffffffffff [unknown]`: samples in the dynamic
# loader's start-up whose caller's return address lies past the 2 KB stack copy, which perf reads as 0
# (tools/perf/util/unwind-libunwind-local.c access_mem / access_dso_mem; pyperf: callchain/dwarf_unwind.py).
#
# And a recording of its own with a 512-byte copy, where many chains end in the copy's last word: perf never
# reads that word from the copy (access_mem: addr + 8 >= end goes to the maps: 0 in [stack]).
#
# Usage (as root, from anywhere):  tests/golden/unwind_zero/make_goldens.sh
# Needs: perf, gcc, make, xz, libc6-dbg; the system's ld.so and libc must be the recorded ones
# (../rbreplay/binaries.txt, binaries.txt).
#
# Files:
#   expected/spin.script.xz   perf script -i spin.data --symfs DIR (xz: 2 MB of text)
#   data/spin512.data.xz      perf record -e cpu-clock:u -c 200000 --call-graph dwarf,512 -- bin/ex_spin 300
#   expected/spin512.script.xz  perf script -i spin512.data --symfs DIR512
#   symfs.tar.xz, binaries.txt  ex_spin at its recorded path (/tmp/pyperf-golden-unwind-zero/bin); the ELF
#                             files the recording's chains go through, with their build-ids
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

rm -rf "$HERE/expected" "$HERE/data" && mkdir -p "$HERE/expected" "$HERE/data"
run script | xz -T1 -6 -c > "$HERE/expected/spin.script.xz"
while IFS='|' read -r name args; do
  case "$name" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086  # (the options split as the test splits them)
  run report $args | grep -v '^# (Tip:' > "$HERE/expected/$name.out"
done < "$HERE/cases.txt"
[ "$(xz -dc "$HERE/expected/spin.script.xz" | grep -c 'ffffffffffffffff \[unknown\]')" -gt 0 ] \
  || { echo "make_goldens: perf's script has no 0xffffffffffffffff frame" >&2; exit 1; }

# the 512-byte recording (ex_spin built by workloads/Makefile, copied to the recorded path)
ROOT="$(cd "$HERE/../../.." && pwd)"
make -s -C "$ROOT/workloads" >/dev/null
mkdir -p "$WORK/bin" && cp "$ROOT/build/workloads/ex_spin" "$WORK/bin/"
(cd "$WORK" && HOME="$WORK/home" "$PERF" record -q -e cpu-clock:u -c 200000 --call-graph dwarf,512 \
   -o "$WORK/spin512.data" -- bin/ex_spin 300 >/dev/null 2>&1)
"$PERF" script -i "$WORK/spin512.data" --show-mmap-events -F comm 2>/dev/null \
  | awk '/PERF_RECORD_MMAP2/ && / r-xp / {print $NF}' | sort -u | while read -r path; do
  [ -f "$path" ] || continue
  bid=$(readelf -n "$path" 2>/dev/null | awk '/Build ID/{print $3}')
  if [ -n "$bid" ]; then echo "$path $bid"; fi
done > "$HERE/binaries.txt"
SYMFS512="$WORK/symfs512"
mkdir -p "$SYMFS512$WORK/bin" && cp "$WORK/bin/ex_spin" "$SYMFS512$WORK/bin/"
while read -r path bid; do
  case "$path" in "$WORK"/*) continue ;; esac
  for target in "$path" "/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug"; do
    [ -e "$target" ] || continue
    mkdir -p "$(dirname "$SYMFS512$target")" && ln -s "$(realpath "$target")" "$SYMFS512$target"
  done
done < "$HERE/binaries.txt"
(cd "$WORK" && HOME="$WORK/home" "$PERF" script -i "$WORK/spin512.data" --symfs "$SYMFS512" 2>/dev/null) \
  | xz -T1 -6 -c > "$HERE/expected/spin512.script.xz"
xz -T1 -6 -c "$WORK/spin512.data" > "$HERE/data/spin512.data.xz"
PACK="$WORK/pack"
mkdir -p "$PACK$WORK/bin" && cp "$WORK/bin/ex_spin" "$PACK$WORK/bin/"
tar -C "$PACK" --owner=0 --group=0 --sort=name --mtime="2026-01-01 00:00:00" -cJf "$HERE/symfs.tar.xz" .
echo "make_goldens: $(du -sh "$HERE" | cut -f1) in $HERE"
