"""Effort spikes and effort saturation on measured joint efforts / torques / motor currents.

A spike (a collision, a jammed joint, a controller kick) is a departure from the channel's local
trend beyond robust bounds — local trend because gravity torque legitimately changes as the
arm moves. Saturation is an effort pinned at its maximum: at the declared effort limit (URDF)
or, without one, exactly flat at the channel's extreme (a clipped current). Torque COMMANDS are
actions, not measurements, and all-zero channels (simulators that do not fill effort) are
skipped.

A step that then holds — a new plateau — is a load change, not a spike: the grip force rising
when the gripper closes on the object (and falling when it opens), a payload being lifted. Such a
departure is skipped when the level a little later stays near the peak, and a gripper effort
step at a gripper open/close command is always expected.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    NS,
    action_signals,
    failed_run,
    field_of,
    is_gripper_name,
    joint_of,
    mad_scale,
    period_ns,
    robust_range,
    runs,
    span_s,
    state_signals,
    sustained_runs,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref

SPIKE = "effort_spike"
SATURATION = "effort_saturation"
thresholds.register(
    SPIKE,
    k_mad=(10.0, "spike: deviation from the local trend beyond k × MAD of that deviation"),
    rel_floor=(0.3, "spike: and beyond this fraction of the channel's p1..p99 range"),
    abs_floor=(0.5, "spike: and beyond this many N·m / N / A (tiny noise never alarms)"),
    trend_window_s=(0.5, "window of the local trend (block medians) in seconds"),
    min_duration_s=(0.03, "a spike this long counts as sustained; shorter needs strong_factor"),
    strong_factor=(2.0, "a spike this many times over the bound counts even when brief"),
    plateau_after_s=(1.0, "a spike is over by this long after its start; a step still holds"),
    plateau_share=(0.5, "level that long after ≥ this share of the peak departure = a step"),
    command_slack_s=(0.5, "gripper effort steps this close to a gripper command are expected"),
)
thresholds.register(
    SATURATION,
    min_duration_s=(0.3, "shortest pinned span that counts (s)"),
    limit_fraction=(0.98, "declared effort limit: |effort| ≥ this fraction of it is 'at' it"),
    epsilon=(0.002, "no declared limit: flat within this fraction of the range at the extreme"),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    findings: list[Finding] = []
    for signal in state_signals(data):
        for k, channel in enumerate(signal.channels):
            if field_of(signal.stream, channel) != "effort":
                continue
            column = signal.values[:, k]
            finite = column[np.isfinite(column)]
            if finite.size < 8 or np.ptp(finite) <= 0:
                continue  # empty or constant (the iiwa's all-zero efforts)
            for check in (_spike, _saturation):
                found = check(data, ctx, signal.stream, channel, signal.t_ns, column)
                if found is not None:
                    findings.append(found)
    return findings


def _trend(t_ns: np.ndarray, column: np.ndarray, window_s: float) -> np.ndarray:
    """Local trend: medians of consecutive blocks, interpolated — robust to short spikes."""
    period = period_ns(t_ns) or 1.0
    block = max(3, round(window_s * 1e9 / max(period, 1.0)))
    n_blocks = column.size // block
    if n_blocks < 2:
        return np.full(column.size, float(np.nanmedian(column)))
    used = column[: n_blocks * block].reshape(n_blocks, block)
    centres = t_ns[: n_blocks * block].reshape(n_blocks, block)[:, block // 2]
    if np.isfinite(used).all():
        trend: np.ndarray = np.interp(t_ns, centres, np.median(used, axis=1))
        return trend
    # NaN holes (a dropped sensor): medians of the finite samples, all-NaN blocks skipped
    medians = np.full(n_blocks, np.nan)
    some = np.isfinite(used).any(axis=1)
    medians[some] = np.nanmedian(used[some], axis=1)
    if not some.any():
        return np.full(column.size, np.nan)
    holed_trend: np.ndarray = np.interp(t_ns, centres[some], medians[some])
    return holed_trend


def _spike(
    data: EpisodeData,
    ctx: ExplainContext,
    stream: str,
    channel: str,
    t_ns: np.ndarray,
    column: np.ndarray,
) -> Finding | None:
    residual = column - _trend(t_ns, column, ctx.t(SPIKE, "trend_window_s"))
    bound = max(
        ctx.t(SPIKE, "k_mad") * mad_scale(residual),
        ctx.t(SPIKE, "rel_floor") * robust_range(column),
        ctx.t(SPIKE, "abs_floor"),
    )
    with np.errstate(invalid="ignore"):
        outside = np.abs(residual) > bound
    if not outside.any():
        return None
    strong = ctx.t(SPIKE, "strong_factor") * bound
    spans = sustained_runs(outside, t_ns, ctx.t(SPIKE, "min_duration_s"), 2)
    with np.errstate(invalid="ignore"):
        strong_starts = runs(np.abs(residual) > strong)[0]
    candidates = sorted({s for s, _ in spans} | {int(i) for i in strong_starts})
    expected = _gripper_command_times(data) if is_gripper_name(channel) else np.zeros(0)
    slack = ctx.t(SPIKE, "command_slack_s") * NS
    first = next(
        (
            i
            for i in candidates
            if not (expected.size and np.min(np.abs(expected - t_ns[i])) <= slack)
            and not _is_step(ctx, t_ns, column, i)
        ),
        None,
    )
    if first is None:
        return None
    hold = int(ctx.t(SPIKE, "plateau_after_s") * NS)
    region = np.arange(first, int(np.searchsorted(t_ns, t_ns[first] + hold, "right")))
    peak_i = int(region[np.nanargmax(np.abs(residual[region]))])
    peak_ratio = float(abs(residual[peak_i]) / bound)
    confidence = 0.55 + min(0.3, 0.1 * (peak_ratio - 1.0))
    if failed_run(data):
        confidence += 0.05
    ref = channel_ref(stream, channel)
    stop = first
    while stop + 1 < outside.size and outside[stop + 1]:
        stop += 1
    return Finding(
        cause=SPIKE,
        title=f"Effort spike: {channel}",
        explanation=(
            f"{ref} jumped to {column[peak_i]:.4g} ({peak_ratio:.1f}× the robust bound "
            f"{bound:.3g} around its local trend)"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_ns[first]),
        t_end_ns=int(t_ns[stop]),
        channels=[ref],
        evidence={
            "peak": float(column[peak_i]),
            "peak_time_ns": int(t_ns[peak_i]),
            "bound": bound,
            "peak_over_bound": round(peak_ratio, 2),
            "k_mad": ctx.t(SPIKE, "k_mad"),
            "abs_floor": ctx.t(SPIKE, "abs_floor"),
        },
        next_step="Look at the frames at the spike: a collision, a jam or a controller kick?",
    )


def _is_step(ctx: ExplainContext, t_ns: np.ndarray, column: np.ndarray, i: int) -> bool:
    """The departure starting at sample ``i`` still holds ``plateau_after_s`` later: a load
    change (new plateau), not a spike (which returns to the level before it)."""
    window = int(ctx.t(SPIKE, "trend_window_s") * NS)
    hold = int(ctx.t(SPIKE, "plateau_after_s") * NS)
    t = int(t_ns[i])
    a, b, c, d = np.searchsorted(t_ns, (t - window, t, t + hold, t + hold + window), "left")
    before, during, after = column[a:b], column[b:c], column[c:d]
    before = before[np.isfinite(before)]
    during = during[np.isfinite(during)]
    after = after[np.isfinite(after)]
    if before.size < 2 or during.size < 2 or after.size < 2:
        return False  # at an edge of the recording: cannot tell, keep the spike
    level = float(np.median(before))
    peak = float(during[np.argmax(np.abs(during - level))]) - level
    if peak == 0.0:
        return False
    moved = float(np.median(after)) - level
    return bool(moved * np.sign(peak) >= ctx.t(SPIKE, "plateau_share") * abs(peak))


def _gripper_command_times(data: EpisodeData) -> np.ndarray:
    """Times at which a gripper / hand command changes (open ↔ close)."""
    times = []
    for signal in action_signals(data):
        for k, channel in enumerate(signal.channels):
            if not is_gripper_name(channel):
                continue
            column = signal.values[:, k]
            finite = column[np.isfinite(column)]
            if finite.size < 2 or np.ptp(finite) <= 0:
                continue
            with np.errstate(invalid="ignore"):
                changed = np.abs(np.diff(column)) > 0.25 * float(np.ptp(finite))
            times.append(signal.t_ns[1:][changed])
    return np.concatenate(times) if times else np.zeros(0, dtype=np.int64)


def _saturation(
    data: EpisodeData,
    ctx: ExplainContext,
    stream: str,
    channel: str,
    t_ns: np.ndarray,
    column: np.ndarray,
) -> Finding | None:
    min_s = ctx.t(SATURATION, "min_duration_s")
    limit_value = _declared_effort(data, channel)
    magnitude = np.abs(column)
    if limit_value > 0:
        source = "declared"
        pinned = magnitude >= ctx.t(SATURATION, "limit_fraction") * limit_value
        spans = sustained_runs(pinned, t_ns, min_s, 3)
        level = limit_value
    else:
        source = "flat extreme"
        level = float(np.nanmax(magnitude))
        eps = ctx.t(SATURATION, "epsilon") * max(float(np.ptp(column[np.isfinite(column)])), 1e-12)
        pinned = magnitude >= level - eps
        spans = [
            (a, b)
            for a, b in sustained_runs(pinned, t_ns, min_s, 3)
            if np.ptp(column[a:b]) <= eps  # exactly flat: clipped, not a held pose
        ]
        if level <= ctx.t(SPIKE, "abs_floor"):
            return None
    if not spans:
        return None
    start, end = spans[0]  # the first pinned span: where it began
    duration = span_s(t_ns, start, end)
    confidence = (0.75 if source == "declared" else 0.6) + min(0.15, 0.05 * duration)
    if failed_run(data):
        confidence += 0.05
    ref = channel_ref(stream, channel)
    return Finding(
        cause=SATURATION,
        title=f"Effort pinned at its maximum: {channel}",
        explanation=(
            f"{ref} stayed at {level:.4g} for {duration:.2f} s — "
            + (
                "its declared effort limit"
                if source == "declared"
                else "its own peak, exactly flat: a clamp nobody declared"
            )
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_ns[start]),
        t_end_ns=int(t_ns[end - 1]),
        channels=[ref],
        evidence={"level": level, "limit_source": source, "duration_s": round(duration, 3)},
        next_step=(
            "The actuator is at what it can give: check for a blocked joint or an excessive load."
        ),
    )


def _declared_effort(data: EpisodeData, channel: str) -> float:
    """The URDF effort limit of the channel's joint (metadata["joint_limits"]), or 0."""
    table = data.info.metadata.get("joint_limits")
    entry = table.get(joint_of(channel)) if isinstance(table, dict) else None
    try:
        value = float(entry["effort"]) if isinstance(entry, dict) else 0.0
    except (KeyError, TypeError, ValueError):
        return 0.0
    return value if np.isfinite(value) and value > 0 else 0.0
