"""The log file handler of the CLI: when the log cannot be written, say so once, quietly.

The standard handler prints ``--- Logging error ---`` and a full traceback to stderr for every
record it fails to write: on a full disk a scan printed two tracebacks about the log in the
middle of its own output. This one prints a single line the first time and then stops trying,
so the command's own message (which says the disk is full) is what the user reads.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path


class QuietFileHandler(RotatingFileHandler):
    """A RotatingFileHandler that gives up silently after one line on stderr."""

    def __init__(self, path: Path, max_bytes: int = 2_000_000, backups: int = 2) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, delay=True)
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        if self.failed:
            return
        self.failed = True
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or error
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(
                f"robotrace-desktop: warning: cannot write the log {self.baseFilename} "
                f"({reason}); logging stopped\n"
            )
