"""Bad command lines, per command: what perf 6.1's parse-options prints for each (stderr, exit status) is in
expected/, made by make_goldens.py; tests/test_cli_parse_options.py runs pyperf on the same words.

Only perf's own walk is exercised here: an option pyperf does not implement is refused in words of its
own (parse_options.NOT_IMPLEMENTED), so none appears below."""

CASES = {
    "record": {
        "unknown_option": ["--foo"],
        "unknown_option_value": ["--foo=bar", "true"],
        "unknown_switch": ["-Q"],
        "unknown_switch_in_cluster": ["-aQ"],
        "requires_value_short": ["-o"],
        "requires_value_long": ["--output"],
        "requires_value_abbrev": ["--out"],
        "ambiguous": ["--mmap"],
        "ambiguous_value": ["--mmap=4"],
        "flag_takes_no_value": ["--all-cpus=1"],
        "negated_takes_no_value": ["--no-inh=1"],
        "negated_value_option": ["--no-mmap-pages=3"],
        "two_dashes": ["-all-cpus"],
        "count_not_a_number": ["-c", "abc", "true"],
        "count_not_a_number_long": ["--count=12x", "true"],
        "count_negative": ["-c", "-5", "true"],
        "filter_before_event": ["--filter", "x", "true"],
        "unknown_after_options": ["-a", "-e", "cpu-clock", "--nosuch", "true"],
    },
    "report": {
        "unknown_option": ["--foo"],
        "unknown_switch": ["-Q"],
        "unknown_switch_in_cluster": ["-nQ"],
        "requires_value_short": ["-i"],
        "requires_value_long": ["--sort"],
        "ambiguous": ["--head"],
        "flag_takes_no_value": ["--children=1"],
        "negated_takes_no_value": ["--no-children=1"],
        "equals_switch": ["-n=1"],
        "unknown_after_word": ["word", "--foo"],
        "two_dashes": ["-force"],
    },
    "script": {
        "unknown_option": ["--foo"],
        "unknown_switch": ["-Q"],
        "requires_value_short": ["-F"],
        "requires_value_long": ["--input"],
        "ambiguous": ["--show"],
        "flag_takes_no_value": ["--ns=1"],
        "no_such_script": ["foo"],
        "no_such_script_after_dashes": ["--", "-x"],
        "unknown_switch_in_cluster": ["-fQ"],
        # parse_options_usage reads past "n" into the next word ("-c": the options named c...)
        "ambiguous_n_reads_next_word": ["--n", "-c", "--show"],
    },
    "stat": {
        "unknown_option": ["--foo"],
        "unknown_switch": ["-Q"],
        "requires_value_short": ["-x"],
        "requires_value_event": ["-e"],
        "ambiguous": ["--per"],
        "repeat_not_a_number": ["-r", "x", "true"],
        "interval_negative": ["-I", "-5", "true"],
        "interval_not_a_number": ["--interval-print=x", "true"],
        "flag_takes_no_value": ["--per-thread=1", "true"],
        "event_not_negatable": ["--no-event"],
        "equals_switch": ["-A=", "true"],
        "unknown_in_cluster": ["-aQ", "true"],
    },
    "list": {
        "unknown_option": ["--foo"],
        "unknown_switch": ["-Q"],
        "flag_takes_no_value": ["--raw-dump=1"],
        "unknown_in_cluster": ["-dQ"],
    },
    "buildid-cache": {
        "no_arguments": [],
        "word": ["foo"],
        "unknown_option": ["--foo"],
        "unknown_switch": ["-Q"],
        "requires_value": ["-a"],
        "requires_value_abbrev": ["--ad"],
        "list_is_exclusive": ["-l", "-a", "x"],
        "flag_takes_no_value": ["--list=1"],
        "ambiguous": ["--pu"],
    },
    "data": {
        "no_arguments": [],
        "unknown_command": ["foo"],
        "unknown_option": ["--foo"],
        "unknown_switch": ["-Q"],
        "convert_unknown_switch": ["convert", "-Q"],
        "convert_requires_value": ["convert", "--to-json"],
        "convert_ambiguous": ["convert", "--to"],
        "convert_word": ["convert", "foo"],
        "options_before_convert": ["-v", "convert", "--zz"],
        "requires_value_before_convert": ["--to-json"],
    },
}


def pyperf_usage(text: str) -> str:
    """perf's text with ``pyperf`` for ``perf`` in the usage lines (`` Usage: perf ...``, ``    or: perf ...``)
    and only there."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        for head in (" Usage: perf ", "    or: perf "):
            if line.startswith(head):
                lines[i] = head.replace("perf ", "pyperf ") + line[len(head):]
    return "\n".join(lines)
