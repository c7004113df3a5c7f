"""Tracking drift: a joint's measured value slowly walks away from its command.

A slipping encoder, a creeping calibration offset, a joint sagging under a load it cannot hold:
the command-vs-measured residual (command held onto the measured times at the best small lag,
like tracking_error) leaves its usual level and grows along a ramp over seconds. The onset is
the change point of a flat-then-ramp fit of the residual — a threshold crossing would date it
late in the ramp. A divergence that starts slowly and accelerates (a creeping offset running
away) is fitted with its own exponential shape when that fits clearly better than a straight
ramp: a straight ramp would date it where it became steep, seconds late. Judged relative to the
joint's commanded range (any units), and only when the growth explains most of the residual's
variation and stands out from how the episode's other joints track (a robot whose every joint
drifts the same way has a model or clock problem, not one failing joint). Finger and gripper
joints are judged like the others; a residual that grew because the command walked away from a
joint that stayed put (fingers closed on an object, a joint against a stop) is not a drift.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    NS,
    bend_fit,
    failed_run,
    field_of,
    growth,
    held_on,
    mad_scale,
    robust_range,
)
from robotrace_desktop.analysis.causes.tracking import best_lag_index
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "tracking_drift"
thresholds.register(
    CAUSE,
    min_rise=(0.05, "the residual's ramp must grow by this fraction of the joint's range"),
    min_ramp_s=(3.0, "a drift is slow: its ramp lasts at least this long (s)"),
    max_unexplained=(0.15, "the ramp must explain all but this share of the residual's variance"),
    min_z=(10.0, "the rise must exceed this many robust σ of what is left after the fit"),
    outlier_factor=(
        2.0,
        "and this many times the next most clearly ramping joint's rise over noise",
    ),
    max_points=(600, "the fit uses at most this many evenly spaced samples"),
    min_lead_s=(1.0, "the residual's usual level is seen at least this long before an onset (s)"),
    convex_gain=(
        0.3,
        "an accelerating (exponential) growth is preferred to a straight ramp when it leaves "
        "this share less of the residual unexplained",
    ),
)
_LAGS_S = np.arange(0.0, 0.31, 0.05)
#: ramp durations tried (s) beyond the shortest a drift may have (``min_ramp_s``, tried first):
#: a drift may stop growing before the run ends. Nothing shorter is tried — a shorter ramp
#: could never be reported, and fitted to the steep end of a slow (accelerating) drift it
#: would win and date it seconds late
_LONGER_RAMPS_S = (4.0, 6.0, 9.0, np.inf)
#: exponential growths tried (``_series.growth``), time constants (s): divergences that start
#: slowly and accelerate
_GROWTHS = (1.0, 2.0, 4.0)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    scored = []
    for (cmd_stream, cmd_channel), (meas_stream, meas_channel) in data.pairs():
        fit = _fit_pair(data, ctx, cmd_stream, cmd_channel, meas_stream, meas_channel)
        if fit is not None:
            scored.append(((cmd_stream, cmd_channel, meas_stream, meas_channel), fit))
    if not scored:
        return []
    findings = []
    for k, (refs, fit) in enumerate(scored):
        # how clearly the other joints that ramp a comparable share of their range do so
        # (rise over what their fit leaves): several joints drifting together is the robot's
        # way of tracking, or a model or clock problem, not one joint
        others = [
            f["z"]
            for j, (_, f) in enumerate(scored)
            if j != k
            and abs(f["relative_rise"]) >= 0.5 * ctx.t(CAUSE, "min_rise")
            and f["ramp_s"] >= ctx.t(CAUSE, "min_ramp_s")
        ]
        found = _finding(data, ctx, refs, fit, max(others) if others else 0.0)
        if found is not None:
            findings.append(found)
    return sorted(findings, key=lambda f: -f.confidence)[:1]


def _fit_pair(
    data: EpisodeData,
    ctx: ExplainContext,
    cmd_stream: str,
    cmd_channel: str,
    meas_stream: str,
    meas_channel: str,
) -> dict[str, float] | None:
    cmd_field, meas_field = field_of(cmd_stream, cmd_channel), field_of(meas_stream, meas_channel)
    if cmd_field != meas_field or meas_field == "effort":
        return None
    cmd_sig, meas_sig = data.signal(cmd_stream), data.signal(meas_stream)
    if cmd_sig is None or meas_sig is None or len(cmd_sig.t_ns) < 8 or len(meas_sig.t_ns) < 8:
        return None
    command, measured = cmd_sig.column(cmd_channel), meas_sig.column(meas_channel)
    scale = _joint_scale(ctx, command, measured, meas_stream, meas_channel)
    if scale <= 0 or not np.isfinite(measured).any():
        return None
    t_meas = meas_sig.t_ns
    lag = _LAGS_S[best_lag_index(t_meas, measured, cmd_sig.t_ns, command, _LAGS_S)]
    residual = measured - held_on(cmd_sig.t_ns, command, t_meas, int(lag * NS))
    keep = np.flatnonzero(np.isfinite(residual))
    step = max(1, keep.size // int(ctx.t(CAUSE, "max_points")))
    keep = keep[::step]
    if keep.size < 16:
        return None
    t_s = (t_meas[keep] - t_meas[keep[0]]).astype(np.float64) / NS
    r = residual[keep]
    if robust_range(r) < ctx.t(CAUSE, "min_rise") * scale:
        return None  # the residual never moves that far: no drift to fit
    # what the residual ordinarily follows: the command's speed (tracking lag)
    target = held_on(cmd_sig.t_ns, command, t_meas, int(lag * NS))[keep]
    if not np.isfinite(target).all():
        target = np.where(np.isfinite(target), target, np.nanmean(target))
    speed = np.gradient(target, t_s) if np.ptp(t_s) > 0 else np.zeros_like(target)
    nuisance = (speed / scale)[:, None]
    shortest = float(ctx.t(CAUSE, "min_ramp_s"))
    ramps = (shortest, *(d for d in _LONGER_RAMPS_S if d > shortest))
    fit = bend_fit(t_s, r, durations=ramps, nuisance=nuisance)
    # a divergence that starts slowly and accelerates: a straight ramp dates it where it
    # became steep — its own (exponential) shape dates its start, when that shape fits the
    # residual clearly better than a straight ramp does (not just by absorbing a wobble), or
    # fits it better and is a drift where the straight ramp is none (too short, too small
    # over what it leaves)
    convex = bend_fit(t_s, r, durations=ramps, nuisance=nuisance, growths=_GROWTHS)
    described = _described(fit, t_s, r, nuisance, scale)
    if convex[4] <= (1.0 - ctx.t(CAUSE, "convex_gain")) * fit[4]:
        fit, described = convex, _described(convex, t_s, r, nuisance, scale)
    elif convex[4] < fit[4] and not _credible(ctx, described):
        accelerating = _described(convex, t_s, r, nuisance, scale)
        if _credible(ctx, accelerating):
            fit, described = convex, accelerating
    i, _, _, tau, unexplained = fit
    ramp_s, rise, z = described
    if t_s[i] < ctx.t(CAUSE, "min_lead_s"):
        return None  # already growing as the run starts: no usual level it left (settling)
    # where the second half of the growth builds up: the last half of a straight ramp, the
    # last stretch of an accelerating one (at least its last third: enough samples to judge)
    midway_s = ramp_s - max(_half_growth_s(ramp_s, tau), ramp_s / 3.0)
    if _frozen_during(measured, t_meas, int(t_meas[keep[i]] + midway_s * NS), ramp_s - midway_s):
        return None  # a joint that stopped dead is a stop or a stuck sensor, not a slow walk
    late_span = (float(t_s[i]) + midway_s, ramp_s - midway_s)
    if _held_still(measured[keep], target, r, t_s, late_span):
        # the command moved on, the joint stayed or made only part of the way: blocked (a
        # grasp, a stop) or too weak to follow — a tracking error, not a slow walk
        return None
    return {
        "onset_ns": float(t_meas[keep[i]]),
        "end_ns": float(t_meas[keep[-1]]),
        "rise": rise,
        "relative_rise": rise / scale,
        "ramp_s": ramp_s,
        "unexplained": unexplained,
        "z": z,
        "scale": scale,
        "lag_s": float(lag),
        "growth_s": tau,
    }


def _described(
    fit: tuple[int, float, float, float, float],
    t_s: np.ndarray,
    r: np.ndarray,
    nuisance: np.ndarray,
    scale: float,
) -> tuple[float, float, float]:
    """(ramp duration s, rise, rise over the robust spread of what the fit leaves) of a
    ``bend_fit`` result on the residual ``r``."""
    i, slope, duration, tau, _ = fit
    ramp_s = float(min(t_s[-1] - t_s[i], duration))
    rise = slope * float(growth(np.array(ramp_s), tau))
    shape = growth(np.clip(t_s - t_s[i], 0.0, duration), tau)
    basis = np.column_stack((np.ones_like(t_s), nuisance, shape))
    coef = np.linalg.lstsq(basis, r, rcond=None)[0]
    noise = mad_scale(r - basis @ coef)
    return ramp_s, rise, abs(rise) / max(noise, 1e-12 * scale)


def _credible(ctx: ExplainContext, described: tuple[float, float, float]) -> bool:
    """Whether a fitted growth is slow and large enough to be a drift (``_finding``'s bars on
    its duration and its rise over what the fit leaves)."""
    ramp_s, _, z = described
    return bool(ramp_s >= ctx.t(CAUSE, "min_ramp_s") and z >= ctx.t(CAUSE, "min_z"))


def _half_growth_s(ramp_s: float, tau: float) -> float:
    """How long the last half of a growth's rise takes: half a straight ramp; the last
    d − τ·ln(1 + (e^(d/τ) − 1)/2) of an exponential one (``growth``): shorter, the faster it
    speeds up."""
    whole = float(growth(np.array(ramp_s), tau))
    if tau <= 0 or whole <= 0:
        return 0.5 * ramp_s
    return ramp_s - tau * float(np.log1p(0.5 * whole))


def _held_still(
    measured: np.ndarray,
    command: np.ndarray,
    residual: np.ndarray,
    t_s: np.ndarray,
    late_span: tuple[float, float],
) -> bool:
    """Whether the joint itself barely moved while the second half of the growth built up
    (``late_span``: its start and duration in seconds) although the residual grew: then the
    command walked away from a joint held in place — fingers closed on an object, a joint
    against a stop — not a measurement drifting from its command. Likewise when the residual
    is most of every move the command makes, following the command's path (wiggles and all)
    rather than time: that is the command's motion the joint did not make (a weak gain, a
    slipping transmission), a tracking error."""
    start, duration = late_span
    late = np.flatnonzero((t_s >= start) & (t_s <= start + duration))
    if late.size < 8:
        return False
    edge = max(2, late.size // 5)
    head, tail = late[:edge], late[-edge:]
    grew = abs(float(np.median(residual[tail]) - np.median(residual[head])))
    # how far the joint travelled over that stretch (smoothed over ``edge`` samples so noise
    # does not count): a blocked joint stays put; a drifting one keeps following its command,
    # even where the command happens to run back against the drift and the two ends meet
    path = np.convolve(measured[late[0] : late[-1] + 1], np.ones(edge) / edge, mode="valid")
    moved = float(np.ptp(path)) if path.size else 0.0
    return moved < 0.25 * grew or _follows_command(command[late], residual[late], t_s[late])


def _follows_command(command: np.ndarray, residual: np.ndarray, t_s: np.ndarray) -> bool:
    """Whether the residual is the larger share of the command's own motion — the joint made
    less than half of every move — and follows the command's path better than time: a
    straight-line fit on the command leaves under half of what one on time leaves. (A joint
    settling behind its command makes most of the way; a drifting one all of it.)"""
    ok = np.isfinite(command) & np.isfinite(residual)
    if ok.sum() < 8 or np.ptp(command[ok]) <= 0 or np.ptp(t_s[ok]) <= 0:
        return False
    c, r, t = command[ok], residual[ok], t_s[ok]
    slope, icpt = np.polyfit(c, r, 1)
    on_command = float(np.sum((r - (slope * c + icpt)) ** 2))
    on_time = float(np.sum((r - np.polyval(np.polyfit(t, r, 1), t)) ** 2))
    return -1.0 < slope < -0.5 and on_command < 0.5 * on_time


def _frozen_during(measured: np.ndarray, t_ns: np.ndarray, start_ns: int, span_s: float) -> bool:
    """Whether the measured value repeats itself exactly on most samples of ``span_s`` seconds
    from ``start_ns`` (where the second half of the growth built up)."""
    lo, hi = np.searchsorted(t_ns, [start_ns, start_ns + int(span_s * NS)])
    window = measured[lo:hi]
    if window.size < 4:
        return False
    return bool(np.mean(np.diff(window) == 0) > 0.5)


def _joint_scale(
    ctx: ExplainContext, command: np.ndarray, measured: np.ndarray, stream: str, channel: str
) -> float:
    """The joint's range: what it travels here, or across the robot's other runs when this
    run barely moves it (a joint idle here would make any sag look like a drift)."""
    scale = max(robust_range(command), robust_range(measured))
    seen = ctx.history(stream, channel, False) if ctx.history is not None else None
    if seen is not None and np.isfinite(seen[0]) and np.isfinite(seen[1]):
        scale = max(scale, float(seen[1] - seen[0]))
    return scale


def _finding(
    data: EpisodeData,
    ctx: ExplainContext,
    refs: tuple[str, str, str, str],
    fit: dict[str, float],
    others: float,
) -> Finding | None:
    relative = abs(fit["relative_rise"])
    # a rise far above what the fit leaves stays clear over more of the residual's own wobble
    # (a finger's grasping motion): the unexplained share allowed grows with the rise's clarity
    clarity = min(1.5, fit["z"] / ctx.t(CAUSE, "min_z"))
    if (
        relative < ctx.t(CAUSE, "min_rise")
        or fit["ramp_s"] < ctx.t(CAUSE, "min_ramp_s")
        or fit["unexplained"] > clarity * ctx.t(CAUSE, "max_unexplained")
        or fit["z"] < ctx.t(CAUSE, "min_z")
    ):
        return None
    stands_out = fit["z"] / max(others, 1e-12)
    if stands_out < ctx.t(CAUSE, "outlier_factor"):
        return None  # the other joints "drift" as much: how this robot tracks
    confidence = 0.6 + min(0.15, 0.5 * (relative - ctx.t(CAUSE, "min_rise")))
    confidence += min(0.1, 0.2 * (ctx.t(CAUSE, "max_unexplained") - fit["unexplained"]))
    if failed_run(data):
        confidence += 0.05
    cmd_stream, cmd_channel, meas_stream, meas_channel = refs
    cmd_ref, meas_ref = channel_ref(cmd_stream, cmd_channel), channel_ref(meas_stream, meas_channel)
    direction = "above" if fit["rise"] > 0 else "below"
    return Finding(
        cause=CAUSE,
        title=f"Joint drifting away from its command: {meas_channel}",
        explanation=(
            f"{meas_ref} crept {direction} {cmd_ref} by {abs(fit['rise']):.3g} "
            f"({relative:.0%} of its range) over {fit['ramp_s']:.1f} s, from "
            f"{fit['onset_ns'] / NS:.2f} s"
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(fit["onset_ns"]),
        t_end_ns=int(fit["end_ns"]),
        channels=[meas_ref, cmd_ref],
        evidence={
            "rise": fit["rise"],
            "relative_rise": round(fit["relative_rise"], 4),
            "ramp_s": round(fit["ramp_s"], 3),
            "unexplained_share": round(fit["unexplained"], 4),
            "rise_over_noise": round(fit["z"], 2),
            "next_joint_rise_over_noise": round(others, 2),
            "lag_s": fit["lag_s"],
        },
        next_step=(
            "Check the joint's encoder and calibration (a slipping or re-zeroed encoder) and "
            "whether it sags under load: compare command and measurement on the plot."
        ),
    )
