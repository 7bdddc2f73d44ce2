"""Audits of what a model wrote: completions and predictions (closure, parseability, strict vs
diagnostic accuracy, degenerate and looping text, lengths), and label masks."""

from trainlens.audit.completions import AuditOptions, CompletionAudit, audit_completions

__all__ = ["AuditOptions", "CompletionAudit", "audit_completions"]
