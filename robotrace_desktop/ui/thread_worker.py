"""The skeleton every long job off the UI thread shares (scans, verify runs).

A worker is a QObject moved into a QThread of its own; ``run`` (a slot in the subclass) does
the work there and reports through the subclass's signals only. Cancelling sets a
threading.Event the job checks between units of work. A worker runs once.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread


class ThreadWorker(QObject):
    def __init__(self, thread_name: str) -> None:
        super().__init__()  # no parent: the object moves to its own thread
        self._thread_name = thread_name
        self._cancel = threading.Event()
        self._thread: QThread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"a {type(self).__name__} runs once")
        thread = QThread()
        thread.setObjectName(self._thread_name)
        self.moveToThread(thread)
        thread.started.connect(self.run)
        self._thread = thread
        thread.start()

    def run(self) -> None:  # a @Slot() in the subclass
        raise NotImplementedError

    def cancel(self) -> None:
        """Ask the job to stop after its current unit of work (thread-safe)."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the thread has ended (True) or the timeout passed (False)."""
        return True if self._thread is None else bool(self._thread.wait(timeout_ms))

    def _done(self) -> None:
        """Call at the end of ``run`` (in a ``finally``): ends the worker's thread."""
        thread = QThread.currentThread()
        if thread is self._thread:
            thread.quit()
