"""Soft saturation: a command squeezed smoothly against a bound it never quite reaches.

A soft limiter (a tanh-like squashing of the policy output, an actuator model that saturates
smoothly) leaves no flat top to find: the command slows as it nears the bound and then creeps,
its steps a small fraction of anything it does elsewhere, while whatever it was asked for moves
on. What is observable without knowing the bound:

- the channel's step collapses to a small share of its ordinary moving step, sustained, right
  after it moved at (or above) its usual speed — its own motion compressed, not stopped;
- the rest of the command keeps moving at its usual pace meanwhile: a person or a policy
  holding a pose stills the whole limb (every joint of the stream quiets together); a limit
  acts on one channel;
- it is a turning point: the squeezed value is the extreme of the motion around it;
- the channel does not do this elsewhere (its other equally quiet spans while the rest
  moves are its habit, and lower the confidence).

The onset is where the compression began: the fastest step just before the creep.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    failed_run,
    is_binary_like,
    is_gripper_name,
    median,
    period_ns,
    robust_range,
    span_s,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "action_saturation"
thresholds.register(
    CAUSE,
    soft_window_s=(0.4, "soft limit: window the channel's step is judged over (s)"),
    soft_min_s=(0.3, "soft limit: shortest run of squeezed windows (s)"),
    soft_squeeze=(0.05, "soft limit: the step falls under this share of the channel's usual step"),
    soft_others=(
        0.5,
        "soft limit: while the stream's other moving channels keep at least this share of theirs",
    ),
)


def soft_limited(data: EpisodeData, ctx: ExplainContext, signal: Signal, k: int) -> Finding | None:
    """The first squeezed span of column ``k`` of ``signal`` as a finding, or None."""
    t_ns, x = signal.t_ns, signal.values[:, k]
    spans = _squeezed(ctx, signal, k)
    if not spans:
        return None
    start, end, knee, others = spans[0]
    m = max(4, round(ctx.t(CAUSE, "soft_window_s") * 1e9 / period_ns(t_ns)))
    onset = _first_squeeze(x, (start, end, knee), m)
    earlier = (
        f" (flattened at that level already from {t_ns[onset] / 1e9:.2f} s)" if onset < knee else ""
    )
    rivals = len(spans) - 1
    duration = span_s(t_ns, start, end)
    confidence = 0.7 + min(0.1, 0.05 * duration) + (0.05 if failed_run(data) else 0.0)
    confidence -= 0.2 * rivals
    if rivals >= 2:
        confidence = min(confidence, 0.45)
    channel = signal.channels[k]
    ref = channel_ref(signal.stream, channel)
    level = median(x[start:end])
    return Finding(
        cause=CAUSE,
        title=f"Command squeezed against a bound: {channel}",
        explanation=(
            f"{ref} slowed into {level:.4g} and crept there for {duration:.2f} s, its steps a "
            f"small fraction of its usual ones, while the stream's other channels kept moving "
            f"({others:.0%} of their usual pace){earlier}: a soft limit compressed the command"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_ns[onset]),
        t_end_ns=int(t_ns[end - 1]),
        channels=[ref],
        evidence={
            "limit_source": "soft_limit",
            "level": level,
            "duration_s": round(duration, 3),
            "others_pace": round(others, 3),
            "other_squeezed_spans": rivals,
        },
        next_step=(
            "Look for a squashing function or smooth limit between the policy and the robot "
            "(tanh output scaling, an actuator model) and compare with the range the task needs."
        ),
    )


def _squeezed(ctx: ExplainContext, signal: Signal, k: int) -> list[tuple[int, int, int, float]]:
    """(start, end, onset, the other channels' pace) of every squeezed span of column ``k``,
    in time order."""
    t_ns, x = signal.t_ns, signal.values[:, k]
    n = x.size
    period = period_ns(t_ns)
    if n < 30 or period <= 0 or not np.isfinite(x).all():
        return []
    scale = robust_range(x)
    m = max(4, round(ctx.t(CAUSE, "soft_window_s") * 1e9 / period))
    shortest = ctx.t(CAUSE, "soft_min_s")
    if scale <= 0 or n < 4 * m:
        return []
    steps = np.abs(np.diff(x))
    usual = _usual_step(steps, 1e-6 * scale)
    if usual <= 0:
        return []
    pace = _window_mean(steps, m)  # pace[i]: mean step over steps i .. i + m - 1
    quiet = pace <= ctx.t(CAUSE, "soft_squeeze") * usual
    others: list[tuple[np.ndarray, float]] | None = None  # worked out for a candidate only
    found: list[tuple[int, int, int, float]] = []
    edges = np.diff(np.concatenate(([0], quiet.astype(np.int8), [0])))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        start, end = int(a), int(b) + m  # samples start .. end - 1 are squeezed
        if start < 2 * m or end >= n - 1:
            continue  # at rest at either end of the run: nothing was squeezed
        if span_s(t_ns, start, int(b)) < shortest:
            continue  # a smooth turning point dwells briefly; a squeezed command stays
        if abs(median(x[start:end])) <= 0.05 * scale:
            continue  # settling to zero: a stop, not a bound
        if float(np.max(pace[max(0, start - 2 * m) : start - m + 1])) < usual:
            continue  # crept into it: a planned, slow approach
        before = x[start - m : start]
        held = x[start:end]
        side = float(np.sign(x[start] - before[0]))
        edge = float(before.max() if side > 0 else before.min())
        if side == 0 or side * (median(held) - edge) < 0:
            continue  # not the extreme of the move into it: a pause on the way
        if others is None:
            others = _siblings(signal, k)
        pace_others = _others_pace(others, start, end)
        if pace_others < ctx.t(CAUSE, "soft_others"):
            continue  # the whole stream slowed together: a hold, not a limit
        found.append((start, end, _onset(steps, start, m), pace_others))
    return found


def _first_squeeze(x: np.ndarray, span: tuple[int, int, int], m: int) -> int:
    """The onset of the first time the command was squeezed against the same bound: a soft
    limit squeezes whatever runs into it, so an earlier turning point at the bound's level
    (never beyond it), flattened there, is the same limit acting — shorter, or less deep, than
    the span that gave it away. Returns that visit's knee (``_onset``), else ``span``'s.
    ``m``: the window (samples) the step is judged over."""
    start, end, onset = span
    n = x.size
    steps = np.abs(np.diff(x))
    usual = _usual_step(steps, 1e-6 * robust_range(x))
    level = float(np.median(x[start:end]))
    side = float(np.sign(level - x[max(0, onset - m)]))
    if side == 0 or usual <= 0 or onset < 2:
        return onset
    # at the level: within twice what the command creeps while squeezed there
    tol = 2.0 * float(np.ptp(x[start:end]))
    y = side * x[:onset]  # the bound on top
    near = np.abs(y - side * level) <= tol
    peaks = (
        np.flatnonzero(near[1:-1] & (y[1:-1] >= y[:-2]) & (y[1:-1] >= y[2:])) + 1
    )  # turning points at the bound's level
    beyond = np.flatnonzero(y > side * level + tol)
    for i in peaks:
        if beyond.size and beyond[-1] > i:
            continue  # went past the level after it: no bound there yet
        flat = float(np.mean(steps[max(0, i - 1) : min(n - 1, i + 1)]))
        if flat <= 0.2 * usual and i >= 2:
            return min(onset, _onset(steps, int(i), m))
    return onset


def _onset(steps: np.ndarray, start: int, m: int) -> int:
    """Where the compression set in: a squashing function passes the command on at full speed
    up to its knee and slows it ever more beyond, so the knee is the last sample before the
    squeezed span at which the command still moved at most of its approach speed (a 3-step
    mean at 60 % of its peak over the approach)."""
    lo = max(0, start - 2 * m)
    approach = np.convolve(steps[lo:start], np.ones(3) / 3.0, mode="same")
    if approach.size == 0:
        return start
    fast = np.flatnonzero(approach >= 0.6 * float(approach.max()))
    return lo + int(fast[-1])


def _usual_step(steps: np.ndarray, tiny: float) -> float:
    moving = steps[steps > tiny]
    return median(moving) if moving.size >= 8 else 0.0


def _window_mean(steps: np.ndarray, m: int) -> np.ndarray:
    csum = np.concatenate(([0.0], np.cumsum(steps)))
    return (csum[m:] - csum[:-m]) / m


def _siblings(signal: Signal, k: int) -> list[tuple[np.ndarray, float]]:
    """(step sizes, usual step) of the stream's other moving, non-gripper channels."""
    found = []
    for j, name in enumerate(signal.channels):
        if j == k or is_gripper_name(name):
            continue
        col = signal.values[:, j]
        if not np.isfinite(col).all() or is_binary_like(name, col):
            continue
        steps = np.abs(np.diff(col))
        usual = _usual_step(steps, 1e-6 * max(robust_range(col), 1e-12))
        if usual > 0:
            found.append((steps, usual))
    return found


def _others_pace(others: list[tuple[np.ndarray, float]], start: int, end: int) -> float:
    """The median, over the stream's other channels, of their mean step over ``start:end`` as
    a share of their usual step; 0 without other channels (nothing tells a limit from a
    hold)."""
    if not others:
        return 0.0
    shares = [float(np.mean(steps[start : end - 1])) / usual for steps, usual in others]
    return float(np.median(shares))
