"""Video inputs of ``log_episode`` / ``add_video``: camera names, a decode probe, and ``fps``.

Each file is opened with PyAV and its first frame decoded, so a file FFmpeg cannot decode is a
ValidationError before anything is written (a missing file is a ConfigurationError).

``fps`` is the *nominal* frame rate for videos whose container carries no timestamps (raw
H.264/HEVC/MJPEG elementary streams, which FFmpeg would otherwise time at a guessed 25 fps):
frame *i* is then placed at ``t0 + i / fps`` by a timestamps file in the bundle. A container
with its own timestamps (MP4, MKV, AVI, WebM...) keeps them; an ``fps`` that disagrees with
its rate by more than 1 % is reported as a warning and not applied.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.errors import ConfigurationError, RecordingError, ValidationError

_RATE_TOLERANCE = 0.01
#: AVFMT_NOTIMESTAMPS: set by FFmpeg's raw elementary-stream demuxers (h264, hevc, mjpeg...)
_NO_TIMESTAMPS = 0x80


@dataclass(slots=True)
class VideoInput:
    """One camera to store. ``timestamps_ns`` (episode time per frame) replaces the
    container's timing when it has none and ``fps`` was given."""

    camera: str
    path: Path
    t0_ns: int = 0
    timestamps_ns: np.ndarray | None = None


def camera_paths(value: object, argument: str = "video") -> list[tuple[str, Path]]:
    """A path (camera = file stem), a list of paths (stems, which must differ) or
    ``{camera: path}``."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        return [(path.stem, path)]
    if isinstance(value, Mapping):
        out = []
        for camera, path in value.items():
            if not isinstance(camera, str) or not camera.strip():
                raise ValidationError(f"{argument}: camera names must be non-empty strings")
            if not isinstance(path, (str, os.PathLike)):
                raise ValidationError(
                    f"{argument}[{camera!r}] must be a file path, got {type(path).__name__}"
                )
            out.append((camera, Path(path)))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for i, path in enumerate(value):
            if not isinstance(path, (str, os.PathLike)):
                raise ValidationError(
                    f"{argument}[{i}] must be a file path, got {type(path).__name__}"
                )
            path = Path(path)
            clash = next((p for c, p in out if c == path.stem), None)
            if clash is not None:
                raise ValidationError(
                    f"{argument}: {clash} and {path} would both be camera {path.stem!r}; "
                    "pass a dict {camera: path} to name them"
                )
            out.append((path.stem, path))
        return out
    raise ValidationError(
        f"{argument} must be a path, a list of paths or a dict {{camera: path}}, "
        f"got {type(value).__name__}"
    )


def check_video(
    camera: str, path: Path, fps: float | None, *, t0_ns: int = 0
) -> tuple[VideoInput, list[str]]:
    """Probe one video (decode its first frame) and apply ``fps``; (input, warnings)."""
    path = Path(path).expanduser().absolute()
    label = f"video {camera!r}: {path}"
    if not path.exists():
        raise ConfigurationError(f"{label}: file not found")
    if not path.is_file():
        raise ConfigurationError(f"{label}: not a file")
    no_timestamps, rate = _probe(path, label)
    warnings: list[str] = []
    timestamps = None
    if no_timestamps and fps is not None:
        count = _frame_count(path, label)
        steps = np.arange(count, dtype=np.float64) * (NS / fps)
        timestamps = t0_ns + np.round(steps).astype(np.int64)
    elif no_timestamps:
        warnings.append(
            f"{label} has no timestamps; it is timed at FFmpeg's guessed {rate:g} fps "
            "(pass fps= to give its real rate)"
        )
    elif fps is not None and rate and abs(rate - fps) > _RATE_TOLERANCE * fps:
        warnings.append(
            f"{label}: fps={fps:g} not applied; the container has its own timestamps ({rate:g} fps)"
        )
    return VideoInput(camera, path, t0_ns, timestamps), warnings


def _probe(path: Path, label: str) -> tuple[bool, float]:
    """(container without timestamps, average rate); the first frame must decode."""
    from robotrace_desktop.video.packet_index import open_container, video_stream

    try:
        container = open_container(path)
    except RecordingError as exc:
        raise ValidationError(f"{label}: cannot be decoded ({exc.reason})") from exc
    try:
        stream = video_stream(container, path)
        flags = int(container.format.flags)
        rate = stream.average_rate or stream.guessed_rate
        frame = next(iter(container.decode(stream)), None)
    except RecordingError as exc:
        raise ValidationError(f"{label}: cannot be decoded ({exc.reason})") from exc
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ValidationError(f"{label}: cannot be decoded ({exc})") from exc
    finally:
        container.close()
    if frame is None:
        raise ValidationError(f"{label}: cannot be decoded (no frame decodes)")
    return bool(flags & _NO_TIMESTAMPS), float(rate) if rate else 0.0


def _frame_count(path: Path, label: str) -> int:
    from robotrace_desktop.video.packet_index import build_index

    try:
        return build_index(path).frame_count
    except RecordingError as exc:
        raise ValidationError(f"{label}: cannot be decoded ({exc.reason})") from exc


def video_inputs(value: object, fps: float | None) -> tuple[list[VideoInput], list[str]]:
    videos: list[VideoInput] = []
    warnings: list[str] = []
    for camera, path in camera_paths(value):
        video, more = check_video(camera, path, fps)
        videos.append(video)
        warnings += more
    return videos, warnings
