"""``pyperf argdist``: bcc's tools/argdist.py, with BPF written by pyperf (no clang, no kernel headers).

Options -> specifiers (argdist/spec.py) -> probes resolved and their expressions typed (argdist/probes.py)
-> maps, programs, uprobes and events in the kernel (argdist/session.py) -> every INTERVAL seconds bcc's
``[HH:MM:SS]`` block of tables and histograms (argdist/display.py) -> everything removed.

Beyond bcc: ``-- COMMAND`` runs a command and counts its process from its exec to its end (as ``-p`` would
count it), printing a last block when it ends; ``-v`` shows each program's instructions and the kernel
verifier's log where bcc shows its C text. Where no BPF program can be loaded (not root, or
``PYPERF_NO_BPF=1``), the same counts come from the events' samples in user space (argdist/userspace.py),
and ``-v`` says so.
"""
from __future__ import annotations

import errno
import os
import signal
import sys
import time

from pyperf_probe.errors import UsageError

EXAMPLES = """
  pyperf argdist -H 'p:c:malloc(size_t size):size_t:size'
        histogram of the sizes malloc is asked for, in every process
  pyperf argdist -p 1005 -C 'p:c:malloc(size_t size):size_t:size:size==16'
        how often process 1005 called malloc for 16 bytes
  pyperf argdist -C 'r:c:gets():char*:(char*)$retval#snooped strings'
        the strings gets() returned
  pyperf argdist -H 'r:c:read(int fd, void *buf, size_t count):u64:$latency:$entry(count) > 1024'
        latency of reads of more than 1 KB
  pyperf argdist -H 't:syscalls:sys_enter_write():u64:args->count' -- dd if=/dev/zero of=/dev/null count=1000
        write sizes of one command, printed when it ends
  pyperf argdist -C 't:syscalls:sys_enter_openat():char*:args->filename' -z 64 -T 5
        the 5 files opened most often
  pyperf argdist -C 'u:/usr/bin/python3:function__entry():char*:arg2' -p 1337
        Python functions called by process 1337 (its SDT marker, semaphore raised)
  pyperf argdist -C 'p:c:write(int fd, char *buf, size_t len):u32:$PID,$COMM:fd==1' -c
        who writes to stdout, counted since the start (-c)

Probe specifier syntax (bcc's):
  {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
  p,r,t,u   function entry, function return ($retval, $entry(param), $latency), tracepoint, SDT marker
  library   the library or program (a path, a name on $PATH, a soname, or bcc's short name: c = libc)
  category  the tracepoint's category (sched, syscalls...); its fields are args->FIELD
  signature the function's parameters, as in C: they are read from the x86-64 ABI's registers
  type      the C type of each expression (u64, int, size_t, char* for a string of -z bytes)
  expr      C integer expressions: + - * / % << >> & | ^ ~ ! && || ?: comparisons, casts, *ptr, ptr[i],
            STRCMP("text", str), str == "text"; $PID $TID $COMM $cpu $UID $GID; argN of a marker
  filter    an expression: the event counts when it is not 0
  label     the title printed instead of the specifier
"""


def build_parser():
    from pyperf_probe.cmdline import Parser
    p = Parser("pyperf argdist", description="Trace a function and display a summary of its parameter values.",
               examples=EXAMPLES)
    p.add_argument("-p", "--pid", type=int, help="id of the process to trace (optional)")
    p.add_argument("-t", "--tid", type=int, help="id of the thread to trace (optional)")
    p.add_argument("-z", "--string-size", default=80, type=int,
                   help="maximum string size to read from char* arguments")
    p.add_argument("-i", "--interval", default=1, type=int, help="output interval, in seconds (default 1 second)")
    p.add_argument("-d", "--duration", type=int, help="total duration of trace, in seconds")
    p.add_argument("-n", "--number", type=int, dest="count", help="number of outputs")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the BPF programs and the verifier's log before running")
    p.add_argument("-c", "--cumulative", action="store_true",
                   help="do not clear histograms and freq counts at each interval")
    p.add_argument("-T", "--top", type=int, help="number of top results to show (not applicable to histograms)")
    p.add_argument("-H", "--histogram", action="append", dest="histspecifier", metavar="specifier",
                   help="probe specifier to capture histogram of (see examples below)")
    p.add_argument("-C", "--count", action="append", dest="countspecifier", metavar="specifier",
                   help="probe specifier to capture count of (see examples below)")
    p.add_argument("-I", "--include", action="append", metavar="header",
                   help="(bcc's: C headers for the program; pyperf compiles no C, so none is needed)")
    p.add_argument("command", nargs="*", help="a command to run and trace until it ends (after --)")
    return p


class _Stop(Exception):
    """SIGTERM or SIGHUP: leave through the same ``finally`` as the end of a run."""


def _on_signal(signum, frame):
    raise _Stop(signum)


