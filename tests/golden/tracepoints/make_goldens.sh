#!/bin/sh
# Real perf 6.1's output on the recordings of this directory, with HOME at an empty directory (no ~/.debug):
# * `perf script` for every case of cases.txt on data/system.data.xz (made by record.sh):
#   expected/NAME.out.xz; and of callchain_script_cases.txt on data/callchain.data.xz (made by
#   record_callchain.sh; KALLSYMS stands for data/callchain.kallsyms): expected/script_cc/NAME.out.xz;
# * `perf report --stdio` for every case of report_cases.txt on data/system.data.xz or
#   data/callchain.data.xz (made by record_callchain.sh; KALLSYMS stands for data/callchain.kallsyms):
#   expected/report/NAME.out.xz (stdout), NAME.err (stderr, the input's path replaced by INPUT), NAME.rc.
# system.data's cases all get `--kallsyms data/system.kallsyms`, an empty file: the recording's kernel is not
# the one a test runs on (and the running kernel's /proc/kallsyms, used when the build-ids match, would name
# its %ps arguments on one machine and not on another), so its kernel addresses are named by no one.
# The recordings are unpacked into a temporary directory, removed at the end.
# Usage: ./make_goldens.sh   (needs /usr/bin/perf; no root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PERF=${PERF:-/usr/bin/perf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir "$tmp/home"
for f in "$here"/data/*.data.xz; do
  xz -dc "$f" >"$tmp/$(basename "$f" .xz)"
done
mkdir -p "$here/expected"
grep -v '^#' "$here/cases.txt" | while IFS='|' read -r name args; do
  # shellcheck disable=SC2086
  HOME="$tmp/home" "$PERF" script -i "$tmp/system.data" $args --kallsyms "$here/data/system.kallsyms" 2>/dev/null \
    | xz -9 >"$here/expected/$name.out.xz"
done
rm -rf "$here/expected/script_cc" && mkdir -p "$here/expected/script_cc"
grep -v '^#' "$here/callchain_script_cases.txt" | while IFS='|' read -r name args; do
  args=$(printf '%s' "$args" | sed "s#KALLSYMS#$here/data/callchain.kallsyms#g")
  # shellcheck disable=SC2086
  HOME="$tmp/home" "$PERF" script -i "$tmp/callchain.data" $args 2>/dev/null | xz -9 >"$here/expected/script_cc/$name.out.xz"
done
rm -rf "$here/expected/report" && mkdir -p "$here/expected/report"
grep -v '^#' "$here/report_cases.txt" | while IFS='|' read -r name data args; do
  input="$tmp/$data.data"
  args=$(printf '%s' "$args" | sed "s#KALLSYMS#$here/data/callchain.kallsyms#g")
  if [ "$data" = system ]; then args="$args --kallsyms $here/data/system.kallsyms"; fi
  rc=0
  # shellcheck disable=SC2086
  HOME="$tmp/home" "$PERF" report -i "$input" --stdio $args >"$tmp/out" 2>"$tmp/err" || rc=$?
  xz -9 -c "$tmp/out" >"$here/expected/report/$name.out.xz"
  sed "s#$input#INPUT#g" "$tmp/err" >"$here/expected/report/$name.err"
  echo "$rc" >"$here/expected/report/$name.rc"
done
echo "make_goldens: $(ls "$here/expected" "$here/expected/script_cc" | grep -c '\.out\.xz$') script and" \
  "$(ls "$here/expected/report" | grep -c '\.rc$') report cases, $(du -sh "$here/expected" | cut -f1)"
