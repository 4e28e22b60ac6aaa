"""bcc argdist's output, character for character: ``[HH:MM:SS]`` blocks, ``COUNT EVENT`` tables
(tools/argdist.py ``Probe.display``) and log2 histograms (src/python/bcc/table.py ``_print_log2_hist`` and
``_stars``).

Values print as bcc's ctypes keys print them under Python 3: numbers in their C type's signedness, a
``char`` and a ``char *`` string as Python bytes (``b'bash'``), a ``_Bool`` as True/False, a null ``void *``
as None.
"""
from __future__ import annotations

import re
import struct

STARS_MAX = 40


def stars(val: int, val_max: int, width: int) -> str:
    """bcc's ``_stars``."""
    i, text = 0, ""
    while True:
        if i > (width * val / val_max) - 1 or i > width - 1:
            break
        text += "*"
        i += 1
    if val > val_max:
        text = text[:-1] + "+"
    return text


def log2_hist_lines(vals: list, val_type: str) -> list:
    """bcc's ``_print_log2_hist(vals, val_type, strip_leading_zero=None)``."""
    idx_max, val_max = -1, 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        if v > val_max:
            val_max = v
    if idx_max <= 32:
        header = "     %-19s : count     distribution"
        body = "%10d -> %-10d : %-8d |%-*s|"
        width = STARS_MAX
    else:
        header = "               %-29s : count     distribution"
        body = "%20d -> %-20d : %-8d |%-*s|"
        width = STARS_MAX // 2
    lines = []
    if idx_max > 0:
        lines.append(header % val_type)
    for i in range(1, idx_max + 1):
        low = (1 << i) >> 1
        high = (1 << i) - 1
        if low == high:
            low -= 1
        lines.append(body % (low, high, vals[i], width, stars(vals[i], val_max, width)))
    return lines


def display_expr(text: str) -> str:
    """bcc's ``_display_expr``: the expression as typed, ``$entry(x)`` shown as ``x``."""
    return re.sub(r"\$entry\((\w+)\)", r"\1", text)


_INT = {1: "B", 2: "H", 4: "I", 8: "Q"}


def field_value(data: bytes, kf) -> str:
    """A key field as ``str()`` of bcc's ctypes value prints it."""
    raw = data[kf.offset:kf.offset + kf.size]
    if kf.is_string:
        return str(raw.split(b"\0", 1)[0])
    ctype = kf.ctype
    if ctype.is_pointer:
        value = struct.unpack("<Q", raw)[0]
        return str(value or None)
    if ctype.name == "char":
        return str(raw[:1])
    code = _INT[kf.size]
    value = struct.unpack("<" + (code.lower() if ctype.signed else code), raw)[0]
    if ctype.name in ("_Bool", "bool"):
        return str(bool(value))
    return str(value)


def key_text(spec, key: bytes, key_fields) -> str:
    """bcc's ``_display_key`` (and the default expressions' ``total calls`` / ``retval = N``)."""
    if spec.is_default_expr:
        if spec.probe_type != "r":
            return "total calls"
        return "retval = %s" % field_value(key, key_fields[0])
    return ", ".join("%s = %s" % (display_expr(e.text), field_value(key, kf))
                     for e, kf in zip(spec.exprs, key_fields))


def freq_lines(spec, counts: dict, key_fields, top: int | None) -> list:
    """A frequency table: the spec (or its label), ``COUNT EVENT``, the keys by count (ascending; ``-T`` keeps the
    last ``top``, and, as bcc's ``sdata[-top:]``, all of them for 0). Equal counts go in key order (bcc: the
    map's order)."""
    lines = [spec.display_name, "\t%-10s %s" % ("COUNT", "EVENT")]
    items = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if top is not None:
        items = items[-top:]
    for key, value in items:
        lines.append("\t%-10s %s" % (str(value), key_text(spec, key, key_fields)))
    return lines


def hist_label(spec) -> str:
    return spec.label or (display_expr(spec.exprs[0].text) if not spec.is_default_expr else "retval")
