"""The ptrace backend (issue 14): probes without root or uprobes, producing the records the kernel's ring
buffer would, so that everything above perfdata/ cannot tell the difference (DESIGN.md, "Growing the
layers").

``pyperf probe --ptrace`` stores what ``-a`` would write to uprobe_events (store.py, probe_cmd.py);
``pyperf record``/``stat`` with such events run the tracer (engine.py) instead of perf_event_open.

Modules, bottom to top:

* syscalls.py   the ptrace requests, over python-ptrace's binding (and why not its debugger layer)
* memory.py     a tracee's memory through /proc/PID/mem
* procfs.py     maps, threads, status, auxv; kcmp
* insn.py       how the probed instruction runs after a hit: boosted out of line, or emulated (the choice,
                and why, is there)
* xol.py        the out-of-line pages: slots, the return trampoline, where pages go
* inject.py     system calls run inside a stopped tracee (mapping and unmapping those pages)
* tracee.py     sites, breakpoints, address spaces, processes, threads, return instances
* engine.py     the waitpid loop: hits, return probes, fork/vfork/clone/exec, signals, -p attach
* placement.py  breakpoints into mappings (by device+inode and file offset), SDT semaphores, dlopen hook
* detach.py     the way out: everything restored, every thread detached
* fetch.py      probe arguments and the RAW record and format text, as the kernel's uprobe events
* stack.py      frame-pointer chains (perf_callchain_user) and user-stack copies
* events.py     the events' attrs, ids, TRACING_DATA
* record.py     pyperf record's records and file
* stat.py       pyperf stat's counts
* store.py      where definitions are kept; probe_cmd.py: pyperf probe's side
"""
