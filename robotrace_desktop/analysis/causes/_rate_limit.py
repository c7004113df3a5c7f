"""Rate-limited saturation: a command whose rate of change is capped.

A rate limiter (a slew-rate limit, a velocity smoother, an actuator that cannot move faster)
turns a fast move into a ramp at one constant slope: sample after sample the command changes by
the same amount (or, on an irregular clock, at the same speed), the command lagging what the
policy asked for. Free motion never repeats its step exactly for long — its speed changes from
sample to sample — so a long run of one nonzero step is the limiter's fingerprint, and no
bound needs to be known.

Calibrated on the channel's own habit: a trajectory made of straight segments (linear
interpolation between waypoints, a generated ramp) holds many different slopes that long; a
limiter hits the same slope (or its mirror) each time. A ramp from rest is a planned move (or a
step eased in on purpose), not a motion the limit cut into; a quantised channel repeats a few
ticks a sample by rounding. The onset is the first sample of the first ramp at the limiting
slope.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._clipping import _resolution
from robotrace_desktop.analysis.causes._series import NS, failed_run, robust_range, span_s
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "action_saturation"
thresholds.register(
    CAUSE,
    rate_min_s=(0.3, "rate limit: shortest ramp at one constant slope (s)"),
    rate_min_steps=(4, "rate limit: fewest consecutive equal steps in that ramp"),
    rate_travel=(0.1, "rate limit: the ramp covers at least this share of the channel's range"),
)
#: ramps whose slopes differ by less than this share are at the same limit (a limit per
#: second sampled on a jittery clock, rounded on storage)
_REL = 2e-3


def rate_limited(
    data: EpisodeData,
    ctx: ExplainContext,
    stream: str,
    channel: str,
    t_ns: np.ndarray,
    x: np.ndarray,
) -> Finding | None:
    """The first ramp of ``x`` at its limiting slope as a finding, or None."""
    ramps = _ramps(ctx, t_ns, x)
    if not ramps:
        return None
    scale = robust_range(x)
    # the limiting slope: the one (or its mirror: a limit both ways) held by the most samples
    by_slope: dict[float, int] = {}
    for start, end, slope in ramps:
        key = _key(slope, ramps)
        by_slope[key] = by_slope.get(key, 0) + (end - start)
    limiting = max(by_slope, key=lambda k: by_slope[k])
    mine = [r for r in ramps if _key(r[2], ramps) == limiting]
    start, end, slope = mine[0]
    travel = abs(float(x[end - 1] - x[start])) / scale
    rivals = len(by_slope) - 1  # other slopes held as long: the channel's habit
    confidence = 0.7 + min(0.1, 0.05 * (len(mine) - 1)) + min(0.1, 0.1 * travel)
    confidence += 0.05 if failed_run(data) else 0.0
    confidence -= 0.15 * rivals
    if rivals >= 2:
        confidence = min(confidence, 0.45)
    duration = span_s(t_ns, start, end)
    ref = channel_ref(stream, channel)
    direction = "rising" if slope > 0 else "falling"
    return Finding(
        cause=CAUSE,
        title=f"Command rate-limited: {channel}",
        explanation=(
            f"{ref} ramped ({direction}) at one constant slope {slope:.4g}/s for "
            f"{duration:.2f} s ({end - start} samples changing by exactly the same step): its "
            "rate of change was capped, so it lagged what was asked for"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_ns[start]),
        t_end_ns=int(t_ns[end - 1]),
        channels=[ref],
        evidence={
            "limit_source": "rate_limited",
            "slope_per_s": round(float(slope), 6),
            "duration_s": round(duration, 3),
            "ramps_at_slope": len(mine),
            "other_slopes": rivals,
            "travel_share": round(travel, 3),
        },
        next_step=(
            "Look for a slew-rate or velocity limit between the policy and the robot (a "
            "smoother, an acceleration limit) and compare it with the speeds the task needs."
        ),
    )


def _key(slope: float, ramps: list[tuple[int, int, float]]) -> float:
    """The size of the first ramp's slope ``slope`` equals (within float storage) up to its
    sign: ramps grouped by the limit they sit at."""
    for _, _, other in ramps:
        if abs(abs(other) - abs(slope)) <= _REL * max(abs(other), abs(slope)):
            return abs(other)
    return abs(slope)


def _ramps(ctx: ExplainContext, t_ns: np.ndarray, x: np.ndarray) -> list[tuple[int, int, float]]:
    """(start, end, slope per second) of every long run of one constant nonzero step — equal
    steps, or equal speeds on an irregular clock — that travels a sizeable share of the range."""
    n = x.size
    if n < 8 or t_ns.size != n or not np.isfinite(x).all():
        return []
    step = np.diff(x)
    dt = np.diff(t_ns).astype(np.float64)
    if (dt <= 0).any():
        return []
    speed = step / (dt / NS)
    # "the same step" is exact up to storage rounding (a few float32 ulps of the values, the
    # coarsest common storage): a limiter repeats its step to the last bit, while even the
    # straightest stretch of free motion (a sine through its zero) bends by more than that
    ulp = 4.0 * np.spacing(np.abs(x).astype(np.float32)).astype(np.float64)
    off = ulp[1:] + ulp[:-1]  # how far one step may be off
    min_steps = int(ctx.t(CAUSE, "rate_min_steps"))
    runs: list[tuple[int, int]] = []
    for series, slack in ((step, off), (speed, off / (dt / NS))):
        same = (np.abs(np.diff(series)) <= slack[1:] + slack[:-1]) & (step[1:] != 0)
        # runs of equal consecutive steps: k equal pairs = k + 1 steps = k + 2 samples
        edges = np.diff(np.concatenate(([0], same.astype(np.int8), [0])))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            if b + 1 - a >= min_steps:
                runs.append((int(a), int(b) + 2))  # samples a .. b + 1
    if not runs:
        return []  # nearly every channel: no step repeats itself for long
    scale = robust_range(x)
    if scale <= 0:
        return []
    moving = np.abs(step)
    moving = moving[moving > 1e-6 * scale]
    tick = _resolution(moving) if moving.size else 0.0
    found: list[tuple[int, int, float]] = []
    for start, end in runs:
        if span_s(t_ns, start, end) < ctx.t(CAUSE, "rate_min_s"):
            continue
        travel = abs(float(x[end - 1] - x[start]))
        if travel < ctx.t(CAUSE, "rate_travel") * scale:
            continue
        ramp_step = travel / (end - 1 - start)
        if tick > 0 and ramp_step <= 10.0 * tick:
            continue  # a few ticks a sample on a quantised channel: equal by rounding
        lead = np.abs(step[max(0, start - (end - start)) : start])
        if lead.size == 0 or float(np.mean(lead)) < 0.1 * ramp_step:
            continue  # a ramp from rest: a planned move (or a step eased in), no motion cut
        slope = float(x[end - 1] - x[start]) / (float(t_ns[end - 1] - t_ns[start]) / NS)
        if not any(s <= start < e or start <= s < end for s, e, _ in found):
            found.append((start, end, slope))
    return sorted(found)
