"""Verify's name for the shared process pool (``robotrace_desktop.workers``): verify's jobs,
its Ray engine and its tests import the pool from here."""

from __future__ import annotations

from robotrace_desktop.workers import (
    MAX_CHUNK,
    POOL_MIN_ITEMS,
    Engine,
    Job,
    JobError,
    JobProgress,
    chunk_size_for,
    describe,
    map_jobs,
    run_chunk,
)

__all__ = [
    "MAX_CHUNK",
    "POOL_MIN_ITEMS",
    "Engine",
    "Job",
    "JobError",
    "JobProgress",
    "chunk_size_for",
    "describe",
    "map_jobs",
    "run_chunk",
]
