"""One light theme for every plot: readable in a bug report, on a projector and in print.

Curve colours avoid red, which belongs to the playhead; commanded overlays reuse the colour of
the measured channel they belong to, dashed.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen

BACKGROUND = "#ffffff"
FOREGROUND = "#263238"
GRID_ALPHA = 44  # of 255: grid lines are a hint, not data
PLAYHEAD = "#e0102a"
HOVER_LINE = "#90a4ae"
AXIS_WIDTH = 64  # px: the same for every stacked plot, so their time axes line up
MIN_PLOT_HEIGHT = 150

# Distinct on white, no reds (Tableau/ColorBrewer-like, reordered so neighbours differ).
PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#0b3d91",
    "#006d2c",
    "#a6611a",
    "#5e3c99",
    "#00838f",
    "#4e342e",
    "#283593",
)


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def curve_pen(color: str, *, commanded: bool = False, alpha: int = 255) -> QPen:
    """1 px cosmetic pens: Qt strokes wider pens through QPainterPathStroker, which takes
    0.5–5 s (not ms) for a few thousand points of noisy data; 1 px draws them in ~2 ms.
    ``alpha`` < 255 dims a curve (others are highlighted)."""
    qcolor = QColor(color)
    qcolor.setAlpha(alpha)
    pen = pg.mkPen(qcolor, width=1)
    if commanded:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def highlight_pen(color: str, *, commanded: bool = False) -> QPen:
    """The bold pen of a highlighted curve: 2.5 px, only for the few channels a finding names
    (the cost of wide pens above is per curve, so a handful stay interactive)."""
    pen = pg.mkPen(QColor(color), width=2.5)
    if commanded:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def playhead_pen() -> QPen:
    return pg.mkPen(QColor(PLAYHEAD), width=2)


def marker_pen(color: str) -> QPen:
    pen = pg.mkPen(QColor(color), width=1.5)
    pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def marker_brush(color: str, alpha: int = 48) -> QColor:
    fill = QColor(color)
    fill.setAlpha(alpha)
    return fill
