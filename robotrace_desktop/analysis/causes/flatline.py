"""Sensor stall: a measured stream stops updating, or all its live channels freeze while the
commands keep moving.

Two signatures of a dead sensor / broadcaster:

* **stopped** — the stream's last sample comes long before the end (≫ its own interval) while
  other streams keep recording;
* **frozen** — the stream keeps publishing but every channel that normally changes from sample
  to sample repeats the same value for a sustained span, while the action streams are moving
  (a robot holding still under still commands is not a stall).

Channels constant for the whole run (an unused joint, effort fields a simulator leaves at zero)
and step-like channels that rarely change (a binary hand state) are not "live" and are ignored.

A third signature needs no command at all: **stuck** — one channel (or several) that changes on
almost every sample everywhere else in the run repeats exactly for a sustained span. Its own
repeat rate elsewhere says how unlikely such a run is by chance, and a channel whose
sample-to-sample changes flip sign like noise cannot hold a value exactly even while the robot
holds still: a real sensor's noise floor never repeats.
"""

from __future__ import annotations

import re

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._stuck import (
    hold_runs,
    median_interval,
    robust_span,
    stuck,
    value_span,
    within,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "sensor_stall"
NS = 1_000_000_000
SENSOR_ROLES = frozenset({"state", "other"})
COMMAND_ROLES = frozenset({"action", "command"})

thresholds.register(
    CAUSE,
    min_samples=(10, "streams with fewer samples are not checked"),
    stop_factor=(
        20.0,
        "a stream stopped when its last sample is this × its interval before the end",
    ),
    kinematic_factor=(
        2.0,
        "stuck channel: its joint's position rate and velocity disagree on average over the "
        "hold by this many times their worst disagreement elsewhere in the run",
    ),
    kinematic_quantile=(
        0.99,
        "…where 'worst' is this quantile of the sample-by-sample disagreement",
    ),
    rate_share=(
        0.1,
        "a whole stream frozen with a velocity channel held beyond this share of its span "
        "(and its noise) while its position holds says it was moving: a stale message",
    ),
    min_stop_s=(1.0, "…and at least this many seconds before the other streams end"),
    min_freeze_s=(0.5, "all live channels unchanged for at least this long is a freeze"),
    min_freeze_samples=(5, "…and for at least this many samples"),
    live_fraction=(
        0.5,
        "a channel is live when it changes in this share of its intervals between its first "
        "and last change",
    ),
    rel_tol=(1e-6, "a change smaller than this × the channel's range counts as unchanged"),
    move_fraction=(
        0.02,
        "commands move when a channel spans this share of its 1–99 % range within the span",
    ),
    stuck_repeat_share=(
        0.05,
        "stuck channel: repeating a value in at most this share of its other intervals, it "
        "changes on (almost) every sample",
    ),
    step_repeat_share=(
        0.5,
        "stuck channel: one repeating its value in more than this share of its other intervals "
        "is step-like (a hand state, a setpoint) and never stuck",
    ),
    quantized_outlasts=(
        4.0,
        "stuck channel repeating more often than stuck_repeat_share elsewhere (a quantized "
        "encoder at rest): its hold must last this many times its longest other hold",
    ),
    excursion_lead_s=(
        1.0,
        "stuck channel held beyond the other episodes' range, having left it at most this "
        "long before: the excursion tells the story, the hold is unconfident",
    ),
    stuck_outlasts=(
        3.0,
        "stuck channel, no other evidence: it holds this many times longer than any other hold",
    ),
    habit_ratio=(
        2.0,
        "stuck channel: another hold of the stream at least 1/this as long = its habit",
    ),
    noise_flip_share=(
        0.25,
        "stuck channel: its changes flip sign this often elsewhere = it carries sensor noise",
    ),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    min_samples = int(ctx.t(CAUSE, "min_samples"))
    signals = [s for s in data.signals() if s.role != "noise" and len(s.t_ns) >= min_samples]
    cameras = {k: v for k, v in data.frame_times().items() if len(v) >= min_samples}
    commands = [s for s in signals if s.role in COMMAND_ROLES]
    findings: list[Finding] = []
    for signal in signals:
        if signal.role not in SENSOR_ROLES:
            continue
        stopped = _stopped(signal, signals, cameras, ctx)
        if stopped is not None:
            findings.append(stopped)
        related = _related_commands(signal, commands, data)
        frozen = None
        if signal.role == "state":  # a colour sensor over a still background is frozen by physics
            frozen = _frozen(signal, related, ctx)
        # a freeze the commands cannot vouch for may still be told by the channels' own noise
        sure = frozen if frozen is not None and frozen.confidence >= 0.5 else None
        kind = _sensor_kind(data, signal.stream)
        paired = _paired_commands(signal, commands, data)
        stuck_found = stuck(signal, paired, ctx, sure, kind, bool(related))
        if frozen is not None and not (
            sure is None and any(within(frozen, f.t_start_ns or 0) for f in stuck_found)
        ):
            findings.append(frozen)
        findings += stuck_found
    return findings


def _related_commands(signal: Signal, commands: list[Signal], data: EpisodeData) -> list[Signal]:
    """The commands that drive this stream: the ones paired with its channels by joint name,
    else those in the same namespace (``/turtle1/cmd_vel`` for ``/turtle1/pose``), else all.
    Another robot's moving commands say nothing about this one holding still."""
    paired = {cmd[0] for cmd, measured in data.pairs() if measured[0] == signal.stream}
    if paired:
        return [c for c in commands if c.stream in paired]
    space = _namespace(signal.stream)
    if space:
        same = [c for c in commands if _namespace(c.stream) == space]
        if same or any(_namespace(c.stream) for c in commands):
            return same
    return commands


def _paired_commands(
    signal: Signal, commands: list[Signal], data: EpisodeData
) -> dict[str, list[tuple[Signal, str]]]:
    """Channel -> the command channels of the same joint: only a joint's own command moving
    says that joint should have moved (a turtle driving straight keeps its heading)."""
    by_stream = {c.stream: c for c in commands}
    found: dict[str, list[tuple[Signal, str]]] = {}
    for (cs, cc), (ms, mc) in data.pairs():
        if ms == signal.stream and cs in by_stream:
            found.setdefault(mc, []).append((by_stream[cs], cc))
    return found


#: message types that carry a raw measurement: its noise never lets it repeat exactly
_RAW_SENSOR_TYPES = re.compile(
    r"(^|/)(Imu|MagneticField|FluidPressure|Temperature|Range|WrenchStamped|Wrench)$"
)
#: message types that carry an estimate: odometry integrates zero motion into the same pose,
#: a GNSS receiver's static hold repeats its fix: both hold exactly while the robot is at rest
_ESTIMATE_TYPES = re.compile(
    r"(^|/)(Odometry|NavSatFix|PoseWithCovarianceStamped|PoseWithCovariance)$"
)


def _sensor_kind(data: EpisodeData, stream: str) -> str:
    """ "raw", "estimate" or "other" (the message type does not say)."""
    try:
        kind = data.info.stream(stream).message_type or ""
    except Exception:  # a stream the info does not know: assume nothing
        return "other"
    if _RAW_SENSOR_TYPES.search(kind):
        return "raw"
    return "estimate" if _ESTIMATE_TYPES.search(kind) else "other"


def _namespace(stream: str) -> str:
    parts = [p for p in stream.split("/") if p]
    return parts[0] if stream.startswith("/") and len(parts) > 1 else ""


def _stopped(
    signal: Signal,
    signals: list[Signal],
    cameras: dict[str, np.ndarray],
    ctx: ExplainContext,
) -> Finding | None:
    median = median_interval(signal.t_ns)
    if median <= 0:
        return None
    last = int(signal.t_ns[-1])
    margin = max(
        float(ctx.t(CAUSE, "stop_factor")) * median, float(ctx.t(CAUSE, "min_stop_s")) * NS
    )
    others = [(s.stream, s.t_ns) for s in signals if s is not signal] + list(cameras.items())
    going: list[tuple[str, int]] = []
    for name, t in others:
        after = len(t) - int(np.searchsorted(t, last + median, "right"))
        if after >= 3 and t[-1] - last >= margin:
            going.append((name, int(t[-1])))
    if not going:
        return None
    end = max(t for _, t in going)
    silence = end - last
    ratio = silence / margin
    confidence = 0.6 + 0.3 * float(np.clip((ratio - 1) / 4, 0.0, 1.0))
    if signal.role != "state":
        confidence -= 0.1
    names = [n for n, _ in sorted(going, key=lambda g: -g[1])]
    shown = ", ".join(names[:3])
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream} stopped updating",
        explanation=(
            f"{signal.stream} stopped updating at {last / NS:.2f} s, {silence / NS:.1f} s before "
            f"the end, while {shown} kept recording (it normally updates every "
            f"{median / 1e6:.1f} ms)."
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=last,
        t_end_ns=end,
        channels=[channel_ref(signal.stream)],
        evidence={
            "last_sample_ns": last,
            "other_streams_end_ns": end,
            "silence_ns": silence,
            "median_interval_ns": median,
            "still_recording": names[:10],
            "stop_factor": float(ctx.t(CAUSE, "stop_factor")),
            "min_stop_s": float(ctx.t(CAUSE, "min_stop_s")),
        },
        next_step=(
            f"Check the node publishing {signal.stream} (joint_state_broadcaster / driver), the "
            f"sensor cable and the log around {last / NS:.1f} s."
        ),
    )


def _frozen(signal: Signal, commands: list[Signal], ctx: ExplainContext) -> Finding | None:
    values = signal.values
    t = signal.t_ns
    span = value_span(values)
    tol = float(ctx.t(CAUSE, "rel_tol")) * span
    with np.errstate(invalid="ignore"):
        changed = ~(np.abs(np.diff(values, axis=0)) <= tol)  # NaN counts as a change
    # Every channel that varies at all must be unchanged (a turtle turning on the spot keeps
    # x/y but not theta); live channels only show that the stream normally changes.
    varying = span > 0
    still = ~changed[:, varying].any(axis=1)  # interval i: samples i and i+1 identical
    runs = hold_runs(still)
    if not len(runs):
        return None
    # Live: while the channel is active (first to last change) it changes most samples — a
    # continuous measurement, unlike a binary gripper state that flips twice per run. The
    # stream's longest hold is left out: a long stall must not make its channels look idle.
    longest_run = runs[int(np.argmax(t[runs[:, 1]] - t[runs[:, 0]]))]
    counted = np.ones(len(changed), dtype=bool)
    counted[longest_run[0] : longest_run[1]] = False
    counts = changed.sum(axis=0)
    first = changed.argmax(axis=0)
    last = len(changed) - 1 - changed[::-1].argmax(axis=0)
    index = np.arange(len(changed))[:, None]
    active = np.maximum((counted[:, None] & (index >= first) & (index <= last)).sum(axis=0), 1)
    live_fraction = float(ctx.t(CAUSE, "live_fraction"))
    live = (span > 0) & (counts >= 3) & (counts / active >= live_fraction)
    if not live.any():
        return None
    min_s = float(ctx.t(CAUSE, "min_freeze_s"))
    min_n = int(ctx.t(CAUSE, "min_freeze_samples"))
    starts, stops = runs[:, 0], runs[:, 1]  # samples starts..stops are identical
    durations = t[stops] - t[starts]
    keep = (durations >= min_s * NS) & (stops - starts + 1 >= min_n)
    if not keep.any():
        return None
    live_names = [c for c, ok in zip(signal.channels, varying, strict=True) if ok]
    moving: list[tuple[int, int, list[str]]] = []
    rates: dict[int, list[str]] = {}
    for a, b in zip(starts[keep], stops[keep], strict=True):
        movers = _moving_commands(commands, int(t[a]), int(t[b]), ctx)
        rates[int(a)] = _held_rates(signal, int(a), int(b), ctx)
        if movers or not commands or rates[int(a)]:
            moving.append((int(a), int(b), movers))
    if not moving:
        return None  # the robot holds still because it was told to
    # the first span something says should have moved, else the first span
    a, b, movers = next((m for m in moving if m[2] or rates[m[0]]), moving[0])
    says = rates[a]
    longest = max(moving, key=lambda r: t[r[1]] - t[r[0]])
    t0, t1 = int(t[a]), int(t[b])
    duration = (t1 - t0) / NS
    growth = float(np.clip((duration / min_s - 1) / 4, 0.0, 1.0))
    if movers:
        confidence = 0.6 + 0.3 * growth
        why = f"while {', '.join(movers[:3])} kept changing"
    elif says:
        # the stream's own velocity says it moves while its position holds: a still robot
        # reads zero velocity; a stale message keeps the last non-zero one
        confidence = 0.6 + 0.3 * growth
        shown = ", ".join(
            f"{n} = {float(values[a, signal.channels.index(n)]):.3g}" for n in says[:2]
        )
        why = f"although its own velocity says it was moving ({shown}) while its position held"
    else:
        confidence, why = 0.3, "(no command stream to tell a stall from holding still)"
    ended = b == len(t) - 1
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream} froze",
        explanation=(
            f"All {len(live_names)} changing channels of {signal.stream} repeated the same values "
            f"for {duration:.2f} s from {t0 / NS:.2f} s"
            + (" to the end" if ended else "")
            + f" {why}."
        ),
        confidence=confidence,
        severity="high" if movers or says else "low",
        t_start_ns=t0,
        t_end_ns=t1,
        channels=[channel_ref(signal.stream, c) for c in live_names[:12]],
        evidence={
            "frozen_spans": [
                {"t_start_ns": int(t[x]), "t_end_ns": int(t[y]), "samples": int(y - x + 1)}
                for x, y, _ in moving[:10]
            ],
            "longest_span_ns": int(t[longest[1]] - t[longest[0]]),
            "frozen_channels": len(live_names),
            "frozen_values": {
                c: float(values[a, signal.channels.index(c)]) for c in live_names[:8]
            },
            "commands_moving": movers[:10],
            "velocity_says_moving": says[:10],
            "min_freeze_s": min_s,
            "move_fraction": float(ctx.t(CAUSE, "move_fraction")),
        },
        next_step=(
            f"The values are stale from {t0 / NS:.2f} s: check the {signal.stream} publisher "
            "(joint_state_broadcaster / driver / sensor cable) and the log around that time."
        ),
    )


