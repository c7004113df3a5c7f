"""The plot panel: stacked time plots with one playhead, bookmark markers and hover values.

One plot per (stream, field family) — "/joint_states position", "/joint_states effort",
"action" — with linked time axes in seconds of episode time, labelled once by a shared time axis
below the scroll area (it stays in view however far the stack scrolls). Each y axis is named
by its field or feature with the units the recording gives (``core.units``); curve colours
are assigned per plot by index from a 20-colour palette (``core.colors``). Curves are fed from
each channel's min/max pyramid (``core.lod``) for the visible range and the plot's pixel width,
so a 50 M-sample channel redraws in milliseconds and a one-sample spike is never decimated
away. Commanded channels whose measured partner is shown (``core.channels.overlay_pairs``) are
drawn dashed in the measured channel's colour on the same plot.

Loading a stream (reading the file and building pyramids) happens on a worker thread
(``plot_loading``); the plot title says "loading…" meanwhile and ``loaded`` fires when every
requested stream is ready. Big bags load the span on screen first and fill in the rest
(curves are redrawn after each piece). ``hold`` keeps the panel from building plots or reading
anything until ``release`` — the episode view holds it until the cameras show their first frame,
so the frame is not queued behind pyqtgraph's import and a read of the whole bag (issue 16);
pyqtgraph itself is imported when the first plot is built.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QWidget

from robotrace_desktop.core.channels import overlay_pairs, plot_group, split_channel
from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.core.units import axis_name, axis_units, channel_unit
from robotrace_desktop.ui import plot_style as style
from robotrace_desktop.ui.plain_text import literal_tip
from robotrace_desktop.ui.plot_loading import by_stream, write_channels_csv
from robotrace_desktop.ui.plot_stack import PlotStack

if TYPE_CHECKING:
    import pyqtgraph as pg

    from robotrace_desktop.ui.plot_row import Curve, PlotRow

ChannelRef = tuple[str, str]  # (stream name, channel name)
FIRST_SPAN_NS = 2 * NS  # read first around the playhead when the whole episode is on screen
NO_CHANNELS_TEXT = "No channels selected — pick some in the stream tree."
HELD_TEXT = "Loading plots…"  # held until the cameras show their frame


class PlotPanel(PlotStack):
    """Stacked plots of the selected channels on one episode timeline (see module doc)."""

    def __init__(self, store: SignalStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        info = store.info
        self._duration_s = max(info.duration_ns, 0) / NS or 1.0
        self._pairs = dict(overlay_pairs(info))  # commanded → measured
        self._curves: dict[ChannelRef, tuple[PlotRow, Curve]] = {}
        self._x_range = (0.0, self._duration_s)
        self._hover_text = ""
        self._highlight: tuple[ChannelRef, ...] = ()
        # (refs, t0_ns, t1_ns) whose y range to fit once their streams are loaded (focus)
        self._focus: tuple[tuple[ChannelRef, ...], int, int] | None = None
        self._reveal_row: PlotRow | None = None  # scrolled into view after a focus
        self._held = False  # hold(): selection kept, nothing built or read until release()
        self._drawn_covered = False  # the last refresh drew the whole visible span
        self.fill_around_playhead = True  # off for a screenshot: it waits for the whole anyway

        self._splitter = QSplitter(Qt.Orientation.Vertical)
        self._splitter.setChildrenCollapsible(False)
        self._splitter.setHandleWidth(4)
        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._scroll.setWidget(self._splitter)
        self._scroll.setStyleSheet(f"background: {style.BACKGROUND};")
        self._placeholder = QLabel(NO_CHANNELS_TEXT, self)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout = self._frame(self._scroll, self._placeholder)
        self._hover.setWordWrap(True)
        self._hover.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # a fixed height: the plots must not jump while the mouse moves between them
        lines = self._hover.fontMetrics().lineSpacing()
        self._hover.setFixedHeight(2 * (lines + 2) + 6)
        self.time_axis: pg.PlotWidget | None = None  # built with the first plot
        self._show_hover_hint()

    def _ensure_time_axis(self) -> pg.PlotWidget:
        if self.time_axis is None:
            self.time_axis = self._make_time_axis()
            self._layout.insertWidget(self._layout.indexOf(self._hover), self.time_axis)
        return self.time_axis

    def _make_time_axis(self) -> pg.PlotWidget:
        """One time axis below the scroll area, x-linked to the plots: it stays in view however
        far the stack scrolls (each plot keeps only its tick marks and grid)."""
        import pyqtgraph as pg

        axis_plot = pg.PlotWidget(background=style.BACKGROUND)
        item = axis_plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.layout.setContentsMargins(0, 0, 8, 2)
        viewbox = item.getViewBox()
        viewbox.setMouseEnabled(x=False, y=False)
        viewbox.setMaximumHeight(0)
        font = self.font()
        font.setPointSize(8)
        bottom = item.getAxis("bottom")
        bottom.setPen(pg.mkPen(style.FOREGROUND))
        bottom.setTextPen(pg.mkPen(style.FOREGROUND))
        bottom.setStyle(tickFont=font)
        bottom.setLabel("time (s)", color=style.FOREGROUND)
        left = item.getAxis("left")
        left.setWidth(style.AXIS_WIDTH)
        left.setStyle(showValues=False, tickLength=0)
        left.setPen(pg.mkPen(style.BACKGROUND))
        axis_plot.setFixedHeight(44)
        axis_plot.setToolTip("Episode time, shared by every plot above")
        return axis_plot

    # ------------------------------------------------------------------ contract

    def hold(self) -> None:
        """Build and read nothing until ``release``; ``show_channels`` only records the
        selection meanwhile (``selection`` and ``is_loading`` answer as usual)."""
        self._held = True
        self._placeholder.setText(HELD_TEXT)

    def release(self) -> None:
        """Build the plots of the recorded selection and start loading them (once)."""
        if not self._held:
            return
        self._held = False
        self._placeholder.setText(NO_CHANNELS_TEXT)
        wanted, self._selection = self._selection, []
        self.show_channels(wanted)

    def is_held(self) -> bool:
        return self._held

    def show_channels(self, selection: Sequence[ChannelRef]) -> None:
        wanted = list(dict.fromkeys((str(s), str(c)) for s, c in selection))
        if self._held:
            self._selection = wanted
            self._placeholder.setVisible(True)
            return
        if wanted == self._selection and self._rows:
            if not self._jobs:
                self.loaded.emit()  # nothing to do: already loaded and drawn
            return
        if self._rows:
            self._x_range = self._current_x_range()
        self._selection = wanted
        pending = [r for r in wanted if not self.store.is_prepared([r])]
        if pending:  # read while the rows are built (the first build imports pyqtgraph)
            self._start_load(by_stream(self.store, pending), self._first_span())
        self._rebuild()
        self._update_status()
        self.refresh_views()
        if not self._jobs:
            self.loaded.emit()

    def highlight(self, channels: Sequence[ChannelRef]) -> None:
        """Draw ``channels`` bold and dim every other curve (an Explain finding's evidence);
        an empty sequence clears it. Survives later ``show_channels`` calls."""
        self._highlight = tuple(dict.fromkeys((str(s), str(c)) for s, c in channels))
        self._apply_highlight()

    def highlighted(self) -> list[ChannelRef]:
        return list(self._highlight)

    def focus(self, channels: Sequence[ChannelRef], t0_ns: int, t1_ns: int) -> None:
        """Show ``t0_ns``…``t1_ns`` (with a margin) and fit the y axis of every plot holding one
        of ``channels`` to their values in that span — a finding's evidence becomes visible
        even when it is a small move among large ones. Waits for channels still loading."""
        t0_ns, t1_ns = sorted((int(t0_ns), int(t1_ns)))
        span = t1_ns - t0_ns
        x0, x1 = self._current_x_range()
        if span > 0:
            pad = max(0.25 * span, 0.25 * NS)
            lo, hi = (t0_ns - pad) / NS, (t1_ns + pad) / NS
            self._set_x_range(max(lo, -0.02 * self._duration_s), hi)
        elif not x0 <= t0_ns / NS <= x1:
            width = x1 - x0
            self._set_x_range(t0_ns / NS - width / 2, t0_ns / NS + width / 2)
        self._focus = (tuple((str(s), str(c)) for s, c in channels), t0_ns, t1_ns)
        rows = (self._curves[r][0] for r in self._focus[0] if r in self._curves)
        self._reveal_row = next(rows, None)
        QTimer.singleShot(0, self, self._reveal)  # after the new rows are laid out
        self._apply_focus()

    def _reveal(self) -> None:
        """Scroll the stack so the focused evidence's plot is on screen."""
        row, self._reveal_row = self._reveal_row, None
        if row is not None and row in self._rows:
            self._scroll.ensureWidgetVisible(row, 0, 0)

    def _apply_focus(self) -> None:
        if self._focus is None:
            return
        refs, t0_ns, t1_ns = self._focus
        shown = [r for r in refs if r in self._curves and r[0] not in self._errors]
        if not self.store.is_prepared(shown):
            return  # _job_done calls again when the streams are in
        self._focus = None
        if t1_ns <= t0_ns:  # a moment: the values around it
            t0_ns, t1_ns = t0_ns - NS // 2, t1_ns + NS // 2
        by_row: dict[int, list[float]] = {}
        for ref in shown:
            row, _curve = self._curves[ref]
            _t, y = self.store.view(ref[0], ref[1], t0_ns, t1_ns, 256)
            finite = y[np.isfinite(y)]
            if finite.size:
                by_row.setdefault(id(row), []).extend((float(finite.min()), float(finite.max())))
        for row in self._rows:
            values = by_row.get(id(row))
            if values:
                row.fit_y(min(values), max(values))

    def curve_emphasis(self, ref: ChannelRef) -> str | None:
        """'bold', 'dimmed' or 'normal' for a shown channel (None: not plotted)."""
        entry = self._curves.get(ref)
        if entry is None:
            return None
        if not self._highlight:
            return "normal"
        return "bold" if ref in self._highlight else "dimmed"

    def _apply_highlight(self) -> None:
        chosen = set(self._highlight)
        for ref, (_row, curve) in self._curves.items():
            if not chosen:
                pen = style.curve_pen(curve.color, commanded=curve.commanded)
                z = 20 if curve.commanded else 10
            elif ref in chosen:
                pen = style.highlight_pen(curve.color, commanded=curve.commanded)
                z = 40
            else:
                pen = style.curve_pen(curve.color, commanded=curve.commanded, alpha=60)
                z = 5
            curve.item.setPen(pen)
            curve.item.setZValue(z)

    def set_offsets(self, offsets: Mapping[str, int]) -> None:
        self.store.set_offsets(offsets)
        self.refresh_views()

    def set_visible_range_ns(self, t0_ns: int, t1_ns: int) -> None:
        self._set_x_range(t0_ns / NS, t1_ns / NS)
        self.refresh_views()

    def is_loading(self) -> bool:
        """Some selected stream is not fully in memory yet (held counts as loading)."""
        return bool(self._jobs) or (self._held and bool(self._selection))

    def visible_loaded(self) -> bool:
        """The visible span of every shown channel is drawn from data in memory (the rest of
        the episode may still be loading) — what a screenshot waits for."""
        if self._held and self._selection:
            return False
        if not self._jobs:
            return True
        return self._drawn_covered and not self._refresh_timer.isActive()

    def _visible_covered(self, t0: int, t1: int) -> bool:
        shown = [r for r in self._selection if r[0] not in self._errors]
        return self.store.covers(shown, max(t0, 0), min(t1, self.store.info.duration_ns + 1))

    def _first_span(self) -> tuple[int, int] | None:
        """What to read first: the visible span when zoomed in, else a few seconds around the
        playhead (the whole episode is on screen: any part of it shows the plots filling) —
        or nothing (one whole read) when ``fill_around_playhead`` is off."""
        duration = max(self.store.info.duration_ns, 0)
        x0, x1 = self._current_x_range()  # the kept range until rows exist
        t0, t1 = max(math.floor(x0 * NS), 0), min(math.ceil(x1 * NS), duration)
        if t1 - t0 < 0.9 * duration:
            return t0, t1
        if not self.fill_around_playhead:
            return None
        start = min(max(self._t_ns - FIRST_SPAN_NS // 2, 0), max(duration - FIRST_SPAN_NS, 0))
        return start, start + FIRST_SPAN_NS

    def hover_text(self) -> str:
        return self._hover_text

    def problems(self) -> dict[str, str]:
        # a panel's load keys are stream names (the comparison's are (run, stream) pairs)
        return {key: error for key, error in self._errors.items() if isinstance(key, str)}

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel pending loads and wait for the one reading now (call before closing the
        store). The panel loads nothing afterwards."""
        super().shutdown(timeout_s)
        self._held = False

    # ------------------------------------------------------------------ layout

    def _groups(self) -> list[tuple[str, list[tuple[ChannelRef, ChannelRef | None]]]]:
        """[(group title, [(ref, measured partner or None)])] in selection order."""
        chosen = set(self._selection)
        groups: dict[str, list[tuple[ChannelRef, ChannelRef | None]]] = {}
        overlays = []
        for ref in self._selection:
            partner = self._pairs.get(ref)
            if partner is not None and partner in chosen:
                overlays.append((ref, partner))
            else:
                groups.setdefault(plot_group(ref), []).append((ref, None))
        for ref, partner in overlays:
            groups[plot_group(partner)].append((ref, partner))
        return list(groups.items())

    def _rebuild(self) -> None:
        from robotrace_desktop.ui.plot_row import PlotRow  # pyqtgraph: only once plots exist

        for row in self._rows:
            row.hide()
            row.setParent(None)
            row.deleteLater()
        self._rows, self._curves = [], {}
        groups = self._groups()
        info = self.store.info
        streams = {s.name: s for s in info.streams}
        for title, members in groups:
            first_stream, first_channel = members[0][0]
            family = split_channel(first_channel)[0]
            units = {
                ref: channel_unit(streams[ref[0]], ref[1], info.metadata)
                if ref[0] in streams
                else None
                for ref, partner in members
                if partner is None
            }
            unit = axis_units(units.values())
            # the legend names a channel's unit where the axis cannot: all of them when the axis
            # would need 3+ units ("pose (m, rad, m/s, rad/s)" does not fit), otherwise those
            # not in the axis' first unit ("gripper [m]" among joints in rad)
            common = unit.split(", ")[0] if unit else None
            if unit is not None and unit.count(",") >= 2:
                unit = common = None
            row = PlotRow(title, unit, self._splitter, axis_name=axis_name(first_stream, family))
            colors: dict[ChannelRef, str] = {}
            for ref, partner in members:
                if partner is None:
                    color = style.color_for(len(colors))
                    colors[ref] = color
                    own_family, joint = split_channel(ref[1])
                    label = joint if own_family == family and family else ref[1]
                    if units[ref] and units[ref] != common and units[ref] != unit:
                        label = f"{label} [{units[ref]}]"
                else:
                    color = colors.get(partner, style.color_for(len(colors)))
                    label = f"{ref[1]} (commanded)"
                curve = row.add_curve(ref, label, color, commanded=partner is not None)
                self._curves[ref] = (row, curve)
            self._connect_row(row)
            self._splitter.addWidget(row)
            self._rows.append(row)
        for i, row in enumerate(self._rows):
            row.show_bottom_labels(False)  # the shared time axis below the stack labels time
            row.set_playhead(self._t_ns / NS)
            row.set_markers(self._markers, labels=i == 0)
        self._apply_highlight()
        if self._rows:
            first = self._rows[0].viewbox
            pad = 0.05 * self._duration_s
            first.setLimits(xMin=-pad, xMax=self._duration_s + pad, minXRange=1e-5)
            self._set_x_range(*(self._x_range or self._default_x_range()))
            first.sigXRangeChanged.connect(self._schedule_refresh)
            self._ensure_time_axis().setXLink(self._rows[0].plot)
            self._splitter.setSizes([1000] * len(self._rows))
        elif self.time_axis is not None:
            self.time_axis.setXLink(None)
        self._scroll.setVisible(bool(self._rows))
        if self.time_axis is not None:
            self.time_axis.setVisible(bool(self._rows))
        self._placeholder.setVisible(not self._rows)

    def _set_x_range(self, x0: float, x1: float) -> None:
        super()._set_x_range(x0, x1)
        if self._rows:
            self._sync_time_axis()

    def _sync_time_axis(self) -> None:
        """Keep the shared axis under the plots' data area: the scroll bar, when shown, takes
        width from the plots but not from the axis below it."""
        if self.time_axis is None:
            return
        bar = self._scroll.verticalScrollBar()
        right = 8 + (bar.width() if bar.isVisible() else 0)
        self.time_axis.getPlotItem().layout.setContentsMargins(0, 0, right, 2)
        if self._rows and self._rows[0].viewbox.screenGeometry() is None:
            # not on screen yet: the x-link aligns by screen position, so copy the range
            x0, x1 = self._rows[0].viewbox.viewRange()[0]
            self.time_axis.getPlotItem().getViewBox().setXRange(x0, x1, padding=0)

    # ------------------------------------------------------------------ PlotStack hooks

    def _default_x_range(self) -> tuple[float, float]:
        return 0.0, self._duration_s

    def _curve_source(self, row: PlotRow, curve: Curve) -> tuple[SignalStore, int] | None:
        stream = curve.ref[0]
        if stream in self._errors or not self.store.has_view(curve.ref):
            return None
        return self.store, 0

    def _before_refresh(self, t0: int, t1: int) -> None:
        self._sync_time_axis()
        self._drawn_covered = self._visible_covered(t0, t1)  # checked before drawing

    def _after_load(self) -> None:
        self._apply_focus()

    def _update_status(self) -> None:
        loading = self._loading_keys()
        for row in self._rows:
            streams = {c.ref[0] for c in row.curves}
            failed = [f"{s}: {self._errors[s]}" for s in streams if s in self._errors]
            if failed:
                row.set_status("failed — " + "; ".join(failed))
            elif streams & loading:
                row.set_status("loading…")
            else:
                row.set_status("")

    # ------------------------------------------------------------------ mouse

    def _click_ns(self, seconds: float) -> int:
        t_ns = round(seconds * NS)
        if self.store.info.duration_ns > 0:
            t_ns = min(max(t_ns, 0), self.store.info.duration_ns)
        return t_ns

    def _show_hover_hint(self) -> None:
        self._hover.setText(
            "<span style='color:#78909c'>Hover a plot for values · click or drag to move the"
            " playhead · wheel to zoom time · double-click to fit values</span>"
        )

    def show_hover(self, row: PlotRow, t_ns: int) -> str:
        """Values of every curve of ``row`` at ``t_ns`` (sample-and-hold) in the hover bar."""
        plain = [f"t={t_ns / NS:.3f} s"]
        rich = [f"<b>t={t_ns / NS:.3f} s</b>"]
        for curve in row.curves:
            stream, channel = curve.ref
            value = None
            if stream not in self._errors and self.store.is_prepared([curve.ref]):
                value = self.store.value_at(stream, channel, t_ns)
            text = "—" if value is None else format_value(value)
            name = f"{channel} (cmd)" if curve.commanded else channel
            plain.append(f"{name}={text}")
            # no line break inside an entry (U+2060 forbids the break Qt allows after "/")
            unbroken = html.escape(name).replace("/", "/\u2060").replace(" ", "&nbsp;")
            rich.append(f"<span style='color:{curve.color}'>{unbroken}</span>={text}")
        self._hover_text = "  ".join(plain)
        self._hover.setText(" &nbsp; ".join(rich))
        self._hover.setToolTip(literal_tip(self._hover_text))
        return self._hover_text

    # ------------------------------------------------------------------ exports

    def export_png(self, path: Path) -> Path:
        """The plots as they are on screen (the visible part of the panel)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        widget: QWidget = self._scroll.viewport() if self._rows else self
        if not widget.grab().save(str(path), "PNG"):
            raise OSError(f"{path}: could not write the PNG")
        return path

    def export_csv(self, path: Path) -> Path:
        """The shown channels' samples in the visible time range, on the union of their
        timestamps (empty cells where a stream has no sample at that time)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        t0, t1 = self.visible_range_ns()
        return write_channels_csv(self.store, self._selection, t0, t1, path)


def format_value(value: float) -> str:
    """Values in the hover bar: 5 significant digits, enough to tell joints apart."""
    return "nan" if math.isnan(value) else f"{value:.5g}"
