"""Imports every command module so each registers itself on the typer app."""

from trainlens.cli import (  # noqa: F401
    analyze_cmd,
    audit_cmd,
    audit_completions_cmd,
    audit_labels_cmd,
    audit_log_cmd,
    cache_cmd,
    compare_cmd,
    gate_cmd,
    mcp_cmd,
    metrics_cmd,
    replay_cmd,
    report_cmd,
    rules_cmd,
    scan_cmd,
    watch_cmd,
)
