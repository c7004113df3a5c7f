"""Overlaid plots of two episodes on one timeline: each row is one (stream, channel), with the
baseline drawn solid and the candidate dashed in a contrasting colour.

The plot panel of the episode view draws one SignalStore; a comparison needs two stores and a
time shift between them, so this widget reuses the pieces instead: ``PlotRow`` (header, plot,
playhead, markers, hover line), ``plot_style`` (pens, colours) and each store's LOD pyramids
(``SignalStore.view``). The x axis is *baseline* episode time in seconds; the candidate's
curve is drawn at ``candidate time + offset`` (candidate time = timeline time − offset).
Streams are read and pyramids built on the global thread pool, never in the UI thread.
"""

from __future__ import annotations

import contextlib
import html
import math
import threading
from collections.abc import Sequence
from itertools import count

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
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
from robotrace_desktop.core.markers import Marker
from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.ui import plot_style as style
from robotrace_desktop.ui.plot_row import Curve, PlotRow
from robotrace_desktop.ui.plots import format_value

ChannelRef = tuple[str, str]
NS = 1_000_000_000
SIDES = ("baseline", "candidate")
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


class _LoadSignals(QObject):
    done = Signal(int, object)  # job id, {(side, stream): error message}


class _LoadJob(QRunnable):
    """Reads the streams of (side, store, ref) items and builds their pyramids."""

    def __init__(
        self,
        work: list[tuple[str, SignalStore, ChannelRef]],
        job: int,
        signals: _LoadSignals,
        cancel: threading.Event,
    ) -> None:
        super().__init__()
        self.work, self.job, self.signals, self.cancel = work, job, signals, cancel
        self.finished = threading.Event()

    def run(self) -> None:
        errors: dict[tuple[str, str], str] = {}
        for side, store, ref in self.work:
            if (side, ref[0]) in errors or self.cancel.is_set():
                continue
            try:
                store.prepare([ref])
            except Exception as exc:  # a reader failure becomes the row's status
                errors[(side, ref[0])] = str(exc) or type(exc).__name__
        try:
            with contextlib.suppress(RuntimeError):  # the carrier is gone: nobody listens
                self.signals.done.emit(self.job, errors)
        finally:
            self.finished.set()


