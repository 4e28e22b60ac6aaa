#!/bin/sh
# Real perf 6.1's `perf report`/`perf script` on the hand-made files of craft.py (modules, relocation, odd
# kallsyms files): every case of cases.txt, `name|data|kallsyms|arguments`, keeps expected/NAME.out,
# NAME.err (the data path replaced by INPUT) and NAME.rc. perf runs with HOME at an empty temporary
# directory (removed at the end) and --kallsyms of the named file here.
# Usage: ./make_goldens.sh   (needs perf and python3; no root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PERF=${PERF:-/usr/bin/perf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
python3 "$here/craft.py"
rm -rf "$here/expected" && mkdir -p "$here/expected"
grep -v '^#' "$here/cases.txt" | while IFS='|' read -r name data kallsyms args; do
  input="$here/data/$data.data"
  cmd=${args%% *}
  rest=${args#* }
  [ "$rest" = "$args" ] && rest=""
  rc=0
  # shellcheck disable=SC2086
  (cd "$tmp" && HOME="$tmp" "$PERF" $cmd -i "$input" --kallsyms "$here/$kallsyms" $rest \
     > "$here/expected/$name.out" 2> "$tmp/err") || rc=$?
  sed "s#$input#INPUT#g" "$tmp/err" > "$here/expected/$name.err"
  echo "$rc" > "$here/expected/$name.rc"
done
echo "make_goldens: $(ls "$here/expected" | grep -c '\.rc$') cases"
