#!/bin/bash
# Regenerates the goldens in this directory with REAL perf (6.1): a recording of python3 doing json work with
# a uprobe on libc's malloc and frame-pointer call chains (`-g`), and `perf report --stdio` in every -g mode.
# It is the recording of issue 11 where fractal output shows `[...] (inlined)`; see README.md for why.
#
# Usage (as root, from anywhere):  tests/golden/fractal/make_goldens.sh [--outputs-only]
#   --outputs-only: keep data/py-json.data and symfs.tar.xz, rerun only perf report on them
# Needs: perf, python3 (/usr/bin/python3), objcopy, libc6-dbg.
#
# Files:
#   data/py-json.data    perf record -N -e pyperf_g_fractal:malloc -g -- /usr/bin/python3 -c '<json loop>'
#   symfs.tar.xz         the files the chains go through, at their recorded paths, with their code and data
#                        zeroed (same layout, symbols and build-id notes; the script checks that perf's report
#                        is the same on them as on the real files), and libc's debug file reduced to .symtab
#   cases.txt            name|arguments of `perf report -i data/py-json.data --symfs SYMFS ARGS`
#   expected/NAME.out    perf's stdout (the random `# (Tip: ...)` line left in), NAME.err, NAME.rc
#   expected/NAME.zero.out, NAME.ones.out   fractal cases only: the same command with glibc's tcache off and
#                        its malloc perturb byte set, so that every malloc'd byte reads 0x00 (perturb=255) or
#                        0xfe (perturb=1): what perf prints when the uninitialized `[...]` flag is 0 or 1
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
GROUP=pyperf_g_fractal
PERF=${PERF:-/usr/bin/perf}
export TZ=UTC LC_ALL=C
MTIME="2026-01-01 00:00:00"
PYTHON=/usr/bin/python3
LIBC=/usr/lib/x86_64-linux-gnu/libc.so.6

