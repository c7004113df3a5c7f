"""The browser's scan row: one ScanWorker at a time, a queue behind it, progress and Cancel.

Scans never run on the UI thread (a big tree takes minutes). While one runs, further requests
queue. ``committed`` fires whenever the worker has written something the table should show — a
recording indexed, an episode explained — so rows appear while the scan runs instead of at the
end.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from robotrace_desktop.library.scanner import ScanSummary
from robotrace_desktop.ui.plain_text import literal_tip
from robotrace_desktop.ui.scan_worker import ScanWorker


class ScanPanel(QWidget):
    """Progress label, bar and Cancel; hidden when no scan runs."""

    started = Signal(list)  # the roots (Paths) of a scan that just started
    committed = Signal()  # the worker stored rows or findings: time to look
    finished = Signal(object)  # ScanSummary (also for cancelled scans)
    failed = Signal(str)

    def __init__(self, catalog_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog_path = Path(catalog_path)
        self.worker: ScanWorker | None = None
        self._queue: list[list[Path]] = []
        self.progress_label = QLabel()
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)  # paths
        self.progress_label.setMinimumWidth(120)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress_label, 1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.cancel_button)
        self.setVisible(False)

    def is_scanning(self) -> bool:
        return self.worker is not None

    def queued(self) -> list[list[Path]]:
        return [list(q) for q in self._queue]

    def request(self, roots: Sequence[Path]) -> bool:
        """Scan ``roots`` now, or queue them behind the running scan (returns True if queued)."""
        if self.worker is not None:
            self._queue.append(list(roots))
            return True
        self._start(list(roots))
        return False

    def _start(self, roots: list[Path]) -> None:
        worker = ScanWorker(self.catalog_path, roots)
        worker.progress.connect(self._on_progress)
        worker.explainProgress.connect(self._on_explain_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self.worker = worker
        self.progress_bar.setRange(0, 0)  # busy until the scanner knows the total
        self.progress_label.setText("Looking for recordings in " + ", ".join(map(str, roots)))
        self.cancel_button.setEnabled(True)
        self.setVisible(True)
        self.started.emit(roots)
        worker.start()

    def cancel(self) -> None:
        """Stop the running scan after its current recording and drop queued ones."""
        dropped = len(self._queue)
        self._queue.clear()
        if self.worker is None:
            return
        self.worker.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText(
            "Cancelling…" + (f" ({dropped} queued scan(s) dropped)" if dropped else "")
        )

    def _on_progress(self, done: int, total: int, path: str) -> None:
        if self.sender() is not self.worker:
            return
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done} / {total}")
        if done:  # the recording before this one is committed
            self.committed.emit()
        if path and not (self.worker and self.worker.is_cancelled()):
            elided = self.progress_label.fontMetrics().elidedText(
                path, Qt.TextElideMode.ElideMiddle, max(self.progress_label.width(), 200)
            )
            self.progress_label.setText(f"Indexing {elided}")
            self.progress_label.setToolTip(literal_tip(path))

    def _on_explain_progress(self, done: int, total: int, _episode: str) -> None:
        if self.sender() is not self.worker:
            return
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done} / {total}")
        self.progress_label.setText(f"Explaining new episodes ({done} of {total})")
        self.progress_label.setToolTip("")
        if done:
            self.committed.emit()

    def _on_finished(self, summary: ScanSummary) -> None:
        if self.sender() is not self.worker:  # a worker abandoned by shutdown()
            return
        self._end()
        self.finished.emit(summary)
        self._next()

    def _on_failed(self, message: str) -> None:
        if self.sender() is not self.worker:
            return
        self._end()
        self.failed.emit(message)
        self._next()

    def _end(self) -> None:
        worker = self.worker
        self.worker = None
        self.setVisible(False)
        if worker is not None:
            worker.wait()  # run() has returned: the thread is quitting, this is immediate

    def _next(self) -> None:
        if self._queue and self.worker is None:
            self._start(self._queue.pop(0))

    def shutdown(self) -> None:
        """Cancel a running scan and wait for its thread; drop the queue."""
        self._queue.clear()
        worker = self.worker
        if worker is not None:
            worker.cancel()
            worker.wait()
            self.worker = None
