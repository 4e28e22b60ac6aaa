#!/bin/sh
# The recordings of this directory, made by real perf 6.1 with call chains that cross into the kernel:
#   exec    -e sched:sched_process_exec -g          (kwork runs itself again through execve)
#   switch  -e sched:sched_switch -g
#   openat  -e syscalls:sys_enter_openat -g
#   cc      -e cpu-clock -g                          (a workload's user and kernel time)
#   nocg    -e cpu-clock                             (no call chains: perf script's one-line samples)
#   ccu/cck -e cpu-clock:u -g / -e cpu-clock:k -g    (exclude_kernel / exclude_user)
#   kcc/ucc -e sched:sched_switch -g --kernel-callchains / --user-callchains  (one side of the chain)
#   mixed   -e pyperf_g_kernel:kw_leaf -e syscalls:sys_enter_openat -g   (a uprobe and a tracepoint)
#   sys     -e cpu-clock -g -a -F 1000 -- sleep 1    (system-wide)
#   otherbid, pgoff0: exec.data with the kernel's build-id, or its MMAP's pgoff, changed (see below)
# of kwork.c (static, frame pointers), built and run from a temporary directory that is removed at the end
# (so are the uprobe and everything else; HOME is a scratch directory there). Kept here:
#   data/NAME.data.xz   the recordings;
#   kallsyms            the kallsyms copy perf record stored in the build-id cache ([kernel.kallsyms]/
#                       BUILDID/kallsyms), cut down by reduce_kallsyms.py to the lines the recordings'
#                       kernel addresses need (perf resolves them as with the whole file); the kernel's
#                       addresses change with every boot (KASLR), so the goldens carry the copy;
#   symfs.tar.xz        kwork at its recorded path (the user symbols, for --symfs).
# Usage: sudo ./record.sh   (then ./make_goldens.sh)   Needs perf, gcc with static glibc, python3, xz.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PERF=${PERF:-/usr/bin/perf}
GROUP=pyperf_g_kernel
tmp=$(mktemp -d)
cleanup() { "$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
"$PERF" probe -q -d "$GROUP:*" >/dev/null 2>&1 || true
mkdir -p "$tmp/bin" "$tmp/home" "$tmp/data"
gcc -static -O1 -fno-omit-frame-pointer -o "$tmp/bin/kwork" "$here/kwork.c"
"$PERF" probe -q -x "$tmp/bin/kwork" -a "$GROUP:kw_leaf=kw_leaf"

rec() {
  name=$1; shift
  (cd "$tmp" && HOME="$tmp/home" "$PERF" record -q -o "$tmp/data/$name.data" "$@" >/dev/null 2>&1)
}
rec exec   -e sched:sched_process_exec -g -- bin/kwork 20 exec
rec switch -e sched:sched_switch -g -- bin/kwork 2000
rec openat -e syscalls:sys_enter_openat -g -- bin/kwork 300
rec cc     -e cpu-clock -g -- bin/kwork 40000
rec nocg   -e cpu-clock -- bin/kwork 20000
rec ccu    -e cpu-clock:u -g -- bin/kwork 30000
rec cck    -e cpu-clock:k -g -- bin/kwork 30000
rec kcc    -e sched:sched_switch -g --kernel-callchains -- bin/kwork 2000
rec ucc    -e sched:sched_switch -g --user-callchains -- bin/kwork 2000
rec mixed  -e "$GROUP:kw_leaf" -e syscalls:sys_enter_openat -g -- bin/kwork 200
rec sys    -e cpu-clock -g -a -F 1000 -- sleep 1

# kallsyms: perf's copy, cut down to the kernel addresses of every recording (as perf script prints them)
full=$(ls "$tmp/home/.debug/[kernel.kallsyms]"/*/kallsyms)
for f in "$tmp"/data/*.data; do
  "$PERF" script -i "$f" -F ip --kallsyms "$full" 2>/dev/null        # the chains' addresses
  "$PERF" script -i "$f" -F ip -G --kallsyms "$full" 2>/dev/null     # the samples' own
done | awk '{ for (i = 1; i <= NF; i++) if (length($i) == 16 && $i >= "ffff800000000000") print $i }' \
  | sort -u > "$tmp/addresses"
python3 "$here/reduce_kallsyms.py" "$full" "$tmp/addresses" "$here/kallsyms"

# Two files made from exec.data for perf's messages: the kernel's build-id made 1111...1 (no machine's:
# perf looks for the build-id cache's kallsyms copy, and says so when there is none), and the kernel MMAP's
# pgoff made 0 (as recorded under kptr_restrict: no relocation symbol, perf report's warning).
kernel_id=$("$PERF" buildid-list -i "$tmp/data/exec.data" | awk '$2 == "[kernel.kallsyms]" { print $1 }')
python3 - "$tmp/data" "$kernel_id" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1] + "/exec.data", "rb").read())
kernel_id = bytes.fromhex(sys.argv[2])
other = bytearray(d)
i = other.find(kernel_id)
other[i:i + 20] = b"\x11" * 20
open(sys.argv[1] + "/otherbid.data", "wb").write(other)
i = d.find(b"[kernel.kallsyms]_text\0")
struct.pack_into("<Q", d, i - 8, 0)             # PERF_RECORD_MMAP: ..., pgoff u64, filename[]
open(sys.argv[1] + "/pgoff0.data", "wb").write(d)
PY

mkdir -p "$here/data" "$tmp/symfs$tmp/bin"
rm -f "$here"/data/*.data.xz
for f in "$tmp"/data/*.data; do
  xz -9 -c "$f" > "$here/data/$(basename "$f").xz"
done
cp "$tmp/bin/kwork" "$tmp/symfs$tmp/bin/"
tar -C "$tmp/symfs" --owner=0 --group=0 --sort=name --mtime="2026-01-01 00:00:00" -cJf "$here/symfs.tar.xz" .
echo "record.sh: $(ls "$here"/data | wc -l) recordings, kallsyms $(wc -l < "$here/kallsyms") lines, $(du -sh "$here" | cut -f1)"
