"""One camera of the episode view: the frame at the playhead, exact, decoded off the UI thread.

At playhead time t the pane shows the frame whose presentation interval [t_i, t_{i+1}) contains
t − offset — what a sequential decode shows at that moment. Decoding happens in a VideoWorker
(one thread per pane). The UI thread only looks frames up:

- ``set_time(t, scrubbing=True)`` (a drag) shows at once the nearest frame already decoded —
  from the few frames this pane received lately, or ContainerVideo.nearest_cached (thread-safe,
  never decodes) — marked "≈" in the overlay, and asks the worker for the exact frame. The worker
  keeps only the newest request, so during a drag it decodes wherever the playhead is when it
  gets free, and the exact frame lands when the drag pauses. A settle timer (SETTLE_MS without a
  new set_time) re-asks if that request was lost; ``scrubbing=False`` asks at once.
- ``set_playing(True, speed)`` lets the worker decode ahead into the frame cache, so frames
  during playback usually come straight from the cache (shown in the UI thread without a round
  trip).

States (painted, and readable through ``status_text`` / ``notice_text`` for tests and the lead):
- outside the video (t before the first frame or after the last frame's interval): the first or
  last frame DIMMED, with "no frame at this time — video starts/ended at …" (or "video ends early
  at 12.3 s: file truncated" when the file is truncated); ``shown_frame()`` is None and
  ``noFrame`` is emitted — a dimmed picture keeps the scene recognisable, the label says it is
  not the moment asked for;
- a damaged frame: the last good frame before it, with the reason in the amber notice bar;
- file problems (ContainerVideo.problems: truncated, damaged packets) stay in the notice bar;
- no video (opener None + problem, or the opener raising): a placeholder naming the problem.
Nothing here blocks other panes: each has its own worker, and worker exceptions arrive as text.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import shiboken6
from PySide6.QtCore import QCoreApplication, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from robotrace_desktop.core.frame_lookup import locate_frame
from robotrace_desktop.ui.qimage import rgb_to_qimage
from robotrace_desktop.ui.video_worker import (
    DecodedFrame,
    OpenedVideo,
    VideoWorker,
)
from robotrace_desktop.video.frames import FrameSource, VideoFrame

SETTLE_MS = 80  # a drag that pauses this long settles on the exact frame
RECENT_FRAMES = 32  # frames received lately, kept for instant redisplay and nearest lookups
HEADER_H = 22  # the camera-name strip above the picture
WORKER_STOP_MS = 10_000

_BACKGROUND = QColor(0, 0, 0)
_HEADER = QColor(38, 40, 46)
_PLACEHOLDER = QColor(48, 48, 54)
_NOTICE = QColor(255, 193, 7)
_DIM = QColor(0, 0, 0, 165)

_LIVE: set[VideoWorker] = set()  # running workers, stopped on quit whatever happens to panes
_QUIT_HOOKED = False


def _stop_worker(worker: VideoWorker, *_: object) -> None:
    _LIVE.discard(worker)
    if shiboken6.isValid(worker):  # at interpreter exit Qt may have deleted it already
        worker.stop()
        worker.wait(WORKER_STOP_MS)


def shutdown_all() -> None:
    """Stop every pane's worker (on application quit; safe to call twice)."""
    for worker in list(_LIVE):
        _stop_worker(worker)


def _hook_quit() -> None:
    global _QUIT_HOOKED
    app = QCoreApplication.instance()
    if app is not None and not _QUIT_HOOKED:
        app.aboutToQuit.connect(shutdown_all)
        _QUIT_HOOKED = True


