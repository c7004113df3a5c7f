"""LeRobot ``features`` (meta/info.json), the frame-time grid, and outcomes from statistics.

Kept apart from file loading so the rules that decide what a user sees — which columns are
signals, what their channels are called, when an episode counts as a success, and which
nanosecond a frame sits on — live in one small place and are tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from math import prod
from typing import TYPE_CHECKING, Any

from robotrace_desktop.core.episode import Outcome
from robotrace_desktop.core.timebase import NS_PER_S

if TYPE_CHECKING:  # numpy loads on first read, not when a re-scan only sniffs
    import numpy as np


#: Per-row bookkeeping columns LeRobot adds to every dataset: never shown as signals.
BOOKKEEPING = frozenset({"index", "episode_index", "frame_index", "task_index", "timestamp"})
NUMERIC_DTYPES = frozenset(
    {
        "bool",
        "float16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
    }
)
#: Widest numeric feature read as a signal (one channel per value).
MAX_SIGNAL_WIDTH = 65_536
#: Features whose per-episode statistics decide the outcome.
OUTCOME_FEATURES = ("next.success", "next.done", "next.reward")


@dataclass(frozen=True, slots=True)
class Feature:
    """One entry of ``features`` in meta/info.json."""

    key: str
    dtype: str
    shape: tuple[int, ...] | None
    names: tuple[str, ...] | None  # flattened; None when absent or not one per element
    info: Mapping[str, Any] = field(default_factory=dict)  # video info (codec, size, fps)

    @property
    def is_video(self) -> bool:
        return self.dtype == "video"

    @property
    def is_image(self) -> bool:
        return self.dtype == "image"

    @property
    def is_signal(self) -> bool:
        return self.dtype in NUMERIC_DTYPES and self.key not in BOOKKEEPING

    @property
    def width(self) -> int:
        return int(prod(self.shape)) if self.shape else 1

    def channels(self) -> tuple[str, ...]:
        """Channel names: the feature's ``names`` when one per element, else ``key[i]``."""
        width = self.width
        if self.names is not None and len(self.names) == width:
            return self.names
        if width == 1 and self.shape in ((), (1,)):
            return (self.key,)
        return tuple(f"{self.key}[{i}]" for i in range(width))

    def summary(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": list(self.shape) if self.shape else None}


def flatten_names(names: Any) -> tuple[str, ...] | None:
    """``names`` as a flat tuple of strings.

    LeRobot writes them as a list (``["x", "y"]``), a nested list (``[["j1", "j2"]]``, as in
    datasets converted from v1) or a dict of lists (``{"motors": ["j1", "j2"]}``).
    """
    if names is None:
        return None
    flat: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)
        elif node is not None:
            flat.append(str(node))

    walk(names)
    return tuple(flat) or None


def parse_feature(key: str, raw: Any) -> tuple[Feature | None, str | None]:
    """A Feature, or None and the reason it cannot be used (for the problems list)."""
    if not isinstance(raw, Mapping):
        return None, f"feature {key!r} is not an object"
    dtype = str(raw.get("dtype", ""))
    if not dtype:
        return None, f"feature {key!r} has no dtype"
    shape_raw = raw.get("shape")
    shape: tuple[int, ...] | None = None
    if shape_raw is not None:
        try:
            shape = tuple(int(n) for n in shape_raw)
        except (TypeError, ValueError, OverflowError):
            return None, f"feature {key!r} has an invalid shape {shape_raw!r}"
        if any(n < 0 for n in shape):
            return None, f"feature {key!r} has an invalid shape {shape_raw!r}"
    names = flatten_names(raw.get("names"))
    info = raw.get("info") or raw.get("video_info") or {}
    if not isinstance(info, Mapping):
        info = {}
    if shape is None and dtype in NUMERIC_DTYPES and key not in BOOKKEEPING:
        if names is None:
            return None, f"feature {key!r} has no shape (and no names to infer it from)"
        shape = (len(names),)
    feature = Feature(key, dtype, shape, names, dict(info))
    if feature.is_signal and feature.width > MAX_SIGNAL_WIDTH:
        # a damaged shape would make millions of channel names and columns
        return None, (
            f"feature {key!r} has {feature.width} values per frame (shape {shape_raw!r}); "
            f"more than {MAX_SIGNAL_WIDTH} is not a signal"
        )
    return feature, None


