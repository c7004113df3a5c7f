"""Scanning recordings off the UI thread.

A scan can take minutes on a big tree (and seconds on a slow network share), so it runs in its
own QThread with its own Catalog connection (sqlite3 connections belong to the thread that made
them). The worker talks to the UI only through signals; cancelling sets a threading.Event the
scanner checks between recordings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Signal, Slot

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import ScanSummary, scan
from robotrace_desktop.ui.thread_worker import ThreadWorker

log = logging.getLogger(__name__)


class ScanWorker(ThreadWorker):
    """One scan of ``roots`` into the catalog at ``catalog_path``, run by ``start()``.

    Signals arrive in the thread that owns the receivers (the UI thread): ``progress(done,
    total, path)`` before each recording, ``explainProgress(done, total, episode id)`` while
    the new and updated episodes are explained (``explain=True``), then exactly one of
    ``finished(ScanSummary)`` (also when cancelled: ``summary.cancelled``) or
    ``failed(message)``.
    """

    progress = Signal(int, int, str)
    explainProgress = Signal(int, int, str)  # after indexing: (done, total, episode id)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        catalog_path: Path,
        roots: Sequence[Path],
        *,
        force: bool = False,
        explain: bool = True,
    ) -> None:
        super().__init__("robotrace-scan")
        self.catalog_path = Path(catalog_path)
        self.roots = [Path(r) for r in roots]
        self.force = force
        self.explain = explain  # run Explain on new/updated episodes after indexing

    @Slot()
    def run(self) -> None:
        """The scan itself, in the worker thread. Never lets an exception escape."""
        try:
            with Catalog(self.catalog_path) as catalog:
                summary = scan(
                    catalog,
                    self.roots,
                    progress=self._report,
                    cancel=self._cancel,
                    force=self.force,
                    explain=self.explain,
                    explain_progress=self._report_explain,
                )
        except Exception as exc:  # a locked or unreadable catalog, a scanner bug...
            log.exception("scan of %s failed", ", ".join(map(str, self.roots)))
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.finished.emit(summary)
        finally:
            self._done()

    def _report(self, done: int, total: int, path: str) -> None:
        self.progress.emit(done, total, path)

    def _report_explain(self, done: int, total: int, episode: str) -> None:
        self.explainProgress.emit(done, total, episode)


def summary_text(summary: ScanSummary) -> str:
    """One line for the status bar, e.g. '17 recordings: 114 new, 2 errors — <first problem>'."""
    counts = [
        (summary.new, "new"),
        (summary.updated, "updated"),
        (summary.unchanged, "unchanged"),
        (summary.errors, "error" if summary.errors == 1 else "errors"),
        (summary.missing, "missing"),
    ]
    parts = [f"{n} {label}" for n, label in counts if n]
    noun = "recording" if summary.recordings == 1 else "recordings"
    text = f"{summary.recordings} {noun}: " + (", ".join(parts) or "nothing indexed")
    if summary.cancelled:
        text = "Scan cancelled — " + text
    if summary.problems:
        more = len(summary.problems) - 1
        text += f" — {summary.problems[0]}" + (f" (+{more} more)" if more else "")
    return text
