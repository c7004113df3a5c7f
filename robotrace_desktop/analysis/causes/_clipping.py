"""Clipping at a bound nobody declared: a command that moves freely elsewhere sits at exactly
one value for a span it ran into at speed.

A clipped command leaves a fingerprint no planned motion has: the same value repeated exactly
(a clamp writes the bound itself, not a value near it), every other sample of the span on one
side of it (the bound is the extreme of the excursion it cut off), and an arrival at speed —
the derivative is cut off at the bound, where a planned hold at a waypoint decelerates smoothly
into it. A noisy command clipped at a bound touches it again and again with its in-range
samples in between; a smooth one stays on it.

Nothing here needs a declared bound, other runs or the outcome: the evidence is the shape.
Confidence is calibrated against the rest of the channel — a channel that holds many different
exact values reached at speed (a step or quantised command) is doing what it always does.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    failed_run,
    field_of,
    held_on,
    joint_limit,
    mad_scale,
    median,
    percentile,
    period_ns,
    span_s,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "action_saturation"
thresholds.register(
    CAUSE,
    clip_min_samples=(4, "undeclared bound: fewest samples exactly at the clipped value"),
    clip_min_span_s=(0.05, "undeclared bound: shortest clipped span (s)"),
    clip_arrival=(
        0.15,
        "undeclared bound: the command must arrive at the value at least this share of its "
        "usual (90th percentile) speed — a planned hold decelerates to near zero",
    ),
    clip_window_s=(0.1, "window over which arrival speed is judged (s)"),
)
#: values closer than this share of the channel's range are "the same value" (float rounding)
_SAME = 1e-7
#: how far apart (samples) touches of the bound may be and still belong to one clipped span
_GAP = 10


def local_clip(
    data: EpisodeData,
    ctx: ExplainContext,
    stream: str,
    channel: str,
    t_ns: np.ndarray,
    values: np.ndarray,
    k: int,
) -> Finding | None:
    """The first clipped span of column ``k`` of the stream's ``values`` as a finding, or
    None."""
    column = values[:, k]
    found, holds = clipped_spans(ctx, t_ns, column)
    found = [f for f in found if not _stream_frozen(values, k, f[0], f[1])]
    if not found:
        return None
    # the strongest clipped span (most samples at the bound), the earliest of equals: a short
    # ordinary hold earlier in the run must not stand in for the clamp
    # (a noisy command touching its bound leaves several spans at one value: the value with the
    # most samples at it, from its first span)
    at_value: dict[float, int] = {}
    for f in found:
        at_value[round(f[3], 12)] = at_value.get(round(f[3], 12), 0) + f[2]
    strongest = max(at_value.values())
    start, end, touches, value, side, arrival = next(
        f for f in found if at_value[round(f[3], 12)] == strongest
    )
    touches = max(f[2] for f in found if round(f[3], 12) == round(value, 12))
    # calibrated on the channel's own habit: every other exact hold of the channel at least
    # half as long as this one (clipped-looking or not) is what it ordinarily does. A step
    # or quantised command holds many values that long; a freely moving one holds none.
    comparable = [f for f in found if f[2] >= 0.5 * touches]
    held_values = {round(f[3], 12) for f in comparable}
    rivals = max(0, sum(1 for h in holds if h >= 0.5 * touches) - len(comparable))
    duration = span_s(t_ns, start, end)
    confidence = 0.8 + min(0.1, 0.01 * touches) + (0.05 if failed_run(data) else 0.0)
    confidence -= 0.2 * (len(held_values) - 1) + 0.1 * rivals
    if len(held_values) > 1 or rivals >= 3:
        confidence = min(confidence, 0.45)
    outside = _joint_breached(data, ctx, stream, channel, int(t_ns[start]), int(t_ns[end - 1]))
    follower = _follower(data, stream, channel, int(t_ns[start]), int(t_ns[end - 1]), value)
    if follower is not None:
        confidence += 0.05  # what the robot did agrees: its state held at the bound too
    if outside:
        confidence = min(confidence, 0.45)
    ref = channel_ref(stream, channel)
    return Finding(
        cause=CAUSE,
        title=f"Command clipped at {value:.4g}: {channel}",
        explanation=(
            f"{ref} ran into {value:.4g} at speed and stayed exactly there for {duration:.2f} s "
            f"({touches} samples, every other one {'below' if side == 'upper' else 'above'} "
            "it): a bound nobody declared cut the command off"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_ns[start]),
        t_end_ns=int(t_ns[end - 1]),
        channels=[ref] + ([follower] if follower is not None else []),
        evidence={
            "limit": value,
            "side": side,
            "limit_source": "clipped_in_range",
            "duration_s": round(duration, 3),
            "samples_at_limit": touches,
            "arrival_speed_ratio": round(arrival, 3),
            "clipped_values": len(held_values),
            "comparable_holds": rivals,
            "state_follows": follower is not None,
            "joint_out_of_range": outside,
        },
        next_step=(
            "Look for a clamp between the policy and the robot (action scaling, a safety "
            "limit, normalisation stats) and compare with the joint's real range."
        ),
    )


def _joint_breached(
    data: EpisodeData, ctx: ExplainContext, stream: str, channel: str, t0: int, t1: int
) -> bool:
    """The joint the command drives went beyond its declared limits, or clearly beyond the range
    the robot's other runs reached, while the command was held: the command led it out of its
    range (joint_limits tells that story) — a clamp keeps a joint inside it."""
    for (cs, cc), (ms, mc) in data.pairs():
        if (cs, cc) != (stream, channel) or field_of(ms, mc) != "position":
            continue  # an effort or velocity has no range a joint can leave
        sig = data.signal(ms)
        if sig is None:
            return False
        a, b = np.searchsorted(sig.t_ns, (t0, t1), "left")
        held = sig.column(mc)[a : b + 1]
        held = held[np.isfinite(held)]
        if held.size == 0:
            return False
        lo, hi = float(held.min()), float(held.max())
        limit = joint_limit(data, mc)
        if limit is not None and (lo < limit[0] or hi > limit[1]):
            return True
        seen = ctx.history(ms, mc, False) if ctx.history is not None else None
        if seen is None or not seen[1] > seen[0]:
            return False
        margin = 0.1 * (seen[1] - seen[0])
        return lo < seen[0] - margin or hi > seen[1] + margin
    return False


def _follower(
    data: EpisodeData, stream: str, channel: str, t0: int, t1: int, value: float
) -> str | None:
    """The measured channel paired with the command when it sat at the clipped value too: at
    the command's samples on the bound within ``t0..t1``, the measured value is within its
    usual distance from the command (the run's robust spread of measured − command) of the
    bound on most of them — the robot executed the clipped command, so the clamp acted (not
    a logging artefact). None otherwise."""
    for (cs, cc), (ms, mc) in data.pairs():
        if (cs, cc) != (stream, channel):
            continue
        cmd, meas = data.signal(cs), data.signal(ms)
        if cmd is None or meas is None or len(meas.t_ns) < 8:
            return None
        command, measured = cmd.column(cc), meas.column(mc)
        gap = measured - held_on(cmd.t_ns, command, meas.t_ns)
        gap = gap[np.isfinite(gap)]
        if gap.size < 8:
            return None
        usual, centre = mad_scale(gap), median(gap)
        a, b = np.searchsorted(cmd.t_ns, (t0, t1), "left")
        tol = max(_SAME * abs(value), 1e-12)
        touch_t = cmd.t_ns[a : b + 1][np.abs(command[a : b + 1] - value) <= tol]
        if touch_t.size < 3 or usual <= 0:
            return None
        at = np.clip(np.searchsorted(meas.t_ns, touch_t, "left"), 0, len(meas.t_ns) - 1)
        near = np.abs(measured[at] - value - centre) <= 3.0 * usual
        return channel_ref(ms, mc) if float(np.mean(near)) >= 0.8 else None
    return None


def _stream_frozen(values: np.ndarray, k: int, start: int, end: int) -> bool:
    """Most of the stream's other moving channels repeat their values over ``start:end`` too:
    the whole command stream stalled (a dropped teleoperation link), no clamp on one channel."""
    if values.shape[1] < 2 or end - start < 2:
        return False
    others = np.delete(values, k, axis=1)
    with np.errstate(invalid="ignore"):
        moving = np.any(np.diff(others, axis=0) != 0, axis=0)  # over the whole run
        still = np.all(np.diff(others[start:end], axis=0) == 0, axis=0)
    return bool(moving.any() and still[moving].mean() > 0.5)


def clipped_spans(
    ctx: ExplainContext, t_ns: np.ndarray, column: np.ndarray
) -> tuple[list[tuple[int, int, int, float, str, float]], list[int]]:
    """(start, end, samples at the value, value, side, arrival speed ratio) of every span that
    looks clipped, in time order; and the length (samples at the value) of every exact hold
    the channel has away from its ends, clipped or not: the channel's habit."""
    n = column.size
    finite = np.isfinite(column)
    if n < 8 or finite.sum() < 8:
        return [], []
    lo, hi = np.percentile(column[finite], [1.0, 99.0])
    scale = float(hi - lo)
    if scale <= 0:
        return [], []
    tol = max(_SAME * scale, 1e-12)
    x = np.where(finite, column, np.nan)
    # samples whose exact value recurs at least twice more within ±_GAP samples
    count = np.zeros(n, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for o in range(1, min(_GAP, n - 1) + 1):
            same = np.abs(x[o:] - x[:-o]) <= tol
            count[o:] += same
            count[:-o] += same
    flagged = np.flatnonzero(count >= 2)
    if flagged.size == 0:
        return [], []
    breaks = np.flatnonzero((np.diff(flagged) > _GAP) | (np.abs(np.diff(x[flagged])) > tol)) + 1
    period = period_ns(t_ns)
    k = max(2, round(ctx.t(CAUSE, "clip_window_s") * 1e9 / period)) if period > 0 else 2
    speed = np.abs(x[k:] - x[:-k]) / k
    speed = speed[np.isfinite(speed)]
    usual = percentile(speed, 90.0) if speed.size else 0.0
    steps = np.abs(np.diff(x))
    steps = steps[np.isfinite(steps) & (steps > tol)]
    if usual <= 0 or steps.size == 0:
        return [], []
    tick = _resolution(steps)
    min_samples = int(ctx.t(CAUSE, "clip_min_samples"))
    found: list[tuple[int, int, int, float, str, float]] = []
    holds: list[int] = []
    for group in np.split(flagged, breaks):
        if group.size < min_samples:
            continue
        start, end = int(group[0]), int(group[-1]) + 1
        if start < 2 * k or end >= n - 1:
            continue  # at rest at the start or the end of the run
        holds.append(int(group.size))
        if span_s(t_ns, start, end) < ctx.t(CAUSE, "clip_min_span_s"):
            continue
        if x[start] == 0.0:
            continue  # commanded to zero: a stop or a reset, not a clamp
        shape = _clip_shape(x, start, end, float(x[start]), tol, k)
        if shape is None:
            continue
        side, arrival = shape
        if arrival / usual < ctx.t(CAUSE, "clip_arrival") or arrival < 3.0 * tick:
            continue  # decelerated into the value (a planned hold) or crept there by a tick
        found.append((start, end, int(group.size), float(x[start]), side, arrival / usual))
    return found, holds


def _resolution(steps: np.ndarray) -> float:
    """The channel's tick when its values lie on a grid (a quantised command: nearly every
    step a whole multiple of its smallest common step), else 0 — a continuous command has no
    tick to creep by, and its slowest steps are motion, not resolution."""
    tick = float(np.percentile(steps, 5))
    if tick <= 0:
        return 0.0
    multiples = steps / tick
    on_grid = np.abs(multiples - np.round(multiples)) <= 0.05
    return tick if float(np.mean(on_grid)) >= 0.9 else 0.0


def _clip_shape(
    x: np.ndarray, start: int, end: int, value: float, tol: float, k: int
) -> tuple[str, float] | None:
    """(side, arrival speed) when ``value`` is the one-sided extreme of the span and the
    command came towards it from the other side; None otherwise."""
    if start - 2 * k < 0:
        return None  # held from the start: nothing ran into it
    span = x[start:end]
    above = int(np.sum(span > value + tol))
    below = int(np.sum(span < value - tol))
    if above and below:
        return None  # the command crosses the value: not a bound
    before = x[start - 2 * k : start]
    if not np.isfinite(before).all():
        return None
    if above == 0 and below == 0:
        sign = 1.0 if before[-1] < value else -1.0
    else:
        sign = 1.0 if above == 0 else -1.0
    # it approached from the in-range side (a noisy command may have been beyond the value
    # before the clamp applied, but not just before it)
    if sign * (before[-1] - value) > tol:
        return None
    late = sign * (value - before[k]) / k  # mean speed over the last k steps
    last = float(np.max(np.abs(np.diff(x[start - 2 : start + 1]))))  # the steps into it
    # released: the command jumps on beyond the value, to where it would have been
    beyond = sign * (x[end] - value) if end < x.size and np.isfinite(x[end]) else 0.0
    arrival = max(late, last, beyond)
    if not np.isfinite(arrival) or arrival <= 0:
        return None
    return ("upper" if sign > 0 else "lower"), float(arrival)
