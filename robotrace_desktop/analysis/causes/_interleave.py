"""A clock that stepped back, seen on the timeline alone.

When the clock a stream is placed by steps back by J seconds (a recorder's wall clock stepped by
NTP, a sim clock reset), the reader sorts the rows by that clock: the rows stamped after the
step land among the J seconds of rows stamped before it. A periodic stream then carries about
TWICE its samples over a stretch of about J seconds, ending where the step happened — with no
gap anywhere. A burst of queued messages after a stall is much denser than 2× and follows a gap;
an interleave of a stream with itself is 2×. A continuous stream received with jitter is judged
by its mean rate (``timing``), and its count dipping out of the band for a moment inside the
stretch does not split it.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from robotrace_desktop.core.timebase import NS_PER_S as NS

#: the sample density, relative to the stream's own rate, that an interleave gives
DENSITY_RANGE = (1.6, 2.4)


def doubled_stretches(
    t: np.ndarray, median_ns: float, min_length_ns: float
) -> list[tuple[int, int]]:
    """(start, end) of stretches where sorted times ``t`` hold about twice the samples their
    median interval implies, at least ``min_length_ns`` long."""
    if len(t) < 20 or median_ns <= 0:
        return []
    window = max(8.0 * median_ns, 0.2 * NS)
    if t[-1] - t[0] < 3 * window:
        return []
    expected = window / median_ns
    centers = np.arange(t[0] + window / 2, t[-1] - window / 2, median_ns)
    counts = np.searchsorted(t, centers + window / 2) - np.searchsorted(t, centers - window / 2)
    ratio = counts / expected
    dense = _bridged((ratio >= DENSITY_RANGE[0]) & (ratio <= DENSITY_RANGE[1]), window, median_ns)
    stretches = []
    for start, stop in _runs(dense):
        # the window smears the stretch by about a third of its width at each end
        lo = int(centers[start] - window / 3)
        hi = int(centers[stop - 1] + window / 3)
        if hi - lo >= min_length_ns:
            stretches.append((lo, hi))
    return stretches


def _bridged(dense: np.ndarray, window: float, step_ns: float) -> np.ndarray:
    """Dense runs broken for less than half a window are one stretch: a jittery stream's
    count in a window dips below the band now and then inside an interleave."""
    out = dense.copy()
    runs = _runs(dense)
    limit = 0.5 * window / step_ns
    for (_, stop), (start, _) in pairwise(runs):
        if start - stop < limit:
            out[stop:start] = True
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))
