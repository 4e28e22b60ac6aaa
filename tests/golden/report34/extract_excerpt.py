#!/usr/bin/env python3
"""Copies the two `perf report` excerpts of the 2012 uprobes merge message (the project's seed
../shared/seeds/000_339428dc3623c45b.txt) verbatim into excerpt_graph.txt and excerpt_flat.txt: the lines
after "$ perf report | less" and after "$ perf report -g flat | less", up to and including their "..."
line, with only the commit message's indentation ("    \\t") removed. Run: ./extract_excerpt.py SEED_FILE"""
import os
import sys

MARKERS = {"$ perf report | less": "excerpt_graph.txt", "$ perf report -g flat | less": "excerpt_flat.txt"}


def main(seed: str) -> None:
    lines = [line.rstrip("\n") for line in open(seed)]
    here = os.path.dirname(os.path.abspath(__file__))
    for i, line in enumerate(lines):
        name = MARKERS.get(line.strip())
        if not name:
            continue
        body = []
        for text in lines[i + 2:]:
            body.append(text[len("    \t"):] if text.startswith("    \t") else text.strip())
            if text.strip() == "...":
                break
        with open(os.path.join(here, name), "w") as out:
            out.write("\n".join(body) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
