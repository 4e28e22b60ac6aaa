#!/bin/sh
# The tracepoint recording with call chains of this directory, data/callchain.data.xz: real perf 6.1
# records sched, net, signal, timer and syscalls tracepoints of record.sh's workload (dd writing and syncing
# a file, python talking to itself over loopback TCP and signalling itself, cat, a short sleep: its
# hrtimer_start prints a kernel function with %ps) and its children, with kernel call chains only (--kernel-callchains: user frames would need the machine's binaries). Every
# event is a tracepoint (no -a, so no dummy event): perf report's default sort key is `trace`, and
# `trace_fields` under --raw-trace. Kept beside it:
#   data/callchain.kallsyms   the kallsyms copy perf record stored in the build-id cache, cut down by
#                             ../kernel/reduce_kallsyms.py to the lines the recording's kernel addresses need,
#                             those of the %ps arguments too (the addresses change with every boot: KASLR).
# HOME is an empty directory in a temporary one, removed at the end.
# Usage: sudo ./record_callchain.sh   (then ./make_goldens.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PERF=${PERF:-/usr/bin/perf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir "$tmp/home" "$tmp/work"
cat >"$tmp/workload.sh" <<'WL'
#!/bin/sh
dd if=/dev/zero of="$1/f" bs=64k count=4 conv=fsync 2>/dev/null
python3 -c "
import os, signal, socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.sendall(b'x' * 1000); a.recv(2000)
signal.signal(signal.SIGUSR1, lambda *a: None); os.kill(os.getpid(), signal.SIGUSR1)
"
cat "$1/f" >/dev/null
cat "$1/nonexistent" 2>/dev/null || true
sleep 0.01
WL
chmod +x "$tmp/workload.sh"
HOME="$tmp/home" "$PERF" record -q -g --kernel-callchains -o "$tmp/callchain.data" \
  -e sched:sched_switch -e sched:sched_wakeup -e sched:sched_process_exec -e sched:sched_process_exit \
  -e net:net_dev_queue -e signal:signal_generate -e syscalls:sys_exit_openat --filter "ret < 0" \
  -e timer:hrtimer_start \
  -- "$tmp/workload.sh" "$tmp/work" >/dev/null 2>&1
full=$(ls "$tmp/home/.debug/[kernel.kallsyms]"/*/kallsyms)
{
  "$PERF" script -i "$tmp/callchain.data" -F ip --kallsyms "$full" 2>/dev/null
  "$PERF" script -i "$tmp/callchain.data" -F ip -G --kallsyms "$full" 2>/dev/null
  # the tracepoints' own kernel addresses (%ps arguments), printed raw
  "$PERF" report -i "$tmp/callchain.data" --stdio --raw-trace --sort trace -g none 2>/dev/null \
    | grep -o '=0xffff[89a-f][0-9a-f]\{11\}' | cut -c4-
} | awk '{ for (i = 1; i <= NF; i++) if (length($i) == 16 && $i >= "ffff800000000000") print $i }' \
  | sort -u >"$tmp/addresses"
mkdir -p "$here/data"
python3 "$here/../kernel/reduce_kallsyms.py" "$full" "$tmp/addresses" "$here/data/callchain.kallsyms"
xz -9 -c "$tmp/callchain.data" >"$here/data/callchain.data.xz"
echo "record_callchain.sh: $("$PERF" report -i "$tmp/callchain.data" --stdio 2>/dev/null | grep -c '^# Samples') events," \
  "kallsyms $(wc -l <"$here/data/callchain.kallsyms") lines, $(du -h "$here/data/callchain.data.xz" | cut -f1)"
