"""How HDF5 datasets become streams: the sampling clock, channel names, and the walk that sorts
datasets into signal streams and cameras (shared by the ALOHA and robomimic layouts in ``hdf5``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from robotrace_desktop.core.episode import EpisodeInfo, StreamInfo, StreamKind
from robotrace_desktop.errors import RecordingError
from robotrace_desktop.readers.hdf5.video import (
    H5_ERRORS,
    decode_padded,
    image_layout,
    safe_attr,
    unsafe_dtype_reason,
)

ALOHA_JOINTS = tuple(
    f"{side}_{joint}"
    for side in ("left", "right")
    for joint in (
        "waist",
        "shoulder",
        "elbow",
        "forearm_roll",
        "wrist_angle",
        "wrist_rotate",
        "gripper",
    )
)
ALOHA_DEFAULT_HZ = 50.0
TIME_DATASETS = (
    "/observations/timestamps",
    "/observations/timestamp",
    "/observations/time",
    "/timestamps",
    "/timestamp",
    "/time",
)
RATE_ATTRS = ("fps", "control_freq", "frequency", "rate_hz")
NAME_ATTRS = ("names", "joint_names", "channel_names")
_UNIT_NS = {"s": 1e9, "sec": 1e9, "seconds": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}


@dataclass(slots=True)
class Clock:
    """Sample times of one episode: a fixed rate, or a time dataset loaded on open."""

    count: int
    basis: str
    period_ns: float | None = None
    dataset: str | None = None
    scale: float = 1.0
    quantum_ns: int = 1  # float times are rounded to what their precision can hold
    first_ns: int = 0
    last_ns: int = 0
    start_time_ns: int | None = None

    def times(self, f: h5py.File) -> np.ndarray:
        if self.dataset is None:
            steps = np.arange(self.count, dtype=np.float64)
            return np.rint(steps * (self.period_ns or 0.0)).astype(np.int64)
        raw = np.asarray(f[self.dataset][()])
        if raw.dtype.kind in "iu" and self.scale == 1:
            return raw.astype(np.int64) - np.int64(raw[0])
        rel = raw.astype(np.float64) - float(raw[0])
        return _quantize(rel * self.scale, self.quantum_ns)

    @property
    def duration_ns(self) -> int:
        if self.count <= 0:
            return 0
        if self.count == 1:
            return int(self.period_ns or 0)
        span = max(0, self.last_ns - self.first_ns)
        return round(span * self.count / (self.count - 1))


def _quantum_ns(magnitude: float, scale: float) -> int:
    """Float epoch seconds hold ~0.24 us: round to the power of ten at or above the float's
    resolution, so 1700000000.14 s - 1700000000.0 s reads as 140 ms, not 140.000105 ms."""
    step = float(np.spacing(magnitude)) * scale
    return 1 if step <= 1 else int(10 ** math.ceil(math.log10(step)))


def _quantize(values_ns: npt.NDArray[np.float64], quantum_ns: int) -> npt.NDArray[np.int64]:
    if quantum_ns <= 1:
        return np.rint(values_ns).astype(np.int64)
    return (np.rint(values_ns / quantum_ns) * quantum_ns).astype(np.int64)


def rate_clock(count: int, hz: float, basis: str) -> Clock:
    period = 1e9 / hz
    return Clock(count, basis, period, last_ns=round((count - 1) * period) if count else 0)


def dataset_clock(f: h5py.File, path: str, count: int) -> Clock | None:
    ds = f.get(path)
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.shape[0] != count or count == 0:
        return None
    if ds.dtype.kind not in "iuf":
        return None
    units = safe_attr(ds, "units") or safe_attr(ds, "unit")
    scale = _UNIT_NS.get(str(units).lower(), 0.0) if units else (1e9 if ds.dtype.kind == "f" else 1)
    if not scale:
        return None
    quantum = 1
    if ds.dtype.kind in "iu" and scale == 1:
        first_abs, last_ns = int(ds[0]), int(ds[-1]) - int(ds[0])
    else:
        first, last = float(ds[0]), float(ds[-1])
        quantum = _quantum_ns(max(abs(first), abs(last)), scale)
        first_abs = round(first * scale)
        last_ns = int(_quantize(np.array([(last - first) * scale]), quantum)[0])
    clock = Clock(count, f"dataset {path}", dataset=path, scale=scale, last_ns=last_ns)
    clock.quantum_ns = quantum
    if first_abs > 10**17:  # after 1973 in ns: an absolute epoch time
        clock.start_time_ns = int(first_abs)
    return clock


def aloha_clock(f: h5py.File, count: int) -> Clock:
    for path in TIME_DATASETS:
        clock = dataset_clock(f, path, count)
        if clock is not None:
            return clock
    for obj in (f, f.get("observations")):
        if obj is None:
            continue
        for name in RATE_ATTRS:
            value = safe_attr(obj, name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                return rate_clock(count, float(value), f"attribute {name}={value}")
        dt = safe_attr(obj, "dt")
        if isinstance(dt, int | float) and not isinstance(dt, bool) and dt > 0:
            return rate_clock(count, 1.0 / float(dt), f"attribute dt={dt}")
    return rate_clock(count, ALOHA_DEFAULT_HZ, "ALOHA default 50 Hz (no time data in file)")


@dataclass(slots=True)
class Plan:
    """Everything index() learned about one episode, reused by open()."""

    info: EpisodeInfo
    clock: Clock
    signals: dict[str, str] = field(default_factory=dict)  # stream -> dataset path
    videos: dict[str, tuple[str, str]] = field(default_factory=dict)  # stream -> (path, layout)


#: Deflate cannot expand data more than ~1032:1, so a dataset claiming more than this many
#: times the bytes it stores is hollow (unwritten chunks) or its shape is damaged: reading it
#: would allocate memory the file never held.
MAX_EXPANSION = 1100
HOLLOW_FLOOR_BYTES = 64 * 1024 * 1024
#: Widest 2-D dataset read as a signal (one channel per column).
MAX_SIGNAL_WIDTH = 65_536


def hollow_reason(ds: h5py.Dataset) -> str | None:
    """Why reading ``ds`` whole would allocate far more than the file holds, or None."""
    logical = int(ds.size) * int(ds.dtype.itemsize)
    if logical <= HOLLOW_FLOOR_BYTES:
        return None
    stored = int(ds.id.get_storage_size())
    if logical <= stored * MAX_EXPANSION:
        return None
    return (
        f"claims {logical} bytes (shape {tuple(ds.shape)}) but stores {stored}; "
        "its shape is damaged or its data was never written"
    )


def walk_datasets(group: h5py.Group, problems: list[str], path: Path) -> Iterator[h5py.Dataset]:
    """Datasets under ``group`` through hard links only (no external/soft links, no VDS),
    without hollow ones (see ``hollow_reason``)."""
    for key in group:
        link = group.get(key, getlink=True)
        full = f"{group.name.rstrip('/')}/{key}"
        if isinstance(link, h5py.ExternalLink):
            problems.append(f"{path}: {full} is an external link to another file; not followed")
            continue
        if isinstance(link, h5py.SoftLink):
            continue
        obj = group.get(key)
        if isinstance(obj, h5py.Group):
            yield from walk_datasets(obj, problems, path)
        elif isinstance(obj, h5py.Dataset):
            if obj.is_virtual:
                problems.append(f"{path}: {full} is a virtual dataset; not read")
                continue
            if (hollow := hollow_reason(obj)) is not None:
                problems.append(f"{path}: {full} {hollow}; not read")
                continue
            yield obj


def channel_names_for(
    ds: h5py.Dataset, leaf: str, *, aloha: bool
) -> tuple[tuple[str, ...], str | None]:
    width = None if ds.ndim == 1 else int(ds.shape[1])
    if width is None:
        return (leaf,), None
    for attr in NAME_ATTRS:
        names = safe_attr(ds, attr)
        if (
            isinstance(names, list)
            and len(names) == width
            and all(isinstance(n, str) for n in names)
        ):
            return tuple(names), f"attribute {attr}"
    if aloha and width == len(ALOHA_JOINTS):
        return ALOHA_JOINTS, "aloha-default"
    return tuple(f"{leaf}[{i}]" for i in range(width)), None


def time_range(clock: Clock) -> tuple[int | None, int | None]:
    return (clock.first_ns, clock.last_ns) if clock.count else (None, None)


def collect_streams(
    plan: Plan, base: h5py.Group, *, aloha: bool, path: Path, skip: tuple[str, ...] = ()
) -> None:
    """Sort every dataset under ``base`` into signal streams and cameras; stream names are the
    dataset paths relative to ``base``. 2-D uint8 datasets under an ``images`` group are
    zero-padded encoded images (ALOHA's compress=True layout)."""
    info, clock = plan.info, plan.clock
    t0, t1 = time_range(clock)
    skipped: list[str] = info.metadata.setdefault("skipped_datasets", [])
    base_name = base.name.rstrip("/")
    for ds in walk_datasets(base, info.problems, path):
        rel = ds.name[len(base_name) :]
        if rel.startswith(skip) or ds.name == clock.dataset:
            continue
        stream = rel
        reason = unsafe_dtype_reason(ds.dtype)
        if reason is not None:
            info.problems.append(f"{path}: {ds.name} {reason}; not read")
            continue
        if ds.ndim == 0 or ds.shape[0] != clock.count:
            skipped.append(ds.name)
            continue
        is_image_group = "/images/" in ds.name
        layout = image_layout(ds.shape, ds.dtype, compressed=is_image_group)
        if layout is not None and (is_image_group or ds.ndim >= 3):
            plan.videos[stream] = (ds.name, layout)
            info.streams.append(video_stream_info(stream, ds, layout, clock, path))
            continue
        if ds.dtype.kind not in "biuf" or ds.ndim > 2:
            skipped.append(ds.name)
            continue
        if ds.ndim == 2 and ds.shape[1] > MAX_SIGNAL_WIDTH:
            info.problems.append(
                f"{path}: {ds.name} has {ds.shape[1]} columns; more than {MAX_SIGNAL_WIDTH} "
                "is not a signal, not read"
            )
            continue
        channels, names_from = channel_names_for(ds, rel.rsplit("/", 1)[-1], aloha=aloha)
        details: dict[str, Any] = {
            "dataset": ds.name,
            "dtype": str(ds.dtype),
            "time_basis": clock.basis,
        }
        if names_from:
            details["names"] = names_from
        plan.signals[stream] = ds.name
        info.streams.append(
            StreamInfo(stream, StreamKind.SIGNAL, clock.count, channels, t0, t1, None, details)
        )
    if not skipped:
        info.metadata.pop("skipped_datasets")


def video_stream_info(
    stream: str, ds: h5py.Dataset, layout: str, clock: Clock, path: Path
) -> StreamInfo:
    details: dict[str, Any] = {"dataset": ds.name, "layout": layout, "time_basis": clock.basis}
    if layout == "jpeg":
        details["encoding"] = "jpeg (zero-padded)"
        try:
            rgb = decode_padded(ds[0], f"{path}:{ds.name}[0]")
            details["height"], details["width"] = int(rgb.shape[0]), int(rgb.shape[1])
        except (RecordingError, *H5_ERRORS):
            pass
    elif layout == "chw":
        details["height"], details["width"] = int(ds.shape[2]), int(ds.shape[3])
    else:
        details["height"], details["width"] = int(ds.shape[1]), int(ds.shape[2])
    t0, t1 = time_range(clock)
    message_type = "jpeg" if layout == "jpeg" else "raw rgb"
    return StreamInfo(stream, StreamKind.VIDEO, clock.count, (), t0, t1, message_type, details)
