"""``perf data convert --to-json`` as perf 6.1 writes it (tools/perf/util/data-convert-json.c): a header object
from the file's features, then one object per sample with its time, pid, tid, cpu, comm and call chain.

The text is perf's ``fprintf`` calls replayed: tab indentation, ``,`` before a newline, no trailing
newline inside, ``0x%x`` ips. Strings are escaped byte by byte as ``output_json_string`` does, which
reads them through a signed ``char``: a byte of a UTF-8 sequence is negative there, and perf prints it as
``\\u%04x`` of that negative int (``\\uffffffc3``); pyperf writes the same bytes.

A sample's chain is its raw PERF_SAMPLE_CALLCHAIN, every entry but the context markers, each resolved with
``thread__find_symbol`` in the cpumode the last marker set (no inline frames, no DWARF unwinding, no
--max-stack): ``symbol`` and ``dso`` (the short name) only where a symbol is found. Without a call chain
the sample's own ip is the one entry. perf 6.1 prints no tracepoint fields.

The text of each distinct chain is kept (per process maps and their generation), so a chain seen before
costs one dict lookup.
"""
from __future__ import annotations

import os
import re
import time

from pyperf_probe.perfdata.format import (MISC_CPUMODE_MASK, MISC_HYPERVISOR, MISC_KERNEL, MISC_USER,
                                          PERF_CONTEXT_HV, PERF_CONTEXT_KERNEL, PERF_CONTEXT_MAX,
                                          PERF_CONTEXT_USER, Feature, SampleType)

MEMO_LIMIT = 1 << 16
_CONTEXTS = {PERF_CONTEXT_HV: MISC_HYPERVISOR, PERF_CONTEXT_KERNEL: MISC_KERNEL, PERF_CONTEXT_USER: MISC_USER}
_ESCAPES = {0x22: b'\\"', 0x5C: b"\\\\", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}


def _escape_table() -> list[bytes]:
    table = []
    for byte in range(256):
        if byte in _ESCAPES:
            table.append(_ESCAPES[byte])
        elif byte <= 0x1F or byte >= 0x80:   # signed char: 0x80..0xff are negative, so "<= 0x1f"
            table.append(b"\\u%04x" % ((byte - 256 if byte >= 0x80 else byte) & 0xFFFFFFFF))
        else:
            table.append(bytes([byte]))
    return table


_TABLE = _escape_table()


_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\\x80-\xff]').search


def json_string(text: str | None) -> bytes:
    """``output_json_string``: the quoted string (``""`` for NULL)."""
    if text is None:
        return b'""'
    raw = text.encode("utf-8", "surrogateescape")
    if _NEEDS_ESCAPE(raw) is None:
        return b'"' + raw + b'"'
    return b'"' + b"".join(_TABLE[b] for b in raw) + b'"'


def _delim(comma: bool, depth: int) -> bytes:
    return (b",\n" if comma else b"\n") + b"\t" * depth


def _key_string(comma: bool, depth: int, key: str, value: str | None) -> bytes:
    return _delim(comma, depth) + json_string(key) + b": " + json_string(value)


def _key_format(comma: bool, depth: int, key: str, value) -> bytes:
    return _delim(comma, depth) + json_string(key) + b": " + str(value).encode()


def headers(data) -> bytes:
    """``output_headers`` of perf 6.1."""
    hdr, f = data.header, data.feature
    out = [_key_format(False, 2, "header-version", 1)]
    mtime = os.stat(data.path).st_mtime
    out.append(_key_string(True, 2, "captured-on", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))))
    out.append(_key_format(True, 2, "data-offset", hdr.data.offset))
    out.append(_key_format(True, 2, "data-size", hdr.data.size))
    out.append(_key_format(True, 2, "feat-offset", hdr.data.offset + hdr.data.size))
    out.append(_key_string(True, 2, "hostname", _feature(f, Feature.HOSTNAME)))
    out.append(_key_string(True, 2, "os-release", _feature(f, Feature.OSRELEASE)))
    out.append(_key_string(True, 2, "arch", _feature(f, Feature.ARCH)))
    cpu_desc = _feature(f, Feature.CPUDESC)
    if cpu_desc is not None:
        out.append(_key_string(True, 2, "cpu-desc", cpu_desc))
    out.append(_key_string(True, 2, "cpuid", _feature(f, Feature.CPUID)))
    nrcpus = _feature(f, Feature.NRCPUS)
    out.append(_key_format(True, 2, "nrcpus-online", nrcpus.online if nrcpus else 0))
    out.append(_key_format(True, 2, "nrcpus-avail", nrcpus.available if nrcpus else 0))
    clock = clock_data(data)
    if clock is not None:
        clockid, tod_ns, clockid_ns = clock
        out.append(_key_format(True, 2, "clockid", clockid))
        out.append(_key_format(True, 2, "clock-time", clockid_ns))
        out.append(_key_format(True, 2, "real-time", tod_ns))
    out.append(_key_string(True, 2, "perf-version", _feature(f, Feature.VERSION)))
    out.append(_key_format(True, 2, "cmdline", "["))
    for i, arg in enumerate(_feature(f, Feature.CMDLINE) or ()):
        out.append(_delim(i != 0, 3) + json_string(arg))
    out.append(_delim(False, 2) + b"]")
    return b"".join(out)


