"""Call-graph trees (graph/flat/fractal/folded) and DWARF CFI unwinding of user stacks."""
