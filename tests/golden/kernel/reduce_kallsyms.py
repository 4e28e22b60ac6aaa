#!/usr/bin/env python3
"""Cut a kallsyms file down to what some kernel addresses need, so that perf (and pyperf) resolve them
exactly as with the whole file: for each address the lines of the symbol perf finds there (every alias of
its start: perf keeps the last) and the lines at the next start (where that symbol ends), plus the
relocation and map-bound symbols (_text, _stext, _etext, _edata), and the last kernel (not module) symbol
with the one after it, which bound the kernel map once perf has loaded the file. Lines keep their order.

perf's rules (tools/perf/util/symbol.c): only types T, W, D, B (either case) count, names starting with
'$' do not; a symbol ends where the next kept one starts.

Usage: reduce_kallsyms.py FULL ADDRESSES OUT   (ADDRESSES: hex numbers, one a line)
"""
import bisect
import sys

KEPT = set("TWDBtwdb")
ALWAYS = {"_text", "_stext", "_etext", "_edata"}


def main(full: str, addresses: str, out: str) -> None:
    with open(full) as f:
        lines = f.read().splitlines()
    rows = []
    for index, line in enumerate(lines):
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in KEPT and not parts[2].startswith("$"):
            rows.append((int(parts[0], 16), index))
    rows.sort(key=lambda r: r[0])       # stable: file order among equal starts
    starts = [r[0] for r in rows]
    want = {i for i, line in enumerate(lines) if line.split(" ", 2)[-1] in ALWAYS}
    with open(addresses) as f:
        wanted = {int(w, 16) for w in f.read().split()}
    core = [r[0] for r in rows if "\t" not in lines[r[1]]]
    if core:
        wanted.add(core[-1])            # the kernel map's end: the last kernel symbol's
    for addr in wanted:
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0:
            continue
        for start in (starts[i], starts[i + 1] if i + 1 < len(starts) else None):
            if start is None:
                continue
            lo, hi = bisect.bisect_left(starts, start), bisect.bisect_right(starts, start)
            want.update(rows[k][1] for k in range(lo, hi))
    with open(out, "w") as f:
        f.writelines(lines[i] + "\n" for i in sorted(want))


if __name__ == "__main__":
    main(*sys.argv[1:4])
