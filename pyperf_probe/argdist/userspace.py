"""argdist without BPF: the same probes, their events sampled into ring buffers, and the programs' work done
in user space by the interpreter of the same typed trees (bpf/interp.py), so the tables and histograms are
the ones the kernel would have counted.

Used when no BPF map or program can be created (not root: EPERM; a kernel without BPF: ENOSYS), or when
``PYPERF_NO_BPF=1`` asks for it. Each event's samples carry what the expressions read: the thread
(``PERF_SAMPLE_TID``), the time (CLOCK_MONOTONIC, as ``bpf_ktime_get_ns``), the CPU, a tracepoint's record
(``PERF_SAMPLE_RAW``), a uprobe's registers (``PERF_SAMPLE_REGS_USER``: at a uprobe, the probed registers);
memory behind pointers is read from ``/proc/PID/mem`` when the sample is processed (the process may have
changed it since: the kernel reads it at the event, user space a little later). A command's events are its
own (per-task, inherited, enabled at its exec); with ``-p`` the process's threads'; else one per CPU.
Samples are processed in time order per drain, so an entry and its return pair up as in the kernel.
"""
from __future__ import annotations

import bisect
import errno as errno_mod
import os
import select
import struct
import time

from pyperf_probe.argdist.session import PERF_TYPE_TRACEPOINT, Session
from pyperf_probe.bpf.context import PT_REGS
from pyperf_probe.bpf.interp import Env, evaluate, string_value
from pyperf_probe.errors import KernelError

ENV_NO_BPF = "PYPERF_NO_BPF"

# arch/x86/include/uapi/asm/perf_regs.h: enum perf_event_x86_regs, by struct pt_regs slot name
PERF_REGS_X86 = {"ax": 0, "bx": 1, "cx": 2, "dx": 3, "si": 4, "di": 5, "bp": 6, "sp": 7, "ip": 8, "flags": 9,
                 "cs": 10, "ss": 11, "r8": 16, "r9": 17, "r10": 18, "r11": 19, "r12": 20, "r13": 21, "r14": 22,
                 "r15": 23}
# include/uapi/linux/perf_event.h
SAMPLE_IDENTIFIER, SAMPLE_TID, SAMPLE_TIME, SAMPLE_CPU, SAMPLE_RAW, SAMPLE_REGS_USER = (
    1 << 16, 1 << 1, 1 << 2, 1 << 7, 1 << 10, 1 << 12)
RECORD_LOST, RECORD_SAMPLE = 2, 9
CLOCK_MONOTONIC = 1
FLAG_DISABLED, FLAG_INHERIT, FLAG_ENABLE_ON_EXEC, FLAG_USE_CLOCKID = 1 << 0, 1 << 1, 1 << 12, 1 << 25
DATA_PAGES = 256
HOLD_NS = 2_000_000         # samples younger than this when the rings are read wait for the next reading


class ProcEnv(Env):
    """A sample as the interpreter sees it; memory from /proc/PID/mem, comm from /proc."""

    _comms: dict = {}
    _mems: dict = {}
    failed_reads = 0

    def read(self, addr: int, size: int):
        fd = self._mems.get(self.pid)
        if fd is None:
            try:
                fd = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY)
            except OSError:
                fd = -1
            self._mems[self.pid] = fd
        try:
            data = os.pread(fd, size, addr) if fd >= 0 else b""
        except (OSError, OverflowError):
            data = b""
        if len(data) != size:
            ProcEnv.failed_reads += 1
            return None
        return data

    @property
    def comm(self) -> bytes:
        name = self._comms.get(self.tid)
        if name is None:
            try:
                with open(f"/proc/{self.pid}/task/{self.tid}/comm", "rb") as f:
                    name = f.read().rstrip(b"\n")[:15]
            except OSError:
                name = b""
            self._comms[self.tid] = name
        return name

    @classmethod
    def close_all(cls) -> None:
        for fd in cls._mems.values():
            if fd >= 0:
                os.close(fd)
        cls._mems.clear()
        cls._comms.clear()
        cls.failed_reads = 0


