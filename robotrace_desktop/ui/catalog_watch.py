"""Noticing catalog changes made elsewhere: a CLI scan, the SDK, the browser's own scan thread.

Why a poll of ``PRAGMA data_version`` and not a QFileSystemWatcher on the catalog and its -wal:
a WAL commit may only append to a file the watcher already saw change (inotify coalesces, other
platforms miss appends to open files), and a checkpoint rewrites files without any change of
content. ``data_version`` moves exactly when another connection committed, and reading it costs
microseconds, so a timer asks it twice a second and the browser reloads only when it moved.
Reloading 10,000 rows takes a noticeable fraction of a second, so reloads are spaced to at
least three times their own cost: a long scan committing constantly cannot starve the UI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from robotrace_desktop.catalog.browse import change_counter
from robotrace_desktop.catalog.store import Catalog

log = logging.getLogger(__name__)

POLL_MS = 500


class CatalogWatcher(QObject):
    """Emits ``changed`` when another connection committed to the catalog."""

    changed = Signal()

    def __init__(self, catalog: Callable[[], Catalog], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._catalog = catalog  # the browser's connection, opened lazily
        self._last: int | None = None
        self._next_allowed = 0.0  # monotonic time before which no reload is signalled
        self._pending = False
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def mark_seen(self, reload_seconds: float = 0.0) -> None:
        """The browser just read everything: remember the counter, space the next reload."""
        try:
            self._last = change_counter(self._catalog())
        except Exception as exc:  # a locked or vanished catalog: the next poll retries
            log.debug("catalog change counter unavailable: %s", exc)
        self._pending = False
        self._next_allowed = time.monotonic() + 3 * reload_seconds

    def check(self) -> bool:
        """Emit ``changed`` if another connection committed (and the spacing allows it)."""
        if not self._timer.isActive():
            return False
        try:
            counter = change_counter(self._catalog())
        except Exception as exc:
            log.debug("catalog change counter unavailable: %s", exc)
            return False
        if counter != self._last:
            self._pending = True
        if not self._pending or time.monotonic() < self._next_allowed:
            return False
        self._last = counter
        self._pending = False
        self.changed.emit()
        return True
