#!/bin/sh
# Goldens for the SDT / build-id cache tests (tests/test_sdt_golden.py), made with REAL perf 6.1:
#   sh tests/golden/sdt/make_goldens.sh        (as root, after `make workloads`; needs systemtap-sdt-dev)
# Each scenario uses a scratch HOME, so ~/.debug is never touched. Nothing is added to tracefs (-D only).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PERF=${PERF:-/usr/bin/perf}
TICK_DIR=/tmp/pyperf_sdt_golden         # fixed path: it appears in the goldens
SCRATCH=$(mktemp -d)
# on every path out: no scratch directory and no $TICK_DIR left (the tests put tick there themselves)
trap 'rm -rf "$SCRATCH" "$TICK_DIR"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# layout DIR: one line per path of a cache tree (type, path, link target / mode, md5 of files)
layout() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
    if [ -L "$p" ]; then echo "L $p -> $(readlink "$p")"
    elif [ -d "$p" ]; then echo "D $p $(stat -c %a "$p")"
    else echo "F $p $(stat -c %a "$p") $(md5sum < "$p" | cut -c1-32)"; fi
  done)
}

scenario() {   # scenario NAME FILES...: add FILES to a fresh cache, record what perf made and printed
  name=$1; shift
  home="$SCRATCH/$name"; mkdir -p "$home"
  list=$(echo "$@" | tr ' ' ',')
  HOME=$home $PERF buildid-cache --add "$list"
  layout "$home/.debug" > "$HERE/$name.layout"
  HOME=$home $PERF buildid-cache --list > "$HERE/$name.buildid-list"
  HOME=$home $PERF list sdt > "$HERE/$name.list-sdt"
  for f in $(cd "$home/.debug" && find . -name probes -size +0 | LC_ALL=C sort); do
    echo "== $f"; cat "$home/.debug/$f"
  done > "$HERE/$name.probes"
}

definitions() {  # definitions NAME 'ARGS'...: perf probe -D output (stdout) and exit status per case
  name=$1; shift
  home="$SCRATCH/$name"
  for args in "$@"; do
    echo "== perf probe $args"
    # shellcheck disable=SC2086
    HOME=$home $PERF probe $args 2>/dev/null || echo "exit $?"
  done > "$HERE/$name.definitions"
}

mkdir -p "$TICK_DIR"
cp "$ROOT/build/workloads/tick" "$TICK_DIR/tick"
readelf -n "$TICK_DIR/tick" | sed -n 's/.*Build ID: //p' > "$HERE/tick.build-id"

scenario tick "$TICK_DIR/tick"
definitions tick "-D sdt_tick:loop1" "-D sdt_tick:loop2" "-D sdt_tick:loop3" "-D %sdt_tick:begin" \
  "-D sdt_tick:*" "-D %sdt_tick:loop*" "-D %loop2" "-D %*:loop3" "-x $TICK_DIR/tick -D %sdt_tick:loop3" \
  "-x $TICK_DIR/tick -D sdt_tick:loop2" "-D sdt_tick:nosuch" "-D %tick:loop1"

scenario system /usr/bin/python3.11 /usr/lib/x86_64-linux-gnu/libstdc++.so.6 \
  /usr/lib/x86_64-linux-gnu/libc.so.6 /bin/true
definitions system "-D sdt_python:*" "-D %sdt_libstdcxx:*" "-D %sdt_python:function__entry" \
  "-x /usr/bin/python3.11 -D %sdt_python:line" "-D %*:throw"
HOME=$SCRATCH/system $PERF list 'sdt_libstdcxx:*' > "$HERE/system.list-glob"
HOME=$SCRATCH/system $PERF list 'sdt_python:gc__*' 'sdt_*:*throw' > "$HERE/system.list-globs"
