#!/bin/sh
# The recordings of this directory: event groups with leader sampling and a uprobe, each made twice, by real
# perf 6.1 (perf_NAME) and by pyperf record (py_NAME), of the same workload (../kernel/kwork.c, static, frame
# pointers; the uprobe pyperf_g_group:grp_kw_leaf on kw_leaf):
#   cc     -e '{cpu-clock,pyperf_g_group:grp_kw_leaf}:S' --no-inherit        (the clock samples, the probe is read)
#   ccg    the same with -g                                               (kernel and user frames)
#   pl     -e '{pyperf_g_group:grp_kw_leaf,cpu-clock}:S' -g --no-inherit     (the probe samples, the clock is read)
#   named  -e 'grp{cpu-clock,pyperf_g_group:grp_kw_leaf}:S' -e task-clock --no-inherit   (a named group, a lone event)
# and by perf alone:
#   two    -e cpu-clock -e pyperf_g_group:grp_kw_leaf -g                      (no group: --group makes one)
# kwork is built and run from a temporary directory removed at the end, with HOME there (so is the uprobe).
# Kept here: data/NAME.data.xz; kallsyms, perf's copy of /proc/kallsyms from the build-id cache cut down by
# ../kernel/reduce_kallsyms.py to the lines the recordings' kernel addresses need; symfs.tar.xz (kwork at its
# recorded path).
# Usage: sudo ./record.sh   (then ./make_goldens.sh)   Needs perf, gcc with static glibc, python3, xz, and the
# project's venv (make venv) for pyperf.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
PERF=${PERF:-/usr/bin/perf}
PYPERF=${PYPERF:-$root/.venv/bin/pyperf}
GROUP=pyperf_g_group
EV=$GROUP:grp_kw_leaf   # perf probe refuses an event name that any group has (../kernel has kw_leaf)
tmp=$(mktemp -d)
cleanup() { "$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
"$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true
mkdir -p "$tmp/bin" "$tmp/home" "$tmp/data"
gcc -static -O1 -fno-omit-frame-pointer -o "$tmp/bin/kwork" "$here/../kernel/kwork.c"
"$PERF" probe -q -x "$tmp/bin/kwork" -a "$EV=kw_leaf"

rec() {
  name=$1; shift
  (cd "$tmp" && HOME="$tmp/home" "$PERF" record -q -o "$tmp/data/perf_$name.data" "$@" >/dev/null 2>&1)
  (cd "$tmp" && HOME="$tmp/home" "$PYPERF" record -q -o "$tmp/data/py_$name.data" "$@" >/dev/null 2>&1)
}
rec cc    -e "{cpu-clock,$EV}:S" --no-inherit -- bin/kwork 3000
rec ccg   -e "{cpu-clock,$EV}:S" -g --no-inherit -- bin/kwork 3000
rec pl    -e "{$EV,cpu-clock}:S" -g --no-inherit -- bin/kwork 300
rec named -e "grp{cpu-clock,$EV}:S" -e task-clock --no-inherit -- bin/kwork 1000
(cd "$tmp" && HOME="$tmp/home" "$PERF" record -q -o "$tmp/data/perf_two.data" -e cpu-clock -e "$EV" -g \
  -- bin/kwork 1000 >/dev/null 2>&1)

full=$(ls "$tmp/home/.debug/[kernel.kallsyms]"/*/kallsyms | head -1)
for f in "$tmp"/data/*.data; do
  "$PERF" script -i "$f" -F ip --kallsyms "$full" 2>/dev/null
  "$PERF" script -i "$f" -F ip -G --kallsyms "$full" 2>/dev/null
done | awk '{ for (i = 1; i <= NF; i++) if (length($i) == 16 && $i >= "ffff800000000000") print $i }' \
  | sort -u > "$tmp/addresses"
python3 "$here/../kernel/reduce_kallsyms.py" "$full" "$tmp/addresses" "$here/kallsyms"

mkdir -p "$here/data" "$tmp/symfs$tmp/bin"
rm -f "$here"/data/*.data.xz
for f in "$tmp"/data/*.data; do
  xz -9 -c "$f" > "$here/data/$(basename "$f").xz"
done
cp "$tmp/bin/kwork" "$tmp/symfs$tmp/bin/"
tar -C "$tmp/symfs" --owner=0 --group=0 --sort=name --mtime="2026-01-01 00:00:00" -cJf "$here/symfs.tar.xz" .
echo "record.sh: $(ls "$here"/data | wc -l) recordings, kallsyms $(wc -l < "$here/kallsyms") lines, $(du -sh "$here" | cut -f1)"
