"""Divergence from baseline: where this episode first departs from the nearest successful
episode of the same task and environment ("where did it go wrong").

Both episodes' shared state channels are resampled to N points over their own durations (time
normalised), and each point of this episode is compared with the baseline within a small time
band (a cheap stand-in for DTW: a run that is merely a little faster or slower is not a
departure). Distances are relative to the baseline channel's range. The first sustained
departure, mapped back to this episode's time, is reported.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    NS,
    failed_run,
    on_arrays,
    robust_range,
    state_signals,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "baseline_divergence"
thresholds.register(
    CAUSE,
    points=(200, "samples per channel after time normalisation"),
    band=(0.05, "time-warp tolerance: compare within ± this fraction of the episode"),
    bound=(0.3, "departure: distance beyond this fraction of the baseline channel's range"),
    large=(1.0, "a departure this large (× range) on a failed run is reported confidently"),
    min_fraction=(0.05, "a departure must last this fraction of the episode"),
    range_floor=(0.01, "ignore channels whose baseline range is below this (rad / m / units)"),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    if ctx.baseline is None:
        return []
    baseline = ctx.baseline()
    if baseline is None or baseline.info.id == data.info.id:
        return []
    n = int(ctx.t(CAUSE, "points"))
    band = max(1, round(ctx.t(CAUSE, "band") * n))
    min_len = max(2, round(ctx.t(CAUSE, "min_fraction") * n))
    bound = ctx.t(CAUSE, "bound")
    best: tuple[int, float, str, Signal] | None = None  # (first index, peak, channel, signal)
    for signal in state_signals(data):
        other = baseline.signal(signal.stream)
        if other is None or len(other.t_ns) < 4 or len(signal.t_ns) < 4:
            continue
        shared = [c for c in signal.channels if c in other.channels]
        if not shared:
            continue
        mine = _normalised(signal, shared, n)
        theirs = _normalised(other, shared, n)
        ranges = np.array([robust_range(other.column(c)) for c in shared])
        usable = ranges >= ctx.t(CAUSE, "range_floor")
        if not usable.any():
            continue
        distance = _banded_distance(mine[:, usable], theirs[:, usable], band)
        distance /= ranges[usable][None, :]
        names = [c for c, u in zip(shared, usable, strict=True) if u]
        for j, channel in enumerate(names):
            first = _first_sustained(distance[:, j] > bound, min_len)
            if first is None:
                continue
            peak = float(np.nanmax(distance[first:, j]))
            if best is None or (first, -peak) < (best[0], -best[1]):
                best = (first, peak, channel, signal)
    if best is None:
        return []
    first, peak, channel, signal = best
    t0, t1 = int(signal.t_ns[0]), int(signal.t_ns[-1])
    t_start = t0 + round((t1 - t0) * first / (n - 1))
    failed = failed_run(data)
    large = peak >= ctx.t(CAUSE, "large")
    confidence = 0.65 if (failed and large) else 0.45 if failed or large else 0.35
    ref = channel_ref(signal.stream, channel)
    return [
        Finding(
            cause=CAUSE,
            title=f"Departs from the successful baseline: {channel}",
            explanation=(
                f"{ref} left the path of the nearest successful run ({baseline.info.name}) at "
                f"{t_start / NS:.2f} s, up to {peak:.2f}× that channel's range away"
            ),
            confidence=confidence,
            severity="medium",
            t_start_ns=t_start,
            t_end_ns=t1,
            channels=[ref],
            evidence={
                "baseline_id": baseline.info.id,
                "peak_distance_over_range": round(peak, 3),
                "bound": bound,
                "fraction_of_episode": round(first / (n - 1), 3),
            },
            next_step="Open the baseline side by side and compare the frames around this time.",
        )
    ]


def _normalised(signal: Signal, channels: list[str], n: int) -> np.ndarray:
    """(n, C) values at n evenly spaced points over the signal's own time span."""
    cols = tuple(signal.channels.index(c) for c in channels)
    return _resampled(signal.t_ns, signal.values, cols, n)


@on_arrays  # the baseline's side, shared by the episodes of a run that compare with it
def _resampled(t_ns: np.ndarray, values: np.ndarray, cols: tuple[int, ...], n: int) -> np.ndarray:
    t = t_ns.astype(np.float64)
    span = max(t[-1] - t[0], 1.0)
    grid = np.linspace(0.0, 1.0, n)
    x = (t - t[0]) / span
    out = np.empty((n, len(cols)))
    for j, col in enumerate(cols):
        y = values[:, col]
        ok = np.isfinite(y)
        out[:, j] = np.interp(grid, x[ok], y[ok]) if ok.sum() >= 2 else np.nan
    out.flags.writeable = False  # remembered: shared by every caller
    return out


def _banded_distance(mine: np.ndarray, theirs: np.ndarray, band: int) -> np.ndarray:
    """|mine[i] − theirs[i+d]| minimised over |d| ≤ band (edge-padded)."""
    padded = np.pad(theirs, ((band, band), (0, 0)), mode="edge")
    windows = sliding_window_view(padded, 2 * band + 1, axis=0)  # (n, C, 2·band+1)
    distance: np.ndarray = np.nanmin(np.abs(windows - mine[:, :, None]), axis=2)
    return distance


def _first_sustained(mask: np.ndarray, min_len: int) -> int | None:
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    for start, end in zip(edges[0::2], edges[1::2], strict=True):
        if end - start >= min_len:
            return int(start)
    return None