class ComparisonPlots(QWidget):
    """Stacked overlay rows of the chosen channels (see module doc)."""

    timeClicked = Signal("qint64")  # baseline episode time
    loaded = Signal()

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
        self._selection: list[ChannelRef] = []
        self._rows: list[_OverlayRow] = []
        self._curves: dict[tuple[str, ChannelRef], Curve] = {}
        self._t_ns = 0
        self._markers: tuple[Marker, ...] = ()
        self._x_range: tuple[float, float] | None = None
        self._jobs: dict[int, list[tuple[str, ChannelRef]]] = {}
        self._job_ids = count(1)
        self._errors: dict[tuple[str, str], str] = {}
        self._pool = QThreadPool.globalInstance()
        self._running: dict[int, threading.Event] = {}
        self._cancel = threading.Event()
        self._signals = _LoadSignals()  # parentless: a late job emits into a live object
        self._signals.done.connect(self._job_done)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh_views)

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
        self._hover = QLabel(" ", self)
        self._hover.setTextFormat(Qt.TextFormat.RichText)
        self._hover.setStyleSheet(
            f"color: {style.FOREGROUND}; background: #eceff1; padding: 2px 6px;"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._scroll, 1)
        layout.addWidget(self._placeholder, 1)
        layout.addWidget(self._hover)
        self._scroll.hide()

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
        pending = [
            (side, ref)
            for ref in wanted
            for side in self.sides_of(ref)
            if not self.stores[side].is_prepared([ref])
        ]
        if pending:
            job = next(self._job_ids)
            self._jobs[job] = pending
            work = [(side, self.stores[side], ref) for side, ref in pending]
            runnable = _LoadJob(work, job, self._signals, self._cancel)
            self._running[job] = runnable.finished
            self._pool.start(runnable)
        self._update_status()
        self.refresh_views()
        if not self._jobs:
            self.loaded.emit()

    def selection(self) -> list[ChannelRef]:
        return list(self._selection)

    def rows(self) -> list[PlotRow]:
        return list(self._rows)

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

    def set_time(self, t_ns: int) -> None:
        self._t_ns = int(t_ns)
        seconds = self._t_ns / NS
        for row in self._rows:
            row.set_playhead(seconds)
        if self._rows:
            x0, x1 = self._current_x_range()
            if not x0 <= seconds <= x1:  # keep the playhead in view while playing
                span = x1 - x0
                self._set_x_range(seconds - 0.1 * span, seconds + 0.9 * span)

    def set_markers(self, markers: Sequence[Marker]) -> None:
        self._markers = tuple(markers)
        for i, row in enumerate(self._rows):
            row.set_markers(self._markers, labels=i == 0)

    def visible_range_ns(self) -> tuple[int, int]:
        """The plotted span in baseline episode time."""
        x0, x1 = self._current_x_range()
        return math.floor(x0 * NS), math.ceil(x1 * NS)

    def value_at(self, side: str, ref: ChannelRef, t_ns: int) -> float | None:
        """The side's sample-and-hold value at baseline time ``t_ns`` (None: not loaded/none)."""
        store = self.stores[side]
        if side not in self.sides_of(ref) or not store.is_prepared([ref]):
            return None
        shift = self._offset if side == "candidate" else 0
        return store.value_at(ref[0], ref[1], int(t_ns) - shift)

    def is_loading(self) -> bool:
        return bool(self._jobs)

    def problems(self) -> dict[tuple[str, str], str]:
        return dict(self._errors)

    def hover_text(self) -> str:
        return self._hover.text()

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel pending loads and wait for the one reading now (before closing the stores)."""
        self._cancel.set()
        for finished in list(self._running.values()):
            finished.wait(timeout_s)
        self._running.clear()
        self._jobs.clear()

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
            row.clicked.connect(self._clicked)
            row.playheadDragged.connect(self._clicked)
            row.hovered.connect(self._hovered)
            row.viewbox.sigResized.connect(self._schedule_refresh)
            if self._rows:
                row.plot.setXLink(self._rows[0].plot)
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

    def _set_x_range(self, x0: float, x1: float) -> None:
        self._x_range = (x0, x1)
        if self._rows:
            self._rows[0].viewbox.setXRange(x0, x1, padding=0)

    def _current_x_range(self) -> tuple[float, float]:
        if not self._rows:
            return self._x_range or self._span_s()
        x0, x1 = self._rows[0].viewbox.viewRange()[0]
        return float(x0), float(x1)

    # ------------------------------------------------------------------ drawing

    def _schedule_refresh(self, *_: object) -> None:
        self._refresh_timer.start()

    def refresh_views(self) -> None:
        """Recompute every curve from its side's pyramid for the visible range and width."""
        self._refresh_timer.stop()
        if not self._rows:
            return
        x0, x1 = self._current_x_range()
        t0, t1 = math.floor(x0 * NS), math.ceil(x1 * NS)
        for row in self._rows:
            width = max(64, int(row.viewbox.width()))
            for side in row.sides:
                store = self.stores[side]
                stream, channel = row.ref
                if (side, stream) in self._errors or not store.is_prepared([row.ref]):
                    continue
                shift = self._offset if side == "candidate" else 0
                t, y = store.view(stream, channel, t0 - shift, t1 - shift, width)
                curve = self._curves[(side, row.ref)]
                curve.item.setData((t + shift) / NS, y, connect="finite")

    def _job_done(self, job: int, errors: dict[tuple[str, str], str]) -> None:
        self._running.pop(job, None)
        self._jobs.pop(job, None)
        self._errors.update(errors)
        self._update_status()
        self.refresh_views()
        if not self._jobs:
            self.loaded.emit()

    def _update_status(self) -> None:
        loading = {(side, ref[0]) for work in self._jobs.values() for side, ref in work}
        for row in self._rows:
            keys = [(side, row.ref[0]) for side in row.sides]
            failed = [f"{k[0]}: {self._errors[k]}" for k in keys if k in self._errors]
            if failed:
                row.set_status("failed — " + "; ".join(failed))
            elif any(k in loading for k in keys):
                row.set_status("loading…")
            else:
                row.set_status("")

    # ------------------------------------------------------------------ mouse

    def _clicked(self, seconds: float) -> None:
        lo, hi = self._span_s()
        t_ns = round(min(max(seconds, lo), hi) * NS)
        self._t_ns = t_ns
        for row in self._rows:
            row.set_playhead(t_ns / NS)
        self.timeClicked.emit(t_ns)

    def _hovered(self, row: PlotRow, seconds: float) -> None:
        if math.isnan(seconds) or not isinstance(row, _OverlayRow):
            return
        self.show_hover(row, round(seconds * NS))

    def show_hover(self, row: _OverlayRow, t_ns: int) -> str:
        """Both sides' values of ``row`` at baseline time ``t_ns`` in the hover bar."""
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
