"""What every stack of time plots shares, for one episode or several: rows with one linked
time axis, a playhead, markers, streams loaded on the global thread pool, and curves redrawn
from each store's min/max pyramid for the visible span and pixel width.

``PlotPanel`` (one episode, rows grouped by field family) and ``ComparisonPlots`` (one row per
channel, one curve per run) differ in how they build rows and which store and time shift feed
a curve — ``_curve_source`` — not in how they load, draw, follow the playhead or take clicks.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Sequence
from itertools import count
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from robotrace_desktop.core.markers import Marker
from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.ui import plot_style as style
from robotrace_desktop.ui.plot_loading import LoadJob, LoadSignals, LoadWork

if TYPE_CHECKING:
    from robotrace_desktop.ui.plot_row import Curve, PlotRow

ChannelRef = tuple[str, str]  # (stream name, channel name)


class PlotStack(QWidget):
    """The shared half of the plot widgets (see module doc); subclasses build the rows."""

    # ns (qint64: ns overflow a 32-bit int past 2.1 s)
    timeClicked = Signal("qint64")  # type: ignore[arg-type]  # stub: no C++ type names
    loaded = Signal()  # every requested stream is loaded and drawn

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._selection: list[ChannelRef] = []
        self._rows: list[PlotRow] = []
        self._t_ns = 0
        self._markers: tuple[Marker, ...] = ()
        self._x_range: tuple[float, float] | None = None  # None: the default (whole) span
        self._jobs: dict[int, list[Hashable]] = {}  # job id → what it loads (for the status)
        self._job_ids = count(1)
        self._errors: dict[Hashable, str] = {}  # load key (stream, or (run, stream)) → error
        # Jobs run on the global pool and carry their own reference to the (parentless) signal
        # carrier, so closing the widget never waits for a read in the UI thread, and a job
        # that outlives it emits into an object that still exists (Qt drops the connection).
        # A pool owned by the widget would wait inside its C++ destructor and the job would
        # then emit into a half-destroyed object ("pure virtual method called").
        self._pool = QThreadPool.globalInstance()
        self._running: dict[int, threading.Event] = {}  # job id → finished
        self._cancel = threading.Event()
        self._signals = LoadSignals()
        self._signals.done.connect(self._job_done)
        self._signals.progress.connect(self._job_progress)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh_views)

    def _frame(self, scroll: QScrollArea, placeholder: QLabel) -> QVBoxLayout:
        """The layout every stack has: the scrolled rows (hidden until there are some) or the
        placeholder, and the hover bar (``self._hover``) below them."""
        self._hover = QLabel(" ", self)
        self._hover.setTextFormat(Qt.TextFormat.RichText)
        self._hover.setStyleSheet(
            f"color: {style.FOREGROUND}; background: #eceff1; padding: 2px 6px;"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(scroll, 1)
        layout.addWidget(placeholder, 1)
        layout.addWidget(self._hover)
        scroll.hide()
        return layout

    # ------------------------------------------------------------------ what subclasses say

    def _curve_source(self, row: PlotRow, curve: Curve) -> tuple[SignalStore, int] | None:
        """(store, shift) drawing ``curve`` — the store's episode time + shift is plot time —
        or None while it cannot be drawn (loading, failed)."""
        raise NotImplementedError

    def _default_x_range(self) -> tuple[float, float]:
        """The whole span in seconds of plot time."""
        raise NotImplementedError

    def _click_ns(self, seconds: float) -> int:
        """A click at ``seconds`` as a playhead time, kept inside what can be shown."""
        raise NotImplementedError

    def _update_status(self) -> None:
        """Each row's header: "loading…", "failed — …" or nothing."""
        raise NotImplementedError

    def show_hover(self, row: PlotRow, t_ns: int) -> str:
        raise NotImplementedError

    def _before_refresh(self, t0: int, t1: int) -> None:
        """Called by ``refresh_views`` before drawing the span [t0, t1] ns."""

    def _after_load(self) -> None:
        """Called when a load job is done and its curves are drawn."""

    # ------------------------------------------------------------------ public API

    def selection(self) -> list[ChannelRef]:
        return list(self._selection)

    def rows(self) -> list[PlotRow]:
        return list(self._rows)

    def set_time(self, t_ns: int) -> None:
        self._t_ns = int(t_ns)
        seconds = self._t_ns / NS
        for row in self._rows:
            row.set_playhead(seconds)
        x0, x1 = self._current_x_range()
        if self._rows and not x0 <= seconds <= x1:  # keep the playhead in view while playing
            span = x1 - x0
            self._set_x_range(seconds - 0.1 * span, seconds + 0.9 * span)

    def time_ns(self) -> int:
        return self._t_ns

    def set_markers(self, markers: Sequence[Marker]) -> None:
        self._markers = tuple(markers)
        for i, row in enumerate(self._rows):
            row.set_markers(self._markers, labels=i == 0)

    def visible_range_ns(self) -> tuple[int, int]:
        x0, x1 = self._current_x_range()
        return math.floor(x0 * NS), math.ceil(x1 * NS)

    def is_loading(self) -> bool:
        return bool(self._jobs)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel pending loads and wait for the one reading now (call before closing the
        stores). Nothing loads afterwards."""
        self._cancel.set()
        for finished in list(self._running.values()):
            finished.wait(timeout_s)
        self._running.clear()
        self._jobs.clear()

    # ------------------------------------------------------------------ loading

    def _start_load(
        self,
        work: list[LoadWork],
        first: tuple[int, int] | None = None,
    ) -> None:
        """Read ``work`` on the global pool; ``_job_done`` draws and says ``loaded``."""
        job = next(self._job_ids)
        self._jobs[job] = [key for key, _store, _refs in work]
        runnable = LoadJob(work, job, self._signals, self._cancel, first)
        self._running[job] = runnable.finished
        self._pool.start(runnable)  # the pool owns and deletes the runnable

    def _loading_keys(self) -> set[Hashable]:
        return {key for keys in self._jobs.values() for key in keys}

    def _job_progress(self, job: int) -> None:
        if job in self._jobs:
            self._schedule_refresh()  # a piece is in: draw what is there (coalesced)

    def _job_done(self, job: int, errors: dict[Hashable, str]) -> None:
        self._running.pop(job, None)
        self._jobs.pop(job, None)
        self._errors.update(errors)
        self._update_status()
        self.refresh_views()
        self._after_load()
        if not self._jobs:
            self.loaded.emit()

    # ------------------------------------------------------------------ x range and drawing

    def _set_x_range(self, x0: float, x1: float) -> None:
        self._x_range = (x0, x1)
        if self._rows:
            self._rows[0].viewbox.setXRange(x0, x1, padding=0)

    def _current_x_range(self) -> tuple[float, float]:
        if not self._rows:
            return self._x_range or self._default_x_range()
        x0, x1 = self._rows[0].viewbox.viewRange()[0]
        return float(x0), float(x1)

    def _schedule_refresh(self, *_: object) -> None:
        self._refresh_timer.start()

    def refresh_views(self) -> None:
        """Recompute every curve from its pyramid for the visible range and pixel width."""
        self._refresh_timer.stop()
        if not self._rows:
            return
        x0, x1 = self._current_x_range()
        t0, t1 = math.floor(x0 * NS), math.ceil(x1 * NS)
        self._before_refresh(t0, t1)
        for row in self._rows:
            width = max(64, int(row.viewbox.width()))
            for curve in row.curves:
                source = self._curve_source(row, curve)
                if source is None:
                    continue
                store, shift = source
                stream, channel = curve.ref
                t, y = store.view(stream, channel, t0 - shift, t1 - shift, width)
                curve.item.setData((t + shift) / NS, y, connect="finite")

    # ------------------------------------------------------------------ mouse

    def _connect_row(self, row: PlotRow) -> None:
        """Clicks, drags and hovers of a new row; its x axis follows the first row's."""
        row.clicked.connect(self._clicked)
        row.playheadDragged.connect(self._clicked)
        row.hovered.connect(self._hovered)
        row.viewbox.sigResized.connect(self._schedule_refresh)
        if self._rows:
            row.plot.setXLink(self._rows[0].plot)

    def _clicked(self, seconds: float) -> None:
        t_ns = self._click_ns(seconds)
        self._t_ns = t_ns
        for row in self._rows:
            row.set_playhead(t_ns / NS)
        self.timeClicked.emit(t_ns)

    def _hovered(self, row: PlotRow, seconds: float) -> None:
        if math.isnan(seconds):
            return
        self.show_hover(row, round(seconds * NS))