def main(argv: list[str], opts) -> int:
    args = build_parser().parse_args(argv)
    from pyperf_probe.argdist.spec import parse_spec
    from pyperf_probe.argdist.program import string_size_ok
    if args.include:
        raise UsageError("-I: pyperf argdist compiles no C: headers are not used (struct members are read "
                         "through casts, see --help)")
    if args.interval < 1:
        raise UsageError("-i: the interval is a number of seconds, at least 1")
    if args.command and args.pid is not None:
        raise UsageError("-p and a command exclude each other: the command's process is the one traced")
    string_size_ok(args.string_size)
    specs = [parse_spec(s, "freq") for s in (args.countspecifier or [])]
    specs += [parse_spec(s, "hist") for s in (args.histspecifier or [])]
    if not specs:
        print("at least one specifier is required")
        return 1
    from pyperf_probe.argdist.probes import resolve
    probes = [resolve(spec, i, args.string_size) for i, spec in enumerate(specs)]
    verbose = _printer() if args.verbose or opts.verbose else None
    from pyperf_probe.argdist.session import remove_stale_groups
    remove_stale_groups()
    session = _session(probes, args, verbose, opts)
    workload, finished = None, False
    old = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        if args.command:
            from pyperf_probe.record.workload import Workload
            workload = Workload(args.command)
        session = _start(session, probes, args, verbose, workload)
        if workload:
            err = workload.start()
            if err is not None:
                raise UsageError(f"Failed to run '{args.command[0]}': {os.strerror(err)}")
        _loop(session, probes, args, workload)
        finished = True
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        problems = session.close()
        if workload is not None:
            if getattr(workload, "_pidfd", None) is not None:
                os.close(workload._pidfd)
            workload.wait() if finished else workload.stop()
        for text in problems:
            sys.stderr.write(text + "\n")
    return 0


def _session(probes, args, verbose, opts, user: bool | None = None):
    from pyperf_probe.argdist.userspace import ENV_NO_BPF, UserSession
    from pyperf_probe.argdist.session import Session
    if user is None:
        user = bool(os.environ.get(ENV_NO_BPF))
        if user and (args.verbose or opts.verbose):
            sys.stderr.write(f"argdist: counting in user space from the ring buffer ({ENV_NO_BPF} is set)\n")
    return (UserSession if user else Session)(probes, pid=args.pid, tid=args.tid, verbose=verbose)


def _start(session, probes, args, verbose, workload):
    """Maps, programs and events in the kernel; where BPF cannot be used (EPERM, ENOSYS), the same probes
    counted in user space instead, said under -v."""
    from pyperf_probe.argdist.userspace import UserSession
    from pyperf_probe.errors import BpfError
    try:
        _setup(session, args, workload)
        return session
    except BpfError as exc:
        if isinstance(session, UserSession) or exc.errno not in (errno.EPERM, errno.EACCES, errno.ENOSYS):
            raise
        for text in session.close():
            sys.stderr.write(text + "\n")
        if args.verbose or verbose:
            sys.stderr.write(f"argdist: BPF is not available ({exc.message}): counting in user space from the "
                             "ring buffer\n")
        session = UserSession(probes, pid=args.pid, tid=args.tid, verbose=verbose)
        try:
            _setup(session, args, workload)
        except BaseException:
            session.close()
            raise
        return session


def _setup(session, args, workload) -> None:
    if workload is not None:
        session.use_gate_map()
        session.watch_exec(workload.pid)
    session.setup(task=workload.pid if workload else args.pid)


def _printer():
    def show(lines):
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    return show


def _wait(session, workload, seconds: float) -> bool:
    """Sleep ``seconds``, or less if the command ends; whether it has ended. A session counting in user space
    drains its rings meanwhile."""
    import select
    fd = None
    if workload is not None:
        fd = getattr(workload, "_pidfd", None)
        if fd is None:
            fd = workload._pidfd = os.pidfd_open(workload.pid)
    pump = getattr(session, "pump", None)
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        if pump is not None:
            pump(min(left, 0.05))
        if fd is not None:
            ready, _, _ = select.select([fd], [], [], 0 if pump is not None else left)
            if ready:
                return True
        elif pump is None:
            time.sleep(left)


def _loop(session, probes, args, workload) -> None:
    from pyperf_probe.argdist import display as D
    count_so_far, seconds = 0, 0
    while True:
        ended = _wait(session, workload, args.interval)
        seconds += args.interval
        if ended:
            session.ended = True
        lines = ["[%s]" % time.strftime("%H:%M:%S")]
        for probe in probes:
            counts = session.interval(probe, args.cumulative)
            if probe.spec.type == "freq":
                lines += D.freq_lines(probe.spec, counts, probe.key_fields, args.top)
            else:
                vals = [counts.get(i, 0) for i in range(65)]
                lines += D.log2_hist_lines(vals, D.hist_label(probe.spec))
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        count_so_far += 1
        if ended or (args.count is not None and count_so_far >= args.count) or \
                (args.duration and seconds >= args.duration):
            return
