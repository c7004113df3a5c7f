"""Cameras of a LeRobot episode: an mp4 (v2: the whole file, v3: a clip of a shared file)
decoded by ContainerVideo, with frame times snapped onto the dataset's frame grid.

Snapping matters for scrubbing: signals sit on ``frame_time_ns(i)``; a container's pts
converted to ns (e.g. 512/15360 s, or a v3 clip start given in float seconds) can land a
nanosecond off. Frames within a quarter period of a grid point take that grid time exactly
(through ContainerVideo's ``override_times_ns``), so the state row and the video frame shown at
a time always agree. Frames far off the grid (variable-rate video) keep their own times.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from robotrace_desktop.core.timebase import NS_PER_S
from robotrace_desktop.errors import RecordingError
from robotrace_desktop.readers.lerobot.features import frame_time_ns, frame_times_ns
from robotrace_desktop.readers.lerobot.meta import VideoRef
from robotrace_desktop.video.frames import FrameSource


def snap_to_grid(times_ns: np.ndarray, fps: Fraction) -> np.ndarray:
    """Each time within a quarter frame period of a grid time becomes that grid time; if that
    would make two frames collide, the times are returned unchanged."""
    raw = np.asarray(times_ns, dtype=np.int64)
    if raw.size == 0:
        return raw
    num, den = fps.numerator, fps.denominator
    nearest = (raw * (2 * num) + NS_PER_S * den) // (2 * NS_PER_S * den)
    grid = frame_times_ns(nearest, fps)
    tolerance = frame_time_ns(1, fps) // 4
    snapped = np.where(np.abs(raw - grid) <= tolerance, grid, raw)
    if snapped.size > 1 and np.any(np.diff(snapped) <= 0):
        return raw
    return snapped


def clip_bounds(ref: VideoRef, fps: Fraction) -> tuple[int, int | None, int]:
    """(clip_start_ns, clip_end_ns, offset_ns) for ContainerVideo.

    A v3 clip [from, to) is stored as float seconds, so a frame exactly at ``from`` may sit a
    hair before it in ns. The window is therefore shifted half a frame earlier (and the
    offset compensates), which keeps the episode's first frame and drops the previous
    episode's last one.
    """
    if ref.from_s is None:
        return 0, None, 0
    start = round(ref.from_s * NS_PER_S)
    half = frame_time_ns(1, fps) // 2
    clip_start = max(0, start - half)
    clip_end = None if ref.to_s is None else max(clip_start, round(ref.to_s * NS_PER_S) - half)
    return clip_start, clip_end, clip_start - start


def open_camera(path: Path, name: str, ref: VideoRef, fps: Fraction) -> FrameSource:
    """The episode's frames of one camera; RecordingError naming the file when missing."""
    if not path.is_file():
        raise RecordingError(path, f"video file {ref.rel} is missing")
    try:
        from robotrace_desktop.video.container import ContainerVideo
    except ImportError as exc:  # pragma: no cover - the decoder ships with the package
        raise RecordingError(path, f"video decoding is not available: {exc}") from exc
    clip_start, clip_end, offset = clip_bounds(ref, fps)
    video = ContainerVideo(
        path, name, clip_start_ns=clip_start, clip_end_ns=clip_end, offset_ns=offset
    )
    times = video.frame_times_ns()
    snapped = snap_to_grid(times, fps)
    if np.array_equal(snapped, times):
        return video
    video.close()  # reopen with grid times; the packet index comes from its cache file
    return ContainerVideo(
        path,
        name,
        clip_start_ns=clip_start,
        clip_end_ns=clip_end,
        offset_ns=offset,
        override_times_ns=snapped,
    )