def _feature(get, feature: int):
    try:
        value = get(feature)
    except Exception:  # a damaged section: perf's env field stays NULL
        return None
    return None if isinstance(value, bytes) else value


def clock_data(data):
    """HEADER_CLOCK_DATA (``process_clock_data``): u32 version 1, u32 clockid, u64 tod_ns, u64 clockid_ns;
    (clockid, tod_ns, clockid_ns) or None."""
    import struct
    try:
        raw = data.feature_bytes(Feature.CLOCK_DATA)
    except Exception:
        return None
    if raw is None or len(raw) < 24:
        return None
    version, clockid, tod_ns, clockid_ns = struct.unpack_from("<IIQQ", raw)
    return (clockid, tod_ns, clockid_ns) if version == 1 else None


class JsonConverter:
    """Writes the document to a binary file, one sample at a time (see the module docstring). The text of a
    sample is one formatting of perf's layout: the parts that depend on the thread only (pid, tid, comm)
    are kept per thread, the chain's per distinct chain."""

    SAMPLE = b'%s\n\t\t{\n\t\t\t"timestamp": %d%s%s%s%s\n\t\t\t]\n\t\t}'

    def __init__(self, session, out):
        self.session, self.out = session, out
        self.nr_samples = 0
        self.bytes_written = 0
        self._chains: dict = {}
        self._threads: dict = {}
        self._cpu = any(e.attr.sample_type & SampleType.CPU for e in session.evsels)

    def begin(self) -> None:
        self._emit(b'{' + _delim(False, 1) + b'"linux-perf-json-version": 1' + _delim(True, 1) + b'"headers": {'
                   + headers(self.session.data) + _delim(False, 1) + b"}" + _delim(True, 1) + b'"samples": [')

    def end(self) -> None:
        self._emit(_delim(False, 1) + b"]" + _delim(False, 0) + b"}\n")
        self.out.flush()

    def _emit(self, chunk: bytes) -> None:
        self.out.write(chunk)
        self.bytes_written += len(chunk)

    def add(self, sample) -> None:
        """``process_sample_event``."""
        s, t = sample.sample, sample.thread
        parts = self._threads.get(t)
        if parts is None:
            parts = self._threads[t] = (_key_format(True, 3, "pid", t.pid) + _key_format(True, 3, "tid", t.tid),
                                        _key_string(True, 3, "comm", t.comm) + _key_format(True, 3, "callchain", "["))
        cpu = b',\n\t\t\t"cpu": %d' % (-1 if s.cpu is None else s.cpu) if self._cpu else b""
        text = self.SAMPLE % (b"," if self.nr_samples else b"", -1 if s.time is None else s.time, parts[0], cpu,
                              parts[1], self._chain_text(sample))
        self.nr_samples += 1
        self.out.write(text)
        self.bytes_written += len(text)

    def _chain_text(self, sample) -> bytes:
        s = sample.sample
        if s.callchain is None:
            return _entry(s.ip or 0, sample.location)
        session = self.session
        machine = session.machine
        thread = machine.threads.get(s.tid) if s.tid is not None else None
        maps = thread.maps if thread is not None else None
        key = (maps, maps.generation if maps is not None else 0, machine.kernel_maps.generation, s.callchain)
        text = self._chains.get(key)
        if text is None:
            text = self._resolve(thread, s.callchain)
            if len(self._chains) >= MEMO_LIMIT:
                self._chains.clear()
            self._chains[key] = text
        return text

    def _resolve(self, thread, callchain) -> bytes:
        session, cpumode, out = self.session, MISC_USER, []
        for ip in callchain:
            if ip >= PERF_CONTEXT_MAX:
                cpumode = _CONTEXTS.get(ip, cpumode)   # an unknown marker: perf keeps the cpumode
                continue
            frame = None
            if thread is not None:
                map_ = session.map_for(thread, cpumode, ip) if hasattr(session, "map_for") else \
                    session._map_for(thread, cpumode, ip)
                frame = session.frames.location(map_, ip)
            if out:
                out.append(b",")
            out.append(_entry(ip, frame))
        return b"".join(out)


def _entry(ip: int, frame) -> bytes:
    """``output_sample_callchain_entry``: the ip, and the symbol and dso's short name when a symbol is
    known."""
    text = _delim(False, 4) + b"{" + _delim(False, 5) + b'"ip": "0x%x"' % ip
    if frame is not None and frame.sym:
        text += b"," + _key_string(False, 5, "symbol", frame.sym)
        if frame.dso_obj is not None and frame.dso:
            text += b"," + _key_string(False, 5, "dso", frame.dso)
    return text + _delim(False, 4) + b"}"


def convert(session, out, samples) -> int:
    """Write the document for ``samples`` (the session's, in perf's order) to ``out``; the sample count."""
    conv = JsonConverter(session, out)
    conv.begin()
    for sample in samples:
        conv.add(sample)
    conv.end()
    return conv.nr_samples
