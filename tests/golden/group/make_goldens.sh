#!/bin/sh
# Real perf 6.1's `perf report`/`perf script` output for every case of cases.txt (written by cases.py) on the
# recordings of record.sh: expected/NAME.out.xz (stdout), NAME.err (stderr, the data path replaced by INPUT)
# and NAME.rc (exit status). perf runs from a temporary directory (removed at the end) holding the unpacked
# recordings and symfs, with an empty HOME there.
# Usage: ./make_goldens.sh   (needs perf, python3, xz; no root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PERF=${PERF:-/usr/bin/perf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir -p "$tmp/data" "$tmp/symfs" "$tmp/empty"
for f in "$here"/data/*.data.xz; do
  xz -dc "$f" > "$tmp/data/$(basename "$f" .xz)"
done
tar -xJf "$here/symfs.tar.xz" -C "$tmp/symfs"
python3 "$here/cases.py"
rm -rf "$here/expected" && mkdir -p "$here/expected"
grep -v '^#' "$here/cases.txt" | while IFS='|' read -r name data args; do
  input="$tmp/data/$data.data"
  args=$(printf '%s' "$args" | sed "s#SYMFS#$tmp/symfs#g; s#KALLSYMS#$here/kallsyms#g")
  cmd=${args%% *}
  rest=${args#* }
  [ "$rest" = "$args" ] && rest=""
  rc=0
  # shellcheck disable=SC2086
  (cd "$tmp" && HOME="$tmp/empty" "$PERF" $cmd -i "$input" $rest > "$tmp/out" 2> "$tmp/err") || rc=$?
  xz -9 -c "$tmp/out" > "$here/expected/$name.out.xz"
  sed "s#$input#INPUT#g; s#$tmp#TMP#g" "$tmp/err" > "$here/expected/$name.err"
  echo "$rc" > "$here/expected/$name.rc"
done
echo "make_goldens: $(ls "$here/expected" | grep -c '\.rc$') cases, $(du -sh "$here" | cut -f1) in $here"
