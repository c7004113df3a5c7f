"""Which video frame is shown at a time: one rule for the viewer, ``frame`` and exports.

A frame is shown from its own presentation time until the next frame's (the last one for the
median frame interval) — exactly what a sequential decode shows. The viewer's panes, the
``frame`` command, the frame indices in bookmark exports and the link round-trip tests all
call these functions, so a time that lands on frame N in one place lands on it everywhere.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

DEFAULT_FRAME_NS = 1_000_000_000 // 30  # a lone frame is shown for one 30 fps interval
Outside = Literal["before", "after"] | None


def nominal_frame_ns(times_ns: np.ndarray) -> int:
    """Median frame interval: how long the last frame stays on screen."""
    times = np.asarray(times_ns)
    if len(times) < 2:
        return DEFAULT_FRAME_NS
    return int(np.median(np.diff(times)))


def locate_frame(
    times_ns: np.ndarray, t_ns: int, nominal_ns: int | None = None
) -> tuple[int, Outside]:
    """``(index, None)`` when frame ``index``'s interval contains ``t_ns``; outside the video
    the edge frame and ``"before"`` / ``"after"`` (a pane keeps showing the edge frame).
    ``times_ns`` must be sorted and non-empty."""
    times = np.asarray(times_ns)
    if t_ns < int(times[0]):
        return 0, "before"
    index = int(np.searchsorted(times, t_ns, side="right")) - 1
    last = len(times) - 1
    if index == last:
        step = nominal_frame_ns(times) if nominal_ns is None else nominal_ns
        if t_ns >= int(times[-1]) + step:
            return index, "after"
    return index, None


def frame_index_at(times_ns: np.ndarray, t_ns: int, nominal_ns: int | None = None) -> int | None:
    """The frame whose presentation interval contains ``t_ns``; None outside the video."""
    if len(times_ns) == 0:
        return None
    index, outside = locate_frame(times_ns, t_ns, nominal_ns)
    return None if outside else index
