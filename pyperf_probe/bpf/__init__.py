"""eBPF written by pyperf, without clang, kernel headers or libbpf (issue 13; the BPF-on-tracepoints seed).

* ``insn``      the instruction set: one constructor per instruction, reading like the kernel's samples
                (``MOV64_REG(R6, R1)``, ``LDX_MEM(W, R0, R6, 24)``, ``EXIT()``), encoding and disassembly
* ``syscall``   bpf(2) through ctypes: maps (create, lookup, update, delete, iterate) and BPF_PROG_LOAD with
                the verifier's log; ``PERF_EVENT_IOC_SET_BPF`` attaches a program to a perf event
* ``btf``       BTF objects read enough to name a type by id (perf's names of BPF programs, report --header)
* ``ctypes_``   the expression language's C types (``int``, ``size_t``, ``char *``...)
* ``expr``      the expression language (C's integer expressions, casts, ``args->field``, ``$retval``...)
                parsed to a tree whose nodes remember where they were written
* ``context``   what names mean: a tracepoint's fields at its format's offsets, a function's parameters in the
                x86-64 ABI's registers (``struct pt_regs``), SDT arguments
* ``compiler``  typed trees -> instructions; ``interp`` evaluates the same trees in Python (the ring-buffer
                fallback, and the tests' reference)
"""
