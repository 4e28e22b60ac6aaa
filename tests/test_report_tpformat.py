"""report.tpformat scans format texts without ``re`` (report's start-up): its scanners against the regular
expressions they stand for, on generated texts and on the format texts of this machine's tracefs, and the
``trace`` text of the uprobe formats the goldens use."""
import glob
import re

import pytest
from hypothesis import given, settings, strategies as st

from pyperf_probe.report import tpformat

FIELD = re.compile(r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
                   r"\s*signed:(?P<signed>\d+);", re.M)
PRINT_FMT = re.compile(r'^print fmt:\s*"(?P<fmt>(?:[^"\\]|\\.)*)"(?P<args>.*)$', re.M)
CONV = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+)?(?:\.(?P<prec>\d+))?(?P<len>hh|h|ll|l|L|z|j|t)?"
                  r"(?P<conv>[diouxXcsp%])")
NAME = re.compile(r"^name:\s*(\S+)", re.M)


def regex_fields(text):
    return [(re.sub(r"\[.*\]$", "", m["decl"].strip().split()[-1]), int(m["offset"]), int(m["size"]),
             m["signed"] == "1", m["decl"].strip().startswith("__data_loc"))
            for m in FIELD.finditer(text) if m["decl"].strip()]


def regex_parse(text):
    """What the regexes find: fields over the whole text (as the regex-based parser did: a field's
    leading ``\\s*`` may start on a blank line above it), the name and the print fmt line by line (the
    scanners do not let a quoted format or a ``\\s*`` run into the next line, which format texts never need)."""
    lines = text.split("\n")
    pm = next((m for m in map(PRINT_FMT.fullmatch, lines) if m), None)
    name = next((m.group(1) for m in map(NAME.match, lines) if m), "")
    return name, regex_fields(text), (pm["fmt"], pm["args"]) if pm else None


def scanned_parse(text):
    lines = text.split("\n")
    pm = next((got for got in map(tpformat._print_fmt_line, lines) if got is not None), None)
    fields = [tuple(f) for f in map(tpformat._field_line, lines) if f is not None]
    return tpformat._line_word(text, "name:"), fields, pm


PIECES = st.sampled_from(["%", "%%", "d", "i", "u", "x", "X", "o", "c", "s", "p", "l", "ll", "h", "hh", "L", "z",
                          "j", "t", "q", ".", "0", "5", "12", "-", "+", " ", "#", "\\", '"', "é", "٣", "REC->n",
                          "(", ")", ","])
FORMAT_LINES = st.sampled_from([
    "name: probe_x", "name:", "ID: 1234", "\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;",
    "\tfield:__data_loc char[] arg3;\toffset:16;\tsize:4;\tsigned:1;", "\tfield:char comm[16];\toffset:1;\tsize:16;"
    "\tsigned:01;", "\tfield:;\toffset:1;\tsize:1;\tsigned:0;", "\tfield:int x;\toffset:a;\tsize:1;\tsigned:0;",
    "field:int y; offset:٣; size:4; signed:1;", "format:", "", "print fmt: \"(%lx)\", REC->__probe_ip",
    "print fmt: \"a\\\"b %d\", REC->n, __get_str(s)", "print fmt: \"unterminated", "print fmt:x",
    "  print fmt: \"indented\"", "print fmt:\"%s\\\\\"tail"])


@given(st.lists(PIECES, max_size=12).map("".join))
@settings(max_examples=400, deadline=None)
def test_conversions_match_the_regex(fmt):
    expected = [(m.start(), m.end(), m.groupdict()) for m in CONV.finditer(fmt)]
    assert [(a, b, spec) for a, b, spec in tpformat.conversions(fmt)] == expected


@given(st.lists(FORMAT_LINES, max_size=10).map("\n".join))
@settings(max_examples=300, deadline=None)
def test_format_text_scan_matches_the_regexes(text):
    assert scanned_parse(text) == regex_parse(text)


def test_tracefs_formats_match_the_regexes():
    paths = sorted(glob.glob("/sys/kernel/tracing/events/*/*/format"))
    if not paths:
        pytest.skip("no readable tracefs event formats")
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        assert scanned_parse(text) == regex_parse(text), path
        fmt = tpformat.TracepointFormat.parse(text)
        if fmt.print_fmt is not None:
            assert [(a, b, s) for a, b, s in tpformat.conversions(fmt.print_fmt)] == \
                [(m.start(), m.end(), m.groupdict()) for m in CONV.finditer(fmt.print_fmt)], path


def test_uprobe_format_applied():
    text = ("name: rpt_leaf\nID: 1612\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
            "\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n"
            "\tfield:int n;\toffset:16;\tsize:4;\tsigned:1;\n\n"
            "print fmt: \"(%lx) n=%d %5.3s%%\", REC->__probe_ip, REC->n, REC->n\n")
    fmt = tpformat.TracepointFormat.parse(text)
    raw = bytes(8) + (0x55F9D7FCF1DE).to_bytes(8, "little") + (3).to_bytes(4, "little", signed=True)
    assert fmt.name == "rpt_leaf" and [f.name for f in fmt.fields] == ["common_type", "__probe_ip", "n"]
    assert fmt.format(raw) == "(55f9d7fcf1de) n=3     3%"
    assert tpformat.TracepointFormat.parse(text.replace("REC->n\n", "REC->m\n")).format(raw) == \
        "__probe_ip=0x55f9d7fcf1de n=0x3"
