#!/bin/bash
# Regenerates the export goldens in this directory with REAL perf (6.1) and its own Python scripts
# (/usr/lib/perf-core/scripts/python: flamegraph.py, stackcollapse.py, export-to-sqlite.py) and
# `perf data convert --to-json`.
#
# Usage (as root, from anywhere):  tests/golden/export/make_goldens.sh [--outputs-only]
#   --outputs-only: keep data/*.data and symfs.tar.xz, rerun only perf on them (cases.txt)
# Needs: perf, gcc, make, xz, sqlite3, python3-pyside2.qtsql (perf's export-to-sqlite.py imports PySide2),
# unshare (util-linux).
#
# Recordings (data/, real `perf record -N` of workloads/ex_spin.c, cpu-clock:u, so perf's scripts see the
# samples): cpu_fp (-g), cpu_nocg (no call chains), cpu_dwarf (--call-graph dwarf,4096: inline frames),
# cpu_two (cpu-clock:u and task-clock:u, -g). The uprobe recordings of ../report/data and ../unwind/data are
# converted to JSON too (perf's scripts never see their tracepoint samples; `data convert` does), and the
# cpu-clock recordings of ../kernel/data (kernel frames, swapper's samples) go through flamegraph.py and
# stackcollapse.py with that directory's --symfs and --kallsyms.
#
# perf runs in a mount namespace of its own whose /tmp is an empty tmpfs: the recorded binaries are put back
# at their recorded paths there (from this directory's, ../report's and ../unwind's symfs.tar.xz), and
# nobody else sees them (the other goldens' tests assert that those paths do not exist). perf reads every
# file at its recorded path (`perf data convert` has no --symfs): the system's libc and its libc6-dbg
# debug file, whose DWARF names libc's inline frames. HOME is an empty directory (no ~/.debug: [vdso] has
# no symbols). The tests give pyperf the same files as one --symfs: ex_spin from symfs.tar.xz, links to
# the system files of binaries.txt (path and build-id, checked) and their debug files.
#
# Files: cases.txt (name|data file|output kind|arguments) and expected/NAME.* (see cases.txt).
#   flamegraph     perf script -i DATA -s flamegraph.py -- -f json -o -       -> NAME.json
#   stackcollapse  perf script -i DATA -s stackcollapse.py -- ARGS           -> NAME.txt
#   json           perf data convert -i DATA --to-json OUT (DATA's mtime is MTIME)     -> NAME.json.xz
#   sqlite         perf script -i DATA -s export-to-sqlite.py DB ARGS; sqlite3 DB .dump -> NAME.sql
#   sqlite-fixed   the same with export-to-sqlite.py's 'callchains' bug fixed (perf 6.1's script calls
#                  call_return_table in trace_begin when only callchains are asked, whose query exists only
#                  with 'calls': NameError, and perf aborts); the C side is perf's own
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WORK=/tmp/pyperf-golden-export          # recorded paths point here: keep it fixed
PERF=${PERF:-/usr/bin/perf}
SCRIPTS=/usr/lib/perf-core/scripts/python
export TZ=UTC LC_ALL=C
MTIME="2026-01-01 00:00:00"

