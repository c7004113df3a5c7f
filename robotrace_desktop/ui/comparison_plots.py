"""Overlaid plots of two episodes on one timeline: each row is one (stream, channel), with the
baseline drawn solid and the candidate dashed in a contrasting colour.

The plot panel of the episode view draws one SignalStore; a comparison draws two stores with a
time shift between them. Both are a ``PlotStack`` (loading on the global thread pool, drawing
from each store's LOD pyramids, playhead, markers, clicks): this widget only builds one
``PlotRow`` per channel with a curve per run, and says which store and shift feed each curve.
The x axis is *baseline* episode time in seconds; the candidate's curve is drawn at
``candidate time + offset`` (candidate time = timeline time − offset).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.core.episode import EpisodeInfo, StreamKind
from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.session.comparison import SIDES
from robotrace_desktop.ui import plot_style as style
from robotrace_desktop.ui.plot_loading import LoadWork
from robotrace_desktop.ui.plot_row import Curve, PlotRow
from robotrace_desktop.ui.plot_stack import PlotStack
from robotrace_desktop.ui.plots import format_value

ChannelRef = tuple[str, str]
#: blue and a dark orange: far apart for colour-blind readers, neither is the red playhead
SIDE_COLORS = {"baseline": "#1f77b4", "candidate": "#d95f02"}
ROW_HEIGHT = 132
REF_ROLE = Qt.ItemDataRole.UserRole


class _OverlayRow(PlotRow):
    """A PlotRow whose legend names the two sides instead of the channels."""

    def __init__(self, ref: ChannelRef, sides: Sequence[str], parent: QWidget | None) -> None:
        self.ref = ref
        self.sides = tuple(sides)
        super().__init__(f"{ref[0]} · {ref[1]}", None, parent)
        item = self.plot.getPlotItem()
        item.setLabel("left", html.escape(ref[1].rsplit("/", 1)[-1]), color=style.FOREGROUND)
        item.getAxis("left").enableAutoSIPrefix(False)  # raw values, no "(x0.001)"
        self.plot.setMinimumHeight(ROW_HEIGHT - 30)
        self.setMinimumHeight(ROW_HEIGHT)

    def _update_header(self) -> None:
        sides = getattr(self, "sides", None)
        if sides is None:  # called by PlotRow.__init__ before our attributes exist
            super()._update_header()
            return
        parts = [f"<b>{html.escape(self.title)}</b>"]
        if self._status:
            parts.append(f"<i style='color:#b71c1c'>{html.escape(self._status)}</i>")
        for side in sides:
            line = "&#9473;&#9473;" if side == "baseline" else "&#9548;&#9548;"
            parts.append(f"<span style='color:{SIDE_COLORS[side]}'>{line}</span>&nbsp;{side}")
        if len(sides) == 1:
            parts.append(f"<span style='color:#546e7a'>(only the {sides[0]} has it)</span>")
        self.header.setText(" &nbsp; ".join(parts))


class ComparisonPlots(PlotStack):
    """Stacked overlay rows of the chosen channels (see module doc); clicks are baseline time."""

    def __init__(
        self, baseline: SignalStore, candidate: SignalStore, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.stores = {"baseline": baseline, "candidate": candidate}
        self._channels = {
            side: {
                (s.name, c) for s in store.info.streams_of(StreamKind.SIGNAL) for c in s.channels
            }
            for side, store in self.stores.items()
        }
        self._offset = 0
        self._curves: dict[tuple[str, ChannelRef], Curve] = {}

        self._body = QWidget()
        self._body.setStyleSheet(f"background: {style.BACKGROUND};")
        self._stack = QVBoxLayout(self._body)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._stack.setSpacing(2)
        self._stack.addStretch(1)
        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._scroll.setWidget(self._body)
        self._placeholder = QLabel("No channels chosen — tick some in the channel list.", self)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._frame(self._scroll, self._placeholder)

    # ------------------------------------------------------------------ public API

    def sides_of(self, ref: ChannelRef) -> list[str]:
        """Which episodes have this channel."""
        return [side for side in SIDES if ref in self._channels[side]]

    def show_channels(self, selection: Sequence[ChannelRef]) -> None:
        wanted = [r for r in dict.fromkeys((str(s), str(c)) for s, c in selection)]
        wanted = [r for r in wanted if self.sides_of(r)]
        if wanted == self._selection and self._rows:
            if not self._jobs:
                self.loaded.emit()
            return
        if self._rows:
            self._x_range = self._current_x_range()
        self._selection = wanted
        self._rebuild()
        pending: dict[tuple[str, str], list[ChannelRef]] = {}  # (run, stream) → channels
        for ref in wanted:
            for side in self.sides_of(ref):
                if not self.stores[side].is_prepared([ref]):
                    pending.setdefault((side, ref[0]), []).append(ref)
        if pending:
            work: list[LoadWork] = [
                (key, self.stores[key[0]], refs) for key, refs in pending.items()
            ]
            self._start_load(work)
        self._update_status()
        self.refresh_views()
        if not self._jobs:
            self.loaded.emit()

    def curve(self, side: str, ref: ChannelRef) -> Curve | None:
        return self._curves.get((side, ref))

    def curve_data(self, side: str, ref: ChannelRef) -> tuple[list[float], list[float]]:
        """(x in baseline seconds, y) as drawn."""
        found = self._curves.get((side, ref))
        if found is None:
            return [], []
        x, y = found.item.getData()
        return ([] if x is None else list(x)), ([] if y is None else list(y))

    def set_offset(self, offset_ns: int) -> None:
        """Candidate time = baseline (timeline) time − ``offset_ns``."""
        old_lo, old_hi = self._span_s()
        x0, x1 = self._current_x_range()
        whole = x0 <= old_lo + 1e-6 and x1 >= old_hi - 1e-6  # not zoomed in: keep it whole
        self._offset = int(offset_ns)
        self._apply_limits()
        if whole or not self._rows:
            self._set_x_range(*self._span_s())
        self.refresh_views()

    def offset_ns(self) -> int:
        return self._offset

    def value_at(self, side: str, ref: ChannelRef, t_ns: int) -> float | None:
        """The side's sample-and-hold value at baseline time ``t_ns`` (None: not loaded/none)."""
        store = self.stores[side]
        if side not in self.sides_of(ref) or not store.is_prepared([ref]):
            return None
        shift = self._offset if side == "candidate" else 0
        return store.value_at(ref[0], ref[1], int(t_ns) - shift)

    def problems(self) -> dict[tuple[str, str], str]:
        return dict(self._errors)  # type: ignore[arg-type]  # keys are (run, stream) here

    def hover_text(self) -> str:
        return self._hover.text()

    # ------------------------------------------------------------------ layout

    def _span_s(self) -> tuple[float, float]:
        durations = {side: max(s.info.duration_ns, 0) for side, s in self.stores.items()}
        lo = min(0, self._offset)
        hi = max(durations["baseline"], self._offset + durations["candidate"])
        return lo / NS, max(hi / NS, lo / NS + 1e-3)

    def _rebuild(self) -> None:
        for row in self._rows:
            row.hide()
            self._stack.removeWidget(row)
            row.setParent(None)
            row.deleteLater()
        self._rows, self._curves = [], {}
        for ref in self._selection:
            sides = self.sides_of(ref)
            row = _OverlayRow(ref, sides, self._body)
            for side in sides:
                curve = row.add_curve(ref, side, SIDE_COLORS[side], commanded=side == "candidate")
                self._curves[(side, ref)] = curve
            self._connect_row(row)
            self._stack.insertWidget(self._stack.count() - 1, row)
            self._rows.append(row)
        for i, row in enumerate(self._rows):
            row.show_bottom_labels(i == len(self._rows) - 1)
            row.set_playhead(self._t_ns / NS)
            row.set_markers(self._markers, labels=i == 0)
        if self._rows:
            self._apply_limits()
            self._set_x_range(*(self._x_range or self._span_s()))
            self._rows[0].viewbox.sigXRangeChanged.connect(self._schedule_refresh)
        self._scroll.setVisible(bool(self._rows))
        self._placeholder.setVisible(not self._rows)
        self._fit_rows()

    def _fit_rows(self) -> None:
        """Rows share the height; below ROW_HEIGHT each the panel scrolls instead."""
        if not self._rows:
            return
        available = self.height() - self._hover.sizeHint().height() - 2 * len(self._rows)
        height = max(ROW_HEIGHT, available // len(self._rows))
        for row in self._rows:
            row.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    def _apply_limits(self) -> None:
        if not self._rows:
            return
        lo, hi = self._span_s()
        pad = 0.05 * (hi - lo)
        self._rows[0].viewbox.setLimits(xMin=lo - pad, xMax=hi + pad, minXRange=1e-5)

    # ------------------------------------------------------------------ PlotStack hooks

    def _default_x_range(self) -> tuple[float, float]:
        return self._span_s()

    def _curve_source(self, row: PlotRow, curve: Curve) -> tuple[SignalStore, int] | None:
        side = curve.label  # each overlay curve is labelled with its run
        store = self.stores[side]
        if (side, curve.ref[0]) in self._errors or not store.is_prepared([curve.ref]):
            return None
        return store, self._offset if side == "candidate" else 0

    def _click_ns(self, seconds: float) -> int:
        lo, hi = self._span_s()
        return round(min(max(seconds, lo), hi) * NS)

    def _update_status(self) -> None:
        loading = self._loading_keys()
        for row in self._rows:
            assert isinstance(row, _OverlayRow)
            keys = [(side, row.ref[0]) for side in row.sides]
            failed = [f"{k[0]}: {self._errors[k]}" for k in keys if k in self._errors]
            if failed:
                row.set_status("failed — " + "; ".join(failed))
            elif any(k in loading for k in keys):
                row.set_status("loading…")
            else:
                row.set_status("")

    def show_hover(self, row: PlotRow, t_ns: int) -> str:
        """Both sides' values of ``row`` at baseline time ``t_ns`` in the hover bar."""
        assert isinstance(row, _OverlayRow)
        rich = [f"<b>t={t_ns / NS:.3f} s</b>", html.escape(f"{row.ref[0]} · {row.ref[1]}")]
        for side in row.sides:
            value = self.value_at(side, row.ref, t_ns)
            text = "—" if value is None else format_value(value)
            rich.append(f"<span style='color:{SIDE_COLORS[side]}'>{side}</span>={text}")
        self._hover.setText(" &nbsp; ".join(rich))
        return self._hover.text()


class ChannelPicker(QWidget):
    """Every signal channel of both runs, tickable; channels only one run has are marked."""

    checkedChanged = Signal(list)  # [ChannelRef] in list order

    def __init__(
        self, baseline: EpisodeInfo, candidate: EpisodeInfo, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter channels…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter)
        self.list = QListWidget(self)
        channels = {
            side: [(s.name, c) for s in info.streams_of(StreamKind.SIGNAL) for c in s.channels]
            for side, info in zip(SIDES, (baseline, candidate), strict=True)
        }
        both = set(channels["baseline"]) & set(channels["candidate"])
        for ref in dict.fromkeys([*channels["baseline"], *channels["candidate"]]):
            only = "baseline" if ref in channels["baseline"] else "candidate"
            where = "" if ref in both else f" ({only} only)"
            item = QListWidgetItem(f"{ref[0]} / {ref[1]}{where}")
            item.setData(REF_ROLE, list(ref))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            if where:
                item.setForeground(Qt.GlobalColor.darkGray)
            self.list.addItem(item)
        self.list.itemChanged.connect(self._ticked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(QLabel("<b>Channels</b> (tick to plot)", self))
        layout.addWidget(self.filter)
        layout.addWidget(self.list, 1)

    def _items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def checked(self) -> list[ChannelRef]:
        return [
            (str(ref[0]), str(ref[1]))
            for item in self._items()
            if item.checkState() == Qt.CheckState.Checked
            for ref in [item.data(REF_ROLE)]
        ]

    def set_checked(self, refs: Sequence[ChannelRef]) -> None:
        """Tick exactly ``refs`` (no checkedChanged: the caller plots them)."""
        wanted = {tuple(r) for r in refs}
        first: QListWidgetItem | None = None
        self.list.blockSignals(True)
        for item in self._items():
            on = tuple(item.data(REF_ROLE)) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            first = first or (item if on else None)
        self.list.blockSignals(False)
        if first is not None:  # the plotted channels in view, not the top of a long list
            self.list.scrollToItem(first, QListWidget.ScrollHint.PositionAtTop)

    def _ticked(self, _item: QListWidgetItem) -> None:
        self.checkedChanged.emit(self.checked())

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for item in self._items():
            item.setHidden(bool(needle) and needle not in item.text().lower())
