#!/bin/sh
# The system-wide tracepoint recording of this directory, data/system.data.xz: real perf 6.1 records
# sched, syscalls, irq, block, net, signal, workqueue, writeback and kmem tracepoints of the whole machine
# while a small workload writes and syncs a file, talks to itself over loopback TCP and signals itself.
# Kernel addresses (a workqueue's %ps function) are left unnamed: make_goldens.sh and the tests read the file
# with --kallsyms data/system.kallsyms, an empty file, since the names depend on the recording's kernel and
# boot (KASLR) and the test runs on another (record_callchain.sh's recording keeps a kallsyms copy instead).
# HOME is an empty directory (no ~/.debug left behind).
# Usage: sudo ./record.sh   (then ./make_goldens.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
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
WL
chmod +x "$tmp/workload.sh"
HOME="$tmp/home" perf record -q -a -o "$tmp/system.data" \
  -e sched:sched_switch -e sched:sched_wakeup -e sched:sched_process_fork -e sched:sched_process_exec \
  -e sched:sched_process_exit -e syscalls:sys_enter_openat -e syscalls:sys_exit_openat --filter "ret < 0" \
  -e irq:softirq_raise -e irq:softirq_entry -e irq:irq_handler_entry -e block:block_rq_issue \
  -e block:block_rq_complete -e net:net_dev_queue -e net:netif_receive_skb -e signal:signal_generate \
  -e signal:signal_deliver -e workqueue:workqueue_activate_work -e writeback:writeback_dirty_inode \
  -e kmem:mm_page_alloc --filter "order > 0" -e syscalls:sys_exit_write --filter "ret > 4096" -- "$tmp/workload.sh" "$tmp/work" >/dev/null 2>&1
mkdir -p "$here/data"
xz -9 -c "$tmp/system.data" >"$here/data/system.data.xz"