def video_details(feature: Feature, fps: float) -> dict[str, Any]:
    """Codec, size and rate of a camera from its feature entry (v2.1 ``info``, v2.0
    ``video_info``); width/height fall back to the shape, read through ``names`` when given."""
    info = feature.info
    width = info.get("video.width")
    height = info.get("video.height")
    if (width is None or height is None) and feature.shape and len(feature.shape) == 3:
        axes = [n.lower() for n in feature.names or ()]
        if "height" in axes and "width" in axes:
            height = feature.shape[axes.index("height")]
            width = feature.shape[axes.index("width")]
        elif feature.shape[0] in (1, 3, 4):  # channel-first
            height, width = feature.shape[1], feature.shape[2]
        else:
            height, width = feature.shape[0], feature.shape[1]
    return {
        "codec": info.get("video.codec"),
        "width": None if width is None else int(width),
        "height": None if height is None else int(height),
        "fps": info.get("video.fps", fps),
        "pix_fmt": info.get("video.pix_fmt"),
    }


# -- the frame grid ---------------------------------------------------------------------------


def fps_fraction(fps: Any) -> Fraction:
    """The dataset rate as an exact fraction (29.97 -> 2997/100) for integer time math."""
    value = Fraction(fps).limit_denominator(1_000_000)
    if value <= 0 or value > 1_000_000:
        raise ValueError(f"fps must be positive and at most 1 MHz, got {fps!r}")
    return value


def frame_time_ns(index: int, fps: Fraction) -> int:
    """Time of frame ``index`` on the episode clock: index/fps seconds, rounded half up to
    the nanosecond. The one formula for signals, video frames and durations."""
    num, den = fps.numerator, fps.denominator
    return (index * 2 * NS_PER_S * den + num) // (2 * num)


def frame_times_ns(indices: np.ndarray, fps: Fraction) -> np.ndarray:
    """Vectorized ``frame_time_ns`` (identical integers)."""
    import numpy as np

    num, den = fps.numerator, fps.denominator
    idx = np.asarray(indices, dtype=np.int64)
    return (idx * (2 * NS_PER_S * den) + num) // (2 * num)


def first_frame_at_or_after(t_ns: int, fps: Fraction) -> int:
    """The smallest frame index whose time is >= t_ns (0 for negative times)."""
    if t_ns <= 0:
        return 0
    index = (t_ns * fps.numerator) // (NS_PER_S * fps.denominator)
    while frame_time_ns(index, fps) < t_ns:
        index += 1
    while index > 0 and frame_time_ns(index - 1, fps) >= t_ns:
        index -= 1
    return index


def duration_ns(length: int, fps: Fraction) -> int:
    """An episode of N frames lasts N/fps: the last frame is shown for one frame period,
    as a video player shows it (393 frames at 30 fps -> 13.1 s)."""
    return frame_time_ns(max(length, 0), fps)


# -- outcome ----------------------------------------------------------------------------------


def _stat_max(entry: Any) -> float | None:
    """The largest value in a stats entry's ``max`` (scalar, list or nested list)."""
    if not isinstance(entry, Mapping) or "max" not in entry:
        return None
    values: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, list | tuple):
            for item in node:
                walk(item)
        elif isinstance(node, bool | int | float) and node == node:  # skip NaN
            values.append(float(node))

    walk(entry["max"])
    return max(values) if values else None


def outcome_from_stats(stats: Mapping[str, Any]) -> Outcome:
    """Outcome from per-episode statistics (feature -> {min, max, ...}).

    ``next.success`` any true -> success, never true -> failure. Without it, an episode the
    environment ended (``next.done`` any true) is a success when it earned a positive
    ``next.reward`` and a failure otherwise; an episode never marked done (time limit, manual
    stop) or without these features is unknown.
    """
    success = _stat_max(stats.get("next.success"))
    if success is not None:
        return Outcome.from_success(success > 0)
    done = _stat_max(stats.get("next.done"))
    reward = _stat_max(stats.get("next.reward"))
    if done is not None and reward is not None and done > 0:
        return Outcome.from_success(reward > 0)
    return Outcome.UNKNOWN


def first_stat_value(entry: Any, key: str) -> float | None:
    """The first scalar of ``entry[key]`` (for ``task_index`` min), or None."""
    if not isinstance(entry, Mapping):
        return None
    node = entry.get(key)
    while isinstance(node, list | tuple) and node:
        node = node[0]
    if isinstance(node, bool | int | float):
        return float(node)
    return None


def clock_details(has_timestamp: bool) -> dict[str, str]:
    """How a LeRobot signal stream is timed, for its StreamInfo details.

    Rows are placed on the timeline by ``frame_index / fps`` (so the state row and the video
    frame shown at a time agree), which hides any hole in the recorded ``timestamp`` column.
    The column is kept as a second clock in every SignalChunk's ``times["timestamp"]``; this
    note says so where the viewer shows a stream's clock, and Explain checks both."""
    details = {"clock": "frame_index"}
    if has_timestamp:
        details["clock_reason"] = (
            "rows are placed at frame_index / fps; the recorded timestamp column is kept as a "
            "second clock"
        )
    return details
