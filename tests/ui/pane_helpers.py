"""Helpers of the video pane tests (no tests here): open a pane, settle it, read what it shows."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from pytestqt.qtbot import QtBot

from robotrace_desktop.ui.qimage import qimage_to_rgb
from robotrace_desktop.ui.video_grid import VideoGrid
from robotrace_desktop.ui.video_pane import VideoPane
from robotrace_desktop.video.frames import FrameSource
from tests.video.video_fixtures import frame_number, paint_index

OPEN_TIMEOUT_MS = 30_000
SETTLE_TIMEOUT_MS = 15_000


class Panes:
    """Builds panes that are shown and sized; ``close_all`` stops their workers (each test module
    wraps this in a ``make_pane`` fixture). This module holds helpers only, no tests."""

    def __init__(self, qtbot: QtBot) -> None:
        self._qtbot = qtbot
        self._panes: list[VideoPane] = []

    def __call__(
        self,
        name: str,
        opener: Callable[[], FrameSource] | None,
        *,
        size: tuple[int, int] = (320, 262),
        wait_ready: bool = True,
        grid: VideoGrid | None = None,
        **kwargs: object,
    ) -> VideoPane:
        """A pane on its own (closed by qtbot) or in ``grid`` (closed with the grid)."""
        pane = VideoPane(name, opener, **kwargs)  # type: ignore[arg-type]
        self._panes.append(pane)
        if grid is not None:
            grid.add_pane(pane)
        else:
            self._qtbot.addWidget(pane)
            pane.resize(*size)
            pane.show()
        if wait_ready and opener is not None:
            self._qtbot.waitUntil(pane.is_ready, timeout=OPEN_TIMEOUT_MS)
        return pane

    def close_all(self) -> None:
        for pane in self._panes:
            pane.shutdown()


def settle(qtbot: QtBot, pane: VideoPane, t_ns: int, *, scrubbing: bool = False) -> None:
    pane.set_time(int(t_ns), scrubbing=scrubbing)
    qtbot.waitUntil(pane.is_settled, timeout=SETTLE_TIMEOUT_MS)


def painted(pane: VideoPane) -> int:
    """The frame number painted into the pixels the pane shows."""
    image = pane.current_image()
    assert image is not None, "the pane shows no frame"
    return frame_number(qimage_to_rgb(image))


def expected_index(times: np.ndarray, nominal_ns: int, t_ns: int) -> int | None:
    """The frame a sequential decode shows at t: the last frame starting at or before t, or None
    before the first frame and after the last frame's interval."""
    if t_ns < int(times[0]):
        return None
    index = int(np.searchsorted(times, t_ns, side="right")) - 1
    if index == len(times) - 1 and t_ns >= int(times[-1]) + nominal_ns:
        return None
    return index


def nominal_ns(times: np.ndarray) -> int:
    return int(np.median(np.diff(times))) if len(times) > 1 else 1_000_000_000 // 30


def random_times(times: np.ndarray, count: int, seed: int) -> list[int]:
    """Playhead times that jump forward and backward: frame starts, one ns before a frame start,
    inside intervals, and a few before/after the video."""
    rng = np.random.default_rng(seed)
    step = nominal_ns(times)
    lo, hi = int(times[0]) - 3 * step, int(times[-1]) + 3 * step
    out: list[int] = []
    for _ in range(count):
        kind = rng.integers(0, 4)
        i = int(rng.integers(0, len(times)))
        if kind == 0:
            out.append(int(times[i]))
        elif kind == 1:
            out.append(int(times[i]) - 1)
        else:
            out.append(int(rng.integers(lo, hi)))
    return out


def write_long_gop_h264(path: Path, n_frames: int, gop: int, fps: int = 30) -> Path:
    """H.264 with 3 B-frames and a fixed long GOP; frame k paints k."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={"x264-params": f"bframes=3:keyint={gop}:min-keyint={gop}:scenecut=0"},
        )
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for k in range(n_frames):
            frame = av.VideoFrame.from_ndarray(paint_index(k))
            frame.pts = k
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
