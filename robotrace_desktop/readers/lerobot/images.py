"""LeRobot ``image`` features: PNG/JPEG bytes stored in the parquet rows (struct{bytes, path})
instead of an mp4. Served as a FrameSource so the UI treats them like any camera."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from robotrace_desktop.errors import CorruptRecordingError, FrameIndexError, source_guard
from robotrace_desktop.readers.lerobot.data import EpisodeRows, Rows
from robotrace_desktop.video.frames import FrameSource, VideoFrame
from robotrace_desktop.video.images import decode_image_bytes


class ParquetImages(FrameSource):
    """The episode's image column, read once (compressed bytes only) and decoded per frame."""

    def __init__(self, rows: EpisodeRows, key: str, fps: Fraction) -> None:
        self.name = key
        self.path = rows.path  # named in error messages
        self._rows = rows
        self._key = key
        self._fps = fps
        self._data: Rows | None = None

    def _load(self) -> Rows:
        if self._data is None:
            self._data = self._rows.read([self._key])
        return self._data

    @source_guard("cannot read frame times")
    def frame_times_ns(self) -> np.ndarray:
        return self._load().t_ns

    @source_guard("cannot decode frame")
    def frame(self, index: int) -> VideoFrame:
        data = self._load()
        if not 0 <= index < len(data.t_ns):
            raise FrameIndexError(
                f"{self._key}: frame {index} out of range 0..{len(data.t_ns) - 1}"
            )
        cell = data.columns[self._key][index].as_py()
        payload = cell.get("bytes") if isinstance(cell, dict) else cell
        origin = f"{self._rows.path} ({self._key} frame {index})"
        if not isinstance(payload, bytes | bytearray) or not payload:
            raise CorruptRecordingError(origin, "no image bytes in this row")
        rgb = decode_image_bytes(payload, origin=origin)
        return VideoFrame(index, int(data.t_ns[index]), rgb)
