"""Gripper closed on nothing (an empty or premature grasp).

The gripper is commanded closed but nothing ends up between the jaws: the measured gripper
effort stays near zero (no grasp force) and/or the measured opening closes fully (the jaws met).
The fault is when the close was commanded — usually before the arm reached the object — and
the run failing afterwards makes it the prime suspect.

Only real evidence counts, because a failed run alone proves nothing about the gripper: the
command must be a true open/close switch (mostly at its two ends, like 0/1 — not a continuously
teleoperated hand such as the G1's finger commands), and then either a measured grip effort stays
near zero, or the measured opening reaches its *absolutely* fully-closed extreme (declared joint
limit, or zero width) and stays there. A measured grip force contradicts an empty close. The
range other runs reached is no fully-closed reference: successful runs close on the object.
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
    joint_limit,
    joint_of,
    mad_scale,
    state_signals,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "gripper_empty_close"
thresholds.register(
    CAUSE,
    settle_s=(0.3, "time allowed for the jaws to close after the command (s)"),
    min_closed_s=(0.3, "the gripper must stay commanded closed at least this long (s)"),
    empty_effort=(0.5, "grasp force below this (N / N·m / A) while closed means nothing is held"),
    empty_effort_noise_k=(4.0, "… or below k × the effort's open-gripper noise, if that is larger"),
    closed_fraction=(0.1, "opening within this fraction of its range from fully closed = jaws met"),
    closed_share=(0.8, "… for at least this share of the closed span (the jaws stay met)"),
    switch_share=(0.8, "a close command sits at its two ends for at least this share of samples"),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    findings: list[Finding] = []
    for signal in action_signals(data):
        for k, channel in enumerate(signal.channels):
            if not is_gripper_name(channel):
                continue
            found = _check(data, ctx, signal, k)
            if found is not None:
                findings.append(found)
    return findings


def _measured(data: EpisodeData, joint: str, field: str) -> tuple[Signal, str] | None:
    """The state channel of this gripper joint in ``field`` (position/effort)."""
    for signal in state_signals(data):
        for channel in signal.channels:
            if field_of(signal.stream, channel) != field or not is_gripper_name(channel):
                continue
            name = joint_of(channel)
            if name == joint or name.lower() in joint.lower() or joint.lower() in name.lower():
                return signal, channel
    return None


def _close_times(
    t_ns: np.ndarray, command: np.ndarray, closed_high: bool
) -> list[tuple[int, int | None]]:
    """(close time, following open time or None) for each open→closed transition."""
    finite = np.isfinite(command)
    if finite.sum() < 2:
        return []
    lo, hi = float(np.nanmin(command)), float(np.nanmax(command))
    if hi - lo <= 1e-9:
        return []
    closed = (command - lo) / (hi - lo) > 0.5
    if not closed_high:
        closed = ~closed
    edges = np.flatnonzero(np.diff(closed.astype(np.int8)))
    result: list[tuple[int, int | None]] = []
    for i in edges:
        if closed[i + 1]:
            later = edges[edges > i]
            result.append((int(t_ns[i + 1]), int(t_ns[later[0] + 1]) if later.size else None))
    return result


def _check(data: EpisodeData, ctx: ExplainContext, signal: Signal, k: int) -> Finding | None:
    channel = signal.channels[k]
    joint = joint_of(channel)
    command = signal.values[:, k]
    if not _is_switch(ctx, command):
        return None  # a continuously steered hand: no discrete "close" to judge
    position = _measured(data, joint, "position")
    effort = _measured(data, joint, "effort")
    closed_high = _polarity(command, signal.t_ns, position)
    settle = int(ctx.t(CAUSE, "settle_s") * NS)
    min_closed = int(ctx.t(CAUSE, "min_closed_s") * NS)
    end_ns = int(max(signal.t_ns[-1], data.duration_ns))
    for t_close, t_open in _close_times(signal.t_ns, command, closed_high):
        stop = t_open if t_open is not None else end_ns
        if stop - t_close < settle + min_closed:
            continue
        window = (t_close + settle, stop)
        effort_says = _effort_empty(ctx, effort, t_close, window) if effort else None
        if effort_says is False:
            continue  # a measured grip force: something is held
        empty_effort = effort_says if isinstance(effort_says, dict) else None
        jaws_met = _jaws_met(data, ctx, position, window) if position else None
        if not empty_effort and not jaws_met:
            continue  # something was grasped (or nothing can tell)
        return _finding(
            data, signal.stream, channel, t_close, stop, empty_effort, jaws_met, effort, position
        )
    return None


def _is_switch(ctx: ExplainContext, command: np.ndarray) -> bool:
    """An open/close command: it spends most of its samples at its two ends (0/1 style)."""
    finite = command[np.isfinite(command)]
    if finite.size < 4:
        return False
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo <= 1e-9:
        return False
    tol = 0.05 * (hi - lo)
    at_ends = (finite <= lo + tol) | (finite >= hi - tol)
    return bool(np.mean(at_ends) >= ctx.t(CAUSE, "switch_share"))


def _polarity(command: np.ndarray, t_ns: np.ndarray, position: tuple[Signal, str] | None) -> bool:
    """True when larger command values mean closed (0 open / 1 closed, the common convention);
    with a measured opening, decided by which command level the opening is smaller at."""
    if position is None:
        return True
    pos_sig, pos_channel = position
    opening = pos_sig.column(pos_channel)
    lo, hi = float(np.nanmin(command)), float(np.nanmax(command))
    if hi - lo <= 1e-9:
        return True
    high = (command - lo) / (hi - lo) > 0.5
    idx = np.clip(np.searchsorted(t_ns, pos_sig.t_ns, "right") - 1, 0, len(command) - 1)
    finite = np.isfinite(opening)
    at_high = opening[high[idx] & finite]
    at_low = opening[~high[idx] & finite]
    if at_high.size == 0 or at_low.size == 0:
        return True
    return bool(np.median(at_high) <= np.median(at_low))


def _window(signal: Signal, window: tuple[int, int]) -> np.ndarray:
    a, b = np.searchsorted(signal.t_ns, window, "left")
    return np.arange(a, b)


def _effort_empty(
    ctx: ExplainContext, effort: tuple[Signal, str], t_close: int, window: tuple[int, int]
) -> dict[str, float] | bool | None:
    """Evidence dict when the grip effort stayed near zero, False when a grip force was
    measured, None when the effort cannot tell (too few finite samples, an all-zero channel)."""
    sig, channel = effort
    column = sig.column(channel)
    inside = column[_window(sig, window)]
    before = column[sig.t_ns < t_close]
    inside = inside[np.isfinite(inside)]
    before = before[np.isfinite(before)]
    if inside.size < 3 or not np.any(column[np.isfinite(column)]):
        return None  # a hole, or a simulator that does not fill effort
    baseline = float(np.median(before)) if before.size >= 3 else 0.0
    noise = mad_scale(before) if before.size >= 3 else 0.0
    limit = max(ctx.t(CAUSE, "empty_effort"), ctx.t(CAUSE, "empty_effort_noise_k") * noise)
    held = float(np.median(np.abs(inside - baseline)))
    if held > limit:
        return False
    return {"closed_effort": held, "empty_effort_bound": limit}


def _jaws_met(
    data: EpisodeData,
    ctx: ExplainContext,
    position: tuple[Signal, str],
    window: tuple[int, int],
) -> dict[str, float] | None:
    sig, channel = position
    column = sig.column(channel)
    inside = column[_window(sig, window)]
    inside = inside[np.isfinite(inside)]
    finite = column[np.isfinite(column)]
    if inside.size < 3:
        return None
    # Only an absolute fully-closed reference: the range other runs reached is not one (a
    # successful run closes on the object, so its minimum is the object's width).
    declared = joint_limit(data, channel)
    hi = float(finite.max())
    if declared is not None:
        closed_ref = declared[0]
        hi = max(hi, declared[1])
    elif float(finite.min()) >= -1e-3:
        closed_ref = 0.0  # an opening (width) of zero: jaws touching
    else:
        return None
    span = hi - closed_ref
    if span <= 0:
        return None
    met = inside - closed_ref <= ctx.t(CAUSE, "closed_fraction") * span
    if float(np.mean(met)) < ctx.t(CAUSE, "closed_share"):
        return None  # never closed fully, or did not stay closed
    settled = float(np.median(inside))
    return {"closed_opening": settled, "fully_closed_at": closed_ref, "open_at": hi}


def _finding(
    data: EpisodeData,
    stream: str,
    channel: str,
    t_close: int,
    stop: int,
    empty_effort: dict[str, float] | None,
    jaws_met: dict[str, float] | None,
    effort: tuple[Signal, str] | None,
    position: tuple[Signal, str] | None,
) -> Finding:
    failed = failed_run(data)
    if empty_effort and jaws_met:
        confidence = 0.75
    elif empty_effort:
        confidence = 0.6
    else:
        confidence = 0.4
    if failed:
        confidence += 0.15 if empty_effort else 0.2
    reasons = []
    if empty_effort:
        reasons.append(f"grip effort stayed near zero ({empty_effort['closed_effort']:.2g})")
    if jaws_met:
        reasons.append(f"the jaws closed fully (opening {jaws_met['closed_opening']:.3g})")
    refs = [channel_ref(stream, channel)]
    refs += [channel_ref(m[0].stream, m[1]) for m in (effort, position) if m is not None]
    return Finding(
        cause=CAUSE,
        title="Gripper closed on nothing",
        explanation=(
            f"The gripper was commanded closed at {t_close / NS:.2f} s but "
            + " and ".join(reasons)
            + (": nothing was grasped and the run failed afterwards." if failed else ".")
        ),
        confidence=confidence,
        severity="critical" if failed and empty_effort and jaws_met else "high",
        t_start_ns=t_close,
        t_end_ns=stop,
        channels=refs,
        evidence={**(empty_effort or {}), **(jaws_met or {}), "close_command_ns": t_close},
        next_step=(
            "Step to the close command in the video: was the object between the jaws yet? "
            "Check the policy's grasp timing (closed before reaching the object?)."
        ),
    )
