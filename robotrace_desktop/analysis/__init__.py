"""Explain: analyzers that rank the likely root causes of a failed episode (Qt-free)."""
