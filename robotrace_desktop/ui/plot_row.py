"""One plot of the stacked plot panel: a header (title, units, legend) above a pyqtgraph plot
with the playhead, a hover line and the bookmark markers.

The legend lives in the header, as wrapped text, so it never covers data however many joints a
robot has. The plot only pans/zooms in time (mouse wheel, drag); values autoscale to what is
visible, which is what one wants when hunting a spike in a long run — unless ``fit_y`` chose a
range (a finding's evidence); a double-click fits everything again.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from robotrace_desktop.core.markers import Marker
from robotrace_desktop.ui import plot_style as style
from robotrace_desktop.ui.plain_text import literal_format

ChannelRef = tuple[str, str]


class _TickGrid(pg.GraphicsObject):
    """Grid lines at the axes' major and minor ticks.

    Not ``PlotItem.showGrid``: that grid is replayed from a QPicture on every repaint and
    costs 12–30 ms per plot (measured), more than everything else in a redraw together.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        super().__init__()
        self._plot = plot
        self.setZValue(-100)
        self._pens = [
            pg.mkPen(QColor(0, 0, 0, style.GRID_ALPHA)),
            pg.mkPen(QColor(0, 0, 0, style.GRID_ALPHA // 2)),
        ]
        plot.getViewBox().sigRangeChanged.connect(self._range_changed)

    def _range_changed(self, *_: object) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._plot.getViewBox().viewRect()

    def paint(self, painter: QPainter, *_: object) -> None:
        rect = self._plot.getViewBox().viewRect()
        vb_size = self._plot.getViewBox().size()
        bottom, left = self._plot.getAxis("bottom"), self._plot.getAxis("left")
        x_ticks = bottom.tickValues(rect.left(), rect.right(), vb_size.width())
        y_ticks = left.tickValues(rect.top(), rect.bottom(), vb_size.height())
        for level in (1, 0):
            if level < len(x_ticks):
                painter.setPen(self._pens[level])
                for x in x_ticks[level][1]:
                    painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            if level < len(y_ticks):
                painter.setPen(self._pens[level])
                for y in y_ticks[level][1]:
                    painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))


@dataclass(slots=True)
class Curve:
    ref: ChannelRef
    label: str  # legend text (channel without the group's family prefix)
    color: str
    item: pg.PlotDataItem
    commanded: bool = False  # dashed overlay of a commanded channel


