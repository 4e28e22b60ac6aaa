#!/bin/bash
# Regenerates the `pyperf report` goldens in this directory with REAL perf (6.1): builds the workloads,
# adds uprobes (group pyperf_g_report only; removed on every path), records perf.data files with
# frame-pointer call chains, packs the binaries the chains need into symfs.tar.xz, and stores real
# `perf report --stdio` stdout/stderr/exit status for every option combination listed in cases.txt.
#
# Usage (as root, from anywhere):  tests/golden/report/make_goldens.sh [--reuse-data]
#   --reuse-data   keep data/*.data and symfs.tar.xz (other goldens, e.g. ../script, are made from them) and
#                  only re-run perf report for cases.txt; files named in cases.txt but missing are recorded.
# Needs: perf, gcc, g++, make, python3, objcopy, libc6-dbg.
#
# The tests never need root: they unpack symfs.tar.xz and run `pyperf report --symfs DIR` with HOME at an
# empty directory, exactly as below, so real perf and pyperf look at the same files.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WORK=/tmp/pyperf-golden-report          # recorded paths point here: keep it fixed
GROUP=pyperf_g_report
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C
MTIME="2026-01-01 00:00:00"             # perf --header prints the file's mtime ("captured on")
REUSE=0
[ "${1:-}" = "--reuse-data" ] && REUSE=1

# On every path out (end, error, ^C, kill): no probe of GROUP left, and no $WORK, so that no test can pass
# by reading a recorded path (the tests assert that it does not exist).
remove_probes() { "$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; }
cleanup() { remove_probes; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
remove_probes

rm -rf "$WORK" && mkdir -p "$WORK/bin" "$WORK/mk" "$WORK/home" "$HERE/data"
make -s -C "$ROOT/workloads" >/dev/null
cp "$ROOT/build/workloads/report_mt" "$ROOT/build/workloads/report_cxx" "$WORK/bin/"

# --- probes -------------------------------------------------------------------------------------------
LIBC=/usr/lib/x86_64-linux-gnu/libc.so.6
probe() { "$PERF" probe -q "$@"; }
probe -x "$WORK/bin/report_mt" -a "$GROUP:rpt_leaf=rpt_leaf"
probe -x "$WORK/bin/report_mt" -a "$GROUP:rpt_mid=rpt_mid"
probe -x "$WORK/bin/report_mt" -a "$GROUP:rpt_ret=rpt_leaf%return"
probe -x "$WORK/bin/report_cxx" -a "$GROUP:rpt_cxx_leaf=rpt_cxx_leaf"
probe -x "$LIBC" -a "$GROUP:rpt_calloc=calloc"
probe -x "$LIBC" -a "$GROUP:rpt_getpid=getpid"

# --- workloads for `make` -----------------------------------------------------------------------------
for n in one two three; do
  printf '#include <stdio.h>\nint %s(int x) { return x + %d; }\n' "$n" "${#n}" > "$WORK/mk/$n.c"
done
printf 'int one(int); int two(int); int three(int);\nint main(void) { return one(1) + two(2) + three(3) > 99; }\n' > "$WORK/mk/main.c"
printf 'prog: main.o one.o two.o three.o\n\tgcc -o $@ $^\n%%.o: %%.c\n\tgcc -O1 -c -o $@ $<\n' > "$WORK/mk/Makefile"

# --- recordings ---------------------------------------------------------------------------------------
rec() {
  local out=$1; shift
  if [ "$REUSE" = 1 ] && [ -e "$HERE/data/$out" ]; then return; fi
  (cd "$WORK" && "$PERF" record -N -q -o "$WORK/$out" "$@" >/dev/null 2>&1)
}
rec mt.data    -e "$GROUP:rpt_leaf" -g -- bin/report_mt
rec cxx.data   -e "$GROUP:rpt_cxx_leaf" -g -- bin/report_cxx
rec ret.data   -e "$GROUP:rpt_ret__return" -g -- bin/report_mt
rec two.data   -e "$GROUP:rpt_leaf" -e "$GROUP:rpt_mid" -g -- bin/report_mt
rec nocg.data  -e "$GROUP:rpt_leaf" -- bin/report_mt
rec make.data  -e "$GROUP:rpt_calloc" -g -- make -s -C mk
# A one-page ring buffer: perf loses chunks (LOST) and samples (LOST_SAMPLES): "# Total Lost Samples", warnings.
rec lost.data  -m 1 -e "$GROUP:rpt_leaf" -g -- bin/report_mt 6
rec nosamples.data -e "$GROUP:rpt_mid" -g -- bin/report_cxx
rec py.data    -e "$GROUP:rpt_getpid" -g -- python3 -c 'import os
for i in range(200): os.getpid()'
remove_probes

# --- symfs: what the chains need, at their recorded paths ----------------------------------------------
SYMFS="$WORK/symfs"
mkdir -p "$SYMFS$WORK/bin" "$SYMFS$(dirname "$LIBC")"
cp "$WORK/bin/report_mt" "$WORK/bin/report_cxx" "$SYMFS$WORK/bin/"
# libc itself: the files record no build-id for it (no sample ip in it), so perf reads the build-id from
# this copy and then finds the debug file below by it.
cp "$LIBC" "$SYMFS$LIBC"
bid=$(readelf -n "$LIBC" | awk '/Build ID/{print $3}')
dbg="/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug"
mkdir -p "$SYMFS$(dirname "$dbg")"
# libc's symbols (.symtab) without its DWARF: same symbols, a tenth of the size.
objcopy --remove-section='.debug_*' "$dbg" "$SYMFS$dbg"
if [ "$REUSE" = 1 ]; then
  rm -rf "$SYMFS" && mkdir -p "$SYMFS" && tar -xJf "$HERE/symfs.tar.xz" -C "$SYMFS"
else
  tar -C "$SYMFS" --owner=0 --group=0 --sort=name --mtime="$MTIME" -cJf "$HERE/symfs.tar.xz" .
fi

# --- perf report for every case (cases.txt, written by cases.py) ---------------------------------------
python3 "$HERE/cases.py" >/dev/null
rm -rf "$HERE/expected" && mkdir -p "$HERE/expected"
[ "$REUSE" = 1 ] || rm -f "$HERE"/data/*.data
for f in "$WORK"/*.data; do [ -e "$f" ] && cp "$f" "$HERE/data/"; done
: > "$HERE/data/empty.data"
printf 'this is not a perf.data file\n' > "$HERE/data/notperf.data"
cp "$HERE/data/nocg.data" "$HERE/data/notowned.data"
touch -d "$MTIME" "$HERE/data/"*.data
chown 4242:4242 "$HERE/data/notowned.data"    # the tests chown their own copy again (git keeps no owner)
n=0
while IFS='|' read -r name data args; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  case "$data" in
    none) input="$WORK/does-not-exist.data" ;;
    *) input="$HERE/data/$data" ;;
  esac
  # shellcheck disable=SC2086
  rc=0; (cd "$WORK" && HOME="$WORK/home" "$PERF" report -i "$input" --symfs "$SYMFS" $args \
        > "$HERE/expected/$name.out" 2> "$HERE/expected/$name.err") || rc=$?
  echo "$rc" > "$HERE/expected/$name.rc"
  sed -i "s#$input#INPUT#g; s#$HERE#GOLDEN#g" "$HERE/expected/$name.err"
  n=$((n + 1))
done < "$HERE/cases.txt"
chown 0:0 "$HERE/data/notowned.data"
echo "make_goldens: $n cases, $(du -sh "$HERE" | cut -f1) in $HERE"
