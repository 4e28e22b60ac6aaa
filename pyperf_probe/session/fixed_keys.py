"""``Session.resolve`` read from a sample key's bytes, for keys of fixed fields (and RAW at their end).

Readers that keep answers per sample key (``session.counts``, ``report.script_keys``) resolve each new
key; on a system-wide tracepoint recording, whose RAW records make keys new all the time, decoding each
into a ``Sample`` and resolving that is most of their work. A kernel- or user-mode sample without a call
chain needs only its event, ip, pid and tid, cpu and period, all at fixed offsets of the key:
``FixedKeys.resolve(key)`` reads them with one unpack and does what ``Session.resolve`` does with them
(the thread its tid finds, or makes, with perf's update of an unknown pid; a kernel ip's location through
``Session.kernel_location``, kept per ip until ``forget()``; a user ip's in the thread's maps). Other
keys (another cpumode, an id ``decode_key`` would count or warn about) get None: decode and resolve them.
"""
from __future__ import annotations

import struct

from pyperf_probe.perfdata.format import SampleType

MISC_KERNEL, MISC_USER = 1, 2
# The fields a key may hold (in this order after misc and size) and those it must hold.
_FIXED = (SampleType.IDENTIFIER, SampleType.IP, SampleType.TID, SampleType.ADDR, SampleType.ID,
          SampleType.STREAM_ID, SampleType.CPU, SampleType.PERIOD)
_NEEDED = SampleType.IP | SampleType.TID | SampleType.PERIOD


class FixedKeys:
    """See the module docstring. The owner calls ``forget()`` whenever it forgets what it kept (a record
    or a resolution that changed the kernel): the kernel locations go with it."""

    def __init__(self, session, key_type: int):
        self.session = session
        self.machine = session.machine
        self.frames = session.frames
        self.key_evsel = session.data.key_evsel
        self.locations: dict[int, object] = {}
        self.evsels: dict[int, int] = {}  # id (0 without one) -> key_evsel's answer (an id's event stays)
        # one unpack of the key's fields, in the key's order; where each value is in what it gives
        codes, at = ["<4x"], {}
        for bit in _FIXED:
            if not key_type & bit:
                continue
            if bit in (SampleType.IDENTIFIER, SampleType.ID) and "id" not in at:  # (IDENTIFIER first)
                at["id"] = len(at)
                codes.append("Q")
            elif bit == SampleType.IP or bit == SampleType.PERIOD:
                at["ip" if bit == SampleType.IP else "period"] = len(at)
                codes.append("Q")
            elif bit == SampleType.TID:
                at["pid"], at["tid"] = len(at), len(at) + 1
                codes.append("ii")
            elif bit == SampleType.CPU:
                at["cpu"] = len(at)
                codes.append("I4x")
            else:
                codes.append("8x")
        self.fields = struct.Struct("".join(codes)).unpack_from
        self.id_at, self.cpu_at = at.get("id"), at.get("cpu")
        self.ip_at, self.pid_at, self.tid_at, self.period_at = at["ip"], at["pid"], at["tid"], at["period"]

    @classmethod
    def of(cls, session, layout, raw: bool = False) -> FixedKeys | None:
        """For the keys of ``layout`` when they hold IP, TID and PERIOD and nothing but fixed fields (and,
        if ``raw``, RAW after them: its owner reads RAW itself)."""
        key_type = layout.key_type
        if key_type & _NEEDED != _NEEDED or key_type & ~(sum(_FIXED) | (SampleType.RAW if raw else 0)):
            return None
        return cls(session, key_type)

    def forget(self) -> None:
        self.locations.clear()

    def resolve(self, key: bytes) -> tuple | None:
        """(evsel, thread, location, period, cpu or None, pid, tid) of a kernel- or user-mode sample's key,
        as ``Session.resolve`` makes them; None for any other key."""
        cpumode = key[0] & 7
        if cpumode != MISC_KERNEL and cpumode != MISC_USER:
            return None
        values = self.fields(key)
        sample_id = values[self.id_at] if self.id_at is not None else 0
        ip, pid, tid = values[self.ip_at], values[self.pid_at], values[self.tid_at]
        evsel = self.evsels.get(sample_id)
        if evsel is None:
            evsel = self.key_evsel(key)
            if evsel is None:
                return None
            self.evsels[sample_id] = evsel
        machine = self.machine
        thread = machine.threads.get(tid)
        if thread is None or thread.pid == -1:
            thread = machine.findnew_thread(pid, tid)
        if cpumode == MISC_USER:
            location = self.frames.location(thread.maps.find(ip), ip)
        else:
            location = self.locations.get(ip)
            if location is None:
                location = self.locations[ip] = self.session.kernel_location(ip)
        return (evsel, thread, location, values[self.period_at],
                values[self.cpu_at] if self.cpu_at is not None else None, pid, tid)
