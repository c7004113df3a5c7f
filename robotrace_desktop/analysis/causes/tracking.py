"""Tracking error: a joint's measured value stops following its command for a sustained span.

Command and measurement are matched by joint name (data.pairs()). The command is resampled onto
the measured times by sample-and-hold and compared at the best small lag (a controller always
trails its target a little; that settling lag is not a fault). The error is judged relative to
the joint's motion range so one bound fits radians, metres and normalised units; a joint whose
error stays under that bound but far beyond the band it keeps over the early run, for seconds,
counts too (a weak gain: it makes only part of each commanded move). The onset is where the
error left its ordinary band, dated back from the detection (a CUSUM changepoint), not where
it crossed the bound. Only like is compared with like (position↔position,
velocity↔velocity); torque commands, all-zero measurements and gripper / hand channels (a
closed hand stops on the object by design) are skipped.

A joint repeating one value bit for bit while its command moves is stuck however small its
error; with its effort staying in its band (nothing pushed it) the reading stopped updating,
so a sensor_stall is reported with it — the cause the tracking error follows from.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._push import effort_rise, joint_efforts
from robotrace_desktop.analysis.causes._series import (
    NS,
    failed_run,
    field_of,
    is_gripper_name,
    joint_of,
    on_arrays,
    robust_range,
    span_s,
    sustained_runs,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "tracking_error"
STALL = "sensor_stall"
#: an error band needs this many ordinary samples before the divergence to be learned
_MIN_BAND_SAMPLES = 20
thresholds.register(
    CAUSE,
    bound=(0.35, "error beyond this fraction of the joint's motion range counts"),
    abs_floor=(0.05, "and beyond this many rad / m / units (joints that barely move)"),
    min_duration_s=(0.5, "shortest diverging span that counts (s)"),
    max_lag_s=(0.3, "settling lag allowed: the command is compared up to this much earlier (s)"),
    lag_step_s=(0.05, "lag search step (s)"),
    bias_fraction=(0.3, "steady offset = median error over this first fraction of the run"),
    frozen_travel=(
        0.1,
        "a joint frozen while its command travels this fraction of the command's range counts",
    ),
    onset_fraction=(
        0.2,
        "calm error: below this fraction of the bound — a divergence starts no later than its "
        "last calm sample",
    ),
    effort_rise=(
        0.5,
        "a frozen joint is pushed (held, not a stale reading) when its effort departs by this "
        "share of its range",
    ),
    effort_beyond=(0.25, "and leaves its band over the rest of the run by this share of it"),
    band_factor=(
        2.0,
        "or error beyond this many times its ordinary band (99th percentile over the early run)",
    ),
    band_floor=(0.2, "and beyond this fraction of the joint's motion range"),
    band_duration_s=(2.0, "for at least this long (s): a joint that no longer follows"),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    """The strongest diverging joint (naming the others that diverge too), and, when its
    reading repeated one value exactly with nothing pushing it, the stalled sensor behind it."""
    best: list[Finding] = []
    others: list[str] = []
    for (cmd_stream, cmd_channel), (meas_stream, meas_channel) in data.pairs():
        found = _check_pair(data, ctx, cmd_stream, cmd_channel, meas_stream, meas_channel)
        if not found:
            continue
        others.extend(found[0].channels)
        if not best or (found[0].confidence, -(found[0].t_start_ns or 0)) > (
            best[0].confidence,
            -(best[0].t_start_ns or 0),
        ):
            best = found
    if not best:
        return []
    best[0].evidence["joints_diverging"] = len(others) // 2
    best[0].channels = list(dict.fromkeys(best[0].channels + others))[:16]
    return best


def _check_pair(
    data: EpisodeData,
    ctx: ExplainContext,
    cmd_stream: str,
    cmd_channel: str,
    meas_stream: str,
    meas_channel: str,
) -> list[Finding]:
    """The pair's tracking error (first) and the stalled sensor that explains it, if any."""
    if is_gripper_name(cmd_channel) or is_gripper_name(meas_channel):
        return []
    cmd_field, meas_field = field_of(cmd_stream, cmd_channel), field_of(meas_stream, meas_channel)
    if cmd_field != meas_field or meas_field == "effort":
        return []
    cmd_sig, meas_sig = data.signal(cmd_stream), data.signal(meas_stream)
    if cmd_sig is None or meas_sig is None or len(cmd_sig.t_ns) < 2 or len(meas_sig.t_ns) < 4:
        return []
    command = cmd_sig.column(cmd_channel)
    measured = meas_sig.column(meas_channel)
    if not np.isfinite(measured).any() or np.nanmax(np.abs(measured)) == 0:
        return []  # the measurement is not filled in
    t_meas, t_cmd = meas_sig.t_ns, cmd_sig.t_ns
    scale = max(robust_range(measured), robust_range(command))
    bound = max(ctx.t(CAUSE, "bound") * scale, ctx.t(CAUSE, "abs_floor"))
    step = max(ctx.t(CAUSE, "lag_step_s"), 1e-3)
    lags = np.arange(0.0, ctx.t(CAUSE, "max_lag_s") + 1e-9, step)
    best_lag = best_lag_index(t_meas, measured, t_cmd, command, lags)
    idx = np.searchsorted(t_cmd, t_meas - np.int64(lags[best_lag] * 1e9), "right") - 1
    valid = idx >= 0
    held = command[np.clip(idx, 0, None)]
    signed = np.where(valid, measured - held, np.nan)
    # a steady offset from the start (gravity droop, calibration) is not a divergence: the
    # error is measured from its level over the first part of the run
    early = t_meas <= t_meas[0] + ctx.t(CAUSE, "bias_fraction") * (t_meas[-1] - t_meas[0])
    bias = float(np.nanmedian(signed[early])) if np.isfinite(signed[early]).any() else 0.0
    err = np.abs(signed - bias)
    spans = _diverging(ctx, err, early, t_meas, bound, scale)
    # a joint that repeats one value exactly while its command moves is stuck, however small
    # the error: that evidence is stronger (and better timed) than the error bound
    frozen = _frozen_joint(
        ctx, meas_sig.values, meas_sig.channels.index(meas_channel), held, t_meas
    )
    if frozen is not None:
        refs = (channel_ref(cmd_stream, cmd_channel), channel_ref(meas_stream, meas_channel))
        start, end, _ = frozen
        t0, t1 = int(t_meas[start]), int(t_meas[end - 1])
        rises = [
            effort_rise(e, t0, t1, ctx.t(CAUSE, "effort_beyond"))
            for e in joint_efforts(data, joint_of(meas_channel))
        ]
        rise = max(rises, default=0.0)
        found = _frozen_finding(data, frozen, t_meas, refs, meas_channel)
        if rise >= ctx.t(CAUSE, "effort_rise"):
            found.evidence["effort_rise"] = round(rise, 3)
            return [found]  # held against its command: a blocked joint, not a stale reading
        return [found, _stall_finding(found, refs, meas_stream, meas_channel)]
    if not spans:
        return []
    start, end = max(spans, key=lambda s: span_s(t_meas, *s))
    first = _onset(ctx, err, t_meas, spans[0][0], bound)
    band = _band(err, early, 99.0) or 0.0
    duration = span_s(t_meas, start, end)
    peak = float(np.nanmax(err[start:end]))
    ratio = peak / bound
    confidence = 0.5 + min(0.2, 0.1 * (ratio - 1.0)) + min(0.1, 0.05 * (duration - 0.5))
    if failed_run(data):
        confidence += 0.05
    cmd_ref, meas_ref = channel_ref(cmd_stream, cmd_channel), channel_ref(meas_stream, meas_channel)
    found = Finding(
        cause=CAUSE,
        title=f"Joint not following its command: {meas_channel}",
        explanation=(
            f"{meas_ref} was up to {peak:.3g} away from {cmd_ref} for {duration:.2f} s "
            + (
                f"(bound {bound:.3g} = {ctx.t(CAUSE, 'bound'):.0%} of its range, "
                if peak > bound
                else f"(under the {bound:.3g} bound, {ctx.t(CAUSE, 'bound'):.0%} of its range, but "
                f"{peak / max(band, 1e-12):.0f}× its ordinary error {band:.3g}, "
            )
            + f"best lag {lags[best_lag]:.2f} s)"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_meas[first]),
        t_end_ns=int(t_meas[end - 1]),
        channels=[cmd_ref, meas_ref],
        evidence={
            "peak_error": peak,
            "bound": bound,
            "ordinary_error": band,
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
    return [found]


@on_arrays  # tracking, drift and hard_stop ask it of the same joints
def best_lag_index(
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


def _diverging(
    ctx: ExplainContext,
    err: np.ndarray,
    early: np.ndarray,
    t_meas: np.ndarray,
    bound: float,
    scale: float,
) -> list[tuple[int, int]]:
    """Spans where the joint no longer follows its command, in time order: the error beyond
    the bound (a share of the joint's range) for a while, or — a joint following with too weak
    a gain, whose error grows only to a fraction of its commanded motion — far beyond the band
    it keeps over the early run and beyond a smaller share of its range, for longer. A robot
    tracking as usual stays within a small multiple of its own band; a weak joint's error
    leaves it for good once its command moves."""
    with np.errstate(invalid="ignore"):
        spans = sustained_runs(err > bound, t_meas, ctx.t(CAUSE, "min_duration_s"), 3)
        band = _band(err, early, 99.0)
        if band is None:
            return spans
        level = max(
            ctx.t(CAUSE, "band_factor") * band,
            ctx.t(CAUSE, "band_floor") * scale,
            ctx.t(CAUSE, "abs_floor"),
        )
        if level >= bound:
            return spans
        weak = sustained_runs(err > level, t_meas, ctx.t(CAUSE, "band_duration_s"), 3)
    return sorted(set(spans) | set(weak))


def _band(err: np.ndarray, early: np.ndarray, percentile: float) -> float | None:
    """The error's ordinary band: its ``percentile`` over the early run (where the steady
    offset is taken too), or None with too few samples there to tell."""
    ordinary = err[early]
    ordinary = ordinary[np.isfinite(ordinary)]
    if ordinary.size < _MIN_BAND_SAMPLES:
        return None
    return float(np.percentile(ordinary, percentile))


def _onset(
    ctx: ExplainContext, err: np.ndarray, t_meas: np.ndarray, first: int, bound: float
) -> int:
    """Where the divergence detected at ``first`` (the first sample of its first span) began.

    A joint that follows with too weak a gain, or stops while its command moves on, parts from
    its command gradually, and the gap falls back whenever the command passes back by where the
    joint is: the last calm sample before the detection is then only the last such crossing.
    So the onset is the changepoint of the error's level, dated backward from the detection
    (CUSUM): the sample from which the error's excess over its ordinary band, summed up to the
    detection, is largest — every ordinary sample before the onset lowers that sum, a crossing
    inside the divergence only dents it. The band is the error's 90th percentile over the run
    before the last calm sample, leaving out the stretch just before it that a slow divergence
    may already fill (as long as one the band rule needs); never under a tenth of the bound
    (errors that small are immaterial: a noiseless joint's band is zero) nor over the calm
    level, so the onset is never later than the last calm sample."""
    before = err[:first]
    finite = before[np.isfinite(before)]
    if finite.size == 0:
        return first
    usual = float(np.median(finite))
    level = min(0.5 * bound, max(ctx.t(CAUSE, "onset_fraction") * bound, 1.5 * usual))
    with np.errstate(invalid="ignore"):
        calm = np.flatnonzero(before <= level)
    if calm.size == 0:
        return first
    last_calm = int(calm[-1]) + 1
    settled = t_meas[last_calm - 1] - int(ctx.t(CAUSE, "band_duration_s") * NS)
    band = None
    for end in (int(np.searchsorted(t_meas, settled)), last_calm):
        band = _band(err[:end], np.ones(end, dtype=bool), 90.0)
        if band is not None:
            break
    if band is None:
        return last_calm
    ref = min(max(band, 0.1 * bound), level)
    excess = np.nan_to_num(before - ref, nan=0.0)
    # summed excess from each sample up to the detection; the detection itself sums to 0
    total = np.append(np.cumsum(excess[::-1])[::-1], 0.0)
    return int(np.argmax(total))


def _frozen_joint(
    ctx: ExplainContext,
    values: np.ndarray,
    k: int,
    held: np.ndarray,
    t_meas: np.ndarray,
) -> tuple[int, int, float] | None:
    """(start, end, command travel) of the longest span where the measured joint repeats
    exactly the same value while its command keeps moving — a stuck joint (or a stuck
    encoder) whose error may stay small in absolute terms. When most channels of the stream
    freeze together it is a stalled sensor instead (flatline), not this joint."""
    column = values[:, k]
    if column.size < 4:
        return None
    same = np.zeros(column.size, dtype=bool)
    same[1:] = column[1:] == column[:-1]
    spans = sustained_runs(same, t_meas, ctx.t(CAUSE, "min_duration_s"), 3)
    if not spans:
        return None
    start, end = max(spans, key=lambda s: span_s(t_meas, *s))
    start = max(start - 1, 0)  # the first sample of the held value
    finite = held[np.isfinite(held)]
    if finite.size < 4:
        return None
    steps = np.abs(np.diff(finite))
    noise = float(np.median(steps)) if steps.size else 0.0
    segment = held[start:end]
    segment = segment[np.isfinite(segment)]
    if segment.size < 2:
        return None
    travel = float(np.ptp(segment))
    needed = max(ctx.t(CAUSE, "frozen_travel") * robust_range(finite), 20.0 * noise, 1e-9)
    if travel < needed:
        return None
    # held where the joint never was before (pushed past its range and pinned there): that is
    # a limit breach (joint_limits), not a joint that stopped where it was
    # (the range before it, leaving out the last moments where it may have been driven there)
    earlier = t_meas < t_meas[start] - int(ctx.t(CAUSE, "max_lag_s") * 1e9)
    before = column[earlier][np.isfinite(column[earlier])]
    if before.size:
        lo, hi = float(before.min()), float(before.max())
        reach = max(hi - lo, 1e-9)
        if not lo - 0.1 * reach <= column[start] <= hi + 0.1 * reach:
            return None
    others = np.delete(values[start:end], k, axis=1)
    with np.errstate(invalid="ignore"):
        still = np.all(np.diff(others, axis=0) == 0, axis=0)
    if still.any():
        with np.errstate(invalid="ignore"):  # channels constant all along do not count
            earlier = np.delete(values[:start], k, axis=1)
            moved = np.any(np.diff(earlier, axis=0) != 0, axis=0)
        if moved.any() and still[moved].mean() > 0.5:
            return None  # the whole stream froze: a sensor stall
    return start, end, travel


def _frozen_finding(
    data: EpisodeData,
    frozen: tuple[int, int, float],
    t_meas: np.ndarray,
    refs: tuple[str, str],
    meas_channel: str,
) -> Finding:
    start, end, travel = frozen
    duration = span_s(t_meas, start, end)
    confidence = 0.7 + min(0.1, 0.05 * (duration - 0.5)) + (0.05 if failed_run(data) else 0.0)
    cmd_ref, meas_ref = refs
    return Finding(
        cause=CAUSE,
        title=f"Joint not following its command: {meas_channel}",
        explanation=(
            f"{meas_ref} stayed exactly at one value for {duration:.2f} s while {cmd_ref} "
            f"moved by {travel:.3g}: the joint (or its encoder) was stuck"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_meas[start]),
        t_end_ns=int(t_meas[end - 1]),
        channels=[cmd_ref, meas_ref],
        evidence={"command_travel": travel, "duration_s": round(duration, 3), "frozen": True},
        next_step=(
            "Check the joint and its encoder at that time: a blocked joint, a tripped motor "
            "driver, or a sensor that stopped updating this one joint?"
        ),
    )


def _stall_finding(
    frozen: Finding, refs: tuple[str, str], meas_stream: str, meas_channel: str
) -> Finding:
    """The joint's reading repeated one value bit for bit while its command moved and its
    effort stayed in its band: a real joint, even a blocked one, reads its encoder's noise and
    is pushed when held against its command; an exact repeat with nothing pushing is a
    reading that stopped updating — the cause the tracking error follows from."""
    cmd_ref, meas_ref = refs
    duration = frozen.evidence["duration_s"]
    return Finding(
        cause=STALL,
        title=f"{meas_stream}: {meas_channel} stuck",
        explanation=(
            f"{meas_ref} repeated exactly the same value for {duration:.2f} s while {cmd_ref} "
            f"moved by {frozen.evidence['command_travel']:.3g} and nothing pushed the joint "
            "(no effort beyond its usual band): the reading stopped updating"
        ),
        confidence=frozen.confidence,
        severity="high",
        t_start_ns=frozen.t_start_ns,
        t_end_ns=frozen.t_end_ns,
        channels=[meas_ref, cmd_ref],
        evidence={
            "repeated_exactly": True,
            "command_travel": frozen.evidence["command_travel"],
            "duration_s": duration,
        },
        next_step=(
            f"Check the driver or encoder of {meas_channel} and the log around that time: "
            "its value is stale from there."
        ),
    )
