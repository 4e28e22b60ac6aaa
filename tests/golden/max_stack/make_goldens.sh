#!/bin/bash
# Regenerates the `pyperf report --max-stack N` goldens in this directory with REAL perf (6.1): for every line
# of cases.txt, real `perf report -i ../report/data/FILE --symfs SYMFS ARGS` (SYMFS: ../report/symfs.tar.xz
# unpacked, HOME at an empty directory, as tests/test_report_golden.py runs pyperf) into
# expected/NAME.{out,err,rc}. The recordings are the report goldens' (../report/make_goldens.sh); nothing is
# recorded here, so no root is needed.
#
# Usage: tests/golden/max_stack/make_goldens.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPORT="$HERE/../report"
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/symfs" "$WORK/home"
tar -xJf "$REPORT/symfs.tar.xz" -C "$WORK/symfs"
rm -rf "$HERE/expected" && mkdir -p "$HERE/expected"
n=0
while IFS='|' read -r name data args; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  input="$REPORT/data/$data"
  rc=0
  # shellcheck disable=SC2086
  (cd "$WORK" && HOME="$WORK/home" PAGER=cat "$PERF" report -i "$input" --symfs "$WORK/symfs" $args \
      > "$HERE/expected/$name.out" 2> "$HERE/expected/$name.err") || rc=$?
  echo "$rc" > "$HERE/expected/$name.rc"
  sed -i "s#$input#INPUT#g" "$HERE/expected/$name.err"
  n=$((n + 1))
done < "$HERE/cases.txt"
echo "make_goldens.sh: $n cases from $("$PERF" version)"
