#!/bin/sh
# make demo: the main job on a bundled workload. Every probe it adds is removed on every path (trap).
set -eu
cd "$(dirname "$0")/.."
PYPERF=".venv/bin/pyperf"
cleanup() { $PYPERF probe -q -d 'probe_libc:malloc' 2>/dev/null || true; }
trap cleanup EXIT INT TERM
$PYPERF probe -x libc.so.6 malloc
$PYPERF probe -l 'probe_libc:*'