class UserSession(Session):
    """Session's interface (setup, interval, close) with the counting done here (module docstring)."""

    mode = "user space"

    def __init__(self, probes: list, **kw):
        super().__init__(probes, **kw)
        self.rings: list = []
        self.handlers: dict = {}         # event id -> (probe, site, "entry" | "probe")
        self.counts: dict = {p.index: {} for p in probes}
        self.saved: dict = {}            # (probe index, site number, tid) -> slot values
        self.lost = 0
        self.tgid = kw.get("pid")
        self._pending: list = []
        self.ended = False          # the command has ended: every sample is in the rings

    def use_gate_map(self) -> None:
        """No map: the command's events are its own and enabled at its exec."""

    def watch_exec(self, child_pid: int) -> None:
        self.tgid = child_pid
        self.command = True

    def setup(self, task: int | None = None) -> None:
        from pyperf_probe.kernel import tracefs
        self.task = task
        for probe in self.probes:
            base = f"{probe.spec.function}_{probe.index}"
            for n, site in enumerate(probe.sites):
                if site.entry_leaves:
                    event_id = self.add_uprobe(site.entry_uprobe, f"{base}_entry")
                    self._open(event_id, probe, n, site, "entry", f"{self.group}:{base}_entry")
                if site.tracepoint:
                    self._open(tracefs.event_id(*site.tracepoint), probe, n, site, "probe", ":".join(site.tracepoint))
                else:
                    event_id = self.add_uprobe(site.uprobe, base + ("__return" if probe.spec.probe_type == "r" else ""))
                    self._open(event_id, probe, n, site, "probe", f"{self.group}:{base}")

    def _regs_mask(self, trees) -> int:
        mask = 0
        for t in trees:
            for node in t.walk():
                if node.op == "reg":
                    name = PT_REGS[node.value // 8]
                    if name not in PERF_REGS_X86:
                        raise KernelError(f"{name} is not in a sample's user registers", errno=errno_mod.EINVAL)
                    mask |= 1 << PERF_REGS_X86[name]
        return mask

    def _targets(self) -> list:
        """(pid, cpu) of each perf event to open for one probe event: per CPU always, since an inherited event
        cannot be mapped without a CPU (perf_mmap)."""
        cpus = range(os.cpu_count() or 1)
        if getattr(self, "command", False):
            return [(self.tgid, cpu) for cpu in cpus]
        if self.pid is not None:
            try:
                threads = [int(t) for t in os.listdir(f"/proc/{self.pid}/task")]
            except OSError as exc:
                raise KernelError(f"Cannot read the threads of process {self.pid}: {exc.strerror}",
                                  errno=exc.errno) from None
            return [(t, cpu) for t in threads for cpu in cpus]
        return [(-1, cpu) for cpu in cpus]

    def _open(self, event_id: int, probe, n: int, site, kind: str, name: str) -> None:
        from pyperf_probe.kernel import perf_event
        from pyperf_probe.kernel.ringbuf import RingBuffer
        from pyperf_probe.perfdata.format import EventAttr
        trees = site.entry_leaves if kind == "entry" else list(site.exprs) + ([site.filter] if site.filter else [])
        mask = self._regs_mask(trees)
        sample = SAMPLE_IDENTIFIER | SAMPLE_TID | SAMPLE_TIME | SAMPLE_CPU | SAMPLE_RAW
        if mask:
            sample |= SAMPLE_REGS_USER
        flags = FLAG_USE_CLOCKID
        if getattr(self, "command", False):
            flags |= FLAG_DISABLED | FLAG_INHERIT | FLAG_ENABLE_ON_EXEC
        elif self.pid is not None:
            flags |= FLAG_INHERIT
        attr = EventAttr(type=PERF_TYPE_TRACEPOINT, config=event_id, sample_period=1, sample_type=sample,
                         flags=flags, wakeup=1, sample_regs_user=mask, clockid=CLOCK_MONOTONIC)
        for pid, cpu in self._targets():
            fd = perf_event.open_event(attr, pid, cpu, name=name)
            self.perf_fds.append(fd)
            self.handlers[perf_event.event_id(fd)] = (probe, n, site, kind, mask)
            self.rings.append(RingBuffer(fd, DATA_PAGES))

    # -- samples

    def pump(self, timeout: float, flush: bool = False) -> None:
        """Wait up to ``timeout`` seconds for samples, then process, in time order, those older than a
        moment before the rings were read: a younger one may still be on its way into another CPU's ring
        with an older one of the same thread behind it (an entry behind its return). ``flush``: everything
        (the traced command has ended)."""
        if timeout > 0:
            select.select([r.fd for r in self.rings], [], [], timeout)
        cutoff = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - HOLD_NS
        samples = self._pending
        for ring in self.rings:
            chunks = []
            ring.drain(lambda view: chunks.append(bytes(view)))
            if chunks:
                self._parse(b"".join(chunks), samples)
        samples.sort(key=lambda s: s[0])
        ready = len(samples) if flush else bisect.bisect_left([s[0] for s in samples], cutoff)
        self._pending = samples[ready:]
        for sample in samples[:ready]:
            self._process(*sample[1:])

    def _parse(self, data: bytes, out: list) -> None:
        pos = 0
        while pos + 8 <= len(data):
            rtype, _, size = struct.unpack_from("<IHH", data, pos)
            if size < 8:
                break
            if rtype == RECORD_LOST:
                self.lost += struct.unpack_from("<Q", data, pos + 16)[0]
            elif rtype == RECORD_SAMPLE:
                at = pos + 8
                ident, pid, tid, time, cpu = struct.unpack_from("<QIIQI", data, at)
                at += 32
                raw_size = struct.unpack_from("<I", data, at)[0]
                raw = data[at + 4:at + 4 + raw_size]
                at += (4 + raw_size + 7) & ~7
                handler = self.handlers.get(ident)
                if handler is not None:
                    regs = {}
                    mask = handler[4]
                    if mask and struct.unpack_from("<Q", data, at)[0]:
                        at += 8
                        for name, bit in sorted(PERF_REGS_X86.items(), key=lambda kv: kv[1]):
                            if mask >> bit & 1:
                                regs[PT_REGS.index(name) * 8] = struct.unpack_from("<Q", data, at)[0]
                                at += 8
                    out.append((time, handler, pid, tid, time, cpu, raw, regs))
            pos += size

    def _process(self, handler, pid, tid, time, cpu, raw, regs) -> None:
        probe, n, site, kind, _ = handler
        if self.tgid is not None and pid != self.tgid:
            return
        env = ProcEnv()
        env.pid, env.tid, env.ktime, env.cpu, env.raw, env.regs = pid, tid, time, cpu, raw, regs
        if kind == "entry":
            self.saved[(probe.index, n, tid)] = tuple(evaluate(leaf, env) & ((1 << 64) - 1)
                                                     for leaf in site.entry_leaves)
            return
        if site.entry_leaves:
            saved = self.saved.pop((probe.index, n, tid), None)
            if saved is None:
                return
            env.saved = saved
        if self.tid is not None and tid != self.tid:
            return
        if site.filter is not None and not evaluate(site.filter, env):
            return
        counts = self.counts[probe.index]
        if probe.spec.type == "hist":
            value = evaluate(site.exprs[0], env) & ((1 << 64) - 1)
            slot = 1 if value <= 1 else value.bit_length()
            counts[slot] = counts.get(slot, 0) + 1
            return
        key = bytearray(probe.key_size)
        for t, kf in zip(site.exprs, probe.key_fields):
            if kf.is_string:
                text = string_value(t, env, kf.size)
                key[kf.offset:kf.offset + len(text)] = text
            else:
                value = evaluate(t, env) & ((1 << (8 * kf.size)) - 1)
                key[kf.offset:kf.offset + kf.size] = value.to_bytes(kf.size, "little")
        key = bytes(key)
        counts[key] = counts.get(key, 0) + 1

    def totals(self, probe) -> dict:
        self.pump(0, flush=self.ended)
        return dict(self.counts[probe.index])

    def close(self) -> list:
        for ring in self.rings:
            ring.close()
        self.rings = []
        failed = ProcEnv.failed_reads
        ProcEnv.close_all()
        problems = super().close()
        if failed:
            problems.append(f"argdist: {failed} reads of process memory failed (counted as zeros, strings as empty): "
                            "in user space they happen after the event, and the process may have exited")
        if self.lost:
            problems.append(f"{self.lost} events were lost (the ring buffers overflowed): the counts are short")
        return problems