class VideoPane(QWidget):
    """One camera. See the module docstring for behaviour; signatures are the shared contract."""

    # ns values need 64 bits: a plain Signal(int) is a C int in Qt and overflows after 2.147 s
    # frame index, frame t_ns (episode time), exact
    frameShown = Signal(int, "qint64", bool)  # type: ignore[arg-type]  # stub: no C++ type names
    ready = Signal()  # frame times known (index built), in the UI thread
    # the playhead (episode ns) lies outside this video
    noFrame = Signal("qint64")  # type: ignore[arg-type]  # stub: no C++ type names
    failed = Signal(str)  # the camera could not be opened: the placeholder's text

    def __init__(
        self,
        name: str,
        opener: Callable[[], FrameSource] | None,
        *,
        offset_ns: int = 0,
        problem: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"video-pane:{name}")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120 + HEADER_H)
        self._name = name
        self._offset = int(offset_ns)
        self._problem: str | None = None  # set → placeholder
        self._info: OpenedVideo | None = None
        self._times_ep: np.ndarray | None = None
        self._target_t: int | None = None
        self._want: int | None = None  # frame that should be on screen (target or edge frame)
        self._outside: str | None = None  # "before" / "after" the video, or None
        self._final = False  # the worker answered for _want (maybe with a stand-in)
        self._requested: int | None = None  # last index posted to the worker, not answered yet
        self._shown: tuple[int, int] | None = None  # (index, stream t_ns) of the picture
        self._image: QImage | None = None
        self._image_rgb: np.ndarray | None = None  # the pixels _image borrows
        self._frame_notice: str | None = None
        self._recent: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()
        self._playing = False
        self._speed = 1.0
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settle_now)
        self._worker: VideoWorker | None = None
        if opener is None:
            self._problem = problem or f"{name}: no video"
        else:
            self._start_worker(opener)

    # --- public API (shared contract) ----------------------------------------------------------

    def name(self) -> str:
        return self._name

    def set_time(self, t_ns: int, *, scrubbing: bool = False) -> None:
        """Show the frame at episode time ``t_ns``; never decodes in this (UI) thread."""
        self._target_t = int(t_ns)
        if self._info is not None and self._problem is None:
            self._apply(scrubbing=scrubbing)
        elif self._worker is not None:  # still opening: the worker decodes it right after
            self._worker.request_time(self._target_t - self._offset)

    def set_offset(self, offset_ns: int) -> None:
        """Stream → episode time shift (episode_t = stream_t + offset); re-shows the playhead."""
        self._offset = int(offset_ns)
        if self._info is not None:
            self._times_ep = self._episode_times(self._info)
            if self._target_t is not None and self._problem is None:
                self._apply(scrubbing=False)

    def set_playing(self, playing: bool, speed: float = 1.0) -> None:
        """While playing the worker decodes ahead of the playhead into the frame cache."""
        self._playing, self._speed = bool(playing), float(speed)
        if self._worker is not None:
            self._worker.set_playing(self._playing, self._speed)
            if playing and self._want is not None:
                self._worker.hint(self._want)

    def frame_times_ns(self) -> np.ndarray | None:
        """Episode time (offset applied) of every frame; None until ready."""
        return self._times_ep

    def shown_frame(self) -> tuple[int, int, bool] | None:
        """(index, episode t_ns, exact) of the frame on screen; None when nothing is shown or the
        playhead lies outside the video (the dimmed edge frame is not "at this time")."""
        if self._shown is None or self._outside is not None:
            return None
        index, t_stream = self._shown
        exact = index == self._want and self._frame_notice is None
        return index, t_stream + self._offset, exact

    def current_image(self) -> QImage | None:
        """A deep copy of the frame on screen (for PNG export); None outside the video."""
        if self._image is None or self._outside is not None:
            return None
        return self._image.copy()

    def is_settled(self) -> bool:
        """True when the screen shows the final answer for the last set_time: the exact frame,
        the "no frame" state, a stand-in for a damaged frame, or the placeholder."""
        if self._problem is not None:
            return True
        if self._info is None:
            return False
        if self._target_t is None:
            return True
        if self._final:
            return True
        return self._shown is not None and self._shown[0] == self._want

    def shutdown(self) -> None:
        """Stop the worker thread (waits for the frame being decoded). Safe to call twice."""
        if shiboken6.isValid(self._settle):  # the pane may be deleted already
            self._settle.stop()
        worker, self._worker = self._worker, None
        if worker is not None:
            _stop_worker(worker)

    # --- extras for the episode view and tests -------------------------------------------------

    def is_ready(self) -> bool:
        return self._info is not None

    def problem(self) -> str | None:
        """The placeholder's text when the pane has no video, else None."""
        return self._problem

    def status_text(self) -> str | None:
        """The big centred label: placeholder, "opening…", or the no-frame state; None when a
        frame at the playhead is shown."""
        if self._problem is not None:
            return f"No video — {self._problem}"
        if self._info is None:
            return f"opening {self._name}…"
        if self._outside is None or self._times_ep is None:
            return None
        if self._outside == "before":
            return f"no frame at this time — video starts at {self._times_ep[0] / 1e9:.3f} s"
        end = (int(self._times_ep[-1]) + self._info.nominal_ns) / 1e9
        if any("truncated" in p for p in self._info.problems):
            return f"video ends early at {end:.1f} s: file truncated"
        return f"no frame at this time — video ended at {end:.3f} s"

    def notice_text(self) -> str:
        """The amber notice bar: the file's problems and why the frame shown is a stand-in."""
        lines: list[str] = []
        if self._frame_notice:
            lines.append(self._frame_notice)
        if self._info is not None:
            lines.extend(p for p in self._info.problems if p not in lines)
        return "\n".join(lines)

    def video_rect(self) -> QRect:
        """Where the picture is painted (letterboxed, aspect kept), in widget coordinates."""
        area = self._area()
        size = self._frame_size()
        if size is None or size.isEmpty() or area.isEmpty():
            return area
        scaled = size.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = area.x() + (area.width() - scaled.width()) // 2
        y = area.y() + (area.height() - scaled.height()) // 2
        return QRect(x, y, scaled.width(), scaled.height())

    def sizeHint(self) -> QSize:
        size = self._frame_size()
        if size is None or size.isEmpty():
            return QSize(320, 240 + HEADER_H)
        return QSize(size.width(), size.height() + HEADER_H)

    # --- worker plumbing -----------------------------------------------------------------------

    def _start_worker(self, opener: Callable[[], FrameSource]) -> None:
        worker = VideoWorker(opener, self._name)
        queued = Qt.ConnectionType.QueuedConnection
        worker.opened.connect(self._on_opened, queued)
        worker.failed.connect(self._on_failed, queued)
        worker.frameReady.connect(self._on_frame, queued)
        worker.frameFailed.connect(self._on_frame_failed, queued)
        # a pane deleted without shutdown() must not leave its thread running
        self.destroyed.connect(functools.partial(_stop_worker, worker))
        _hook_quit()
        _LIVE.add(worker)
        self._worker = worker
        worker.start()

    def _post(self, index: int) -> None:
        if self._worker is not None and self._requested != index:
            self._requested = index
            self._worker.request(index)

    def _on_opened(self, info: OpenedVideo) -> None:
        if len(info.times_ns) == 0:
            self._on_failed(f"{self._name}: the camera has no frames")
            return
        self._info = info
        self._times_ep = self._episode_times(info)
        if info.queued is not None:  # already being decoded (request_time): not asked twice
            self._requested = info.queued
        self.updateGeometry()
        self.ready.emit()
        if self._target_t is not None:
            self._apply(scrubbing=False)
        self.update()

    def _on_failed(self, message: str) -> None:
        self._problem = message
        self._settle.stop()
        self.update()
        self.failed.emit(message)

    def _on_frame(self, result: DecodedFrame) -> None:
        if result.requested == self._requested:
            self._requested = None
        if result.index == result.requested and result.notice is None:
            self._remember(result.index, result.t_ns, result.rgb)
        want = self._want
        if want is None:
            return
        if result.requested == want:
            self._final = True
            self._show(result.index, result.t_ns, result.rgb, result.notice)
        elif want in self._recent:
            t_stream, rgb = self._recent[want]
            self._final = True
            self._show(want, t_stream, rgb, None)
        elif self._outside is None and (
            self._shown is None or abs(result.index - want) < abs(self._shown[0] - want)
        ):
            self._show(result.index, result.t_ns, result.rgb, None)  # closer, still approximate

    def _on_frame_failed(self, requested: int, reason: str) -> None:
        if requested == self._requested:
            self._requested = None
        if requested == self._want:
            self._final = True
            self._frame_notice = reason
            self.update()

    # --- choosing what to show -----------------------------------------------------------------

    def _episode_times(self, info: OpenedVideo) -> np.ndarray:
        times = info.times_ns + np.int64(self._offset)
        times.flags.writeable = False
        return times

    def _locate(self, t_stream: int) -> tuple[int, str | None]:
        """(frame index, None) inside the video; (edge frame, "before"/"after") outside."""
        assert self._info is not None
        return locate_frame(self._info.times_ns, t_stream, self._info.nominal_ns)

    def _apply(self, *, scrubbing: bool) -> None:
        assert self._target_t is not None
        index, outside = self._locate(self._target_t - self._offset)
        was_outside = self._outside
        self._outside = outside
        if outside is not None:
            self._settle.stop()
            if index != self._want:
                self._want, self._final = index, False
                if not self._show_known(index):
                    self._post(index)
            if was_outside is None:
                self.noFrame.emit(self._target_t)
            self.update()
            return
        if index == self._want and (self._final or self._showing(index)):
            if was_outside is not None:
                self._announce()
                self.update()
            return
        self._want, self._final = index, False
        if self._show_known(index):
            self._settle.stop()
            return
        if scrubbing:
            self._show_nearest(index)
            self._post(index)
            self._settle.start()
        else:
            self._settle.stop()
            self._post(index)
        if was_outside is not None:
            self.update()

    def _settle_now(self) -> None:
        """The drag paused: make sure the exact frame is on its way."""
        if not self.is_settled() and self._want is not None:
            self._requested = None
            self._post(self._want)

    def _showing(self, index: int) -> bool:
        return self._shown is not None and self._shown[0] == index

    def _show_known(self, index: int) -> bool:
        """Show frame ``index`` at once if it is decoded already (this pane's recent frames or
        the shared frame cache). No decoding."""
        recent = self._recent.get(index)
        if recent is not None:
            self._recent.move_to_end(index)
            self._final = True
            self._show(index, recent[0], recent[1], None)
        else:
            frame = self._peek(index)
            if frame is None or frame.index != index:
                return False
            self._final = True
            self._show(index, frame.t_ns, frame.rgb, None)
        if self._playing and self._worker is not None:
            self._worker.hint(index)
        return True

    def _show_nearest(self, index: int) -> None:
        """While dragging: the nearest decoded frame, at once (approximate)."""
        best: tuple[int, int, np.ndarray] | None = None
        if self._recent:
            near = min(self._recent, key=lambda i: (abs(i - index), i > index))
            best = (near, *self._recent[near])
        frame = self._peek(index)
        if frame is not None and (best is None or abs(frame.index - index) < abs(best[0] - index)):
            best = (frame.index, frame.t_ns, frame.rgb)
        if best is None:
            return
        if self._shown is not None and abs(self._shown[0] - index) <= abs(best[0] - index):
            return  # what is on screen is at least as close
        self._show(*best, None)

    def _peek(self, index: int) -> VideoFrame | None:
        """ContainerVideo.nearest_cached (stream times, like the worker's answers)."""
        if self._info is None or self._info.peek is None:
            return None
        try:
            return self._info.peek(index)
        except Exception:  # a lookup must never break the UI; the worker will answer
            return None

    def _remember(self, index: int, t_stream: int, rgb: np.ndarray) -> None:
        self._recent[index] = (t_stream, rgb)
        self._recent.move_to_end(index)
        while len(self._recent) > RECENT_FRAMES:
            self._recent.popitem(last=False)

    def _show(self, index: int, t_stream: int, rgb: np.ndarray, notice: str | None) -> None:
        changed = self._shown != (index, t_stream) or self._frame_notice != notice
        self._shown = (index, int(t_stream))
        if changed or self._image is None:
            self._image = rgb_to_qimage(rgb)
            self._image_rgb = rgb
        self._frame_notice = notice
        self._announce()
        self.update()

    def _announce(self) -> None:
        shown = self.shown_frame()
        if shown is not None:
            self.frameShown.emit(*shown)

    def _frame_size(self) -> QSize | None:
        if self._image is not None:
            return self._image.size()
        if self._info is not None and self._info.width > 0:
            return QSize(self._info.width, self._info.height)
        return None

    def _area(self) -> QRect:
        return QRect(0, HEADER_H, self.width(), max(0, self.height() - HEADER_H))

    # --- painting ------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        painter.fillRect(self.rect(), _BACKGROUND)
        self._paint_header(painter)
        area = self._area()
        if self._problem is not None:
            painter.fillRect(area, _PLACEHOLDER)
            self._paint_label(painter, area, self.status_text() or "", QColor(235, 235, 235))
            return
        if self._info is None:
            self._paint_label(painter, area, self.status_text() or "", QColor(170, 170, 170))
            return
        target = self.video_rect()
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self._image)
        notice = self.notice_text()
        bar = self._notice_rect(area, notice) if notice else QRect()
        if self._outside is not None:
            painter.fillRect(target, _DIM)
            label_rect = target if bar.isNull() else target.adjusted(0, 0, 0, -bar.height())
            self._paint_label(painter, label_rect, self.status_text() or "", QColor(255, 255, 255))
        elif self._shown is not None:
            self._paint_overlay(painter, target, bar.height() if notice else 0)
        if notice:  # last: nothing may cover the notice
            self._paint_notice(painter, bar, notice)

    def _paint_header(self, painter: QPainter) -> None:
        header = QRect(0, 0, self.width(), HEADER_H)
        painter.fillRect(header, _HEADER)
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(240, 240, 240))
        text_rect = header.adjusted(6, 0, -6, 0)
        name = QFontMetrics(font).elidedText(
            self._name, Qt.TextElideMode.ElideMiddle, text_rect.width()
        )
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name
        )

    def _paint_label(self, painter: QPainter, rect: QRect, text: str, color: QColor) -> None:
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(color)
        flags = int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
        inner = rect.adjusted(10, 10, -10, -10)
        box = QFontMetrics(font).boundingRect(inner, flags, text).adjusted(-8, -5, 8, 5)
        painter.fillRect(box & rect, QColor(0, 0, 0, 140))  # readable on any picture
        painter.drawText(inner, flags, text)

    def _paint_overlay(self, painter: QPainter, target: QRect, notice_h: int) -> None:
        assert self._shown is not None
        index, t_stream = self._shown
        exact = index == self._want and self._frame_notice is None
        text = f"#{index}  {(t_stream + self._offset) / 1e9:.3f} s"
        if not exact:
            text = f"≈ {text}"
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        box = metrics.boundingRect(text).adjusted(-5, -3, 5, 3)
        bottom = min(target.bottom(), self.height() - 1 - notice_h)
        box.moveTo(target.left() + 4, bottom - box.height() - 3)
        painter.fillRect(box, QColor(0, 0, 0, 170))
        painter.setPen(QColor(255, 255, 255) if exact else QColor(255, 210, 90))
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)

    def _notice_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        return font

    def _notice_rect(self, area: QRect, text: str) -> QRect:
        """The amber bar at the bottom of the picture area: as tall as the wrapped text (at
        most four lines)."""
        metrics = QFontMetrics(self._notice_font())
        width = max(10, area.width() - 12)
        flags = int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft)
        bound = metrics.boundingRect(QRect(0, 0, width, 10_000), flags, text)
        height = min(bound.height(), metrics.lineSpacing() * 4) + 8
        return QRect(area.left(), area.bottom() - height + 1, area.width(), height)

    def _paint_notice(self, painter: QPainter, bar: QRect, text: str) -> None:
        painter.setFont(self._notice_font())
        painter.fillRect(bar, _NOTICE)
        painter.setPen(QColor(20, 20, 20))
        painter.setClipRect(bar)
        flags = int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft)
        painter.drawText(bar.adjusted(6, 4, -6, -4), flags, text)
        painter.setClipping(False)
