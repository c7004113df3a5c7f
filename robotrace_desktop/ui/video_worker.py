"""The decode thread behind one video pane: opens the camera, decodes only the latest request.

The UI thread never decodes. It posts "show frame i" requests; the worker keeps only the most
recent one (a drag moves the playhead hundreds of times a second, only where it ends matters),
decodes it through the FrameSource (ContainerVideo: packet index, seek to the keyframe, frame
cache) and hands the RGB array back through a queued signal. While playing it decodes ahead into
the cache in small chunks, checking for a new request between chunks, so a jump is never stuck
behind a long prefetch.

Bad data never escapes: an opener that fails, a frame that cannot be decoded or any other
exception becomes a signal carrying a sentence the pane shows. An undecodable frame (truncated
file, corrupt packets) is answered with the last earlier frame that does decode, plus the reason.

First frame: the pane passes the playhead time before the camera is open (``request_time``);
the worker turns it into a frame index as soon as the frame times are known and decodes it
right away, without waiting for the UI thread to receive the times and ask (the UI thread is
busy building the rest of the window then). ``OpenedVideo.queued`` says which frame that is.

Threading: the FrameSource is created by ``opener`` IN this thread and used only here — except
``ContainerVideo.nearest_cached``, which is thread-safe and which the pane calls directly (see
``OpenedVideo.peek``) to show something at once while scrubbing.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QThread, Signal

from robotrace_desktop.core.frame_lookup import locate_frame
from robotrace_desktop.errors import RecordingError
from robotrace_desktop.video.cache import FrameCache
from robotrace_desktop.video.frames import FrameSource, VideoFrame
from robotrace_desktop.video.owned import OwnedFrameSource

if TYPE_CHECKING:
    from robotrace_desktop.video.container import ContainerVideo

Opener = Callable[[], FrameSource | None]

# Prefetch while playing: this much video time ahead (scaled by speed), in chunks of frames.
PREFETCH_SECONDS = 1.0
PREFETCH_MIN_FRAMES = 8
PREFETCH_MAX_FRAMES = 240
PREFETCH_CHUNK = 6
# Sources without a frame cache of their own (ROS topics) get a small local one in the worker.
LOCAL_CACHE_BYTES = 96 << 20
# How far back to look for a decodable frame when the requested one is damaged.
FALLBACK_FRAMES = 12


@dataclass(frozen=True, slots=True)
class OpenedVideo:
    """What the pane needs once the camera is open (sent to the UI thread once)."""

    name: str
    times_ns: np.ndarray  # stream time of every frame (the pane adds its offset)
    nominal_ns: int  # display duration of the last frame
    problems: tuple[str, ...]  # partial problems of the file (truncated, damaged packets)
    width: int
    height: int
    # ContainerVideo.nearest_cached (thread-safe, never decodes) or None for other sources
    peek: Callable[[int], VideoFrame | None] | None
    queued: int | None = None  # frame the worker is decoding for request_time, if any


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """The answer to a request: ``index`` is ``requested`` unless that frame could not be decoded
    and an earlier one stands in for it (then ``notice`` says why)."""

    requested: int
    index: int
    t_ns: int  # stream time of ``index``
    rgb: np.ndarray
    notice: str | None = None


def describe(exc: BaseException) -> str:
    """A sentence for the pane: RecordingError messages already name the file and reason."""
    if isinstance(exc, RecordingError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _container_of(source: FrameSource) -> ContainerVideo | None:
    """The ContainerVideo behind ``source`` (unwrapping OwnedFrameSource), if any: it brings
    its own frame cache, prefetch and a thread-safe nearest_cached. A source can only be one
    when its module was imported (by the reader that made it): ROS image topics never load
    PyAV this way."""
    if isinstance(source, OwnedFrameSource):
        source = source.unwrapped()
    module = sys.modules.get("robotrace_desktop.video.container")
    container = getattr(module, "ContainerVideo", None) if module is not None else None
    return source if container is not None and isinstance(source, container) else None


class VideoWorker(QThread):
    """One camera's decode thread. Post requests with ``request``; results arrive as signals
    (queued into the thread that owns the receiver, i.e. the UI thread)."""

    opened = Signal(object)  # OpenedVideo
    failed = Signal(str)  # the camera could not be opened: the reason (names the file)
    frameReady = Signal(object)  # DecodedFrame
    # requested index, reason — nothing could be shown for it
    frameFailed = Signal("qint64", str)  # type: ignore[arg-type]  # stub: no C++ type names

    def __init__(self, opener: Opener, name: str) -> None:
        super().__init__()
        self.setObjectName(f"video-worker:{name}")
        self._opener = opener
        self._name = name
        self._cond = threading.Condition()
        self._target: int | None = None
        self._target_time: int | None = None  # stream ns asked for before the times were known
        self._stop = False
        self._playing = False
        self._speed = 1.0
        self._playhead: int | None = None  # last frame asked for or shown: prefetch starts here
        self._ahead_done: int | None = None  # prefetch reached up to (exclusive) this index
        self._source: FrameSource | None = None
        self._container: ContainerVideo | None = None
        self._local = FrameCache(LOCAL_CACHE_BYTES)
        self._count = 0
        self._nominal_ns = 0
        self._fallback: dict[int, tuple[int, str]] = {}  # damaged index → (stand-in, reason)
        self.served = 0  # requests answered (tests/benchmarks)

    # --- called from the UI thread -------------------------------------------------------------

    def request(self, index: int) -> None:
        """Ask for frame ``index``; replaces any request not yet started."""
        with self._cond:
            self._target = int(index)
            self._cond.notify()

    def request_time(self, t_ns: int) -> None:
        """Before ``opened``: the frame shown at stream time ``t_ns`` is wanted first."""
        with self._cond:
            self._target_time = int(t_ns)
            self._cond.notify()

    def hint(self, index: int) -> None:
        """The pane showed frame ``index`` from the cache: prefetch continues after it."""
        with self._cond:
            if index != self._playhead:
                self._playhead = int(index)
                self._cond.notify()

    def cancel(self) -> None:
        with self._cond:
            self._target = None

    def set_playing(self, playing: bool, speed: float = 1.0) -> None:
        with self._cond:
            self._playing = bool(playing)
            self._speed = max(0.01, abs(float(speed)))
            self._ahead_done = None
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._target = None
            self._cond.notify()

    # --- the thread ----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            source = self._opener()
            if source is None:
                raise RuntimeError("no video for this camera")
        except BaseException as exc:  # shown in the pane; the app goes on
            self.failed.emit(f"{self._name}: {describe(exc)}")
            return
        self._source = source
        try:
            self._announce(source)
            self._loop()
        except BaseException as exc:  # a bug, not bad data: still never crash the app
            self.failed.emit(f"{self._name}: {describe(exc)}")
        finally:
            with contextlib.suppress(Exception):
                source.close()
            self._source = None

    def _announce(self, source: FrameSource) -> None:
        times = np.asarray(source.frame_times_ns(), dtype=np.int64)
        self._count = len(times)
        self._nominal_ns = int(source.nominal_frame_ns()) if len(times) else 0
        self._container = _container_of(source)
        width = height = 0
        if self._container is not None:
            try:
                width, height = self._container.frame_size()
            except Exception:
                width = height = 0
        with self._cond:  # the first request needs no round trip through the UI thread
            queued: int | None = None
            t_early, self._target_time = self._target_time, None
            if self._target is None and t_early is not None and len(times):
                queued = self._target = locate_frame(times, t_early, self._nominal_ns)[0]
        self.opened.emit(
            OpenedVideo(
                name=self._name,
                times_ns=times,
                nominal_ns=self._nominal_ns,
                problems=tuple(getattr(source, "problems", ())),
                width=width,
                height=height,
                peek=self._container.nearest_cached if self._container is not None else None,
                queued=queued,
            ),
        )

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stop and self._target is None and not self._wants_prefetch():
                    self._cond.wait()
                if self._stop:
                    return
                target, self._target = self._target, None
            if target is not None:
                self._serve(target)
            else:
                self._prefetch_step()

    def _serve(self, index: int) -> None:
        if not 0 <= index < self._count:
            self.frameFailed.emit(index, f"{self._name}: no frame {index}")
            return
        try:
            self.frameReady.emit(self._decode(index))
        except BaseException as exc:
            self.frameFailed.emit(index, describe(exc))
        self.served += 1
        with self._cond:
            self._playhead = index

    def _decode(self, index: int) -> DecodedFrame:
        known = self._fallback.get(index)
        if known is not None:
            stand_in, reason = known
            frame = self._frame(stand_in)
            return DecodedFrame(index, frame.index, frame.t_ns, frame.rgb, reason)
        try:
            frame = self._frame(index)
            return DecodedFrame(index, frame.index, frame.t_ns, frame.rgb)
        except RecordingError as exc:
            reason = describe(exc)
            first_error = exc
        # the frame is damaged: the last good frame before it stands in, with the reason
        for stand_in in range(index - 1, max(-1, index - 1 - FALLBACK_FRAMES), -1):
            with self._cond:
                if self._target is not None or self._stop:
                    break  # a newer request: do not spend time on this one
            try:
                frame = self._frame(stand_in)
            except RecordingError:
                continue
            self._fallback[index] = (stand_in, reason)
            return DecodedFrame(index, frame.index, frame.t_ns, frame.rgb, reason)
        raise first_error

    def _frame(self, index: int) -> VideoFrame:
        if self._container is not None:
            return self._container.frame(index)
        assert self._source is not None
        key = ("local", index)
        cached = self._local.get(key)
        if isinstance(cached, VideoFrame):
            return cached
        frame = self._source.frame(index)
        self._local.put(key, frame, frame.rgb.nbytes)
        return frame

    # --- prefetch while playing -----------------------------------------------------------------

    def _ahead_frames(self) -> int:
        if self._nominal_ns <= 0:
            return PREFETCH_MIN_FRAMES
        frames = math.ceil(PREFETCH_SECONDS * 1e9 * self._speed / self._nominal_ns)
        return max(PREFETCH_MIN_FRAMES, min(PREFETCH_MAX_FRAMES, frames))

    def _ahead_window(self) -> tuple[int, int]:
        """[start, goal) still to prefetch after the playhead (empty when done or not playing)."""
        if not self._playing or self._playhead is None or self._count == 0:
            return 0, 0
        first = self._playhead + 1
        goal = min(self._count, first + self._ahead_frames())
        done = self._ahead_done
        start = done if done is not None and first <= done <= goal else first
        return start, goal

    def _wants_prefetch(self) -> bool:
        start, goal = self._ahead_window()
        return start < goal

    def _prefetch_step(self) -> None:
        """Decode one chunk ahead of the playhead (the caller loops; requests come first)."""
        with self._cond:
            start, goal = self._ahead_window()
        if start >= goal:
            return
        stop = min(goal, start + PREFETCH_CHUNK)
        try:
            if self._container is not None:
                self._container.decode_range(start, stop)
            else:
                for i in range(start, stop):
                    self._frame(i)
        except RecordingError:
            pass  # a damaged frame ahead: it is reported when (if) it is asked for
        except BaseException as exc:
            self.frameFailed.emit(start, describe(exc))
            stop = goal  # do not retry a failing prefetch in a loop
        with self._cond:
            self._ahead_done = stop
