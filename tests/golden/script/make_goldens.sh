#!/bin/sh
# Real perf 6.1's `perf script` output for the report goldens' perf.data files (../report/data), with the
# binaries from ../report/symfs.tar.xz and HOME at an empty directory (no ~/.debug), as the tests run pyperf.
# Outputs are xz-compressed: expected/NAME.out.xz.
# Usage: ./make_goldens.sh   (needs /usr/bin/perf; no root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir "$tmp/symfs" "$tmp/home"
tar -xJf "$here/../report/symfs.tar.xz" -C "$tmp/symfs"
mkdir -p "$here/expected"
grep -v '^#' "$here/cases.txt" | while IFS='|' read -r name data args; do
  # shellcheck disable=SC2086
  HOME="$tmp/home" perf script -i "$here/../report/data/$data" --symfs "$tmp/symfs" $args \
    2>/dev/null | xz -9 >"$here/expected/$name.out.xz"
done
