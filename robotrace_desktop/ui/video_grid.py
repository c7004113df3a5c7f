"""The cameras of an episode side by side: one VideoPane per camera in a near-square grid.

1 camera → 1×1, 2 → 1×2 (side by side: cameras are usually wider than tall), 3-4 → 2×2,
5-6 → 2×3, 7-9 → 3×3, … (columns = ceil(sqrt(n)), rows = ceil(n / columns)). Each pane keeps
its own aspect ratio inside its cell (letterboxed on black), so the grid never distorts a camera.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import QGridLayout, QWidget

from robotrace_desktop.ui.video_pane import VideoPane


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) for ``count`` panes."""
    if count <= 0:
        return 0, 0
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


class VideoGrid(QWidget):
    """Holds the panes; the episode view drives them (set_time, set_playing, shutdown)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._panes: list[VideoPane] = []
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)

    def add_pane(self, pane: VideoPane) -> None:
        pane.setParent(self)
        self._panes.append(pane)
        self._relayout()

    def remove_pane(self, pane: VideoPane) -> None:
        """Take ``pane`` out of the grid and stop its worker (the pane is deleted later)."""
        if pane not in self._panes:
            return
        self._panes.remove(pane)
        self._layout.removeWidget(pane)
        pane.shutdown()
        pane.setParent(None)
        pane.deleteLater()
        self._relayout()

    def panes(self) -> list[VideoPane]:
        return list(self._panes)

    def pane(self, name: str) -> VideoPane | None:
        return next((p for p in self._panes if p.name() == name), None)

    def shape(self) -> tuple[int, int]:
        return grid_shape(len(self._panes))

    # --- broadcast helpers (the episode view may also drive panes one by one) -----------------

    def set_time(self, t_ns: int, *, scrubbing: bool = False) -> None:
        for pane in self._panes:
            pane.set_time(t_ns, scrubbing=scrubbing)

    def set_playing(self, playing: bool, speed: float = 1.0) -> None:
        for pane in self._panes:
            pane.set_playing(playing, speed)

    def is_settled(self) -> bool:
        return all(p.is_settled() for p in self._panes)

    def shutdown(self) -> None:
        for pane in self._panes:
            pane.shutdown()

    def _relayout(self) -> None:
        for pane in self._panes:
            self._layout.removeWidget(pane)
        rows, columns = grid_shape(len(self._panes))
        for k, pane in enumerate(self._panes):
            self._layout.addWidget(pane, k // columns, k % columns)
            pane.show()
        for r in range(self._layout.rowCount()):
            self._layout.setRowStretch(r, 1 if r < rows else 0)
        for c in range(self._layout.columnCount()):
            self._layout.setColumnStretch(c, 1 if c < columns else 0)
