"""The camera abstraction every reader hands out: frame times plus exact frame access.

A frame is shown for time t when its presentation interval [pts_i, pts_{i+1}) contains t —
exactly what a sequential decode shows. The last frame's interval ends one nominal frame
duration after it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads with the first frame lookup, not at import (fast re-scans)
    import numpy as np


@dataclass(frozen=True, slots=True)
class VideoFrame:
    index: int
    t_ns: int  # presentation time, relative to the episode start
    rgb: np.ndarray  # (H, W, 3) uint8


class FrameSource(ABC):
    """One camera of one episode."""

    name: str

    @abstractmethod
    def frame_times_ns(self) -> np.ndarray:
        """Presentation times (int64, sorted, episode-relative) of every frame."""

    @abstractmethod
    def frame(self, index: int) -> VideoFrame:
        """Decode frame ``index`` exactly (0-based, in presentation order)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release decoders and file handles."""

    def frame_index_at(self, t_ns: int) -> int | None:
        """The frame whose presentation interval contains t_ns, or None outside the video."""
        from robotrace_desktop.core.frame_lookup import frame_index_at

        times = self.frame_times_ns()
        # the nominal interval matters only on the last frame: no median per lookup
        on_last = len(times) > 0 and t_ns >= int(times[-1])
        return frame_index_at(times, t_ns, self.nominal_frame_ns() if on_last else None)

    def frame_at(self, t_ns: int) -> VideoFrame | None:
        index = self.frame_index_at(t_ns)
        return None if index is None else self.frame(index)

    def nominal_frame_ns(self) -> int:
        """Median frame interval; the display duration of the last frame."""
        from robotrace_desktop.core.frame_lookup import nominal_frame_ns

        return nominal_frame_ns(self.frame_times_ns())

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
