"""perf 6.1's option tables, one module per command (``perf data convert``: data_convert), generated from the
installed perf by tests/golden/parse_options/make_tables.py and read by parse_options.perf_table."""
