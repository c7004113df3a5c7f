"""One light theme for every plot: readable in a bug report, on a projector and in print.

Curve colours avoid red, which belongs to the playhead (``core.colors``); commanded overlays
reuse the colour of the measured channel they belong to, dashed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen

from robotrace_desktop.core import colors

BACKGROUND = "#ffffff"
FOREGROUND = "#263238"
GRID_ALPHA = 44  # of 255: grid lines are a hint, not data
PLAYHEAD = colors.PLAYHEAD
HOVER_LINE = "#90a4ae"
AXIS_WIDTH = 64  # px: the same for every stacked plot, so their time axes line up
MIN_PLOT_HEIGHT = 150
PALETTE = colors.PALETTE


def color_for(index: int) -> str:
    return colors.color_for(index)


def _mk_pen(color: QColor, width: float) -> QPen:
    """pyqtgraph's cosmetic pen; imported here, not at module import, so the episode view can
    paint its cameras before pyqtgraph is loaded (issue 16)."""
    import pyqtgraph as pg

    return pg.mkPen(color, width=width)


def curve_pen(color: str, *, commanded: bool = False, alpha: int = 255) -> QPen:
    """1 px cosmetic pens: Qt strokes wider pens through QPainterPathStroker, which takes
    0.5–5 s (not ms) for a few thousand points of noisy data; 1 px draws them in ~2 ms.
    ``alpha`` < 255 dims a curve (others are highlighted)."""
    qcolor = QColor(color)
    qcolor.setAlpha(alpha)
    pen = _mk_pen(qcolor, 1)
    if commanded:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def highlight_pen(color: str, *, commanded: bool = False) -> QPen:
    """The bold pen of a highlighted curve: 2.5 px, only for the few channels a finding names
    (the cost of wide pens above is per curve, so a handful stay interactive)."""
    pen = _mk_pen(QColor(color), 2.5)
    if commanded:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def playhead_pen() -> QPen:
    return _mk_pen(QColor(PLAYHEAD), 2)


def marker_pen(color: str) -> QPen:
    pen = _mk_pen(QColor(color), 1.5)
    pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def marker_brush(color: str, alpha: int = 48) -> QColor:
    fill = QColor(color)
    fill.setAlpha(alpha)
    return fill
