"""Joint-limit breach and range excursion: measured positions beyond the declared limits (URDF,
in metadata["joint_limits"]), or beyond the range the robot's other episodes cover by more than
those episodes stray beyond each other.

Hitting a hard stop stalls the arm and can damage it; leaving the range every good run stayed
in is the first sign the policy went somewhere it was never shown.

Only a declared limit is a *limit*. Without one the finding is a range excursion, and how sure
it is depends on how much history there is: with N other episodes, a clean new one exceeds all
of them on a given channel about 2/(N+1) of the time. So the margin is calibrated leave one
out — how far each other episode goes beyond the rest — and confidence grows with N (a
conformal p-value, 1/(N+1) at best). With a single other episode nothing is calibrated and the
finding stays unconfident.

A failure the run logged within seconds after the excursion left the range is evidence of
another kind: the excursion is blamed for it as confidently as it is rare for an ordinary
episode to stray as far on a single channel (counted over the peers' whole episodes,
``_peer_strays``) and to do so that close before an unrelated failure (``_failure_time``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes import _peer_strays
from robotrace_desktop.analysis.causes._failure_time import coincidence
from robotrace_desktop.analysis.causes._peer_strays import Envelope
from robotrace_desktop.analysis.causes._series import (
    failed_run,
    field_of,
    joint_limit,
    span_s,
    state_signals,
    sustained_runs,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.timebase import NS_PER_S as NS

CAUSE = "joint_limit_breach"
EXCURSION = "range_excursion"
thresholds.register(
    EXCURSION,
    min_excess=(0.08, "peak beyond the other episodes' range, as a fraction of it, at least"),
    over_normal=(2.0, "and this many times the most any other episode strays beyond the rest"),
    min_duration_s=(0.25, "shortest excursion that counts (s)"),
    min_peers=(4, "fewer other episodes than this: the excursion is reported unconfident"),
    p_failure_confident=(
        0.02,
        "a failure logged just after an excursion is blamed on it at 0.5 confidence when "
        "an excursion this unusual starts that close before an unrelated failure this often",
    ),
    many_channels=(2, "this many channels beyond at once: a different set-up, not one fault"),
    failure_window_s=(
        3.0,
        "an ERROR/FATAL logged this soon after the excursion began is taken as its consequence",
    ),
)
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
        positions = [c for c in signal.channels if field_of(signal.stream, c) == "position"]
        # every channel tested is a chance for an ordinary run to look unusual by luck
        tested = [c for c in positions if joint_limit(data, c) is None and _positional(c)]
        peers = _EpisodeStrays(ctx, signal, tested)
        for k, channel in enumerate(signal.channels):
            if channel not in positions:
                continue
            column = signal.values[:, k]
            if joint_limit(data, channel) is None and _has_peer_ranges(ctx):
                if not _positional(channel):
                    continue
                found = _excursion(data, ctx, signal.stream, channel, signal.t_ns, column, peers)
            else:
                found = _check(data, ctx, signal.stream, channel, signal.t_ns, column)
            if found is not None:
                findings.append(found)
    return _different_setup(findings, ctx)


def _different_setup(findings: list[Finding], ctx: ExplainContext) -> list[Finding]:
    """An episode beyond the others on many channels at once differs as a whole (another task,
    another set-up); one fault moves one joint. Its excursions are kept, unconfident."""
    excursions = [f for f in findings if f.cause == EXCURSION]
    if len(excursions) < ctx.t(EXCURSION, "many_channels"):
        return findings
    for f in excursions:
        f.confidence = min(f.confidence, 0.45)
        f.severity = "medium"
        f.explanation += (
            f"; {len(excursions)} channels are beyond the other episodes' range: this run "
            "differs as a whole"
        )
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


# ------------------------------------------------------------------ range excursion


_NOT_A_POSITION = re.compile(
    r"twist|wrench|force|torque|accel|covariance|orientation|quaternion|rate|current",
    re.IGNORECASE,
)


def _positional(channel: str) -> bool:
    """Where a joint or the robot is (an angle, a coordinate): rates, forces and quaternion
    components have no "range the robot works in" to leave."""
    return not _NOT_A_POSITION.search(channel)


def _has_peer_ranges(ctx: ExplainContext) -> bool:
    return ctx.history is not None and callable(getattr(ctx.history, "each", None))


def _normal_excess(ranges: list[tuple[float, float]]) -> list[float]:
    """Leave one out: how far each other episode strays beyond all the rest, as a fraction of
    the rest's range (vectorised: the rest's extremes are the overall ones unless the episode
    left out holds them)."""
    if len(ranges) < 2:
        return []
    lo = np.array([r[0] for r in ranges], dtype=np.float64)
    hi = np.array([r[1] for r in ranges], dtype=np.float64)
    lo_order = np.argsort(lo, kind="stable")
    hi_order = np.argsort(-hi, kind="stable")
    rest_lo = np.full(len(lo), lo[lo_order[0]])
    rest_lo[lo_order[0]] = lo[lo_order[1]]
    rest_hi = np.full(len(hi), hi[hi_order[0]])
    rest_hi[hi_order[0]] = hi[hi_order[1]]
    span = rest_hi - rest_lo
    beyond = np.maximum(np.maximum(hi - rest_hi, rest_lo - lo), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(span > 1e-12, beyond / span, 0.0)
    return [float(e) for e in excess]


def _typical_stray(normal: list[float]) -> float:
    """The most another episode strays beyond the rest, ignoring the single most unusual one
    when there are enough (one odd run in the history must not hide every excursion)."""
    if not normal:
        return 0.0
    ordered = sorted(normal)
    return ordered[-2] if len(ordered) >= 5 else ordered[-1]


class _EpisodeStrays:
    """The peers' envelope of one stream's tested channels (``_peer_strays.Envelope``), built
    once per stream and outcome filter, and how many channels this episode takes beyond it;
    None when the history cannot answer per episode."""

    def __init__(self, ctx: ExplainContext, signal: Signal, tested: list[str]) -> None:
        self.ctx = ctx
        self.signal = signal
        self.tested = tested
        self._found: dict[bool, tuple[Envelope, int] | None] = {}

    def __call__(self, successful_only: bool) -> tuple[Envelope, int] | None:
        if successful_only not in self._found:
            self._found[successful_only] = self._build(successful_only)
        return self._found[successful_only]

    def _build(self, successful_only: bool) -> tuple[Envelope, int] | None:
        per_episode = getattr(self.ctx.history, "per_episode", None)
        if per_episode is None or not self.tested:
            return None
        lo, hi = per_episode(self.signal.stream, self.tested, successful_only)
        envelope = Envelope(
            lo,
            hi,
            self.ctx.t(EXCURSION, "min_excess"),
            self.ctx.t(EXCURSION, "over_normal"),
            self.ctx.t(EXCURSION, "many_channels"),
        )
        if envelope.singles.size < self.ctx.t(EXCURSION, "min_peers"):
            return None
        columns = [self.signal.channels.index(c) for c in self.tested]
        values = self.signal.values[:, columns]
        finite = np.isfinite(values)
        own_lo = np.min(np.where(finite, values, np.inf), axis=0, initial=np.inf)
        own_hi = np.max(np.where(finite, values, -np.inf), axis=0, initial=-np.inf)
        own_lo[~finite.any(axis=0)] = np.nan
        own_hi[~finite.any(axis=0)] = np.nan
        return envelope, envelope.channels_beyond(own_lo, own_hi)


def _excursion(
    data: EpisodeData,
    ctx: ExplainContext,
    stream: str,
    channel: str,
    t_ns: np.ndarray,
    column: np.ndarray,
    peers: _EpisodeStrays,
) -> Finding | None:
    each = ctx.history.each  # type: ignore[union-attr]
    ranges = each(stream, channel, True)
    source = "successful "
    if len(ranges) < 2:
        ranges, source = each(stream, channel, False), ""
    if not ranges or column.size == 0:
        return None
    lo = min(r[0] for r in ranges)
    hi = max(r[1] for r in ranges)
    span = hi - lo
    if span <= 1e-12:
        return None
    normal = _normal_excess(ranges)
    typical = _typical_stray(normal)
    allowed = max(ctx.t(EXCURSION, "min_excess"), ctx.t(EXCURSION, "over_normal") * typical)
    with np.errstate(invalid="ignore"):
        over = column > hi + allowed * span
        under = column < lo - allowed * span
    spans = sustained_runs(over | under, t_ns, ctx.t(EXCURSION, "min_duration_s"), 2)
    if not spans:
        return None
    first, last = spans[0]
    side_over = bool(over[first])
    # the onset is where it leaves the others' range, not where it passes the margin
    outside = (column > hi) if side_over else (column < lo)
    start = first
    while start > 0 and outside[start - 1]:
        start -= 1
    region = column[first:last]
    peak = float(np.nanmax(region)) if side_over else float(np.nanmin(region))
    limit = hi if side_over else lo
    relative = abs(peak - limit) / span
    n = len(ranges)
    beaten = sum(e >= relative for e in normal)
    p_value = (1 + beaten) / (n + 1)
    strength = min(1.0, (relative / max(allowed, 1e-9) - 1.0))
    odds = _odds(data, ctx, peers, bool(source), (relative, p_value, strength), int(t_ns[start]))
    confidence = odds.confidence
    calibrated = len(normal) >= ctx.t(EXCURSION, "min_peers")
    from_start = start == 0
    if failed_run(data):
        confidence += 0.05
    if not calibrated or from_start:
        # a failed run does not make an uncalibrated or whole-run difference a cause
        confidence = min(confidence, 0.45)
    duration = sum(span_s(t_ns, a, b) for a, b in spans)
    ref = channel_ref(stream, channel)
    where = "above" if side_over else "below"
    caveat = "" if calibrated else f"; only {n} other episode(s): too few to be sure"
    return Finding(
        cause=EXCURSION,
        title=f"Beyond the range of other episodes: {channel}",
        explanation=(
            f"{ref} went {where} the range of {n} other {source}episode(s) of this robot "
            f"({lo:.4g}..{hi:.4g}) to {peak:.4g}, {relative:.0%} of that range beyond it "
            f"(other episodes typically stray {typical:.0%}; {odds.text}){caveat}"
        ),
        confidence=confidence,
        severity="high" if calibrated and not from_start else "medium",
        t_start_ns=int(t_ns[start]),
        t_end_ns=int(t_ns[spans[-1][1] - 1]),
        channels=[ref],
        evidence={
            "joint": channel.split("/", 1)[-1],
            "lower": lo,
            "upper": hi,
            "peak": peak,
            "excess_fraction": round(relative, 3),
            "normal_excess_fraction": round(typical, 3),
            "other_episodes": n,
            "p_value": round(p_value, 3),
            "p_value_any_channel": round(odds.p_any_channel, 3),
            "p_value_episode": None if odds.p_episode is None else round(odds.p_episode, 3),
            "p_value_before_failure": odds.p_before_failure,
            "channels_tested": max(len(peers.tested), 1),
            "channels_beyond": odds.channels_beyond,
            "duration_s": round(duration, 3),
            "from_episode_start": from_start,
            "calibrated": calibrated,
        },
        next_step=(
            "Compare with the other episodes at that moment: was the goal somewhere no other run "
            "went, or did the controller overshoot?"
        ),
    )


class _Odds(NamedTuple):
    confidence: float
    p_any_channel: float
    p_episode: float | None
    p_before_failure: float | None
    channels_beyond: int | None
    text: str


def _odds(
    data: EpisodeData,
    ctx: ExplainContext,
    peers: _EpisodeStrays,
    successful_only: bool,
    excursion: tuple[float, float, float],
    onset_ns: int,
) -> _Odds:
    """Two questions, two calibrations (``excursion``: how far beyond, as a fraction of the
    range; the channel's own p-value; how far past the margin, 0..1).

    Is the run abnormal on this channel? The chance that ANY of the stream's tested channels
    of an ordinary run strays this far: the channel's p-value times the channels tested. Range
    alone stays cautious: a humanoid's ordinary episodes do stray 15-60 % beyond 50 others on
    one joint now and then.

    Did the excursion cause the failure the run logged a few seconds later? An ordinary episode
    strays this far on a single channel as often as the peers' own whole episodes say
    (``_peer_strays``: a conformal p-value), and such a stray starts that close before an
    unrelated failure only by luck (the window's share of the episode). The product is the
    chance of blaming the joint for a failure it had nothing to do with; confidence is 0.5
    where it is ``p_failure_confident``. A run that leaves the range on many channels differs
    as a whole and is never blamed this way."""
    relative, p_value, strength = excursion
    tested = max(len(peers.tested), 1)
    p_any = min(1.0, p_value * tested)
    confidence = float(np.clip(0.75 - p_any + 0.1 * strength, 0.2, 0.9))
    text = f"an ordinary run strays this far on one of its {tested} channels with p ≈ {p_any:.2f}"
    hit = coincidence(data, onset_ns, ctx.t(EXCURSION, "failure_window_s"))
    envelope = peers(successful_only) if hit is not None else None
    if hit is None or envelope is None:
        return _Odds(confidence, p_any, None, None, None, text)
    found, beyond = envelope
    p_episode = _peer_strays.p_value(relative, found.singles)
    if beyond >= ctx.t(EXCURSION, "many_channels"):
        return _Odds(confidence, p_any, p_episode, None, beyond, text)
    share, failure = hit
    p_joint = p_episode * share
    alpha = ctx.t(EXCURSION, "p_failure_confident")
    caused = float(np.clip(0.5 + 0.2 * np.log10(alpha / max(p_joint, 1e-9)), 0.2, 0.9))
    others = found.singles.size
    text += (
        f"; the run logged a failure {(failure - onset_ns) / NS:.1f} s after it left the range, "
        f"and {p_episode:.0%} of {others + 1} episodes (the {others} others and this one) go this "
        "far beyond the rest on a single channel: such a stray starts that close before an "
        f"unrelated failure with p ≈ {p_joint:.3f}"
    )
    return _Odds(max(confidence, caused), p_any, p_episode, round(p_joint, 4), beyond, text)
