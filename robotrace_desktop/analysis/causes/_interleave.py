"""A clock that stepped back, seen on the timeline alone.

When the clock a stream is placed by steps back by J seconds (a recorder's wall clock stepped by
NTP, a sim clock reset), the reader sorts the rows by that clock: the rows stamped after the
step land among the J seconds of rows stamped before it. A periodic stream then carries about
TWICE its samples over a stretch of about J seconds, ending where the step happened — with no
gap anywhere. A burst of queued messages after a stall is much denser than 2× and follows a gap;
an interleave of a stream with itself is 2×.
"""

from __future__ import annotations

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
    dense = (ratio >= DENSITY_RANGE[0]) & (ratio <= DENSITY_RANGE[1])
    stretches = []
    for start, stop in _runs(dense):
        # the window smears the stretch by about a third of its width at each end
        lo = int(centers[start] - window / 3)
        hi = int(centers[stop - 1] + window / 3)
        if hi - lo >= min_length_ns:
            stretches.append((lo, hi))
    return stretches


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))
