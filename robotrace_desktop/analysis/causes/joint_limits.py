"""Joint-limit breach: measured joint positions beyond the declared limits (URDF, in
metadata["joint_limits"]) or well beyond the range the robot's successful episodes cover.

Hitting a hard stop stalls the arm and can damage it; leaving the range every good run stayed
in is the first sign the policy went somewhere it was never shown.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    failed_run,
    field_of,
    joint_limit,
    span_s,
    state_signals,
    sustained_runs,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "joint_limit_breach"
thresholds.register(
    CAUSE,
    tolerance=(0.01, "declared limits: allowed overshoot, as a fraction of the joint's range"),
    tolerance_abs=(0.005, "declared limits: allowed overshoot in rad (or m) at least"),
    history_margin=(0.25, "successful-episode range: allowed excess, fraction of that range"),
    history_margin_abs=(0.02, "successful-episode range: allowed excess in rad (or m) at least"),
    min_duration_s=(0.05, "shortest breach that counts (s)"),
    history_min_duration_s=(0.25, "successful-episode range: shortest excursion that counts (s)"),
    history_confident_excess=(
        0.33,
        "successful-episode range: peak excess (fraction of that range) needed to be confident",
    ),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    findings: list[Finding] = []
    for signal in state_signals(data):
        for k, channel in enumerate(signal.channels):
            if field_of(signal.stream, channel) != "position":
                continue
            column = signal.values[:, k]
            found = _check(data, ctx, signal.stream, channel, signal.t_ns, column)
            if found is not None:
                findings.append(found)
    return findings


def _bounds(
    data: EpisodeData, ctx: ExplainContext, stream: str, channel: str
) -> tuple[str, float, float, float] | None:
    """(source, lower, upper, allowed excess)."""
    declared = joint_limit(data, channel)
    if declared is not None:
        lo, hi = declared
        tol = max(ctx.t(CAUSE, "tolerance") * (hi - lo), ctx.t(CAUSE, "tolerance_abs"))
        return "declared", lo, hi, tol
    if ctx.history is None:
        return None
    for source, successful in (("history", True), ("all episodes", False)):
        seen = ctx.history(stream, channel, successful)
        if seen is not None and np.isfinite(seen[0]) and np.isfinite(seen[1]):
            lo, hi = float(seen[0]), float(seen[1])
            margin = max(
                ctx.t(CAUSE, "history_margin") * (hi - lo), ctx.t(CAUSE, "history_margin_abs")
            )
            return source, lo, hi, margin
    return None


def _check(
    data: EpisodeData,
    ctx: ExplainContext,
    stream: str,
    channel: str,
    t_ns: np.ndarray,
    column: np.ndarray,
) -> Finding | None:
    bounds = _bounds(data, ctx, stream, channel)
    if bounds is None or column.size == 0:
        return None
    source, lo, hi, allowed = bounds
    with np.errstate(invalid="ignore"):
        over = column > hi + allowed
        under = column < lo - allowed
    min_s = ctx.t(CAUSE, "min_duration_s" if source == "declared" else "history_min_duration_s")
    spans = sustained_runs(over | under, t_ns, min_s, 2)
    if not spans:
        return None
    breach = over | under
    start = spans[0][0]  # the first sample beyond limit + allowance
    side_over = bool(over[start])
    limit = hi if side_over else lo
    from_start = start == 0
    region = column[breach]
    peak = float(np.nanmax(region)) if side_over else float(np.nanmin(region))
    excess = abs(peak - limit)
    scale = max(hi - lo, 1e-9)
    duration = sum(span_s(t_ns, a, b) for a, b in spans)
    relative = excess / scale
    if source == "declared":
        confidence = 0.75 + min(0.15, relative)
    else:
        # confident only well beyond the margin: a run that strays just past the others'
        # range is ordinary variation
        confident_at = ctx.t(CAUSE, "history_confident_excess")
        confidence = 0.5 + min(0.3, 1.5 * (relative - confident_at))
        if source == "all episodes":  # no successful run to compare with: only if it failed
            confidence -= 0.15
    if failed_run(data):
        confidence += 0.05 if source != "all episodes" else 0.15
    elif source == "all episodes":
        confidence = min(confidence, 0.45)
    if from_start and source != "declared":
        # already outside when the recording began: a different set-up, not something the
        # run did
        confidence = min(confidence, 0.45)
    strong = source == "declared" or relative >= ctx.t(CAUSE, "history_confident_excess")
    ref = channel_ref(stream, channel)
    where = "above its upper" if side_over else "below its lower"
    origin = {"declared": "declared (URDF)", "history": "successful-episode"}.get(
        source, "other-episode"
    )
    return Finding(
        cause=CAUSE,
        title=f"Joint beyond its limit: {channel}",
        explanation=(
            f"{ref} went {where} {origin} limit {limit:.4g} (peak {peak:.4g}, "
            f"{duration:.2f} s beyond it)"
        ),
        confidence=confidence,
        severity="high" if source == "declared" or (strong and not from_start) else "medium",
        t_start_ns=int(t_ns[start]),
        t_end_ns=int(t_ns[spans[-1][1] - 1]),
        channels=[ref],
        evidence={
            "joint": channel.split("/", 1)[-1],
            "limit": limit,
            "lower": lo,
            "upper": hi,
            "peak": peak,
            "allowed_excess": allowed,
            "limit_source": source,
            "duration_s": round(duration, 3),
            "excess_fraction": round(relative, 3),
            "from_episode_start": from_start,
        },
        next_step=(
            "Look at the commanded target for this joint at that time and at the frames: was the "
            "goal unreachable, or did the controller overshoot?"
        ),
    )
