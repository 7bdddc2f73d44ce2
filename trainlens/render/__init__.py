"""Output formats: each turns library results into text (terminal, JSON, Markdown, JUnit)."""
