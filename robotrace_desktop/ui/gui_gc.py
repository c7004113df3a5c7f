"""Python's cyclic garbage collector runs on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate when a threshold is crossed:
often an Explain, scan or plot-loading pool thread. If the garbage then holds a closed view's
widgets (their Python wrappers sit in reference cycles with signal connections), Qt destroys
those widgets on that pool thread while the GUI thread is using the same objects' locks: the
window froze for good (seen in the test suite: a pool thread in ``QGraphicsScene::~QGraphicsScene``
waiting for the GIL, the GUI thread in ``QObject::~QObject`` waiting for Qt's lock). Widgets must
die on the GUI thread, so automatic collection is switched off and the same generational rule is
applied from a GUI-thread timer instead (the approach of pyqtgraph's ``GarbageCollector``).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 1000


def collect_due() -> int:
    """One collection where Python's own thresholds say one is due; the objects it freed."""
    threshold = gc.get_threshold()
    count = gc.get_count()
    freed = 0
    if count[0] > threshold[0]:
        freed += gc.collect(0)
        if count[1] > threshold[1]:
            freed += gc.collect(1)
            if count[2] > threshold[2]:
                freed += gc.collect(2)
    return freed


class GuiThreadCollector(QObject):
    """While started, cyclic garbage is collected only by this timer, on the GUI thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(collect_due)
        self._was_enabled = True

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Back to automatic collection, after one collection here of whatever is due."""
        self._timer.stop()
        collect_due()
        if self._was_enabled:
            gc.enable()
