"""Tracepoint records printed as perf 6.1 prints them (perf's libtraceevent, tools/lib/traceevent).

* ``events``    TraceEvents: a file's TRACING_DATA formats and the renderer in use (library or Python)
* ``libtep``    libtraceevent.so.1 through ctypes: tep_parse_event, tep_print_event(TEP_PRINT_INFO)
* ``printfmt``  the Python renderer: ``Event.parse(format text)``, ``info(raw)``, ``fields_text(raw)``, made of
  ``tokens`` (the tokenizer), ``fields`` (field declarations, values, raw printing), ``args`` (the print
  fmt's arguments as expression trees), ``conversions`` (the format string's pieces, printf of one),
  ``printer`` (evaluating and printing a record) and ``pointers`` (``%pM %pI %pIS %pU %ph``)
"""
