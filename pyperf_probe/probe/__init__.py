"""perf probe's model: what the user wrote (ProbeSpec) -> the uprobe_events line (UprobeDef)."""