#: a channel that is a rate of change (a velocity, a twist), by its name
_RATE = re.compile(r"veloc|twist|(^|[^a-z])(vel|rate)([^a-z]|$)", re.IGNORECASE)
#: a channel that is where something is (a coordinate, an angle, a pose), by its name
_PLACE = re.compile(
    r"position|pose|orientation|(^|[./])(x|y|z|theta|yaw|pitch|roll)$", re.IGNORECASE
)


def _held_rates(signal: Signal, a: int, b: int, ctx: ExplainContext) -> list[str]:
    """Velocity channels of the stream held over samples [a, b] at a value clearly away from
    zero — beyond ``rate_share`` of their span in the run and the noise between samples —
    while a position channel of the same stream holds too. A stream saying it moves while
    its position stays put contradicts itself: the message stopped updating."""
    held = signal.values[a : b + 1]
    still = np.all(held == held[0], axis=0)
    names = signal.channels
    if not any(still[k] and _PLACE.search(n) and not _RATE.search(n) for k, n in enumerate(names)):
        return []
    share = float(ctx.t(CAUSE, "rate_share"))
    found = []
    for k, name in enumerate(names):
        if not still[k] or not _RATE.search(name):
            continue
        column = signal.values[:, k]
        value = abs(float(column[a]))
        span = float(robust_span(column[:, None])[0])
        steps = np.diff(column[np.isfinite(column)])
        steps = steps[steps != 0]
        noise = 1.4826 * float(np.median(np.abs(steps))) if len(steps) else 0.0
        if span > 0 and value > share * span and value > 5.0 * noise:
            found.append(name)
    return found


def _moving_commands(commands: list[Signal], t0: int, t1: int, ctx: ExplainContext) -> list[str]:
    """Command channels that span a meaningful share of their own range within [t0, t1]."""
    fraction = float(ctx.t(CAUSE, "move_fraction"))
    movers: list[str] = []
    for command in commands:
        lo, hi = np.searchsorted(command.t_ns, [t0, t1])
        window = command.values[lo : hi + 1] if hi < len(command.t_ns) else command.values[lo:]
        if len(window) < 3:
            continue
        whole, part = robust_span(command.values), value_span(window)
        moved = (whole > 0) & (part > fraction * whole)
        movers += [
            channel_ref(command.stream, c)
            for c, m in zip(command.channels, moved, strict=True)
            if m
        ]
    return movers