class PlotRow(QWidget):
    """Header + plot. Emits times in seconds of episode time; the panel converts to ns."""

    clicked = Signal(float)
    playheadDragged = Signal(float)
    hovered = Signal(object, float)  # (row, seconds); NaN seconds when the mouse left

    def __init__(
        self,
        title: str,
        unit: str | None,
        parent: QWidget | None = None,
        *,
        axis_name: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.unit = unit
        self.curves: list[Curve] = []
        self._status = ""
        self.y_fitted = False  # the y range shows chosen values, not all (fit_y)
        self._marker_items: list[pg.GraphicsObject] = []

        self.header = QLabel(self)
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setContentsMargins(style.AXIS_WIDTH, 2, 4, 0)
        self.header.setStyleSheet(f"color: {style.FOREGROUND}; background: {style.BACKGROUND};")

        self.plot = pg.PlotWidget(background=style.BACKGROUND)
        self.plot.setMinimumHeight(style.MIN_PLOT_HEIGHT - 30)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.addItem(_TickGrid(item), ignoreBounds=True)
        item.layout.setContentsMargins(0, 2, 8, 0)
        font = QFont()
        font.setPointSize(8)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(style.FOREGROUND))
            axis.setTextPen(pg.mkPen(style.FOREGROUND))
            axis.setStyle(tickFont=font)
        item.getAxis("left").setWidth(style.AXIS_WIDTH)
        name = axis_name or (title.rsplit(" ", 1)[-1] if " " in title else title)
        self.axis_text = f"{name} ({unit})" if unit else name
        # pyqtgraph renders axis labels as HTML; raw values, no "(x1e+0)" prefix beside units
        item.setLabel("left", html.escape(self.axis_text), color=style.FOREGROUND)
        item.getAxis("left").enableAutoSIPrefix(False)
        self.viewbox = item.getViewBox()
        self.viewbox.setMouseEnabled(x=True, y=False)
        self.viewbox.enableAutoRange(x=False, y=True)
        self.viewbox.setAutoVisible(y=True)

        self.playhead = pg.InfiniteLine(
            pos=0.0, angle=90, movable=True, pen=style.playhead_pen(), hoverPen=style.playhead_pen()
        )
        self.playhead.setZValue(1000)
        self.playhead.sigDragged.connect(lambda line: self.playheadDragged.emit(line.value()))
        item.addItem(self.playhead, ignoreBounds=True)
        hover_pen = pg.mkPen(QColor(style.HOVER_LINE), width=1, style=Qt.PenStyle.DotLine)
        self.hover_line = pg.InfiniteLine(pos=0.0, angle=90, movable=False, pen=hover_pen)
        self.hover_line.setZValue(900)
        self.hover_line.hide()
        item.addItem(self.hover_line, ignoreBounds=True)

        scene = self.plot.scene()
        scene.sigMouseClicked.connect(self._scene_clicked)
        scene.sigMouseMoved.connect(self._scene_moved)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.plot, 1)
        self.setMinimumHeight(style.MIN_PLOT_HEIGHT)
        self._update_header()

    # ------------------------------------------------------------------ curves

    def add_curve(self, ref: ChannelRef, label: str, color: str, *, commanded: bool) -> Curve:
        item = pg.PlotDataItem(
            pen=style.curve_pen(color, commanded=commanded),
            connect="finite",
            antialias=True,
            autoDownsample=False,
            clipToView=False,
        )
        item.setZValue(20 if commanded else 10)
        self.plot.getPlotItem().addItem(item)
        curve = Curve(ref, label, color, item, commanded)
        self.curves.append(curve)
        self._update_header()
        return curve

    def set_status(self, status: str) -> None:
        """ "loading…", a failure sentence, or "" — shown after the title."""
        if status != self._status:
            self._status = status
            self._update_header()

    def _update_header(self) -> None:
        parts = [f"<b>{html.escape(self.title)}</b>"]
        if self._status:
            parts.append(f"<i style='color:#b71c1c'>{html.escape(self._status)}</i>")
        entries = []
        commanded = []
        for curve in self.curves:
            if curve.commanded:
                commanded.append(curve.ref[0])
                continue
            entries.append(
                f"<span style='color:{curve.color}'>&#9473;&#9473;</span>&nbsp;"
                f"{html.escape(curve.label)}"
            )
        legend = " &nbsp; ".join(entries)
        if commanded:
            streams = ", ".join(html.escape(s) for s in dict.fromkeys(commanded))
            legend += f" &nbsp; <span style='color:#546e7a'>╌╌ dashed: commanded ({streams})</span>"
        self.header.setText(" &nbsp; ".join(parts) + ("&nbsp;&nbsp; " + legend if legend else ""))

    # ------------------------------------------------------------------ time items

    def set_playhead(self, seconds: float) -> None:
        self.playhead.blockSignals(True)
        self.playhead.setValue(seconds)
        self.playhead.blockSignals(False)

    def set_markers(self, markers: Sequence[Marker], *, labels: bool) -> None:
        item = self.plot.getPlotItem()
        for old in self._marker_items:
            item.removeItem(old)
        self._marker_items = []
        for marker in markers:
            t0 = marker.t_ns / 1e9
            if marker.t_end_ns is not None and marker.t_end_ns != marker.t_ns:
                t1 = marker.t_end_ns / 1e9
                region = pg.LinearRegionItem(
                    values=(min(t0, t1), max(t0, t1)),
                    movable=False,
                    brush=style.marker_brush(marker.color),
                    pen=style.marker_pen(marker.color),
                )
                region.setZValue(-10)
                item.addItem(region, ignoreBounds=True)
                self._marker_items.append(region)
            line = pg.InfiniteLine(
                pos=t0, angle=90, movable=False, pen=style.marker_pen(marker.color)
            )
            line.setZValue(500)
            if labels and marker.label:
                pg.InfLineLabel(
                    line,
                    text=literal_format(marker.label),
                    position=0.92,
                    anchors=[(0, 0), (0, 0)],
                    color=QColor(style.FOREGROUND),
                    fill=pg.mkBrush(QColor(255, 248, 225, 220)),
                )
            item.addItem(line, ignoreBounds=True)
            self._marker_items.append(line)

    def marker_items(self) -> list[pg.GraphicsObject]:
        return list(self._marker_items)

    def show_bottom_labels(self, show: bool) -> None:
        axis = self.plot.getPlotItem().getAxis("bottom")
        axis.setStyle(showValues=show)
        if show:
            axis.setLabel("time (s)", color=style.FOREGROUND)
        else:
            axis.setLabel("")
            axis.showLabel(False)
            axis.setHeight(8)

    # ------------------------------------------------------------------ mouse

    def view_x(self, scene_pos: QPointF) -> float | None:
        if not self.viewbox.sceneBoundingRect().contains(scene_pos):
            return None
        return float(self.viewbox.mapSceneToView(scene_pos).x())

    def fit_y(self, low: float, high: float) -> None:
        """Show values ``low``…``high`` (plus a margin) until a double-click fits all again:
        an Explain finding's evidence may be a 0.04 move on a plot that spans ±2."""
        margin = 0.08 * (high - low) if high > low else max(abs(high) * 0.1, 1e-3)
        self.viewbox.setYRange(low - margin, high + margin, padding=0)
        self.y_fitted = True

    def fit_all_y(self) -> None:
        self.viewbox.enableAutoRange(y=True)
        self.y_fitted = False

    def _scene_clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        if event.double():  # type: ignore[attr-defined]
            self.fit_all_y()
            return
        x = self.view_x(event.scenePos())  # type: ignore[attr-defined]
        if x is not None:
            self.clicked.emit(x)

    def leaveEvent(self, event: QEvent) -> None:
        self.hover_line.hide()
        super().leaveEvent(event)

    def _scene_moved(self, scene_pos: QPointF) -> None:
        x = self.view_x(scene_pos)
        if x is None:
            self.hover_line.hide()
            self.hovered.emit(self, math.nan)
            return
        self.hover_line.setValue(x)
        self.hover_line.show()
        self.hovered.emit(self, x)
