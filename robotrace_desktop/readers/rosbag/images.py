"""sensor_msgs Image / CompressedImage topics as cameras: frames decoded one message at a time.

Frame times are the messages' RECORD times (from the container's index, so listing them reads
no pixels); reading frame i deserialises only message i. Nothing is re-encoded or written.

Raw encodings: rgb8, bgr8, rgba8, bgra8, 8UC3 (taken as bgr8, OpenCV's order), 8UC4, mono8/8UC1,
mono16 (high byte), 16UC1 and 32FC1 (per-frame min..max scaled to 0..255, NaN → 0, as depth
images have no fixed range), bayer_{rggb,bggr,gbrg,grbg}8 (2×2 block demosaic).
CompressedImage: JPEG/PNG through ``decode_image_bytes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from rosbags.interfaces import Connection

from robotrace_desktop.errors import (
    CorruptRecordingError,
    FrameIndexError,
    UnsupportedFormatError,
    source_guard,
)
from robotrace_desktop.readers.rosbag.bagfile import BagFile
from robotrace_desktop.video.frames import FrameSource, VideoFrame
from robotrace_desktop.video.images import decode_image_bytes

_BAYER = {
    "bayer_rggb8": ((0, 0), (1, 1)),  # (R position, B position) inside the 2×2 block
    "bayer_bggr8": ((1, 1), (0, 0)),
    "bayer_gbrg8": ((1, 0), (0, 1)),
    "bayer_grbg8": ((0, 1), (1, 0)),
}


def _rows(msg: Any, channels: int, dtype: npt.DTypeLike) -> np.ndarray:
    height, width = int(msg.height), int(msg.width)
    itemsize = np.dtype(dtype).itemsize
    step = int(msg.step) or width * channels * itemsize
    raw = np.asarray(msg.data, dtype=np.uint8)
    if raw.size < step * height:
        raise ValueError(f"image data has {raw.size} bytes, expected {step * height}")
    rows = raw[: step * height].reshape(height, step)[:, : width * channels * itemsize]
    order: Literal[">", "<"] = ">" if msg.is_bigendian else "<"
    pixels = np.ascontiguousarray(rows).view(np.dtype(dtype).newbyteorder(order))
    return pixels.reshape(height, width, channels)


def _scaled(img: np.ndarray) -> np.ndarray:
    data = np.nan_to_num(img.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(data.min(initial=0.0)), float(data.max(initial=0.0))
    if hi <= lo:
        return np.zeros(img.shape[:2], np.uint8)
    return ((data - lo) * (255.0 / (hi - lo))).astype(np.uint8)[:, :, 0]


def _gray(img: np.ndarray) -> np.ndarray:
    return np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, axis=2)


def _bayer(img: np.ndarray, encoding: str) -> np.ndarray:
    (ry, rx), (by, bx) = _BAYER[encoding]
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    mosaic = img[:h, :w, 0].astype(np.uint16)
    red = mosaic[ry::2, rx::2]
    blue = mosaic[by::2, bx::2]
    green = (mosaic[ry::2, 1 - rx :: 2] + mosaic[1 - ry :: 2, rx::2]) // 2
    half = np.stack([red, green, blue], axis=2).astype(np.uint8)
    return np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)


def _bayer_of(encoding: str) -> Callable[[Any], np.ndarray]:
    return lambda m: _bayer(_rows(m, 1, np.uint8), encoding)


_RAW: dict[str, Callable[[Any], np.ndarray]] = {
    "rgb8": lambda m: _rows(m, 3, np.uint8),
    "bgr8": lambda m: _rows(m, 3, np.uint8)[:, :, ::-1],
    "8UC3": lambda m: _rows(m, 3, np.uint8)[:, :, ::-1],
    "rgba8": lambda m: _rows(m, 4, np.uint8)[:, :, :3],
    "bgra8": lambda m: _rows(m, 4, np.uint8)[:, :, 2::-1],
    "8UC4": lambda m: _rows(m, 4, np.uint8)[:, :, 2::-1],
    "mono8": lambda m: _gray(_rows(m, 1, np.uint8)),
    "8UC1": lambda m: _gray(_rows(m, 1, np.uint8)),
    "mono16": lambda m: _gray((_rows(m, 1, np.uint16) >> 8).astype(np.uint8)),
    "16UC1": lambda m: _gray(_scaled(_rows(m, 1, np.uint16))),
    "32FC1": lambda m: _gray(_scaled(_rows(m, 1, np.float32))),
    **{enc: _bayer_of(enc) for enc in _BAYER},
}


def image_to_rgb(msg: Any, msgtype: str, origin: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an Image or CompressedImage message."""
    if msgtype.endswith("CompressedImage"):
        return decode_image_bytes(
            np.asarray(msg.data, np.uint8).tobytes(), msg.format, origin=origin
        )
    convert = _RAW.get(msg.encoding)
    if convert is None:
        raise UnsupportedFormatError(origin, f"unsupported image encoding {msg.encoding!r}")
    try:
        return np.ascontiguousarray(convert(msg))
    except ValueError as exc:
        raise CorruptRecordingError(origin, f"bad image: {exc}") from exc


class RosImageFrames(FrameSource):
    """One Image/CompressedImage topic of an opened bag."""

    def __init__(
        self,
        name: str,
        bag: BagFile,
        connections: Sequence[Connection],
        decode: Callable[[Connection, bytes], Any],
        msgtype: str,
        t0_ns: int,
    ) -> None:
        self.name = name
        self.path = bag.path  # named in error messages
        self._bag = bag
        self._conns = list(connections)
        self._decode = decode
        self._msgtype = msgtype
        self._record = bag.timestamps(self._conns)
        self._times = self._record - np.int64(t0_ns)

    @source_guard("cannot read frame times")
    def frame_times_ns(self) -> np.ndarray:
        return self._times

    @source_guard("cannot decode frame")
    def frame(self, index: int) -> VideoFrame:
        if not 0 <= index < len(self._record):
            raise FrameIndexError(
                f"{self.name}: frame {index} out of range 0..{len(self._record) - 1}"
            )
        t = int(self._record[index])
        nth = index - int(np.searchsorted(self._record, t, side="left"))
        origin = f"{self._bag.path} {self.name} frame {index}"
        for k, (conn, _, raw) in enumerate(self._bag.messages(self._conns, t, t + 1)):
            if k == nth:
                rgb = image_to_rgb(self._decode(conn, raw), self._msgtype, origin)
                return VideoFrame(index, int(self._times[index]), rgb)
        raise CorruptRecordingError(origin, "message listed in the index could not be read")
