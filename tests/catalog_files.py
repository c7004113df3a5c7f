"""Catalog files in tests: copies for tests that share one expensive scan, and the tests' own
connections to a catalog file. The catalog's connection is private to robotrace_desktop/catalog
(tests/test_layering.py), so a test checks what was stored with SQL of its own, as another
program would."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def read_only(catalog: Path, *, named: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection that can never write (or create) anything, closed on leaving. Rows are
    tuples, or ``sqlite3.Row`` (by column name too) when ``named``."""
    conn = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=15)
    if named:
        conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def writer(catalog: Path) -> Iterator[sqlite3.Connection]:
    """Another program writing to the catalog file, each statement committed at once: sets up
    what the catalog never writes itself (an old release's rows, a row changed behind its
    back)."""
    conn = sqlite3.connect(catalog, timeout=15, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


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


def with_unexplained_dataset(scanned: Path, shared_data: Path, folder: Path) -> Path:
    """A copy of the session's explained catalog plus a copy of the Reachy 2 dataset scanned
    with ``--no-explain``: three readable episodes that were never explained (the triage
    listing and column must show them last, without a score)."""
    from robotrace_desktop.cli import main

    path = copy_catalog(scanned, folder / "catalog.sqlite")
    reachy = shutil.copytree(
        shared_data / "lerobot" / "reachy2_v30_trimmed", folder / "reachy2_unexplained"
    )
    assert main(["--catalog", str(path), "scan", str(reachy), "--no-explain", "--json"]) == 0
    return path
