"""Copies of catalog files for tests that share one expensive scan."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def copy_catalog(source: Path, dest: Path) -> Path:
    """A consistent copy of a catalog file: SQLite's backup API, so what is still in the WAL
    comes along and the source is never written."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return dest
