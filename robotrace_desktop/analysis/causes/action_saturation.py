"""Action saturation: a command channel pinned at a limit for a sustained span.

A policy whose output is clipped stops steering: whatever it asks for beyond the limit is lost.
Two kinds of evidence, one finding per channel:

- a known limit: bounds declared in the metadata ("action_bounds" / "limits"), the range the
  channel reaches across the robot's other episodes (ctx.history), or — when the channel is
  visibly clipped (a flat top: many samples exactly at the extreme) — its own extreme. Without
  declared bounds a held value counts only when it is the run's own extreme (exactly the
  historical one when the bounds come from history) and reached at speed;
- the clipped shape alone (``_clipping``): a bound nobody declared, anywhere in the range —
  exactly one value held, every other sample of the span on one side of it, reached at speed.
  That is evidence whatever the outcome, declared bounds or history;
- a capped rate of change (``_rate_limit``): a fast move turned into a ramp at one constant
  slope, the command lagging what was asked for;
- a soft limit (``_soft_limit``): the command squeezed against a bound it never reaches, its
  steps collapsed while the rest of the command moves on.

A planned hold decelerates smoothly into its value and is not clipping. Gripper / hand
open-close commands sit at their ends by nature and are never reported.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._clipping import local_clip
from robotrace_desktop.analysis.causes._rate_limit import rate_limited
from robotrace_desktop.analysis.causes._series import (
    action_signals,
    declared_bounds,
    failed_run,
    is_binary_like,
    median,
    span_s,
    sustained_runs,
)
from robotrace_desktop.analysis.causes._soft_limit import soft_limited
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "action_saturation"
thresholds.register(
    CAUSE,
    min_duration_s=(0.3, "shortest pinned span that counts (s)"),
    min_fraction=(0.05, "share of the channel's samples that must sit at the limit"),
    epsilon=(0.01, "how close to the limit counts as 'at' it, as a fraction of the limit range"),
    clip_min_fraction=(0.05, "no known limit: share of samples exactly at the extreme (flat top)"),
)
_SOURCE_CONFIDENCE = {"declared": 0.75, "history": 0.6, "clipped": 0.55}
#: what the bound is called, by where it came from
_EDGE_WORDS = {
    "declared": "its declared {side} limit",
    "history": "the {side} edge of the range the robot's other episodes reach",
    "clipped": "its own {side} extreme, held flat",
}


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    findings: list[Finding] = []
    for signal in action_signals(data):
        for k, channel in enumerate(signal.channels):
            column = signal.values[:, k]
            if column.size < 4 or is_binary_like(channel, column):
                continue
            bounded = _check(data, ctx, signal.stream, channel, signal.t_ns, column)
            clipped = local_clip(data, ctx, signal.stream, channel, signal.t_ns, signal.values, k)
            found = _better(bounded, clipped)
            for other in (
                rate_limited(data, ctx, signal.stream, channel, signal.t_ns, column),
                soft_limited(data, ctx, signal, k),
            ):
                if other is not None and (
                    found is None
                    or (other.confidence, -(other.t_start_ns or 0))
                    > (found.confidence, -(found.t_start_ns or 0))
                ):
                    found = other  # a capped rate, or a squeezed value, rather than a clip
            if found is not None:
                findings.append(found)
    return findings


def _better(bounded: Finding | None, clipped: Finding | None) -> Finding | None:
    """One finding per channel: a declared bound, or a known bound the clipped shape sits at,
    names the limit best (its confidence raised by the shape); otherwise the more confident."""
    if bounded is None or clipped is None:
        return bounded or clipped
    same = abs(float(bounded.evidence["limit"]) - float(clipped.evidence["limit"])) <= 1e-9 * max(
        1.0, abs(float(clipped.evidence["limit"]))
    )
    if bounded.evidence.get("limit_source") == "declared" or same:
        bounded.confidence = max(bounded.confidence, clipped.confidence)
        # and what the shape showed: whether the joint held at the bound with its command
        bounded.channels += [c for c in clipped.channels if c not in bounded.channels]
        bounded.evidence["state_follows"] = clipped.evidence["state_follows"]
        return bounded
    return max((bounded, clipped), key=lambda f: (f.confidence, -(f.t_start_ns or 0)))


def _limits(
    data: EpisodeData, ctx: ExplainContext, stream: str, channel: str, column: np.ndarray
) -> tuple[str, float, float] | None:
    declared = declared_bounds(data, stream, channel)
    if declared is not None:
        return ("declared", *declared)
    if ctx.history is not None:
        seen = ctx.history(stream, channel, False)
        if seen is not None and seen[1] > seen[0]:
            return ("history", float(seen[0]), float(seen[1]))
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return None
    share = ctx.t(CAUSE, "clip_min_fraction")
    at_lo, at_hi = np.mean(finite == lo), np.mean(finite == hi)
    if max(at_lo, at_hi) < share:
        return None
    # only the clipped side counts: the other extreme is an ordinary peak
    return ("clipped", lo if at_lo >= share else -np.inf, hi if at_hi >= share else np.inf)


def _check(
    data: EpisodeData,
    ctx: ExplainContext,
    stream: str,
    channel: str,
    t_ns: np.ndarray,
    column: np.ndarray,
) -> Finding | None:
    limits = _limits(data, ctx, stream, channel, column)
    if limits is None:
        return None
    source, lo, hi = limits
    finite_span = (hi if np.isfinite(hi) else np.nanmax(column)) - (
        lo if np.isfinite(lo) else np.nanmin(column)
    )
    eps = max(ctx.t(CAUSE, "epsilon") * float(finite_span), 1e-9)
    if source == "clipped":
        at_hi, at_lo = column == hi, column == lo
    elif source == "history":  # near the edge others reached — beyond it is not "pinned"
        at_hi, at_lo = np.abs(column - hi) <= eps, np.abs(column - lo) <= eps
    else:
        at_hi, at_lo = column >= hi - eps, column <= lo + eps
    best: tuple[float, int, int, str, float] | None = None
    for side, mask, limit in (("upper", at_hi, hi), ("lower", at_lo, lo)):
        if not np.isfinite(limit) or np.mean(mask) < ctx.t(CAUSE, "min_fraction"):
            continue
        for start, end in sustained_runs(mask, t_ns, ctx.t(CAUSE, "min_duration_s"), 3):
            if source != "declared":
                flat = _clipped_hold(
                    column, start, end, side, float(limit), source, float(finite_span)
                )
                if flat is None:
                    continue
                start, end = flat  # the pinned span itself, not the approach to it
            duration = span_s(t_ns, start, end)
            if best is None or start < best[1]:  # the first pinned span: where it began
                best = (duration, start, end, side, float(limit))
    if best is None:
        return None
    duration, start, end, side, limit = best
    confidence = _SOURCE_CONFIDENCE[source] + min(0.15, 0.05 * duration)
    if source != "declared":
        # Without declared bounds, an edge other runs also reach is often an ordinary joint
        # limit the teleoperation or IK clamps to: a fault only when the run failed.
        confidence -= 0.2 if start > 0 else 0.35
        confidence = confidence + 0.15 if failed_run(data) else min(confidence, 0.45)
    elif failed_run(data):
        confidence += 0.05
    share = float(np.mean(at_hi if side == "upper" else at_lo))
    ref = channel_ref(stream, channel)
    # only a declared bound is a limit; the others are what was seen (honest words)
    edge = _EDGE_WORDS[source].format(side=side)
    return Finding(
        cause=CAUSE,
        title=f"Action pinned at {edge}: {channel}",
        explanation=(
            f"{ref} stayed at {edge} {limit:.4g} for {duration:.2f} s "
            f"(there in {share:.0%} of its samples in all)"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_ns[start]),
        t_end_ns=int(t_ns[end - 1]),
        channels=[ref],
        evidence={
            "limit": limit,
            "side": side,
            "limit_source": source,
            "duration_s": round(duration, 3),
            "fraction_at_limit": round(share, 4),
            "epsilon": eps,
            "min_duration_s": ctx.t(CAUSE, "min_duration_s"),
            "min_fraction": ctx.t(CAUSE, "min_fraction"),
        },
        next_step=(
            "Check whether the policy asks for more than the actuator allows (action scaling, "
            "normalisation stats) and look at the frames of that span."
        ),
    )


def _clipped_hold(
    column: np.ndarray, start: int, end: int, side: str, limit: float, source: str, span: float
) -> tuple[int, int] | None:
    """The flat span (start, end) when the run ``start:end`` near a limit is a clipped command
    rather than a planned hold, else None.

    The held value must be the run's own extreme (and, for history bounds, the historical
    extreme itself), held flat, and entered or left at speed."""
    tol = max(1e-9, 1e-5 * span)
    held = column[start:end]
    held = held[np.isfinite(held)]
    finite = column[np.isfinite(column)]
    if held.size < 3 or finite.size == 0:
        return None
    value = float(held.max() if side == "upper" else held.min())
    extreme = float(finite.max() if side == "upper" else finite.min())
    if abs(value - extreme) > tol:
        return None  # the run goes further elsewhere: not a limit
    if source == "history" and abs(value - limit) > tol:
        return None  # near, but not at, the edge other runs reached
    flat = np.flatnonzero(np.abs(column[start:end] - value) <= tol)
    if flat.size < 3 or np.ptp(held) > 0.02 * span:
        return None
    a, b = start + int(flat[0]), start + int(flat[-1]) + 1
    return (a, b) if _cut_off(column, a, b, tol) else None


def _cut_off(column: np.ndarray, start: int, end: int, tol: float = 0.0) -> bool:
    """A clipped command runs into the limit (or leaves it) at speed: the step into (or out of)
    the flat span ``start:end`` is a sizeable share of the channel's typical moving step. A
    planned hold or a rest pose decelerates into it, its last step near zero."""
    steps = np.abs(np.diff(column))
    moving = steps[np.isfinite(steps) & (steps > tol)]
    if moving.size == 0:
        return False
    typical = median(moving)
    # the last two steps into the flat span and the first two out of it (the step that crosses
    # the limit between two samples can be arbitrarily small)
    near = [i for i in (start - 1, start - 2, end - 1, end) if 0 <= i < steps.size]
    slopes = [float(steps[i]) for i in near if np.isfinite(steps[i])]
    return bool(slopes) and max(slopes) >= 0.5 * typical
