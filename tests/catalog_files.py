"""Copies of catalog files for tests that share one expensive scan."""

from __future__ import annotations

import shutil
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
