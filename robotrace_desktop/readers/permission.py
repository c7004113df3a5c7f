"""Files and folders the user may not read, reported as exactly that.

Run as a normal user, an unreadable bag used to be "not a recording format RoboTrace can read",
an unreadable LeRobot data folder "data file is missing", an unreadable folder vanished from the
scan without a word (only the log said why), and an unreadable episode parquet was indexed
``ready``. Every such case now says "permission denied" and names the path, on the catalog row
and in the scan summary, so the user knows to fix the permissions rather than the recording.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource
from robotrace_desktop.errors import RecordingError
from robotrace_desktop.readers.base import Reader

#: File suffixes of recordings: an unreadable file with one of these is reported, not skipped.
RECORDING_SUFFIXES = frozenset({".bag", ".mcap", ".db3", ".h5", ".hdf5", ".hdf", ".parquet"})
REASON = "permission denied"


def denied(path: Path) -> bool:
    """True when the current user may not read ``path`` (a folder: list and enter it)."""
    try:
        if path.is_dir():
            return not os.access(path, os.R_OK | os.X_OK)
        return path.exists() and not os.access(path, os.R_OK)
    except OSError:
        return False


def problem(rel: str) -> str:
    """The per-file problem line: 'permission denied: data/chunk-000/episode_000001.parquet'."""
    return f"{REASON}: {rel}"


class PermissionDeniedReader(Reader):
    """Stands for a file or folder the scan could not read, so it gets a row that says why."""

    kind = "unknown"

    def sniff(self, path: Path) -> float | None:
        return None

    def index(self, path: Path) -> Iterator[EpisodeInfo]:
        raise RecordingError(path, REASON)

    def open(self, path: Path, episode_index: int | None = None) -> EpisodeSource:
        raise RecordingError(path, REASON)

    def fingerprint_files(self, path: Path) -> list[Path]:
        return [path]


PERMISSION_DENIED = PermissionDeniedReader()