WORK=$(mktemp -d /tmp/pyperf-golden-fractal.XXXXXX)
remove_probes() { "$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; }
cleanup() { remove_probes; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir -p "$WORK/home" "$WORK/symfs" "$WORK/real"

report() {  # report SYMFS ARGS... (perf's stdout; stderr and status in the caller's hands)
  local symfs=$1; shift
  # shellcheck disable=SC2086
  (cd "$WORK" && HOME="$WORK/home" "$PERF" report -i "$HERE/data/py-json.data" --symfs "$symfs" "$@")
}

if [ "${1:-}" != "--outputs-only" ]; then
  remove_probes
  "$PERF" probe -q -x "$LIBC" -a "$GROUP:malloc=malloc"
  mkdir -p "$HERE/data"
  # A few json round trips: with interpreter start-up, about 1,700 mallocs (180 KB of frame-pointer chains).
  (cd "$WORK" && HOME="$WORK/home" "$PERF" record -N -q -o "$WORK/py-json.data" -e "$GROUP:malloc" -g -- \
    "$PYTHON" -c 'import json
for i in range(20): json.loads(json.dumps({"k%d" % j: [j, str(j)] for j in range(20)}))' >/dev/null 2>&1)
  remove_probes
  cp "$WORK/py-json.data" "$HERE/data/py-json.data"
  touch -d "$MTIME" "$HERE/data/py-json.data"

  # --- symfs: every file the report opens, at its recorded path ---------------------------------------
  bid=$(readelf -n "$LIBC" | awk '/Build ID/{print $3}')
  dbg="/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug"
  for f in "$(readlink -f "$PYTHON")" "$LIBC" /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
    for t in "$WORK/real" "$WORK/symfs"; do mkdir -p "$t$(dirname "$f")" && cp "$f" "$t$f"; done
  done
  for t in "$WORK/real" "$WORK/symfs"; do mkdir -p "$t$(dirname "$dbg")"; done
  objcopy --remove-section='.debug_*' "$dbg" "$WORK/real$dbg"      # libc's symbols without its DWARF
  cp "$WORK/real$dbg" "$WORK/symfs$dbg"
  # Zero what a report never reads (code, read-only and writable data) in the symfs copies: the files keep
  # their size, layout, symbol tables and build-id notes, and compress to almost nothing.
  python3 - "$WORK/symfs" <<'EOF'
import os, struct, sys
ZERO = {".text", ".rodata", ".data", ".PyRuntime"}
for top, _, names in os.walk(sys.argv[1]):
    for name in names:
        path = os.path.join(top, name)
        with open(path, "r+b") as f:
            elf = f.read()
            if elf[:4] != b"\x7fELF" or elf[4] != 2:
                continue
            shoff, = struct.unpack_from("<Q", elf, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)
            def shdr(i):   # Elf64_Shdr: name, type, flags, addr, offset, size
                return struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
            strtab_off = shdr(shstrndx)[4]
            for i in range(shnum):
                sh_name, sh_type, _, _, offset, size = shdr(i)
                sec = elf[strtab_off + sh_name:elf.index(b"\0", strtab_off + sh_name)].decode()
                if sec in ZERO and sh_type == 1:          # SHT_PROGBITS (not .bss: no bytes in the file)
                    f.seek(offset)
                    f.write(bytes(size))
EOF
  # The zeroed copies must not change perf's text: compare the default report and -g flat on both trees.
  for args in "--stdio" "--stdio --no-children --sort comm,dso,sym -g flat,0"; do
    # shellcheck disable=SC2086
    a=$(report "$WORK/real" $args 2>&1 | grep -v '^# (Tip:'); b=$(report "$WORK/symfs" $args 2>&1 | grep -v '^# (Tip:')
    [ "$a" = "$b" ] || { echo "make_goldens: zeroed symfs changes perf report $args" >&2; exit 1; }
  done
  tar -C "$WORK/symfs" --owner=0 --group=0 --sort=name --mtime="$MTIME" -cJf "$HERE/symfs.tar.xz" .
else
  tar -C "$WORK/symfs" -xJf "$HERE/symfs.tar.xz"
fi

# --- cases ------------------------------------------------------------------------------------------------
S=--stdio
CDS="--sort comm,dso,sym"
{
  echo "# name|arguments after: perf report -i data/py-json.data --symfs SYMFS (written by make_goldens.sh)"
  for g in graph fractal flat folded caller callee; do
    echo "cds_${g}_nochildren|$S --no-children $CDS -g $g"
    echo "cds_${g}|$S $CDS -g $g"
  done
  echo "default|$S"
  echo "default_fractal|$S -g fractal"
  echo "cds_fractal_caller_nochildren|$S --no-children $CDS -g fractal,0.5,caller"
  echo "cds_fractal_2_nochildren|$S --no-children $CDS -g fractal,2"
  echo "cds_fractal_0_nochildren|$S --no-children $CDS -g fractal,0"
  echo "cds_fractal_count_nochildren|$S --no-children $CDS -g fractal,0.5,callee,function,count"
  echo "cds_fractal_period|$S $CDS -g fractal,0.5,callee,function,period"
  echo "cds_fractal_limit1_nochildren|$S --no-children $CDS -g fractal,0.5,1"
  echo "sym_fractal_nochildren|$S --no-children --sort sym -g fractal"
  echo "cds_graph_0_nochildren|$S --no-children $CDS -g graph,0"
  echo "cds_flat_0_nochildren|$S --no-children $CDS -g flat,0"
  echo "cds_folded_0_caller|$S $CDS -g folded,0,caller"
} > "$HERE/cases.txt"

rm -rf "$HERE/expected" && mkdir -p "$HERE/expected"
n=0
while IFS='|' read -r name args; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  # shellcheck disable=SC2086
  rc=0; report "$WORK/symfs" $args > "$HERE/expected/$name.out" 2> "$HERE/expected/$name.err" || rc=$?
  echo "$rc" > "$HERE/expected/$name.rc"
  sed -i "s#$HERE/data/py-json.data#INPUT#g; s#$WORK/symfs#SYMFS#g" "$HERE/expected/$name.err"
  case "$args" in *fractal*)
    # shellcheck disable=SC2086
    GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.perturb=255 report "$WORK/symfs" $args \
      > "$HERE/expected/$name.zero.out" 2>/dev/null
    # shellcheck disable=SC2086
    GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.perturb=1 report "$WORK/symfs" $args \
      > "$HERE/expected/$name.ones.out" 2>/dev/null
  esac
  n=$((n + 1))
done < "$HERE/cases.txt"
echo "make_goldens: $n cases, $(du -sh "$HERE" | cut -f1) in $HERE"
