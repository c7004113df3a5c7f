"""Typed errors: every failure a user can cause or meet is a RobotraceError with a message
that names the file or field and the reason, so the CLI and the catalog can show it as-is."""

from __future__ import annotations

from pathlib import Path


class RobotraceError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(RobotraceError):
    """Missing files, bad paths or settings."""


class ValidationError(RobotraceError):
    """A value of the wrong type or out of range (seed not an int, unknown source...)."""


class StorageError(RobotraceError):
    """The catalog or library could not be written (disk full, permissions, locked)."""


class RecordingError(RobotraceError):
    """A recording could not be read. The message always starts with the file's path."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnsupportedFormatError(RecordingError):
    """No reader understands this file, or its encoding is one we do not decode."""


class CorruptRecordingError(RecordingError):
    """The file is truncated, empty or inconsistent."""


class EpisodeNotFoundError(RobotraceError):
    """An EPISODE argument matched no catalog row and no readable path."""


class StreamNotFoundError(RobotraceError):
    """A stream or camera name that the episode does not have."""