if [ "${1:-}" = "--inside" ]; then
  # --- in the private mount namespace: perf's outputs for every case ----------------------------------
  mount -t tmpfs tmpfs /tmp
  mkdir -p /tmp/home /tmp/symfs/export /tmp/symfs/report /tmp/symfs/unwind /tmp/symfs/kernel /tmp/data
  for s in export report unwind kernel; do
    tar -xJf "$HERE/../$s/symfs.tar.xz" -C "/tmp/symfs/$s"
    cp -a "/tmp/symfs/$s/tmp/." /tmp/          # the binaries at their recorded paths
  done
  sed 's/^\t\tcall_return_table(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)$/\t\tif perf_db_export_calls:\n\t\t\tcall_return_table(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)/' \
    "$SCRIPTS/export-to-sqlite.py" > /tmp/export-to-sqlite-fixed.py
  grep -q 'if perf_db_export_calls:$' /tmp/export-to-sqlite-fixed.py
  rm -rf "$HERE/expected" && mkdir -p "$HERE/expected"
  n=0
  while IFS='|' read -r name data kind args; do
    [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
    given=""
    case "$data" in
      report/*) src="$HERE/../report/data/${data#report/}" ;;
      unwind/*) src="$HERE/../unwind/data/${data#unwind/}" ;;
      # ../kernel's recordings: xz-compressed; kernel names from its kallsyms copy (KASLR), as its goldens
      kernel/*) src="$HERE/../kernel/data/${data#kernel/}.xz"
                given="--symfs /tmp/symfs/kernel --kallsyms $HERE/../kernel/kallsyms" ;;
      *) src="$HERE/data/$data" ;;
    esac
    input="/tmp/data/$(echo "$data" | tr / _)"
    case "$src" in *.xz) xz -dc "$src" > "$input" ;; *) cp "$src" "$input" ;; esac
    touch -d "$MTIME" "$input"
    run() { (cd /tmp && HOME=/tmp/home "$PERF" "$@" </dev/null); }
    # shellcheck disable=SC2086
    case "$kind" in
      flamegraph) run script -i "$input" $given -s "$SCRIPTS/flamegraph.py" -- -f json -o - $args \
                    > "$HERE/expected/$name.json" 2>/dev/null ;;
      stackcollapse) run script -i "$input" $given -s "$SCRIPTS/stackcollapse.py" -- $args \
                    > "$HERE/expected/$name.txt" 2>/dev/null ;;
      json) rm -f /tmp/out.json; run data convert -i "$input" --to-json /tmp/out.json 2>/dev/null
            xz -9 < /tmp/out.json > "$HERE/expected/$name.json.xz" ;;
      sqlite|sqlite-fixed)
            script="$SCRIPTS/export-to-sqlite.py"; [ "$kind" = sqlite-fixed ] && script=/tmp/export-to-sqlite-fixed.py
            rm -f /tmp/out.db; run script -i "$input" $given -s "$script" /tmp/out.db $args >/dev/null 2>&1
            sqlite3 /tmp/out.db .dump > "$HERE/expected/$name.sql" ;;
      *) echo "make_goldens: unknown kind $kind" >&2; exit 1 ;;
    esac
    n=$((n + 1))
  done < "$HERE/cases.txt"
  echo "make_goldens: $n cases"
  exit 0
fi

# On every path out (end, error, ^C, kill): no $WORK left, so that no test can pass by reading a recorded
# path (the tests assert that it does not exist).
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "${1:-}" != "--outputs-only" ]; then
  # --- recordings -------------------------------------------------------------------------------------
  rm -rf "$WORK" && mkdir -p "$WORK/bin" "$HERE/data"
  make -s -C "$ROOT/workloads" >/dev/null
  cp "$ROOT/build/workloads/ex_spin" "$WORK/bin/"
  rec() { local out=$1; shift; (cd "$WORK" && "$PERF" record -N -q -o "$WORK/$out" "$@" >/dev/null 2>&1); }
  rec cpu_fp.data    -e cpu-clock:u -F 1000 -g -- bin/ex_spin 500
  rec cpu_nocg.data  -e cpu-clock:u -F 1000 -- bin/ex_spin 200
  rec cpu_dwarf.data -e cpu-clock:u -F 500 --call-graph dwarf,4096 -- bin/ex_spin 300
  rec cpu_two.data   -e cpu-clock:u -e task-clock:u -F 500 -g -- bin/ex_spin 200
  # --- symfs: the workload at its recorded path; the system files it ran with, by build-id -------------
  SYMFS="$WORK/symfs"
  mkdir -p "$SYMFS$WORK/bin"
  cp "$WORK/bin/ex_spin" "$SYMFS$WORK/bin/"
  tar -C "$SYMFS" --owner=0 --group=0 --sort=name --mtime="$MTIME" -cJf "$HERE/symfs.tar.xz" .
  for f in "$WORK"/*.data; do "$PERF" buildid-list -i "$f" 2>/dev/null; done | awk '$2 ~ /^\// {print $2, $1}' |
    grep -v "^$WORK/" | sort -u > "$HERE/binaries.txt"
  rm -f "$HERE"/data/*.data
  cp "$WORK"/*.data "$HERE/data/"
  touch -d "$MTIME" "$HERE"/data/*.data
  rm -rf "$WORK"
fi

unshare -m --propagation private bash "$0" --inside
echo "make_goldens: $(du -sh "$HERE" | cut -f1) in $HERE"
