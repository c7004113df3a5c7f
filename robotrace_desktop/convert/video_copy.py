"""Cameras into a bundle: copied byte-for-byte when possible, re-encoded losslessly otherwise.

The rule that decides: the frame the viewer shows at time t must be the same in the bundle as
in the source — same frame times, same pixels.

- **Copy.** The source camera is a ``ContainerVideo`` over a whole file (a bundle video, a
  LeRobot v2 per-episode mp4, a v3 file holding one episode): the file is copied as-is (any
  codec, AV1 included). Its frame times are written to a ``timestamps`` .npy only when they
  differ from what the bundle would derive from the container (``t0_ns`` + pts − first pts),
  e.g. LeRobot times snapped to the dataset's frame grid.
- **Re-encode.** Every other camera — a clip of a shared file (LeRobot v3 concatenated
  videos), ROS Image/CompressedImage topics, HDF5 image arrays, LeRobot image columns — is
  decoded frame by frame through its FrameSource and encoded with ``libx264rgb -qp 0`` (lossless
  RGB H.264 in mp4; ``ffv1`` in mkv when FFmpeg lacks libx264rgb), with the source frame times in
  a ``timestamps`` .npy. The video module seeks such files exactly, and decoding gives back the
  source's RGB pixels bit for bit. Frames sharing a time are reduced to the one the source shows
  (the last of them); frames that cannot be decoded, or whose size differs from the first, are
  left out and named in a problem sentence — the previous frame then stays on screen.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import av
import numpy as np

from robotrace_desktop.bundle.manifest import VideoEntry
from robotrace_desktop.bundle.tables import write_frame_times
from robotrace_desktop.core.episode import EpisodeSource
from robotrace_desktop.core.timebase import NS_PER_S as _NS
from robotrace_desktop.errors import RecordingError
from robotrace_desktop.video.frames import FrameSource

if TYPE_CHECKING:
    from av.container import OutputContainer
    from av.video.stream import VideoStream

PTS_TIME_BASE = Fraction(1, 90_000)  # the usual video clock; the .npy holds the exact times


@dataclass(slots=True)
class CameraCopy:
    """What was written for one camera."""

    entry: VideoEntry
    method: str  # "copy" or "encode"
    frames: int
    problems: list[str] = field(default_factory=list)


def write_camera(source: EpisodeSource, name: str, folder: Path, stem: str) -> CameraCopy:
    """Write camera ``name`` of ``source`` under ``folder`` as ``video/<stem>.<ext>`` (+ the
    timestamps .npy when needed). Raises RecordingError (naming the file) when the camera
    cannot be opened or has no usable frame."""
    frames = source.video(name)
    try:
        times = np.asarray(frames.frame_times_ns(), dtype=np.int64)
        if len(times) == 0:
            raise RecordingError(name, "the camera has no frames")
        if len(times) > 1 and bool(np.any(np.diff(times) < 0)):
            raise RecordingError(name, "frame times are not in increasing order")
        whole = whole_file(frames)
        if whole is not None and (len(times) < 2 or bool(np.all(np.diff(times) > 0))):
            return _copy(whole, name, times, folder, stem)
        return _encode(frames, name, times, folder, stem)
    finally:
        frames.close()


def whole_file(frames: FrameSource) -> Path | None:
    """The container file behind ``frames`` when every frame of that file is in this camera."""
    from robotrace_desktop.video.container import ContainerVideo

    if not isinstance(frames, ContainerVideo):
        return None
    if frames.file_frames != range(0, len(frames.index.frame_ns)):
        return None
    return frames.path


def _copy(src: Path, name: str, times: np.ndarray, folder: Path, stem: str) -> CameraCopy:
    from robotrace_desktop.video.packet_index import load_index

    rel = f"video/{stem}{src.suffix.lower() or '.mp4'}"
    target = folder / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    frame_ns = load_index(src).frame_ns
    derived = frame_ns - frame_ns[0] + times[0]
    entry = VideoEntry(camera=name, path=rel, t0_ns=int(times[0]))
    if not np.array_equal(derived, times):
        entry = VideoEntry(name, rel, int(times[0]), _write_times(folder, stem, times))
    return CameraCopy(entry, "copy", len(times))


def _write_times(folder: Path, stem: str, times: np.ndarray) -> str:
    rel = f"video/{stem}_times.npy"
    write_frame_times(folder / rel, times)
    return rel


def _encode(
    frames: FrameSource, name: str, times: np.ndarray, folder: Path, stem: str
) -> CameraCopy:
    shown = np.append(np.diff(times) > 0, True)  # of equal times the source shows the last
    problems: list[str] = []
    if not bool(shown.all()):
        problems.append(
            f"camera {name!r}: {int((~shown).sum())} frame(s) share a time with a later frame "
            "and are never shown; left out"
        )
    writer: _LosslessWriter | None = None
    kept: list[int] = []
    bad: list[tuple[int, str]] = []
    resized: list[int] = []
    try:
        for index in np.flatnonzero(shown).tolist():
            try:
                rgb = frames.frame(index).rgb
            except (RecordingError, IndexError, ValueError, av.FFmpegError) as exc:
                bad.append((index, str(exc)))
                continue
            if writer is None:
                writer = _LosslessWriter(folder, stem, rgb.shape[1], rgb.shape[0], times)
            elif rgb.shape[:2] != (writer.height, writer.width):
                resized.append(index)
                continue
            writer.add(rgb, int(times[index]))
            kept.append(index)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        reason = bad[0][1] if bad else "no frame"
        raise RecordingError(name, f"no frame of the camera could be decoded ({reason})")
    if bad:
        problems.append(
            f"camera {name!r}: {len(bad)} frame(s) could not be decoded and were left out "
            f"(first: frame {bad[0][0]}: {bad[0][1]})"
        )
    if resized:
        problems.append(
            f"camera {name!r}: {len(resized)} frame(s) differ in size from the first "
            f"({writer.width}x{writer.height}) and were left out (first: frame {resized[0]})"
        )
    kept_times = times[kept]
    entry = VideoEntry(name, writer.rel, int(kept_times[0]), _write_times(folder, stem, kept_times))
    return CameraCopy(entry, "encode", len(kept), problems)


class _LosslessWriter:
    """Lossless RGB video: libx264rgb qp 0 in mp4, else ffv1 in mkv. pts follow the source
    times on a 90 kHz clock (strictly increasing), so other players show a sensible timing."""

    _container: OutputContainer | None  # None once closed
    _stream: VideoStream

    def __init__(self, folder: Path, stem: str, width: int, height: int, times: np.ndarray):
        self.width, self.height = width, height
        self._t0 = int(times[0])
        self._last_pts = -1
        diffs = np.diff(times)
        diffs = diffs[diffs > 0]
        rate = round(_NS / float(np.median(diffs))) if len(diffs) else 30
        rate = min(max(rate, 1), 1000)
        (folder / "video").mkdir(parents=True, exist_ok=True)
        try:
            self._open(folder, stem, "libx264rgb", ".mp4", rate)
            self._stream.options = {"qp": "0", "preset": "veryfast", "bf": "0", "g": str(rate)}
            self._pix_fmt = "rgb24"
        except (av.FFmpegError, ValueError):  # an FFmpeg build without libx264
            self.close()
            (folder / self.rel).unlink(missing_ok=True)
            self._open(folder, stem, "ffv1", ".mkv", rate)
            self._pix_fmt = "bgr0"
        self._stream.pix_fmt = self._pix_fmt

    def _open(
        self, folder: Path, stem: str, codec: Literal["libx264rgb", "ffv1"], ext: str, rate: int
    ) -> None:
        self.rel = f"video/{stem}{ext}"
        self._container = av.open(str(folder / self.rel), "w")
        self._stream = self._container.add_stream(codec, rate=rate)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.time_base = PTS_TIME_BASE

    def add(self, rgb: np.ndarray, t_ns: int) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, np.uint8), format="rgb24")
        if self._pix_fmt != "rgb24":
            frame = frame.reformat(format=self._pix_fmt)
        pts = (t_ns - self._t0) * PTS_TIME_BASE.denominator // _NS
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        frame.pts, frame.time_base = pts, PTS_TIME_BASE
        if self._container is None:
            raise RuntimeError(f"{self.rel}: frame added after the video was closed")
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is None:
            return
        try:
            if self._last_pts >= 0:
                container.mux(self._stream.encode(None))
        finally:
            container.close()
            self._container = None
