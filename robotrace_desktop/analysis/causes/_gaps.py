"""Gaps in a periodic stream, each judged against the stream's own rhythm: the timelines
``timing`` builds for every stream and camera, and the gap finding of one stream.

Split from ``timing`` (clock jumps, dropped frames and the analyzer itself live there); the
thresholds are ``timing``'s, registered under ``timestamp_gap``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robotrace_desktop.analysis.causes._series import median as median_of
from robotrace_desktop.analysis.data import ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.timebase import NS_PER_S as NS

GAP = "timestamp_gap"
KEY_ROLES = frozenset({"state", "action", "command"})


@dataclass(slots=True)
class Gap:
    stream: str
    start_ns: int
    length_ns: int


@dataclass(slots=True)
class Timeline:
    """One stream's or camera's times, with what the gap test needs."""

    name: str
    t_ns: np.ndarray
    median_ns: float
    periodic: bool
    gaps: list[Gap]
    signal: Signal | None = None
    #: the interval beyond which this stream has a gap (``gap_limit_ns``), and whether it is
    #: sent on demand: worked out once, with its gaps
    limit_ns: float = 0.0
    bursty: bool = False
    #: the longest interval that is not a gap: how far this stream's own jitter reaches
    longest_ns: float = 0.0
    #: periodic, or continuous though jittery (``_continuous``): it has a rate to judge by
    continuous: bool = False


def stream_timeline(
    name: str, t: np.ndarray, ctx: ExplainContext, signal: Signal | None
) -> Timeline:
    dt = np.diff(t)
    positive = dt[dt > 0]
    if len(positive) < 2:
        return Timeline(name, t, 0.0, False, [], signal)
    median = median_of(positive)
    periodic = float(np.mean(np.abs(dt - median) <= 0.5 * median)) >= float(
        ctx.t(GAP, "regular_fraction")
    )
    if not periodic and not _continuous(dt, t, median, ctx):
        return Timeline(name, t, median, periodic, [], signal)
    limit = gap_limit_ns(dt, median, ctx)
    pauses = np.flatnonzero(dt > _pause_limit_ns(median, ctx))
    bursty = _bursty(dt[pauses], t, ctx)
    idx = np.flatnonzero(dt > limit)
    if not idx.size and bursty:
        # a stream sent on demand (teleop) pauses so often that its pauses set its own
        # limit: they are still listed — at low confidence, as bursty (``gap_finding``)
        idx = pauses
    gaps = [Gap(name, int(t[i]), int(dt[i])) for i in idx]
    ordinary = dt[(dt > 0) & (dt <= limit)]
    longest = float(ordinary.max()) if ordinary.size else median
    return Timeline(name, t, median, periodic, gaps, signal, limit, bursty, longest, True)


def _continuous(dt: np.ndarray, t: np.ndarray, median: float, ctx: ExplainContext) -> bool:
    """A stream that is not periodic but still continuous: received with jitter (a busy
    recorder's receive times), never in bursts (hardly two samples at one time) and not
    pausing as a stream sent on demand does (``_bursty``). Its gaps are judged against its
    own reach (``gap_limit_ns``: several times its longest ordinary intervals); a stream
    sent in bursts or on demand has no rhythm to miss and is still left alone."""
    if float(np.mean(dt <= 0)) > 0.05:
        return False
    pauses = dt[dt > _pause_limit_ns(median, ctx)]
    return not _bursty(pauses, t, ctx)


def gap_limit_ns(dt: np.ndarray, median: float, ctx: ExplainContext) -> float:
    """How long an interval must be to be a gap in this stream: several times its median,
    several times the longest intervals it ordinarily has (jitter, a slow callback now and
    then), and never under ``min_gap_s``. Relative to the stream's own behaviour, so a steady
    500 Hz stream missing 0.1 s counts and a jittery 10 Hz one does not."""
    ordinary = float(np.percentile(dt, 98)) if dt.size else 0.0
    factor = float(ctx.t(GAP, "gap_factor")) * median
    # a steady stream misses samples at fewer intervals: from ``steady_factor`` × its median
    # when that is also ``beyond_jitter`` × its jitter (how far its longest ordinary interval
    # reaches past the median, at least a tenth of it) past the median — a stream whose
    # intervals wander by 40 % of the median or more keeps ``gap_factor``
    usual = dt[(dt > 0) & (dt < 2.0 * median)]
    if usual.size:
        jitter = max(float(usual.max()) - median, 0.1 * median)
        steady = max(
            float(ctx.t(GAP, "steady_factor")) * median,
            median + float(ctx.t(GAP, "beyond_jitter")) * jitter,
        )
        factor = min(factor, steady)
    return max(
        factor,
        float(ctx.t(GAP, "over_ordinary")) * ordinary,
        float(ctx.t(GAP, "min_gap_s")) * NS,
    )


def _pause_limit_ns(median: float, ctx: ExplainContext) -> float:
    """A pause: several intervals long, and long enough to be confident as a gap."""
    return max(float(ctx.t(GAP, "gap_factor")) * median, float(ctx.t(GAP, "confident_gap_s")) * NS)


def _bursty(pauses: np.ndarray, t: np.ndarray, ctx: ExplainContext) -> bool:
    """Sent on demand: 3+ pauses covering much of the stream's span."""
    span = max(int(t[-1] - t[0]), 1)
    return len(pauses) >= 3 and float(pauses.sum()) / span > float(ctx.t(GAP, "bursty_share"))


def gap_over(line: Timeline, gaps: list[Gap]) -> bool:
    """Whether another stream has a gap overlapping one of these (the same silence)."""
    return any(
        g.start_ns < mine.start_ns + mine.length_ns and mine.start_ns < g.start_ns + g.length_ns
        for g in line.gaps
        for mine in gaps
    )


def gap_finding(line: Timeline, gaps: list[Gap], ctx: ExplainContext, others: int = 0) -> Finding:
    """``others``: how many other streams fall silent at the same time — independent
    publishers missing together is the recorder or the bus dropping data, not chance."""
    assert line.signal is not None
    longest = max(gaps, key=lambda g: g.length_ns)
    min_gap = float(ctx.t(GAP, "min_gap_s"))
    limit = line.limit_ns

    # the stream's own jitter: how far its longest ordinary interval reaches past its median
    # (never under a tenth of the median: clock resolution, not a promise of perfection)
    jitter = max(line.longest_ns - line.median_ns, 0.1 * line.median_ns, 1.0)
    beyond = float(ctx.t(GAP, "beyond_jitter"))

    def strength(gap: Gap) -> float:
        """≥ 1: a gap of confident_gap_s or more, one far beyond the stream's own longest
        ordinary intervals, or one whose missing time is many times the stream's own jitter
        (a 0.1 s hole in a steady 100 Hz stream cannot be a late sample; in a 10 Hz stream
        whose intervals wander by 50 ms it can)."""
        return max(
            gap.length_ns / NS / float(ctx.t(GAP, "confident_gap_s")),
            gap.length_ns / limit / 2.0,
            (gap.length_ns - line.median_ns) / jitter / beyond,
        )

    ratio = strength(longest)
    confidence = 0.55 + 0.35 * float(np.clip((ratio - 1) / 3, 0.0, 1.0))
    if ratio < 1:
        confidence = 0.45 * ratio
    if others >= 2:
        confidence = min(confidence + 0.15, 0.95)
    key = line.signal.role in KEY_ROLES
    if not key:
        confidence -= 0.1
    # dated by the first gap that is itself strong: a short ordinary pause before it is not
    # when the stream started dropping out
    first = next((g for g in gaps if strength(g) >= 1), gaps[0])
    total = sum(g.length_ns for g in gaps)
    span = max(int(line.t_ns[-1] - line.t_ns[0]), 1)
    bursty = line.bursty
    if bursty:
        confidence = min(confidence, 0.3)
    rate = NS / line.median_ns
    plural = f"{len(gaps)} gaps, {total / NS:.2f} s in all; " if len(gaps) > 1 else ""
    return Finding(
        cause=GAP,
        title=f"{line.name} has a {longest.length_ns / NS:.2f} s gap",
        explanation=(
            f"{line.name} (normally every {line.median_ns / 1e6:.1f} ms, {rate:.0f} Hz) sent "
            f"nothing for {longest.length_ns / NS:.2f} s from {longest.start_ns / NS:.2f} s "
            f"({plural}{longest.length_ns / line.median_ns:.0f}× its usual interval)"
            + (
                f"; gaps cover {100 * total / span:.0f} % of its span, so it looks sent on "
                "demand rather than dropping out."
                if bursty
                else "."
            )
        ),
        confidence=confidence,
        severity="low" if bursty else "high" if key else "medium",
        t_start_ns=first.start_ns,
        t_end_ns=longest.start_ns + longest.length_ns,
        channels=[channel_ref(line.name)],
        evidence={
            "gaps": [{"t_ns": g.start_ns, "length_ns": g.length_ns} for g in gaps[:20]],
            "gap_count": len(gaps),
            "longest_gap_ns": longest.length_ns,
            "longest_gap_at_ns": longest.start_ns,
            "median_interval_ns": line.median_ns,
            "gap_factor": float(ctx.t(GAP, "gap_factor")),
            "min_gap_s": min_gap,
            "gap_share": round(total / span, 3),
            "streams_silent_together": others + 1,
            "bursty": bursty,
        },
        next_step=(
            f"Check the publisher of {line.name} and the recorder around "
            f"{longest.start_ns / NS:.1f} s (CPU load, network, a blocked callback)."
        ),
    )
