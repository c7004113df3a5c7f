"""Where a bundle is, from what a user points at: imports nothing heavy (the registry entry
and the reading both use it)."""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.bundle.manifest import MANIFEST_NAME


def folder_of(path: Path) -> Path:
    """The bundle folder, given the folder or its manifest file."""
    return path.parent if path.name == MANIFEST_NAME and path.is_file() else path
