"""Tracepoint records printed as perf 6.1 prints them (perf's libtraceevent, tools/lib/traceevent).

* ``events``    TraceEvents: a file's TRACING_DATA formats and the renderer in use (library or Python)
* ``libtep``    libtraceevent.so.1 through ctypes: tep_parse_event, tep_print_event(TEP_PRINT_INFO)
* ``printfmt``  the Python renderer: format fields, the print fmt's grammar, printf conversions, raw fields
"""
