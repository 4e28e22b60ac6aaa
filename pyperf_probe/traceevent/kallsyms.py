"""Kernel symbol names for ``%pS``-style tracepoint arguments, as perf's ``machine__resolve_kernel_addr`` finds
them: from ``/proc/kallsyms`` (perf loads the running kernel's when the file's kernel is this one).

perf's kallsyms loading (util/symbol.c ``dso__load_kallsyms``, ``map__process_kallsym_symbol``): only the
``T W D B`` types (either case) are kept; aliases at one address fold into one by ``choose_best_symbol``
(``symbols__fixup_duplicate``, every symbol still zero-length there); each symbol ends where the next one
starts (``symbols__fixup_end``). A symbol of a module (``name\\t[mod]``) answers the module's name.
"""
from __future__ import annotations

from bisect import bisect_right

from pyperf_probe.symbols.symtab import STB_GLOBAL, STB_LOCAL, STB_WEAK, choose_best_symbol

KEPT_TYPES = frozenset("TWDBtwdb")
PATH = "/proc/kallsyms"


def _binding(kind: str) -> int:
    """kallsyms2elf_binding: ``W`` is weak, other capitals global, the rest local."""
    if kind == "W":
        return STB_WEAK
    return STB_GLOBAL if kind.isupper() else STB_LOCAL


class KernelSymbols:
    """Sorted kernel symbols (start, name, module) with a lookup by address."""

    def __init__(self, rows: list[tuple[int, str, str | None]]):
        self.starts = [r[0] for r in rows]
        self.rows = rows

    @classmethod
    def parse(cls, text: str) -> KernelSymbols:
        """From kallsyms text (``ADDR TYPE NAME[\\t[MODULE]]`` lines)."""
        entries = []
        for line in text.split("\n"):
            parts = line.split(None, 3)
            if len(parts) < 3 or parts[1] not in KEPT_TYPES:
                continue
            try:
                start = int(parts[0], 16)
            except ValueError:
                continue
            module = parts[3].strip()[1:-1] if len(parts) > 3 and parts[3].startswith("[") else None
            # Symbol's tuple order for choose_best_symbol: (name, svma, size, type, binding, end)
            entries.append((parts[2], start, 0, 0, _binding(parts[1]), start, module))
        entries.sort(key=lambda e: e[1])  # stable: file order among aliases, as perf's rb-tree insert
        rows: list[tuple[int, str, str | None]] = []
        best = None
        for e in entries:
            if best is not None and e[1] == best[1]:
                best = choose_best_symbol(best, e)
                continue
            if best is not None:
                rows.append((best[1], best[0], best[6]))
            best = e
        if best is not None:
            rows.append((best[1], best[0], best[6]))
        return cls(rows)

    @classmethod
    def load(cls, path: str = PATH) -> KernelSymbols:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return cls.parse(f.read())
        except OSError:
            return cls([])

    def resolve(self, addr: int) -> tuple[str, int, str | None] | None:
        """(name, start, module) of the symbol holding ``addr``, or None. A zero address (kallsyms read
        without privileges) names nothing."""
        i = bisect_right(self.starts, addr) - 1
        if i < 0 or not self.starts[i]:
            return None
        start, name, module = self.rows[i]
        if i + 1 == len(self.rows) and addr >= ((start + 4095) & ~4095) + 4096:  # fixup_end's last symbol
            return None
        return name, start, module
