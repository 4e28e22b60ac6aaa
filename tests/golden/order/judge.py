#!/usr/bin/env python3
"""Reads perf's `report --stdio --sort comm,dso,sym -g folded,0,callee,function,count` (stdin) and exits 0 if
two adjacent entries of one comm and equal Children are in an order that neither Self nor the depth of
their printed chains gives: A printed before B though B's Self is greater and B's chains are no deeper
than A's. perf's Children tie rule (ui/hist.c __hpp__sort_acc: same thread, then callchain max_depth) then
used a depth below what A's chains show: A is an entry that hists__collapse_resort merged (callchain_merge
adds the chains but leaves max_depth). Prints the pair found."""
import re
import sys

HEAD = re.compile(r"^ +([0-9.]+)% +([0-9.]+)%  (.*)$")
entries = []  # [children, self, comm+dso+sym text, max chain length]
for line in sys.stdin:
    if line.startswith("#") or not line.strip():
        continue
    m = HEAD.match(line)
    if m:
        entries.append([m.group(1), float(m.group(2)), m.group(3).rstrip(), 0])
    elif entries:
        depth = len(line.rstrip("\n").split(" ", 1)[1].split(";"))
        entries[-1][3] = max(entries[-1][3], depth)
for a, b in zip(entries, entries[1:]):
    if a[0] == b[0] and a[2].split()[0] == b[2].split()[0] and b[1] > a[1] and b[3] <= a[3]:
        print(f"{a} before {b}")
        sys.exit(0)
sys.exit(1)
