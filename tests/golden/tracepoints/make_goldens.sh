#!/bin/sh
# Real perf 6.1's `perf script` output for every case of cases.txt on data/system.data.xz (made by
# record.sh), with HOME at an empty directory (no ~/.debug). Outputs are xz-compressed: expected/NAME.out.xz.
# Usage: ./make_goldens.sh   (needs /usr/bin/perf; no root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir "$tmp/home"
xz -dc "$here/data/system.data.xz" >"$tmp/system.data"
mkdir -p "$here/expected"
grep -v '^#' "$here/cases.txt" | while IFS='|' read -r name args; do
  # shellcheck disable=SC2086
  HOME="$tmp/home" perf script -i "$tmp/system.data" $args 2>/dev/null | xz -9 >"$here/expected/$name.out.xz"
done
