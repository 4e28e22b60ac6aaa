"""The ``%p`` extensions a print fmt may use on a field (libtraceevent's ``print_mac_arg``,
``print_ip_arg``, ``print_ipsa_arg``, ``print_uuid_arg``, ``print_raw_buff_arg``; perf 6.1's copy): MAC
addresses (``%pM %pMR %pMF %pm``), IPv4/IPv6 addresses (``%pI4 %pi4 %pI6 %pi6 %pI6c``), socket addresses
(``%pIS[pc]``), UUIDs (``%pU[bBlL]``) and byte buffers (``%*ph[CDN]``). ``%pS``-style kernel functions are
the printer's (they need the session's symbols).
"""
from __future__ import annotations

import struct

from pyperf_probe.traceevent.args import Arg
from pyperf_probe.traceevent.fields import FormatField, dynamic_span


def field_of(arg: Arg) -> FormatField | None:
    """The field an argument reads, through its casts (None for anything else)."""
    while arg.kind == "type":
        arg = arg.v["item"]
    return arg.v.get("field") if arg.kind == "field" else None


def mac(spec: str, arg: Arg, data: bytes) -> str:
    """``print_mac_arg``: 6 bytes, ``:``-separated (``-`` for ``F``, none for ``m``), reversed for ``R``."""
    field = field_of(arg)
    if field is None:
        return "ARG TYPE NOT FIELD BUT %d" % 0
    if field.size != 6:
        return "INVALIDMAC"
    b = data[field.offset:field.offset + 6]
    if len(spec) > 1 and spec[1] == "R":
        b = b[::-1]
    sep = "" if spec[0] == "m" else "-" if spec[1:2] == "F" else ":"
    return sep.join("%02x" % x for x in b)


def ip(spec: str, arg: Arg, data: bytes) -> str:
    """``print_ip_arg``: ``%pI4``/``%pi4`` (``h``/``l``: reversed), ``%pI6``/``%pi6``/``%pI6c``, ``%pIS``."""
    i, kind = spec[0], spec[1:2]
    field = field_of(arg)
    if kind == "4":
        if field is None:
            return "ARG TYPE NOT FIELD BUT 0"
        if field.size != 4:
            return "INVALIDIPv4"
        b = data[field.offset:field.offset + 4]
        if spec[2:3] in ("h", "l"):
            b = b[::-1]
        return ".".join(("%03d" if i == "i" else "%d") % x for x in b)
    if kind == "6":
        if field is None:
            return "ARG TYPE NOT FIELD BUT 0"
        if field.size != 16:
            return "INVALIDIPv6"
        b = data[field.offset:field.offset + 16]
        if i == "I" and spec[2:3] == "c":
            return ip6_compressed(b)
        return (":" if i == "I" else "").join("%02x%02x" % (b[j], b[j + 1]) for j in range(0, 16, 2))
    if kind == "S":
        return ipsa(spec, arg, data)
    return "%" + "p" + i


def ipsa(spec: str, arg: Arg, data: bytes) -> str:
    """``print_ipsa_arg``: a sockaddr (``__get_sockaddr`` or a field): AF_INET / AF_INET6."""
    have_p = "p" in spec[2:]
    if arg.kind == "dynarray":
        offset, length = dynamic_span(arg.v["field"], data)
        buf = data[offset:offset + length]
    else:
        field = field_of(arg)
        if field is None:
            return "ARG TYPE NOT FIELD BUT 0"
        buf = data[field.offset:field.offset + field.size]
    if len(buf) < 2:
        return "INVALIDIPv4"
    family = struct.unpack_from("<H", buf)[0]
    if family == 2:  # AF_INET
        if len(buf) < 16:
            return "INVALIDIPv4"
        out = ".".join("%d" % x for x in buf[4:8])
        return out + (":%d" % struct.unpack_from(">H", buf, 2)[0] if have_p else "")
    if family == 10:  # AF_INET6
        if len(buf) < 28:
            return "INVALIDIPv6"
        addr = buf[8:24]
        text = ip6_compressed(addr) if "c" in spec[2:] else ":".join(
            "%02x%02x" % (addr[j], addr[j + 1]) for j in range(0, 16, 2))
        if have_p:
            return "[" + text + "]:%d" % struct.unpack_from(">H", buf, 2)[0]
        return text
    return ""


def uuid(spec: str, arg: Arg, data: bytes) -> str:
    """``print_uuid_arg``: 16 bytes as 8-4-4-4-12 hex (``%pUl``/``%pUL``: the first three groups
    little-endian; capitals for ``L``/``B``)."""
    field = field_of(arg)
    if field is None:
        return "ARG TYPE NOT FIELD BUT 0"
    if field.size != 16:
        return "INVALIDUUID"
    b = data[field.offset:field.offset + 16]
    index = (3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15) if spec[1:2] in ("L", "l") else range(16)
    fmt = "%02X" if spec[1:2] in ("L", "B") else "%02x"
    out = ""
    for n, i in enumerate(index):
        out += fmt % b[i]
        if n in (3, 5, 7, 9):
            out += "-"
    return out


def raw_buff(spec: str, arg: Arg, data: bytes, width: int | None) -> str:
    """``print_raw_buff_arg``: ``%*ph`` bytes of a dynamic array, separated per the suffix."""
    sep = {"C": ":", "D": "-", "N": ""}.get(spec[1:2], " ")
    if arg.kind != "dynarray":
        return "ARG NOT DYNAMIC ARRAY"
    offset, length = dynamic_span(arg.v["field"], data)
    n = width if width is not None and width >= 0 else 1
    n = min(n, length)
    return sep.join("%02x" % x for x in data[offset:offset + n])


def ip6_compressed(b: bytes) -> str:
    """``print_ip6c_addr``: RFC 5952 text (the longest run of zero words as ``::``)."""
    import ipaddress
    return str(ipaddress.IPv6Address(bytes(b)))
