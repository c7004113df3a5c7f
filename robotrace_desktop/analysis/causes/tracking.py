"""Tracking error: a joint's measured value stops following its command for a sustained span.

Command and measurement are matched by joint name (data.pairs()). The command is resampled onto
the measured times by sample-and-hold and compared at the best small lag (a controller always
trails its target a little; that settling lag is not a fault). The error is judged relative to
the joint's motion range so one bound fits radians, metres and normalised units. Only like is
compared with like (position↔position, velocity↔velocity); torque commands, all-zero
measurements and gripper / hand channels (a closed hand stops on the object by design) are
skipped.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    failed_run,
    field_of,
    is_gripper_name,
    robust_range,
    span_s,
    sustained_runs,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "tracking_error"
thresholds.register(
    CAUSE,
    bound=(0.35, "error beyond this fraction of the joint's motion range counts"),
    abs_floor=(0.05, "and beyond this many rad / m / units (joints that barely move)"),
    min_duration_s=(0.5, "shortest diverging span that counts (s)"),
    max_lag_s=(0.3, "settling lag allowed: the command is compared up to this much earlier (s)"),
    lag_step_s=(0.05, "lag search step (s)"),
    bias_fraction=(0.3, "steady offset = median error over this first fraction of the run"),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    best: Finding | None = None
    others: list[str] = []
    for (cmd_stream, cmd_channel), (meas_stream, meas_channel) in data.pairs():
        found = _check_pair(data, ctx, cmd_stream, cmd_channel, meas_stream, meas_channel)
        if found is None:
            continue
        others.extend(found.channels)
        if best is None or (found.confidence, -(found.t_start_ns or 0)) > (
            best.confidence,
            -(best.t_start_ns or 0),
        ):
            best = found
    if best is None:
        return []
    best.evidence["joints_diverging"] = len(others) // 2
    best.channels = list(dict.fromkeys(best.channels + others))[:16]
    return [best]


def _check_pair(
    data: EpisodeData,
    ctx: ExplainContext,
    cmd_stream: str,
    cmd_channel: str,
    meas_stream: str,
    meas_channel: str,
) -> Finding | None:
    if is_gripper_name(cmd_channel) or is_gripper_name(meas_channel):
        return None
    cmd_field, meas_field = field_of(cmd_stream, cmd_channel), field_of(meas_stream, meas_channel)
    if cmd_field != meas_field or meas_field == "effort":
        return None
    cmd_sig, meas_sig = data.signal(cmd_stream), data.signal(meas_stream)
    if cmd_sig is None or meas_sig is None or len(cmd_sig.t_ns) < 2 or len(meas_sig.t_ns) < 4:
        return None
    command = cmd_sig.column(cmd_channel)
    measured = meas_sig.column(meas_channel)
    if not np.isfinite(measured).any() or np.nanmax(np.abs(measured)) == 0:
        return None  # the measurement is not filled in
    t_meas, t_cmd = meas_sig.t_ns, cmd_sig.t_ns
    scale = max(robust_range(measured), robust_range(command))
    bound = max(ctx.t(CAUSE, "bound") * scale, ctx.t(CAUSE, "abs_floor"))
    step = max(ctx.t(CAUSE, "lag_step_s"), 1e-3)
    lags = np.arange(0.0, ctx.t(CAUSE, "max_lag_s") + 1e-9, step)
    best_lag = _best_lag(t_meas, measured, t_cmd, command, lags)
    idx = np.searchsorted(t_cmd, t_meas - np.int64(lags[best_lag] * 1e9), "right") - 1
    valid = idx >= 0
    held = command[np.clip(idx, 0, None)]
    signed = np.where(valid, measured - held, np.nan)
    # a steady offset from the start (gravity droop, calibration) is not a divergence: the
    # error is measured from its level over the first part of the run
    early = t_meas <= t_meas[0] + ctx.t(CAUSE, "bias_fraction") * (t_meas[-1] - t_meas[0])
    bias = float(np.nanmedian(signed[early])) if np.isfinite(signed[early]).any() else 0.0
    err = np.abs(signed - bias)
    with np.errstate(invalid="ignore"):
        over = err > bound
    spans = sustained_runs(over, t_meas, ctx.t(CAUSE, "min_duration_s"), 3)
    if not spans:
        return None
    start, end = max(spans, key=lambda s: span_s(t_meas, *s))
    first = spans[0][0]
    duration = span_s(t_meas, start, end)
    peak = float(np.nanmax(err[start:end]))
    ratio = peak / bound
    confidence = 0.5 + min(0.2, 0.1 * (ratio - 1.0)) + min(0.1, 0.05 * (duration - 0.5))
    if failed_run(data):
        confidence += 0.05
    cmd_ref, meas_ref = channel_ref(cmd_stream, cmd_channel), channel_ref(meas_stream, meas_channel)
    return Finding(
        cause=CAUSE,
        title=f"Joint not following its command: {meas_channel}",
        explanation=(
            f"{meas_ref} was up to {peak:.3g} away from {cmd_ref} for {duration:.2f} s "
            f"(bound {bound:.3g} = {ctx.t(CAUSE, 'bound'):.0%} of its range, "
            f"best lag {lags[best_lag]:.2f} s)"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_meas[first]),
        t_end_ns=int(t_meas[end - 1]),
        channels=[cmd_ref, meas_ref],
        evidence={
            "peak_error": peak,
            "bound": bound,
            "bias_removed": bias,
            "range": scale,
            "lag_s": round(float(lags[best_lag]), 3),
            "duration_s": round(duration, 3),
        },
        next_step=(
            "Compare command and measurement on the plot: a blocked joint, a weak gain, or a "
            "command the robot cannot physically follow?"
        ),
    )


def _best_lag(
    t_meas: np.ndarray,
    measured: np.ndarray,
    t_cmd: np.ndarray,
    command: np.ndarray,
    lags: np.ndarray,
    max_points: int = 2000,
) -> int:
    """Index of the lag with the smallest mean error, judged on at most ``max_points``
    evenly spaced measured samples (the lag is a property of the whole run)."""
    step = max(1, t_meas.size // max_points)
    t, m = t_meas[::step], measured[::step]
    idx = np.searchsorted(t_cmd, t[None, :] - (lags[:, None] * 1e9).astype(np.int64), "right") - 1
    error = np.where(idx >= 0, np.abs(m[None, :] - command[np.clip(idx, 0, None)]), np.nan)
    with np.errstate(invalid="ignore"):
        mean_err = np.nanmean(error, axis=1)
    return int(np.nanargmin(mean_err)) if np.isfinite(mean_err).any() else 0
