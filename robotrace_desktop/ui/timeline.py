"""One timeline for the whole episode: the playhead, play/pause, speeds, frame and second steps,
loops, and a strip — a ruler of episode time — that shows where bookmarks and findings sit.
The keys come from one table (``TRANSPORT_KEYS``), which Help → Keyboard shortcuts lists.

TimelineController is the single owner of "now"; panes listen to ``timeChanged``. During a drag
``scrubbing`` is True so video panes show the nearest decoded frame at once and settle later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.core import colors
from robotrace_desktop.core.markers import Marker
from robotrace_desktop.core.playback import SPEEDS, Playback
from robotrace_desktop.core.ticks import tick_label, time_ticks
from robotrace_desktop.core.timebase import NS_PER_S

TICK_MS = 16


class TimelineController(QObject):
    # t_ns (64-bit: a plain int overflows at 2.1 s)
    timeChanged = Signal("qint64", bool)  # type: ignore[arg-type]  # stub: no C++ type names
    playingChanged = Signal(bool)
    speedChanged = Signal(float)
    loopChanged = Signal(object)  # (start_ns, end_ns) or None

    def __init__(self, duration_ns: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.playback = Playback(duration_ns=max(0, duration_ns))
        self._step_times: np.ndarray = np.zeros(0, np.int64)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._last_tick = 0

    # --- queries ---
    @property
    def duration_ns(self) -> int:
        return self.playback.duration_ns

    def time_ns(self) -> int:
        return self.playback.t_ns

    def is_playing(self) -> bool:
        return self.playback.playing

    # --- commands ---
    def set_time(self, t_ns: int, *, scrubbing: bool = False) -> None:
        self.playback.seek(t_ns)
        self.timeChanged.emit(self.playback.t_ns, scrubbing)

    def set_step_times(self, frame_times_ns: np.ndarray | None) -> None:
        """Frame times of the camera that ←/→ step through."""
        self._step_times = (
            np.zeros(0, np.int64) if frame_times_ns is None else np.asarray(frame_times_ns)
        )

    def step_frame(self, direction: int) -> None:
        self.pause()
        if len(self._step_times):
            self.playback.step_frame(self._step_times, direction)
        else:  # no camera: step by 1/30 s
            self.playback.step_seconds(direction / 30)
        self.timeChanged.emit(self.playback.t_ns, False)

    def step_seconds(self, seconds: float) -> None:
        self.playback.step_seconds(seconds)
        self.timeChanged.emit(self.playback.t_ns, False)

    # slots for buttons and keys (bound methods, not lambdas: they die with the controller)
    def next_frame(self) -> None:
        self.step_frame(+1)

    def previous_frame(self) -> None:
        self.step_frame(-1)

    def forward_second(self) -> None:
        self.step_seconds(1)

    def back_second(self) -> None:
        self.step_seconds(-1)

    def go_start(self) -> None:
        self.set_time(self.playback.loop[0] if self.playback.loop else 0)

    def go_end(self) -> None:
        self.set_time(self.playback.loop[1] if self.playback.loop else self.duration_ns)

    def play(self) -> None:
        if not self.playback.playing:
            self.playback.toggle()
            self._started()

    def pause(self) -> None:
        if self.playback.playing:
            self.playback.playing = False
            self._stopped()

    def toggle(self) -> None:
        self.pause() if self.playback.playing else self.play()

    def forward(self) -> None:  # L
        self.playback.forward()
        self._started()

    def backward(self) -> None:  # J
        self.playback.backward()
        self._started()

    def set_speed(self, speed: float) -> None:
        sign = -1 if self.playback.speed < 0 else 1
        self.playback.set_speed(sign * abs(speed))
        self.speedChanged.emit(self.playback.speed)

    def set_loop(self, start_ns: int | None, end_ns: int | None = None) -> None:
        if start_ns is None or end_ns is None:
            self.playback.loop = None
        else:
            self.playback.set_loop(start_ns, end_ns)
        self.loopChanged.emit(self.playback.loop)

    # --- the clock ---
    def _started(self) -> None:
        self._last_tick = time.monotonic_ns()
        self._timer.start()
        self.timeChanged.emit(self.playback.t_ns, False)
        self.playingChanged.emit(True)
        self.speedChanged.emit(self.playback.speed)

    def _stopped(self) -> None:
        self._timer.stop()
        self.playingChanged.emit(False)
        self.timeChanged.emit(self.playback.t_ns, False)

    def _tick(self) -> None:
        now = time.monotonic_ns()
        elapsed, self._last_tick = now - self._last_tick, now
        self.playback.advance(elapsed)
        self.timeChanged.emit(self.playback.t_ns, False)
        if not self.playback.playing:
            self._stopped()


class TimelineStrip(QWidget):
    """The scrub bar: a ruler of episode time, the loop region, bookmark and finding marks and
    the playhead (the same red as the plots' playhead; no mark uses it)."""

    PLAYHEAD = QColor(colors.PLAYHEAD)
    TRACK_TOP = 4  # px: marks above the track, ticks and labels below it
    HEIGHT = 40

    def __init__(self, controller: TimelineController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._markers: list[Marker] = []
        self._dragging = False
        self.setMinimumHeight(self.HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        controller.timeChanged.connect(self._repaint)
        controller.loopChanged.connect(self._repaint)
        self.setToolTip("Click or drag to move the playhead")

    def sizeHint(self) -> QSize:
        return QSize(600, self.HEIGHT)

    def set_markers(self, markers: Sequence[Marker]) -> None:
        self._markers = list(markers)
        self.update()

    def _repaint(self, *_: object) -> None:
        self.update()

    def x_for(self, t_ns: int) -> float:
        span = max(self.controller.duration_ns, 1)
        return 6 + (self.width() - 12) * min(max(t_ns / span, 0.0), 1.0)

    def t_for(self, x: float) -> int:
        span = max(self.controller.duration_ns, 1)
        return round((x - 6) / max(self.width() - 12, 1) * span)

    def ticks(self) -> list[tuple[float, str]]:
        """(x, label) of the ruler's labelled ticks at the current width."""
        duration_s = self.controller.duration_ns / NS_PER_S
        label_px = QFontMetrics(self._tick_font()).horizontalAdvance("000.0 s") + 40
        most = max(1, int((self.width() - 12) / label_px))
        step, times = time_ticks(0.0, duration_s, most)
        return [(self.x_for(round(t * NS_PER_S)), tick_label(t, step)) for t in times]

    def _tick_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        return font

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        h = self.height()
        top = self.TRACK_TOP + 6
        track = QRectF(6, top, self.width() - 12, 8)
        painter.fillRect(track, QColor("#3a4552"))
        loop = self.controller.playback.loop
        if loop:
            x0, x1 = self.x_for(loop[0]), self.x_for(loop[1])
            painter.fillRect(QRectF(x0, track.top() - 3, x1 - x0, 14), QColor(79, 195, 247, 90))
        played = QRectF(6, track.top(), self.x_for(self.controller.time_ns()) - 6, 8)
        painter.fillRect(played, QColor("#4fc3f7"))
        painter.setFont(self._tick_font())
        metrics = painter.fontMetrics()
        painter.setPen(QPen(QColor("#546e7a"), 1))
        for x, label in self.ticks():
            painter.drawLine(QPointF(x, track.bottom() + 1), QPointF(x, track.bottom() + 5))
            width = metrics.horizontalAdvance(label)
            left = min(max(x - width / 2, 0), self.width() - width)
            painter.drawText(QPointF(left, h - metrics.descent() - 1), label)
        for marker in self._markers:
            color = QColor(marker.color)
            x = self.x_for(marker.t_ns)
            if marker.t_end_ns is not None:
                x1 = self.x_for(marker.t_end_ns)
                painter.fillRect(QRectF(x, 0, max(x1 - x, 2), self.TRACK_TOP), color)
            painter.setPen(QPen(color, 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, track.bottom() + 2))
        x = self.x_for(self.controller.time_ns())
        painter.setPen(QPen(self.PLAYHEAD, 3))
        painter.drawLine(QPointF(x, 0), QPointF(x, track.bottom() + 4))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.PLAYHEAD)
        painter.drawEllipse(QPointF(x, track.center().y()), 6, 6)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self.controller.pause()
            self.controller.set_time(self.t_for(event.position().x()), scrubbing=True)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self.controller.set_time(self.t_for(event.position().x()), scrubbing=True)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._dragging = False
            self.controller.set_time(self.t_for(event.position().x()), scrubbing=False)


class TransportBar(QWidget):
    """Buttons, time read-out, speed and the camera that frame steps follow."""

    stepCameraChanged = Signal(str)

    def __init__(self, controller: TimelineController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.strip = TimelineStrip(controller, self)
        self.time_label = QLabel(self)
        self.time_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.time_label.setMinimumWidth(170)
        buttons = QHBoxLayout()
        buttons.setSpacing(2)

        style = self.style()
        pixmap = QStyle.StandardPixmap

        def button(
            text: str, tip: str, slot: object, icon: QStyle.StandardPixmap | None = None
        ) -> QToolButton:
            b = QToolButton(self)
            if icon is not None:  # system icons: not every font has the media glyphs
                b.setIcon(style.standardIcon(icon))
            else:
                b.setText(text)
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            buttons.addWidget(b)
            return b

        button("start", "Start (Home)", controller.go_start, pixmap.SP_MediaSkipBackward)
        button("−1s", "Back 1 s (Shift+←)", controller.back_second)
        button(
            "prev",
            "Previous frame (←)",
            controller.previous_frame,
            pixmap.SP_MediaSeekBackward,
        )
        self.play_button = button(
            "play", "Play / pause (Space; J/K/L)", controller.toggle, pixmap.SP_MediaPlay
        )
        button("next", "Next frame (→)", controller.next_frame, pixmap.SP_MediaSeekForward)
        button("+1s", "Forward 1 s (Shift+→)", controller.forward_second)
        button("end", "End (End)", controller.go_end, pixmap.SP_MediaSkipForward)
        self.loop_button = button(
            "loop", "Loop the selected range", self._toggle_loop, pixmap.SP_BrowserReload
        )
        self.loop_button.setCheckable(True)
        self.speed = QComboBox(self)
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}×", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Playback speed")
        self.speed.currentIndexChanged.connect(self._speed_chosen)
        self.camera = QComboBox(self)
        self.camera.setToolTip("Camera whose frames ←/→ step through")
        self.camera.currentTextChanged.connect(self.stepCameraChanged)
        buttons.addWidget(self.speed)
        self.camera_label = QLabel("step:", self)
        buttons.addWidget(self.camera_label)
        buttons.addWidget(self.camera)
        buttons.addStretch(1)
        buttons.addWidget(self.time_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.strip)
        layout.addLayout(buttons)
        self._range_provider: Callable[[], tuple[int, int] | None] | None = None
        controller.timeChanged.connect(self._show_time)
        controller.playingChanged.connect(self._show_playing)
        controller.speedChanged.connect(self._show_speed)
        self._show_time(controller.time_ns(), False)

    def set_cameras(self, names: Sequence[str]) -> None:
        """The cameras ←/→ can step through; without any, the chooser is not shown (←/→ then
        step 1/30 s)."""
        self.camera.clear()
        self.camera.addItems(list(names))
        self.camera.setVisible(bool(names))
        self.camera_label.setVisible(bool(names))

    def set_range_provider(self, provider: Callable[[], tuple[int, int] | None]) -> None:
        """What the loop button loops: the selected bookmark's range, else the visible span."""
        self._range_provider = provider

    def _toggle_loop(self) -> None:
        span = self._range_provider() if self._range_provider else None
        if self.loop_button.isChecked() and span and span[1] > span[0]:
            self.controller.set_loop(*span)
        else:
            self.loop_button.setChecked(False)
            self.controller.set_loop(None)

    def _speed_chosen(self, index: int) -> None:
        self.controller.set_speed(float(self.speed.itemData(index)))

    def _show_playing(self, playing: bool) -> None:
        pixmap = QStyle.StandardPixmap
        icon = pixmap.SP_MediaPause if playing else pixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _show_time(self, t_ns: int, _scrubbing: bool) -> None:
        total = self.controller.duration_ns
        self.time_label.setText(f"{t_ns / NS_PER_S:8.3f} s / {total / NS_PER_S:.3f} s")

    def _show_speed(self, speed: float) -> None:
        magnitude = abs(speed)
        index = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - magnitude))
        self.speed.blockSignals(True)
        self.speed.setCurrentIndex(index)
        self.speed.blockSignals(False)
        self.play_button.setToolTip(
            "Play / pause (Space; J/K/L)" + (" — playing backwards" if speed < 0 else "")
        )


