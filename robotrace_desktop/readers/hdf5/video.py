"""HDF5 image datasets as cameras, plus the safety checks every HDF5 access goes through.

An image dataset is read one frame at a time (``ds[i]``), never whole: raw (T, H, W, 3) /
(T, H, W) / (T, 3, H, W) uint8, or ALOHA's JPEG/PNG bytes padded with zeros to a fixed
width (T, padded_len) — the padding is stripped (JPEG ends with FFD9, PNG with the IEND CRC,
neither with a zero byte) and the image is decoded through PyAV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from robotrace_desktop.errors import (
    CorruptRecordingError,
    FrameIndexError,
    UnsupportedFormatError,
    source_guard,
)
from robotrace_desktop.video.frames import FrameSource, VideoFrame
from robotrace_desktop.video.images import decode_image_bytes

# Raised by h5py/HDF5 on truncated or inconsistent files.
H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError)


def open_h5(path: Path) -> h5py.File:
    """Open read-only without taking a file lock (read-only shares, files open elsewhere)."""
    try:
        try:
            return h5py.File(path, "r", locking=False)
        except TypeError:  # h5py < 3.5 has no locking argument
            return h5py.File(path, "r")
    except H5_ERRORS as exc:
        raise CorruptRecordingError(path, f"cannot open HDF5 file: {exc}") from exc


def unsafe_dtype_reason(dtype: np.dtype) -> str | None:
    """Why a dataset's dtype must not be read (object references, vlen objects), or None."""
    if h5py.check_dtype(ref=dtype) is not None:
        return "holds object references"
    vlen = h5py.check_dtype(vlen=dtype)
    if vlen is not None and vlen not in (str, bytes):
        return "holds variable-length objects"
    if dtype.hasobject and vlen is None:
        return "holds objects"
    if dtype.names:
        return "is a compound type"
    return None


def safe_attr(obj: h5py.HLObject, name: str) -> Any:
    """An attribute as a plain Python value; None when absent, a reference or not decodable."""
    try:
        if name not in obj.attrs:
            return None
        aid = obj.attrs.get_id(name)
        dtype = aid.dtype
        if h5py.check_dtype(ref=dtype) is not None:
            return None
        value = obj.attrs[name]
    except H5_ERRORS:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
            return items if all(isinstance(v, str) for v in items) else None
        if value.dtype.kind == "S":
            return [v.decode("utf-8", "replace") for v in value.tolist()]
        if value.ndim == 0:
            return value.item()
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def image_layout(shape: tuple[int, ...], dtype: np.dtype, *, compressed: bool) -> str | None:
    """'jpeg' (padded encoded bytes), 'hwc', 'hw' or 'chw'; None when not an image dataset."""
    if dtype != np.uint8:
        return None
    if compressed and len(shape) == 2:
        return "jpeg"
    if len(shape) == 4 and shape[3] in (1, 3):
        return "hwc"
    if len(shape) == 4 and shape[1] in (1, 3) and shape[3] > 4:
        return "chw"
    if len(shape) == 3 and shape[1] > 4 and shape[2] > 4:
        return "hw"
    return None


def to_rgb(raw: np.ndarray, layout: str) -> np.ndarray:
    if layout == "chw":
        raw = np.moveaxis(raw, 0, -1)
    if layout == "hw":
        raw = raw[:, :, None]
    if raw.shape[2] == 1:
        raw = np.repeat(raw, 3, axis=2)
    return np.ascontiguousarray(raw)


def decode_padded(row: np.ndarray, origin: str) -> np.ndarray:
    data = np.asarray(row, dtype=np.uint8).tobytes().rstrip(b"\x00")
    if not data:
        raise CorruptRecordingError(origin, "empty image (all padding)")
    return decode_image_bytes(data, "jpeg", origin=origin)


class Hdf5ImageVideo(FrameSource):
    """One camera stored as an HDF5 dataset; opens its own read-only handle on first use."""

    def __init__(
        self, path: Path, dataset: str, name: str, times_ns: np.ndarray, layout: str
    ) -> None:
        self.path = path
        self.dataset = dataset
        self.name = name
        self.layout = layout
        self._times = np.asarray(times_ns, dtype=np.int64)
        self._file: h5py.File | None = None

    @source_guard("cannot read frame times")
    def frame_times_ns(self) -> np.ndarray:
        return self._times

    def _ds(self) -> h5py.Dataset:
        if self._file is None:
            self._file = open_h5(self.path)
        obj = self._file.get(self.dataset)
        if not isinstance(obj, h5py.Dataset):
            raise UnsupportedFormatError(self.path, f"no image dataset {self.dataset!r}")
        return obj

    @source_guard("cannot decode frame")
    def frame(self, index: int) -> VideoFrame:
        if not 0 <= index < len(self._times):
            raise FrameIndexError(f"{self.name}: frame {index} outside 0..{len(self._times) - 1}")
        origin = f"{self.path}:{self.dataset}[{index}]"
        try:
            raw = self._ds()[index]
        except H5_ERRORS as exc:
            raise CorruptRecordingError(origin, f"cannot read frame: {exc}") from exc
        rgb = decode_padded(raw, origin) if self.layout == "jpeg" else to_rgb(raw, self.layout)
        return VideoFrame(index, int(self._times[index]), rgb)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