# (key, TimelineController method, what it does) — the one table the keys and Help are made of
TRANSPORT_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Space", "toggle", "play / pause"),
    ("K", "pause", "pause"),
    ("L", "forward", "play forward; again: faster"),
    ("J", "backward", "play backward; again: faster"),
    ("Right", "next_frame", "next frame of the camera chosen in step:"),
    ("Left", "previous_frame", "previous frame of the camera chosen in step:"),
    ("Shift+Right", "forward_second", "forward 1 s"),
    ("Shift+Left", "back_second", "back 1 s"),
    ("Home", "go_start", "start (of the loop, when looping)"),
    ("End", "go_end", "end (of the loop, when looping)"),
)
ExtraKey = tuple[str, Callable[[], object], str]  # (key, slot, what it does)


def install_transport_keys(
    widget: QWidget,
    timeline: TimelineController,
    extra: Sequence[ExtraKey] = (),
) -> list[QShortcut]:
    """The viewer's transport keys (``TRANSPORT_KEYS``) plus ``extra`` on ``widget`` and its
    children; each shortcut's whatsThis says what it does (Help lists them from there). Keep
    the returned shortcuts alive."""
    keys: list[ExtraKey] = [
        (key, getattr(timeline, method), does) for key, method, does in TRANSPORT_KEYS
    ]
    shortcuts = []
    for key, slot, does in [*keys, *extra]:
        shortcut = QShortcut(QKeySequence(key), widget)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.setWhatsThis(does)
        shortcut.activated.connect(slot)
        shortcuts.append(shortcut)
    return shortcuts
